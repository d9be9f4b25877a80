// Jizhan's training client for C++ (docs/TRAINING.md): the Python client's calls for code
// that trains in C++. One header; the C++17 standard library and POSIX only.
//
//   #include "jizhan.h"
//   jizhan::Run run = jizhan::Run::init();       // inside a job: its metrics socket
//   run.config({{"lr", 0.01}, {"batch_size", 64}});
//   for (int step = 0; step < steps; ++step) {
//     ...
//     run.log({{"train/loss", loss}, {"train/acc", acc}}, step);
//   }
//   run.finish();                                 // also done by the destructor
//
// Where records go: the job's metrics socket (JIZHAN_METRICS_SOCKET, set in every job's
// sandbox), else a file (JIZHAN_OFFLINE, or Run::offline(path)) that `jizhan metrics
// upload` sends later. log() only queues: a background thread groups the points by tag
// and writes them every 0.2 s; when the socket is away the records wait (at most a million,
// then they are counted in dropped()) and go when it is back.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace jizhan {

class Run {
 public:
  using Value = std::variant<double, int64_t, bool, std::string>;

  // The job's socket, else JIZHAN_OFFLINE's file; an invalid run (ok() false) otherwise.
  static Run init() {
    if (const char* s = std::getenv("JIZHAN_METRICS_SOCKET"); s && *s) return Run(s, false);
    if (const char* f = std::getenv("JIZHAN_OFFLINE"); f && *f) return Run(f, true);
    return Run("", false);
  }
  static Run offline(const std::string& path) { return Run(path, true); }

  Run(Run&& o) noexcept { take(std::move(o)); }
  Run& operator=(Run&& o) noexcept {
    if (this != &o) {
      finish();
      take(std::move(o));
    }
    return *this;
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() { finish(); }

  // Whether records have somewhere to go.
  bool ok() const { return s_ && !s_->target.empty(); }
  // Records dropped because too many waited.
  int64_t dropped() const { return s_ ? s_->dropped.load() : 0; }

  // Numbers at a step (default: the previous step + 1).
  void log(const std::vector<std::pair<std::string, double>>& values, int64_t step = -1) {
    if (!ok()) return;
    std::lock_guard lock(s_->mu);
    if (step < 0) step = s_->step + 1;
    s_->step = step;
    const double now = wall();
    for (const auto& [tag, v] : values) {
      if (s_->queued >= kMaxQueued) {
        ++s_->dropped;
        continue;
      }
      auto& c = s_->columns[tag];
      c.steps.push_back(step);
      c.values.push_back(v);
      c.times.push_back(now);
      ++s_->queued;
    }
  }
  void config(const std::vector<std::pair<std::string, Value>>& values) {
    std::string body;
    for (const auto& [k, v] : values) {
      body += (body.empty() ? "" : ",") + quote(k) + ":" + value_text(v);
    }
    record("{\"kind\":\"config\",\"values\":{" + body + "}}");
  }
  void note(const std::string& text) { record("{\"kind\":\"note\",\"text\":" + quote(text) + "}"); }
  void progress(int64_t done, int64_t total) {
    record("{\"kind\":\"progress\",\"done\":" + std::to_string(done) +
           ",\"total\":" + std::to_string(total) + "}");
  }
  // Sends what is queued now; true when it went within `timeout`.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (!ok()) return true;
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(s_->mu);
    s_->wake.notify_all();
    return s_->sent.wait_until(
        lock, end, [&] { return s_->queued == 0 && s_->lines.empty() && !s_->writing; });
  }
  // Sends everything and ends the run.
  void finish() {
    if (!ok() || s_->finished) return;
    record("{\"kind\":\"finish\"}");
    flush(std::chrono::seconds(5));
    {
      std::lock_guard lock(s_->mu);
      s_->finished = true;
      s_->stop = true;
    }
    s_->wake.notify_all();
    if (s_->thread.joinable()) s_->thread.join();
    if (s_->fd >= 0) ::close(s_->fd);
    s_->fd = -1;
  }

 private:
  static constexpr int64_t kMaxQueued = 1000000;
  struct Column {
    std::vector<int64_t> steps;
    std::vector<double> values, times;
  };
  struct State {
    std::string target;
    bool file = false;
    std::mutex mu;
    std::condition_variable wake, sent;
    std::map<std::string, Column> columns;
    std::vector<std::string> lines;  // other records, in order
    int64_t queued = 0, step = -1;
    std::atomic<int64_t> dropped{0};
    bool stop = false, finished = false, writing = false;
    int fd = -1;
    std::thread thread;
  };

  Run(const std::string& target, bool file) : s_(std::make_unique<State>()) {
    s_->target = target;
    s_->file = file;
    if (!target.empty()) s_->thread = std::thread([s = s_.get()] { loop(*s); });
  }
  void take(Run&& o) { s_ = std::move(o.s_); }

  void record(std::string line) {
    if (!ok()) return;
    std::lock_guard lock(s_->mu);
    // Points logged before this record go first.
    for (auto& l : drain_columns(*s_)) s_->lines.push_back(std::move(l));
    s_->lines.push_back(std::move(line));
  }

  static double wall() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static std::string number(double v) {
    if (std::isnan(v)) return "\"NaN\"";
    if (std::isinf(v)) return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
  }
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        out += b;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  }
  static std::string value_text(const Value& v) {
    if (auto d = std::get_if<double>(&v)) return number(*d);
    if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
    return quote(std::get<std::string>(v));
  }
  // The queued points as "points" records (under the lock).
  static std::vector<std::string> drain_columns(State& s) {
    std::vector<std::string> out;
    for (auto& [tag, c] : s.columns) {
      std::string steps, values, times;
      for (size_t i = 0; i < c.steps.size(); ++i) {
        const char* sep = i ? "," : "";
        steps += sep + std::to_string(c.steps[i]);
        values += sep + number(c.values[i]);
        char b[32];
        std::snprintf(b, sizeof b, "%s%.6f", sep, c.times[i]);
        times += b;
      }
      out.push_back("{\"kind\":\"points\",\"tag\":" + quote(tag) + ",\"steps\":[" + steps +
                    "],\"values\":[" + values + "],\"times\":[" + times + "]}");
    }
    s.columns.clear();
    s.queued = 0;
    return out;
  }
  // Writes all of `data`; false when the socket or file is not there (yet).
  static bool write_out(State& s, const std::string& data) {
    if (s.file) {
      std::ofstream f(s.target, std::ios::app | std::ios::binary);
      f << data;
      return static_cast<bool>(f);
    }
    if (s.fd < 0) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (s.target.size() >= sizeof addr.sun_path) return false;
      std::memcpy(addr.sun_path, s.target.c_str(), s.target.size() + 1);
      s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (s.fd >= 0) ::close(s.fd);
        s.fd = -1;
        return false;
      }
    }
    for (size_t at = 0; at < data.size();) {
      const ssize_t n = ::send(s.fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
      if (n <= 0) {
        ::close(s.fd);
        s.fd = -1;
        return false;
      }
      at += static_cast<size_t>(n);
    }
    return true;
  }
  static void loop(State& s) {
    std::unique_lock lock(s.mu);
    for (;;) {
      s.wake.wait_for(lock, std::chrono::milliseconds(200));
      auto lines = std::move(s.lines);
      s.lines.clear();
      for (auto& l : drain_columns(s)) lines.push_back(std::move(l));
      if (!lines.empty()) {
        std::string data;
        for (const auto& l : lines) data += l + "\n";
        s.writing = true;
        lock.unlock();
        const bool ok = write_out(s, data);
        lock.lock();
        s.writing = false;
        if (!ok) {  // keep them (in front of newer ones) and try again
          lines.insert(lines.end(), std::make_move_iterator(s.lines.begin()),
                       std::make_move_iterator(s.lines.end()));
          s.lines = std::move(lines);
          if (s.stop) return;
          continue;
        }
      }
      s.sent.notify_all();
      if (s.stop && s.lines.empty() && s.queued == 0) return;
    }
  }

  std::unique_ptr<State> s_;
};

}  // namespace jizhan
