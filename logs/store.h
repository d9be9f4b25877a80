// The log store of one job run: append-only segments with a sparse index, written by the
// job's supervisor and read by the server while it writes.
//
//   DIR/seg-00000001.log ...  records, a new segment every 64 MiB
//   DIR/index                 fixed-size entries: (seq, time, segment, offset), one at the
//                             start of each segment and one every 256 KiB of records
//   DIR/stats.json            what passed and what was withheld, by reason
// A record is a 24-byte header (little-endian: u32 length, u32 flags, u64 seq, i64 time
// in microseconds since the epoch) and then the line's bytes. Sequence numbers start at 1
// and have no gaps; times never decrease. A reader stops at a record that is not whole
// yet (the writer is mid-append), so it always sees a prefix of the log.
//
// LogWriter: one writer per folder, one thread. Readers: any number, any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::logs {

enum RecordFlags : uint32_t {
  kStderr = 1,     // else stdout
  kContinued = 2,  // a later piece of a line longer than the maximum line length
  kCut = 4,        // a piece that a later piece continues
};

struct LogRecord {
  int64_t seq = 0;
  int64_t time_us = 0;
  uint32_t flags = 0;
  std::string text;
  Json to_json() const;
};

class LogWriter {
 public:
  // Opens DIR (created 0700 when missing) to append after what it holds.
  static Result<std::unique_ptr<LogWriter>> open(const std::string& dir);
  ~LogWriter();
  // Buffers one record; written out by flush() (or once 1 MiB is buffered).
  Status append(int64_t time_us, uint32_t flags, std::string_view text);
  Status flush();
  int64_t last_seq() const { return seq_; }

 private:
  LogWriter() = default;
  Status roll();
  std::string dir_;
  int fd_ = -1, index_fd_ = -1;
  uint32_t segment_ = 0;
  uint64_t segment_size_ = 0;  // bytes in the segment, including the buffer
  uint64_t last_indexed_ = 0;  // segment offset of the last index entry
  int64_t seq_ = 0, last_time_ = 0;
  std::string buffer_, index_buffer_;
};

struct LogQuery {
  int64_t from_seq = 1;  // the first record considered
  int64_t limit = 1000;  // at most this many records returned
  int64_t tail = 0;      // > 0: the last `tail` matching records instead (from_seq still applies)
  int64_t since_us = 0, until_us = 0;  // time window; 0: open
  int stream = -1;                     // -1 both, 0 stdout, 1 stderr
  std::string contains;                // substring
  std::string regex;                   // RE2 syntax (linear time)
  // At most about this many bytes of text returned (a page ends after the record that
  // reaches it; a tail keeps the newest records within it), so one read never holds
  // gigabytes of a log with long lines in memory.
  int64_t max_bytes = int64_t{64} << 20;
};

struct LogPage {
  std::vector<LogRecord> records;
  int64_t next_seq = 1;  // where a follow-up read starts
  int64_t last_seq = 0;  // the newest record in the store now
};

// Parses records from the start of `data`, calling f for each whole one until it returns
// false; returns the bytes consumed. A header with an impossible length sets *corrupt.
size_t parse_records(std::string_view data, const std::function<bool(const LogRecord&)>& f,
                     bool* corrupt = nullptr);

// Checks a query (the regular expression compiles) before a read.
Status check_query(const LogQuery& q);

// Reads DIR (a missing folder is an empty log).
Result<LogPage> read_log(const std::string& dir, const LogQuery& q);

// Records as text: each record's line and a newline, except after a piece that the next
// record continues.
std::string render_text(const std::vector<LogRecord>& records);

// The whole of DIR as text (tests, small logs).
Result<std::string> read_log_text(const std::string& dir);

// Bytes in DIR's segments (for retention).
int64_t log_size(const std::string& dir);

}  // namespace jz::logs
