#include "api/log_routes.h"

#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "api/route_util.h"
#include "core/files.h"
#include "logs/capacity.h"
#include "logs/store.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string run_dir(jobs::JobRunner* runner, const jobs::Job& j, int64_t attempt) {
  const std::string run = j.kind == "devenv" ? j.id : j.id + "-" + std::to_string(attempt);
  return runner->executor().job_dir(run);
}

Result<int64_t> time_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return 0;
  auto t = parse_rfc3339(req.get_param_value(name));
  if (!t.ok()) {
    return Status::invalid_argument("query parameter '" + std::string(name) +
                                    "' must be an RFC 3339 time (2026-11-27T07:00:00Z)");
  }
  const int64_t us =
      std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
  // 0 means "open" in a query: a time before 1970 opens "since" and, for "until", is
  // before the first possible line (1 µs: nothing).
  return us > 0 ? us : std::string_view(name) == "until" ? 1 : 0;
}

// The query parameters of a log read: from, limit, tail, since, until, stream, q, regex.
Result<logs::LogQuery> query_of(const httplib::Request& req, int64_t default_limit) {
  logs::LogQuery q;
  JZ_ASSIGN_OR_RETURN(q.from_seq, int_param(req, "from", 1, int64_t{1} << 62, 1));
  JZ_ASSIGN_OR_RETURN(q.limit, int_param(req, "limit", 1, 100000, default_limit));
  JZ_ASSIGN_OR_RETURN(q.tail, int_param(req, "tail", 0, 100000, 0));
  JZ_ASSIGN_OR_RETURN(q.since_us, time_param(req, "since"));
  JZ_ASSIGN_OR_RETURN(q.until_us, time_param(req, "until"));
  // Times are shown to the millisecond: "until" takes in its whole millisecond.
  if (q.until_us > 0) q.until_us += 999;
  if (req.has_param("stream")) {
    const std::string s = req.get_param_value("stream");
    if (s != "stdout" && s != "stderr") {
      return Status::invalid_argument("query parameter 'stream' must be stdout or stderr");
    }
    q.stream = s == "stderr" ? 1 : 0;
  }
  q.contains = req.get_param_value("q");
  q.regex = req.get_param_value("regex");
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

}  // namespace

void add_log_routes(RouteHost& host, const PlatformServices& services) {
  jobs::JobStore& store = *services.jobs;
  jobs::JobRunner* runner = services.runner;
  RouteHost* h = &host;
  const std::string pr = R"(/api/v1/projects/([a-z0-9-]+))";
  const std::string pl = "/api/v1/projects/{project}";

  // ---- policies, per security level ----
  const char* levels[] = {"open", "internal", "secret"};
  h->on("GET", pr + "/log-policies", pl + "/log-policies",
        [h, &store, levels](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset", "get");
          if (!p) return;
          Json items = Json::array();
          for (const char* level : levels) {
            auto lp = store.log_policy(p->id, level);
            if (!lp.ok()) return h->send_error(res, lp.status());
            items.push_back(policy_json(level, *lp));
          }
          h->send_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
        });
  const std::string lv = pr + "/log-policies/(open|internal|secret)";
  const std::string ll = pl + "/log-policies/{level}";
  h->on("GET", lv, ll, [h, &store](const httplib::Request& req, httplib::Response& res) {
    auto p = guard(h, req, res, "dataset", "get");
    if (!p) return;
    auto lp = store.log_policy(p->id, req.matches[2]);
    if (!lp.ok()) return h->send_error(res, lp.status());
    h->send_json(res, 200, policy_json(req.matches[2], *lp));
  });
  h->on("PUT", lv, ll, [h, &store](const httplib::Request& req, httplib::Response& res) {
    auto p = guard(h, req, res, "dataset", "update");
    if (!p) return;
    auto body = h->body_object(req);
    if (!body.ok()) return h->send_error(res, body.status());
    auto policy = logs::parse_policy(*body);
    if (!policy.ok()) return h->send_error(res, policy.status());
    const std::string level = req.matches[2];
    if (Status s = store.set_log_policy(p->id, p->name, level, *policy, h->principal().username);
        !s.ok()) {
      return h->send_error(res, s);
    }
    auto lp = store.log_policy(p->id, level);
    if (!lp.ok()) return h->send_error(res, lp.status());
    h->send_json(res, 200, policy_json(level, *lp));
  });
  h->on("DELETE", lv, ll, [h, &store](const httplib::Request& req, httplib::Response& res) {
    auto p = guard(h, req, res, "dataset", "update");
    if (!p) return;
    if (Status s = store.reset_log_policy(p->id, p->name, req.matches[2], h->principal().username);
        !s.ok()) {
      return h->send_error(res, s);
    }
    res.status = 204;
  });

  // ---- a job's log ----
  const std::string jp = pr + "/jobs/(job_[0-9A-Z]{26})";
  const std::string jl = pl + "/jobs/{id}";
  // The job, its run's folder (?attempt=N), once the caller may read the project's jobs.
  auto job_dir = [h, &store, runner](const httplib::Request& req, jobs::Job& j,
                                     std::string& dir) -> Status {
    JZ_ASSIGN_OR_RETURN(iam::Project p, h->project_of(req));
    JZ_RETURN_IF_ERROR(h->allow("job", "get", p.workspace_id, &p));
    JZ_ASSIGN_OR_RETURN(j, store.get_in(p.id, req.matches[2]));
    JZ_ASSIGN_OR_RETURN(int64_t attempt, int_param(req, "attempt", 1, j.attempt, j.attempt));
    if (!runner) return Status::unavailable("no executor runs jobs here");
    dir = run_dir(runner, j, attempt);
    return {};
  };
  h->on("GET", jp + "/logs", jl + "/logs",
        [h, job_dir, &store](const httplib::Request& req, httplib::Response& res) {
          jobs::Job j;
          std::string dir;
          if (Status s = job_dir(req, j, dir); !s.ok()) return h->send_error(res, s);
          const std::string format =
              req.has_param("format") ? req.get_param_value("format") : "text";
          if (format != "text" && format != "json") {
            return h->send_error(
                res, Status::invalid_argument("query parameter 'format' must be text or json"));
          }
          const bool follow =
              req.get_param_value("follow") == "true" ||
              req.get_header_value("Accept").find("text/event-stream") != std::string::npos;
          auto q = query_of(req, follow ? 1000 : format == "json" ? 1000 : 100000);
          if (!q.ok()) return h->send_error(res, q.status());
          const std::string logs_dir = dir + "/logs";
          if (!follow) {
            auto page = logs::read_log(logs_dir, *q);
            if (!page.ok()) return h->send_error(res, page.status());
            const bool ended = jobs::is_terminal(j.state) || exists(dir + "/exit.json");
            // A log that retention removed says so (logs.retention_days, _mib).
            auto expired = read_file(dir + "/logs-expired.json");
            if (format == "text") {
              if (expired.ok()) res.set_header("X-Jizhan-Log-Expired", *expired);
              res.set_header("X-Jizhan-Next-Seq", std::to_string(page->next_seq));
              res.set_header("X-Jizhan-Last-Seq", std::to_string(page->last_seq));
              return res.set_content(logs::render_text(page->records), "text/plain; charset=utf-8");
            }
            Json items = Json::array();
            for (const auto& r : page->records) items.push_back(r.to_json());
            return h->send_json(
                res, 200,
                {{"items", items},
                 {"next_seq", page->next_seq},
                 {"last_seq", page->last_seq},
                 {"complete", ended && page->next_seq > page->last_seq},
                 {"stats", stats_of(dir)},
                 {"expired",
                  expired.ok() ? json::parse(*expired).value_or(Json(nullptr)) : Json(nullptr)}});
          }
          // Live follow (Server-Sent Events): "line" events (id = seq; Last-Event-ID
          // resumes), then one "end" event with the stats once the run ended and every
          // line was sent.
          if (req.has_header("Last-Event-ID")) {
            char* end = nullptr;
            const std::string v = req.get_header_value("Last-Event-ID");
            const long long n = std::strtoll(v.c_str(), &end, 10);
            if (!v.empty() && !*end && n >= 0) q->from_seq = n + 1;
          }
          auto query = std::make_shared<logs::LogQuery>(*q);
          auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(
              std::chrono::steady_clock::now());
          const std::string id = j.id;
          res.set_header("Cache-Control", "no-cache");
          res.set_chunked_content_provider(
              "text/event-stream",
              [h, &store, query, last_write, dir, logs_dir, id](size_t, httplib::DataSink& sink) {
                if (h->stopping() || !sink.is_writable()) {
                  sink.done();
                  return true;
                }
                // Whether the run had ended before this read: then what it reads is all.
                bool ended = exists(dir + "/exit.json");
                if (!ended) {
                  auto now = store.get(id);
                  ended = now.ok() && jobs::is_terminal(now->state) && !exists(dir + "/shim.json");
                }
                auto page = logs::read_log(logs_dir, *query);
                if (!page.ok()) {
                  sink.done();
                  return true;
                }
                std::string out;
                for (const auto& r : page->records) {
                  out += "id: " + std::to_string(r.seq) +
                         "\nevent: line\ndata: " + json::dump(r.to_json()) + "\n\n";
                }
                query->from_seq = page->next_seq;
                if (page->records.empty() && ended) {
                  out += "event: end\ndata: " + json::dump(Json{{"stats", stats_of(dir)}}) + "\n\n";
                  sink.write(out.data(), out.size());
                  sink.done();
                  return true;
                }
                if (!out.empty()) {
                  *last_write = std::chrono::steady_clock::now();
                  return sink.write(out.data(), out.size());
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                if (std::chrono::steady_clock::now() - *last_write > std::chrono::seconds(15)) {
                  static constexpr char kPing[] = ": keep-alive\n\n";
                  *last_write = std::chrono::steady_clock::now();
                  return sink.write(kPing, sizeof kPing - 1);
                }
                return true;
              });
        });
  h->on("GET", jp + "/logs/stats", jl + "/logs/stats",
        [h, job_dir](const httplib::Request& req, httplib::Response& res) {
          jobs::Job j;
          std::string dir;
          if (Status s = job_dir(req, j, dir); !s.ok()) return h->send_error(res, s);
          Json stats = stats_of(dir);
          h->send_json(
              res, 200,
              stats.is_null() ? Json{{"passed_lines", 0}, {"withheld", Json::object()}} : stats);
        });
  h->on("GET", jp + "/logs/download", jl + "/logs/download",
        [h, job_dir](const httplib::Request& req, httplib::Response& res) {
          jobs::Job j;
          std::string dir;
          if (Status s = job_dir(req, j, dir); !s.ok()) return h->send_error(res, s);
          const std::string logs_dir = dir + "/logs";
          res.set_header("Content-Disposition", "attachment; filename=\"" + j.id + ".log\"");
          auto from = std::make_shared<int64_t>(1);
          res.set_chunked_content_provider(
              "text/plain; charset=utf-8", [logs_dir, from](size_t, httplib::DataSink& sink) {
                logs::LogQuery q;
                q.from_seq = *from;
                q.limit = 20000;
                auto page = logs::read_log(logs_dir, q);
                if (!page.ok() || page->records.empty()) {
                  sink.done();
                  return true;
                }
                *from = page->next_seq;
                const std::string text = logs::render_text(page->records);
                return sink.write(text.data(), text.size());
              });
        });
  // The unfiltered output, kept only when the dataset's policy says so: data owners alone.
  h->on("GET", jp + "/logs/raw", jl + "/logs/raw",
        [h, job_dir](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "dataset_data", "get");
          if (!p) return;
          jobs::Job j;
          std::string dir;
          if (Status s = job_dir(req, j, dir); !s.ok()) return h->send_error(res, s);
          if (!exists(dir + "/raw")) {
            return h->send_error(res, Status::not_found("this run kept no raw log (the policy of "
                                                        "its dataset's level does not keep one)"));
          }
          auto q = query_of(req, 100000);
          if (!q.ok()) return h->send_error(res, q.status());
          auto page = logs::read_log(dir + "/raw", *q);
          if (!page.ok()) return h->send_error(res, page.status());
          res.set_content(logs::render_text(page->records), "text/plain; charset=utf-8");
        });
  // Search across the project's jobs (each job's latest run, newest jobs first).
  h->on("GET", pr + "/logs/search", pl + "/logs/search",
        [h, &store, runner](const httplib::Request& req, httplib::Response& res) {
          auto p = guard(h, req, res, "job", "list");
          if (!p) return;
          if (!req.has_param("q") && !req.has_param("regex")) {
            return h->send_error(
                res, Status::invalid_argument("give 'q' (a substring) or 'regex' (RE2 syntax)"));
          }
          auto q = query_of(req, 100);
          if (!q.ok()) return h->send_error(res, q.status());
          auto jobs_limit = int_param(req, "jobs", 1, 1000, 100);
          if (!jobs_limit.ok()) return h->send_error(res, jobs_limit.status());
          jobs::ListFilter f;
          f.limit = static_cast<int>(*jobs_limit);
          auto list = store.list(p->id, f);
          if (!list.ok()) return h->send_error(res, list.status());
          Json items = Json::array();
          int64_t left = q->limit;
          for (const auto& j : *list) {
            if (left <= 0 || !runner) break;  // no executor here: no logs
            logs::LogQuery one = *q;
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
          h->send_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
        });
}

}  // namespace jz::api
