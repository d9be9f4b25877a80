// Job service benchmark (issue 7), on SQLite and on PostgreSQL, each figure beside its
// anchor measured in the same run:
//  1. submit-to-running latency of trivial jobs (`true`), one at a time, p50/p99, from
//     the platform's own event times; anchor: the same sandbox started directly with
//     bubblewrap (what any launcher pays) on this machine;
//  2. submissions per second with 8 concurrent HTTP clients into a project whose quota
//     admits nothing (so only the API and the store are measured); anchor: the same
//     server's durable single-row write (PUT /api/v1/settings/KEY), same clients.
// Prints Markdown.
//
//   jz_bench_jobs JIZHAN_BINARY [JOBS=100] [SECONDS=5]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/clock.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/postgres_server.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono;
using jz::Json;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

int64_t parse_ms(const std::string& rfc3339) {
  auto t = jz::parse_rfc3339(rfc3339);
  return t.ok() ? duration_cast<milliseconds>(t->time_since_epoch()).count() : 0;
}

struct Client {
  httplib::Client http;
  httplib::Headers auth;
  Client(int port, const std::string& token)
      : http("127.0.0.1", port), auth{{"Authorization", "Bearer " + token}} {
    http.set_keep_alive(true);
  }
  Json post(const std::string& path, const Json& body, int* status = nullptr) {
    auto r = http.Post(path, auth, jz::json::dump(body), "application/json");
    if (status) *status = r ? r->status : 0;
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
  Json put(const std::string& path, const Json& body, int* status = nullptr) {
    auto r = http.Put(path, auth, jz::json::dump(body), "application/json");
    if (status) *status = r ? r->status : 0;
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
  Json get(const std::string& path) {
    auto r = http.Get(path, auth);
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
};

// Milliseconds from queued to running of `jobs` trivial jobs, submitted one at a time.
std::vector<double> submit_to_running(Client& c, int jobs) {
  std::vector<double> out;
  for (int i = 0; i < jobs; ++i) {
    Json j = c.post("/api/v1/projects/lat/jobs",
                    {{"name", "t"}, {"command", {"true"}}, {"resources", {{"cpu", 0.1}}}});
    const std::string id = jz::json::string_or(j, "id");
    const std::string path = "/api/v1/projects/lat/jobs/" + id;
    for (int k = 0; k < 2000; ++k) {
      Json now = c.get(path);
      const std::string s = jz::json::string_or(now, "state");
      if (s == "succeeded" || s == "failed" || s == "lost") break;
      std::this_thread::sleep_for(milliseconds(5));
    }
    int64_t queued = 0, running = 0;
    const Json history = c.get(path + "/events");
    for (const auto& e : history["items"]) {
      if (e["to"] == "queued" && queued == 0) queued = parse_ms(e["time"]);
      if (e["to"] == "running") running = parse_ms(e["time"]);
    }
    if (queued > 0 && running > 0) out.push_back(static_cast<double>(running - queued));
  }
  return out;
}

// Requests/s of `make(i)` from 8 clients for `seconds`.
double rate(int port, const std::string& token, int seconds,
            const std::function<int(Client&, int64_t)>& request) {
  std::atomic<int64_t> done{0}, failed{0}, seq{0};
  const auto until = steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      Client c(port, token);
      while (steady_clock::now() < until) {
        const int status = request(c, seq++);
        (status >= 200 && status < 300 ? done : failed)++;
      }
    });
  }
  for (auto& t : ts) t.join();
  if (failed > 0) std::cerr << "jz_bench_jobs: " << failed << " requests failed\n";
  return static_cast<double>(done) / seconds;
}

// The anchor of 1: bubblewrap starting `true` in the same kind of sandbox, directly.
std::vector<double> bare_sandbox(int runs) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = steady_clock::now();
    auto r = jz::run_subprocess({.argv = {"bwrap",         "--unshare-all", "--die-with-parent",
                                          "--new-session", "--ro-bind",     "/usr",
                                          "/usr",          "--symlink",     "usr/bin",
                                          "/bin",          "--symlink",     "usr/lib",
                                          "/lib",          "--symlink",     "usr/lib64",
                                          "/lib64",        "--ro-bind",     "/etc",
                                          "/etc",          "--proc",        "/proc",
                                          "--dev",         "/dev",          "--tmpfs",
                                          "/tmp",          "true"}});
    if (r.ok() && r->success()) {
      out.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: jz_bench_jobs JIZHAN_BINARY [JOBS=100] [SECONDS=5]\n";
    return 2;
  }
  (void)argv[1];  // the server binary comes from the test support's build path
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 100;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  std::unique_ptr<jz::testing::PostgresServer> pg;
  if (auto p = jz::testing::PostgresServer::start(); p.ok()) {
    pg = std::move(*p);
  } else {
    std::cerr << "jz_bench_jobs: no PostgreSQL: " << p.status().message() << "\n";
  }
  const auto bare = bare_sandbox(std::max(20, jobs / 2));
  std::printf(
      "| store | submit-to-running p50 | p99 | bare sandbox start p50 (anchor) | ratio p50 "
      "| submissions/s | durable writes/s (anchor) | ratio |\n|---|---|---|---|---|---|---|"
      "---|\n");
  for (const std::string store : {"sqlite", "postgres"}) {
    if (store == "postgres" && !pg) continue;
    jz::testing::TempDir dir;
    std::vector<std::string> extra = {"--set", "jobs.tick_ms=20"};
    if (store == "postgres") {
      const std::string db = "bench";
      if (!pg->create_database(db).ok()) return 1;
      extra.insert(extra.end(), {"--db", pg->url(db)});
    }
    auto s = jz::testing::ServerProcess::start(dir.str() + "/data", extra);
    if (!s.ok()) {
      std::cerr << s.status().message() << "\n";
      return 1;
    }
    Client c((*s)->port(), (*s)->token());
    c.post("/api/v1/workspaces", {{"name", "bench"}});
    for (const char* p : {"lat", "rate"})
      c.post("/api/v1/workspaces/bench/projects", {{"name", p}});
    c.put("/api/v1/projects/rate/quota", {{"concurrent_jobs", 0}});
    const auto lat = submit_to_running(c, jobs);
    const Json job = {{"name", "q"}, {"command", {"true"}}, {"resources", {{"cpu", 0.1}}}};
    double submits = 0, writes = 0;
    // Alternate the two, three rounds each, to share the machine's noise.
    for (int round = 0; round < 3; ++round) {
      submits += rate((*s)->port(), (*s)->token(), seconds, [&](Client& k, int64_t) {
        int st = 0;
        k.post("/api/v1/projects/rate/jobs", job, &st);
        return st;
      });
      writes += rate((*s)->port(), (*s)->token(), seconds, [&](Client& k, int64_t i) {
        int st = 0;
        k.put("/api/v1/settings/bench-" + std::to_string(i % 64), {{"value", i}}, &st);
        return st;
      });
    }
    submits /= 3;
    writes /= 3;
    const double p50 = percentile(lat, 0.5), p99 = percentile(lat, 0.99);
    const double bare50 = percentile(bare, 0.5);
    std::printf("| %s | %.0f ms | %.0f ms | %.1f ms | %.1fx | %.0f | %.0f | %.2f |\n",
                store.c_str(), p50, p99, bare50, bare50 > 0 ? p50 / bare50 : 0, submits, writes,
                writes > 0 ? submits / writes : 0);
    std::fflush(stdout);
    (*s)->signal(SIGTERM);
    (*s)->wait();
  }
  std::printf(
      "\n%d jobs for latency (event times have millisecond resolution), %d s x 3 rounds "
      "per rate, 8 clients; %u cores.\n",
      jobs, seconds, std::thread::hardware_concurrency());
  return 0;
}
