// The proxy's tunnels over real loopback sockets: a front server whose handler hands its
// connection to a TunnelPool towards a backend server (the shape of the dev-environment
// proxy), driven by the platform's WebSocket client and by raw sockets.
#include "http/tunnel.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "http/running_server.h"
#include "http/server.h"
#include "http/websocket_client.h"

namespace jz::http {
namespace {

using namespace std::chrono_literals;

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Reads until EOF or `timeout` passes without a byte.
std::string read_all(int fd, std::chrono::milliseconds timeout = 3s) {
  std::string out;
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// The backend: /ws echoes WebSocket messages, /big streams `big_bytes` bytes, /slow
// answers after the test lets it, anything else answers its own request line. Counts
// the requests it saw.
class EchoSession : public WebSocketSession {
 public:
  void on_open(const std::shared_ptr<WebSocketChannel>& c) override { channel_ = c; }
  void on_message(WsOpcode op, std::string payload) override { channel_->send(op, payload); }
  void on_close(uint16_t code, const std::string&) override { closed_with = code; }
  std::atomic<int> closed_with{0};

 private:
  std::shared_ptr<WebSocketChannel> channel_;
};

class Bytes : public Stream {
 public:
  explicit Bytes(size_t n) : left_(n) {}
  Step next(std::string& out) override {
    const size_t n = std::min<size_t>(left_, 256 << 10);
    out.assign(n, 'x');
    left_ -= n;
    return {.done = left_ == 0};
  }

 private:
  size_t left_;
};

struct Backend {
  Backend()
      : server(
            [] {
              ServerOptions o;
              o.port = 0;
              o.threads = 4;
              o.stop_grace = 1000ms;
              return o;
            }(),
            [this](Request& req) {
              ++requests;
              Response r;
              if (req.path == "/ws") {
                auto s = std::make_shared<EchoSession>();
                session = s;
                auto a = accept_websocket(req, s);
                if (a.ok()) return std::move(*a);
                r.status = 400;
                return r;
              }
              if (req.path == "/big") {
                r.stream = std::make_shared<Bytes>(big_bytes);
                return r;
              }
              r.headers.set("X-Backend", "yes");
              r.headers.set("Keep-Alive", "timeout=5");
              r.body = req.method + " " + req.target + " cookie=" + req.header("Cookie") +
                       " auth=" + req.header("Authorization") + " body=" + req.body;
              return r;
            }) {}
  std::atomic<int> requests{0};
  size_t big_bytes = 8 << 20;
  std::shared_ptr<EchoSession> session;
  RunningServer server;
};

// The front: every request goes through a tunnel to the backend.
struct Front {
  explicit Front(Backend& b, TunnelOptions to = {})
      : pool(to),
        server(
            [] {
              ServerOptions o;
              o.port = 0;
              o.threads = 4;
              o.stop_grace = 1000ms;
              return o;
            }(),
            [this, &b](Request& req) {
              Response r;
              const bool upgrade = is_websocket_upgrade(req);
              std::string head =
                  proxy_request_head(req, req.target, {"Authorization"}, {"jz_session"}, upgrade);
              const int backend = connect_to(b.server.port());
              r.takeover = [this, backend, head, upgrade](int fd, std::string rest) {
                TunnelSpec spec;
                spec.client_fd = fd;
                spec.backend_fd = backend;
                spec.to_backend = head + (upgrade ? std::move(rest) : std::string());
                spec.duplex = upgrade;
                spec.rewrite_head = [](std::string_view h) {
                  Headers set;
                  set.set("X-Proxied", "1");
                  return proxy_response_head(h, set);
                };
                spec.on_activity = [this](const TunnelActivity& a) {
                  (a.kind == TunnelActivity::Kind::kMessage ? messages : responses)++;
                };
                spec.on_close = [this] { ++closed; };
                EXPECT_TRUE(pool.open(std::move(spec)).ok());
              };
              return r;
            }) {}
  std::atomic<int> messages{0};
  std::atomic<int> responses{0};
  std::atomic<int> closed{0};
  TunnelPool pool;
  RunningServer server;
};

TEST(Tunnel, CarriesAPlainAnswerWithoutThePlatformsCredentialsAndClosesAfterIt) {
  Backend b;
  Front f(b);
  const int fd = connect_to(f.server.port());
  send_all(fd,
           "POST /x?q=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret\r\n"
           "Cookie: a=1; jz_session=tok; b=2\r\nContent-Length: 5\r\n\r\nhello"
           // A pipelined request: it must never reach the backend unauthorised.
           "GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string got = read_all(fd);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("POST /x?q=1 cookie=a=1; b=2 auth= body=hello"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Proxied: 1"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_EQ(got.find("Keep-Alive"), std::string::npos) << got;
  EXPECT_EQ(got.find("/second"), std::string::npos) << got;
  EXPECT_EQ(b.requests.load(), 1);
  for (int i = 0; i < 100 && f.closed == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(f.closed.load(), 1);
  EXPECT_EQ(f.pool.stats().open, 0);
}

TEST(Tunnel, StreamsALargeAnswerIntactAndHoldsBackASlowReader) {
  Backend b;
  b.big_bytes = 64 << 20;
  TunnelOptions to;
  to.buffer_bytes = 64 << 10;
  Front f(b, to);
  const int fd = connect_to(f.server.port());
  int small = 64 << 10;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  send_all(fd, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
  // Not reading: the tunnel must stop pulling from the backend, not buffer 64 MiB.
  std::this_thread::sleep_for(1000ms);
  const int64_t moved = f.pool.stats().bytes_to_client;
  EXPECT_LT(moved, 16 << 20) << "the tunnel kept reading from the backend for a reader that "
                                "does not read";
  // Then everything arrives, chunked as the backend sent it.
  const std::string got = read_all(fd, 5s);
  ::close(fd);
  const size_t body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos);
  size_t xs = 0;
  for (size_t i = body; i < got.size(); ++i) xs += got[i] == 'x';
  EXPECT_EQ(xs, size_t{64} << 20);
  EXPECT_TRUE(got.ends_with("0\r\n\r\n"));
}

TEST(Tunnel, CarriesWebSocketMessagesBothWaysAndTheClose) {
  Backend b;
  Front f(b);
  WebSocketClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", f.server.port(), "/ws", {{"Authorization", "Bearer x"}}).ok());
  ASSERT_TRUE(c.send_text("hello").ok());
  auto m = c.receive();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->payload, "hello");
  const std::string big(3 << 20, 'b');
  ASSERT_TRUE(c.send(WsOpcode::kBinary, std::string_view(big).substr(0, 1 << 20)).ok());
  m = c.receive();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->payload.size(), size_t{1} << 20);
  EXPECT_EQ(f.messages.load(), 1) << "activity is told at most once a second";
  auto code = c.close(4001, "bye");
  ASSERT_TRUE(code.ok()) << code.status().to_string();
  EXPECT_EQ(*code, 4001);
  for (int i = 0; i < 200 && f.closed == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(f.closed.load(), 1);
  EXPECT_EQ(b.session->closed_with.load(), 4001);
}

TEST(Tunnel, PingsAreNotActivityButMessagesAre) {
  Backend b;
  Front f(b);
  WebSocketClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", f.server.port(), "/ws").ok());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(c.send(WsOpcode::kPing, "p").ok());
    auto pong = c.receive();
    ASSERT_TRUE(pong.ok());
    EXPECT_EQ(pong->opcode, WsOpcode::kPong);
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(f.messages.load(), 0);
  EXPECT_EQ(f.responses.load(), 1);  // the 101
  ASSERT_TRUE(c.send_text("work").ok());
  ASSERT_TRUE(c.receive().ok());
  EXPECT_EQ(f.messages.load(), 1);
}

TEST(Tunnel, ABackendThatHangsUpBeforeAnsweringClosesTheClient) {
  // A listener that accepts and closes.
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread rude([l] {
    const int fd = ::accept(l, nullptr, nullptr);
    ::close(fd);
  });
  TunnelPool pool;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  TunnelSpec spec;
  spec.client_fd = pair[0];
  spec.backend_fd = connect_to(ntohs(a.sin_port));
  spec.to_backend = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(pool.open(std::move(spec)).ok());
  rude.join();
  EXPECT_EQ(read_all(pair[1]), "");  // EOF, no bytes
  ::close(pair[1]);
  ::close(l);
}

TEST(Tunnel, RefusesPastItsLimitAndClosesBothSockets) {
  TunnelOptions to;
  to.max_tunnels = 1;
  TunnelPool pool(to);
  int a[2];
  int b[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  ASSERT_TRUE(pool.open({.client_fd = a[0], .backend_fd = b[0], .duplex = true}).ok());
  int c[2];
  int d[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, d), 0);
  bool told = false;
  auto s = pool.open(
      {.client_fd = c[0], .backend_fd = d[0], .duplex = true, .on_close = [&] { told = true; }});
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_TRUE(told);
  EXPECT_EQ(read_all(c[1], 500ms), "");  // closed
  for (int fd : {a[1], b[1], c[1], d[1]}) ::close(fd);
  pool.stop();
}

TEST(ProxyHeads, ResponseHeadsLoseHopByHopFieldsAndMalformedOnesAreRefused) {
  Headers set;
  set.set("X-Frame-Options", "SAMEORIGIN");
  EXPECT_EQ(proxy_response_head("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n"
                                "X-Frame-Options: DENY\r\nContent-Length: 2\r\n\r\n",
                                set),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Frame-Options: SAMEORIGIN\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(
      proxy_response_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\n\r\n",
                          {}),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  for (std::string_view bad :
       {"", "HTTP/1.1 200 OK\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"}) {
    EXPECT_EQ(proxy_response_head(bad, {}), "") << bad;
  }
}

TEST(WsFrameCounterTest, CountsDataFramesSplitAnywhereAndIgnoresControlFrames) {
  std::string stream = ws_frame(WsOpcode::kText, "a") + ws_frame(WsOpcode::kPing, "") +
                       ws_masked_frame(WsOpcode::kBinary, std::string(70000, 'z'), 0x01020304) +
                       ws_frame(WsOpcode::kPong, "x") +
                       ws_masked_frame(WsOpcode::kText, std::string(300, 'q'), 7, false) +
                       ws_masked_frame(WsOpcode::kContinuation, "end", 9);
  for (size_t step : {size_t{1}, size_t{3}, size_t{13}, size_t{4096}, stream.size()}) {
    WsFrameCounter c;
    int n = 0;
    for (size_t i = 0; i < stream.size(); i += step)
      n += c.feed(std::string_view(stream).substr(i, step));
    EXPECT_EQ(n, 3) << "step " << step;
    EXPECT_FALSE(c.failed()) << "step " << step;
  }
  WsFrameCounter bad;
  EXPECT_EQ(bad.feed(std::string_view("\x83\x00", 2)), 0);  // opcode 3 is reserved
  EXPECT_TRUE(bad.failed());
}

}  // namespace
}  // namespace jz::http
