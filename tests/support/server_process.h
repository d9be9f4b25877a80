// A `jizhan server` child process for end-to-end tests: started on a free port with
// its own data directory, waited for until /healthz answers, signalled and reaped.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/subprocess.h"

namespace jz::testing {

// The jizhan binary built alongside the tests (set by CMake).
std::string jizhan_binary();
// The source tree (for docs/ checks).
std::string source_dir();

class ServerProcess {
 public:
  // Starts `jizhan server --listen 127.0.0.1:PORT --data-dir DATA_DIR EXTRA...` and
  // waits up to 30 s for /healthz.
  // The log file (stdout and stderr) starts empty on every start.
  static Result<std::unique_ptr<ServerProcess>> start(
      const std::string& data_dir, const std::vector<std::string>& extra = {},
      const std::map<std::string, std::string>& env = {});
  int port() const { return port_; }
  int pid() const { return child_->pid(); }
  const std::string& token() const { return token_; }
  const std::string& log_path() const { return log_path_; }
  std::string log() const;
  void signal(int sig) { child_->signal(sig); }
  SubprocessResult wait() { return child_->wait(); }
  std::optional<SubprocessResult> wait_for(std::chrono::milliseconds t) {
    return child_->wait_for(t);
  }

 private:
  std::unique_ptr<Child> child_;
  int port_ = 0;
  std::string token_;
  std::string log_path_;
};

}  // namespace jz::testing
