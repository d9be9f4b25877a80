#include "sdk/serve_plan.h"

#include <map>
#include <set>
#include <utility>

#include "core/clock.h"
#include "core/json.h"
#include "sdk/manifest.h"

namespace jz::sdk {
namespace {

bool valid_source_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n[0] == '.' || n[0] == '-') return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status check_address(std::string_view what, const std::string& a) {
  if (a.empty()) return {};
  const size_t colon = a.rfind(':');
  bool ok =
      colon != std::string::npos && colon > 0 && colon + 1 < a.size() && a.size() - colon - 1 <= 5;
  int64_t port = 0;
  for (size_t i = colon + 1; ok && i < a.size(); ++i) {
    ok = a[i] >= '0' && a[i] <= '9';
    port = port * 10 + (a[i] - '0');
  }
  if (!ok || port > 65535) {
    return Status::invalid_argument(std::string(what) + " '" + a.substr(0, 80) +
                                    "' is not HOST:PORT, e.g. 127.0.0.1:8090 (port 0: any)");
  }
  return {};
}

// A JSON object given in the plan, kept as its text; absent: empty.
Result<std::string> object_text(const Json& obj, const char* field, const std::string& where) {
  if (!obj.contains(field)) return std::string();
  if (!obj[field].is_object()) {
    return Status::invalid_argument(where + ": '" + field + "' must be a JSON object");
  }
  return obj[field].dump();
}

Result<std::chrono::milliseconds> duration_field(const Json& obj, const char* field,
                                                 std::chrono::milliseconds fallback,
                                                 bool allow_zero = false) {
  if (!obj.contains(field)) return fallback;
  if (!obj[field].is_string()) {
    return Status::invalid_argument(std::string("'") + field +
                                    "' must be a duration text such as \"60s\" or \"72h\"");
  }
  auto d = parse_plan_duration(obj[field].get<std::string>(), allow_zero);
  if (!d.ok())
    return Status::invalid_argument(std::string("'") + field + "': " + d.status().message());
  return *d;
}

Result<PlanSource> parse_source(const Json& s, size_t i) {
  const std::string where = "sources[" + std::to_string(i) + "]";
  if (!s.is_object()) return Status::invalid_argument(where + " must be an object");
  if (Status st = json::only_fields(
          s, {"name", "algorithm", "input", "fps", "max_frames", "args", "config"});
      !st.ok()) {
    return Status::invalid_argument(where + ": " + st.message());
  }
  PlanSource p;
  auto algorithm = json::required_string(s, "algorithm");
  auto input = json::required_string(s, "input");
  if (!algorithm.ok()) return Status::invalid_argument(where + ": " + algorithm.status().message());
  if (!input.ok()) return Status::invalid_argument(where + ": " + input.status().message());
  p.algorithm = *algorithm;
  p.input = *input;
  p.name = json::string_or(s, "name");
  if (s.contains("name") && !s["name"].is_string()) {
    return Status::invalid_argument(where + ": 'name' must be a string");
  }
  if (s.contains("fps")) {
    if (!s["fps"].is_number() || s["fps"].get<double>() < 0 || s["fps"].get<double>() > 1000) {
      return Status::invalid_argument(where + ": 'fps' must be a number from 0 to 1000");
    }
    p.fps = s["fps"].get<double>();
  }
  if (s.contains("max_frames")) {
    if (!s["max_frames"].is_number_integer() || s["max_frames"].get<int64_t>() < 0) {
      return Status::invalid_argument(where + ": 'max_frames' must be a count (0: no limit)");
    }
    p.max_frames = s["max_frames"].get<int64_t>();
  }
  JZ_ASSIGN_OR_RETURN(p.args, object_text(s, "args", where));
  JZ_ASSIGN_OR_RETURN(p.config, object_text(s, "config", where));
  return p;
}

Result<PlanEndpoint> parse_endpoint(const Json& e, size_t i) {
  const std::string where = "endpoints[" + std::to_string(i) + "]";
  if (!e.is_object()) return Status::invalid_argument(where + " must be an object");
  if (Status st =
          json::only_fields(e, {"algorithm", "http", "grpc", "instances", "token_file", "config"});
      !st.ok()) {
    return Status::invalid_argument(where + ": " + st.message());
  }
  PlanEndpoint p;
  auto algorithm = json::required_string(e, "algorithm");
  if (!algorithm.ok()) return Status::invalid_argument(where + ": " + algorithm.status().message());
  p.algorithm = *algorithm;
  for (auto [field, dest] : {std::pair{"http", &p.http}, std::pair{"grpc", &p.grpc},
                             std::pair{"token_file", &p.token_file}}) {
    if (!e.contains(field)) continue;
    if (!e[field].is_string()) {
      return Status::invalid_argument(where + ": '" + field + "' must be a string");
    }
    *dest = e[field].get<std::string>();
  }
  if (e.contains("instances")) {
    if (!e["instances"].is_number_integer() || e["instances"].get<int64_t>() < 1 ||
        e["instances"].get<int64_t>() > 64) {
      return Status::invalid_argument(where + ": 'instances' must be a whole number from 1 to 64");
    }
    p.instances = e["instances"].get<int>();
  }
  JZ_ASSIGN_OR_RETURN(p.config, object_text(e, "config", where));
  return p;
}

}  // namespace

Result<ServePlan> parse_serve_plan(std::string_view text) {
  JZ_ASSIGN_OR_RETURN(Json j, json::parse(text, "the serve plan"));
  if (!j.is_object()) return Status::invalid_argument("the serve plan must be a JSON object");
  JZ_RETURN_IF_ERROR(json::only_fields(
      j, {"sources", "endpoints", "output", "report_interval", "grace", "renew_before"}));
  ServePlan plan;
  for (auto [field, kind] : {std::pair{"sources", 0}, std::pair{"endpoints", 1}}) {
    if (!j.contains(field)) continue;
    if (!j[field].is_array() || j[field].size() > 256) {
      return Status::invalid_argument(std::string("'") + field + "' must be a list (at most 256)");
    }
    for (size_t i = 0; i < j[field].size(); ++i) {
      if (kind == 0) {
        JZ_ASSIGN_OR_RETURN(PlanSource s, parse_source(j[field][i], i));
        plan.sources.push_back(std::move(s));
      } else {
        JZ_ASSIGN_OR_RETURN(PlanEndpoint e, parse_endpoint(j[field][i], i));
        plan.endpoints.push_back(std::move(e));
      }
    }
  }
  if (j.contains("output")) {
    if (!j["output"].is_string()) return Status::invalid_argument("'output' must be a folder");
    plan.output = j["output"].get<std::string>();
  }
  JZ_ASSIGN_OR_RETURN(plan.report_interval,
                      duration_field(j, "report_interval", plan.report_interval));
  JZ_ASSIGN_OR_RETURN(plan.grace, duration_field(j, "grace", plan.grace, true));
  JZ_ASSIGN_OR_RETURN(plan.renew_before, duration_field(j, "renew_before", plan.renew_before));
  return plan;
}

Result<std::chrono::milliseconds> parse_plan_duration(std::string_view text, bool allow_zero) {
  if (allow_zero && (text == "0" || text == "0s")) return std::chrono::milliseconds(0);
  return parse_duration(text);
}

namespace {
// NAME=VALUE of a flag; the error shows the form with an example.
Result<std::pair<std::string, std::string>> split_flag(std::string_view flag,
                                                       std::string_view which,
                                                       std::string_view form) {
  const size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == flag.size()) {
    return Status::invalid_argument(std::string(which) + " '" + std::string(flag.substr(0, 120)) +
                                    "': write " + std::string(form));
  }
  return std::pair{std::string(flag.substr(0, eq)), std::string(flag.substr(eq + 1))};
}
}  // namespace

Status add_source_flag(ServePlan& plan, std::string_view flag) {
  JZ_ASSIGN_OR_RETURN(
      auto kv,
      split_flag(flag, "--source", "ALGORITHM=INPUT, e.g. face_detect=rtsp://camera-1/live"));
  plan.sources.push_back({.algorithm = kv.first, .input = kv.second});
  return {};
}

Status add_endpoint_flag(ServePlan& plan, std::string_view flag) {
  JZ_ASSIGN_OR_RETURN(auto kv, split_flag(flag, "--endpoint",
                                          "ALGORITHM=HOST:PORT, e.g. face_detect=127.0.0.1:8090"));
  plan.endpoints.push_back({.algorithm = kv.first, .http = kv.second});
  return {};
}

Status finish_serve_plan(ServePlan& plan) {
  if (plan.sources.empty() && plan.endpoints.empty()) {
    return Status::invalid_argument(
        "nothing to serve: give sources (--source ALGORITHM=INPUT) or endpoints (--endpoint "
        "ALGORITHM=HOST:PORT), or a plan file (--config FILE)");
  }
  std::set<std::string> names;
  std::map<std::string, int> per_algorithm;
  for (auto& s : plan.sources) {
    if (!valid_package_name(s.algorithm)) {
      return Status::invalid_argument("source '" + s.name + "': '" + s.algorithm.substr(0, 80) +
                                      "' is not an algorithm name");
    }
    if (s.input.empty()) return Status::invalid_argument("source '" + s.name + "' has no input");
    if (s.name.empty()) s.name = s.algorithm + "-" + std::to_string(++per_algorithm[s.algorithm]);
    if (!valid_source_name(s.name)) {
      return Status::invalid_argument("source name '" + s.name.substr(0, 80) +
                                      "': use letters, digits, '_', '-' and '.' (at most 64), "
                                      "not starting with '.' or '-'");
    }
    if (!names.insert(s.name).second) {
      return Status::invalid_argument("two sources are named '" + s.name +
                                      "': each needs its own name (its results file)");
    }
  }
  for (const auto& e : plan.endpoints) {
    if (!valid_package_name(e.algorithm)) {
      return Status::invalid_argument("endpoint: '" + e.algorithm.substr(0, 80) +
                                      "' is not an algorithm name");
    }
    if (e.http.empty() && e.grpc.empty()) {
      return Status::invalid_argument("endpoint for " + e.algorithm +
                                      ": give 'http' or 'grpc' (HOST:PORT)");
    }
    JZ_RETURN_IF_ERROR(check_address("endpoint " + e.algorithm + " http", e.http));
    JZ_RETURN_IF_ERROR(check_address("endpoint " + e.algorithm + " grpc", e.grpc));
  }
  if (plan.report_interval < std::chrono::seconds(1)) {
    return Status::invalid_argument("the report interval must be at least 1s");
  }
  return {};
}

}  // namespace jz::sdk
