// Route paths: the seed's short form, type suffixes, XML through the mapping and XPath.
#include "routepath/route.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>

namespace jz::routepath {
namespace {

// Runs `body` on a thread whose stack is `bytes` long and waits for it: a test that says
// how deep the parser and the queries may go also says within what stack they must fit.
void on_stack_of(size_t bytes, std::function<void()> body) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
  pthread_t thread;
  auto run = [](void* fn) -> void* {
    (*static_cast<std::function<void()>*>(fn))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run, &body), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

Document json_doc(const std::string& text) {
  auto d = parse_document(text, Format::kJson, "test");
  EXPECT_TRUE(d.ok()) << d.status().message();
  return std::move(*d);
}

std::vector<Value> values(const std::string& path, const Document& d) {
  auto r = RoutePath::parse(path);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  auto v = r->values(d);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.value_or(std::vector<Value>{});
}

const char* kPeople = R"({"people":[{"age":"34","name":"Li"},{"age":27.0,"name":"Wang"}],
                          "count":2,"box":{"x":10,"y":20,"width":30,"height":40}})";

TEST(RoutePath, ShortFormIsSugarForJsonPath) {
  auto d = json_doc(kPeople);
  auto r = RoutePath::parse("people[0].age@num");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->jsonpath(), "$.people[0].age");
  EXPECT_EQ(r->suffix(), Suffix::kNum);
  EXPECT_EQ(values("people[0].age@num", d), std::vector<Value>{Value(34.0)});
  EXPECT_EQ(values("people[*].age@num", d), (std::vector<Value>{Value(34.0), Value(27.0)}));
  EXPECT_EQ(values("people[*].age@int", d), (std::vector<Value>{Value(34), Value(27)}));
  EXPECT_EQ(values("$.people[?@.name == 'Wang'].age", d), std::vector<Value>{Value(27.0)});
  EXPECT_EQ(values("['count']@str", d), std::vector<Value>{Value("2")});
  EXPECT_EQ(values("people@list", d).size(), 1u);
  EXPECT_EQ(values("@obj", d).size(), 1u);  // a suffix alone converts the whole document
  auto box = values("box@box", d);
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0], Value::parse(R"({"x1":10.0,"y1":20.0,"x2":40.0,"y2":60.0})"));
}

TEST(RoutePath, SuffixErrorsNameThePathAndTheValue) {
  auto d = json_doc(R"({"people":[{"age":"old"}],"flag":"maybe","b":[1,2,3]})");
  auto r = RoutePath::parse("people[0].age@num");
  auto v = r->values(d);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "$['people'][0]['age']: @num expects a number, got the string \"old\"");
  EXPECT_FALSE(RoutePath::parse("flag@bool")->values(d).ok());
  auto b = RoutePath::parse("b@box")->values(d);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("@box expects a box"), std::string::npos);
  EXPECT_FALSE(RoutePath::parse("people[0].age@int")->values(d).ok());
}

TEST(RoutePath, BadPathsSayWhereAndWhat) {
  auto unknown = RoutePath::parse("people[0].age@number");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown type suffix '@number'"), std::string::npos);
  auto bad = RoutePath::parse("people[0.age");
  ASSERT_FALSE(bad.ok());
  // Positions count in the text as written, not in the JSONPath it stands for.
  EXPECT_NE(bad.status().message().find("at character 9"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(RoutePath::parse("").ok());
  EXPECT_FALSE(RoutePath::parse("xpath:").ok());
}

const char* kVoc = R"(<?xml version="1.0"?>
<annotation>
  <filename>000001.jpg</filename>
  <size><width>353</width><height>500</height></size>
  <object id="7">
    <name>dog</name>
    <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox>
  </object>
  <!-- a comment -->
  <note lang="en">hello <b>world</b></note>
</annotation>)";

TEST(RoutePath, XmlMapsToJsonForTheSamePaths) {
  XmlOptions opts;
  opts.arrays = {"object"};
  auto d = parse_document(kVoc, Format::kXml, "voc.xml", opts);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(values("annotation.filename", *d), std::vector<Value>{Value("000001.jpg")});
  EXPECT_EQ(values("annotation.size.width@int", *d), std::vector<Value>{Value(353)});
  EXPECT_EQ(values("annotation.object[0].name", *d), std::vector<Value>{Value("dog")});
  EXPECT_EQ(values("annotation.object[0]['@id']@int", *d), std::vector<Value>{Value(7)});
  auto box = values("annotation.object[*].bndbox@box", *d);
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0]["x2"], 195.0);
  EXPECT_EQ(values("annotation.note['#text']", *d), std::vector<Value>{Value("hello")});
  EXPECT_EQ(values("annotation.note['@lang']", *d), std::vector<Value>{Value("en")});
  // Without the option a single <object> is the element itself.
  auto plain = parse_document(kVoc, Format::kXml, "voc.xml");
  EXPECT_EQ(values("annotation.object.name", *plain), std::vector<Value>{Value("dog")});
}

TEST(RoutePath, XPathOnXml) {
  auto d = parse_document(kVoc, Format::kXml, "voc.xml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(values("xpath://object/bndbox/xmin@num", *d), std::vector<Value>{Value(48.0)});
  EXPECT_EQ(values("xpath://object/@id", *d), std::vector<Value>{Value("7")});
  EXPECT_EQ(values("xpath:count(//object)", *d), std::vector<Value>{Value(1.0)});
  auto bad = RoutePath::parse("xpath://object[")->values(*d);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("xpath: at character"), std::string::npos);
  auto json = json_doc("{}");
  EXPECT_FALSE(RoutePath::parse("xpath://a")->values(json).ok());
}

TEST(RoutePath, DocumentErrorsNameLineAndColumn) {
  auto j = parse_document("{\n  \"a\": 1,\n  \"b\": }", Format::kJson, "out.json");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("out.json: JSON at line 3, column"), std::string::npos)
      << j.status().message();
  // Found by fuzz_json_scan: the parser took "2<NUL>junk" for 2.
  auto nul = parse_document(std::string("{\"a\":\n2\0junk", 12), Format::kJson, "o.json");
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.status().message().find("line 2, column 2: a NUL byte"), std::string::npos)
      << nul.status().message();
  auto x = parse_document("<a>\n<b></a>", Format::kXml, "ann.xml");
  ASSERT_FALSE(x.ok());
  EXPECT_NE(x.status().message().find("ann.xml: XML at line 2"), std::string::npos)
      << x.status().message();
}

// Issue 17, item 15: `jizhan route query '$..x'` (or '$[0][0]') on 80,000 nested arrays
// (a 160 KB file) died with SIGSEGV; algorithm outputs are untrusted.
TEST(RoutePath, DeepNestingIsRefusedNotACrash) {
  const std::string deep = std::string(80000, '[') + std::string(80000, ']');
  auto d = parse_document(deep, Format::kJson, "out.json");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("nested too deeply"), std::string::npos)
      << d.status().message();
  EXPECT_NE(d.status().message().find("line 1, column 1001"), std::string::npos)
      << d.status().message();
  Status lines = for_each_json_line("{\"a\":1}\n" + deep + "\n", "out.jsonl",
                                    [](const Document&, const std::string&) { return Status(); });
  EXPECT_NE(lines.message().find("out.jsonl line 2"), std::string::npos) << lines.message();
  // Brackets in strings do not count; 1,000 levels are fine, and every query and the
  // printing of every value work there within a 1 MiB stack (a server thread's is 8 MiB).
  // AddressSanitizer's unoptimised, instrumented frames are some 20 times larger.
#ifdef JZ_ASAN
  constexpr size_t kStack = size_t{32} << 20;
#else
  constexpr size_t kStack = size_t{1} << 20;
#endif
  on_stack_of(kStack, [] {
    const std::string ok = std::string(999, '[') + "{\"x\":\"[[[[\"}" + std::string(999, ']');
    auto doc = parse_document(ok, Format::kJson, "ok.json");
    ASSERT_TRUE(doc.ok()) << doc.status().message();
    for (const char* path : {"$..x", "$[0][0]", "$..*"}) {
      auto q = RoutePath::parse(path);
      ASSERT_TRUE(q.ok());
      auto v = q->values(*doc);
      ASSERT_TRUE(v.ok()) << path;
      EXPECT_FALSE(v->empty()) << path;
      for (const auto& value : *v) (void)value.dump();
    }
  });
}

}  // namespace
}  // namespace jz::routepath
