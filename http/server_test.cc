#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "http/running_server.h"

namespace jz::http {
namespace {

using namespace std::chrono_literals;

// A test client on a raw socket, to send exactly the bytes a case needs.
class Raw {
 public:
  explicit Raw(int port, const char* from = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from, &local.sin_addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local), 0) << from;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view s) const {
    [[maybe_unused]] ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
  }
  // Reads until `until` appears in what was read, the peer closes, or the timeout.
  std::string read_until(std::string_view until, std::chrono::milliseconds timeout = 3000ms) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (buf_.find(until) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char b[4096];
      ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(b, static_cast<size_t>(n));
    }
    size_t at = buf_.find(until);
    std::string out;
    if (at == std::string::npos) {
      out.swap(buf_);
    } else {
      out = buf_.substr(0, at + until.size());
      buf_.erase(0, at + until.size());
    }
    return out;
  }
  // A whole response with a Content-Length body.
  std::string response() {
    std::string head = read_until("\r\n\r\n");
    size_t cl = head.find("Content-Length: ");
    if (cl == std::string::npos) return head;
    size_t n = std::stoul(head.substr(cl + 16));
    auto end = std::chrono::steady_clock::now() + 3s;
    while (buf_.size() < n && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char b[4096];
      ssize_t r = ::recv(fd_, b, sizeof b, 0);
      if (r <= 0) break;
      buf_.append(b, static_cast<size_t>(r));
    }
    std::string body = buf_.substr(0, n);
    buf_.erase(0, std::min(n, buf_.size()));
    return head + body;
  }
  // Whether the server closed the connection within the timeout.
  bool closed_within(std::chrono::milliseconds timeout) {
    if (closed_) return true;
    read_until("\x01\x02never", timeout);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

using Running = RunningServer;

ServerOptions quick() {
  ServerOptions o;
  o.port = 0;
  o.threads = 4;
  o.header_timeout = 400ms;
  o.body_timeout = 400ms;
  o.keepalive_timeout = 400ms;
  o.stop_grace = 2000ms;
  return o;
}

Response text(std::string body) {
  Response r;
  r.headers.set("Content-Type", "text/plain");
  r.body = std::move(body);
  return r;
}

Response echo(Request& req) {
  return text(req.method + " " + req.path + " " + std::to_string(req.body.size()) + ":" + req.body);
}

TEST(HttpServer, AnswersKeepAliveAndPipelinedRequests) {
  Running s(quick(), echo);
  Raw c(s.port());
  ASSERT_TRUE(c.connected());
  c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.response();
  EXPECT_NE(r.find("HTTP/1.1 200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find("GET /a 0:"), std::string::npos) << r;
  // Two requests in one write, the second with a body.
  c.send(
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
      "xyz");
  EXPECT_NE(c.response().find("GET /b 0:"), std::string::npos);
  EXPECT_NE(c.response().find("POST /c 3:xyz"), std::string::npos);
}

TEST(HttpServer, ReadsChunkedBodiesAndAnswersExpectContinue) {
  Running s(quick(), echo);
  Raw c(s.port());
  c.send("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  std::this_thread::sleep_for(50ms);
  c.send("2\r\nde\r\n0\r\n\r\n");
  EXPECT_NE(c.response().find("POST /u 5:abcde"), std::string::npos);
  c.send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(c.read_until("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  c.send("ok");
  EXPECT_NE(c.response().find("PUT /e 2:ok"), std::string::npos);
}

TEST(HttpServer, RefusesSmugglingAndMissingLengthsAtOnceAndCloses) {
  Running s(quick(), echo);
  struct Case {
    const char* wire;
    const char* status;
  } cases[] = {
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
       "400"},
      {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", "411"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"},
      {"GET / HTTP/1.1\nHost: x\n\n", "400"},
  };
  for (const auto& k : cases) {
    Raw c(s.port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send(k.wire);
    std::string r = c.read_until("\r\n\r\n", 1000ms);
    EXPECT_EQ(r.substr(0, 12), std::string("HTTP/1.1 ") + k.status) << k.wire << "\n" << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
    EXPECT_TRUE(c.closed_within(1000ms)) << k.wire;
    // At once: well before any read deadline.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 350ms) << k.wire;
  }
}

TEST(HttpServer, DeadlinesCloseHalfSentRequestsAndIdleConnections) {
  Running s(quick(), echo);
  Raw half(s.port());
  half.send("GET / HTTP/1.1\r\nHo");
  std::string r = half.read_until("\r\n\r\n", 2000ms);
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 408") << r;
  EXPECT_TRUE(half.closed_within(1000ms));

  Raw body(s.port());
  body.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  r = body.read_until("\r\n\r\n", 2000ms);
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 408") << r;

  Raw idle(s.port());
  idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(idle.response().find("200 OK"), std::string::npos);
  EXPECT_TRUE(idle.closed_within(2000ms));  // keepalive_timeout, silently
}

TEST(HttpServer, InlineHandlersAnswerWhileEveryThreadIsBusy) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  ServerOptions o = quick();
  o.threads = 3;
  o.header_timeout = 5000ms;
  Running s(
      o,
      [&](Request& req) {
        ++entered;
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return release; });
        return echo(req);
      },
      [](Request& req) -> std::optional<Response> {
        if (req.path == "/healthz") return text("ok");
        return std::nullopt;
      });
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 6; ++i) {
    slow.push_back(std::make_unique<Raw>(s.port()));
    slow.back()->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (int i = 0; i < 100 && entered < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(entered.load(), 2);  // threads - 1; the rest wait in the backlog
  Raw h(s.port());
  const auto t0 = std::chrono::steady_clock::now();
  h.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(h.response().find("\r\n\r\nok"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_EQ(s.server.stats().backlog, 4);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& c : slow) EXPECT_NE(c->response().find("GET /slow"), std::string::npos);
}

TEST(HttpServer, LimitsConnectionsPerClient) {
  ServerOptions o = quick();
  o.max_connections_per_client = 3;
  o.header_timeout = 5000ms;
  Running s(o, echo);
  std::vector<std::unique_ptr<Raw>> held;
  held.reserve(3);
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<Raw>(s.port(), "127.0.0.2"));
  std::this_thread::sleep_for(100ms);
  Raw over(s.port(), "127.0.0.2");
  std::string r = over.read_until("\r\n\r\n", 1000ms);
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 503") << r;
  EXPECT_NE(r.find("Retry-After: 1"), std::string::npos);
  // Another address is not affected.
  Raw other(s.port(), "127.0.0.3");
  other.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(other.response().find("200 OK"), std::string::npos);
  // A closed connection frees its place.
  held.pop_back();
  std::this_thread::sleep_for(100ms);
  Raw again(s.port(), "127.0.0.2");
  again.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(again.response().find("200 OK"), std::string::npos);
}

// Counts to `n`, one number per wake.
class Counter : public Stream {
 public:
  explicit Counter(int n) : n_(n) {}
  Step next(std::string& out) override {
    if (i_ == n_) return {.done = true};
    out += "n=" + std::to_string(i_++) + "\n";
    // Sleep "forever": only wake() moves it on.
    return {.done = false, .wake_at = Time::max()};
  }

 private:
  int n_, i_ = 0;
};

TEST(HttpServer, StreamsChunksWhenWoken) {
  std::atomic<uint64_t> conn{0};
  ServerOptions o = quick();
  o.keepalive_timeout = 5000ms;
  Running s(o, [&](Request& req) {
    Response r = text("start\n");
    r.stream = std::make_shared<Counter>(3);
    conn = req.connection_id;
    return r;
  });
  Raw c(s.port());
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = c.read_until("n=0\n");
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_NE(head.find("start\n"), std::string::npos);
  EXPECT_EQ(s.server.stats().streams, 1);
  // Nothing more until woken.
  EXPECT_EQ(c.read_until("n=1", 300ms).find("n=1"), std::string::npos);
  s.server.wake(conn);
  EXPECT_NE(c.read_until("n=1\n").find("n=1"), std::string::npos);
  s.server.wake(conn);
  c.read_until("n=2\n");
  s.server.wake(conn);
  EXPECT_NE(c.read_until("0\r\n\r\n").find("0\r\n\r\n"), std::string::npos);
  // The connection is kept for the next request.
  c.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.read_until("n=0\n").find("200 OK"), std::string::npos);
}

TEST(HttpServer, StopEndsStreamsAndReturns) {
  auto server = std::make_unique<Running>(quick(), [](Request&) {
    Response r;
    r.stream = std::make_shared<Counter>(1000000);
    return r;
  });
  Raw c(server->port());
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  c.read_until("n=0\n");
  const auto t0 = std::chrono::steady_clock::now();
  server.reset();  // stop() and join
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_NE(c.read_until("0\r\n\r\n", 500ms).find("0\r\n\r\n"), std::string::npos);
}

TEST(HttpServer, HoldsThousandsOfIdleConnectionsWithFewThreads) {
  ServerOptions o = quick();
  o.header_timeout = 20000ms;
  o.keepalive_timeout = 20000ms;
  o.max_connections_per_client = 100000;
  Running s(o, echo, [](Request& req) -> std::optional<Response> {
    if (req.path == "/healthz") return text("ok");
    return std::nullopt;
  });
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 1500; ++i) {
    idle.push_back(std::make_unique<Raw>(s.port()));
    if (i % 3 == 0) idle.back()->send("GET / HTTP/1.1\r\nHo");  // half-sent
  }
  for (int i = 0; i < 100 && s.server.stats().connections < 1500; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(s.server.stats().connections, 1500);
  Raw h(s.port());
  h.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(h.response().find("\r\n\r\nok"), std::string::npos);
}

TEST(HttpServer, BindNamesABusyPort) {
  Running s(quick(), echo);
  ServerOptions o = quick();
  o.port = s.port();
  Server second(o, echo);
  Status st = second.bind();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(std::to_string(s.port())), std::string::npos) << st.message();
}

}  // namespace
}  // namespace jz::http
