// Fuzz target: what the dev-environment proxy reads from a backend it does not trust
// (http/tunnel.h): the answer head it rewrites and the WebSocket frames it counts.
// Checks: a rewritten head is either refused ("") or a well-formed head that ends in one
// blank line, carries no bare CR or LF inside a line, says "Connection: close" unless it
// is a 101, and rewrites to itself again; the frame counter gives the same count however
// the bytes are split, and never counts more data frames than there are frame heads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/tunnel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  jz::http::Headers set;
  set.set("X-Frame-Options", "SAMEORIGIN");
  const std::string head = jz::http::proxy_response_head(in, set);
  if (!head.empty()) {
    if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") std::abort();
    if (head.find("\r\n\r\n") != head.size() - 4) std::abort();  // one blank line, at the end
    for (size_t i = 0; i < head.size(); ++i) {
      if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) std::abort();
      if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) std::abort();
    }
    const bool upgraded = head.compare(9, 3, "101") == 0;
    if (!upgraded && head.find("\r\nConnection: close\r\n") == std::string::npos) std::abort();
    if (head.find("\r\nX-Frame-Options: SAMEORIGIN\r\n") == std::string::npos) std::abort();
    if (jz::http::proxy_response_head(head, set) != head) std::abort();
  }

  jz::http::WsFrameCounter whole;
  const int n = whole.feed(in);
  jz::http::WsFrameCounter split;
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  int m = split.feed(in.substr(0, cut));
  m += split.feed(in.substr(cut));
  if (!whole.failed() && !split.failed() && n != m) std::abort();
  if (n < 0 || static_cast<size_t>(n) > size / 2) std::abort();
  return 0;
}
