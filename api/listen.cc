// Plumbing between the API server's options and the HTTP core.
#include "api/plumbing.h"

namespace jz::api {

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

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

http::ServerOptions http_options(const ServerOptions& o) {
  http::ServerOptions h;
  h.host = o.host;
  h.port = o.port;
  h.threads = std::max(2, o.threads + 1);
  h.max_body_bytes = o.max_body_bytes;
  h.large_body_prefix = "/git/";
  h.large_body_bytes = o.git_max_push_bytes;
  h.header_timeout = o.header_timeout;
  h.body_timeout = o.read_timeout;
  h.write_timeout = o.write_timeout;
  h.keepalive_timeout = o.keepalive_timeout;
  h.keepalive_max_requests = o.keepalive_max_requests;
  h.max_connections = o.max_connections;
  h.max_connections_per_client = o.max_connections_per_client;
  h.ws_ping_interval = o.websocket_ping_interval;
  h.ws_max_message_bytes = o.websocket_max_message_bytes;
  return h;
}

}  // namespace jz::api
