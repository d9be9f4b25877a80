#include "training/records.h"

#include <cmath>
#include <limits>

namespace jz::training {

namespace {

Status bad(const std::string& what) {
  return Status::invalid_argument("bad training record: " + what);
}

Result<double> number_of(const Json& v, const std::string& name) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return bad("the value of \"" + name +
             "\" must be a number (or \"NaN\", \"Infinity\", \"-Infinity\"), not " +
             std::string(v.type_name()));
}

Result<int64_t> integer_of(const Json& j, const char* name, bool required, int64_t fallback) {
  if (!j.contains(name)) {
    if (required) return bad(std::string("\"") + name + "\" is missing");
    return fallback;
  }
  const Json& v = j[name];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (int64_t{1} << 53)) {
    return bad(std::string("\"") + name + "\" must be a whole number from 0 to 2^53");
  }
  return v.get<int64_t>();
}

}  // namespace

Status check_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) {
    return bad("a tag must have 1 to " + std::to_string(kMaxTagLength) + " characters, not " +
               std::to_string(tag.size()));
  }
  for (char c : tag) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
    if (!ok) {
      return bad("tag \"" + std::string(tag.substr(0, 40)) +
                 "\" may hold only letters, digits and _ . - / : (such as train/loss)");
    }
  }
  return {};
}

Result<Record> parse_record(const Json& j) {
  if (!j.is_object()) return bad("each record must be a JSON object");
  if (!j.contains("kind") || !j["kind"].is_string()) {
    return bad("\"kind\" is missing (log, points, config, note, progress or finish)");
  }
  const std::string& kind = j["kind"].get_ref<const std::string&>();
  Record r;
  if (kind == "log") {
    r.kind = Record::Kind::kLog;
    JZ_ASSIGN_OR_RETURN(r.step, integer_of(j, "step", true, 0));
    if (j.contains("time")) {
      const Json& t = j["time"];
      if (!t.is_number() || !(t.get<double>() >= 0) || t.get<double>() > 1e11) {
        return bad("\"time\" must be seconds since the epoch");
      }
      r.wall_us = static_cast<int64_t>(std::llround(t.get<double>() * 1e6));
    }
    if (!j.contains("values") || !j["values"].is_object() || j["values"].empty()) {
      return bad("a log record needs \"values\": an object of tag: number");
    }
    if (j["values"].size() > kMaxValuesPerRecord) {
      return bad("at most " + std::to_string(kMaxValuesPerRecord) + " values in one record");
    }
    for (const auto& [tag, v] : j["values"].items()) {
      JZ_RETURN_IF_ERROR(check_tag(tag));
      JZ_ASSIGN_OR_RETURN(double x, number_of(v, tag));
      r.values.emplace_back(tag, x);
    }
  } else if (kind == "points") {
    r.kind = Record::Kind::kPoints;
    if (!j.contains("tag") || !j["tag"].is_string()) return bad("a points record needs \"tag\"");
    r.tag = j["tag"].get<std::string>();
    JZ_RETURN_IF_ERROR(check_tag(r.tag));
    if (!j.contains("steps") || !j["steps"].is_array() || !j.contains("values") ||
        !j["values"].is_array()) {
      return bad("a points record needs \"steps\" and \"values\": arrays of one length");
    }
    const Json& steps = j["steps"];
    const Json& values = j["values"];
    const bool timed = j.contains("times");
    if (timed && !j["times"].is_array()) return bad("\"times\" must be an array");
    const size_t n = steps.size();
    if (values.size() != n || (timed && j["times"].size() != n)) {
      return bad("\"steps\", \"values\" and \"times\" must have one length");
    }
    if (n == 0 || n > kMaxColumnPoints) {
      return bad("a points record holds 1 to " + std::to_string(kMaxColumnPoints) + " points");
    }
    r.steps.reserve(n);
    r.column.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Json& s = steps[i];
      if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > (int64_t{1} << 53)) {
        return bad("steps[" + std::to_string(i) + "] must be a whole number from 0 to 2^53");
      }
      r.steps.push_back(s.get<int64_t>());
      JZ_ASSIGN_OR_RETURN(double v, number_of(values[i], r.tag));
      r.column.push_back(v);
    }
    if (timed) {
      r.walls_us.reserve(n);
      for (const Json& t : j["times"]) {
        if (!t.is_number() || !(t.get<double>() >= 0) || t.get<double>() > 1e11) {
          return bad("\"times\" must be seconds since the epoch");
        }
        r.walls_us.push_back(static_cast<int64_t>(std::llround(t.get<double>() * 1e6)));
      }
    }
  } else if (kind == "config") {
    r.kind = Record::Kind::kConfig;
    if (!j.contains("values") || !j["values"].is_object()) {
      return bad("a config record needs \"values\": an object of name: value");
    }
    if (j["values"].size() > kMaxConfigKeys) {
      return bad("at most " + std::to_string(kMaxConfigKeys) + " configuration values");
    }
    for (const auto& [k, v] : j["values"].items()) {
      if (k.empty() || k.size() > kMaxTagLength) {
        return bad("a configuration name must have 1 to " + std::to_string(kMaxTagLength) +
                   " characters");
      }
      if (!(v.is_number() || v.is_string() || v.is_boolean() || v.is_null()) ||
          (v.is_string() && v.get_ref<const std::string&>().size() > 1000)) {
        return bad("configuration value \"" + k +
                   "\" must be a number, a boolean, null or a string of at most 1000 "
                   "characters (flatten nested values as a.b)");
      }
    }
    r.config = j["values"];
  } else if (kind == "note") {
    r.kind = Record::Kind::kNote;
    if (!j.contains("text") || !j["text"].is_string()) return bad("a note needs \"text\"");
    r.text = j["text"].get<std::string>();
    if (r.text.empty() || r.text.size() > kMaxNoteLength) {
      return bad("a note must have 1 to " + std::to_string(kMaxNoteLength) + " bytes");
    }
  } else if (kind == "progress") {
    r.kind = Record::Kind::kProgress;
    JZ_ASSIGN_OR_RETURN(r.done, integer_of(j, "done", true, 0));
    JZ_ASSIGN_OR_RETURN(r.total, integer_of(j, "total", true, 0));
    if (r.total <= 0 || r.done > r.total) {
      return bad("progress needs 0 <= done <= total and total > 0");
    }
  } else if (kind == "finish") {
    r.kind = Record::Kind::kFinish;
  } else {
    return bad("unknown kind \"" + kind.substr(0, 40) +
               "\" (use log, points, config, note, progress or finish)");
  }
  return r;
}

Result<std::vector<Record>> parse_lines(std::string_view text) {
  std::vector<Record> out;
  size_t line = 0, start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    ++line;
    std::string_view l = text.substr(start, nl - start);
    start = nl + 1;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto j = json::parse(l, "a training record");
    Result<Record> r = j.ok() ? parse_record(*j) : Result<Record>(j.status());
    if (!r.ok()) {
      return Status::invalid_argument("line " + std::to_string(line) + ": " +
                                      std::string(r.status().message()));
    }
    out.push_back(std::move(*r));
  }
  return out;
}

Json value_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

std::string format_record(const Record& r) {
  Json j;
  switch (r.kind) {
    case Record::Kind::kLog: {
      j = {{"kind", "log"}, {"step", r.step}};
      if (r.wall_us) j["time"] = static_cast<double>(r.wall_us) / 1e6;
      Json v = Json::object();
      for (const auto& [k, x] : r.values) v[k] = value_json(x);
      j["values"] = v;
      break;
    }
    case Record::Kind::kPoints: {
      Json values = Json::array();
      for (double v : r.column) values.push_back(value_json(v));
      j = {{"kind", "points"}, {"tag", r.tag}, {"steps", r.steps}, {"values", values}};
      if (!r.walls_us.empty()) {
        Json times = Json::array();
        for (int64_t w : r.walls_us) times.push_back(static_cast<double>(w) / 1e6);
        j["times"] = times;
      }
      break;
    }
    case Record::Kind::kConfig:
      j = {{"kind", "config"}, {"values", r.config.is_object() ? r.config : Json::object()}};
      break;
    case Record::Kind::kNote:
      j = {{"kind", "note"}, {"text", r.text}};
      break;
    case Record::Kind::kProgress:
      j = {{"kind", "progress"}, {"done", r.done}, {"total", r.total}};
      break;
    case Record::Kind::kFinish:
      j = {{"kind", "finish"}};
      break;
  }
  return json::dump(j);
}

}  // namespace jz::training
