// Benchmark tool for bench/training/run (not a test).
//   jz_bench_training ingest PORT TOKEN PROJECT N BATCH log|points
//       N points (one tag; "log" records, one a point, or "points" records, a column of
//       BATCH points) sent to a running server over loopback in bodies of BATCH points, one
//       keep-alive connection, waiting for each answer; beside it the anchor: the same bodies
//       parsed and stored in this process (the store's own rate, no HTTP). Prints JSON.
//   jz_bench_training downsample DIR N POINTS
//       N points written to a run store in DIR, then one tag's curve reduced to POINTS
//       (best of 5); beside it the anchor: one pass over every point (least, greatest and
//       sum of the raw values, what a store without summaries reads). Prints JSON.
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <string>

#include "core/json.h"
#include "training/records.h"
#include "training/store.h"

using namespace jz;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// BATCH points as "log" records (one object a point) or as one "points" record (columns).
std::string body_of(int64_t from, int64_t n, bool columns) {
  if (columns) {
    std::string steps, values, times;
    char buf[64];
    for (int64_t i = from; i < from + n; ++i) {
      const char* sep = i == from ? "" : ",";
      std::snprintf(buf, sizeof buf, "%s%lld", sep, static_cast<long long>(i));
      steps += buf;
      std::snprintf(buf, sizeof buf, "%s%.6f", sep, std::exp(-static_cast<double>(i) / 1e6));
      values += buf;
      std::snprintf(buf, sizeof buf, "%s%.3f", sep, 1.7e9 + static_cast<double>(i) * 1e-3);
      times += buf;
    }
    return "{\"records\":[{\"kind\":\"points\",\"tag\":\"loss\",\"steps\":[" + steps +
           "],\"values\":[" + values + "],\"times\":[" + times + "]}]}";
  }
  std::string b = "{\"records\":[";
  char buf[160];
  for (int64_t i = from; i < from + n; ++i) {
    std::snprintf(buf, sizeof buf,
                  "%s{\"kind\":\"log\",\"step\":%lld,\"time\":%.3f,\"values\":{\"loss\":%.6f}}",
                  i == from ? "" : ",", static_cast<long long>(i), 1.7e9 + i * 1e-3,
                  std::exp(-static_cast<double>(i) / 1e6));
    b += buf;
  }
  return b + "]}";
}

int ingest(int port, const std::string& token, const std::string& project, int64_t n, int64_t batch,
           bool columns) {
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(token);
  c.set_keep_alive(true);
  c.set_read_timeout(120, 0);
  const std::string base = "/api/v1/projects/" + project + "/runs";
  const std::string name = columns ? "bench-points" : "bench-log";
  auto made = c.Post(base, "{\"name\":\"" + name + "\"}", "application/json");
  if (!made || made->status != 201) {
    std::cerr << "cannot start the run: " << (made ? made->body : "no answer") << "\n";
    return 1;
  }
  std::vector<std::string> bodies;
  for (int64_t i = 0; i < n; i += batch) {
    bodies.push_back(body_of(i, std::min(batch, n - i), columns));
  }
  size_t bytes = 0;
  for (const auto& b : bodies) bytes += b.size();
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : bodies) {
    auto r = c.Post(base + "/" + name + "/records", b, "application/json");
    if (!r || r->status != 200) {
      std::cerr << "refused: " << (r ? r->body : "no answer") << "\n";
      return 1;
    }
  }
  const double http_s = seconds_since(t0);
  // The anchor: the same bodies parsed and stored here.
  const std::string dir = std::filesystem::temp_directory_path() / "jz-bench-training-anchor";
  std::filesystem::remove_all(dir);
  auto w = training::RunWriter::open(dir);
  if (!w.ok()) return 1;
  const auto t1 = std::chrono::steady_clock::now();
  for (const auto& b : bodies) {
    Json j = Json::parse(b);
    for (const Json& r : j["records"]) {
      auto rec = training::parse_record(r);
      if (!rec.ok()) return 1;
      training::for_each_point(*rec,
                               [&](const std::string& tag, int64_t step, int64_t wall, double v) {
                                 (void)(*w)->append(tag, {step, wall, v});
                               });
    }
    (void)(*w)->flush();
  }
  const double local_s = seconds_since(t1);
  std::filesystem::remove_all(dir);
  std::cout << json::dump(Json{{"points", n},
                               {"format", columns ? "points" : "log"},
                               {"batch", batch},
                               {"bytes", bytes},
                               {"http_seconds", http_s},
                               {"http_points_per_s", static_cast<double>(n) / http_s},
                               {"anchor_seconds", local_s},
                               {"anchor_points_per_s", static_cast<double>(n) / local_s}})
            << "\n";
  return 0;
}

int downsample(const std::string& dir, int64_t n, int64_t points) {
  std::filesystem::remove_all(dir);
  {
    auto w = training::RunWriter::open(dir);
    if (!w.ok()) return 1;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> noise(0, 0.05);
    for (int64_t i = 0; i < n; ++i) {
      (void)(*w)->append("loss", {i, 1'700'000'000'000'000 + i * 1000,
                                  std::exp(-static_cast<double>(i) / 2e6) + noise(rng)});
    }
  }
  double best = std::numeric_limits<double>::infinity(), scan_best = best;
  size_t got = 0;
  double checksum = 0;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    auto s = training::read_series(dir, "loss", {.points = points});
    best = std::min(best, seconds_since(t0));
    if (!s.ok()) return 1;
    got = s->points.size();
    // The anchor: every raw point read once.
    t0 = std::chrono::steady_clock::now();
    auto all = training::read_series(dir, "loss", {.points = 0});
    double mn = std::numeric_limits<double>::infinity(), mx = -mn, sum = 0;
    for (const auto& p : all->points) {
      mn = std::min(mn, p.value);
      mx = std::max(mx, p.value);
      sum += p.value;
    }
    scan_best = std::min(scan_best, seconds_since(t0));
    checksum += mn + mx + sum;
  }
  std::cout << json::dump(Json{{"points", n},
                               {"asked", points},
                               {"returned", got},
                               {"downsample_ms", best * 1e3},
                               {"anchor_full_scan_ms", scan_best * 1e3},
                               {"checksum", checksum}})
            << "\n";
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "ingest" && argc == 8) {
    return ingest(std::atoi(argv[2]), argv[3], argv[4], std::atoll(argv[5]), std::atoll(argv[6]),
                  std::string(argv[7]) == "points");
  }
  if (cmd == "downsample" && argc == 5) {
    return downsample(argv[2], std::atoll(argv[3]), std::atoll(argv[4]));
  }
  std::cerr << "usage: jz_bench_training ingest PORT TOKEN PROJECT N BATCH log|points\n"
               "       jz_bench_training downsample DIR N POINTS\n";
  return 2;
}
