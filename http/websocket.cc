#include "http/websocket.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/hash.h"
#include "core/text.h"

namespace jz::http {
namespace {

bool has_token(std::string_view list, std::string_view token) {
  // A comma-separated list, compared without case.
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() &&
        std::equal(item.begin(), item.end(), token.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// XORs n bytes at p with the 4-byte masking key (masking and unmasking alike), eight
// bytes at a time.
void apply_mask(char* p, size_t n, const unsigned char* key) {
  uint8_t k8[8];
  for (int i = 0; i < 8; ++i) k8[i] = key[i % 4];
  uint64_t k = 0;
  std::memcpy(&k, k8, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, 8);
    w ^= k;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

bool is_base64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
}

}  // namespace

bool is_websocket_upgrade(const Request& r) {
  return r.method == "GET" && r.minor_version == 1 && has_token(r.header("Upgrade"), "websocket") &&
         has_token(r.header("Connection"), "upgrade") &&
         r.header("Sec-WebSocket-Version") == "13" && !r.header("Sec-WebSocket-Key").empty();
}

bool is_valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

Result<std::string> websocket_accept(std::string_view key) {
  // 16 bytes in base64: 22 characters and "==".
  bool ok = key.size() == 24 && key.substr(22) == "==";
  for (size_t i = 0; ok && i < 22; ++i) ok = is_base64_char(key[i]);
  if (!ok) {
    return Status::invalid_argument(
        "Sec-WebSocket-Key must be 16 random bytes in base64 (24 characters)");
  }
  const auto digest = sha1(std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  return base64_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::optional<WsError> WsDecoder::fail(uint16_t code, std::string reason) {
  failed_ = WsError{code, std::move(reason)};
  buf_.clear();
  message_.clear();
  return failed_;
}

std::optional<WsError> WsDecoder::feed(std::string_view bytes, std::vector<WsMessage>& out) {
  if (failed_) return failed_;
  buf_.append(bytes);
  size_t at = 0;
  for (;;) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data()) + at;
    const size_t have = buf_.size() - at;
    if (have < 2) break;
    const bool fin = (p[0] & 0x80) != 0;
    if ((p[0] & 0x70) != 0) return fail(1002, "reserved bits set (no extension was agreed)");
    const uint8_t op = p[0] & 0x0F;
    const bool masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7F;
    size_t head = 2;
    if (len == 126) {
      if (have < 4) break;
      len = (uint64_t{p[2]} << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (have < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      if (len >> 63) return fail(1002, "a 64-bit length with the top bit set");
      head = 10;
    }
    if (require_mask_ && !masked) return fail(1002, "client frames must be masked");
    const bool control = (op & 0x8) != 0;
    if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) {
      return fail(1002, "unknown opcode " + std::to_string(op));
    }
    if (control && (!fin || len > 125)) {
      return fail(1002, "control frames are unfragmented and at most 125 bytes");
    }
    if (!control) {
      if (op == 0x0 && !in_message_) return fail(1002, "a continuation frame with no message");
      if (op != 0x0 && in_message_) return fail(1002, "a new message inside a fragmented one");
      if (len > max_message_ || message_.size() + len > max_message_) {
        return fail(1009, "message larger than " + std::to_string(max_message_) + " bytes");
      }
    }
    const size_t mask_bytes = masked ? 4 : 0;
    if (have < head + mask_bytes + len) break;
    std::string payload(reinterpret_cast<const char*>(p + head + mask_bytes),
                        static_cast<size_t>(len));
    if (masked) apply_mask(payload.data(), payload.size(), p + head);
    at += head + mask_bytes + static_cast<size_t>(len);
    if (control) {
      if (op == 0x8 && payload.size() == 1) return fail(1002, "a close frame of one byte");
      if (op == 0x8 && payload.size() >= 2) {
        const uint16_t code = ws_close_code(payload);
        if (!is_valid_close_code(code)) {
          return fail(1002, "close code " + std::to_string(code) + " may not be sent");
        }
        if (!is_utf8(std::string_view(payload).substr(2))) {
          return fail(1007, "the close reason is not UTF-8");
        }
      }
      out.push_back({static_cast<WsOpcode>(op), std::move(payload)});
      continue;
    }
    if (op != 0x0) message_opcode_ = static_cast<WsOpcode>(op);
    if (message_.empty()) {
      message_ = std::move(payload);  // most messages are one frame: no second copy
    } else {
      message_ += payload;
    }
    in_message_ = !fin;
    if (fin) {
      if (message_opcode_ == WsOpcode::kText && !is_utf8(message_)) {
        return fail(1007, "a text message that is not UTF-8");
      }
      out.push_back({message_opcode_, std::move(message_)});
      message_.clear();
    }
  }
  buf_.erase(0, at);
  return std::nullopt;
}

namespace {

// A frame's head: FIN and opcode, the mask bit and the length.
std::string frame_head(WsOpcode opcode, size_t length, bool fin, bool masked) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode)));
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  const uint64_t len = length;
  if (len < 126) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(len)));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  }
  return out;
}

}  // namespace

std::string ws_frame(WsOpcode opcode, std::string_view payload) {
  std::string out = frame_head(opcode, payload.size(), true, false);
  out.append(payload);
  return out;
}

std::string ws_masked_frame(WsOpcode opcode, std::string_view payload, uint32_t mask, bool fin) {
  std::string out = frame_head(opcode, payload.size(), fin, true);
  const unsigned char key[4] = {
      static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
      static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  out.append(reinterpret_cast<const char*>(key), 4);
  const size_t at = out.size();
  out.append(payload);
  apply_mask(out.data() + at, payload.size(), key);
  return out;
}

uint16_t ws_close_code(std::string_view payload) {
  if (payload.size() < 2) return 1005;
  return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                               static_cast<uint8_t>(payload[1]));
}

std::string ws_close_payload(uint16_t code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  size_t n = std::min<size_t>(reason.size(), 123);
  // Back off to the start of a UTF-8 sequence when the cut falls inside one.
  while (n > 0 && n < reason.size() && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
  out.append(reason.substr(0, n));
  return out;
}

// wake_ runs under mu_, so that once mark_closed() returns no wake is running or will run
// (the server may be gone by then). It must not take a lock the server holds while it
// calls into the channel.
bool WebSocketChannel::send(WsOpcode opcode, std::string_view payload) {
  std::lock_guard lock(mu_);
  if (closed_ || close_ || queue_.size() + unsent_ >= max_queued_) return false;
  const bool was_empty = queue_.empty();
  queue_ += ws_frame(opcode, payload);
  if (was_empty && !in_turn_ && wake_) wake_();
  return true;
}

void WebSocketChannel::close(uint16_t code, std::string_view reason) {
  std::lock_guard lock(mu_);
  if (closed_ || close_) return;
  close_ = CloseRequest{code, std::string(reason)};
  if (wake_) wake_();
}

bool WebSocketChannel::is_open() const {
  std::lock_guard lock(mu_);
  return !closed_ && !close_;
}

size_t WebSocketChannel::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queue_.size() + unsent_;
}

void WebSocketChannel::begin_turn() {
  std::lock_guard lock(mu_);
  in_turn_ = true;
}

std::optional<WebSocketChannel::CloseRequest> WebSocketChannel::take(std::string& out) {
  std::lock_guard lock(mu_);
  in_turn_ = false;
  out += queue_;
  unsent_ += queue_.size();
  queue_.clear();
  if (close_ && !close_taken_) {
    close_taken_ = true;
    return close_;
  }
  return std::nullopt;
}

void WebSocketChannel::set_unsent(size_t bytes) {
  std::lock_guard lock(mu_);
  unsent_ = bytes;
}

void WebSocketChannel::mark_closed() {
  std::lock_guard lock(mu_);
  closed_ = true;
  queue_.clear();
}

}  // namespace jz::http
