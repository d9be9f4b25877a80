// What an evaluation's report is made of, apart from the service that runs it: pass
// thresholds over its metrics, the performance summary `jizhan algo run --summary` wrote,
// and the report each reader may see (docs/AUTOTEST.md).
//
// Pure functions: no files, no database.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::autotest {

// A suite's or a competition's name: 1 to 64 of a-z, 0-9, '_' and '-', starting with a
// letter or digit.
bool valid_name(const std::string& name);
// A dotted name split at its dots ("variables.age.mae": variables, age, mae); parts may be
// empty ("a..b").
std::vector<std::string> split_dotted(std::string_view dotted);

// A pass threshold: NAME OP NUMBER, such as "mAP >= 0.6" or "p99_latency_ms <= 50".
// NAME is a dotted path into the evaluation's metrics ("variables.age.mae"); OP one of
// >=, >, <=, <, ==.
struct Threshold {
  std::string text;  // as normalised: "mAP >= 0.6"
  std::vector<std::string> path;
  std::string op;
  double value = 0;
};
Result<Threshold> parse_threshold(std::string_view text);

struct ThresholdResult {
  std::string threshold;
  std::optional<double> value;  // none: the metric is not in the report
  bool passed = false;
};
std::vector<ThresholdResult> judge(const std::vector<Threshold>& thresholds, const Json& metrics);
Json thresholds_json(const std::vector<ThresholdResult>& results);
// The number at a dotted name in `metrics` ("accuracy", "variables.age.mae"); none when
// absent or not a number.
std::optional<double> metric_value(const Json& metrics, const std::string& dotted);

// The metrics thresholds read: the evaluation engine's (report.json's "metrics") with
// the performance beside them (fps, p50_latency_ms, p90_latency_ms, p99_latency_ms,
// peak_rss_mib, gpu_memory_mib when measured), the per-sample errors (errors,
// error_rate) and `mAP` as the detection metric's headline (COCO's AP, VOC's
// mAP_all_points).
Json threshold_view(const Json& eval_metrics, const Json& performance);

// The performance and error counts of a run from `jizhan algo run --summary`'s JSON,
// checked: the job that wrote it ran the algorithm, so every number is bounded and any
// other key dropped. Errors name the field.
struct RunSummary {
  int64_t frames = 0, results = 0, errors = 0, restarts = 0;
  Json errors_by_kind = Json::object();  // crashed, timed_out, undecodable, ...: counts
  Json performance = Json::object();     // fps, pNN_latency_ms, max_latency_ms, peak_rss_mib
};
Result<RunSummary> parse_run_summary(std::string_view text);

// What a reader who may not see a hidden suite's samples is shown of its report: the
// metrics (each number to 4 significant digits; per-class tables, confusion matrices and
// per-category scores restricted to the annotations' own labels, whatever the algorithm
// answered pooled as "(other)"), the counts of samples, the task and template name. No
// sample ids, worst samples, inputs (paths, hashes) or outputs.
Json redacted_report(const Json& report);
// Every number in `j` to `digits` significant digits.
Json round_numbers(const Json& j, int digits);

}  // namespace jz::autotest
