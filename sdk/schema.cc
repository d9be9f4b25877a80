#include "sdk/schema.h"

#include <cmath>

namespace jz::sdk {
namespace {

std::string type_of(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && d == std::floor(d) ? "integer" : "number";
  }
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool has_type(const Json& v, const std::string& t) {
  const std::string actual = type_of(v);
  return actual == t || (t == "number" && actual == "integer");
}

Status fail(const std::string& at, const std::string& what) {
  return Status::invalid_argument(at + ": " + what);
}

Status check(const Json& v, const Json& s, const std::string& at, int depth) {
  if (depth > 64) return fail(at, "schema nested too deeply");
  if (s.is_boolean()) return s.get<bool>() ? Status{} : fail(at, "not allowed here");
  if (!s.is_object()) return {};
  if (s.contains("type")) {
    const Json& t = s["type"];
    bool any = false;
    std::string names;
    for (const Json& one : t.is_array() ? t : Json::array({t})) {
      if (!one.is_string()) continue;
      names += (names.empty() ? "" : " or ") + one.get<std::string>();
      any = any || has_type(v, one.get<std::string>());
    }
    if (!any) return fail(at, "expected " + names + ", got " + type_of(v));
  }
  if (s.contains("enum") && s["enum"].is_array()) {
    bool found = false;
    for (const Json& e : s["enum"]) found = found || e == v;
    if (!found) return fail(at, v.dump() + " is not one of " + s["enum"].dump());
  }
  if (s.contains("const") && s["const"] != v) return fail(at, "must be " + s["const"].dump());
  if (v.is_number()) {
    const double d = v.get<double>();
    if (s.contains("minimum") && s["minimum"].is_number() && d < s["minimum"].get<double>()) {
      return fail(at, v.dump() + " is below the minimum " + s["minimum"].dump());
    }
    if (s.contains("maximum") && s["maximum"].is_number() && d > s["maximum"].get<double>()) {
      return fail(at, v.dump() + " is above the maximum " + s["maximum"].dump());
    }
  }
  if (v.is_string()) {
    const size_t n = v.get<std::string>().size();
    if (s.contains("minLength") && s["minLength"].is_number() && n < s["minLength"].get<double>()) {
      return fail(at, "shorter than " + s["minLength"].dump());
    }
    if (s.contains("maxLength") && s["maxLength"].is_number() && n > s["maxLength"].get<double>()) {
      return fail(at, "longer than " + s["maxLength"].dump());
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && s["minItems"].is_number() &&
        v.size() < s["minItems"].get<double>()) {
      return fail(at, "fewer than " + s["minItems"].dump() + " items");
    }
    if (s.contains("maxItems") && s["maxItems"].is_number() &&
        v.size() > s["maxItems"].get<double>()) {
      return fail(at, "more than " + s["maxItems"].dump() + " items");
    }
    if (s.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        JZ_RETURN_IF_ERROR(check(v[i], s["items"], at + "[" + std::to_string(i) + "]", depth + 1));
      }
    }
  }
  if (v.is_object()) {
    if (s.contains("required") && s["required"].is_array()) {
      for (const Json& r : s["required"]) {
        if (r.is_string() && !v.contains(r.get<std::string>())) {
          return fail(at, "required field '" + r.get<std::string>() + "' is missing");
        }
      }
    }
    const Json props =
        s.contains("properties") && s["properties"].is_object() ? s["properties"] : Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = at + "." + it.key();
      if (props.contains(it.key())) {
        JZ_RETURN_IF_ERROR(check(*it, props[it.key()], child, depth + 1));
      } else if (s.contains("additionalProperties")) {
        const Json& extra = s["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) return fail(child, "unknown field");
        JZ_RETURN_IF_ERROR(check(*it, extra, child, depth + 1));
      }
    }
  }
  return {};
}

}  // namespace

Status validate_json(const Json& value, const Json& schema) { return check(value, schema, "$", 0); }

}  // namespace jz::sdk
