#include "platform/autotest/report.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace jz::autotest {

namespace {

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '/';
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

const Json* at_path(const Json& root, const std::vector<std::string>& path) {
  const Json* cur = &root;
  for (const auto& part : path) {
    if (cur->is_object()) {
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      char* end = nullptr;
      const long i = std::strtol(part.c_str(), &end, 10);
      if (part.empty() || *end || i < 0 || static_cast<size_t>(i) >= cur->size()) return nullptr;
      cur = &(*cur)[static_cast<size_t>(i)];
    } else {
      return nullptr;
    }
  }
  return cur;
}

double round_to(double v, int digits) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double mag = std::floor(std::log10(std::fabs(v))) + 1;
  const double scale = std::pow(10.0, digits - mag);
  return std::round(v * scale) / scale;
}

}  // namespace

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::vector<std::string> split_dotted(std::string_view dotted) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    out.emplace_back(dotted.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

Result<Threshold> parse_threshold(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("threshold '" + std::string(text) + "': " + why +
                                    " (write NAME OP NUMBER, such as 'mAP >= 0.6' or "
                                    "'p99_latency_ms <= 50'; OP is >=, >, <=, < or ==)");
  };
  if (text.size() > 200) return bad("too long");
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const size_t name_start = i;
  while (i < text.size() && name_char(text[i])) ++i;
  const std::string name(text.substr(name_start, i - name_start));
  if (name.empty()) return bad("no metric name");
  Threshold t;
  t.path = split_dotted(name);
  for (const auto& part : t.path) {
    if (part.empty()) return bad("an empty part in the metric name");
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  for (const char* op : {">=", "<=", "==", ">", "<"}) {
    if (text.substr(i, std::string_view(op).size()) == op) {
      t.op = op;
      i += t.op.size();
      break;
    }
  }
  if (t.op.empty()) return bad("no comparison after '" + name + "'");
  const std::string number = trim(text.substr(i));
  char* end = nullptr;
  t.value = std::strtod(number.c_str(), &end);
  if (number.empty() || *end || !std::isfinite(t.value)) {
    return bad("'" + number + "' is not a number");
  }
  t.text = name + " " + t.op + " " + number_text(t.value);
  return t;
}

std::vector<ThresholdResult> judge(const std::vector<Threshold>& thresholds, const Json& metrics) {
  std::vector<ThresholdResult> out;
  for (const auto& t : thresholds) {
    ThresholdResult r;
    r.threshold = t.text;
    const Json* v = at_path(metrics, t.path);
    if (v && v->is_number()) {
      const double x = v->get<double>();
      r.value = x;
      if (t.op == ">=") r.passed = x >= t.value;
      if (t.op == ">") r.passed = x > t.value;
      if (t.op == "<=") r.passed = x <= t.value;
      if (t.op == "<") r.passed = x < t.value;
      if (t.op == "==") r.passed = x == t.value;
    }
    out.push_back(r);
  }
  return out;
}

std::optional<double> metric_value(const Json& metrics, const std::string& dotted) {
  const Json* v = at_path(metrics, split_dotted(dotted));
  if (!v || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

Json thresholds_json(const std::vector<ThresholdResult>& results) {
  Json out = Json::array();
  for (const auto& r : results) {
    out.push_back({{"threshold", r.threshold},
                   {"value", r.value ? Json(*r.value) : Json()},
                   {"passed", r.passed}});
  }
  return out;
}

Json threshold_view(const Json& eval_metrics, const Json& performance) {
  Json view = eval_metrics.is_object() ? eval_metrics : Json::object();
  if (!view.contains("mAP")) {
    if (view.contains("AP") && view["AP"].is_number()) view["mAP"] = view["AP"];
    if (view.contains("mAP_all_points")) view["mAP"] = view["mAP_all_points"];
  }
  if (performance.is_object()) {
    for (const auto& [k, v] : performance.items()) {
      if (!view.contains(k)) view[k] = v;
    }
  }
  return view;
}

Result<RunSummary> parse_run_summary(std::string_view text) {
  if (text.size() > (1 << 20)) return Status::invalid_argument("summary.json: over 1 MiB");
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid_argument("summary.json: not a JSON object");
  }
  auto count = [&](const Json& o, const char* key, int64_t& out) -> Status {
    if (!o.contains(key)) return {};
    const Json& v = o[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (int64_t{1} << 40)) {
      return Status::invalid_argument(std::string("summary.json: field '") + key +
                                      "' must be a count");
    }
    out = v.get<int64_t>();
    return {};
  };
  auto number = [&](const Json& o, const char* key) -> Result<std::optional<double>> {
    if (!o.contains(key) || o[key].is_null()) return std::optional<double>();
    const Json& v = o[key];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
        v.get<double>() > 1e12) {
      return Status::invalid_argument(std::string("summary.json: field '") + key +
                                      "' must be a number from 0");
    }
    return std::optional<double>(v.get<double>());
  };
  RunSummary s;
  JZ_RETURN_IF_ERROR(count(j, "frames", s.frames));
  JZ_RETURN_IF_ERROR(count(j, "results", s.results));
  JZ_RETURN_IF_ERROR(count(j, "errors", s.errors));
  JZ_RETURN_IF_ERROR(count(j, "restarts", s.restarts));
  if (j.contains("errors_by_kind")) {
    const Json& k = j["errors_by_kind"];
    if (!k.is_object() || k.size() > 16) {
      return Status::invalid_argument("summary.json: field 'errors_by_kind' must be an object");
    }
    for (const auto& [name, v] : k.items()) {
      bool ok = !name.empty() && name.size() <= 32;
      for (char c : name) ok = ok && (std::islower(static_cast<unsigned char>(c)) || c == '_');
      int64_t n = 0;
      if (!ok) return Status::invalid_argument("summary.json: an error kind must be a-z and _");
      JZ_RETURN_IF_ERROR(count(k, name.c_str(), n));
      s.errors_by_kind[name] = n;
    }
  }
  JZ_ASSIGN_OR_RETURN(auto fps, number(j, "fps"));
  if (fps) s.performance["fps"] = *fps;
  if (j.contains("latency_ms")) {
    const Json& l = j["latency_ms"];
    if (!l.is_object()) return Status::invalid_argument("summary.json: field 'latency_ms'");
    for (const char* q : {"p50", "p90", "p99", "max"}) {
      JZ_ASSIGN_OR_RETURN(auto v, number(l, q));
      if (v) s.performance[std::string(q) + "_latency_ms"] = *v;
    }
  }
  JZ_ASSIGN_OR_RETURN(auto rss, number(j, "peak_rss_mib"));
  if (rss) s.performance["peak_rss_mib"] = *rss;
  return s;
}

Json round_numbers(const Json& j, int digits) {
  if (j.is_number_float()) return round_to(j.get<double>(), digits);
  if (j.is_object()) {
    Json out = Json::object();
    for (const auto& [k, v] : j.items()) out[k] = round_numbers(v, digits);
    return out;
  }
  if (j.is_array()) {
    Json out = Json::array();
    for (const auto& v : j) out.push_back(round_numbers(v, digits));
    return out;
  }
  return j;
}

namespace {

// A count in `o` under `key`; 0 when absent or not an integer.
int64_t count_of(const Json& o, const char* key) {
  if (!o.is_object()) return 0;
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Labels the annotations hold, from a per-class table: those with support.
std::set<std::string> annotated_labels(const Json& per_class) {
  std::set<std::string> out;
  for (const auto& [label, row] : per_class.items()) {
    if (count_of(row, "support") > 0 || count_of(row, "ground_truth") > 0) out.insert(label);
  }
  return out;
}

Json redact_metrics(const Json& m) {
  if (m.is_array()) {
    Json out = Json::array();
    for (const auto& v : m) out.push_back(redact_metrics(v));
    return out;
  }
  if (!m.is_object()) return m;
  Json out = Json::object();
  std::set<std::string> labels;
  const bool has_classes = m.contains("per_class") && m["per_class"].is_object();
  if (has_classes) labels = annotated_labels(m["per_class"]);
  for (const auto& [k, v] : m.items()) {
    if (k == "per_class" && v.is_object()) {
      Json kept = Json::object();
      for (const auto& [label, row] : v.items()) {
        if (labels.count(label)) kept[label] = row;
      }
      out[k] = kept;
    } else if (k == "per_category" && v.is_array()) {
      Json kept = Json::array();
      for (const auto& c : v) {
        if (count_of(c, "ground_truth") > 0) kept.push_back(c);
      }
      out[k] = kept;
    } else if (k == "confusion_matrix" && v.is_object() && has_classes) {
      // Rows are annotations; columns keep the annotated labels and "(missing)", and
      // pool every other answer as "(other)".
      const Json& matrix = v;
      auto array_at = [&matrix](const char* key) {
        auto it = matrix.find(key);
        return it != matrix.end() && it->is_array() ? *it : Json::array();
      };
      const Json rows = array_at("rows"), cols = array_at("columns"), counts = array_at("counts");
      Json new_rows = Json::array(), new_cols = Json::array(), new_counts = Json::array();
      std::vector<int> keep_col;
      bool other = false;
      for (size_t c = 0; c < cols.size(); ++c) {
        const std::string name = cols[c].is_string() ? cols[c].get<std::string>() : "";
        const bool keep = labels.count(name) || name == "(missing)";
        keep_col.push_back(keep ? static_cast<int>(new_cols.size()) : -1);
        if (keep) new_cols.push_back(name);
        other = other || !keep;
      }
      if (other) new_cols.push_back("(other)");
      for (size_t r = 0; r < rows.size() && r < counts.size(); ++r) {
        const std::string name = rows[r].is_string() ? rows[r].get<std::string>() : "";
        if (!labels.count(name) || !counts[r].is_array()) continue;
        new_rows.push_back(name);
        std::vector<int64_t> row(new_cols.size(), 0);
        for (size_t c = 0; c < cols.size() && c < counts[r].size(); ++c) {
          const int64_t n = counts[r][c].is_number_integer() ? counts[r][c].get<int64_t>() : 0;
          row[keep_col[c] >= 0 ? static_cast<size_t>(keep_col[c]) : new_cols.size() - 1] += n;
        }
        new_counts.push_back(row);
      }
      out[k] = {{"rows_are", "annotation"},
                {"rows", new_rows},
                {"columns", new_cols},
                {"counts", new_counts}};
    } else {
      out[k] = redact_metrics(v);
    }
  }
  return out;
}

}  // namespace

Json redacted_report(const Json& report) {
  Json out = Json::object();
  for (const char* k : {"template_name", "task", "jizhan", "created_at"}) {
    if (report.contains(k)) out[k] = report[k];
  }
  if (report.contains("metrics"))
    out["metrics"] = round_numbers(redact_metrics(report["metrics"]), 4);
  Json samples = Json::object();
  if (report.contains("samples") && report["samples"].is_object()) {
    for (const auto& [k, v] : report["samples"].items()) {
      if (v.is_number_integer()) samples[k] = v;  // counts only: no id lists
    }
  }
  out["samples"] = samples;
  out["redacted"] = true;
  return out;
}

}  // namespace jz::autotest
