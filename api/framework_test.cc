#include "api/framework.h"

#include <gtest/gtest.h>

#include "api/schema.h"

namespace jz::api {
namespace {

TEST(PageTokens, RoundTripAndRefuseForeignTokens) {
  for (const std::string& key : std::vector<std::string>{"", "a", "ab", "abc", "project-x",
                                                         std::string("\x00\xff\x10", 3)}) {
    auto back = decode_page_token(encode_page_token(key));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, key);
  }
  auto bad = decode_page_token("not a token!");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("page_token"), std::string::npos);
}

TEST(Schema, NamesTheFieldThatDoesNotFit) {
  namespace sc = schema;
  const Json s = sc::object({{"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4}}},
                             {"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", 9}}},
                             {"tags", sc::array_of(sc::str())},
                             {"level", sc::one_of_strings({"open", "secret"})},
                             {"opt", sc::nullable(sc::str())}},
                            {"name"});
  EXPECT_TRUE(sc::validate({{"name", "abc"}, {"n", 3}, {"opt", nullptr}}, s).ok());
  struct Case {
    Json body;
    const char* says;
  } cases[] = {
      {Json::object(), "field 'name' is required"},
      {{{"name", 1}}, "field 'name' must be a string, got an integer"},
      {{{"name", ""}}, "at least 1 characters"},
      {{{"name", "abcde"}}, "at most 4 characters"},
      {{{"name", "a"}, {"n", 10}}, "field 'n' must be at most 9"},
      {{{"name", "a"}, {"n", 1.5}}, "field 'n' must be an integer"},
      {{{"name", "a"}, {"tags", {"x", 2}}}, "field 'tags[1]' must be a string"},
      {{{"name", "a"}, {"level", "internal"}}, "must be one of: open, secret"},
      {{{"name", "a"}, {"extra", true}}, "field 'extra' is unknown here"},
      {{{"name", nullptr}}, "field 'name' must not be null"},
  };
  for (const auto& c : cases) {
    Status st = sc::validate(c.body, s);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.body.dump();
    EXPECT_NE(st.message().find(c.says), std::string::npos) << st.message();
  }
  // Named schemas resolve; read-only fields are ignored in requests.
  EXPECT_TRUE(sc::validate({{"gpus", 2}, {"usage", {{"storage_mib", 1}}}}, sc::ref("Quota")).ok());
  EXPECT_FALSE(sc::validate({{"gpus", "two"}}, sc::ref("Quota")).ok());
}

}  // namespace
}  // namespace jz::api
