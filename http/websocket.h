// The WebSocket protocol (RFC 6455) for the HTTP core's upgraded connections: the opening
// handshake and the frame codec as pure functions, and the two objects an application uses
// (a WebSocketSession it implements, a WebSocketChannel it sends on).
//
// A server reads masked frames from clients and writes unmasked ones. The decoder enforces
// the RFC's rules and our limits; a violation is an error carrying the close code to answer
// with (1002 protocol error, 1007 text that is not UTF-8, 1009 too big). No extensions are
// negotiated, so the reserved bits must be zero.
//
// How a route speaks WebSocket: its handler returns accept_websocket(req, session) (http/server.h);
// the server writes the 101, then runs the connection (http/server.h): it answers pings, pings a
// silent peer, completes the closing handshake and calls the session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace jz::http {

// True for a well-formed upgrade request: GET, HTTP/1.1, "Upgrade: websocket", a
// Connection header naming "upgrade", Sec-WebSocket-Version 13 and a key.
bool is_websocket_upgrade(const Request& r);

// Close codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1014 and 3000-4999.
bool is_valid_close_code(uint16_t code);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key; invalid_argument unless the key
// is the base64 of 16 bytes (24 characters ending in "==").
Result<std::string> websocket_accept(std::string_view key);

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// A whole message (fragments joined) or a control frame.
struct WsMessage {
  WsOpcode opcode = WsOpcode::kText;  // kText, kBinary, kClose, kPing or kPong
  std::string payload;
};

struct WsError {
  uint16_t close_code = 1002;
  std::string reason;
};

class WsDecoder {
 public:
  // `max_message` bounds a message (all its fragments) and so the memory one holds.
  explicit WsDecoder(size_t max_message = 1 << 20, bool require_mask = true)
      : max_message_(max_message), require_mask_(require_mask) {}

  // Consumes `bytes`, appending every complete message to `out`; bytes of an incomplete
  // frame are kept for the next call. After an error the decoder stays failed.
  std::optional<WsError> feed(std::string_view bytes, std::vector<WsMessage>& out);

 private:
  std::optional<WsError> fail(uint16_t code, std::string reason);
  size_t max_message_;
  bool require_mask_;
  std::string buf_;
  bool in_message_ = false;  // a fragmented message is open
  WsOpcode message_opcode_ = WsOpcode::kText;
  std::string message_;
  std::optional<WsError> failed_;
};

// One unmasked frame (a server's), FIN set.
std::string ws_frame(WsOpcode opcode, std::string_view payload);
// One frame masked with `mask` (a client's); `fin` false leaves the message open for
// continuation frames.
std::string ws_masked_frame(WsOpcode opcode, std::string_view payload, uint32_t mask,
                            bool fin = true);
// The code of a close frame's payload; 1005 when it carries none.
uint16_t ws_close_code(std::string_view payload);
// A close frame's payload: the code, then a reason cut to fit 123 bytes (never inside a
// UTF-8 sequence).
std::string ws_close_payload(uint16_t code, std::string_view reason);

// Sends on an open WebSocket, from any thread; the server owns the other end. Sending
// never blocks: a message is queued and the server writes it. The queue is bounded (a
// message is refused once max_queued_bytes wait, so it holds at most that plus one
// message), and a peer that reads too slowly shows as send() == false (back-pressure:
// slow down, drop, or close), never as memory without end. The server stops handing
// messages to the session while the bound is reached, so a session that only answers
// what it receives never sees a refusal.
class WebSocketChannel {
 public:
  WebSocketChannel(size_t max_queued_bytes, std::function<void()> wake)
      : max_queued_(max_queued_bytes), wake_(std::move(wake)) {}

  // Queues a text (valid UTF-8) or binary message. false: the connection is closed or
  // closing, or max_queued_bytes are already waiting.
  bool send(WsOpcode opcode, std::string_view payload);
  bool send_text(std::string_view payload) { return send(WsOpcode::kText, payload); }
  // Starts the closing handshake (messages queued before it are sent first).
  void close(uint16_t code = 1000, std::string_view reason = {});
  bool is_open() const;
  // Bytes accepted by send() and not yet taken by the socket.
  size_t queued_bytes() const;

  // ---- the server's side ----
  // The server is about to call the session and will take() after: sends until then
  // need no wake.
  void begin_turn();
  struct CloseRequest {
    uint16_t code = 1000;
    std::string reason;
  };
  // Moves the queued frames to `out`; the close asked for, once, after them. Ends the
  // turn begun by begin_turn().
  std::optional<CloseRequest> take(std::string& out);
  // What the socket has not taken yet of what take() gave (counts against the bound).
  void set_unsent(size_t bytes);
  // The connection ended: sends fail from now on and no wake is called.
  void mark_closed();

 private:
  mutable std::mutex mu_;
  size_t max_queued_;
  std::function<void()> wake_;
  std::string queue_;
  size_t unsent_ = 0;
  std::optional<CloseRequest> close_;
  bool close_taken_ = false;
  bool closed_ = false;
  bool in_turn_ = false;
};

// The application's end of an upgraded connection. The server calls on_open once, then
// on_message for each message, then on_close once, on its threads, one call at a time per
// connection; none may block (queue work elsewhere and send from there).
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  // The 101 was written; keep `channel` to send, from here or from other threads.
  virtual void on_open(const std::shared_ptr<WebSocketChannel>& channel) = 0;
  // A text (valid UTF-8) or binary message, its fragments joined.
  virtual void on_message(WsOpcode opcode, std::string payload) = 0;
  // The connection ended: the close code the peer sent (or we sent, when we closed
  // first), 1006 when it dropped without a close frame, 1001 when the server stopped.
  virtual void on_close(uint16_t code, const std::string& reason) = 0;
};

}  // namespace jz::http
