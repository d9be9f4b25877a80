// Tests' helper: an http::Server bound to a free loopback port and running on its own
// thread until the object goes.
#pragma once

#include <gtest/gtest.h>

#include <thread>

#include "http/server.h"

namespace jz::http {

class RunningServer {
 public:
  RunningServer(ServerOptions o, Server::Handler h, Server::InlineHandler ih = {})
      : server(std::move(o), std::move(h), std::move(ih)) {
    Status s = server.bind();
    EXPECT_TRUE(s.ok()) << s.to_string();
    thread = std::thread([this] { EXPECT_TRUE(server.run().ok()); });
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  int port() const { return server.port(); }
  Server server;
  std::thread thread;
};

}  // namespace jz::http
