#include "http/websocket.h"

#include <gtest/gtest.h>

namespace jz::http {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// RFC 6455 section 1.3.
TEST(WebSocket, HandshakeAcceptOfTheRfcExample) {
  auto accept = websocket_accept("dGhlIHNhbXBsZSBub25jZQ==");
  ASSERT_TRUE(accept.ok());
  EXPECT_EQ(*accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  for (const char* bad : {"", "short==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=x",
                          "dGhlIHNhbXBsZSBub2*jZQ=="}) {
    EXPECT_EQ(websocket_accept(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  Request r;
  r.method = "GET";
  r.headers.add("Upgrade", "websocket");
  r.headers.add("Connection", "keep-alive, Upgrade");
  r.headers.add("Sec-WebSocket-Version", "13");
  r.headers.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_TRUE(is_websocket_upgrade(r));
  r.headers.set("Sec-WebSocket-Version", "8");
  EXPECT_FALSE(is_websocket_upgrade(r));
}

// RFC 6455 section 5.7's examples.
TEST(WebSocket, DecodesTheRfcExamples) {
  std::vector<WsMessage> out;
  WsDecoder d;
  EXPECT_FALSE(
      d.feed(bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].opcode, WsOpcode::kText);
  EXPECT_EQ(out[0].payload, "Hello");

  // Unmasked frames, as a server sends them (and as a client must not).
  WsDecoder plain(1 << 20, /*require_mask=*/false);
  out.clear();
  EXPECT_FALSE(plain.feed(bytes({0x01, 0x03, 'H', 'e', 'l'}), out));
  EXPECT_TRUE(out.empty()) << "the message is not complete yet";
  EXPECT_FALSE(plain.feed(bytes({0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}), out));
  ASSERT_EQ(out.size(), 1u) << "a control frame may come between fragments";
  EXPECT_EQ(out[0].opcode, WsOpcode::kPing);
  EXPECT_FALSE(plain.feed(bytes({0x80, 0x02, 'l', 'o'}), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].opcode, WsOpcode::kText);
  EXPECT_EQ(out[1].payload, "Hello");

  // 256 and 65,536 bytes: the 16-bit and 64-bit lengths, fed a byte at a time.
  for (size_t n : {size_t{256}, size_t{65536}}) {
    const std::string frame = ws_frame(WsOpcode::kBinary, std::string(n, 'x'));
    EXPECT_EQ(static_cast<unsigned char>(frame[1]), n == 256 ? 126 : 127);
    WsDecoder again(1 << 20, false);
    out.clear();
    for (char c : frame) ASSERT_FALSE(again.feed(std::string_view(&c, 1), out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload.size(), n);
  }
}

TEST(WebSocket, ProtocolViolationsAreErrorsWithACloseCode) {
  struct Case {
    std::string in;
    uint16_t code;
    const char* why;
  };
  const std::vector<Case> cases = {
      {bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}), 1002, "unmasked client frame"},
      {bytes({0xC1, 0x80, 0, 0, 0, 0}), 1002, "reserved bit"},
      {bytes({0x83, 0x80, 0, 0, 0, 0}), 1002, "unknown opcode"},
      {bytes({0x09, 0x80, 0, 0, 0, 0}), 1002, "fragmented ping"},
      {bytes({0x89, 0xFE, 0x00, 0x7E, 0, 0, 0, 0}), 1002, "ping over 125 bytes"},
      {bytes({0x80, 0x80, 0, 0, 0, 0}), 1002, "continuation with no message"},
      {bytes({0x01, 0x80, 0, 0, 0, 0, 0x01, 0x80, 0, 0, 0, 0}), 1002, "message inside message"},
      {bytes({0x88, 0x81, 0, 0, 0, 0, 0x03}), 1002, "one-byte close"},
      {bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}), 1002, "64-bit length top bit"},
      {bytes({0x82, 0xFF, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF}), 1009, "too big"},
  };
  for (const auto& c : cases) {
    WsDecoder d(1 << 20);
    std::vector<WsMessage> out;
    auto err = d.feed(c.in, out);
    ASSERT_TRUE(err.has_value()) << c.why;
    EXPECT_EQ(err->close_code, c.code) << c.why << ": " << err->reason;
    EXPECT_TRUE(d.feed(bytes({0x81, 0x80, 0, 0, 0, 0}), out).has_value()) << "stays failed";
  }
  // Fragments adding up past the limit.
  WsDecoder small(8, false);
  std::vector<WsMessage> out;
  EXPECT_FALSE(small.feed(bytes({0x01, 0x05, 'a', 'b', 'c', 'd', 'e'}), out));
  auto err = small.feed(bytes({0x80, 0x05, 'f', 'g', 'h', 'i', 'j'}), out);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->close_code, 1009);
}

TEST(WebSocket, ClosePayloadCarriesTheCodeAndACutReason) {
  const std::string p = ws_close_payload(1000, std::string(200, 'r'));
  EXPECT_EQ(p.size(), 125u);
  EXPECT_EQ(static_cast<unsigned char>(p[0]), 0x03);
  EXPECT_EQ(static_cast<unsigned char>(p[1]), 0xE8);
}

}  // namespace
}  // namespace jz::http
