#include "core/json.h"

#include <gtest/gtest.h>

namespace jz {
namespace {

TEST(JsonTest, ParseErrorNamesWhatAndWhere) {
  auto r = json::parse("{\"a\": 1,,}", "request body");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("request body is not valid JSON"), std::string::npos);
  EXPECT_NE(r.status().message().find("byte 9"), std::string::npos) << r.status().message();
}

// Found by fuzz_manifest: a number beyond a double threw out_of_range past the handler.
TEST(JsonTest, ANumberTooLargeIsAParseErrorNotAnException) {
  auto r = json::parse(R"({"abi_version":1e01237777774})", "manifest.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("manifest.json"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("number overflow"), std::string::npos)
      << r.status().message();
}

TEST(JsonTest, TypedFieldsNameTheField) {
  Json obj = Json::parse(R"({"name": "x", "n": "7", "big": 18446744073709551615, "b": true})");
  EXPECT_EQ(*json::required_string(obj, "name"), "x");
  auto n = json::required_int(obj, "n");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "field 'n' must be an integer, got a string");
  EXPECT_EQ(json::required_int(obj, "big").status().message(), "field 'big' is out of range");
  EXPECT_EQ(json::required_string(obj, "missing").status().message(),
            "field 'missing' is required");
  EXPECT_FALSE(json::optional_string(obj, "missing")->has_value());
  EXPECT_TRUE(**json::optional_bool(obj, "b"));
  EXPECT_FALSE(json::optional_bool(obj, "name").ok());
  EXPECT_FALSE(json::required_string(Json::array(), "x").ok());
}

TEST(JsonTest, DumpReplacesInvalidUtf8) {
  Json v = std::string(
      "a\xff"
      "b");
  EXPECT_EQ(json::dump(v),
            "\"a\xEF\xBF\xBD"
            "b\"");
}

}  // namespace
}  // namespace jz
