// Plumbing between the API server's options and the HTTP core.
#include "api/plumbing.h"

namespace jz::api {

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
