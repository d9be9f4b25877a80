// The WebSocket protocol (RFC 6455) as pure functions, for the HTTP core's upgraded
// connections: the opening handshake and the frame codec. A server reads masked frames from
// clients and writes unmasked ones. The decoder enforces the RFC's rules and our limits;
// a violation is an error carrying the close code to answer with (1002 protocol error,
// 1009 too big). No extensions are negotiated, so the reserved bits must be zero.
//
// Not yet wired into http/server.h: the upgraded connection's state lives with its user
// (the dev-environment proxy).
#pragma once

#include <cstdint>
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
// A close frame's payload: the code, then a reason cut to fit 123 bytes.
std::string ws_close_payload(uint16_t code, std::string_view reason);

}  // namespace jz::http
