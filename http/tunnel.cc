#include "http/tunnel.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jz::http {

namespace {

bool hop_by_hop(std::string_view name) {
  for (const char* h : {"Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
                        "Proxy-Authorization", "Proxy-Authenticate", "Proxy-Connection"}) {
    if (iequals(name, h)) return true;
  }
  return false;
}

bool named_in(std::string_view name, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (iequals(name, n)) return true;
  }
  return false;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// A Cookie header's value without the cookies named in `drop`.
std::string without_cookies(std::string_view value, const std::vector<std::string>& drop) {
  std::string out;
  while (!value.empty()) {
    const size_t semi = value.find(';');
    std::string_view pair = trim(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
    if (pair.empty()) continue;
    const std::string_view name = trim(pair.substr(0, pair.find('=')));
    bool dropped = false;
    for (const auto& d : drop) dropped = dropped || name == d;
    if (dropped) continue;
    if (!out.empty()) out += "; ";
    out += pair;
  }
  return out;
}

}  // namespace

std::string proxy_request_head(const Request& req, std::string_view target,
                               const std::vector<std::string>& drop,
                               const std::vector<std::string>& drop_cookies, bool upgrade) {
  std::string out;
  out.reserve(512 + req.body.size());
  out += req.method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
  std::string cookies;
  for (const auto& [k, v] : req.headers.fields()) {
    if (hop_by_hop(k) || iequals(k, "Expect") || iequals(k, "Content-Length") ||
        iequals(k, "X-Forwarded-For") || named_in(k, drop)) {
      continue;
    }
    if (iequals(k, "Cookie")) {
      std::string kept = without_cookies(v, drop_cookies);
      if (kept.empty()) continue;
      cookies += cookies.empty() ? "" : "; ";
      cookies += kept;
      continue;
    }
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!cookies.empty()) out += "Cookie: " + cookies + "\r\n";
  if (!req.remote_addr.empty()) out += "X-Forwarded-For: " + req.remote_addr + "\r\n";
  if (upgrade) {
    out += "Connection: Upgrade\r\nUpgrade: websocket\r\n";
  } else {
    out += "Connection: close\r\n";
  }
  const bool has_body =
      !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (has_body) out += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  out += "\r\n";
  out += req.body;
  return out;
}

std::string proxy_response_head(std::string_view head, const Headers& set) {
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return "";
  head.remove_suffix(2);  // each line now ends in CRLF
  size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.x NNN reason"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ') ||
      status_line.find_first_of("\r\n") != std::string_view::npos) {
    return "";
  }
  for (size_t i = 9; i < 12; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') return "";
  }
  const bool upgraded = status_line.substr(9, 3) == "101";
  std::string out(status_line);
  out += "\r\n";
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const size_t colon = line.find(':');
    // A folded line (leading space) or one without a name is not HTTP/1.1 any more.
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' ||
        line.front() == '\t' || line.find('\n') != std::string_view::npos ||
        line.find('\r') != std::string_view::npos) {
      return "";
    }
    const std::string_view name = line.substr(0, colon);
    if (upgraded && (iequals(name, "Connection") || iequals(name, "Upgrade"))) {
      out += line;
      out += "\r\n";
      continue;
    }
    if (hop_by_hop(name) && !iequals(name, "Transfer-Encoding")) continue;
    if (set.has(name)) continue;
    out += line;
    out += "\r\n";
  }
  for (const auto& [k, v] : set.fields()) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!upgraded) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

int WsFrameCounter::feed(std::string_view bytes) {
  int messages = 0;
  while (!failed_) {
    if (skip_ > 0) {  // the current frame's payload
      if (bytes.empty()) break;
      const uint64_t n = std::min<uint64_t>(skip_, bytes.size());
      skip_ -= n;
      bytes.remove_prefix(n);
      continue;
    }
    // A frame head: 2 bytes, then 0, 2 or 8 bytes of length, then 4 of mask when masked.
    size_t need = 2;
    if (head_.size() >= 2) {
      const uint8_t len7 = static_cast<uint8_t>(head_[1]) & 0x7F;
      need += (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
    }
    if (head_.size() < need) {
      if (bytes.empty()) break;
      const size_t take = std::min(need - head_.size(), bytes.size());
      head_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      continue;
    }
    const uint8_t len7 = static_cast<uint8_t>(head_[1]) & 0x7F;
    uint64_t len = len7;
    if (len7 >= 126) {
      len = 0;
      for (size_t i = 0; i < (len7 == 126 ? 2u : 8u); ++i) {
        len = (len << 8) | static_cast<uint8_t>(head_[2 + i]);
      }
    }
    const uint8_t opcode = static_cast<uint8_t>(head_[0]) & 0x0F;
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xA || (len >> 63) != 0) {
      failed_ = true;
      break;
    }
    if (opcode == 0x1 || opcode == 0x2) ++messages;
    skip_ = len;
    head_.clear();
  }
  return messages;
}

namespace {

using Clock = std::chrono::steady_clock;

// One direction's bytes in flight.
struct Pipe {
  std::vector<char> buf;
  size_t begin = 0;
  size_t end = 0;
  bool eof = false;   // the sender finished
  bool shut = false;  // the EOF was passed on (shutdown of the receiver's write side)
  size_t used() const { return end - begin; }
  size_t room() const { return buf.size() - end; }
  void compact() {
    if (begin == end) {
      begin = end = 0;
    } else if (begin > buf.size() / 2) {
      std::memmove(buf.data(), buf.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
  }
};

struct Tunnel {
  TunnelSpec spec;
  Pipe up;               // client -> backend
  Pipe down;             // backend -> client
  std::string pre_up;    // to_backend, then bytes passed on as they were
  std::string pre_down;  // to_client, then the rewritten head
  std::string head;      // the backend's answer head, until complete
  bool head_done = false;
  bool websocket = false;
  WsFrameCounter frames_up;
  WsFrameCounter frames_down;
  Clock::time_point last_byte{};
  Clock::time_point last_report{};
  uint32_t client_events = 0;
  uint32_t backend_events = 0;
  uint64_t key = 0;
};

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK; }

}  // namespace

class TunnelPool::Impl {
 public:
  explicit Impl(TunnelOptions o) : opt_(o) {
    if (opt_.threads < 1) opt_.threads = 1;
    if (opt_.buffer_bytes < 4096) opt_.buffer_bytes = 4096;
  }
  ~Impl() { stop(); }

  Status start() {
    std::lock_guard lock(start_mu_);
    if (started_) return {};
    if (stopped_) return Status::failed_precondition("the tunnel pool was stopped");
    for (int i = 0; i < opt_.threads; ++i) {
      auto w = std::make_unique<Worker>();
      w->epfd = ::epoll_create1(EPOLL_CLOEXEC);
      w->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (w->epfd < 0 || w->wake_fd < 0) {
        return Status::internal(std::string("cannot create the tunnel threads' descriptors: ") +
                                errno_message(errno));
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = 0;
      ::epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev);
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
      Worker* raw = w.get();
      raw->thread = std::thread([this, raw] { loop(*raw); });
    }
    started_ = true;
    return {};
  }

  Status open(TunnelSpec spec) {
    auto refuse = [&spec](Status s) {
      if (spec.client_fd >= 0) ::close(spec.client_fd);
      if (spec.backend_fd >= 0) ::close(spec.backend_fd);
      if (spec.on_close) spec.on_close();
      return s;
    };
    if (auto s = start(); !s.ok()) return refuse(s);
    if (stopping_) return refuse(Status::unavailable("the server is shutting down"));
    if (open_.fetch_add(1) >= opt_.max_tunnels) {
      open_.fetch_sub(1);
      return refuse(Status::resource_exhausted("the proxy holds its limit of " +
                                               std::to_string(opt_.max_tunnels) +
                                               " open connections; retry shortly"));
    }
    ++opened_;
    for (int fd : {spec.client_fd, spec.backend_fd}) {
      const int flags = ::fcntl(fd, F_GETFL);
      if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    auto t = std::make_unique<Tunnel>();
    t->spec = std::move(spec);
    t->pre_up = std::move(t->spec.to_backend);
    t->pre_down = std::move(t->spec.to_client);
    t->up.buf.resize(opt_.buffer_bytes);
    t->down.buf.resize(opt_.buffer_bytes);
    t->last_byte = Clock::now();
    Worker& w = *workers_[next_worker_++ % workers_.size()];
    {
      std::lock_guard lock(w.mu);
      w.incoming.push_back(std::move(t));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(w.wake_fd, &one, sizeof one);
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(start_mu_);
      stopped_ = true;
    }
    if (stopping_.exchange(true)) return;
    for (auto& w : workers_) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(w->wake_fd, &one, sizeof one);
    }
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
      ::close(w->epfd);
      ::close(w->wake_fd);
    }
  }

  TunnelStats stats() const {
    TunnelStats s;
    s.open = open_;
    s.opened = opened_;
    s.bytes_to_client = to_client_;
    s.bytes_to_backend = to_backend_;
    return s;
  }

 private:
  struct Worker {
    int epfd = -1;
    int wake_fd = -1;
    std::thread thread;
    std::mutex mu;
    std::vector<std::unique_ptr<Tunnel>> incoming;
    std::unordered_map<uint64_t, std::unique_ptr<Tunnel>> tunnels;
    uint64_t next_key = 1;
  };

  // epoll tags: key * 2 (client end) and key * 2 + 1 (backend end); 0 is the wake fd.
  void loop(Worker& w) {
    epoll_event evs[64];
    auto last_scan = Clock::now();
    while (!stopping_) {
      const int n = ::epoll_wait(w.epfd, evs, 64, 1000);
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = evs[i].data.u64;
        if (tag == 0) {
          uint64_t v = 0;
          [[maybe_unused]] ssize_t r = ::read(w.wake_fd, &v, sizeof v);
          adopt(w);
          continue;
        }
        auto it = w.tunnels.find(tag / 2);
        if (it == w.tunnels.end()) continue;
        const bool backend = (tag & 1) != 0;
        const uint32_t ev = evs[i].events;
        if (!pump(*it->second, backend ? 0 : ev, backend ? ev : 0)) {
          finish(w, it);
        } else {
          arm(w, *it->second);
        }
      }
      const auto now = Clock::now();
      if (now - last_scan >= std::chrono::seconds(1)) {
        last_scan = now;
        for (auto it = w.tunnels.begin(); it != w.tunnels.end();) {
          const auto limit =
              it->second->websocket ? opt_.websocket_idle_timeout : opt_.idle_timeout;
          if (now - it->second->last_byte >= limit) {
            it = finish(w, it);
          } else {
            ++it;
          }
        }
      }
    }
    adopt(w);
    while (!w.tunnels.empty()) finish(w, w.tunnels.begin());
  }

  void adopt(Worker& w) {
    std::vector<std::unique_ptr<Tunnel>> in;
    {
      std::lock_guard lock(w.mu);
      in.swap(w.incoming);
    }
    for (auto& t : in) {
      const uint64_t key = w.next_key++;
      t->key = key;
      Tunnel& ref = *t;
      auto [it, ok] = w.tunnels.emplace(key, std::move(t));
      epoll_event ev{};
      ev.data.u64 = key * 2;
      ::epoll_ctl(w.epfd, EPOLL_CTL_ADD, ref.spec.client_fd, &ev);
      ev.data.u64 = key * 2 + 1;
      ::epoll_ctl(w.epfd, EPOLL_CTL_ADD, ref.spec.backend_fd, &ev);
      constexpr uint32_t kAll = EPOLLIN | EPOLLOUT;
      if (stopping_ || !pump(ref, kAll, kAll)) {
        finish(w, it);
      } else {
        arm(w, ref);
      }
    }
  }

  using Iter = std::unordered_map<uint64_t, std::unique_ptr<Tunnel>>::iterator;

  Iter finish(Worker& w, Iter it) {
    Tunnel& t = *it->second;
    ::epoll_ctl(w.epfd, EPOLL_CTL_DEL, t.spec.client_fd, nullptr);
    ::epoll_ctl(w.epfd, EPOLL_CTL_DEL, t.spec.backend_fd, nullptr);
    ::close(t.spec.client_fd);
    ::close(t.spec.backend_fd);
    if (t.spec.on_close) {
      try {
        t.spec.on_close();
      } catch (...) {
        // The tunnel is gone either way.
      }
    }
    --open_;
    return w.tunnels.erase(it);
  }

  // What each end should wait for, from the state of the pipes.
  void arm(Worker& w, Tunnel& t) {
    uint32_t client = 0;
    uint32_t backend = 0;
    // Reading: while there is room and the sender has not finished.
    if (t.spec.duplex && !t.up.eof && t.up.room() > 0 && t.pre_up.empty()) client |= EPOLLIN;
    if (!t.down.eof && t.down.room() > 0) backend |= EPOLLIN;
    // Writing: while bytes wait.
    if (!t.pre_up.empty() || t.up.used() > 0) backend |= EPOLLOUT;
    if (!t.pre_down.empty() || (t.head_done && t.down.used() > 0)) client |= EPOLLOUT;
    // A plain request's client is watched for hanging up only.
    client |= EPOLLRDHUP;
    if (client != t.client_events) {
      epoll_event ev{};
      ev.events = client;
      ev.data.u64 = t.key * 2;
      ::epoll_ctl(w.epfd, EPOLL_CTL_MOD, t.spec.client_fd, &ev);
      t.client_events = client;
    }
    if (backend != t.backend_events) {
      epoll_event ev{};
      ev.events = backend;
      ev.data.u64 = t.key * 2 + 1;
      ::epoll_ctl(w.epfd, EPOLL_CTL_MOD, t.spec.backend_fd, &ev);
      t.backend_events = backend;
    }
  }

  // Sends what waits in `pre` then `pipe` to `fd`. false: the receiver is gone.
  bool drain(int fd, std::string& pre, Pipe& pipe, std::atomic<int64_t>& counter,
             bool pipe_ready = true) {
    while (!pre.empty()) {
      const ssize_t n = ::send(fd, pre.data(), pre.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pre.erase(0, static_cast<size_t>(n));
        counter += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && would_block();
    }
    while (pipe_ready && pipe.used() > 0) {
      const ssize_t n = ::send(fd, pipe.buf.data() + pipe.begin, pipe.used(), MSG_NOSIGNAL);
      if (n > 0) {
        pipe.begin += static_cast<size_t>(n);
        counter += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && would_block()) break;
      return false;
    }
    if (!pipe_ready) return true;
    pipe.compact();
    if (pipe.eof && pipe.used() == 0 && pre.empty() && !pipe.shut) {
      ::shutdown(fd, SHUT_WR);
      pipe.shut = true;
    }
    return true;
  }

  // Reads what `fd` has into `pipe` (one recv). false: an error (not EOF, which sets
  // pipe.eof).
  static bool fill(int fd, Pipe& pipe, size_t& got) {
    got = 0;
    while (!pipe.eof && pipe.room() > 0) {
      const ssize_t n = ::recv(fd, pipe.buf.data() + pipe.end, pipe.room(), 0);
      if (n > 0) {
        pipe.end += static_cast<size_t>(n);
        got += static_cast<size_t>(n);
        break;  // once per event (level-triggered: the rest comes back)
      }
      if (n == 0) {
        pipe.eof = true;
        break;
      }
      if (errno == EINTR) continue;
      return would_block();
    }
    return true;
  }

  void report(Tunnel& t, TunnelActivity::Kind kind) {
    if (!t.spec.on_activity) return;
    const auto now = Clock::now();
    if (kind == TunnelActivity::Kind::kMessage) {
      if (t.last_report != Clock::time_point{} && now - t.last_report < std::chrono::seconds(1)) {
        return;
      }
      t.last_report = now;
    }
    try {
      t.spec.on_activity(TunnelActivity{kind});
    } catch (...) {
      // Activity is advice.
    }
  }

  // Moves the bytes the events allow (all = both ends, both ways: a new tunnel). Each
  // socket is read once per event: epoll is level-triggered, so what is left comes back.
  // false: the tunnel is done.
  bool pump(Tunnel& t, uint32_t client_ev, uint32_t backend_ev) {
    constexpr uint32_t kIn = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    // Client -> backend.
    if (!drain(t.spec.backend_fd, t.pre_up, t.up, to_backend_)) return false;
    // A full buffer paused reading the client; the backend taking bytes resumes it.
    const bool read_client = (client_ev & kIn) || (backend_ev & EPOLLOUT);
    if (t.spec.duplex && t.pre_up.empty() && read_client) {
      const size_t before = t.up.end;
      size_t got = 0;
      if (!fill(t.spec.client_fd, t.up, got)) return false;
      if (got > 0) {
        t.last_byte = Clock::now();
        if (t.websocket && t.frames_up.feed(std::string_view(t.up.buf.data() + before, got)) > 0) {
          report(t, TunnelActivity::Kind::kMessage);
        }
      }
      if (got > 0 || (t.up.eof && !t.up.shut)) {
        if (!drain(t.spec.backend_fd, t.pre_up, t.up, to_backend_)) return false;
      }
    } else if (!t.spec.duplex && (client_ev & kIn)) {
      // Only a hang-up matters: the answer is for nobody then.
      char probe;
      const ssize_t n = ::recv(t.spec.client_fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return false;
      if (n > 0) {
        // Bytes past the request: discarded (never forwarded); read them off so the
        // socket does not stay readable.
        char sink[4096];
        while (::recv(t.spec.client_fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
      }
    }
    // Backend -> client.
    if (!drain(t.spec.client_fd, t.pre_down, t.down, to_client_, t.head_done)) return false;
    const bool read_backend = (backend_ev & kIn) || (client_ev & EPOLLOUT);
    if (read_backend) {
      const size_t before = t.down.end;
      size_t got = 0;
      if (!fill(t.spec.backend_fd, t.down, got)) return false;
      if (got > 0) {
        t.last_byte = Clock::now();
        if (!t.head_done) {
          if (!take_head(t)) return false;
        } else if (t.websocket &&
                   t.frames_down.feed(std::string_view(t.down.buf.data() + before, got)) > 0) {
          report(t, TunnelActivity::Kind::kMessage);
        }
      } else if (t.down.eof && !t.head_done) {
        return false;  // the backend hung up before answering
      }
      if (!drain(t.spec.client_fd, t.pre_down, t.down, to_client_, t.head_done)) return false;
    }
    // Done when what the backend sent is out and it finished: the end of a plain answer,
    // or of a WebSocket (whose server closes the connection after the closing handshake;
    // nothing the client sends later could be read).
    return !(t.down.eof && t.down.used() == 0 && t.pre_down.empty());
  }

  // The answer head is in down's buffer (once complete): rewrite it into pre_down.
  bool take_head(Tunnel& t) {
    std::string_view have(t.down.buf.data() + t.down.begin, t.down.used());
    const size_t end = have.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (have.size() >= opt_.max_head_bytes || t.down.room() == 0 || t.down.eof) return false;
      return true;
    }
    std::string head(have.substr(0, end + 4));
    t.down.begin += end + 4;
    t.head_done = true;
    t.websocket = head.rfind("HTTP/1.1 101", 0) == 0;
    report(t, TunnelActivity::Kind::kResponse);
    if (t.spec.rewrite_head) {
      head = t.spec.rewrite_head(head);
      if (head.empty()) return false;
    }
    t.pre_down += head;
    // Frames that came with the head.
    if (t.websocket && t.down.used() > 0 &&
        t.frames_down.feed(std::string_view(t.down.buf.data() + t.down.begin, t.down.used())) > 0) {
      report(t, TunnelActivity::Kind::kMessage);
    }
    if (!t.websocket && t.spec.duplex) {
      // Not upgraded: nothing more from the client is the backend's business.
      t.up.eof = true;
    }
    return true;
  }

  TunnelOptions opt_;
  std::mutex start_mu_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<size_t> next_worker_{0};
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> opened_{0};
  std::atomic<int64_t> to_client_{0};
  std::atomic<int64_t> to_backend_{0};
};

TunnelPool::TunnelPool(TunnelOptions options) : impl_(std::make_unique<Impl>(options)) {}
TunnelPool::~TunnelPool() = default;
Status TunnelPool::start() { return impl_->start(); }
Status TunnelPool::open(TunnelSpec spec) { return impl_->open(std::move(spec)); }
void TunnelPool::stop() { impl_->stop(); }
TunnelStats TunnelPool::stats() const { return impl_->stats(); }

}  // namespace jz::http
