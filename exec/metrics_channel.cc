#include "exec/metrics_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "core/files.h"
#include "logs/policy.h"

namespace jz::exec {

namespace {

constexpr size_t kMaxLine = size_t{1} << 20;
constexpr size_t kMaxConnections = 64;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Names a job on secret data may give its metrics: [PREFIX/]NAME from the log whitelist's
// vocabulary.
bool vocabulary_tag(std::string_view tag) {
  const size_t slash = tag.find('/');
  if (slash != std::string_view::npos) {
    static const std::set<std::string, std::less<>> kPrefixes = {"train", "val", "valid", "test",
                                                                 "eval"};
    if (!kPrefixes.count(tag.substr(0, slash))) return false;
    tag = tag.substr(slash + 1);
  }
  const auto& names = logs::metric_names();
  return std::find(names.begin(), names.end(), tag) != names.end();
}

bool vocabulary_config(std::string_view name) {
  static const std::set<std::string, std::less<>> kNames = {
      "lr",       "learning_rate", "batch_size",  "epochs", "steps",
      "momentum", "weight_decay",  "seed",        "warmup", "warmup_steps",
      "dropout",  "image_size",    "num_classes", "workers"};
  return kNames.count(name) > 0;
}

double round_significant(double v, int digits) {
  if (digits <= 0 || !std::isfinite(v) || v == 0) return v;
  char b[64];
  std::snprintf(b, sizeof b, "%.*e", digits - 1, v);
  return std::strtod(b, nullptr);
}

}  // namespace

MetricsBounds MetricsBounds::for_level(const std::string& level) {
  MetricsBounds b;
  if (level == "secret") {
    b.max_tags = 32;
    b.max_tag_length = 32;
    b.points_per_second = 20;
    b.burst = 200;
    b.digits = 4;
    b.text_config = false;
    b.client_time = false;
    b.max_step_jump = int64_t{1} << 20;
    b.vocabulary = true;
  }
  return b;
}

Result<std::unique_ptr<MetricsChannel>> MetricsChannel::open(
    const std::string& socket_path, const std::string& store_dir, MetricsBounds bounds,
    std::unique_ptr<logs::LogFilter> filter) {
  std::unique_ptr<MetricsChannel> c(new MetricsChannel());
  c->socket_path_ = socket_path;
  c->store_dir_ = store_dir;
  c->bounds_ = bounds;
  c->filter_ = std::move(filter);
  c->tokens_ = bounds.burst;
  JZ_ASSIGN_OR_RETURN(c->writer_, training::RunWriter::open(store_dir));
  const std::string records = store_dir + "/records.jsonl";
  c->records_fd_ = ::open(records.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (c->records_fd_ < 0) {
    return Status::internal("cannot open " + records + ": " + errno_message(errno));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Status::invalid_argument("the metrics socket path " + socket_path + " is longer than " +
                                    std::to_string(sizeof addr.sun_path - 1) +
                                    " bytes: choose a shorter jobs folder");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());
  c->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->listen_fd_ < 0 ||
      ::bind(c->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(socket_path.c_str(), 0666) != 0 || ::listen(c->listen_fd_, 16) != 0) {
    return Status::internal("cannot listen on " + socket_path + ": " + errno_message(errno));
  }
  c->stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->stop_fd_ < 0) return Status::internal("cannot create an eventfd");
  return c;
}

MetricsChannel::~MetricsChannel() {
  stop();
  for (int fd : {listen_fd_, stop_fd_, records_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void MetricsChannel::start() {
  thread_ = std::thread([this] { serve(); });
}

void MetricsChannel::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(socket_path_.c_str());
  }
  (void)flush();
  (void)write_file(store_dir_ + "/stats.json", json::dump(stats()), 0600, false, false);
}

void MetricsChannel::serve() {
  std::vector<int> conns;
  char buf[65536];
  bool stopping = false;
  auto read_conn = [&](int fd) {  // false at the end of the connection
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        feed(fd, std::string_view(buf, static_cast<size_t>(n)), now_us());
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      feed(fd, "\n", now_us());  // a last line without its newline
      pending_.erase(fd);
      return false;
    }
  };
  while (!stopping) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (int fd : conns) fds.push_back({fd, POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), 1000);
    if (ready < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) stopping = true;
    if (fds[0].revents & POLLIN) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (conns.size() >= kMaxConnections) {
          ::close(fd);
          drop("connections");
          continue;
        }
        conns.push_back(fd);
      }
    }
    // Connections with data, and every one when stopping (those just accepted too).
    std::vector<int> ready_fds;
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ready_fds.push_back(fds[i].fd);
    }
    if (stopping) ready_fds = conns;
    for (int fd : ready_fds) {
      if (!read_conn(fd)) {
        ::close(fd);
        conns.erase(std::find(conns.begin(), conns.end(), fd));
      }
    }
    (void)flush();
    const int64_t t = now_us();
    if (t - stats_at_us_ > 2'000'000) {
      stats_at_us_ = t;
      (void)write_file(store_dir_ + "/stats.json", json::dump(stats()), 0600, false, false);
    }
  }
  for (int fd : conns) ::close(fd);
}

void MetricsChannel::feed(int conn, std::string_view data, int64_t now) {
  std::string& pending = pending_[conn];
  size_t start = 0;
  while (start < data.size()) {
    const size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) {
      pending.append(data.substr(start));
      if (pending.size() > kMaxLine) {
        drop("line too long");
        pending.clear();
      }
      break;
    }
    pending.append(data.substr(start, nl - start));
    start = nl + 1;
    if (pending.find_first_not_of(" \t\r") != std::string::npos) handle(pending, now);
    pending.clear();
  }
}

bool MetricsChannel::admit_point(int64_t now) {
  if (bounds_.points_per_second <= 0) return true;
  tokens_ = std::min(bounds_.burst, tokens_ + static_cast<double>(now - tokens_at_us_) / 1e6 *
                                                  bounds_.points_per_second);
  tokens_at_us_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool MetricsChannel::admit_progress(int64_t now) {
  if (bounds_.points_per_second <= 0) return true;
  progress_tokens_ =
      std::min(10.0, progress_tokens_ + static_cast<double>(now - progress_at_us_) / 1e6);
  progress_at_us_ = now;
  if (progress_tokens_ < 1) return false;
  progress_tokens_ -= 1;
  return true;
}

void MetricsChannel::handle(const std::string& line, int64_t now) {
  if (line.size() > kMaxLine) return drop("line too long");
  auto j = json::parse(line, "a record");
  if (!j.ok()) return drop("invalid");
  auto parsed = training::parse_record(*j);
  if (!parsed.ok()) return drop("invalid");
  training::Record r = std::move(*parsed);
  using Kind = training::Record::Kind;
  auto keep = [&](const training::Record& rec) {
    const std::string text = training::format_record(rec) + "\n";
    if (::write(records_fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      drop("unwritable");
      return;
    }
    ++records_;
  };
  switch (r.kind) {
    case Kind::kLog:
    case Kind::kPoints:
      training::for_each_point(
          r, [&](const std::string& tag, int64_t step, int64_t client_wall, double v) {
            const int64_t wall = bounds_.client_time && client_wall ? client_wall : now;
            if (tag.size() > bounds_.max_tag_length) return drop("tag too long");
            if (bounds_.vocabulary && !vocabulary_tag(tag))
              return drop("tag not in the vocabulary");
            if (writer_->count(tag) == 0 && writer_->tag_count() >= bounds_.max_tags) {
              return drop("too many tags");
            }
            if (bounds_.max_step_jump > 0) {
              auto it = last_step_.find(tag);
              const int64_t last = it == last_step_.end() ? 0 : it->second;
              if (step < last || step - last > bounds_.max_step_jump) return drop("step");
            }
            if (!admit_point(now)) return drop("rate");
            if (!writer_->append(tag, {step, wall, round_significant(v, bounds_.digits)}).ok()) {
              return drop("unwritable");
            }
            last_step_[tag] = step;
            ++points_;
          });
      return;
    case Kind::kConfig: {
      Json kept = Json::object();
      for (const auto& [k, v] : r.config.items()) {
        if (bounds_.vocabulary && !vocabulary_config(k)) {
          drop("config name not in the vocabulary");
        } else if (v.is_string() && !bounds_.text_config) {
          drop("config text");
        } else if (!admit_point(now)) {  // a value is a point's worth of the rate
          drop("rate");
        } else if (v.is_number() && bounds_.digits > 0) {
          kept[k] = round_significant(v.get<double>(), bounds_.digits);
        } else {
          kept[k] = v;
        }
      }
      if (kept.empty()) return;
      r.config = kept;
      return keep(r);
    }
    case Kind::kNote: {
      std::string text = r.text;
      std::replace(text.begin(), text.end(), '\n', ' ');
      std::replace(text.begin(), text.end(), '\r', ' ');
      r.text = text;  // one line, filtered or not
      if (!admit_point(now)) return drop("rate");
      if (!filter_) return keep(r);
      std::string passed;
      bool any = false;
      filter_->process_text(text, [&](std::string_view s) {
        passed.assign(s);
        any = true;
      });
      if (!any || passed.empty()) return drop("note withheld");
      r.text = passed;
      return keep(r);
    }
    case Kind::kProgress:
      if (!admit_progress(now)) return drop("progress rate");
      return keep(r);
    case Kind::kFinish:
      return keep(r);
  }
}

Status MetricsChannel::flush() { return writer_ ? writer_->flush() : Status(); }

Json MetricsChannel::stats() const {
  Json d = Json::object();
  for (const auto& [k, v] : dropped_) d[k] = v;
  return {{"points", points_}, {"records", records_}, {"dropped", d}};
}

}  // namespace jz::exec
