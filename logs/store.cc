#include "logs/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/files.h"

namespace jz::logs {

namespace {

constexpr size_t kHeader = 24;
constexpr size_t kIndexEntry = 24;
constexpr uint64_t kSegmentBytes = 64ull << 20;
constexpr uint64_t kIndexEvery = 256u << 10;
constexpr uint32_t kMaxRecord = 16u << 20;

std::string segment_path(const std::string& dir, uint32_t n) {
  char name[32];
  std::snprintf(name, sizeof name, "/seg-%08u.log", n);
  return dir + name;
}

struct IndexEntry {
  int64_t seq, time_us;
  uint32_t segment, offset;
};

std::vector<IndexEntry> read_index(const std::string& dir) {
  std::vector<IndexEntry> out;
  const int fd = ::open((dir + "/index").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  for (size_t at = 0; at + kIndexEntry <= data.size(); at += kIndexEntry) {
    const char* p = data.data() + at;
    out.push_back({get_bytes<int64_t>(p), get_bytes<int64_t>(p + 8), get_bytes<uint32_t>(p + 16),
                   get_bytes<uint32_t>(p + 20)});
  }
  return out;
}

// Reads a segment from `offset`, calling f(record, end offset) for each whole record until
// f returns false; returns the offset after the last whole record.
uint64_t scan_segment(const std::string& path, uint64_t offset,
                      const std::function<bool(const LogRecord&)>& f, bool* stopped) {
  *stopped = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return offset;
  std::string buf;
  size_t at = 0;
  uint64_t file_at = offset;
  char chunk[1 << 18];
  for (;;) {
    const ssize_t n = ::pread(fd, chunk, sizeof chunk, static_cast<off_t>(file_at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    file_at += static_cast<uint64_t>(n);
    buf.erase(0, at);
    buf.append(chunk, static_cast<size_t>(n));
    bool bad = false;
    at = parse_records(
        buf,
        [&](const LogRecord& rec) {
          if (!f(rec)) {
            *stopped = true;
            return false;
          }
          return true;
        },
        &bad);
    if (*stopped || bad) {
      ::close(fd);
      return file_at - (buf.size() - at);
    }
  }
  ::close(fd);
  return file_at - (buf.size() - at);
}

}  // namespace

namespace {

// Reads the records from an index entry on, across segments, until f returns false.
void scan_from(const std::string& dir, const IndexEntry& start,
               const std::function<bool(const LogRecord&)>& f) {
  bool stopped = false;
  for (uint32_t seg = start.segment; !stopped; ++seg) {
    const std::string path = segment_path(dir, seg);
    if (::access(path.c_str(), F_OK) != 0) break;
    scan_segment(path, seg == start.segment ? start.offset : 0, f, &stopped);
  }
}

}  // namespace

size_t parse_records(std::string_view data, const std::function<bool(const LogRecord&)>& f,
                     bool* corrupt) {
  size_t at = 0;
  LogRecord r;
  while (at + kHeader <= data.size()) {
    const char* p = data.data() + at;
    const uint32_t len = get_bytes<uint32_t>(p);
    if (len > kMaxRecord) {
      if (corrupt) *corrupt = true;
      break;
    }
    if (at + kHeader + len > data.size()) break;
    r.flags = get_bytes<uint32_t>(p + 4);
    r.seq = get_bytes<int64_t>(p + 8);
    r.time_us = get_bytes<int64_t>(p + 16);
    r.text.assign(p + kHeader, len);
    at += kHeader + len;
    if (!f(r)) break;
  }
  return at;
}

Json LogRecord::to_json() const {
  return {{"seq", seq},
          {"time", format_rfc3339(Clock::WallTime(std::chrono::microseconds(time_us)))},
          {"stream", (flags & kStderr) ? "stderr" : "stdout"},
          {"text", text},
          {"continued", (flags & kContinued) != 0},
          {"cut", (flags & kCut) != 0}};
}

// ---- writer ----

Result<std::unique_ptr<LogWriter>> LogWriter::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::internal("cannot create the log folder " + dir + ": " + errno_message(errno));
  }
  std::unique_ptr<LogWriter> w(new LogWriter());
  w->dir_ = dir;
  // The newest segment: resume after its last whole record.
  uint32_t last = 0;
  while (::access(segment_path(dir, last + 1).c_str(), F_OK) == 0) ++last;
  w->index_fd_ = ::open((dir + "/index").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (w->index_fd_ < 0) {
    return Status::internal("cannot open the log index in " + dir + ": " + errno_message(errno));
  }
  if (last == 0) {
    JZ_RETURN_IF_ERROR(w->roll());
    return w;
  }
  bool stopped = false;
  const uint64_t end = scan_segment(
      segment_path(dir, last), 0,
      [&](const LogRecord& r) {
        w->seq_ = r.seq;
        w->last_time_ = r.time_us;
        return true;
      },
      &stopped);
  w->segment_ = last;
  w->fd_ = ::open(segment_path(dir, last).c_str(), O_WRONLY | O_CLOEXEC, 0600);
  if (w->fd_ < 0 || ::ftruncate(w->fd_, static_cast<off_t>(end)) != 0 ||
      ::lseek(w->fd_, 0, SEEK_END) < 0) {
    return Status::internal("cannot reopen the log in " + dir + ": " + errno_message(errno));
  }
  w->segment_size_ = end;
  w->last_indexed_ = end;
  return w;
}

LogWriter::~LogWriter() {
  (void)flush();
  if (fd_ >= 0) ::close(fd_);
  if (index_fd_ >= 0) ::close(index_fd_);
}

Status LogWriter::roll() {
  if (fd_ >= 0) {
    JZ_RETURN_IF_ERROR(flush());
    ::close(fd_);
  }
  ++segment_;
  const std::string path = segment_path(dir_, segment_);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::internal("cannot create " + path + ": " + errno_message(errno));
  segment_size_ = 0;
  last_indexed_ = 0;
  put_bytes<int64_t>(index_buffer_, seq_ + 1);
  put_bytes<int64_t>(index_buffer_, last_time_);
  put_bytes<uint32_t>(index_buffer_, segment_);
  put_bytes<uint32_t>(index_buffer_, 0);
  return {};
}

Status LogWriter::append(int64_t time_us, uint32_t flags, std::string_view text) {
  if (segment_size_ >= kSegmentBytes) JZ_RETURN_IF_ERROR(roll());
  if (time_us < last_time_) time_us = last_time_;  // times never decrease
  if (segment_size_ - last_indexed_ >= kIndexEvery) {
    put_bytes<int64_t>(index_buffer_, seq_ + 1);
    put_bytes<int64_t>(index_buffer_, time_us);
    put_bytes<uint32_t>(index_buffer_, segment_);
    put_bytes<uint32_t>(index_buffer_, static_cast<uint32_t>(segment_size_));
    last_indexed_ = segment_size_;
  }
  if (text.size() > kMaxRecord) text = text.substr(0, kMaxRecord);
  ++seq_;
  last_time_ = time_us;
  put_bytes<uint32_t>(buffer_, static_cast<uint32_t>(text.size()));
  put_bytes<uint32_t>(buffer_, flags);
  put_bytes<int64_t>(buffer_, seq_);
  put_bytes<int64_t>(buffer_, time_us);
  buffer_.append(text);
  segment_size_ += kHeader + text.size();
  if (buffer_.size() >= (1u << 20)) return flush();
  return {};
}

Status LogWriter::flush() {
  if (!buffer_.empty()) {
    JZ_RETURN_IF_ERROR(write_all(fd_, buffer_, "the job's log"));
    buffer_.clear();
  }
  // Index entries only after the records they point at.
  if (!index_buffer_.empty()) {
    JZ_RETURN_IF_ERROR(write_all(index_fd_, index_buffer_, "the job's log index"));
    index_buffer_.clear();
  }
  return {};
}

// ---- readers ----

Status check_query(const LogQuery& q) {
  if (!q.regex.empty()) {
    RE2 re(q.regex, RE2::Quiet);
    if (!re.ok()) {
      return Status::invalid_argument("the regular expression '" + q.regex +
                                      "' does not compile: " + re.error() + " (RE2 syntax)");
    }
  }
  if (q.limit < 0 || q.tail < 0) return Status::invalid_argument("limit and tail must be >= 0");
  return {};
}

Result<LogPage> read_log(const std::string& dir, const LogQuery& q) {
  JZ_RETURN_IF_ERROR(check_query(q));
  std::optional<RE2> re;
  if (!q.regex.empty()) re.emplace(q.regex, RE2::Quiet);
  LogPage page;
  page.next_seq = std::max<int64_t>(q.from_seq, 1);
  const auto index = read_index(dir);
  if (index.empty()) return page;
  // The last entry before which nothing can match.
  IndexEntry start = index.front();
  for (const auto& e : index) {
    if (e.seq <= q.from_seq || (q.since_us > 0 && e.time_us < q.since_us)) start = e;
  }
  std::deque<LogRecord> tail;
  int64_t bytes = 0;
  bool hit_limit = false;
  int64_t last_seen = 0;
  scan_from(dir, start, [&](const LogRecord& r) {
    last_seen = r.seq;
    if (r.seq < q.from_seq) return true;
    if (q.since_us > 0 && r.time_us < q.since_us) return true;
    if (q.until_us > 0 && r.time_us > q.until_us) return false;
    if (q.stream >= 0 && static_cast<int>(r.flags & kStderr) != q.stream) return true;
    if (!q.contains.empty() && r.text.find(q.contains) == std::string::npos) return true;
    if (re && !RE2::PartialMatch(r.text, *re)) return true;
    bytes += static_cast<int64_t>(r.text.size());
    if (q.tail > 0) {
      tail.push_back(r);
      while (static_cast<int64_t>(tail.size()) > q.tail ||
             (tail.size() > 1 && bytes > q.max_bytes)) {
        bytes -= static_cast<int64_t>(tail.front().text.size());
        tail.pop_front();
      }
      return true;
    }
    page.records.push_back(r);
    if (static_cast<int64_t>(page.records.size()) >= q.limit || bytes >= q.max_bytes) {
      hit_limit = true;
      return false;
    }
    return true;
  });
  if (q.tail > 0) page.records.assign(tail.begin(), tail.end());
  page.next_seq = hit_limit ? page.records.back().seq + 1 : std::max(page.next_seq, last_seen + 1);
  // The newest record: from the last index entry on.
  const IndexEntry& last = index.back();
  page.last_seq = last.seq - 1;
  scan_from(dir, last, [&](const LogRecord& r) {
    page.last_seq = r.seq;
    return true;
  });
  return page;
}

std::string render_text(const std::vector<LogRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    out += r.text;
    if (!(r.flags & kCut)) out.push_back('\n');
  }
  return out;
}

Result<std::string> read_log_text(const std::string& dir) {
  std::string out;
  LogQuery q;
  for (;;) {
    q.limit = 100000;
    JZ_ASSIGN_OR_RETURN(LogPage page, read_log(dir, q));
    out += render_text(page.records);
    if (page.records.empty() || page.next_seq > page.last_seq) break;
    q.from_seq = page.next_seq;
  }
  return out;
}

int64_t log_size(const std::string& dir) {
  int64_t total = 0;
  for (uint32_t seg = 1;; ++seg) {
    struct stat st {};
    if (::stat(segment_path(dir, seg).c_str(), &st) != 0) break;
    total += st.st_size;
  }
  return total;
}

}  // namespace jz::logs
