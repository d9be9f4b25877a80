// The sandbox an algorithm's library runs in (issue 17). Packages come from outside
// developers, so `jizhan algo run|check|serve` load them in a bubblewrap sandbox by
// default: no network (its own empty network namespace), the machine's system folders
// read-only, the jizhan binary, the library and the package read-only, a private /tmp,
// nothing else of the machine (not the platform's data folder, not the caller's home and
// its credentials, not the caller's environment), its own PID namespace (every process it
// starts dies with it, setsid or not) and session, and dies with its parent. What it
// prints is captured and relayed to the caller's stderr, escaped, never its stdout.
// `--no-sandbox` (AlgoSandbox::enabled = false) is for trusted development only.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace jz::sdk {

struct AlgoSandbox {
  bool enabled = true;
  std::string bwrap = "bwrap";
};

// The bubblewrap command line up to and including "--" for a child of `host_binary` (the
// jizhan binary) that loads `library` from its unpacked `package_dir` (may be empty): those
// three visible read-only at their own paths, the child started in the package (else
// /tmp) with $JIZHAN_PACKAGE_DIR, and only a few harmless variables of the caller's
// (locale, time zone, the GPUs it may use). failed_precondition when bubblewrap is
// missing, saying how to install it or to pass --no-sandbox.
Result<std::vector<std::string>> sandbox_command(const AlgoSandbox& sandbox,
                                                 const std::string& host_binary,
                                                 const std::string& library,
                                                 const std::string& package_dir);

// Reads what a child prints from `fd` (the read end of its stdout and stderr) until the
// child's side closes, writing each line to stderr as "algorithm: LINE" with control
// characters escaped, at most `max_bytes` in all. Owns and closes `fd`.
class OutputRelay {
 public:
  explicit OutputRelay(int fd, size_t max_bytes = size_t{1} << 20);
  // Relays what is still there, until the child's side closes or is quiet for 100 ms.
  ~OutputRelay();
  OutputRelay(const OutputRelay&) = delete;
  OutputRelay& operator=(const OutputRelay&) = delete;

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace jz::sdk
