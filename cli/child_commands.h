// The hidden commands that the algorithm host and `algo check` start in a child process
// (`algo-host`, `algo-check-child`): registered by both `jizhan` and `jizhan-algo`, since
// the child is started from whichever program runs the algorithm. Not for people.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace jz::cli {

class ChildCommands {
 public:
  explicit ChildCommands(CLI::App& app);
  bool chosen() const { return *host_ || *check_; }
  int run() const;

 private:
  CLI::App* host_;
  CLI::App* check_;
  std::string host_lib_;
  int host_sock_ = -1, host_shm_ = -1;
  size_t host_shm_bytes_ = 0;
  int64_t host_mem_ = 0;
  int check_options_fd_ = -1, check_results_fd_ = -1;
};

}  // namespace jz::cli
