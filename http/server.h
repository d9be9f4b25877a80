// The platform's HTTP/1.1 server core: event-driven, so idle keep-alive connections,
// half-sent requests and live streams (Server-Sent Events, chunked downloads) cost a
// socket and a few hundred bytes each, never a thread.
//
// Model: `threads` threads wait on one epoll set (one-shot registrations, so one thread
// serves a connection at a time). The thread that reads a complete request runs its
// handler and writes the answer itself (no hand-over on the common path). Handlers may
// block (a database query); one thread is always kept free of handlers, so reading,
// writing, streams and the inline handlers (health checks) go on when every other thread
// is busy; requests beyond that wait in a bounded backlog (503 when it is full).
//
// Deadlines: a request's head must arrive within header_timeout of its first byte, its
// body must progress every body_timeout, an answer must drain within write_timeout of
// its last progress, an idle keep-alive connection closes after keepalive_timeout
// (408 for a partial request, silent otherwise). Limits: max_connections in all and
// max_connections_per_client per remote address (503 beyond). Parsing is strict
// (http/message.h).
//
// WebSockets: a handler that returns accept_websocket() turns its connection into a
// WebSocket once the 101 is written. The server decodes frames (http/websocket.h) and
// hands messages to the session, writes what its channel queues, answers pings, pings a
// silent peer, and completes the closing handshake (1001 to every peer on stop()). While
// more than ws_max_queued_bytes wait for the peer, the server stops reading from it, so a
// peer that sends without reading is held back instead of buffered.
//
// Thread safety: bind() and run() from one thread; stop(), wake() and stats() from any.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/message.h"
#include "http/websocket.h"

namespace jz::http {

// A body produced over time (Server-Sent Events, a long download), sent chunked.
class Stream {
 public:
  using Time = std::chrono::steady_clock::time_point;
  struct Step {
    bool done = false;  // the body is complete after what was appended
    Time wake_at{};     // otherwise: call again at this time (or on Server::wake)
  };
  virtual ~Stream() = default;
  // Appends the bytes ready now to `out`. Called on a server thread, when what was
  // appended before has been written and wake_at came or wake() was called. Must not
  // block for long (a page of a store, not a wait).
  virtual Step next(std::string& out) = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, `body` is sent first and the stream's bytes after it (chunked).
  std::shared_ptr<Stream> stream;
  // When set (with status 101), the connection becomes this WebSocket after the answer.
  std::shared_ptr<WebSocketSession> websocket;
  bool close = false;  // close the connection after this answer
  // When set, the server writes nothing and the connection leaves it at once: its socket
  // (non-blocking) and the bytes read past the request go to this function, which owns
  // them from then on (the proxy's tunnels, http/tunnel.h). It must not block.
  std::function<void(int fd, std::string rest)> takeover;
};

// Accepts a WebSocket upgrade for `session`: the 101 response a handler returns, or
// invalid_argument saying what `req` lacks to be a well-formed upgrade.
Result<Response> accept_websocket(const Request& req, std::shared_ptr<WebSocketSession> session);

// Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080" for all interfaces) into
// ServerOptions' host and port; invalid_argument says what is wrong and shows the form.
Status parse_listen_address(std::string_view text, std::string& host, int& port);

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port
  int threads = 16;  // at least 2
  size_t max_body_bytes = 8 << 20;
  // Requests whose path starts with large_body_prefix may send up to large_body_bytes
  // (git pushes); 0: no such path.
  std::string large_body_prefix;
  size_t large_body_bytes = 0;
  size_t max_head_bytes = 64 << 10;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds keepalive_timeout{5000};
  int keepalive_max_requests = 1000;
  int max_connections = 10000;
  int max_connections_per_client = 512;
  size_t max_backlog = 2048;  // requests waiting for a thread
  std::chrono::milliseconds stop_grace{10000};
  // WebSockets: the largest message a peer may send (1009 beyond); the bytes a channel
  // may hold unsent; a silent peer is pinged after ws_ping_interval and dropped when
  // nothing arrives within another; a closing handshake waits ws_close_timeout.
  size_t ws_max_message_bytes = 1 << 20;
  size_t ws_max_queued_bytes = 4 << 20;
  std::chrono::milliseconds ws_ping_interval{30000};
  std::chrono::milliseconds ws_close_timeout{5000};
};

struct ServerStats {
  int64_t connections = 0;
  int64_t streams = 0;
  int64_t websockets = 0;
  int64_t busy_threads = 0;
  int64_t backlog = 0;
};

class Server {
 public:
  // Runs on a server thread for each complete request; may block.
  using Handler = std::function<Response(Request&)>;
  // Runs first, on the thread that read the request, and must not block; a response
  // answers the request at once, nullopt passes it to the handler.
  using InlineHandler = std::function<std::optional<Response>(Request&)>;
  // Renders the server's own refusals (400, 408, 411, 413, 414, 431, 501, 503, 505) in
  // the application's error format. `req` is null when no head was parsed.
  using ErrorRenderer =
      std::function<Response(int status, const std::string& message, const Request* req)>;

  Server(ServerOptions options, Handler handler, InlineHandler inline_handler = {},
         ErrorRenderer errors = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; an error names the address and what to do.
  Status bind();
  int port() const;
  // Serves until stop(); returns after the last connection closed (or stop_grace).
  Status run();
  // Stops accepting, ends streams, lets requests in flight finish. Any thread; idempotent.
  void stop();
  bool stopping() const;
  // Asks the stream of connection `id` (Request::connection_id) to be polled now.
  void wake(uint64_t connection_id);
  ServerStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace jz::http
