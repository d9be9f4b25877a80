// The embedded time-series store: what the server keeps of the node agents' samples when
// no Prometheus is configured. Series are a metric name and labels; each series keeps its
// points in tiers of decreasing resolution (by default 1 s for an hour, 10 s for a day,
// 1 min for 30 days), each tier a fixed ring of slots, so memory and disk are bounded by
// the number of series (at most `max_series`) whatever the rate of samples.
//
// Storage: one file per series (`<dir>/s<id>.ring`, memory-mapped, sparse until written)
// holding every tier's ring; `<dir>/series.jsonl` names the series. A slot keeps the sum,
// count, minimum and maximum of the samples in its interval, so a query can ask for the
// average, minimum or maximum of any coarser step. Samples go to every tier at once.
//
// Thread-safety: append() and series() from any thread; queries run beside appends (a
// shared lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace jz::metrics {

using Labels = std::map<std::string, std::string>;

struct Tier {
  std::chrono::seconds step;
  std::chrono::seconds keep;
};

struct TsdbOptions {
  std::string dir;
  std::vector<Tier> tiers = {{std::chrono::seconds(1), std::chrono::hours(1)},
                             {std::chrono::seconds(10), std::chrono::hours(24)},
                             {std::chrono::seconds(60), std::chrono::hours(24 * 30)}};
  size_t max_series = 4096;
  // Series with no sample for this long are dropped (their slots freed) by compact().
  std::chrono::seconds forget_after{std::chrono::hours(24 * 30)};
};

// "1s:1h,10s:24h,1m:30d": STEP:KEEP pairs (units s, m, h, d), each step coarser than the
// one before and dividing its keep; invalid_argument saying what is wrong otherwise.
Result<std::vector<Tier>> parse_tiers(const std::string& text);

enum class Aggregation { kAvg, kMin, kMax };
// "avg", "min" or "max"; invalid_argument naming the choices otherwise.
Result<Aggregation> parse_aggregation(const std::string& text);

struct Point {
  int64_t t_ms = 0;  // the start of the step
  double value = 0;
};

struct SeriesInfo {
  uint32_t id = 0;
  std::string metric;
  Labels labels;
  int64_t last_ms = 0;  // the last sample's time (0: none since the server started)
};

class Tsdb {
 public:
  static Result<std::unique_ptr<Tsdb>> open(TsdbOptions options);
  ~Tsdb();
  Tsdb(const Tsdb&) = delete;
  Tsdb& operator=(const Tsdb&) = delete;

  // The series' id, made on first use; resource_exhausted when `max_series` are kept.
  Result<uint32_t> series(const std::string& metric, const Labels& labels);
  // A sample; out-of-order samples within a slot's interval fold into it, older ones
  // than the ring holds are dropped.
  void append(uint32_t id, int64_t t_ms, double value);
  struct Sample {
    uint32_t id;
    int64_t t_ms;
    double value;
  };
  // Many samples under one lock (a node's sample at once).
  void append(const std::vector<Sample>& samples);

  // The series of `metric` whose labels include every pair of `match`.
  std::vector<SeriesInfo> find(const std::string& metric, const Labels& match) const;
  std::optional<SeriesInfo> info(uint32_t id) const;
  // One point per `step_ms` from `start_ms` to `end_ms` (steps with no sample left out),
  // read from the finest tier whose ring still holds `start_ms` and whose step is no
  // coarser than `step_ms` (else the finest that holds it).
  std::vector<Point> range(uint32_t id, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                           Aggregation agg) const;
  // Drops series with no sample for `forget_after` (as of `now_ms`); returns how many.
  size_t compact(int64_t now_ms);
  size_t size() const;
  const TsdbOptions& options() const { return options_; }

 private:
  struct Slot;
  struct Series;
  explicit Tsdb(TsdbOptions options);
  Status load();
  Result<Series*> map_series(uint32_t id);
  void append_locked(uint32_t id, int64_t t_ms, double value);
  static std::string key_of(const std::string& metric, const Labels& labels);

  TsdbOptions options_;
  std::vector<int64_t> tier_slots_;   // slots per tier
  std::vector<int64_t> tier_offset_;  // first slot of each tier in a series' file
  int64_t slots_per_series_ = 0;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t> by_key_;
  std::vector<std::unique_ptr<Series>> series_;  // by id; null: free
};

}  // namespace jz::metrics
