// Running an algorithm in a child process (`jizhan algo-host`), so that its crash, hang
// or memory blow-up becomes an error for one call and a restarted child, never a dead
// host. Frames cross in shared memory (a memfd mapped by both sides); requests and
// answers are length-prefixed JSON messages on a socket pair.
//
// Not thread-safe: one IsolatedAlgo serves one caller thread (run several for more).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "core/subprocess.h"
#include "jizhan/algo.h"
#include "sdk/sandbox.h"

namespace jz::sdk {

struct HostOptions {
  std::string library;  // the algorithm's shared library
  std::string config_json = "{}";
  // The unpacked package: the child's working folder and $JIZHAN_PACKAGE_DIR, so that
  // an algorithm finds its models by relative path. Empty: the caller's folder.
  std::string package_dir;
  std::string host_binary;                         // the jizhan binary (runs `jizhan algo-host`)
  std::chrono::milliseconds timeout{10000};        // per call; then the child is killed
  std::chrono::milliseconds start_timeout{60000};  // loading the library and creating
  int64_t memory_limit_mb = 0;                     // the child's address-space limit; 0: none
  size_t shared_memory_bytes = size_t{256} << 20;  // frames per call must fit
  // The child runs in a bubblewrap sandbox (sdk/sandbox.h) unless this is turned off
  // (--no-sandbox, for trusted development). Its output goes to our stderr, escaped.
  AlgoSandbox sandbox;
};

class IsolatedAlgo {
 public:
  // Starts the child and creates the instance; errors are the algorithm's (bad config)
  // or the host's (cannot start).
  static Result<std::unique_ptr<IsolatedAlgo>> start(const HostOptions& options);
  ~IsolatedAlgo();

  const Json& description() const { return description_; }
  // The output JSON. A crash is `unavailable`, a hang `deadline_exceeded`, malformed
  // output `internal`; after any of them the next call starts a fresh child.
  Result<std::string> process(const std::vector<jz_frame>& frames, const std::string& args = "");
  // The shared memory, for a caller that can produce its frame there (a decoder writing
  // into it): a frame whose pixels lie inside it crosses without a copy.
  uint8_t* frame_buffer() const { return shm_; }
  size_t frame_buffer_bytes() const { return options_.shared_memory_bytes; }
  // How many times a child was replaced after a failure.
  int restarts() const { return restarts_; }

 private:
  IsolatedAlgo() = default;
  Status launch();
  void kill_child();
  Result<Json> call(const Json& request, std::chrono::milliseconds timeout);
  std::string death_reason();

  HostOptions options_;
  Json description_;
  int sock_ = -1, shm_fd_ = -1;
  uint8_t* shm_ = nullptr;
  std::optional<Child> child_;
  std::unique_ptr<OutputRelay> relay_;  // what the child prints, to our stderr
  int restarts_ = 0;
};

// The child side, run by `jizhan algo-host LIBRARY SOCKET_FD SHM_FD SHM_BYTES MEMORY_MB`.
int run_algo_host(const std::string& library, int sock, int shm_fd, size_t shm_bytes,
                  int64_t memory_limit_mb);

}  // namespace jz::sdk
