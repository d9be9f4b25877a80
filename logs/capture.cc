#include "logs/capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/files.h"
#include "logs/classes.h"

namespace jz::logs {

namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<Capture>> Capture::open(CaptureOptions options) {
  std::unique_ptr<Capture> c(new Capture());
  // A filter compiled ahead (by the server, once per policy) loads in a millisecond; one
  // that does not fit this policy is compiled again.
  if (!options.compiled.empty()) {
    auto loaded = LogFilter::load(options.policy, options.compiled);
    if (loaded.ok()) {
      c->filter_ = std::move(*loaded);
      c->precompiled_ = true;
    }
  }
  if (!c->filter_) {
    JZ_ASSIGN_OR_RETURN(c->filter_, LogFilter::compile(options.policy));
  }
  JZ_ASSIGN_OR_RETURN(c->store_, LogWriter::open(options.store_dir));
  if (!options.raw_dir.empty()) {
    JZ_ASSIGN_OR_RETURN(c->raw_, LogWriter::open(options.raw_dir));
  }
  c->options_ = std::move(options);
  return c;
}

Capture::~Capture() = default;

Status Capture::feed(int stream, std::string_view data, int64_t time_us) {
  stream = stream ? 1 : 0;
  input_bytes_ += static_cast<int64_t>(data.size());
  const size_t max = static_cast<size_t>(options_.policy.max_line_bytes);
  std::string& pend = pending_[stream];
  block_.clear();
  lines_.clear();
  auto emit = [&](std::string_view line) {
    // A line longer than the maximum goes out in pieces.
    size_t p = 0;
    do {
      const size_t len = std::min(max, line.size() - p);
      LineRef l;
      l.offset = static_cast<uint32_t>(block_.size());
      l.length = static_cast<uint32_t>(len);
      l.continued = continuing_[stream];
      l.cut = p + len < line.size();
      block_.append(line.substr(p, len));
      block_.push_back('\n');
      lines_.push_back(l);
      continuing_[stream] = l.cut;
      p += len;
    } while (p < line.size());
  };
  newlines_.clear();
  find_newlines(data, newlines_);
  size_t a = 0;
  for (const uint32_t e : newlines_) {
    if (pend.empty()) {
      emit(data.substr(a, e - a));
    } else {
      pend.append(data.substr(a, e - a));
      emit(pend);
      pend.clear();
    }
    continuing_[stream] = false;
    ++input_lines_;
    a = e + 1;
  }
  if (a < data.size()) pend.append(data.substr(a));
  // An unfinished line already longer than the maximum: its whole pieces go out now.
  if (pend.size() > max) {
    const size_t whole = (pend.size() - 1) / max * max;
    size_t p = 0;
    while (p < whole) {
      LineRef l;
      l.offset = static_cast<uint32_t>(block_.size());
      l.length = static_cast<uint32_t>(max);
      l.continued = continuing_[stream];
      l.cut = true;
      block_.append(pend, p, max);
      block_.push_back('\n');
      lines_.push_back(l);
      continuing_[stream] = true;
      p += max;
    }
    pend.erase(0, whole);
  }
  return flush_lines(stream, time_us);
}

Status Capture::flush_lines(int stream, int64_t time_us) {
  if (lines_.empty()) return {};
  const uint32_t base = stream ? uint32_t{kStderr} : 0u;
  auto flags_of = [&](const LineRef& l) {
    return base | (l.continued ? uint32_t{kContinued} : 0u) | (l.cut ? uint32_t{kCut} : 0u);
  };
  Status failed;
  if (raw_) {
    for (const auto& l : lines_) {
      if (Status s = raw_->append(time_us, flags_of(l),
                                  std::string_view(block_).substr(l.offset, l.length));
          !s.ok()) {
        return s;
      }
    }
    JZ_RETURN_IF_ERROR(raw_->flush());
  }
  filter_->process(block_, lines_, [&](size_t i, std::string_view text) {
    if (!failed.ok()) return;
    failed = store_->append(time_us, flags_of(lines_[i]), text);
  });
  JZ_RETURN_IF_ERROR(failed);
  return store_->flush();
}

Status Capture::finish() {
  for (int s = 0; s < 2; ++s) {
    if (pending_[s].empty()) continue;
    std::string last = std::move(pending_[s]);
    pending_[s].clear();
    // The last line of a stream without its newline.
    last.push_back('\n');
    JZ_RETURN_IF_ERROR(feed(s, last, now_us()));
    input_bytes_ -= 1;
  }
  JZ_RETURN_IF_ERROR(store_->flush());
  if (raw_) JZ_RETURN_IF_ERROR(raw_->flush());
  return write_stats();
}

Json Capture::stats() const {
  Json withheld = Json::object();
  for (const auto& [reason, w] : filter_->withheld()) {
    withheld[reason] = {{"lines", w.lines}, {"bytes", w.bytes}};
  }
  return {{"level", options_.level},
          {"mode", mode_name(options_.policy.mode)},
          {"input_lines", input_lines_},
          {"input_bytes", input_bytes_},
          {"passed_lines", filter_->passed_lines()},
          {"passed_bytes", filter_->passed_bytes()},
          {"withheld", withheld},
          {"throttled_ms", throttled_ms_},
          {"filter", precompiled_ ? "precompiled" : "compiled here"},
          {"raw_kept", raw_ != nullptr}};
}

Status Capture::write_stats() const {
  return write_file(options_.store_dir + "/stats.json", json::dump(stats()), 0600, false, false);
}

Status Capture::pump(int out_fd, int err_fd) {
  int fds[2] = {out_fd, err_fd};
  for (int fd : fds) {
    // Fewer, larger reads (root may raise it to 1 MiB; others keep the default).
    if (fd >= 0) (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  }
  std::string buf(1 << 20, '\0');
  const int64_t rate = options_.policy.rate_bytes_per_s;
  double budget = static_cast<double>(rate);  // bytes that may be read now
  auto refilled = std::chrono::steady_clock::now();
  auto stats_at = refilled;
  for (;;) {
    pollfd p[2];
    nfds_t n = 0;
    int which[2];
    for (int s = 0; s < 2; ++s) {
      if (fds[s] >= 0) {
        p[n] = {fds[s], POLLIN, 0};
        which[n++] = s;
      }
    }
    if (n == 0) break;
    if (::poll(p, n, 1000) < 0) {
      if (errno == EINTR) continue;
      return Status::internal(std::string("poll on the job's output failed: ") +
                              errno_message(errno));
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int s = which[i];
      const ssize_t got = ::read(fds[s], buf.data(), buf.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        ::close(fds[s]);
        fds[s] = -1;
        continue;
      }
      JZ_RETURN_IF_ERROR(feed(s, std::string_view(buf.data(), static_cast<size_t>(got)), now_us()));
      if (rate > 0) {
        // The rate cap: once the budget is spent, stop reading until it refills.
        budget -= static_cast<double>(got);
        const auto now = std::chrono::steady_clock::now();
        budget =
            std::min<double>(static_cast<double>(rate),
                             budget + static_cast<double>(rate) *
                                          std::chrono::duration<double>(now - refilled).count());
        refilled = now;
        if (budget < 0) {
          const auto wait = std::chrono::duration<double>(-budget / static_cast<double>(rate));
          std::this_thread::sleep_for(wait);
          throttled_ms_ += static_cast<int64_t>(wait.count() * 1000);
        }
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - stats_at >= std::chrono::seconds(1)) {
      stats_at = now;
      (void)write_stats();
    }
  }
  return finish();
}

}  // namespace jz::logs
