// The raw-text scanner agrees with the full evaluator: same values for every simple
// query of the compliance suite, and the same verdict on malformed JSON.
#include "routepath/scan.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "routepath/route.h"

namespace jz::routepath {
namespace {

std::vector<Value> scanned(const std::string& doc, const Query& q) {
  std::vector<std::string_view> raw;
  Status s = scan_select(doc, *q.simple_steps(), raw);
  EXPECT_TRUE(s.ok()) << s.message() << " in " << doc;
  std::vector<Value> out;
  for (auto r : raw) out.push_back(Value::parse(r));
  return out;
}

TEST(Scan, AgreesWithTheEvaluatorOnTheComplianceSuite) {
  std::ifstream in(std::string(JZ_TEST_DATA) + "/jsonpath-cts/cts.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const Value cts = Value::parse(ss.str());
  int simple = 0;
  for (const auto& t : cts["tests"]) {
    if (t.value("invalid_selector", false)) continue;
    auto q = Query::parse(t["selector"].get<std::string>());
    if (!q.ok() || !q->simple_steps()) continue;
    ++simple;
    const std::string doc = t["document"].dump(2);  // with blank space, to be skipped
    std::vector<Value> want;
    for (const Value* v : q->select(t["document"])) want.push_back(*v);
    EXPECT_EQ(scanned(doc, *q), want) << t["name"] << ": " << t["selector"];
  }
  EXPECT_GT(simple, 80);
}

TEST(Scan, RepeatedNamesKeepTheLastLikeTheParser) {
  auto q = Query::parse("$.a");
  EXPECT_EQ(scanned(R"({"a":1,"b":2,"a":[3]})", *q), std::vector<Value>{Value::parse("[3]")});
  EXPECT_EQ(scanned(R"({"a":1,"b":2,"a":[3]})", *q),
            std::vector<Value>{Value::parse(R"({"a":1,"b":2,"a":[3]})")["a"]});
  auto esc = Query::parse("$['a\"b']");
  EXPECT_EQ(scanned(R"({"a\"b":true,"a\u0022b":7})", *esc), std::vector<Value>{Value(7)});
  // Found by fuzz_json_scan: under a wildcard a repeated name is left to the parser,
  // and the route path still gives the parser's answer.
  auto all = Query::parse("$[*]");
  std::vector<std::string_view> raw;
  EXPECT_EQ(scan_select(R"({"a":1,"b":2,"a":3})", *all->simple_steps(), raw).code(),
            Code::kFailedPrecondition);
  std::string out;
  ASSERT_TRUE(RoutePath::parse("$[*]")->append_json_array(R"({"a":1,"b":2,"a":3})", "t", out).ok());
  EXPECT_EQ(out, "[3,2]");
  auto neg = Query::parse("$.x[-1]");
  EXPECT_EQ(scanned(R"({"x":[1,2,3]})", *neg), std::vector<Value>{Value(3)});
  EXPECT_TRUE(scanned(R"({"x":[]})", *neg).empty());
}

TEST(Scan, RejectsWhatTheParserRejects) {
  auto q = Query::parse("$.a");
  for (const char* bad : {"",
                          "{",
                          "{\"a\":}",
                          "{\"a\":1,}",
                          "[1,]",
                          "{\"a\" 1}",
                          "01",
                          "1.",
                          "1e",
                          "-",
                          "tru",
                          "\"\\x\"",
                          "\"\\ud800\"",
                          "\"\\udc00\"",
                          "\"a\nb\"",
                          "\"\xC3\"",
                          "\"\xED\xA0\x80\"",
                          "{} {}",
                          "4449468e22449",
                          "[-1e400]",
                          "{\"a\":1}x",
                          "[\"\xF4\x90\x80\x80\"]",
                          "nul",
                          "{\"a\":[1 2]}"}) {
    std::vector<std::string_view> raw;
    const bool parser_accepts = Value::accept(bad);
    EXPECT_FALSE(parser_accepts) << bad;
    EXPECT_FALSE(scan_select(bad, *q->simple_steps(), raw).ok()) << bad;
  }
  for (const char* good : {"{\"a\":-0.5e+3}", "[]", "  {\"a\" : \"\\u00e9\\ud83d\\ude00\" } ",
                           "\"\xE4\xBD\xA0\"", "{\"b\":{\"a\":[{}]}}"}) {
    std::vector<std::string_view> raw;
    EXPECT_TRUE(Value::accept(good)) << good;
    EXPECT_TRUE(scan_select(good, *q->simple_steps(), raw).ok()) << good;
  }
}

TEST(Scan, RoutePathArraysKeepNumbersAsWritten) {
  auto r = RoutePath::parse("people[*].age");
  std::string out;
  ASSERT_TRUE(r->append_json_array(R"({"people":[{"age":1.50},{"age":"x"},{"age":{"y":[1, 2]}}]})",
                                   "t", out)
                  .ok());
  EXPECT_EQ(out, R"([1.50,"x",{"y":[1,2]}])");
  // A conversion error falls back to the full evaluator, whose message names the path.
  auto num = RoutePath::parse("people[*].age@num");
  std::string out2;
  Status s = num->append_json_array(R"({"people":[{"age":"x"}]})", "t line 3", out2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "t line 3: $['people'][0]['age']: @num expects a number, got the string \"x\"");
  std::string out3;
  Status bad = r->append_json_array("{\"people\":[}", "t line 4", out3);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("t line 4: JSON at line 1, column 12"), std::string::npos)
      << bad.message();
}

}  // namespace
}  // namespace jz::routepath
