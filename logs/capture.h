// Capture: a job's stdout and stderr, read from two pipes by its supervisor, cut into
// lines (at most max_line_bytes each; a longer line goes on in pieces), stamped with the
// time they were read, filtered by the job's log policy and appended to its log store.
// When the store cannot keep up, or the policy's rate cap is reached, the supervisor
// stops reading: the pipes fill and the job's writes block. Nothing is dropped for lack
// of room; what is withheld is withheld by the policy and counted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "logs/filter.h"
#include "logs/store.h"

namespace jz::logs {

struct CaptureOptions {
  LogPolicy policy;
  std::string level;      // the security level the policy belongs to (for stats.json)
  std::string store_dir;  // the filtered log
  std::string raw_dir;    // the unfiltered log, when the policy keeps it; "" otherwise
  std::string compiled;   // LogFilter::serialize() of the policy, when at hand ("": compile)
};

class Capture {
 public:
  static Result<std::unique_ptr<Capture>> open(CaptureOptions options);
  ~Capture();
  // Reads both descriptors until both reach end of file; then flushes and writes the
  // final stats.json. -1 for a descriptor not used.
  Status pump(int out_fd, int err_fd);
  // For callers with data in hand (tests, benchmarks): feeds bytes of one stream.
  Status feed(int stream, std::string_view data, int64_t time_us);
  Status finish();
  const LogFilter& filter() const { return *filter_; }
  Json stats() const;

 private:
  Capture() = default;
  Status flush_lines(int stream, int64_t time_us);
  Status write_stats() const;
  CaptureOptions options_;
  std::unique_ptr<LogFilter> filter_;
  std::unique_ptr<LogWriter> store_, raw_;
  std::string pending_[2];               // an incomplete line of each stream
  bool continuing_[2] = {false, false};  // its earlier pieces went out already
  std::string block_;
  std::vector<LineRef> lines_;
  std::vector<uint32_t> newlines_;  // of the data being fed
  int64_t input_lines_ = 0, input_bytes_ = 0, throttled_ms_ = 0;
  bool precompiled_ = false;
};

}  // namespace jz::logs
