// `jizhan algo serve`: an algorithm behind gRPC (proto/jizhan/algo/v1/algo.proto) and
// HTTP (`POST /v1/process`), on a pool of isolated instances (sdk/host.h): a call waits
// for a free instance; a crashed or hung instance fails that call and restarts.
//
// HTTP endpoints: POST /v1/process (body: an encoded image; or JSON
// {"image_base64": ..., "args": {...}}; `?args=JSON` also works), GET /v1/describe,
// GET /healthz (the process is up), GET /readyz (every instance is up). With a token,
// every endpoint but /healthz needs "Authorization: Bearer TOKEN".
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "sdk/host.h"

namespace jz::sdk {

struct ServeOptions {
  std::string grpc_address;  // HOST:PORT, or empty for no gRPC
  std::string http_address;  // HOST:PORT, or empty for no HTTP
  int instances = 1;
  std::string token;  // required from clients when not empty
  HostOptions host;   // how each instance runs
  std::string manifest_json;
  double qps = 0;  // frames per second over all calls (the licence's limit); 0: none
};

class AlgoServer {
 public:
  // Starts every instance, then the listeners. Serving on an address other than loopback
  // without a token is refused.
  static Result<std::unique_ptr<AlgoServer>> start(const ServeOptions& options);
  ~AlgoServer();
  int grpc_port() const;
  int http_port() const;
  const Json& description() const;
  // Frames that reached the algorithm so far (usage reports count them).
  int64_t frames() const;
  void shutdown();

  struct Impl;

 private:
  explicit AlgoServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jz::sdk
