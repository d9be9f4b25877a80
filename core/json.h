// JSON helpers over nlohmann::json that turn malformed or mistyped input into
// jz::Status values with messages naming the field, instead of exceptions.
//
// All functions are pure; safe to call from any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz {

using Json = nlohmann::json;

namespace json {

// How deep JSON from outside may nest. Deeper documents are refused before they are
// parsed: serialising, comparing or walking one recursively would exhaust the stack.
inline constexpr int kMaxDepth = 1000;

// The byte offset at which `text` opens its (max_depth + 1)-th nested array or object,
// or npos when it nests no deeper than max_depth. Brackets inside strings do not count;
// the text need not be valid JSON (the parser judges that).
size_t depth_exceeded_at(std::string_view text, int max_depth = kMaxDepth);

// Parses `text`; on failure the message names `what` ("request body") and the byte
// offset of the error. Nesting deeper than kMaxDepth is an error too.
Result<Json> parse(std::string_view text, std::string_view what = "JSON");

// Field access on an object. `required_*` fail with invalid_argument naming the field
// when it is absent or of the wrong type; `optional_*` return nullopt when absent and
// fail only on a wrong type.
Result<std::string> required_string(const Json& obj, std::string_view field);
// The string at `field`, or `fallback` when `obj` is not an object, lacks it, or holds
// something else there. (Json::value() throws on a wrong type: never use it on input.)
std::string string_or(const Json& obj, const char* field, const std::string& fallback = "");
Result<int64_t> required_int(const Json& obj, std::string_view field);
Result<std::optional<std::string>> optional_string(const Json& obj, std::string_view field);
Result<std::optional<int64_t>> optional_int(const Json& obj, std::string_view field);
Result<std::optional<bool>> optional_bool(const Json& obj, std::string_view field);
// invalid_argument naming the first field of `obj` that is not in `known` (and listing
// the known ones), so a misspelt or unsupported field is never silently ignored.
Status only_fields(const Json& obj, std::initializer_list<std::string_view> known);

// Human name of a JSON value's type, as used in error messages ("a string").
std::string_view type_phrase(const Json& v);

// Serialises compactly; invalid UTF-8 is replaced rather than throwing.
std::string dump(const Json& v);

}  // namespace json
}  // namespace jz
