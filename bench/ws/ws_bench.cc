// WebSocket echo through the HTTP core (http/server.h), and through the dev-environment
// proxy's tunnel (http/tunnel.h), beside their anchor measured in the
// same run: the least a WebSocket echo server can do, on loopback (one thread per
// connection that answers the handshake, then sends back every byte it receives: the
// client's own masked frames, which the client decodes as well). Both are driven by the
// same WebSocketClient, so the difference is the server's. Reports round-trip latency on
// one connection and messages per second over several, and their ratios.
//
//   jz_bench_ws [SECONDS] [CONNECTIONS] [MESSAGE_BYTES]     (defaults 3, 8, 1024)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/tunnel.h"
#include "http/websocket_client.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "jz_bench_ws: %s\n", why.c_str());
  std::_Exit(1);
}
using jz::http::WsOpcode;

class Echo : public jz::http::WebSocketSession {
 public:
  void on_open(const std::shared_ptr<jz::http::WebSocketChannel>& c) override { channel_ = c; }
  void on_message(WsOpcode op, std::string payload) override { channel_->send(op, payload); }
  void on_close(uint16_t, const std::string&) override { channel_.reset(); }

 private:
  std::shared_ptr<jz::http::WebSocketChannel> channel_;
};

// Reads an upgrade request and answers 101 (what any WebSocket server must do first).
bool handshake(int c) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) return false;
    head.append(buf, static_cast<size_t>(n));
  }
  const std::string name = "Sec-WebSocket-Key: ";
  const size_t at = head.find(name);
  if (at == std::string::npos) return false;
  const size_t end = head.find("\r\n", at);
  auto accept = jz::http::websocket_accept(head.substr(at + name.size(), end - at - name.size()));
  if (!accept.ok()) return false;
  const std::string answer =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      *accept + "\r\n\r\n";
  return ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(answer.size());
}

// The anchor: after the handshake, echoes whatever arrives, one thread per connection.
class TcpEcho {
 public:
  TcpEcho() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 128) != 0) {
      die("cannot listen on loopback");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        int yes = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        std::thread([c] {
          char buf[64 << 10];
          if (!handshake(c)) {
            ::close(c);
            return;
          }
          while (true) {
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
              ssize_t w = ::send(c, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
              if (w <= 0) break;
              off += w;
            }
          }
          ::close(c);
        }).detach();
      }
    });
  }
  ~TcpEcho() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accepter_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread accepter_;
};

// The dev-environment proxy's path (api/routes/devenv_routes.cc without the per-connection
// authorisation and namespace entry): an http/server.h front whose handler connects to a
// backend and hands both sockets to a TunnelPool.
class Proxy {
 public:
  explicit Proxy(int backend_port)
      : pool_([] {
          jz::http::TunnelOptions t;
          if (const char* n = std::getenv("JZ_PROXY_THREADS")) t.threads = std::atoi(n);
          return t;
        }()),
        server_(
            [] {
              jz::http::ServerOptions o;
              o.port = 0;
              o.threads = 4;
              return o;
            }(),
            [this, backend_port](jz::http::Request& req) {
              jz::http::Response r;
              const int b = ::socket(AF_INET, SOCK_STREAM, 0);
              sockaddr_in a{};
              a.sin_family = AF_INET;
              a.sin_port = htons(static_cast<uint16_t>(backend_port));
              inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
              if (::connect(b, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("no backend");
              int yes = 1;
              ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
              std::string head = jz::http::proxy_request_head(req, req.target, {}, {}, true);
              r.takeover = [this, b, head = std::move(head)](int fd, const std::string& rest) {
                jz::http::TunnelSpec t;
                t.client_fd = fd;
                t.backend_fd = b;
                t.to_backend = head + rest;
                t.duplex = true;
                t.rewrite_head = [](std::string_view h) {
                  return jz::http::proxy_response_head(h, {});
                };
                (void)pool_.open(std::move(t));
              };
              return r;
            }) {
    if (auto st = server_.bind(); !st.ok()) die(st.to_string());
    running_ = std::thread([this] { (void)server_.run(); });
  }
  ~Proxy() {
    server_.stop();
    running_.join();
    pool_.stop();
  }
  int port() const { return server_.port(); }

 private:
  jz::http::TunnelPool pool_;
  jz::http::Server server_;
  std::thread running_;
};

// One connection of the client: a message out, its echo back.
class Conn {
 public:
  Conn(int port, const std::string& payload) : payload_(payload) {
    auto st = client_.connect("127.0.0.1", port, "/echo");
    if (!st.ok()) die(st.to_string());
  }
  void round_trip() {
    if (jz::Status st = client_.send(WsOpcode::kBinary, payload_); !st.ok()) die(st.to_string());
    auto m = client_.receive();
    if (!m.ok() || m->payload.size() != payload_.size()) die("an echo was lost");
  }

 private:
  jz::http::WebSocketClient client_;
  std::string payload_;
};

struct Result {
  double p50_us = 0, p99_us = 0, rate = 0;
};

Result measure(int port, const std::string& payload, double seconds, int connections) {
  const auto make = [&] { return std::make_unique<Conn>(port, payload); };
  Result r;
  {
    auto c = make();
    for (int i = 0; i < 200; ++i) c->round_trip();  // warm up
    std::vector<double> us;
    const auto end = Clock::now() + std::chrono::duration<double>(seconds / 2);
    while (Clock::now() < end) {
      const auto t = Clock::now();
      c->round_trip();
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    std::sort(us.begin(), us.end());
    r.p50_us = us[us.size() / 2];
    r.p99_us = us[us.size() * 99 / 100];
  }
  std::atomic<int64_t> total{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(connections));
  const auto end = Clock::now() + std::chrono::duration<double>(seconds / 2);
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      auto c = make();
      int64_t n = 0;
      while (Clock::now() < end) {
        c->round_trip();
        ++n;
      }
      total += n;
    });
  }
  for (auto& t : threads) t.join();
  r.rate = static_cast<double>(total) / (seconds / 2);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::strtod(argv[1], nullptr) : 3;
  const int connections = argc > 2 ? static_cast<int>(std::strtol(argv[2], nullptr, 10)) : 8;
  const size_t bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1024;
  if (seconds <= 0 || connections < 1 || bytes < 1) {
    die("usage: jz_bench_ws [SECONDS > 0] [CONNECTIONS >= 1] [MESSAGE_BYTES >= 1]");
  }
  const std::string payload(bytes, 'w');

  jz::http::ServerOptions o;
  o.port = 0;
  o.threads = 4;
  jz::http::Server server(o, [](jz::http::Request& req) {
    auto r = jz::http::accept_websocket(req, std::make_shared<Echo>());
    if (r.ok()) return std::move(*r);
    jz::http::Response bad;
    bad.status = 400;
    return bad;
  });
  if (auto st = server.bind(); !st.ok()) die(st.to_string());
  std::thread running([&] { (void)server.run(); });
  TcpEcho anchor;
  Proxy proxy(anchor.port());
  Proxy proxy_ws(server.port());

  // Alternate the three, twice, and keep each one's better round.
  Result ws, tcp, px, pw;
  for (int round = 0; round < 2; ++round) {
    Result t = measure(anchor.port(), payload, seconds, connections);
    Result w = measure(server.port(), payload, seconds, connections);
    Result x = measure(proxy.port(), payload, seconds, connections);
    if (round == 0 || t.rate > tcp.rate) tcp = t;
    if (round == 0 || w.rate > ws.rate) ws = w;
    if (round == 0 || x.rate > px.rate) px = x;
    Result y = measure(proxy_ws.port(), payload, seconds, connections);
    if (round == 0 || y.rate > pw.rate) pw = y;
  }
  server.stop();
  running.join();

  std::printf(
      "| Echo of %zu-byte messages | p50 round trip (us) | p99 round trip (us) | "
      "messages/s over %d connections |\n",
      bytes, connections);
  std::printf("|---|---|---|---|\n");
  std::printf("| bare echo: handshake, then bytes back (anchor) | %.1f | %.1f | %.0f |\n",
              tcp.p50_us, tcp.p99_us, tcp.rate);
  std::printf("| WebSocket through http/server.h | %.1f | %.1f | %.0f |\n", ws.p50_us, ws.p99_us,
              ws.rate);
  std::printf("| ratio (WebSocket / anchor) | %.2f | %.2f | %.2f |\n", ws.p50_us / tcp.p50_us,
              ws.p99_us / tcp.p99_us, ws.rate / tcp.rate);
  std::printf("| the bare echo through the dev-environment proxy (tunnel) | %.1f | %.1f | %.0f |\n",
              px.p50_us, px.p99_us, px.rate);
  std::printf("| ratio (proxied / direct) | %.2f | %.2f | %.2f |\n", px.p50_us / tcp.p50_us,
              px.p99_us / tcp.p99_us, px.rate / tcp.rate);
  std::printf("| WebSocket through http/server.h, through the proxy | %.1f | %.1f | %.0f |\n",
              pw.p50_us, pw.p99_us, pw.rate);
  std::printf("| ratio (proxied / direct WebSocket server) | %.2f | %.2f | %.2f |\n",
              pw.p50_us / ws.p50_us, pw.p99_us / ws.p99_us, pw.rate / ws.rate);
  std::printf(
      "\nAdded per round trip: WebSocket server p50 %+.1f us, p99 %+.1f us; proxy p50 %+.1f "
      "us, p99 %+.1f us.\n",
      ws.p50_us - tcp.p50_us, ws.p99_us - tcp.p99_us, px.p50_us - tcp.p50_us,
      px.p99_us - tcp.p99_us);
  return 0;
}
