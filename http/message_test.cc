#include "http/message.h"

#include <gtest/gtest.h>

namespace jz::http {
namespace {

struct Parsed {
  std::optional<ParseError> error;
  Request req;
  Framing framing = Framing::kNone;
  uint64_t length = 0;
};

Parsed parse(std::string_view head, ParseLimits limits = {}) {
  Parsed p;
  p.error = parse_head(head, limits, p.req, p.framing, p.length);
  return p;
}

TEST(Parser, ReadsARequest) {
  auto p = parse(
      "GET /api/v1/jobs?state=running&q=a+b%2Fc HTTP/1.1\r\nHost: x\r\n"
      "X-Thing:  padded value \t\r\n\r\n");
  ASSERT_FALSE(p.error) << p.error->message;
  EXPECT_EQ(p.req.method, "GET");
  EXPECT_EQ(p.req.path, "/api/v1/jobs");
  EXPECT_EQ(p.req.query, "state=running&q=a+b%2Fc");
  EXPECT_EQ(p.req.param("q"), "a b/c");
  EXPECT_TRUE(p.req.has_param("state"));
  EXPECT_FALSE(p.req.has_param("nope"));
  EXPECT_EQ(p.req.header("x-thing"), "padded value");
  EXPECT_EQ(p.framing, Framing::kNone);
  EXPECT_TRUE(p.req.keep_alive());
}

TEST(Parser, RefusesWhatProxiesMayReadDifferently) {
  struct Case {
    const char* head;
    int status;
    const char* says;
  } cases[] = {
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
       "more than one Content-Length"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
       "more than one Content-Length"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
       "both Transfer-Encoding and Content-Length"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
       "not supported"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "not a decimal"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,1\r\n\r\n", 400, "not a decimal"},
      {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411, "needs a Content-Length"},
      {"PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 411, "needs a Content-Length"},
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obs-fold"},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "whitespace before ':'"},
      {"GET / HTTP/1.1\r\n\r\n", 400, "one Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "one Host header"},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "not supported"},
      {"GET / FOO\r\nHost: x\r\n\r\n", 400, "HTTP/1.1"},
      {"GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "starting with '/'"},
      {"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "visible ASCII"},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n", 400, "control character"},
      {"GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", 400, "no 'name:'"},
      {"GET /?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "percent escape"},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"},
      {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not a token"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.head);
    ASSERT_TRUE(p.error) << c.head;
    EXPECT_EQ(p.error->status, c.status) << c.head;
    EXPECT_NE(p.error->message.find(c.says), std::string::npos) << p.error->message;
  }
}

TEST(Parser, FramesBodies) {
  auto p = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.framing, Framing::kLength);
  EXPECT_EQ(p.length, 12u);
  p = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.framing, Framing::kNone);
  p = parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.framing, Framing::kChunked);
  ParseLimits small;
  small.max_body = 10;
  p = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", small);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->status, 413);
  EXPECT_NE(p.error->message.find("11 bytes"), std::string::npos);
}

TEST(Parser, LimitsTheTargetAndTheFields) {
  ParseLimits l;
  l.max_target = 10;
  l.max_headers = 2;
  auto p = parse("GET /0123456789 HTTP/1.1\r\nHost: x\r\n\r\n", l);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->status, 414);
  p = parse("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", l);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->status, 431);
}

TEST(Parser, KeepAliveFollowsTheVersionAndConnection) {
  auto p = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_FALSE(p.req.keep_alive());
  p = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_TRUE(p.req.keep_alive());
  p = parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n");
  EXPECT_FALSE(p.req.keep_alive());
}

TEST(Parser, FindsTheHeadsEndAcrossReads) {
  std::string buf = "GET / HTTP/1.1\r\nHost: x\r\n\r";
  EXPECT_EQ(find_head_end(buf, 0), 0u);
  const size_t scanned = buf.size();
  buf += "\nrest";
  EXPECT_EQ(find_head_end(buf, scanned), buf.size() - 4);
}

TEST(Chunked, DecodesInPiecesAndChecksEveryDelimiter) {
  const std::string wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  // Byte by byte, as a slow client sends it.
  ChunkedDecoder d(1 << 20);
  std::string body, pending;
  for (char ch : wire) {
    pending.push_back(ch);
    size_t used = 0;
    auto e = d.feed(pending, used, body);
    ASSERT_FALSE(e) << e->message;
    pending.erase(0, used);
  }
  EXPECT_TRUE(d.done());
  EXPECT_EQ(body, "hello world");
  EXPECT_TRUE(pending.empty());

  for (const char* badwire : {"z\r\n", "5\r\nhelloXX", "5\r\n", "\r\n"}) {
    ChunkedDecoder b(1 << 20);
    std::string out;
    size_t used = 0;
    auto e = b.feed(badwire, used, out);
    if (std::string_view(badwire) == "5\r\n") {
      EXPECT_FALSE(e);  // incomplete, not wrong
      continue;
    }
    ASSERT_TRUE(e) << badwire;
    EXPECT_EQ(e->status, 400);
  }
  ChunkedDecoder small(4);
  std::string out;
  size_t used = 0;
  auto e = small.feed("5\r\nhello\r\n0\r\n\r\n", used, out);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 413);
}

TEST(PercentDecode, DecodesAndRefusesBrokenEscapes) {
  EXPECT_EQ(percent_decode("a%20b+c", false).value(), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true).value(), "a b c");
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("%4", false));
  EXPECT_FALSE(percent_decode("%g0", false));
  auto q = parse_query("a=1&&b&c=%41");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[1].first, "b");
  EXPECT_EQ((*q)[1].second, "");
  EXPECT_EQ((*q)[2].second, "A");
}

TEST(Cookies, FoundByNameAcrossHeadersAndQuotes) {
  Request r;
  r.headers.add("Cookie", "theme=dark; jz_session=abc123;  lang=zh-CN");
  r.headers.add("cookie", "later=\"quoted value\"; jz_session=second");
  EXPECT_EQ(r.cookie("jz_session"), "abc123");
  EXPECT_EQ(r.cookie("lang"), "zh-CN");
  EXPECT_EQ(r.cookie("later"), "quoted value");
  EXPECT_EQ(r.cookie("jz"), std::nullopt);
  EXPECT_EQ(r.cookie("session"), std::nullopt) << "names match whole";
  Request none;
  EXPECT_EQ(none.cookie("jz_session"), std::nullopt);
  Request empty;
  empty.headers.add("Cookie", "jz_session=; other");
  EXPECT_EQ(empty.cookie("jz_session"), "");
}

}  // namespace
}  // namespace jz::http
