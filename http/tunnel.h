// Relays bytes between a client's connection and a backend's: what the platform's reverse
// proxy (dev environments) uses once a request is authorised, for plain HTTP answers
// (streamed as they come, whatever their size) and for WebSockets (both ways, for as long
// as both ends keep the connection).
//
// Model: a fixed number of threads (TunnelOptions::threads), each with its own epoll set;
// a tunnel stays on the thread it was given, so no tunnel needs a lock. Each direction has
// a buffer of TunnelOptions::buffer_bytes: while it is full the tunnel stops reading from
// the sender (back-pressure reaches the sender through TCP), so memory is bounded by
// 2 x buffer_bytes per tunnel whatever the peers do. An end that finishes sending (EOF)
// is passed on as a half close once its bytes are out; a tunnel closes when both
// directions finished, on an error, after idle_timeout without a byte either way, or on
// stop().
//
// The backend's answer head can be rewritten (a function of the head, bounded by
// max_head_bytes) before the client sees it: the proxy drops hop-by-hop headers and adds
// its own. After a "101 Switching Protocols" head the tunnel reads the WebSocket frames
// passing either way (without copying or unmasking them) and reports data messages as
// activity; pings and pongs are not activity, so an open but unused notebook counts as
// idle.
//
// Thread safety: open(), stop() and stats() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace jz::http {

struct TunnelOptions {
  int threads = 2;
  size_t buffer_bytes = 256 << 10;  // per direction
  size_t max_head_bytes = 64 << 10;
  int max_tunnels = 4096;
  // A tunnel with no byte either way for this long closes. WebSockets get their own
  // (a notebook left open for an hour is still in use).
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds websocket_idle_timeout{3600000};
};

// What passed through a tunnel, told to its owner.
struct TunnelActivity {
  enum class Kind { kResponse, kMessage };
  Kind kind = Kind::kResponse;  // the backend began an answer / a WebSocket data message
};

struct TunnelSpec {
  int client_fd = -1;      // owned by the pool from open() on, even when it fails
  std::string to_client;   // sent to the client first
  int backend_fd = -1;     // owned likewise; connected (or connecting) non-blocking
  std::string to_backend;  // sent to the backend first (the request)
  // Whether bytes from the client go on to the backend after to_backend. false for a
  // plain request: what the client sends after it is not read (a pipelined request
  // must not reach the backend without its own authorisation).
  bool duplex = false;
  // The backend's answer head (status line to the blank line, CRLFs included) is passed
  // to this and its result sent instead; empty: close (the answer is refused).
  std::function<std::string(std::string_view head)> rewrite_head;
  // Called on the tunnel's thread when the answer begins, then for WebSocket data
  // messages at most once per second per tunnel (must not block).
  std::function<void(const TunnelActivity&)> on_activity;
  // Called once when the tunnel is closed (or could not open), on some thread.
  std::function<void()> on_close;
};

struct TunnelStats {
  int64_t open = 0;
  int64_t opened = 0;
  int64_t bytes_to_client = 0;
  int64_t bytes_to_backend = 0;
};

class TunnelPool {
 public:
  explicit TunnelPool(TunnelOptions options = {});
  ~TunnelPool();  // stop()s
  TunnelPool(const TunnelPool&) = delete;
  TunnelPool& operator=(const TunnelPool&) = delete;

  // Starts the threads (first open() does it too).
  Status start();
  // Hands both sockets to a thread. resource_exhausted when max_tunnels are open (both
  // sockets are closed and on_close is called then too).
  Status open(TunnelSpec spec);
  // Closes every tunnel and joins the threads. Idempotent.
  void stop();
  TunnelStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// What a reverse proxy sends its backend for `req`: the request line with `target`, the
// headers minus hop-by-hop ones (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding,
// Upgrade, Proxy-*, Expect, Content-Length) and minus `drop` (the platform's credentials),
// the Cookie header minus the cookies named in `drop_cookies`, X-Forwarded-For/-Proto/-Host,
// then the body with its length. A WebSocket upgrade keeps "Connection: Upgrade" and
// "Upgrade: websocket"; anything else asks "Connection: close" (a tunnel carries one answer).
std::string proxy_request_head(const Request& req, std::string_view target,
                               const std::vector<std::string>& drop,
                               const std::vector<std::string>& drop_cookies, bool upgrade);

// A backend's answer head as the client gets it: hop-by-hop fields dropped (a 101 keeps
// Connection and Upgrade), "Connection: close" added to any other answer, and each field of
// `set` replacing the backend's fields of that name. "" when `head` is not an HTTP/1.x
// status line and fields ending in a blank line (the tunnel then closes).
std::string proxy_response_head(std::string_view head, const Headers& set);

// Counts the WebSocket data messages in a byte stream of frames (either direction)
// without keeping their payloads: the tunnel's activity meter, a parser of its own (and
// so a fuzz target).
class WsFrameCounter {
 public:
  // Consumes `bytes`; returns the number of data frames (text, binary, continuation with
  // FIN) that began in them. After malformed input it counts nothing more.
  int feed(std::string_view bytes);
  bool failed() const { return failed_; }

 private:
  uint64_t skip_ = 0;  // payload bytes of the current frame still to pass
  std::string head_;   // the current frame's head, as far as it arrived (2 to 14 bytes)
  bool failed_ = false;
};

}  // namespace jz::http
