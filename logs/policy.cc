#include "logs/policy.h"

#include <set>

#include "logs/filter.h"

namespace jz::logs {

namespace {

Status bad(const std::string& field, const std::string& what) {
  return Status::invalid_argument("field '" + field + "' " + what);
}

Result<int64_t> int_in(const Json& obj, const std::string& prefix, const char* field, int64_t lo,
                       int64_t hi, int64_t fallback) {
  auto it = obj.find(field);
  if (it == obj.end()) return fallback;
  if (!it->is_number_integer()) return bad(prefix + field, "must be an integer");
  const int64_t n = it->get<int64_t>();
  if (n < lo || n > hi) {
    return bad(prefix + field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return n;
}

Status unknown_fields(const Json& obj, const std::string& prefix,
                      const std::set<std::string>& known, const char* hint) {
  for (const auto& [k, v] : obj.items()) {
    if (!known.count(k)) return bad(prefix + k, std::string("is unknown (") + hint + ")");
  }
  return {};
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

Status parse_detectors(const Json& d, Detectors& out) {
  if (d.is_boolean()) {
    out.enabled = d.get<bool>();
    return {};
  }
  if (!d.is_object()) return bad("detectors", "must be true, false or an object");
  JZ_RETURN_IF_ERROR(unknown_fields(
      d, "detectors.",
      {"enabled", "base64_min", "hex_min", "numbers_min", "entropy_min", "entropy_bits",
       "long_line"},
      "use enabled, base64_min, hex_min, numbers_min, entropy_min, entropy_bits, long_line"));
  out.enabled = true;
  if (d.contains("enabled")) {
    if (!d["enabled"].is_boolean()) return bad("detectors.enabled", "must be true or false");
    out.enabled = d["enabled"].get<bool>();
  }
  const std::string p = "detectors.";
  JZ_ASSIGN_OR_RETURN(int64_t b64, int_in(d, p, "base64_min", 16, 4096, out.base64_min));
  JZ_ASSIGN_OR_RETURN(int64_t hex, int_in(d, p, "hex_min", 16, 4096, out.hex_min));
  JZ_ASSIGN_OR_RETURN(int64_t nums, int_in(d, p, "numbers_min", 4, 4096, out.numbers_min));
  JZ_ASSIGN_OR_RETURN(int64_t ent, int_in(d, p, "entropy_min", 16, 4096, out.entropy_min));
  JZ_ASSIGN_OR_RETURN(int64_t ll, int_in(d, p, "long_line", 16, 1 << 20, out.long_line));
  out.base64_min = static_cast<int>(b64);
  out.hex_min = static_cast<int>(hex);
  out.numbers_min = static_cast<int>(nums);
  out.entropy_min = static_cast<int>(ent);
  out.long_line = static_cast<int>(ll);
  if (d.contains("entropy_bits")) {
    const Json& e = d["entropy_bits"];
    if (!e.is_number() || !(e.get<double>() >= 1) || e.get<double>() > 8) {
      return bad("detectors.entropy_bits", "must be a number from 1 to 8 (bits per character)");
    }
    out.entropy_bits = e.get<double>();
  }
  return {};
}

}  // namespace

const char* mode_name(LogPolicy::Mode m) {
  switch (m) {
    case LogPolicy::Mode::kOpen:
      return "open";
    case LogPolicy::Mode::kBlacklist:
      return "blacklist";
    case LogPolicy::Mode::kWhitelist:
      return "whitelist";
  }
  return "open";
}

Json LogPolicy::to_json() const {
  Json r = Json::array();
  for (const auto& rule : rules) {
    Json j = {{"name", rule.name}, {"pattern", rule.pattern}};
    if (mode == Mode::kBlacklist) j["action"] = rule.redact ? "redact" : "drop";
    if (rule.ignore_case) j["ignore_case"] = true;
    r.push_back(std::move(j));
  }
  Json d = {{"enabled", detectors.enabled},         {"base64_min", detectors.base64_min},
            {"hex_min", detectors.hex_min},         {"numbers_min", detectors.numbers_min},
            {"entropy_min", detectors.entropy_min}, {"entropy_bits", detectors.entropy_bits},
            {"long_line", detectors.long_line}};
  return {{"mode", mode_name(mode)},
          {"rules", r},
          {"detectors", d},
          {"max_line_bytes", max_line_bytes},
          {"rate_bytes_per_s", rate_bytes_per_s},
          {"total_bytes", total_bytes},
          {"keep_raw", keep_raw}};
}

Result<LogPolicy> parse_policy(const Json& body, bool check_patterns) {
  if (!body.is_object()) return Status::invalid_argument("a log policy must be a JSON object");
  JZ_RETURN_IF_ERROR(unknown_fields(
      body, "",
      {"mode", "rules", "detectors", "max_line_bytes", "rate_bytes_per_s", "total_bytes",
       "keep_raw"},
      "use mode, rules, detectors, max_line_bytes, rate_bytes_per_s, total_bytes, keep_raw"));
  LogPolicy p;
  JZ_ASSIGN_OR_RETURN(std::string mode, json::required_string(body, "mode"));
  if (mode == "open") {
    p.mode = LogPolicy::Mode::kOpen;
  } else if (mode == "blacklist") {
    p.mode = LogPolicy::Mode::kBlacklist;
  } else if (mode == "whitelist") {
    p.mode = LogPolicy::Mode::kWhitelist;
  } else {
    return bad("mode", "must be open, blacklist or whitelist (got '" + mode + "')");
  }
  // Detectors are on by default wherever lines are filtered.
  p.detectors.enabled = p.mode != LogPolicy::Mode::kOpen;
  if (body.contains("detectors"))
    JZ_RETURN_IF_ERROR(parse_detectors(body["detectors"], p.detectors));
  if (body.contains("rules")) {
    const Json& rules = body["rules"];
    if (!rules.is_array()) return bad("rules", "must be an array of {name, pattern}");
    if (rules.size() > 1000) return bad("rules", "may hold at most 1000 rules");
    std::set<std::string> names;
    for (size_t i = 0; i < rules.size(); ++i) {
      const Json& r = rules[i];
      const std::string at = "rules[" + std::to_string(i) + "]";
      if (!r.is_object()) return bad(at, "must be an object with name and pattern");
      JZ_RETURN_IF_ERROR(unknown_fields(r, at + ".", {"name", "pattern", "action", "ignore_case"},
                                        "use name, pattern, action, ignore_case"));
      LogRule rule;
      JZ_ASSIGN_OR_RETURN(rule.name, json::required_string(r, "name"));
      if (!valid_name(rule.name)) {
        return bad(at + ".name", "must be 1 to 64 of a-z, 0-9, '_', '.', '-'");
      }
      if (!names.insert(rule.name).second) return bad(at + ".name", "repeats '" + rule.name + "'");
      JZ_ASSIGN_OR_RETURN(rule.pattern, json::required_string(r, "pattern"));
      if (rule.pattern.empty() || rule.pattern.size() > 4096) {
        return bad(at + ".pattern", "must be 1 to 4096 characters");
      }
      if (rule.pattern.find('\0') != std::string::npos) {
        return bad(at + ".pattern", "must not contain a NUL byte (write \\x00)");
      }
      JZ_ASSIGN_OR_RETURN(auto action, json::optional_string(r, "action"));
      if (action) {
        if (p.mode != LogPolicy::Mode::kBlacklist) {
          return bad(at + ".action", "applies to blacklist rules only");
        }
        if (*action != "drop" && *action != "redact") {
          return bad(at + ".action", "must be drop or redact");
        }
        rule.redact = *action == "redact";
      }
      JZ_ASSIGN_OR_RETURN(auto icase, json::optional_bool(r, "ignore_case"));
      rule.ignore_case = icase.value_or(false);
      p.rules.push_back(std::move(rule));
    }
  }
  if (p.mode == LogPolicy::Mode::kOpen && !p.rules.empty()) {
    return bad("rules", "must be empty in open mode (use blacklist or whitelist)");
  }
  JZ_ASSIGN_OR_RETURN(int64_t max_line,
                      int_in(body, "", "max_line_bytes", 256, 1 << 20, p.max_line_bytes));
  p.max_line_bytes = static_cast<int>(max_line);
  JZ_ASSIGN_OR_RETURN(p.rate_bytes_per_s,
                      int_in(body, "", "rate_bytes_per_s", 0, int64_t{1} << 40, 0));
  if (p.rate_bytes_per_s > 0 && p.rate_bytes_per_s < 1024) {
    return bad("rate_bytes_per_s", "must be 0 (unlimited) or at least 1024");
  }
  JZ_ASSIGN_OR_RETURN(p.total_bytes, int_in(body, "", "total_bytes", 0, int64_t{1} << 50, 0));
  JZ_ASSIGN_OR_RETURN(auto raw, json::optional_bool(body, "keep_raw"));
  p.keep_raw = raw.value_or(false);
  if (p.detectors.enabled && p.detectors.long_line > p.max_line_bytes) {
    return bad("detectors.long_line", "must not exceed max_line_bytes (" +
                                          std::to_string(p.max_line_bytes) +
                                          "): lines are cut there");
  }
  if (check_patterns) JZ_RETURN_IF_ERROR(compile_check(p));
  return p;
}

namespace {
// The metric names the built-in secret whitelist lets through.
constexpr const char* kMetricNames =
    "epoch|step|iter|batch|loss|acc|accuracy|lr|top1|top5|map|map50|map75|precision|recall|f1|"
    "iou|miou|auc|time|eta|fps|speed|grad_norm|val_loss|val_acc|train_loss|train_acc|wer|cer|"
    "bleu|psnr|ssim|dice|mae|mse|rmse";
}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::string_view all = kMetricNames;
    while (!all.empty()) {
      const size_t bar = all.find('|');
      out.emplace_back(all.substr(0, bar));
      all = bar == std::string_view::npos ? std::string_view() : all.substr(bar + 1);
    }
    return out;
  }();
  return names;
}

LogPolicy default_policy(const std::string& level) {
  LogPolicy p;
  if (level == "internal") {
    p.mode = LogPolicy::Mode::kBlacklist;
    p.detectors.enabled = true;
    p.detectors.long_line = 4096;
    p.total_bytes = int64_t{1} << 30;
  } else if (level == "secret") {
    p.mode = LogPolicy::Mode::kWhitelist;
    p.detectors.enabled = true;
    p.detectors.long_line = 512;
    p.max_line_bytes = 4096;
    // Progress lines are short and few: 4 KiB/s is a hundred a second. The caps are
    // what bound the numbers' channel (docs/SECURITY.md, leak budgets).
    p.total_bytes = int64_t{4} << 20;
    p.rate_bytes_per_s = 4 << 10;
    // Progress lines with at most eight named numbers, and a job's lifecycle. Names come
    // from a vocabulary and numbers have bounded digits, separators are fixed: what a line
    // can carry is the choice among these lines, counted in docs/SECURITY.md (the leak
    // budget; logs/capacity.h). Free names ([a-z_]+) carried 48 bytes of a file a line.
    p.rules = {
        {"progress",
         std::string(R"(^(epoch|step|iter|iteration|batch)( |=|: ?)\d{1,7}(/\d{1,7})?)") +
             R"(((, ?| \| | )()" + kMetricNames +
             R"()(=|: ?| )-?\d{1,7}(\.\d{1,6})?(e[-+]?\d{1,2})?%?){0,8}$)",
         false, true},
        {"lifecycle", R"(^(training|evaluation|validation|testing) (started|finished|done)\.?$)",
         false, true},
    };
  }
  return p;
}

}  // namespace jz::logs
