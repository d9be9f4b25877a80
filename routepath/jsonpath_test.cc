// RFC 9535 JSONPath: the whole compliance test suite (tests/data/jsonpath-cts), one
// ctest entry, plus our own cases for error messages and normalized paths.
#include "routepath/jsonpath.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace jz::routepath {
namespace {

Value load_cts() {
  std::ifstream in(std::string(JZ_TEST_DATA) + "/jsonpath-cts/cts.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return Value::parse(ss.str());
}

Value values_of(const std::vector<Match>& ms) {
  Value out = Value::array();
  for (const auto& m : ms) out.push_back(*m.value);
  return out;
}
Value paths_of(const std::vector<Match>& ms) {
  Value out = Value::array();
  for (const auto& m : ms) out.push_back(m.path);
  return out;
}

TEST(JsonPathCts, AllCasesPass) {
  const Value cts = load_cts();
  ASSERT_TRUE(cts.contains("tests"));
  int passed = 0, invalid_rejected = 0, total = 0;
  std::vector<std::string> failures;
  for (const auto& t : cts["tests"]) {
    ++total;
    const std::string name = t["name"];
    const std::string selector = t["selector"];
    auto q = Query::parse(selector);
    if (t.value("invalid_selector", false)) {
      if (q.ok()) {
        failures.push_back(name + ": accepted the invalid selector " + selector);
      } else {
        ++passed;
        ++invalid_rejected;
      }
      continue;
    }
    if (!q.ok()) {
      failures.push_back(name + ": rejected " + selector + ": " + q.status().message());
      continue;
    }
    auto ms = q->select_with_paths(t["document"]);
    Value got = values_of(ms), got_paths = paths_of(ms);
    // select() and select_with_paths() agree.
    auto plain = q->select(t["document"]);
    bool same = plain.size() == ms.size();
    for (size_t i = 0; same && i < plain.size(); ++i) same = plain[i] == ms[i].value;
    bool ok = same;
    if (t.contains("result")) {
      ok = ok && got == t["result"] && got_paths == t["result_paths"];
    } else {
      bool any = false;
      for (size_t i = 0; i < t["results"].size(); ++i) {
        any = any || (got == t["results"][i] && got_paths == t["results_paths"][i]);
      }
      ok = ok && any;
    }
    if (ok) {
      ++passed;
    } else {
      failures.push_back(name + ": " + selector + " gave " + got.dump() + " at " +
                         got_paths.dump());
    }
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(total, 703);
  EXPECT_EQ(invalid_rejected, 247);
  EXPECT_EQ(passed, total) << failures.size() << " failures";
}

TEST(JsonPath, ErrorsSayWhereAndWhat) {
  auto expect_error = [](const std::string& q, const std::string& where, const std::string& what) {
    auto r = Query::parse(q);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_NE(r.status().message().find(where), std::string::npos)
        << q << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos)
        << q << ": " << r.status().message();
  };
  expect_error("people[0]", "character 1", "expected '$'");
  expect_error("$.people[0", "character 11", "expected ',' or ']'");
  expect_error("$[?@.a == 1 &&]", "character 15", "expected a literal, a query");
  expect_error("$[?foo(@.a)]", "character 4", "unknown function 'foo'");
  expect_error("$[?length(@.a)]", "", "returns a value");
  expect_error("$[?@.* == 1]", "", "singular");
  expect_error("$[01]", "character 3", "may not start with 0");
  expect_error("$ ", "character 2", "blank space at the end");
}

TEST(JsonPath, NormalizedPathsEscapeNames) {
  Value doc = Value::parse(R"({"a'b":{"c\\d":[10,{"\u0001":true}]}})");
  auto q = Query::parse("$..*");
  ASSERT_TRUE(q.ok());
  auto ms = q->select_with_paths(doc);
  ASSERT_EQ(ms.size(), 5u);
  EXPECT_EQ(ms[0].path, R"($['a\'b'])");
  EXPECT_EQ(ms[1].path, R"($['a\'b']['c\\d'])");
  EXPECT_EQ(ms[2].path, R"($['a\'b']['c\\d'][0])");
  EXPECT_EQ(ms[3].path, R"($['a\'b']['c\\d'][1])");
  EXPECT_EQ(ms[4].path, R"($['a\'b']['c\\d'][1]['\u0001'])");
  auto deep = Query::parse("$..['\\u0001']");
  ASSERT_TRUE(deep.ok()) << deep.status().message();
  auto d = deep->select_with_paths(doc);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, R"($['a\'b']['c\\d'][1]['\u0001'])");
}

TEST(JsonPath, ObjectMembersKeepDocumentOrder) {
  Value doc = Value::parse(R"({"z":1,"a":2,"m":3})");
  auto q = Query::parse("$.*");
  auto vs = q->select(doc);
  ASSERT_EQ(vs.size(), 3u);
  EXPECT_EQ(*vs[0], 1);
  EXPECT_EQ(*vs[1], 2);
  EXPECT_EQ(*vs[2], 3);
}

// Issue 17, item 15: blank space inside the brackets of a singular query in a comparison
// was accepted; RFC 9535's grammar (2.3.5.1) has none there.
TEST(JsonPath, ComparedQueriesHaveNoBlanksInsideTheirBrackets) {
  for (const char* bad : {"$[?@[ 0] == 1]", "$[?@['a' ] == 1]", "$[?@[0 ] == 1]",
                          "$[?1 == @[ 'a']]", "$[?length(@[ 0]) == 1]"}) {
    auto q = Query::parse(bad);
    EXPECT_FALSE(q.ok()) << bad;
  }
  for (const char* good : {"$[?@[0] == 1]", "$[?@['a'] == 1]", "$[?@[ 0]]", "$[ 0]",
                           "$[?@.a[0] == 1]", "$[?length(@[0]) == 1]"}) {
    auto q = Query::parse(good);
    EXPECT_TRUE(q.ok()) << good << ": " << q.status().message();
  }
}

TEST(JsonPath, SingularQueries) {
  EXPECT_TRUE(Query::parse("$.a[0]['b']")->singular());
  EXPECT_FALSE(Query::parse("$.a[*]")->singular());
  EXPECT_FALSE(Query::parse("$..a")->singular());
  EXPECT_FALSE(Query::parse("$['a','b']")->singular());
}

}  // namespace
}  // namespace jz::routepath
