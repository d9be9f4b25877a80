
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "core/text.h"
#include "logs/capacity.h"
#include "logs/store.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace sc = schema;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string run_dir(jobs::JobRunner* runner, const jobs::Job& j, int64_t attempt) {
  const std::string run = j.kind == "devenv" ? j.id : j.id + "-" + std::to_string(attempt);
  return runner->executor().job_dir(run);
}

// A time query parameter as a log query wants it: 0 means "open"; a time before 1970
// opens "since" and, for "until", is before the first possible line (1 µs: nothing).
Result<int64_t> log_time(const RequestContext& ctx, const char* name) {
  JZ_ASSIGN_OR_RETURN(auto t, ctx.time_param(name));
  if (!t) return 0;
  return *t > 0 ? *t : std::string_view(name) == "until" ? 1 : 0;
}

// The query parameters of a log read: from, limit, tail, since, until, stream, q, regex.
Result<logs::LogQuery> query_of(const RequestContext& ctx, int64_t default_limit) {
  logs::LogQuery q;
  JZ_ASSIGN_OR_RETURN(q.from_seq, ctx.int_param("from", 1, int64_t{1} << 62, 1));
  JZ_ASSIGN_OR_RETURN(q.limit, ctx.int_param("limit", 1, 100000, default_limit));
  JZ_ASSIGN_OR_RETURN(q.tail, ctx.int_param("tail", 0, 100000, 0));
  JZ_ASSIGN_OR_RETURN(q.since_us, log_time(ctx, "since"));
  JZ_ASSIGN_OR_RETURN(q.until_us, log_time(ctx, "until"));
  // Times are shown to the millisecond: "until" takes in its whole millisecond.
  if (q.until_us > 0) q.until_us += 999;
  if (ctx.http.has_param("stream")) {
    const std::string st = ctx.http.param("stream");
    if (st != "stdout" && st != "stderr") {
      return Status::invalid_argument("query parameter 'stream' must be stdout or stderr");
    }
    q.stream = st == "stderr" ? 1 : 0;
  }
  q.contains = ctx.http.param("q");
  q.regex = ctx.http.param("regex");
  if (q.regex.size() > 1000) {
    return Status::invalid_argument("query parameter 'regex' is longer than 1000 characters");
  }
  JZ_RETURN_IF_ERROR(logs::check_query(q));
  return q;
}

Json stats_of(const std::string& dir) {
  auto text = read_file(dir + "/logs/stats.json");
  if (!text.ok()) return nullptr;
  auto j = json::parse(*text, "stats.json");
  return j.ok() ? *j : Json(nullptr);
}

// What a job can say through the lines a policy lets pass (logs/capacity.h), for data
// owners to see before they rely on it. Measured once per distinct policy (a few hundred
// milliseconds for the built-in secret whitelist).
Json leak_budget(const logs::LogPolicy& policy) {
  if (policy.mode == logs::LogPolicy::Mode::kOpen) {
    return {{"bounded", false}, {"why", "an open policy passes every line"}};
  }
  if (policy.mode == logs::LogPolicy::Mode::kBlacklist) {
    return {
        {"bounded", false},
        {"why", "a blacklist passes any line it does not recognise: only the caps bound it"},
        {"total_bits", policy.total_bytes > 0 ? Json(8.0 * policy.total_bytes) : Json(nullptr)}};
  }
  static std::mutex mu;
  static std::map<std::string, Json> cache;
  const std::string key = json::dump(policy.to_json());
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  Json out;
  auto c = logs::policy_capacity(policy);
  if (!c.ok()) {
    out = {{"bounded", false}, {"why", c.status().message()}};
  } else {
    out = {{"bounded", true},
           {"bits_per_line", c->bits_per_line},
           {"bits_per_byte", c->bits_per_byte},
           {"bits_per_s", policy.rate_bytes_per_s > 0 ? Json(c->bits_per_s) : Json(nullptr)},
           {"total_bits", policy.total_bytes > 0 ? Json(c->total_bits) : Json(nullptr)}};
  }
  std::lock_guard lock(mu);
  if (cache.size() >= 64) cache.clear();
  cache[key] = out;
  return out;
}

Json policy_json(const std::string& level, const jobs::JobStore::StoredLogPolicy& p) {
  Json j = {{"level", level},
            {"policy", p.policy.to_json()},
            {"edited", p.edited},
            {"leak_budget", leak_budget(p.policy)}};
  if (p.edited) {
    j["updated_by"] = p.updated_by;
    j["updated_at"] = format_rfc3339(Clock::WallTime(std::chrono::milliseconds(p.updated_at_ms)));
  }
  return j;
}

// Live follow (Server-Sent Events): "line" events (id = seq; Last-Event-ID resumes), then
// one "end" event with the stats once the run ended and every line was sent.
class LogFollow : public http::Stream {
 public:
  LogFollow(jobs::JobStore& store, logs::LogQuery q, std::string dir, std::string id,
            std::unique_ptr<Streams::Slot> slot)
      : store_(store),
        q_(std::move(q)),
        dir_(std::move(dir)),
        id_(std::move(id)),
        slot_(std::move(slot)) {}

  Step next(std::string& out) override {
    const Time now = std::chrono::steady_clock::now();
    // Whether the run had ended before this read: then what it reads is all.
    bool ended = exists(dir_ + "/exit.json");
    if (!ended) {
      auto j = store_.get(id_);
      ended = j.ok() && jobs::is_terminal(j->state) && !exists(dir_ + "/shim.json");
    }
    auto page = logs::read_log(dir_ + "/logs", q_);
    if (!page.ok()) return {.done = true};
    for (const auto& r : page->records) {
      out += "id: " + std::to_string(r.seq) + "\nevent: line\ndata: " + json::dump(r.to_json()) +
             "\n\n";
    }
    q_.from_seq = page->next_seq;
    if (page->records.empty() && ended) {
      out += "event: end\ndata: " + json::dump(Json{{"stats", stats_of(dir_)}}) + "\n\n";
      return {.done = true};
    }
    if (!out.empty()) {
      last_write_ = now;
      return {.wake_at = now};  // there may be more at once
    }
    if (now - last_write_ > std::chrono::seconds(15)) {
      out = ": keep-alive\n\n";
      last_write_ = now;
    }
    return {.wake_at = now + std::chrono::milliseconds(200)};
  }

 private:
  jobs::JobStore& store_;
  logs::LogQuery q_;
  std::string dir_, id_;
  std::unique_ptr<Streams::Slot> slot_;
  Time last_write_ = std::chrono::steady_clock::now();
};

// The whole log as a file, 20,000 lines at a time.
class LogDownload : public http::Stream {
 public:
  explicit LogDownload(std::string logs_dir) : logs_dir_(std::move(logs_dir)) {}
  Step next(std::string& out) override {
    logs::LogQuery q;
    q.from_seq = from_;
    q.limit = 20000;
    auto page = logs::read_log(logs_dir_, q);
    if (!page.ok() || page->records.empty()) return {.done = true};
    from_ = page->next_seq;
    out = logs::render_text(page->records);
    return {.wake_at = Time{}};
  }

 private:
  std::string logs_dir_;
  int64_t from_ = 1;
};

}  // namespace

void add_log_routes(ApiRoutes& api, const ApiServices& s) {
  jobs::JobStore& store = *s.platform.jobs;
  jobs::JobRunner* runner = s.platform.runner;
  const std::string pr = "/api/v1/projects/{project}";
  const std::string lv = pr + "/log-policies/{level}";
  const std::string jp = pr + "/jobs/{id}";
  // The job and its run's folder (?attempt=N).
  auto job_dir = [&store, runner](const RequestContext& ctx, jobs::Job& j,
                                  std::string& dir) -> Status {
    JZ_ASSIGN_OR_RETURN(j, store.get_in(ctx.project->id, ctx.param("id")));
    JZ_ASSIGN_OR_RETURN(int64_t attempt, ctx.int_param("attempt", 1, j.attempt, j.attempt));
    if (!runner) return Status::unavailable("no executor runs jobs here");
    dir = run_dir(runner, j, attempt);
    return {};
  };
  const std::vector<QueryParam> attempt = {{"attempt", "An earlier attempt", "integer"}};
  api.add({
      // ---- policies, per security level ----
      {.method = "GET",
       .path = pr + "/log-policies",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The log policy of each security level",
       .response_schema = sc::list_of("LogPolicyEntry"),
       .paging = Paging::kKeyset,
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         std::vector<Json> items;
         for (const char* level : {"internal", "open", "secret"}) {
           JZ_ASSIGN_OR_RETURN(auto lp, store.log_policy(ctx.project->id, level));
           items.push_back(policy_json(level, lp));
         }
         return page_of(ctx, std::move(items), "level");
       }},
      {.method = "GET",
       .path = lv,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The log policy of one level (ETag: its version)",
       .response_schema = sc::ref("LogPolicyEntry"),
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto lp, store.log_policy(ctx.project->id, ctx.param("level")));
         return std::move(Reply::json(policy_json(ctx.param("level"), lp))
                              .with_etag(etag_of(lp.policy.to_json())));
       }},
      {.method = "PUT",
       .path = lv,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Replace a level's log policy (data owners; docs/LOGS.md; If-Match: the ETag "
                  "read)",
       .body_schema = sc::ref("LogPolicy"),
       .response_schema = sc::ref("LogPolicyEntry"),
       .errors = {412},
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         const std::string level = ctx.param("level");
         if (ctx.http.headers.has("If-Match")) {
           JZ_ASSIGN_OR_RETURN(auto current, store.log_policy(ctx.project->id, level));
           JZ_RETURN_IF_ERROR(ctx.check_if_match(etag_of(current.policy.to_json())));
         }
         JZ_ASSIGN_OR_RETURN(auto policy, logs::parse_policy(ctx.body));
         JZ_RETURN_IF_ERROR(store.set_log_policy(ctx.project->id, ctx.project->name, level, policy,
                                                 ctx.me().username));
         JZ_ASSIGN_OR_RETURN(auto lp, store.log_policy(ctx.project->id, level));
         return std::move(
             Reply::json(policy_json(level, lp)).with_etag(etag_of(lp.policy.to_json())));
       }},
      {.method = "DELETE",
       .path = lv,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Back to the built-in policy of the level (data owners)",
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(store.reset_log_policy(ctx.project->id, ctx.project->name,
                                                   ctx.param("level"), ctx.me().username));
         return Reply::no_content();
       }},

      // ---- a job's log ----
      {.method = "GET",
       .path = jp + "/logs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "A job's log as its log policy let it through (text/plain; format=json for "
                  "records; follow=true or Accept: text/event-stream for live follow)",
       .query = {{"attempt", "An earlier attempt", "integer"},
                 {"format", "text (default) or json"},
                 {"from", "The first sequence number", "integer"},
                 {"limit", "At most this many lines", "integer"},
                 {"tail", "The last N lines", "integer"},
                 {"since", "Lines from this time (RFC 3339)", "date-time"},
                 {"until", "Lines until this time (RFC 3339)", "date-time"},
                 {"stream", "stdout or stderr"},
                 {"q", "Lines containing this text"},
                 {"regex", "Lines matching this RE2 expression"},
                 {"follow", "true: Server-Sent Events until the run ends", "boolean"}},
       .errors = {429, 503},
       .handler = [&s, &store, job_dir](RequestContext& ctx) -> Result<Reply> {
         jobs::Job j;
         std::string dir;
         JZ_RETURN_IF_ERROR(job_dir(ctx, j, dir));
         const std::string format =
             ctx.http.has_param("format") ? ctx.http.param("format") : "text";
         if (format != "text" && format != "json") {
           return Status::invalid_argument("query parameter 'format' must be text or json");
         }
         const bool follow =
             ctx.http.param("follow") == "true" ||
             ctx.http.header("Accept").find("text/event-stream") != std::string::npos;
         JZ_ASSIGN_OR_RETURN(auto q, query_of(ctx, follow             ? 1000
                                                   : format == "json" ? 1000
                                                                      : 100000));
         if (!follow) {
           JZ_ASSIGN_OR_RETURN(auto page, logs::read_log(dir + "/logs", q));
           const bool ended = jobs::is_terminal(j.state) || exists(dir + "/exit.json");
           // A log that retention removed says so (logs.retention_days, _mib).
           auto expired = read_file(dir + "/logs-expired.json");
           if (format == "text") {
             Reply r = Reply::text(logs::render_text(page.records), "text/plain; charset=utf-8");
             if (expired.ok()) r.headers.set("X-Jizhan-Log-Expired", *expired);
             r.headers.set("X-Jizhan-Next-Seq", std::to_string(page.next_seq));
             r.headers.set("X-Jizhan-Last-Seq", std::to_string(page.last_seq));
             return r;
           }
           Json items = Json::array();
           for (const auto& r : page.records) items.push_back(r.to_json());
           return Reply::json(
               {{"items", items},
                {"next_seq", page.next_seq},
                {"last_seq", page.last_seq},
                {"complete", ended && page.next_seq > page.last_seq},
                {"stats", stats_of(dir)},
                {"expired",
                 expired.ok() ? json::parse(*expired).value_or(Json(nullptr)) : Json(nullptr)}});
         }
         if (ctx.http.headers.has("Last-Event-ID")) {
           const auto n = parse_int64(ctx.http.header("Last-Event-ID"));
           if (n && *n >= 0) q.from_seq = *n + 1;
         }
         JZ_ASSIGN_OR_RETURN(auto slot,
                             s.streams.open(ctx.me().username, ctx.http.connection_id, "logs"));
         return Reply::streamed(
             std::make_shared<LogFollow>(store, std::move(q), dir, j.id, std::move(slot)),
             "text/event-stream");
       }},
      {.method = "GET",
       .path = jp + "/logs/stats",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "Lines passed and withheld, by reason (counts, never content)",
       .query = attempt,
       .handler = [job_dir](RequestContext& ctx) -> Result<Reply> {
         jobs::Job j;
         std::string dir;
         JZ_RETURN_IF_ERROR(job_dir(ctx, j, dir));
         Json stats = stats_of(dir);
         return Reply::json(
             stats.is_null() ? Json{{"passed_lines", 0}, {"withheld", Json::object()}} : stats);
       }},
      {.method = "GET",
       .path = jp + "/logs/download",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "The whole log as a file",
       .query = attempt,
       .handler = [job_dir](RequestContext& ctx) -> Result<Reply> {
         jobs::Job j;
         std::string dir;
         JZ_RETURN_IF_ERROR(job_dir(ctx, j, dir));
         Reply r = Reply::streamed(std::make_shared<LogDownload>(dir + "/logs"),
                                   "text/plain; charset=utf-8");
         r.headers.set("Content-Disposition", "attachment; filename=\"" + j.id + ".log\"");
         return r;
       }},
      // The unfiltered output, kept only when the dataset's policy says so: data owners alone.
      {.method = "GET",
       .path = jp + "/logs/raw",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "The unfiltered log, when the policy keeps it (data owners)",
       .query = attempt,
       .handler = [job_dir](RequestContext& ctx) -> Result<Reply> {
         jobs::Job j;
         std::string dir;
         JZ_RETURN_IF_ERROR(job_dir(ctx, j, dir));
         if (!exists(dir + "/raw")) {
           return Status::not_found(
               "this run kept no raw log (the policy of its dataset's "
               "level does not keep one)");
         }
         JZ_ASSIGN_OR_RETURN(auto q, query_of(ctx, 100000));
         JZ_ASSIGN_OR_RETURN(auto page, logs::read_log(dir + "/raw", q));
         return Reply::text(logs::render_text(page.records), "text/plain; charset=utf-8");
       }},
      // Search across the project's jobs (each job's latest run, newest jobs first).
      {.method = "GET",
       .path = pr + "/logs/search",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "list",
       .summary = "Search the logs of the project's jobs (latest run of each, newest jobs first)",
       .query = {{"q", "A substring"},
                 {"regex", "An RE2 expression"},
                 {"limit", "At most this many lines", "integer"},
                 {"jobs", "At most this many jobs", "integer"}},
       .handler = [&store, runner](RequestContext& ctx) -> Result<Reply> {
         if (!ctx.http.has_param("q") && !ctx.http.has_param("regex")) {
           return Status::invalid_argument("give 'q' (a substring) or 'regex' (RE2 syntax)");
         }
         JZ_ASSIGN_OR_RETURN(auto q, query_of(ctx, 100));
         JZ_ASSIGN_OR_RETURN(int64_t jobs_limit, ctx.int_param("jobs", 1, 1000, 100));
         jobs::ListFilter f;
         f.limit = static_cast<int>(jobs_limit);
         JZ_ASSIGN_OR_RETURN(auto list, store.list(ctx.project->id, f));
         Json items = Json::array();
         int64_t left = q.limit;
         for (const auto& j : list) {
           if (left <= 0 || !runner) break;  // no executor here: no logs
           logs::LogQuery one = q;
           one.limit = left;
           auto page = logs::read_log(run_dir(runner, j, j.attempt) + "/logs", one);
           if (!page.ok()) continue;
           for (const auto& r : page->records) {
             Json item = r.to_json();
             item["job_id"] = j.id;
             item["job_name"] = j.name;
             item["attempt"] = j.attempt;
             items.push_back(std::move(item));
           }
           left -= static_cast<int64_t>(page->records.size());
         }
         return Reply::json({{"items", items}, {"next_page_token", nullptr}});
       }},
  });
}

}  // namespace jz::api
