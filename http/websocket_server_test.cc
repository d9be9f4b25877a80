// Upgraded connections in the server core, driven over real loopback sockets by the
// platform's WebSocket client.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/running_server.h"
#include "http/server.h"
#include "http/websocket_client.h"

namespace jz::http {
namespace {

using namespace std::chrono_literals;

// Records what the server calls; echoes each message when `echo` is set.
class Recorder : public WebSocketSession {
 public:
  explicit Recorder(bool echo) : echo_(echo) {}

  void on_open(const std::shared_ptr<WebSocketChannel>& channel) override {
    std::lock_guard lock(mu_);
    channel_ = channel;
    cv_.notify_all();
  }
  void on_message(WsOpcode opcode, std::string payload) override {
    if (echo_ && !channel()->send(opcode, payload)) ++refused_;
    std::lock_guard lock(mu_);
    received_bytes_ += payload.size();
    messages_.push_back({opcode, std::move(payload)});
    cv_.notify_all();
  }
  void on_close(uint16_t code, const std::string& reason) override {
    std::lock_guard lock(mu_);
    closes_++;
    code_ = code;
    reason_ = reason;
    cv_.notify_all();
  }

  std::shared_ptr<WebSocketChannel> channel() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 3s, [&] { return channel_ != nullptr; });
    return channel_;
  }
  // The code on_close got, once it was called (0 when it was not within the timeout).
  uint16_t closed_with(std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closes_ > 0; });
    return closes_ ? code_ : 0;
  }
  std::string reason() {
    std::lock_guard lock(mu_);
    return reason_;
  }
  int closes() {
    std::lock_guard lock(mu_);
    return closes_;
  }
  size_t received_bytes() {
    std::lock_guard lock(mu_);
    return received_bytes_;
  }
  std::vector<WsMessage> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  int refused() const { return refused_; }

 private:
  const bool echo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<WebSocketChannel> channel_;
  std::vector<WsMessage> messages_;
  size_t received_bytes_ = 0;
  int closes_ = 0;
  uint16_t code_ = 0;
  std::string reason_;
  std::atomic<int> refused_{0};
};

// A server whose /ws upgrades to a Recorder (kept for the test to inspect) and whose
// other paths answer plainly.
struct WsServer {
  explicit WsServer(ServerOptions o, bool echo = true)
      : server(std::move(o), [this, echo](Request& req) {
          if (req.path != "/ws") {
            Response r;
            r.body = "plain";
            return r;
          }
          auto session = std::make_shared<Recorder>(echo);
          auto accepted = accept_websocket(req, session);
          if (!accepted.ok()) {
            Response r;
            r.status = 400;
            r.body = accepted.status().message();
            return r;
          }
          std::lock_guard lock(mu);
          sessions.push_back(session);
          return std::move(*accepted);
        }) {}

  std::shared_ptr<Recorder> session(size_t i) {
    for (int tries = 0; tries < 300; ++tries) {
      {
        std::lock_guard lock(mu);
        if (i < sessions.size()) return sessions[i];
      }
      std::this_thread::sleep_for(10ms);
    }
    return nullptr;
  }

  std::mutex mu;
  std::vector<std::shared_ptr<Recorder>> sessions;
  RunningServer server;
};

ServerOptions quick() {
  ServerOptions o;
  o.port = 0;
  o.threads = 4;
  o.stop_grace = 2000ms;
  return o;
}

WsMessage must_receive(WebSocketClient& c, std::chrono::milliseconds timeout = 3s) {
  auto m = c.receive(timeout);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : WsMessage{WsOpcode::kClose, "(nothing)"};
}

TEST(WebSocketServer, EchoesTextBinaryFragmentedAndLargeMessages) {
  WsServer s(quick());
  WebSocketClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", s.server.port(), "/ws").ok());
  ASSERT_TRUE(s.session(0) && s.session(0)->channel());  // opened
  EXPECT_EQ(s.server.server.stats().websockets, 1);

  ASSERT_TRUE(c.send_text("hello, 世界").ok());
  WsMessage m = must_receive(c);
  EXPECT_EQ(m.opcode, WsOpcode::kText);
  EXPECT_EQ(m.payload, "hello, 世界");

  std::string blob(300000, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(c.send(WsOpcode::kBinary, blob).ok());
  m = must_receive(c);
  EXPECT_EQ(m.opcode, WsOpcode::kBinary);
  EXPECT_EQ(m.payload, blob);

  // Fragments are joined, with a ping between them answered at once.
  ASSERT_TRUE(c.send(WsOpcode::kText, "frag", /*fin=*/false).ok());
  ASSERT_TRUE(c.send(WsOpcode::kPing, "are you there").ok());
  m = must_receive(c);
  EXPECT_EQ(m.opcode, WsOpcode::kPong);
  EXPECT_EQ(m.payload, "are you there");
  ASSERT_TRUE(c.send(WsOpcode::kContinuation, "ment", /*fin=*/false).ok());
  ASSERT_TRUE(c.send(WsOpcode::kContinuation, "ed", /*fin=*/true).ok());
  m = must_receive(c);
  EXPECT_EQ(m.payload, "fragmented");

  // The client closes: the server answers with the same code, closes TCP, tells the session.
  auto code = c.close(1000, "done");
  ASSERT_TRUE(code.ok()) << code.status().to_string();
  EXPECT_EQ(*code, 1000);
  EXPECT_TRUE(c.closed_within(2s));
  auto session = s.session(0);
  EXPECT_EQ(session->closed_with(), 1000);
  EXPECT_EQ(session->reason(), "done");
  EXPECT_EQ(session->closes(), 1);
  EXPECT_EQ(s.server.server.stats().websockets, 0);
}

TEST(WebSocketServer, RefusesWhatIsNotAnUpgradeAndKeepsPlainRequestsWorking) {
  WsServer s(quick());
  WebSocketClient plain;
  auto st = plain.connect("127.0.0.1", s.server.port(), "/elsewhere");
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("200"), std::string::npos) << st.message();

  Request req;
  req.method = "GET";
  req.minor_version = 1;
  auto refused = accept_websocket(req, std::make_shared<Recorder>(true));
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("Upgrade: websocket"), std::string::npos);
  req.headers.set("Upgrade", "websocket");
  req.headers.set("Connection", "keep-alive, Upgrade");
  req.headers.set("Sec-WebSocket-Version", "13");
  req.headers.set("Sec-WebSocket-Key", "too short");
  refused = accept_websocket(req, std::make_shared<Recorder>(true));
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("Sec-WebSocket-Key"), std::string::npos);
  EXPECT_EQ(s.server.server.stats().websockets, 0);
}

TEST(WebSocketServer, TheSessionSendsFromAnotherThreadAndClosesFirst) {
  WsServer s(quick(), /*echo=*/false);
  WebSocketClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", s.server.port(), "/ws").ok());
  auto session = s.session(0);
  ASSERT_TRUE(session);
  std::thread pusher([channel = session->channel()] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(channel->send_text("event " + std::to_string(i)));
    channel->close(4000, "the job ended");
    EXPECT_FALSE(channel->send_text("too late"));
    EXPECT_FALSE(channel->is_open());
  });
  pusher.join();
  for (int i = 0; i < 200; ++i) {
    WsMessage m = must_receive(c);
    ASSERT_EQ(m.payload, "event " + std::to_string(i));
  }
  WsMessage closing = must_receive(c);
  EXPECT_EQ(closing.opcode, WsOpcode::kClose);
  EXPECT_EQ(ws_close_code(closing.payload), 4000);
  EXPECT_EQ(closing.payload.substr(2), "the job ended");
  // The client answers; the server then closes TCP.
  ASSERT_TRUE(c.send(WsOpcode::kClose, ws_close_payload(4000, "")).ok());
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_EQ(session->closed_with(), 4000);
}

TEST(WebSocketServer, ProtocolViolationsCloseWithTheirCodes) {
  ServerOptions o = quick();
  o.ws_max_message_bytes = 1000;
  WsServer s(o);
  struct Case {
    const char* what;
    std::string bytes;
    uint16_t code;
  } cases[] = {
      {"an unmasked frame", ws_frame(WsOpcode::kText, "hi"), 1002},
      {"text that is not UTF-8", ws_masked_frame(WsOpcode::kText, "bad \xff", 7), 1007},
      {"a message past the limit", ws_masked_frame(WsOpcode::kBinary, std::string(2000, 'x'), 9),
       1009},
      {"a close code nobody may send",
       ws_masked_frame(WsOpcode::kClose, ws_close_payload(1006, ""), 3), 1002},
  };
  size_t n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    WebSocketClient c;
    ASSERT_TRUE(c.connect("127.0.0.1", s.server.port(), "/ws").ok());
    ASSERT_TRUE(c.send_text("before").ok());
    EXPECT_EQ(must_receive(c).payload, "before");
    ASSERT_TRUE(c.send_raw(k.bytes).ok());
    WsMessage m = must_receive(c);
    EXPECT_EQ(m.opcode, WsOpcode::kClose);
    EXPECT_EQ(ws_close_code(m.payload), k.code) << m.payload;
    EXPECT_TRUE(c.closed_within(2s)) << "a failed connection is not kept open";
    auto session = s.session(n++);
    EXPECT_EQ(session->closed_with(), k.code);
    EXPECT_EQ(session->messages().size(), 1u) << "the bad frame never reaches the session";
  }
}

TEST(WebSocketServer, ASilentPeerIsPingedThenDroppedWhileALiveOneStays) {
  ServerOptions o = quick();
  o.ws_ping_interval = 200ms;
  WsServer s(o);
  WebSocketClient silent, live;
  silent.set_auto_pong(false);
  ASSERT_TRUE(silent.connect("127.0.0.1", s.server.port(), "/ws").ok());
  ASSERT_TRUE(live.connect("127.0.0.1", s.server.port(), "/ws").ok());
  // The live client answers pings (receive() does) all along.
  std::atomic<int> pings{0};
  std::thread answering([&] {
    const auto until = std::chrono::steady_clock::now() + 1200ms;
    while (std::chrono::steady_clock::now() < until) {
      auto m = live.receive(100ms);
      if (m.ok() && m->opcode == WsOpcode::kPing) ++pings;
    }
  });

  EXPECT_EQ(must_receive(silent, 2s).opcode, WsOpcode::kPing);
  EXPECT_TRUE(silent.closed_within(2s)) << "no pong: the server drops the peer";
  EXPECT_EQ(s.session(0)->closed_with(), 1006);
  EXPECT_NE(s.session(0)->reason().find("ping"), std::string::npos);

  answering.join();
  EXPECT_GE(pings, 3);
  ASSERT_TRUE(live.send_text("still here").ok());
  WsMessage m = must_receive(live);
  while (m.opcode == WsOpcode::kPing) m = must_receive(live);
  EXPECT_EQ(m.payload, "still here");
  EXPECT_EQ(s.session(1)->closes(), 0);
}

TEST(WebSocketServer, APeerThatDoesNotReadIsHeldBackNotBuffered) {
  ServerOptions o = quick();
  o.ws_max_queued_bytes = 256 << 10;
  WsServer s(o);
  WebSocketClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", s.server.port(), "/ws").ok());
  auto session = s.session(0);
  ASSERT_TRUE(session);

  // Send 16 KiB messages to the echo session without reading any answer, until the
  // socket stays full: the server stopped reading because we do not take its echoes.
  const std::string payload(16 << 10, 'p');
  std::string pending;
  size_t sent_messages = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_progress < 500ms) {
    if (pending.empty()) {
      pending = ws_masked_frame(WsOpcode::kBinary, payload, 0x1234567);
      ++sent_messages;
    }
    auto n = c.send_raw_nowait(pending);
    ASSERT_TRUE(n.ok());
    if (*n == 0) {
      std::this_thread::sleep_for(5ms);
      continue;
    }
    pending.erase(0, *n);
    last_progress = std::chrono::steady_clock::now();
    ASSERT_LT(sent_messages, 100000u) << "the server never stopped reading";
  }
  const size_t held = session->received_bytes();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(session->received_bytes(), held) << "nothing more is read while we do not read";
  EXPECT_LE(session->channel()->queued_bytes(), o.ws_max_queued_bytes + payload.size());
  EXPECT_LT(held, sent_messages * payload.size());

  // Now read: every echo arrives, in order, none refused or lost (the frame cut short
  // is finished once the server reads again).
  const size_t whole = sent_messages - (pending.empty() ? 0 : 1);
  for (size_t i = 0; i < whole; ++i) {
    WsMessage m = must_receive(c, 5s);
    ASSERT_EQ(m.payload.size(), payload.size()) << "message " << i;
  }
  ASSERT_TRUE(c.send_raw(pending).ok());
  if (whole < sent_messages) {
    EXPECT_EQ(must_receive(c).payload.size(), payload.size());
  }
  EXPECT_EQ(session->refused(), 0);
  EXPECT_EQ(session->received_bytes(), sent_messages * payload.size());
}

TEST(WebSocketServer, StoppingTheServerClosesEverySocketWithGoingAway) {
  ServerOptions o = quick();
  auto s = std::make_unique<WsServer>(o);
  WebSocketClient a, b;
  ASSERT_TRUE(a.connect("127.0.0.1", s->server.port(), "/ws").ok());
  ASSERT_TRUE(b.connect("127.0.0.1", s->server.port(), "/ws").ok());
  auto sa = s->session(0), sb = s->session(1);
  s->server.server.stop();
  for (WebSocketClient* c : {&a, &b}) {
    WsMessage m = must_receive(*c);
    EXPECT_EQ(m.opcode, WsOpcode::kClose);
    EXPECT_EQ(ws_close_code(m.payload), 1001);
    ASSERT_TRUE(c->send(WsOpcode::kClose, ws_close_payload(1001, "")).ok());
  }
  s.reset();  // joins the server thread: it returns once both closed
  EXPECT_EQ(sa->closed_with(0ms), 1001);
  EXPECT_EQ(sb->closed_with(0ms), 1001);
  EXPECT_FALSE(sa->channel()->send_text("after the end"));
}

}  // namespace
}  // namespace jz::http
