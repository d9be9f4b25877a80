// jz::Status and jz::Result<T>: errors as values at every module border.
//
// A Status is either OK or carries a Code and a message written for the person who
// will read it: what was wrong and what to do ("route path 'a[0' is missing ']' at
// column 4"). A Result<T> holds either a T or a non-OK Status.
//
// Thread safety: const methods may be called concurrently; mutation needs external
// synchronisation, as for any value type.
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace jz {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kInternal,
  kConditionNotMet,  // an If-Match (or similar condition) of the request does not hold
  kUnprocessable,    // well-formed and valid in shape, but refused by a rule of the domain
};

// The stable lower_snake name of a code ("invalid_argument"), as used in API errors.
std::string_view code_name(Code code);
// The HTTP status that answers an error of this code (200 for kOk): 400, 401, 403, 404,
// 409 (already_exists, failed_precondition: a conflict with the current state), 412
// (condition_not_met), 422 (unprocessable), 429, 500, 503, 504. The API server and `jizhan algo
// serve` both use it.
int http_status(Code code);
// Parses a name produced by code_name; nullopt for anything else.
std::optional<Code> code_from_name(std::string_view name);
// The text of an errno value ("No such file or directory"); thread-safe, unlike
// std::strerror.
std::string errno_message(int err);
// For test failure messages (GoogleTest finds it by argument-dependent lookup).
inline void PrintTo(Code code, std::ostream* os) { *os << code_name(code); }

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status permission_denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status failed_precondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status resource_exhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status deadline_exceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status condition_not_met(std::string m) { return {Code::kConditionNotMet, std::move(m)}; }
  static Status unprocessable(std::string m) { return {Code::kUnprocessable, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not_found: user 'bob' does not exist", or "ok".
  std::string to_string() const;

  // Returns a copy whose message is prefixed with context ("loading config: ...").
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "a Result needs a value or a non-OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; an OK status when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace jz

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define JZ_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::jz::Status jz_status_tmp_ = (expr);            \
    if (!jz_status_tmp_.ok()) return jz_status_tmp_; \
  } while (0)

#define JZ_CONCAT_INNER_(a, b) a##b
#define JZ_CONCAT_(a, b) JZ_CONCAT_INNER_(a, b)
// JZ_ASSIGN_OR_RETURN(auto x, make_x()): binds the value or returns the error.
#define JZ_ASSIGN_OR_RETURN(lhs, expr) \
  JZ_ASSIGN_OR_RETURN_IMPL_(JZ_CONCAT_(jz_result_, __LINE__), lhs, expr)
// `tmp` is a name and `lhs` a declaration ("auto x"): neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define JZ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
