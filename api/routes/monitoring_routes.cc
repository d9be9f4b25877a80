// Monitoring: the GPUs' series for the dashboard (every node and GPU: utilisation,
// memory, temperature, power) and one job's resources (its GPUs' use, CPU, memory), from
// the embedded time-series store the server fills from the node agent
// (platform/monitor/monitor.h). docs/MONITORING.md.
#include <algorithm>
#include <cmath>

#include "api/schema.h"
#include "api/services.h"
#include "core/clock.h"
#include "core/text.h"
#include "metrics/tsdb.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/metering.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"
#include "platform/monitor/monitor.h"

namespace jz::api {

namespace sc = schema;

namespace {

constexpr int64_t kMaxPoints = 11000;  // per series, as Prometheus's query_range

struct Range {
  int64_t start_ms = 0, end_ms = 0, step_ms = 0;
  metrics::Aggregation agg = metrics::Aggregation::kAvg;
};

// range (a duration back from end, default 1h), end (RFC 3339, default now), step (a
// duration, default range / 240, at least 1 s), agg (avg, min, max).
Result<Range> range_of(const RequestContext& ctx, Clock& clock) {
  Range r;
  JZ_ASSIGN_OR_RETURN(auto end_us, ctx.time_param("end"));
  r.end_ms = end_us ? *end_us / 1000 : clock.now_unix_ms();
  int64_t span_ms = 3'600'000;
  if (const std::string t = ctx.http.param("range"); !t.empty()) {
    JZ_ASSIGN_OR_RETURN(auto d, parse_duration(t));
    span_ms = d.count();
  }
  r.start_ms = r.end_ms - span_ms;
  r.step_ms = std::max<int64_t>(1000, span_ms / 240 / 1000 * 1000);
  if (const std::string t = ctx.http.param("step"); !t.empty()) {
    JZ_ASSIGN_OR_RETURN(auto d, parse_duration(t));
    r.step_ms = d.count();
  }
  if (r.step_ms < 1000 || r.step_ms % 1000 != 0) {
    return Status::invalid_argument("query parameter 'step' must be a whole number of seconds");
  }
  if (span_ms / r.step_ms > kMaxPoints) {
    return Status::invalid_argument(
        "range / step gives more than 11000 points a series: raise 'step' or shorten 'range'");
  }
  JZ_ASSIGN_OR_RETURN(r.agg, metrics::parse_aggregation(ctx.http.param("agg")));
  return r;
}

Json series_json(const monitor::QuerySeries& s, const std::vector<std::string>& keep_labels) {
  Json labels = Json::object();
  for (const auto& k : keep_labels) {
    if (auto it = s.labels.find(k); it != s.labels.end()) labels[k] = it->second;
  }
  Json points = Json::array();
  for (const auto& p : s.points) points.push_back({p.t_ms, p.value});
  return {{"labels", std::move(labels)}, {"points", std::move(points)}};
}

Json range_json(const Range& r) {
  return {
      {"start", wire_time(r.start_ms)}, {"end", wire_time(r.end_ms)}, {"step_s", r.step_ms / 1000}};
}

// Rounds a job's use for those who may not see its data: few levels a minute bound what
// it can signal (docs/SECURITY.md).
double coarse_value(const std::string& metric, double v) {
  if (metric == "jizhan_job_gpu_util") return std::round(v / 10) * 10;
  if (metric == "jizhan_job_gpu_memory_used_mib") return std::round(v / 1024) * 1024;
  if (metric == "jizhan_job_cpu_cores") return std::round(v * 2) / 2;
  return std::round(v / double(int64_t{1} << 30)) * double(int64_t{1} << 30);  // memory bytes
}

// Whether a job read internal or secret data (a dataset no longer there counts as
// secret): its use could carry what it read.
bool reads_guarded_data(const ApiServices& s, const std::string& project_id, const jobs::Job& j) {
  if (!s.platform.datasets) return false;
  for (const auto& name : j.spec.datasets) {
    auto d = s.platform.datasets->get(project_id, name);
    if (!d.ok() || jobs::security_rank(d->security_level) >= 1) return true;
  }
  return false;
}

// The step of series shown coarsely: whole minutes, at least one.
int64_t coarse_step(int64_t step_ms) {
  return std::max<int64_t>(60'000, (step_ms + 59'999) / 60'000 * 60'000);
}

Result<monitor::Monitor*> monitor_of(monitor::Monitor* m) {
  if (!m) {
    return Status::failed_precondition(
        "this server keeps no GPU metrics (monitoring.agent=false, or jobs are off)");
  }
  return m;
}

// "2026-12-01" (midnight UTC) or an RFC 3339 time, in Unix ms.
Result<int64_t> day_or_time(const std::string& name, const std::string& text) {
  const bool date_only = text.size() == 10 && text.find('T') == std::string::npos;
  auto t = parse_rfc3339(date_only ? text + "T00:00:00Z" : text);
  if (!t.ok()) {
    return Status::invalid_argument(
        "query parameter '" + name +
        "' must be a day (2026-12-01) or an RFC 3339 time: " + t.status().message());
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

const std::vector<QueryParam> kRangeQuery = {
    {"range", "How far back from end: a duration (default 1h)"},
    {"end", "The end, RFC 3339 (default now)", "date-time"},
    {"step", "Seconds between points: a duration (default range / 240, at least 1s)"},
    {"agg", "Within each step: avg (default), min or max"}};

}  // namespace

void add_monitoring_routes(ApiRoutes& api, const ApiServices& s) {
  monitor::Monitor* mon = s.platform.monitor;
  jobs::JobStore* store = s.platform.jobs;
  const Json series_schema = sc::object(
      {{"start", sc::time()},
       {"end", sc::time()},
       {"step_s", sc::integer()},
       {"metric", sc::str()},
       {"coarse", sc::str("why the series are per minute and rounded, when they are")},
       {"source", sc::one_of_strings({"embedded", "prometheus"}, "where the series come from")},
       {"series", sc::array_of(sc::object({{"metric", sc::str()},
                                           {"labels", {{"type", "object"}}},
                                           {"points", sc::array_of(sc::array_of(sc::number()))}},
                                          {"labels", "points"}))}},
      {"start", "end", "step_s", "series"});
  Json job_schema = series_schema;
  job_schema["properties"]["gpu_limits"] =
      sc::object({{"share", {{"type", "boolean"}}},
                  {"gpus", sc::integer()},
                  {"memory_mib", sc::integer("what the job may allocate on each GPU")},
                  {"cores_percent", sc::integer("its share of each GPU's cores")}},
                 {"share", "cores_percent"});
  std::vector<QueryParam> gpu_query = kRangeQuery;
  gpu_query.insert(gpu_query.begin(), {"metric",
                                       "utilization (default), memory, memory_copy, temperature, "
                                       "power or sm_clock"});
  api.add({
      {.method = "GET",
       .path = "/api/v1/monitoring/gpus",
       .summary = "Every GPU's series of one metric over a range (the GPU dashboard); points "
                  "are [unix ms, value]",
       .response_schema = series_schema,
       .query = gpu_query,
       .errors = {409},
       .handler = [&s, mon](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(monitor::Monitor * m, monitor_of(mon));
         JZ_ASSIGN_OR_RETURN(Range r, range_of(ctx, s.clock));
         static const std::map<std::string, std::string> kMetrics = {
             {"utilization", "DCGM_FI_DEV_GPU_UTIL"},      {"memory", "DCGM_FI_DEV_FB_USED"},
             {"memory_copy", "DCGM_FI_DEV_MEM_COPY_UTIL"}, {"temperature", "DCGM_FI_DEV_GPU_TEMP"},
             {"power", "DCGM_FI_DEV_POWER_USAGE"},         {"sm_clock", "DCGM_FI_DEV_SM_CLOCK"}};
         std::string metric = ctx.http.param("metric");
         if (metric.empty()) metric = "utilization";
         auto it = kMetrics.find(metric);
         if (it == kMetrics.end()) {
           return Status::invalid_argument(
               "metric must be utilization, memory, memory_copy, temperature, power or "
               "sm_clock, not '" +
               metric + "'");
         }
         JZ_ASSIGN_OR_RETURN(auto found,
                             m->query(it->second, {}, r.start_ms, r.end_ms, r.step_ms, r.agg));
         auto key = [](const monitor::QuerySeries& x) {
           auto get = [&](const char* k) {
             auto f = x.labels.find(k);
             return f == x.labels.end() ? std::string() : f->second;
           };
           return std::make_pair(get("Hostname"), parse_int64(get("gpu")).value_or(0));
         };
         std::sort(found.begin(), found.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
         Json series = Json::array();
         for (const auto& f : found) series.push_back(series_json(f, {"Hostname", "gpu", "UUID"}));
         Json out = range_json(r);
         out["source"] = m->source();
         out["metric"] = metric;
         out["series"] = std::move(series);
         return Reply::json(std::move(out));
       }},
  });
  if (s.platform.metering) {
    jobs::Metering* metering = s.platform.metering;
    api.add({
        {.method = "GET",
         .path = "/api/v1/usage",
         .summary = "Usage (GPU-, GPU-memory-, CPU- and memory-hours, cost) of the projects the "
                    "caller sees, grouped by job, user, project, workspace, day or pool; "
                    "format=csv for a file",
         .response_schema = sc::object({{"from", sc::time()},
                                        {"to", sc::time()},
                                        {"by", sc::array_of(sc::str())},
                                        {"currency", sc::str()},
                                        {"rows", sc::array_of({{"type", "object"}})},
                                        {"total", {{"type", "object"}}}},
                                       {"from", "to", "by", "rows", "total"}),
         .query = {{"from", "The first day (2026-12-01) or time; default 30 days before to"},
                   {"to", "The day after the last (exclusive) or a time; default tomorrow"},
                   {"by", "Comma-separated: job, user, project (default), workspace, day, pool"},
                   {"project", "Only this project"},
                   {"workspace", "Only this workspace's projects"},
                   {"user", "Only this user's jobs"},
                   {"format", "json (default) or csv"}},
         .handler = [&s, metering](RequestContext& ctx) -> Result<Reply> {
           const int64_t now = s.clock.now_unix_ms();
           constexpr int64_t kDay = 86'400'000;
           jobs::UsageQuery q;
           q.to_ms = now / kDay * kDay + kDay;
           if (const std::string t = ctx.http.param("to"); !t.empty()) {
             JZ_ASSIGN_OR_RETURN(q.to_ms, day_or_time("to", t));
           }
           q.from_ms = q.to_ms - 30 * kDay;
           if (const std::string f = ctx.http.param("from"); !f.empty()) {
             JZ_ASSIGN_OR_RETURN(q.from_ms, day_or_time("from", f));
           }
           if (q.to_ms <= q.from_ms || q.to_ms - q.from_ms > 3660 * kDay) {
             return Status::invalid_argument("'from' must come before 'to', at most ten years");
           }
           std::string by = ctx.http.param("by");
           if (by.empty()) by = "project";
           for (size_t at = 0; at <= by.size();) {
             const size_t comma = std::min(by.find(',', at), by.size());
             if (comma > at) q.by.push_back(by.substr(at, comma - at));
             at = comma + 1;
           }
           q.user = ctx.http.param("user");
           const std::string only_project = ctx.http.param("project");
           const std::string only_workspace = ctx.http.param("workspace");
           JobVisibility vis(s, ctx.me());
           JZ_ASSIGN_OR_RETURN(auto projects, s.tenancy.all_projects());
           for (const auto& p : projects) {
             if (!only_project.empty() && p.name != only_project) continue;
             if (!only_workspace.empty() && p.workspace != only_workspace) continue;
             if (ctx.me().is_platform_admin() || vis.sees(p.name)) q.project_ids.insert(p.id);
           }
           JZ_ASSIGN_OR_RETURN(auto report, metering->usage(q));
           if (ctx.http.param("format") == "csv") {
             return Reply::text(jobs::usage_csv(q.by, report.rows), "text/csv; charset=utf-8");
           }
           Json rows = Json::array();
           for (const auto& r : report.rows) {
             Json row = r.totals.to_json();
             for (const auto& [k, v] : r.key) row[k] = v;
             rows.push_back(std::move(row));
           }
           return Reply::json({{"from", wire_time(q.from_ms)},
                               {"to", wire_time(q.to_ms)},
                               {"by", q.by},
                               {"currency", metering->prices().currency},
                               {"rows", std::move(rows)},
                               {"total", report.total.to_json()}});
         }},
    });
  }
  if (!store) return;
  api.add({
      {.method = "GET",
       .path = "/api/v1/projects/{project}/resources",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "list",
       .summary = "A project's measured GPU use over a range, its jobs' series summed by user "
                  "(or by job): GPU utilisation (percent of one GPU) and GPU memory; points "
                  "are [unix ms, value]",
       .response_schema = series_schema,
       .query =
           [] {
             auto q = kRangeQuery;
             q.push_back({"by", "user (default) or job"});
             return q;
           }(),
       .errors = {409},
       .handler = [&s, mon, store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(monitor::Monitor * m, monitor_of(mon));
         JZ_ASSIGN_OR_RETURN(Range r, range_of(ctx, s.clock));
         std::string by = ctx.http.param("by");
         if (by.empty()) by = "user";
         if (by != "user" && by != "job") {
           return Status::invalid_argument("by must be user or job, not '" + by + "'");
         }
         // Jobs that read internal or secret data could signal through the sum as through
         // their own series: then the same minutes and rounding, for all but data owners.
         const bool owner = ctx.allow("dataset_data", "get").ok();
         bool coarse = false;
         std::map<std::string, bool> job_coarse;
         auto is_coarse = [&](const std::string& job_id) {
           auto it = job_coarse.find(job_id);
           if (it != job_coarse.end()) return it->second;
           auto j = store->get_in(ctx.project->id, job_id);
           return job_coarse[job_id] = j.ok() && reads_guarded_data(s, ctx.project->id, *j);
         };
         const metrics::Labels match = {{"project", ctx.project->name}};
         std::vector<std::pair<std::string, std::vector<monitor::QuerySeries>>> found;
         for (const char* metric : {"jizhan_job_gpu_util", "jizhan_job_gpu_memory_used_mib"}) {
           JZ_ASSIGN_OR_RETURN(auto f,
                               m->query(metric, match, r.start_ms, r.end_ms, r.step_ms, r.agg));
           for (const auto& q : f) {
             auto job = q.labels.find("job");
             if (!owner && job != q.labels.end() && is_coarse(job->second)) coarse = true;
           }
           found.emplace_back(metric, std::move(f));
         }
         if (coarse) {
           r.step_ms = coarse_step(r.step_ms);
           found.clear();
           for (const char* metric : {"jizhan_job_gpu_util", "jizhan_job_gpu_memory_used_mib"}) {
             JZ_ASSIGN_OR_RETURN(auto f,
                                 m->query(metric, match, r.start_ms, r.end_ms, r.step_ms, r.agg));
             found.emplace_back(metric, std::move(f));
           }
         }
         Json series = Json::array();
         for (const auto& [metric, list] : found) {
           std::map<std::string, std::map<int64_t, double>> sums;  // by user or job
           for (const auto& q : list) {
             auto key = q.labels.find(by);
             auto& sum = sums[key == q.labels.end() ? "" : key->second];
             for (const auto& p : q.points) sum[p.t_ms] += p.value;
           }
           for (const auto& [key, points] : sums) {
             Json pts = Json::array();
             for (const auto& [t, v] : points) {
               pts.push_back({t, coarse ? coarse_value(metric, v) : v});
             }
             series.push_back(
                 {{"metric", metric}, {"labels", {{by, key}}}, {"points", std::move(pts)}});
           }
         }
         Json out = range_json(r);
         out["source"] = m->source();
         out["series"] = std::move(series);
         if (coarse) {
           out["coarse"] =
               "a job of the project read internal or secret data: the project's use is shown "
               "per minute and rounded to all but the data's owners";
         }
         return Reply::json(std::move(out));
       }},
  });
  api.add({
      {.method = "GET",
       .path = "/api/v1/projects/{project}/jobs/{id}/resources",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "A job's resources over a range: its GPUs' utilisation and memory (per GPU), "
                  "CPU cores and memory; points are [unix ms, value]",
       .response_schema = job_schema,
       .query = kRangeQuery,
       .errors = {409},
       .handler = [&s, mon, store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto j, store->get_in(ctx.project->id, ctx.param("id")));
         JZ_ASSIGN_OR_RETURN(monitor::Monitor * m, monitor_of(mon));
         JZ_ASSIGN_OR_RETURN(Range r, range_of(ctx, s.clock));
         // A job on internal or secret data could signal through its resource use: to
         // anyone but its data's owners, its series come in minutes and coarse steps.
         const bool coarse =
             reads_guarded_data(s, ctx.project->id, j) && !ctx.allow("dataset_data", "get").ok();
         if (coarse) r.step_ms = coarse_step(r.step_ms);
         // A job's series carry its id and project (labels.json, written by the
         // executor where the job cannot reach): both must match.
         const metrics::Labels match = {{"job", j.id}, {"project", ctx.project->name}};
         Json series = Json::array();
         for (const char* metric : {"jizhan_job_gpu_util", "jizhan_job_gpu_memory_used_mib",
                                    "jizhan_job_cpu_cores", "jizhan_job_memory_bytes"}) {
           JZ_ASSIGN_OR_RETURN(auto found,
                               m->query(metric, match, r.start_ms, r.end_ms, r.step_ms, r.agg));
           for (const auto& f : found) {
             Json one = series_json(f, {"Hostname", "gpu", "UUID", "run"});
             one["metric"] = metric;
             if (coarse) {
               for (Json& p : one["points"]) p[1] = coarse_value(metric, p[1].get<double>());
             }
             series.push_back(std::move(one));
           }
         }
         Json out = range_json(r);
         out["source"] = m->source();
         out["series"] = std::move(series);
         if (s.platform.runner) {
           if (Json limits = s.platform.runner->gpu_limits(j); !limits.is_null()) {
             out["gpu_limits"] = std::move(limits);
           }
         }
         if (coarse) {
           out["coarse"] =
               "the job read internal or secret data: its use is shown per minute and rounded "
               "(GPU use to 10 points, memory to 1 GiB, CPU to half a core) to all but the "
               "data's owners";
         }
         return Reply::json(std::move(out));
       }},
  });
}

}  // namespace jz::api
