#include "core/json.h"

namespace jz::json {

size_t depth_exceeded_at(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

Result<Json> parse(std::string_view text, std::string_view what) {
  if (size_t at = depth_exceeded_at(text); at != std::string_view::npos) {
    return Status::invalid_argument(std::string(what) + " is nested too deeply (more than " +
                                    std::to_string(kMaxDepth) + " levels at byte " +
                                    std::to_string(at + 1) + ")");
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    std::string msg = std::string(what) + " is not valid JSON";
    if (e.byte > 0) msg += " (error at byte " + std::to_string(e.byte) + ")";
    std::string detail = e.what();
    if (auto pos = detail.find("parse error"); pos != std::string::npos) {
      // nlohmann's message has a stable prefix "[json.exception.parse_error.101] "; the
      // rest says what was expected, which helps the user fix the input.
      if (auto colon = detail.find(": ", pos); colon != std::string::npos) {
        msg += ": " + detail.substr(colon + 2);
      }
    }
    return Status::invalid_argument(std::move(msg));
  } catch (const Json::out_of_range& e) {
    // A number beyond a double ("1e400"): nlohmann reports it as out_of_range.
    std::string detail = e.what();
    if (auto pos = detail.find("] "); pos != std::string::npos) detail = detail.substr(pos + 2);
    return Status::invalid_argument(std::string(what) + " is not valid JSON: " + detail);
  }
}

std::string string_or(const Json& obj, const char* field, const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string_view type_phrase(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

namespace {
Status wrong_type(std::string_view field, std::string_view want, const Json& got) {
  return Status::invalid_argument("field '" + std::string(field) + "' must be " +
                                  std::string(want) + ", got " + std::string(type_phrase(got)));
}
Status not_object() { return Status::invalid_argument("expected a JSON object"); }

const Json* find(const Json& obj, std::string_view field) {
  auto it = obj.find(field);
  return it == obj.end() ? nullptr : &*it;
}
}  // namespace

Result<std::string> required_string(const Json& obj, std::string_view field) {
  if (!obj.is_object()) return not_object();
  const Json* v = find(obj, field);
  if (!v) return Status::invalid_argument("field '" + std::string(field) + "' is required");
  if (!v->is_string()) return wrong_type(field, "a string", *v);
  return v->get<std::string>();
}

Result<int64_t> required_int(const Json& obj, std::string_view field) {
  if (!obj.is_object()) return not_object();
  const Json* v = find(obj, field);
  if (!v) return Status::invalid_argument("field '" + std::string(field) + "' is required");
  if (!v->is_number_integer()) return wrong_type(field, "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Status::invalid_argument("field '" + std::string(field) + "' is out of range");
  }
  return v->get<int64_t>();
}

Result<std::optional<std::string>> optional_string(const Json& obj, std::string_view field) {
  if (!obj.is_object()) return not_object();
  const Json* v = find(obj, field);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return wrong_type(field, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

Status only_fields(const Json& obj, std::initializer_list<std::string_view> known) {
  if (!obj.is_object()) return not_object();
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (auto n : known) ok = ok || n == k;
    if (ok) continue;
    std::string list;
    for (auto n : known) list += std::string(list.empty() ? "" : ", ") + std::string(n);
    return Status::invalid_argument("field '" + k + "' is unknown here; the fields are: " + list);
  }
  return {};
}

Result<std::optional<int64_t>> optional_int(const Json& obj, std::string_view field) {
  if (!obj.is_object()) return not_object();
  const Json* v = find(obj, field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  JZ_ASSIGN_OR_RETURN(int64_t i, required_int(obj, field));
  return std::optional<int64_t>(i);
}

Result<std::optional<bool>> optional_bool(const Json& obj, std::string_view field) {
  if (!obj.is_object()) return not_object();
  const Json* v = find(obj, field);
  if (!v || v->is_null()) return std::optional<bool>();
  if (!v->is_boolean()) return wrong_type(field, "a boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

std::string dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace jz::json
