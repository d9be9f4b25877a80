// Fuzz target: the WebSocket frame decoder (http/websocket.h). Checks its promises: it
// never yields a message over its limit, a control frame over 125 bytes, or an unknown
// opcode, a text message or close reason that is not UTF-8, or a close code nobody may
// send; feeding the bytes at once or in two pieces gives the same messages and the same
// verdict; and frames the encoders wrote (a server's, a client's masked one) decode to
// what was encoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "http/websocket.h"

using jz::http::WsDecoder;
using jz::http::WsMessage;
using jz::http::WsOpcode;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 4096;
  WsDecoder whole(kMax);
  std::vector<WsMessage> a;
  const auto err_a = whole.feed(in, a);
  WsDecoder split(kMax);
  std::vector<WsMessage> b;
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  auto err_b = split.feed(in.substr(0, cut), b);
  if (!err_b) err_b = split.feed(in.substr(cut), b);
  if (err_a.has_value() != err_b.has_value() || a.size() != b.size()) __builtin_trap();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].opcode != b[i].opcode || a[i].payload != b[i].payload) __builtin_trap();
    const auto op = static_cast<uint8_t>(a[i].opcode);
    if (op != 1 && op != 2 && op != 8 && op != 9 && op != 10) __builtin_trap();
    if (op >= 8 && a[i].payload.size() > 125) __builtin_trap();
    if (a[i].payload.size() > kMax) __builtin_trap();
    if (op == 1 && !jz::is_utf8(a[i].payload)) __builtin_trap();
    if (op == 8 && a[i].payload.size() >= 2) {
      const auto code = static_cast<uint16_t>((static_cast<uint8_t>(a[i].payload[0]) << 8) |
                                              static_cast<uint8_t>(a[i].payload[1]));
      if (!jz::http::is_valid_close_code(code)) __builtin_trap();
      if (!jz::is_utf8(std::string_view(a[i].payload).substr(2))) __builtin_trap();
    }
  }
  // The encoder's frames (unmasked) decode back.
  WsDecoder plain(kMax, /*require_mask=*/false);
  std::vector<WsMessage> c;
  const std::string payload(in.substr(0, std::min<size_t>(size, kMax)));
  if (plain.feed(jz::http::ws_frame(WsOpcode::kBinary, payload), c) || c.size() != 1 ||
      c[0].payload != payload) {
    __builtin_trap();
  }
  WsDecoder masked(kMax);
  std::vector<WsMessage> d;
  const uint32_t key =
      size >= 4
          ? (uint32_t{data[0]} << 24 | uint32_t{data[1]} << 16 | uint32_t{data[2]} << 8 | data[3])
          : 0x5a5a5a5a;
  if (masked.feed(jz::http::ws_masked_frame(WsOpcode::kBinary, payload, key), d) || d.size() != 1 ||
      d[0].payload != payload) {
    __builtin_trap();
  }
  return 0;
}
