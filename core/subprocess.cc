#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/config.h"

namespace jz {
namespace {

struct ExecPlan {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan make_plan(const SubprocessOptions& o) {
  ExecPlan p;
  std::map<std::string, std::string> env;
  if (!o.replace_env) {
    for (auto& [k, v] : process_environment()) env[k] = v;
  }
  for (const auto& [k, v] : o.env) env[k] = v;
  for (const auto& [k, v] : env) p.env_storage.push_back(k + "=" + v);
  for (const auto& a : o.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  return p;
}

void decode_status(int status, SubprocessResult& r) {
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = -1;
    r.signal = WTERMSIG(status);
  }
}

// Forks and execs. `in_fd`, `out_fd`, `err_fd` become the child's 0, 1, 2 (-1: inherit).
// Returns the pid, or an error when exec failed (reported back through a CLOEXEC pipe).
Result<pid_t> fork_exec(const SubprocessOptions& o, int in_fd, int out_fd, int err_fd,
                        const std::vector<int>& close_in_child) {
  if (o.argv.empty()) return Status::invalid_argument("subprocess: empty argv");
  ExecPlan plan = make_plan(o);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return Status::internal(std::string("pipe: ") + errno_message(errno));
  }
  const char* cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  pid_t pid = fork();
  if (pid < 0) {
    close(report[0]);
    close(report[1]);
    return Status::resource_exhausted(std::string("fork: ") + errno_message(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    if (o.new_process_group) setpgid(0, 0);
    // The parent may block SIGTERM/SIGINT (the server does) and ignore SIGPIPE; a
    // child starts with the defaults. The child has one thread, so sigprocmask is fine.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // NOLINT(concurrency-mt-unsafe)
    signal(SIGPIPE, SIG_DFL);
    if (in_fd >= 0) dup2(in_fd, 0);
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    for (int fd : close_in_child) close(fd);
    // Move every source out of the way first: a source may sit on another's target.
    int moved[16];
    const size_t n_pass = o.pass_fds.size() < 16 ? o.pass_fds.size() : 16;
    for (size_t i = 0; i < n_pass; ++i) moved[i] = fcntl(o.pass_fds[i].first, F_DUPFD_CLOEXEC, 64);
    for (size_t i = 0; i < n_pass; ++i) dup2(moved[i], o.pass_fds[i].second);
    int err = 0;
    if (cwd && chdir(cwd) != 0) {
      err = errno;
    } else {
      execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
      err = errno;
    }
    ssize_t ignored = write(report[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  int child_err = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_err, sizeof child_err);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof child_err) {
    int st;
    waitpid(pid, &st, 0);
    std::string what = cwd && child_err == ENOENT
                           ? "cannot start '" + o.argv[0] + "' in '" + o.cwd + "'"
                           : "cannot start '" + o.argv[0] + "'";
    return Status::failed_precondition(what + ": " + errno_message(child_err));
  }
  return pid;
}

}  // namespace

Result<SubprocessResult> run_subprocess(const SubprocessOptions& options) {
  int in[2] = {-1, -1}, out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return Status::internal(std::string("pipe: ") + errno_message(errno));
  }
  if (options.stdin_data && pipe2(in, O_CLOEXEC) != 0) {
    return Status::internal(std::string("pipe: ") + errno_message(errno));
  }
  int devnull = -1;
  if (!options.stdin_data) devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto pid_or = fork_exec(options, options.stdin_data ? in[0] : devnull, out[1], err[1], {});
  if (devnull >= 0) close(devnull);
  close(out[1]);
  close(err[1]);
  if (in[0] >= 0) close(in[0]);
  if (!pid_or.ok()) {
    close(out[0]);
    close(err[0]);
    if (in[1] >= 0) close(in[1]);
    return pid_or.status();
  }
  pid_t pid = *pid_or;

  SubprocessResult r;
  std::string_view to_write = options.stdin_data ? std::string_view(*options.stdin_data) : "";
  if (in[1] >= 0) fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (in[1] >= 0 && to_write.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  auto deadline = options.timeout ? std::chrono::steady_clock::now() + *options.timeout
                                  : std::chrono::steady_clock::time_point::max();
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    int nfds = 0;
    if (out_open) fds[nfds++] = {out[0], POLLIN, 0};
    if (err_open) fds[nfds++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[nfds++] = {in[1], POLLOUT, 0};
    int wait_ms = -1;
    if (options.timeout) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    int rc = poll(fds, nfds, wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      r.timed_out = true;
      kill(options.new_process_group ? -pid : pid, SIGKILL);
      break;
    }
    for (int i = 0; i < nfds; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in[1]) {
        ssize_t w = write(in[1], to_write.data(), to_write.size());
        if (w > 0) to_write.remove_prefix(static_cast<size_t>(w));
        if (w < 0 && errno != EAGAIN) to_write = {};
        if (to_write.empty()) {
          close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (fds[i].fd == out[0] ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (fds[i].fd == out[0] ? out_open : err_open) = false;
      }
    }
  }
  if (in[1] >= 0) close(in[1]);
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  decode_status(status, r);
  return r;
}

Result<Child> Child::spawn(const SubprocessOptions& options) {
  int out_fd = -1;
  if (!options.output_file.empty()) {
    out_fd = open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      return Status::failed_precondition("cannot open '" + options.output_file +
                                         "' for output: " + errno_message(errno));
    }
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto pid = fork_exec(options, devnull, out_fd, out_fd, {});
  if (devnull >= 0) close(devnull);
  if (out_fd >= 0) close(out_fd);
  if (!pid.ok()) return pid.status();
  return Child(*pid, options.new_process_group);
}

Child::Child(Child&& other) noexcept
    : pid_(other.pid_), group_(other.group_), result_(std::move(other.result_)) {
  other.pid_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !result_) {
      signal(SIGKILL);
      wait();
    }
    pid_ = other.pid_;
    group_ = other.group_;
    result_ = std::move(other.result_);
    other.pid_ = -1;
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0 && !result_) {
    signal(SIGKILL);
    wait();
  }
}

bool Child::running() {
  if (pid_ <= 0 || result_) return false;
  return !wait_for(std::chrono::milliseconds(0)).has_value();
}

void Child::signal(int sig) {
  if (pid_ <= 0 || result_) return;
  if (group_) {
    kill(-pid_, sig);
  } else {
    kill(pid_, sig);
  }
}

SubprocessResult Child::wait() {
  if (result_) return *result_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  SubprocessResult r;
  decode_status(status, r);
  result_ = r;
  return r;
}

std::optional<SubprocessResult> Child::wait_for(std::chrono::milliseconds timeout) {
  if (result_) return result_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t got = waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      SubprocessResult r;
      decode_status(status, r);
      result_ = r;
      return r;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace jz
