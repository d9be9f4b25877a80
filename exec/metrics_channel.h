// The metrics channel of one job: a Unix socket its supervisor listens on, bind-mounted
// into the sandbox at /run/jizhan/metrics.sock, so training code reports metrics without
// network or token (the socket is the job's own: whoever writes to it is the job).
// Records are training records, one JSON object per line (training/records.h).
//
// The channel leaves the sandbox like the log does, so it obeys the level of the job's
// strictest dataset (docs/SECURITY.md, "The metrics channel"):
//   open, internal  up to 1,000 tags; notes through the dataset's log filter
//   secret          numbers only: up to 32 tags named from a vocabulary ("loss",
//                   "train/acc", "val/map50": the log whitelist's metric names, after
//                   train/, val/, valid/, test/ or eval/); 20 points a second, bursts of
//                   200 (a configuration value or a note counts as a point; progress has
//                   its own 1 a second, bursts of 10); values kept to 4 significant
//                   digits; steps that never go back and move by at most 2^20; the
//                   receiver's clock; configuration: numbers under a few hyper-parameter
//                   names (lr, batch_size, epochs, ...); notes through the log filter
// What a bound stops is dropped and counted in DIR/metrics/stats.json, never stored.
//
// Output: points in the run store DIR/metrics (training/store.h), other records (notes,
// configuration, progress, the end) appended to DIR/metrics/records.jsonl for the server.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "core/json.h"
#include "core/status.h"
#include "logs/filter.h"
#include "training/records.h"
#include "training/store.h"

namespace jz::exec {

struct MetricsBounds {
  size_t max_tags = 1000;
  size_t max_tag_length = training::kMaxTagLength;
  double points_per_second = 0;  // 0: unbounded
  double burst = 0;
  int digits = 0;             // significant digits kept; 0: all
  bool text_config = true;    // configuration strings
  bool client_time = true;    // the client's timestamps (else the receiver's clock)
  int64_t max_step_jump = 0;  // > 0: a tag's steps never go back and move by at most this
  bool vocabulary = false;    // tags and configuration names from fixed lists only
  static MetricsBounds for_level(const std::string& level);
};

class MetricsChannel {
 public:
  // Listens on SOCKET (replacing a stale one; mode 0666: the sandbox user connects) and
  // writes under STORE_DIR; `filter` passes notes (null: notes pass).
  static Result<std::unique_ptr<MetricsChannel>> open(const std::string& socket_path,
                                                      const std::string& store_dir,
                                                      MetricsBounds bounds,
                                                      std::unique_ptr<logs::LogFilter> filter);
  ~MetricsChannel();
  // Serves connections on a thread of its own until stop().
  void start();
  // Reads what the job already wrote, stores it, writes stats.json, and closes.
  void stop();
  // Feeds bytes of one connection (tests, benchmarks); `conn` names the connection.
  void feed(int conn, std::string_view data, int64_t now_us);
  Status flush();
  Json stats() const;

 private:
  MetricsChannel() = default;
  void serve();
  void handle(const std::string& line, int64_t now_us);
  void drop(const std::string& why, int64_t n = 1) { dropped_[why] += n; }
  bool admit_point(int64_t now_us);
  bool admit_progress(int64_t now_us);

  std::string socket_path_, store_dir_;
  MetricsBounds bounds_;
  std::unique_ptr<logs::LogFilter> filter_;
  std::unique_ptr<training::RunWriter> writer_;
  int listen_fd_ = -1, stop_fd_ = -1, records_fd_ = -1;
  std::thread thread_;
  std::map<int, std::string> pending_;  // per connection: an incomplete line
  std::map<std::string, int64_t> last_step_;
  std::map<std::string, int64_t> dropped_;
  int64_t points_ = 0, records_ = 0;
  double tokens_ = 0, progress_tokens_ = 10;
  int64_t tokens_at_us_ = 0, progress_at_us_ = 0;
  int64_t stats_at_us_ = 0;
};

}  // namespace jz::exec
