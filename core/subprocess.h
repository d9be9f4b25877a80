// Starting and supervising child processes without a shell.
//
// run() runs a command to completion, feeding stdin and capturing stdout and stderr,
// with an optional timeout after which the child (and its process group) is killed.
// Child::spawn() starts a long-running process (a database server, a job) that the
// caller signals and reaps. Arguments are passed as an argv vector: nothing is ever
// interpreted by a shell. A failed exec (missing program) is reported as a Status.
//
// Thread safety: run() may be called from many threads at once. A Child object is
// owned by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace jz {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
  // Environment: when `replace_env` is false, the parent's environment plus `env`.
  std::map<std::string, std::string> env;
  bool replace_env = false;
  std::string cwd;                                   // empty: the parent's
  std::optional<std::string> stdin_data;             // run(): bytes written to stdin, then closed
  std::optional<std::chrono::milliseconds> timeout;  // run() only
  // spawn(): where stdout and stderr go. Empty: inherited from the parent. A path: the
  // file is created (or appended to) and both streams go there.
  std::string output_file;
  bool new_process_group = true;  // so a kill reaches the whole tree
  // spawn(): descriptors of the parent to hand to the child, as {parent fd, child fd}
  // (the child's copies are not close-on-exec; at most 16).
  std::vector<std::pair<int, int>> pass_fds;
};

struct SubprocessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the terminating signal, or 0
  bool timed_out = false;
  std::string out;
  std::string err;
  bool success() const { return exit_code == 0; }
};

Result<SubprocessResult> run_subprocess(const SubprocessOptions& options);

class Child {
 public:
  static Result<Child> spawn(const SubprocessOptions& options);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Kills (SIGKILL) and reaps a child that is still running.
  ~Child();

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` to the child (its whole group when it has one).
  void signal(int sig);
  // Waits for exit; returns the wait status decoded as in SubprocessResult.
  SubprocessResult wait();
  // Waits at most `timeout`; nullopt when still running.
  std::optional<SubprocessResult> wait_for(std::chrono::milliseconds timeout);

 private:
  explicit Child(pid_t pid, bool group) : pid_(pid), group_(group) {}
  pid_t pid_ = -1;
  bool group_ = false;
  std::optional<SubprocessResult> result_;
};

}  // namespace jz
