#include "core/status.h"

#include <gtest/gtest.h>

namespace jz {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(StatusTest, CodeNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Code::kUnprocessable); ++i) {
    auto code = static_cast<Code>(i);
    auto back = code_from_name(code_name(code));
    ASSERT_TRUE(back.has_value()) << code_name(code);
    EXPECT_EQ(*back, code);
  }
  EXPECT_FALSE(code_from_name("no_such_code").has_value());
  EXPECT_EQ(code_name(Code::kFailedPrecondition), "failed_precondition");
}

TEST(StatusTest, ContextPrefixesMessage) {
  Status s = Status::not_found("user 'bob' does not exist");
  EXPECT_EQ(s.with_context("loading").to_string(), "not_found: loading: user 'bob' does not exist");
  EXPECT_TRUE(Status().with_context("x").ok());
}

Result<int> half(int x) {
  if (x % 2) return Status::invalid_argument("odd");
  return x / 2;
}

Result<int> quarter(int x) {
  JZ_ASSIGN_OR_RETURN(int h, half(x));
  JZ_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

TEST(ResultTest, PropagatesErrors) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(quarter(5).value_or(-1), -1);
}

}  // namespace
}  // namespace jz

namespace jz {
namespace {

// One mapping for every HTTP answer of the platform (the API and `jizhan algo serve`
// once disagreed: 412 against 500 for failed_precondition). A conflict with the current
// state is 409; 412 is kept for conditions of the request (If-Match).
TEST(StatusTest, HttpStatusOfEveryCode) {
  const std::vector<std::pair<Code, int>> expected = {{Code::kOk, 200},
                                                      {Code::kInvalidArgument, 400},
                                                      {Code::kUnauthenticated, 401},
                                                      {Code::kPermissionDenied, 403},
                                                      {Code::kNotFound, 404},
                                                      {Code::kAlreadyExists, 409},
                                                      {Code::kFailedPrecondition, 409},
                                                      {Code::kConditionNotMet, 412},
                                                      {Code::kUnprocessable, 422},
                                                      {Code::kResourceExhausted, 429},
                                                      {Code::kInternal, 500},
                                                      {Code::kUnavailable, 503},
                                                      {Code::kDeadlineExceeded, 504}};
  for (const auto& [code, status] : expected)
    EXPECT_EQ(http_status(code), status) << code_name(code);
}

}  // namespace
}  // namespace jz
