// Fuzz target: HTTP request heads and chunked bodies (http/message.h). Checks the
// parser's promises: an accepted head has a method, a path starting with '/', one Host
// for HTTP/1.1, and a framing that never combines a length with chunked; the chunked
// decoder never yields more body than its limit, whether fed at once or in two pieces; a
// cookie read from the head never spans a ';'.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  jz::http::ParseLimits limits;
  limits.max_body = 1 << 16;
  const size_t end = jz::http::find_head_end(in);
  if (end > 0) {
    jz::http::Request req;
    jz::http::Framing framing;
    uint64_t length = 0;
    if (!jz::http::parse_head(in.substr(0, end), limits, req, framing, length)) {
      if (req.method.empty() || req.path.empty() || req.path[0] != '/') __builtin_trap();
      if (req.minor_version == 1 && req.headers.count("Host") != 1) __builtin_trap();
      if (framing == jz::http::Framing::kChunked && req.headers.has("Content-Length")) {
        __builtin_trap();
      }
      if (length > limits.max_body) __builtin_trap();
      // A cookie's value never carries the separator it was cut at.
      if (auto v = req.cookie("jz_session"); v && v->find(';') != std::string::npos) {
        __builtin_trap();
      }
    }
  }
  const std::string_view rest = in.substr(end);
  for (size_t split : {rest.size(), rest.size() / 2}) {
    jz::http::ChunkedDecoder d(512);
    std::string body;
    size_t used = 0;
    auto e = d.feed(rest.substr(0, split), used, body);
    if (!e) {
      size_t more = 0;
      e = d.feed(rest.substr(used), more, body);
    }
    if (body.size() > 512) __builtin_trap();
  }
  return 0;
}
