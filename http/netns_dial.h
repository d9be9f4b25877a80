// Opens TCP connections from inside another network namespace: how the platform reaches
// a sandbox's loopback (a dev environment's server) while the sandbox has no network and
// no port on the machine.
//
// A socket belongs to the namespace it was created in, whichever thread uses it later; a
// thread that entered a sandbox's namespace cannot come back. So each namespace gets one
// thread that entered it and makes sockets there on request, kept while connections keep
// coming and ended after `idle` without one: the threads are bounded by the sandboxes in
// use, not by the requests.
//
// Thread safety: any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"

namespace jz::http {

class NetnsDialer {
 public:
  explicit NetnsDialer(std::chrono::milliseconds idle = std::chrono::seconds(30));
  ~NetnsDialer();  // ends the threads
  NetnsDialer(const NetnsDialer&) = delete;
  NetnsDialer& operator=(const NetnsDialer&) = delete;

  // A connected, non-blocking TCP socket to 127.0.0.1:`port` inside the network namespace
  // at `netns` (a /proc/PID/ns/net path; "" for this process's own). unavailable when
  // nothing listens there or the namespace is gone; the caller owns the socket.
  Result<int> dial(const std::string& netns, int port,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Threads alive now (one per namespace in use).
  int threads() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace jz::http
