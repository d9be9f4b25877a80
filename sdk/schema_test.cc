// The JSON Schema subset that algorithm outputs are checked against.
#include "sdk/schema.h"

#include <gtest/gtest.h>

namespace jz::sdk {
namespace {

TEST(Schema, NamesThePlaceThatDoesNotMatch) {
  const Json schema = Json::parse(R"({"type":"object","required":["algorithm_data"],
    "properties":{"algorithm_data":{"type":"object","additionalProperties":false,
      "properties":{"is_alert":{"type":"boolean"},"target_count":{"type":"integer","minimum":0},
        "name":{"type":"string","enum":["a","b"],"maxLength":1},
        "target_info":{"type":"array","maxItems":2,"items":{"type":"object","required":["x"]}}}}}})");
  EXPECT_TRUE(validate_json(Json::parse(R"({"algorithm_data":{"is_alert":true,"target_count":2.0,
      "target_info":[{"x":1},{"x":2}]}})"),
                            schema)
                  .ok())
      << "2.0 is an integer in JSON Schema";
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "$: required field 'algorithm_data' is missing"},
      {R"({"algorithm_data":{"is_alert":1}})",
       "$.algorithm_data.is_alert: expected boolean, got integer"},
      {R"({"algorithm_data":{"target_count":-1}})",
       "$.algorithm_data.target_count: -1 is below the minimum 0"},
      {R"({"algorithm_data":{"target_count":1.5}})", "expected integer, got number"},
      {R"({"algorithm_data":{"extra":1}})", "$.algorithm_data.extra: unknown field"},
      {R"({"algorithm_data":{"name":"c"}})", "\"c\" is not one of [\"a\",\"b\"]"},
      {R"({"algorithm_data":{"target_info":[{"x":1},{"y":2}]}})",
       "$.algorithm_data.target_info[1]: required field 'x'"},
      {R"({"algorithm_data":{"target_info":[{"x":1},{"x":1},{"x":1}]}})", "more than 2 items"},
  };
  for (const auto& [value, needle] : cases) {
    Status s = validate_json(Json::parse(value), schema);
    ASSERT_FALSE(s.ok()) << value;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  }
  EXPECT_TRUE(validate_json(Json::parse("3"), Json::parse(R"({"type":["string","number"]})")).ok());
  EXPECT_FALSE(validate_json(Json::parse("3"), Json(false)).ok());
}

}  // namespace
}  // namespace jz::sdk
