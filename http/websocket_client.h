// A blocking WebSocket client over plain TCP: the platform's tests, benchmarks and tools
// use it to talk to a WebSocket endpoint (the server side lives in http/server.h). It
// sends masked frames with a fresh random key per frame and answers pings while it waits
// for a message.
//
// Thread safety: one thread uses a client at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/websocket.h"

namespace jz::http {

class WebSocketClient {
 public:
  WebSocketClient() = default;
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Connects to host:port and upgrades `target` ("/path?query"), sending `headers` too
  // (Authorization, say). An answer other than a valid 101 is unavailable (no server) or
  // failed_precondition carrying the status line and body.
  Status connect(const std::string& host, int port, const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

  Status send(WsOpcode opcode, std::string_view payload, bool fin = true);
  Status send_text(std::string_view payload) { return send(WsOpcode::kText, payload); }
  // Sends raw bytes (tests use it to send what a client must not).
  Status send_raw(std::string_view bytes);
  // Sends what the socket takes now without waiting: the bytes taken (0 when full).
  Result<size_t> send_raw_nowait(std::string_view bytes) const;

  // The next message, control frames included (a ping is answered, and returned too).
  // deadline_exceeded when none arrives in time; unavailable when the server closed.
  Result<WsMessage> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends a close frame and waits for the server's; returns the code it sent.
  Result<uint16_t> close(uint16_t code = 1000, std::string_view reason = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Whether the server closed the TCP connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout);
  // Answer pings while waiting (default true).
  void set_auto_pong(bool on) { auto_pong_ = on; }

 private:
  Status write_all(std::string_view bytes) const;
  // Reads what is there, waiting up to `timeout`; false at the end of the stream.
  Result<bool> read_some(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool auto_pong_ = true;
  bool eof_ = false;
  std::string pending_;  // bytes read after the handshake, not yet decoded
  WsDecoder decoder_{64 << 20, /*require_mask=*/false};
  std::vector<WsMessage> ready_;
  size_t next_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace jz::http
