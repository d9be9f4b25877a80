// Benchmark tool for bench/alerts/run (not a test).
//   jz_bench_alerts route DIR N      N failed-job events in 100 projects (10 workspaces),
//                                    each project with 2 receivers and the platform with 2
//                                    (one taking job_lost only): the events are routed to
//                                    the outbox (evaluate_once) on SQLite in DIR; prints
//                                    JSON: events/s and notifications/s.
//   jz_bench_alerts rules DIR R S    R custom rules over S series (100 metrics), one
//                                    evaluation of every rule (best of 5, CPU time); writes
//                                    DIR/series.prom (the series' latest values, for
//                                    Prometheus to scrape) and DIR/rules.yml (the same
//                                    rules); prints JSON.
#include <spdlog/sinks/null_sink.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/random.h"
#include "platform/alerts/alerts.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "store/database.h"

using namespace jz;
namespace pq = jz::alerts::promql;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int route(const std::string& dir, int n) {
  std::filesystem::create_directories(dir);
  store::DatabaseOptions o;
  o.url = *store::parse_database_url("sqlite:" + dir + "/bench.db");
  auto db = store::Database::open(o);
  if (!db.ok()) {
    std::cerr << db.status().to_string() << "\n";
    return 1;
  }
  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::Tenancy tenancy(**db, Clock::system(), ids);
  iam::EventLog events(**db, Clock::system(), ids);
  auto logger =
      std::make_shared<spdlog::logger>("b", std::make_shared<spdlog::sinks::null_sink_mt>());
  alerts::AlertService a(**db, Clock::system(), ids, tenancy, alerts::SecretBox::with_key("k"), {},
                         logger);
  (void)a.evaluate_once();  // the cursor starts here
  std::vector<std::string> projects;
  for (int w = 0; w < 10; ++w) {
    const std::string ws = "ws-" + std::to_string(w);
    (void)tenancy.create_workspace(ws, "");
    for (int p = 0; p < 10; ++p) {
      const std::string name = "p-" + std::to_string(w) + "-" + std::to_string(p);
      auto made = tenancy.create_project(ws, name, "", "");
      projects.push_back(name);
      for (const char* r : {"team", "lead"}) {
        (void)a.create_receiver("project", made->id,
                                {{"name", r},
                                 {"channel", "webhook"},
                                 {"config", {{"url", "https://hooks.example/" + name}}}},
                                "bench");
      }
    }
  }
  (void)a.create_receiver(
      "platform", "",
      {{"name", "ops"}, {"channel", "slack"}, {"config", {{"url", "https://hooks.example/ops"}}}},
      "bench");
  (void)a.create_receiver("platform", "",
                          {{"name", "oncall"},
                           {"channel", "slack"},
                           {"config", {{"url", "https://hooks.example/oncall"}}},
                           {"rules", {"job_lost"}}},
                          "bench");
  // The events, written in batches as the runner would have.
  for (int i = 0; i < n;) {
    Status s = (*db)->transact([&](store::Conn& c) -> Status {
      for (int k = 0; k < 1000 && i < n; ++k, ++i) {
        iam::Event e;
        e.project = projects[static_cast<size_t>(i) % projects.size()];
        e.resource_type = "job";
        e.resource_name = "job-" + std::to_string(i);
        e.type = "state";
        e.reason = "Failed";
        e.message = "running -> failed (exit code 1)";
        e.actor = "system";
        JZ_RETURN_IF_ERROR(events.append_in(c, e));
      }
      return {};
    });
    if (!s.ok()) {
      std::cerr << s.to_string() << "\n";
      return 1;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  int64_t read = 0;
  for (;;) {
    auto r = a.evaluate_once(500);
    if (!r.ok()) {
      std::cerr << r.status().to_string() << "\n";
      return 1;
    }
    read += *r;
    if (*r == 0) break;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  std::cout << json::dump(Json{{"events", read},
                               {"notifications", a.queued()},
                               {"seconds", wall},
                               {"cpu_seconds", cpu},
                               {"events_per_s", static_cast<double>(read) / wall},
                               {"notifications_per_s", static_cast<double>(a.queued()) / wall}})
            << "\n";
  return 0;
}

int rules(const std::string& dir, int nrules, int nseries) {
  std::filesystem::create_directories(dir);
  const int metrics = 100;
  const int per = nseries / metrics;
  const int64_t now = Clock::system().now_unix_ms();
  pq::MemorySource src;
  std::ofstream prom(dir + "/series.prom");
  uint64_t x = 88172645463325252ull;
  auto rnd = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int m = 0; m < metrics; ++m) {
    const bool counter = m % 4 == 3;
    const std::string name = "bench_m" + std::to_string(m) + (counter ? "_total" : "");
    prom << "# TYPE " << name << (counter ? " counter\n" : " gauge\n");
    for (int i = 0; i < per; ++i) {
      pq::Labels l = {{"node", "n" + std::to_string(i / 8)},
                      {"gpu", std::to_string(i % 8)},
                      {"project", "p" + std::to_string(i % 50)}};
      std::vector<pq::Point> pts;
      double v = static_cast<double>(rnd() % 100);
      for (int k = 20; k >= 0; --k) {
        v = counter ? v + static_cast<double>(rnd() % 10) : static_cast<double>(rnd() % 100);
        pts.push_back({now - int64_t{15000} * k, v});
      }
      prom << name << "{node=\"" << l["node"] << "\",gpu=\"" << l["gpu"] << "\",project=\""
           << l["project"] << "\"} " << v << "\n";
      src.add(name, l, std::move(pts));
    }
  }
  // The rules: a mix of the constructs rules use, each on one metric.
  std::vector<std::shared_ptr<const pq::Expr>> exprs;
  std::ofstream yml(dir + "/rules.yml");
  yml << "groups:\n  - name: bench\n    rules:\n";
  for (int r = 0; r < nrules; ++r) {
    const int m = r % metrics;
    const bool counter = m % 4 == 3;
    const std::string name = "bench_m" + std::to_string(m) + (counter ? "_total" : "");
    std::string e;
    if (counter) {
      e = r % 2 ? "sum by (node) (rate(" + name + "[5m])) > " + std::to_string(5 + r % 7)
                : "rate(" + name + "{gpu=~\"[0-3]\"}[5m]) > 0.5";
    } else {
      switch (r % 4) {
        case 0:
          e = name + " > " + std::to_string(90 + r % 9);
          break;
        case 1:
          e = "avg_over_time(" + name + "[5m]) < " + std::to_string(r % 10);
          break;
        case 2:
          e = "max by (project) (" + name + "{project!=\"p0\"}) >= 99";
          break;
        default:
          e = name + "{node=~\"n1.*\"} / 100 > 0.95";
          break;
      }
    }
    auto parsed = pq::parse(e);
    if (!parsed.ok()) {
      std::cerr << e << ": " << parsed.status().to_string() << "\n";
      return 1;
    }
    exprs.push_back(*parsed);
    yml << "      - alert: r" << r << "\n        expr: " << json::dump(Json(pq::format(**parsed)))
        << "\n";
  }
  double best = 1e9;
  size_t fired = 0;
  for (int round = 0; round < 5; ++round) {
    const double c0 = cpu_seconds();
    fired = 0;
    for (const auto& e : exprs) {
      auto v = pq::evaluate(*e, src, now);
      if (v.ok()) fired += v->samples.size();
    }
    best = std::min(best, cpu_seconds() - c0);
  }
  std::cout << json::dump(Json{{"rules", nrules},
                               {"series", metrics * per},
                               {"cpu_seconds", best},
                               {"samples_out", fired},
                               {"core_share_at_15s", best / 15.0}})
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  auto number = [](const char* text) { return static_cast<int>(std::strtol(text, nullptr, 10)); };
  if (mode == "route" && argc == 4) return route(argv[2], number(argv[3]));
  if (mode == "rules" && argc == 5) return rules(argv[2], number(argv[3]), number(argv[4]));
  std::cerr << "usage: jz_bench_alerts route DIR N | rules DIR RULES SERIES\n";
  return 2;
}
