#include <string>
#include <string_view>

#include "http/server.h"

namespace jz::http {

Status parse_listen_address(std::string_view text, std::string& host, int& port) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("listen address '" + std::string(text) + "' " + why +
                                    ": use HOST:PORT, for example 127.0.0.1:8080");
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.find(':') != std::string_view::npos && text.front() != '[') {
    return bad("has an IPv6 host without brackets");
  }
  if (p.empty() || p.size() > 5) return bad("has an invalid port");
  int n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return bad("has an invalid port");
    n = n * 10 + (c - '0');
  }
  if (n > 65535) return bad("has a port above 65535");
  host = h.empty() ? "0.0.0.0" : std::string(h);
  port = n;
  return {};
}

}  // namespace jz::http
