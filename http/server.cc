#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jz::http {

namespace {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kTimerTag = 2;
constexpr uint64_t kReadyTag = 3;
constexpr uint64_t kFirstConnId = 16;
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr size_t kReadChunk = 16 << 10;
constexpr size_t kMaxPipelined = 64 << 10;  // bytes buffered behind a request in progress
constexpr int kShards = 64;
// An upgraded connection reads at most this much ahead of its session.
constexpr size_t kWsReadBudget = 256 << 10;

int64_t ticks(Time t) { return t.time_since_epoch().count(); }

// A peer's address as text ("127.0.0.1", "::1") and port.
void peer_of(const sockaddr_storage& ss, std::string& addr, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  addr = buf;
}

std::string hex(size_t n) {
  char buf[32];
  int len = std::snprintf(buf, sizeof buf, "%zx", n);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace

// An upgraded connection's WebSocket state (only such connections carry one).
struct WsConn {
  std::shared_ptr<WebSocketSession> session;
  std::shared_ptr<WebSocketChannel> channel;
  WsDecoder decoder;
  std::deque<WsMessage> inbox;  // decoded, waiting for the peer to take our answers
  Time alive{};                 // the peer last sent, or took bytes
  Time ping_sent{};             // a ping awaits its pong since then; {} when none does
  Time close_by{};              // after our close frame: the peer's answer is due by then
  uint16_t code = 1006;         // for on_close
  std::string reason;
  bool sent_close = false;
  bool got_close = false;
  bool failed = false;  // a protocol error: close once our close frame is out
  WsError fail_with;
  explicit WsConn(size_t max_message) : decoder(max_message) {}
};

struct Conn {
  enum class State { kRead, kHandle, kWrite, kStream, kWebSocket, kClosed };
  std::mutex mu;
  std::atomic<int64_t> deadline{INT64_MAX};  // steady ticks; read by the timer scan
  uint64_t id = 0;
  std::string peer;

  // Reading.
  std::string in;
  size_t scanned = 0;  // where the search for the head's end resumes
  Request req;
  uint64_t length = 0;
  std::optional<ChunkedDecoder> chunked;

  // Writing.
  std::string out;
  size_t out_off = 0;
  std::shared_ptr<Stream> stream;
  Time stream_wake{};
  std::shared_ptr<WebSocketSession> upgrade;  // becomes `ws` once the 101 is written
  std::unique_ptr<WsConn> ws;

  // The small members together, so that they pack.
  int fd = -1;
  int peer_port = 0;
  int served = 0;
  State state = State::kRead;
  Framing framing = Framing::kNone;
  std::atomic<bool> pending{false};  // a tick or wake came while mu was held
  std::atomic<bool> woken{false};
  bool have_head = false;
  bool started = false;  // a byte of the current request arrived
  bool peer_closed = false;
  bool close_after = false;
  bool stream_chunked = false;
};

class Server::Impl {
 public:
  Impl(ServerOptions o, Handler h, InlineHandler ih, ErrorRenderer er)
      : opt_(std::move(o)), handler_(std::move(h)), inline_(std::move(ih)), errors_(std::move(er)) {
    if (opt_.threads < 2) opt_.threads = 2;
    limits_.max_body = std::max(opt_.max_body_bytes, opt_.large_body_bytes);
  }

  size_t body_limit(const Request& r) const {
    if (opt_.large_body_bytes > 0 && !opt_.large_body_prefix.empty() &&
        r.path.rfind(opt_.large_body_prefix, 0) == 0) {
      return std::max(opt_.max_body_bytes, opt_.large_body_bytes);
    }
    return opt_.max_body_bytes;
  }

  ~Impl() {
    for (auto& shard : shards_) {
      for (auto& [id, c] : shard.conns) {
        if (c->ws) c->ws->channel->mark_closed();
        if (c->fd >= 0) ::close(c->fd);
      }
    }
    for (int fd : {listen_fd_, epfd_, timer_fd_, ready_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status bind() {
    // Each connection is a descriptor: lift the soft limit to the hard one.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(opt_.port);
    const std::string where = opt_.host + ":" + port;
    if (int rc = ::getaddrinfo(opt_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return Status::invalid_argument("cannot listen on " + where + ": " + gai_strerror(rc));
    }
    int err = 0;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        err = errno;
        continue;
      }
      // SO_REUSEADDR lets a restart bind at once; no SO_REUSEPORT, so a second server
      // on the same port fails instead of sharing it.
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
        listen_fd_ = fd;
        break;
      }
      err = errno;
      ::close(fd);
    }
    ::freeaddrinfo(res);
    if (listen_fd_ < 0) {
      return Status::unavailable("cannot listen on " + where + ": " + errno_message(err) +
                                 " (is another server using the port? choose another with "
                                 "--listen HOST:PORT)");
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    std::string addr;
    peer_of(ss, addr, port_);
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ready_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
    if (epfd_ < 0 || timer_fd_ < 0 || ready_fd_ < 0) {
      return Status::internal("cannot create the server's event descriptors: " +
                              errno_message(errno));
    }
    itimerspec ts{};
    ts.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    ts.it_value = ts.it_interval;
    ::timerfd_settime(timer_fd_, 0, &ts, nullptr);
    add(listen_fd_, kListenTag, EPOLLIN | EPOLLONESHOT);
    add(timer_fd_, kTimerTag, EPOLLIN | EPOLLONESHOT);
    add(ready_fd_, kReadyTag, EPOLLIN);  // level: every queued item wakes a thread
    return {};
  }

  int port() const { return port_; }

  Status run() {
    if (listen_fd_ < 0) return Status::failed_precondition("bind() the server before run()");
    std::vector<std::thread> threads;
    for (int i = 1; i < opt_.threads; ++i) threads.emplace_back([this] { loop(); });
    loop();
    for (auto& t : threads) t.join();
    return {};
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    stop_at_ = ticks(Clock::now() + opt_.stop_grace);
    // The listener stops at the next tick (closing it here could race with an accept).
  }

  bool stopping() const { return stopping_; }

  void wake(uint64_t id) {
    auto c = find(id);
    if (!c) return;
    c->woken = true;
    make_ready(std::move(c));
  }

  ServerStats stats() const {
    ServerStats s;
    s.connections = connections_;
    s.streams = streams_;
    s.websockets = websockets_;
    s.busy_threads = busy_;
    std::lock_guard lock(backlog_mu_);
    s.backlog = static_cast<int64_t>(backlog_.size());
    return s;
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<uint64_t, std::shared_ptr<Conn>> conns;
  };

  void add(int fd, uint64_t tag, uint32_t events) const {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }
  void rearm(int fd, uint64_t tag, uint32_t events) const {
    epoll_event ev{};
    ev.events = events | EPOLLONESHOT;
    ev.data.u64 = tag;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }

  Shard& shard(uint64_t id) { return shards_[id % kShards]; }
  std::shared_ptr<Conn> find(uint64_t id) {
    Shard& s = shard(id);
    std::lock_guard lock(s.mu);
    auto it = s.conns.find(id);
    return it == s.conns.end() ? nullptr : it->second;
  }

  // ---- the threads ----

  void loop() {
    // One event per wait: a thread that takes several and blocks in a handler would hold
    // the others' connections with it.
    epoll_event ev[1];
    while (true) {
      if (stopping_ && connections_ == 0 && !listening_) break;
      const int n = ::epoll_wait(epfd_, ev, 1, 200);
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = ev[i].data.u64;
        if (tag == kListenTag) {
          accept_all();
        } else if (tag == kTimerTag) {
          tick();
        } else if (tag == kReadyTag) {
          take_ready();
        } else if (auto c = find(tag)) {
          serve(c, ev[i].events);
        }
      }
      run_backlog();
    }
  }

  void accept_all() {
    while (listening_) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // EMFILE and the like: try again at the next tick rather than spin.
        if (errno != EAGAIN) accept_paused_ = true;
        break;
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      auto c = std::make_shared<Conn>();
      c->id = next_id_++;
      c->fd = fd;
      peer_of(ss, c->peer, c->peer_port);
      std::string refusal;
      if (connections_ >= opt_.max_connections) {
        refusal = "the server holds its limit of " + std::to_string(opt_.max_connections) +
                  " connections (server.max_connections); retry shortly";
      } else if (!count_client(c->peer, +1)) {
        refusal = "this address holds its limit of " +
                  std::to_string(opt_.max_connections_per_client) +
                  " connections (server.max_connections_per_client); close idle ones";
      }
      if (!refusal.empty()) {
        Response r = render_error(503, refusal, nullptr);
        r.headers.set("Retry-After", "1");
        std::string bytes = serialize(r, 1, true, false);
        [[maybe_unused]] ssize_t w = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      ++connections_;
      c->deadline = ticks(Clock::now() + opt_.header_timeout);
      {
        Shard& s = shard(c->id);
        std::lock_guard lock(s.mu);
        s.conns.emplace(c->id, c);
      }
      add(fd, c->id, EPOLLIN | EPOLLRDHUP | EPOLLONESHOT);
    }
    if (listening_ && !accept_paused_) rearm(listen_fd_, kListenTag, EPOLLIN);
  }

  // Counts a client's connections; false when `delta` would pass its limit.
  bool count_client(const std::string& peer, int delta) {
    std::lock_guard lock(clients_mu_);
    int& n = clients_[peer];
    if (delta > 0 && n >= opt_.max_connections_per_client) {
      if (n == 0) clients_.erase(peer);
      return false;
    }
    n += delta;
    if (n <= 0) clients_.erase(peer);
    return true;
  }

  void tick() {
    uint64_t expirations = 0;
    [[maybe_unused]] ssize_t r = ::read(timer_fd_, &expirations, sizeof expirations);
    const int64_t now = ticks(Clock::now());
    if (stopping_ && listening_) {
      listening_ = false;
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    }
    if (accept_paused_ && listening_) {
      accept_paused_ = false;
      rearm(listen_fd_, kListenTag, EPOLLIN);
    }
    const bool force = stopping_ && now >= stop_at_;
    std::vector<std::shared_ptr<Conn>> due;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      for (auto& [id, c] : s.conns) {
        if (stopping_ || force || c->deadline.load() <= now) due.push_back(c);
      }
    }
    rearm(timer_fd_, kTimerTag, EPOLLIN);
    for (auto& c : due) {
      if (force) c->woken = true;
      make_ready(std::move(c));
    }
  }

  void make_ready(std::shared_ptr<Conn> c) {
    {
      std::lock_guard lock(ready_mu_);
      ready_.push_back(std::move(c));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(ready_fd_, &one, sizeof one);
  }

  void take_ready() {
    uint64_t one = 0;
    if (::read(ready_fd_, &one, sizeof one) != sizeof one) return;
    std::shared_ptr<Conn> c;
    {
      std::lock_guard lock(ready_mu_);
      if (ready_.empty()) return;
      c = std::move(ready_.front());
      ready_.pop_front();
    }
    serve(c, 0);
  }

  // Serves a connection's event (0: a tick or a wake). No thread waits for another: one
  // that finds the connection held leaves a note (pending) for the holder, which looks
  // again after it lets go, so no tick or wake is lost; a socket event it drops comes
  // back, since every step ends by re-arming the socket (or closing it).
  void serve(const std::shared_ptr<Conn>& c, uint32_t events) {
    std::unique_lock lock(c->mu, std::defer_lock);
    if (!lock.try_lock()) {
      c->pending = true;
      if (!lock.try_lock()) return;
    }
    while (true) {
      c->pending = false;
      step(*c, events);
      events = 0;
      lock.unlock();
      if (!c->pending || !lock.try_lock()) break;
    }
  }

  // ---- one connection's state machine; c.mu is held ----

  void step(Conn& c, uint32_t events) {
    if (c.state == Conn::State::kClosed) return;
    if (c.state == Conn::State::kHandle) return;  // queued: the backlog runs it
    const Time now = Clock::now();
    if (events & EPOLLERR) return close(c);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
      if (!read_some(c)) return close(c);
    }
    const bool due = c.deadline.load() <= ticks(now);
    if (stopping_ && ticks(now) >= stop_at_) return close(c);
    while (true) {
      switch (c.state) {
        case Conn::State::kRead: {
          if (stopping_ && !c.started && c.in.empty()) return close(c);
          int status = 0;
          std::string why;
          if (!advance_read(c, status, why)) {
            if (status) return refuse(c, status, why);
            if (c.peer_closed) return close(c);
            if (due && c.deadline.load() <= ticks(Clock::now())) {
              if (!c.started) return close(c);  // idle keep-alive or a silent client
              return refuse(c, 408,
                            c.have_head ? "the request body stopped arriving (server.read_timeout)"
                                        : "the request head did not arrive in time");
            }
            return arm(c, EPOLLIN | EPOLLRDHUP);
          }
          if (!dispatch(c)) return;  // queued for a thread
          break;
        }
        case Conn::State::kWrite: {
          if (!flush(c)) return close(c);
          if (c.out_off < c.out.size()) {
            if (due && c.deadline.load() <= ticks(Clock::now())) return close(c);
            return arm(c, EPOLLOUT);
          }
          c.out.clear();
          c.out_off = 0;
          if (c.upgrade) {
            open_websocket(c);
            break;
          }
          if (c.stream) {
            c.state = Conn::State::kStream;
            break;
          }
          if (c.close_after || c.peer_closed) return close(c);
          next_request(c);
          break;
        }
        case Conn::State::kStream: {
          if (c.peer_closed) return close(c);
          const Time t = Clock::now();
          if (stopping_) {
            end_stream(c);
            c.close_after = true;
            c.state = Conn::State::kWrite;
            break;
          }
          if (!c.woken.exchange(false) && t < c.stream_wake) {
            c.deadline = ticks(c.stream_wake);
            return arm(c, EPOLLIN | EPOLLRDHUP);
          }
          std::string chunk;
          Stream::Step s;
          try {
            s = c.stream->next(chunk);
          } catch (...) {
            s.done = true;
            c.close_after = true;
          }
          append_chunk(c, chunk);
          if (s.done) {
            end_stream(c);
          } else {
            c.stream_wake = s.wake_at;
          }
          c.state = Conn::State::kWrite;
          c.deadline = ticks(Clock::now() + opt_.write_timeout);
          break;
        }
        case Conn::State::kWebSocket:
          return step_websocket(c);
        case Conn::State::kHandle:
        case Conn::State::kClosed:
          return;
      }
    }
  }

  // ---- upgraded connections ----

  void open_websocket(Conn& c) {
    auto w = std::make_unique<WsConn>(opt_.ws_max_message_bytes);
    w->session = std::move(c.upgrade);
    const uint64_t id = c.id;
    w->channel =
        std::make_shared<WebSocketChannel>(opt_.ws_max_queued_bytes, [this, id] { wake(id); });
    w->alive = Clock::now();
    c.ws = std::move(w);
    c.state = Conn::State::kWebSocket;
    ++websockets_;
    // on_open's sends are taken by the step that follows.
    c.ws->channel->begin_turn();
    try {
      c.ws->session->on_open(c.ws->channel);
    } catch (...) {
      send_close(c, 1011, "internal error");
    }
  }

  // Queues our close frame; the connection ends when the peer answers (or has already
  // sent its own), or at close_by.
  void send_close(Conn& c, uint16_t code, std::string_view reason) const {
    WsConn& w = *c.ws;
    if (w.sent_close) return;
    w.sent_close = true;
    w.close_by = Clock::now() + opt_.ws_close_timeout;
    if (!w.got_close) {
      w.code = code;
      w.reason = std::string(reason);
    }
    c.out += ws_frame(WsOpcode::kClose, ws_close_payload(code, reason));
  }

  void deliver(Conn& c, WsMessage& m) {
    WsConn& w = *c.ws;
    switch (m.opcode) {
      case WsOpcode::kPing:
        if (!w.sent_close) c.out += ws_frame(WsOpcode::kPong, m.payload);
        return;
      case WsOpcode::kPong:
        return;  // liveness was noted when the bytes came
      case WsOpcode::kClose: {
        w.got_close = true;
        const uint16_t code = ws_close_code(m.payload);  // 1005: none in the frame
        if (!w.sent_close) {
          w.code = code;
          w.reason = m.payload.size() > 2 ? m.payload.substr(2) : "";
          send_close(c, code == 1005 ? 1000 : code, "");
        }
        return;
      }
      default:
        if (w.sent_close) return;  // closing: the session hears no more
        try {
          w.session->on_message(m.opcode, std::move(m.payload));
        } catch (...) {
          send_close(c, 1011, "internal error");
        }
        return;
    }
  }

  void step_websocket(Conn& c) {
    WsConn& w = *c.ws;
    Time now = Clock::now();
    const size_t backlog = c.out.size() - c.out_off;  // left unsent when the socket was full
    if (!c.in.empty()) {
      w.alive = now;
      w.ping_sent = Time{};
      std::vector<WsMessage> messages;
      const auto error = w.failed ? std::nullopt : w.decoder.feed(c.in, messages);
      c.in.clear();
      for (auto& m : messages) w.inbox.push_back(std::move(m));
      if (error) {
        w.failed = true;  // the messages before the bad frame still count
        w.fail_with = *error;
      }
    }
    if (c.peer_closed) return close(c);

    // Liveness: ping a silent peer; drop one that stays silent through the ping.
    if (!w.sent_close) {
      if (w.ping_sent == Time{} && now - w.alive >= opt_.ws_ping_interval) {
        w.ping_sent = now;
        c.out += ws_frame(WsOpcode::kPing, "");
      } else if (w.ping_sent != Time{} && now - w.ping_sent >= opt_.ws_ping_interval) {
        w.reason = "the peer stopped answering pings";
        return close(c);
      }
    }

    // Messages go to the session while the peer takes what we send: one that stops
    // reading stops being served (and read from), so what it costs stays bounded.
    size_t unsent = 0;
    bool wrote = false;
    while (true) {
      w.channel->begin_turn();
      while (!w.inbox.empty() && !w.got_close &&
             w.channel->queued_bytes() < opt_.ws_max_queued_bytes) {
        WsMessage m = std::move(w.inbox.front());
        w.inbox.pop_front();
        deliver(c, m);
      }
      if (w.got_close) w.inbox.clear();  // nothing counts after a close frame
      if (w.failed && w.inbox.empty()) send_close(c, w.fail_with.close_code, w.fail_with.reason);
      if (auto asked = w.channel->take(c.out)) send_close(c, asked->code, asked->reason);
      if (stopping_) send_close(c, 1001, "the server is shutting down");
      const size_t before = c.out_off;
      if (!flush(c)) return close(c);
      wrote = wrote || c.out_off > before;
      if (c.out_off == c.out.size()) {
        c.out.clear();
        c.out_off = 0;
      }
      unsent = c.out.size() - c.out_off;
      w.channel->set_unsent(unsent);
      // More to hand over, and the socket took everything: go on.
      if (w.inbox.empty() || w.got_close || unsent > 0) break;
    }
    now = Clock::now();
    if (backlog > 0 && wrote) {  // a full socket drained: the peer reads
      w.alive = now;
      w.ping_sent = Time{};
    }
    if (w.sent_close && unsent == 0 && (w.got_close || w.failed)) return close(c);
    if (w.sent_close && now >= w.close_by) return close(c);

    const Time due = w.sent_close            ? w.close_by
                     : w.ping_sent != Time{} ? w.ping_sent + opt_.ws_ping_interval
                                             : w.alive + opt_.ws_ping_interval;
    c.deadline = ticks(due);
    uint32_t events = EPOLLRDHUP;
    // Back-pressure: a peer that does not take what we send is not read from.
    if (!w.got_close && !w.failed && w.inbox.empty() && unsent < opt_.ws_max_queued_bytes) {
      events |= EPOLLIN;
    }
    if (unsent > 0) events |= EPOLLOUT;
    arm(c, events);
  }

  // Reads what the socket holds. false: the connection is dead (reset).
  bool read_some(Conn& c) const {
    char buf[kReadChunk];
    while (true) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (c.state == Conn::State::kWebSocket) {
          c.in.append(buf, static_cast<size_t>(n));
          if (c.in.size() >= kWsReadBudget) return true;  // the rest after the session's turn
          continue;
        }
        if (c.state == Conn::State::kRead) {
          if (!c.started) {
            c.started = true;
            c.deadline = ticks(Clock::now() + opt_.header_timeout);
          } else if (c.have_head) {
            c.deadline = ticks(Clock::now() + opt_.body_timeout);
          }
        } else if (c.in.size() + static_cast<size_t>(n) > kMaxPipelined) {
          return false;  // a client that sends while we answer, without end
        }
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) return true;
        if (c.state == Conn::State::kRead && !c.have_head && c.in.size() > opt_.max_head_bytes) {
          return true;  // advance_read answers 431
        }
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
        return true;
      }
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }

  // Moves the request in c.in forward. true: a complete request is in c.req. false: more
  // bytes are needed, or (status != 0) the request is refused.
  bool advance_read(Conn& c, int& status, std::string& why) {
    if (!c.have_head) {
      size_t end = find_head_end(c.in, c.scanned);
      if (end == 0) {
        c.scanned = c.in.size();
        // Every head line ends in CRLF; a bare LF would never find the end.
        if (c.in.size() > opt_.max_head_bytes) {
          status = 431;
          why = "the request head is larger than " + std::to_string(opt_.max_head_bytes) + " bytes";
        } else if (size_t lf = c.in.find('\n');
                   lf != std::string::npos && (lf == 0 || c.in[lf - 1] != '\r')) {
          status = 400;
          why = "a line of the request head ends in a bare LF; HTTP needs CRLF";
        }
        return false;
      }
      if (end > opt_.max_head_bytes) {
        status = 431;
        why = "the request head is larger than " + std::to_string(opt_.max_head_bytes) + " bytes";
        return false;
      }
      c.req = Request();
      c.req.remote_addr = c.peer;
      c.req.remote_port = c.peer_port;
      c.req.connection_id = c.id;
      if (auto e = parse_head(std::string_view(c.in).substr(0, end), limits_, c.req, c.framing,
                              c.length)) {
        status = e->status;
        why = e->message;
        return false;
      }
      const size_t limit = body_limit(c.req);
      if (c.framing == Framing::kLength && c.length > limit) {
        status = 413;
        why = "the request body (" + std::to_string(c.length) +
              " bytes) is larger than the limit of " + std::to_string(limit) +
              " bytes (server.max_body_bytes)";
        return false;
      }
      c.in.erase(0, end);
      c.scanned = 0;
      c.have_head = true;
      c.deadline = ticks(Clock::now() + opt_.body_timeout);
      if (c.framing == Framing::kChunked) c.chunked.emplace(limit);
      if (c.framing != Framing::kNone && iequals(c.req.header("Expect"), "100-continue") &&
          c.in.empty()) {
        static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        [[maybe_unused]] ssize_t w =
            ::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    switch (c.framing) {
      case Framing::kNone:
        return true;
      case Framing::kLength: {
        const size_t need = static_cast<size_t>(c.length) - c.req.body.size();
        const size_t take = std::min(need, c.in.size());
        c.req.body.append(c.in, 0, take);
        c.in.erase(0, take);
        return c.req.body.size() == c.length;
      }
      case Framing::kChunked: {
        size_t used = 0;
        if (auto e = c.chunked->feed(c.in, used, c.req.body)) {
          status = e->status;
          why = e->message;
          return false;
        }
        c.in.erase(0, used);
        return c.chunked->done();
      }
    }
    return false;
  }

  // A complete request: answers it (inline, or by running the handler here, or queues it
  // when this is the last thread free of handlers). false: queued.
  bool dispatch(Conn& c) {
    c.have_head = false;
    c.started = false;
    c.chunked.reset();
    ++c.served;
    if (inline_) {
      if (auto r = inline_(c.req)) {
        respond(c, std::move(*r));
        return true;
      }
    }
    if (busy_.fetch_add(1) >= opt_.threads - 1) {
      busy_.fetch_sub(1);
      std::unique_lock lock(backlog_mu_);
      if (backlog_.size() >= opt_.max_backlog) {
        lock.unlock();
        Response r = render_error(503, "the server is busy; retry shortly", &c.req);
        r.headers.set("Retry-After", "1");
        respond(c, std::move(r));
        return true;
      }
      c.state = Conn::State::kHandle;
      c.deadline = INT64_MAX;
      backlog_.push_back(find(c.id));
      return false;
    }
    run_handler(c);
    busy_.fetch_sub(1);
    return true;
  }

  void run_handler(Conn& c) {
    Response r;
    try {
      r = handler_(c.req);
    } catch (const std::exception& e) {
      r = render_error(500, std::string("internal error: ") + e.what(), &c.req);
    } catch (...) {
      r = render_error(500, "internal error", &c.req);
    }
    respond(c, std::move(r));
  }

  // Runs queued requests while this thread may take one.
  void run_backlog() {
    while (true) {
      std::shared_ptr<Conn> c;
      {
        std::lock_guard lock(backlog_mu_);
        if (backlog_.empty()) return;
        if (busy_.fetch_add(1) >= opt_.threads - 1) {
          busy_.fetch_sub(1);
          return;
        }
        c = std::move(backlog_.front());
        backlog_.pop_front();
      }
      {
        std::unique_lock lock(c->mu);
        if (c->state == Conn::State::kHandle) {
          c->state = Conn::State::kRead;  // respond() moves it on
          run_handler(*c);
        }
      }
      busy_.fetch_sub(1);
      serve(c, 0);
    }
  }

  void respond(Conn& c, Response r) {
    if (r.takeover && stopping_) {
      r = render_error(503, "the server is shutting down; retry shortly", &c.req);
    }
    if (r.takeover) return hand_over(c, r.takeover);
    if (r.websocket && (r.status != 101 || stopping_ || r.close)) {
      r = render_error(503, "the server is shutting down; retry shortly", &c.req);
    }
    const bool keep = !stopping_ && !r.close && c.req.keep_alive() &&
                      (c.served < opt_.keepalive_max_requests || r.websocket);
    c.close_after = !keep;
    const bool chunked = r.stream && c.req.minor_version == 1;
    if (r.stream && !chunked) c.close_after = true;  // HTTP/1.0: the end of the body is the close
    c.out = serialize(r, c.req.minor_version, c.close_after, chunked);
    c.out_off = 0;
    if (r.stream) {
      c.stream = std::move(r.stream);
      c.stream_chunked = chunked;
      c.stream_wake = Time{};
      ++streams_;
    }
    c.upgrade = std::move(r.websocket);
    c.state = Conn::State::kWrite;
    c.deadline = ticks(Clock::now() + opt_.write_timeout);
  }

  // The server's own refusal: answered, then the connection closes (its framing cannot
  // be trusted any more).
  void refuse(Conn& c, int status, const std::string& why) {
    Response r = render_error(status, why, c.have_head ? &c.req : nullptr);
    r.close = true;
    if (c.req.method.empty()) c.req.minor_version = 1;
    c.have_head = false;
    c.in.clear();
    respond(c, std::move(r));
    step_write_only(c);
  }

  // Writes what it can of a refusal, then lets the state machine finish.
  void step_write_only(Conn& c) {
    if (!flush(c)) return close(c);
    if (c.out_off < c.out.size()) return arm(c, EPOLLOUT);
    close(c);
  }

  Response render_error(int status, const std::string& message, const Request* req) {
    if (errors_) return errors_(status, message, req);
    Response r;
    r.status = status;
    r.headers.set("Content-Type", "text/plain; charset=utf-8");
    r.body = message + "\n";
    return r;
  }

  static std::string serialize(const Response& r, int minor, bool close, bool chunked) {
    std::string out;
    out.reserve(160 + r.body.size());
    out += minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(r.status);
    out += ' ';
    out += reason_phrase(r.status);
    out += "\r\n";
    for (const auto& [k, v] : r.headers.fields()) {
      if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding") ||
          iequals(k, "Connection")) {
        continue;
      }
      out += k;
      out += ": ";
      out += v;
      out += "\r\n";
    }
    const bool bodiless = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    if (r.stream) {
      if (chunked) out += "Transfer-Encoding: chunked\r\n";
    } else if (!bodiless) {
      out += "Content-Length: ";
      out += std::to_string(r.body.size());
      out += "\r\n";
    }
    if (r.websocket) {
      out += "Connection: Upgrade\r\n";
    } else if (close) {
      out += "Connection: close\r\n";
    } else if (minor == 0) {
      out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    if (bodiless) return out;
    if (r.stream && chunked) {
      if (!r.body.empty()) out += hex(r.body.size()) + "\r\n" + r.body + "\r\n";
    } else {
      out += r.body;
    }
    return out;
  }

  void append_chunk(Conn& c, const std::string& data) {
    if (data.empty()) return;
    if (c.stream_chunked) {
      c.out += hex(data.size());
      c.out += "\r\n";
      c.out += data;
      c.out += "\r\n";
    } else {
      c.out += data;
    }
  }

  void end_stream(Conn& c) {
    if (c.stream_chunked) c.out += "0\r\n\r\n";
    c.stream.reset();
    --streams_;
  }

  // Writes what the socket takes. false: the peer is gone.
  bool flush(Conn& c) const {
    while (c.out_off < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        c.deadline = ticks(Clock::now() + opt_.write_timeout);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    return true;
  }

  void next_request(Conn& c) {
    c.state = Conn::State::kRead;
    c.req.body.clear();
    c.deadline =
        ticks(Clock::now() + (c.in.empty() ? opt_.keepalive_timeout : opt_.header_timeout));
    c.started = !c.in.empty();
  }

  void arm(Conn& c, uint32_t events) { rearm(c.fd, c.id, events); }

  // The connection leaves the server: no longer watched, counted or closed by it.
  void hand_over(Conn& c, const std::function<void(int, std::string)>& to) {
    c.state = Conn::State::kClosed;
    {
      Shard& s = shard(c.id);
      std::lock_guard lock(s.mu);
      s.conns.erase(c.id);
    }
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    const int fd = c.fd;
    c.fd = -1;
    count_client(c.peer, -1);
    --connections_;
    std::string rest = std::move(c.in);
    c.in.clear();
    to(fd, std::move(rest));  // owns fd from here on, even when it fails
  }

  void close(Conn& c) {
    if (c.state == Conn::State::kClosed) return;
    c.state = Conn::State::kClosed;
    if (c.stream) {
      c.stream.reset();
      --streams_;
    }
    c.upgrade.reset();
    {
      Shard& s = shard(c.id);
      std::lock_guard lock(s.mu);
      s.conns.erase(c.id);
    }
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    count_client(c.peer, -1);
    --connections_;
    if (c.ws) {
      --websockets_;
      c.ws->channel->mark_closed();
      try {
        c.ws->session->on_close(c.ws->code, c.ws->reason);
      } catch (...) {
        // The connection is gone; nothing is left to tell.
      }
      c.ws.reset();
    }
  }

  ServerOptions opt_;
  Handler handler_;
  InlineHandler inline_;
  ErrorRenderer errors_;
  ParseLimits limits_;
  int listen_fd_ = -1, epfd_ = -1, timer_fd_ = -1, ready_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{true};
  std::atomic<bool> accept_paused_{false};
  std::atomic<int64_t> stop_at_{INT64_MAX};
  std::atomic<uint64_t> next_id_{kFirstConnId};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> streams_{0};
  std::atomic<int64_t> websockets_{0};
  std::atomic<int> busy_{0};
  Shard shards_[kShards];
  std::mutex clients_mu_;
  std::unordered_map<std::string, int> clients_;
  std::mutex ready_mu_;
  std::deque<std::shared_ptr<Conn>> ready_;
  mutable std::mutex backlog_mu_;
  std::deque<std::shared_ptr<Conn>> backlog_;
};

Result<Response> accept_websocket(const Request& req, std::shared_ptr<WebSocketSession> session) {
  if (!is_websocket_upgrade(req)) {
    return Status::invalid_argument(
        "this endpoint speaks WebSocket: send GET over HTTP/1.1 with 'Upgrade: websocket', "
        "'Connection: Upgrade', 'Sec-WebSocket-Version: 13' and a Sec-WebSocket-Key");
  }
  auto accept = websocket_accept(req.header("Sec-WebSocket-Key"));
  if (!accept.ok()) return accept.status();
  Response r;
  r.status = 101;
  r.headers.set("Upgrade", "websocket");
  r.headers.set("Sec-WebSocket-Accept", *accept);
  r.websocket = std::move(session);
  return r;
}

Server::Server(ServerOptions options, Handler handler, InlineHandler inline_handler,
               ErrorRenderer errors)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler),
                                   std::move(inline_handler), std::move(errors))) {}
Server::~Server() = default;
Status Server::bind() { return impl_->bind(); }
int Server::port() const { return impl_->port(); }
Status Server::run() { return impl_->run(); }
void Server::stop() { impl_->stop(); }
bool Server::stopping() const { return impl_->stopping(); }
void Server::wake(uint64_t id) { impl_->wake(id); }
ServerStats Server::stats() const { return impl_->stats(); }

}  // namespace jz::http
