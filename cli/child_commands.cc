#include "cli/child_commands.h"

#include "sdk/conformance.h"
#include "sdk/host.h"

namespace jz::cli {

ChildCommands::ChildCommands(CLI::App& app) {
  // The child side of the isolated algorithm host (sdk/host.h).
  host_ = app.add_subcommand("algo-host", "Run an algorithm for a parent process");
  host_->group("");  // hidden from --help
  host_->add_option("LIBRARY", host_lib_)->required();
  host_->add_option("SOCKET_FD", host_sock_)->required();
  host_->add_option("SHM_FD", host_shm_)->required();
  host_->add_option("SHM_BYTES", host_shm_bytes_)->required();
  host_->add_option("MEMORY_MB", host_mem_)->required();
  // The sandboxed side of `jizhan algo check` (sdk/conformance.h).
  check_ = app.add_subcommand("algo-check-child", "Run conformance checks for a parent process");
  check_->group("");
  check_->add_option("OPTIONS_FD", check_options_fd_)->required();
  check_->add_option("RESULTS_FD", check_results_fd_)->required();
}

int ChildCommands::run() const {
  if (*host_) {
    return sdk::run_algo_host(host_lib_, host_sock_, host_shm_, host_shm_bytes_, host_mem_);
  }
  return sdk::run_conformance_child(check_options_fd_, check_results_fd_);
}

}  // namespace jz::cli
