// Training runs: what training code reports (records in), runs, tags, notes and series out
// (docs/TRAINING.md).
#include <cctype>
#include <cmath>

#include "api/schema.h"
#include "api/services.h"
#include "platform/training/runs.h"
#include "training/tensorboard.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<training::RunService*> runs_of(const ApiServices& s) {
  if (!s.platform.runs)
    return Status::unavailable("training runs are not available on this server");
  return s.platform.runs;
}

Status check_run_name(const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 100 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return Status::invalid_argument(
        "field 'name': a run name has 1 to 100 letters, digits, '.', "
        "'_' or '-', starting with a letter or digit");
  }
  return {};
}

// The series query of a request: x, from, to, points, grid.
Result<training::SeriesQuery> series_query(const RequestContext& ctx) {
  training::SeriesQuery q;
  const std::string x = ctx.http.param("x");
  if (x.rfind("tag:", 0) == 0) {
    q.x_tag = x.substr(4);
    JZ_RETURN_IF_ERROR(training::check_tag(q.x_tag));
  } else {
    JZ_ASSIGN_OR_RETURN(q.x, training::parse_axis(x));
  }
  for (auto [name, slot] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    if (!ctx.http.has_param(name)) continue;
    const std::string text = ctx.http.param(name);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
      return Status::invalid_argument(std::string("query parameter '") + name +
                                      "' must be a number on the x axis (a step, or seconds)");
    }
    *slot = v;
  }
  JZ_ASSIGN_OR_RETURN(q.points, ctx.int_param("points", 2, 100000, 1000));
  q.grid = ctx.http.param("grid") == "true";
  if (ctx.http.has_param("smoothing")) {
    const std::string text = ctx.http.param("smoothing");
    char* end = nullptr;
    q.smoothing = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(q.smoothing >= 0) ||
        !(q.smoothing < 1)) {
      return Status::invalid_argument(
          "query parameter 'smoothing' must be a number from 0 (none) to below 1 (0.6 is "
          "TensorBoard's default)");
    }
    if (q.grid && q.smoothing > 0) {
      return Status::invalid_argument("smoothing applies to curves, not to grid=true buckets");
    }
  }
  if (q.grid && !q.x_tag.empty()) {
    return Status::invalid_argument("grid=true buckets an axis of time or steps, not another tag");
  }
  return q;
}

Json series_json(const std::string& run, const training::Series& s, bool grid, bool smoothed) {
  Json points = Json::array();
  for (const auto& p : s.points) {
    Json j = {{"x", p.x},
              {"step", p.step},
              {"time", p.wall_us / 1000},
              {"value", training::value_json(p.value)}};
    if (smoothed) j["smoothed"] = training::value_json(p.smoothed);
    if (grid) {
      j["min"] = training::value_json(p.min);
      j["max"] = training::value_json(p.max);
      j["count"] = p.count;
    }
    points.push_back(std::move(j));
  }
  return {{"run", run},           {"tag", s.tag},    {"total", s.total}, {"in_range", s.in_range},
          {"reduced", s.reduced}, {"points", points}};
}

const std::vector<QueryParam> kSeriesQuery = {
    {"tag", "The tag (such as train/loss)"},
    {"x",
     "The x axis: step (default), wall (seconds since the epoch), relative (seconds "
     "since the series' first point), or tag:NAME (another tag's value as of each step)"},
    {"from", "The start of the range on the x axis (default: the first point)"},
    {"to", "The end of the range on the x axis, included (default: the last point)"},
    {"points",
     "At most this many points, 2 to 100000 (default 1000): more are reduced by "
     "min/max-preserving LTTB",
     "integer"},
    {"grid",
     "true: POINTS buckets of equal width over [from, to] instead, each the mean, least and "
     "greatest value (the same x positions for every run given the same range)"},
    {"smoothing",
     "0 to below 1: each point also carries `smoothed`, the debiased moving average at it "
     "over the whole series (TensorBoard's smoothing; the same whatever the range or points)",
     "number"}};

}  // namespace

void add_training_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string pr = "/api/v1/projects/{project}";
  const std::string rp = pr + "/runs/{run}";
  api.add({
      {.method = "GET",
       .path = pr + "/runs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "The project's training runs, newest first",
       .response_schema = sc::list_of("TrainingRun"),
       .paging = Paging::kKeyset,
       .query = {{"job", "Only the runs of this job (job_...)"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.runs) return Reply::page(Json::array(), "");  // none kept here
         JZ_ASSIGN_OR_RETURN(auto page, s.platform.runs->list(ctx.project->id, ctx.page_spec(),
                                                              ctx.http.param("job")));
         return Reply::page(page, [](const training::Run& r) { return r.to_json(); });
       }},
      {.method = "POST",
       .path = pr + "/runs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "create",
       .summary = "Start a training run of your own (to log to from outside a job)",
       .body_schema = sc::object(
           {{"name", sc::str("1 to 100 letters, digits, '.', '_' or '-'; default run-N")},
            {"config", {{"type", "object"}}}}),
       .response_schema = sc::ref("TrainingRun"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         const std::string name = ctx.body.value("name", "");
         if (!name.empty()) JZ_RETURN_IF_ERROR(check_run_name(name));
         std::vector<training::Record> config;
         if (ctx.body.contains("config")) {
           JZ_ASSIGN_OR_RETURN(auto r, training::parse_record(
                                           {{"kind", "config"}, {"values", ctx.body["config"]}}));
           config.push_back(std::move(r));
         }
         JZ_ASSIGN_OR_RETURN(auto run, runs->create(ctx.project->id, name, ctx.me().user_id));
         if (!config.empty()) JZ_RETURN_IF_ERROR(runs->ingest(run, config).status());
         JZ_ASSIGN_OR_RETURN(run, runs->get(ctx.project->id, run.name));
         ctx.audit.name = run.name;
         return Reply::json(run.to_json(), 201);
       }},
      {.method = "GET",
       .path = rp,
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "A training run: configuration, progress, last values, tags and notes",
       .response_schema = sc::ref("TrainingRun"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         JZ_ASSIGN_OR_RETURN(auto run, runs->get(ctx.project->id, ctx.param("run")));
         Json j = run.to_json();
         JZ_ASSIGN_OR_RETURN(auto tags, runs->tags(run));
         j["tags"] = tags;
         JZ_ASSIGN_OR_RETURN(auto notes, runs->notes(run));
         Json n = Json::array();
         for (const auto& x : notes) {
           n.push_back(
               {{"time", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(x.time_ms)))},
                {"text", x.text}});
         }
         j["notes"] = n;
         return Reply::json(j);
       }},
      {.method = "POST",
       .path = rp + "/records",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "create",
       .summary = "Log to your run: metrics, configuration, notes, progress, its end "
                  "({\"records\": [...]} or one record per line as application/x-ndjson)",
       .body_schema = sc::object({{"records", sc::array_of({{"type", "object"}})}}, {"records"}),
       .response_schema = sc::object(
           {{"points", sc::integer("Points stored")}, {"tags", sc::integer("The run's tags")}},
           {"points", "tags"}),
       .success = 200,
       .errors = {409, 413, 429},
       .raw_body = true,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         // The body first: what is wrong with it is said whatever the run.
         std::vector<training::Record> records;
         const std::string type = ctx.http.header("Content-Type");
         if (type.rfind("application/x-ndjson", 0) == 0) {
           JZ_ASSIGN_OR_RETURN(records, training::parse_lines(ctx.http.body));
         } else {
           JZ_ASSIGN_OR_RETURN(Json body, json::parse(ctx.http.body, "the request body"));
           if (!body.is_object() || !body.contains("records") || !body["records"].is_array()) {
             return Status::invalid_argument(
                 "field 'records' is required: the body is {\"records\": [...]} (or records "
                 "one per line as application/x-ndjson)");
           }
           size_t i = 0;
           for (const Json& r : body["records"]) {
             auto rec = training::parse_record(r);
             if (!rec.ok()) {
               return Status::invalid_argument("records[" + std::to_string(i) +
                                               "]: " + std::string(rec.status().message()));
             }
             records.push_back(std::move(*rec));
             ++i;
           }
         }
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         JZ_ASSIGN_OR_RETURN(auto run, runs->get(ctx.project->id, ctx.param("run")));
         if (run.owner_id != ctx.me().user_id) {
           return Status::permission_denied("run '" + run.name + "' is " + run.owner +
                                            "'s: only its owner logs to it");
         }
         JZ_ASSIGN_OR_RETURN(auto out, runs->ingest(run, records));
         ctx.audit.name = run.name;
         return Reply::json({{"points", out.points}, {"tags", out.tags}});
       }},
      {.method = "GET",
       .path = rp + "/series",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "One tag's curve of a run: a range on an axis, at most so many points",
       .response_schema = sc::ref("Series"),
       .query = kSeriesQuery,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         JZ_ASSIGN_OR_RETURN(auto run, runs->get(ctx.project->id, ctx.param("run")));
         JZ_ASSIGN_OR_RETURN(auto q, series_query(ctx));
         const std::string tag = ctx.http.param("tag");
         JZ_RETURN_IF_ERROR(training::check_tag(tag));
         JZ_ASSIGN_OR_RETURN(auto series, runs->series(run, tag, q));
         return Reply::json(series_json(run.name, series, q.grid, q.smoothing > 0));
       }},
      {.method = "GET",
       .path = rp + "/tensorboard",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "The run as a TensorBoard event file (every point a scalar; at most "
                  "1,000,000 points): `jizhan metrics export-tb` writes it into a log "
                  "folder",
       .errors = {429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         JZ_ASSIGN_OR_RETURN(auto run, runs->get(ctx.project->id, ctx.param("run")));
         JZ_ASSIGN_OR_RETURN(std::string file,
                             training::run_event_file(runs->dir_of(run), 1'000'000));
         Reply r = Reply::text(std::move(file), "application/octet-stream");
         r.headers.set("Content-Disposition",
                       "attachment; filename=\"" +
                           training::event_file_name(run.created_at_ms / 1000, "jizhan") + "\"");
         return r;
       }},
      {.method = "GET",
       .path = pr + "/series",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "One tag's curves of several runs at once (to compare them)",
       .response_schema = sc::object({{"series", sc::array_of(sc::ref("Series"))}}, {"series"}),
       .query =
           [] {
             auto q = kSeriesQuery;
             q.push_back({"runs", "The runs, comma-separated (at most 50)"});
             return q;
           }(),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* runs, runs_of(s));
         JZ_ASSIGN_OR_RETURN(auto q, series_query(ctx));
         const std::string tag = ctx.http.param("tag");
         JZ_RETURN_IF_ERROR(training::check_tag(tag));
         std::vector<std::string> names;
         const std::string list = ctx.http.param("runs");
         for (size_t at = 0; at < list.size();) {
           size_t comma = list.find(',', at);
           if (comma == std::string::npos) comma = list.size();
           if (comma > at) names.push_back(list.substr(at, comma - at));
           at = comma + 1;
         }
         if (names.empty() || names.size() > 50) {
           return Status::invalid_argument("query parameter 'runs' must name 1 to 50 runs");
         }
         Json out = Json::array();
         for (const auto& name : names) {
           JZ_ASSIGN_OR_RETURN(auto run, runs->get(ctx.project->id, name));
           auto series = runs->series(run, tag, q);
           if (!series.ok() && series.status().code() == Code::kNotFound) {
             out.push_back(series_json(run.name, training::Series{.tag = tag}, q.grid, false));
             continue;
           }
           JZ_RETURN_IF_ERROR(series.status());
           out.push_back(series_json(run.name, *series, q.grid, q.smoothing > 0));
         }
         return Reply::json({{"series", out}});
       }},
  });
}

}  // namespace jz::api
