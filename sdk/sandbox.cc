#include "sdk/sandbox.h"

#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "core/sandbox.h"
#include "core/text.h"

namespace jz::sdk {

namespace fs = std::filesystem;

namespace {

bool on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

Result<std::vector<std::string>> sandbox_command(const AlgoSandbox& sandbox,
                                                 const std::string& host_binary,
                                                 const std::string& library,
                                                 const std::string& package_dir) {
  if (!on_path(sandbox.bwrap)) {
    return Status::failed_precondition(
        "algorithms run in a bubblewrap sandbox, and '" + sandbox.bwrap +
        "' is not installed (apt-get install bubblewrap); for a library you trust, pass "
        "--no-sandbox");
  }
  std::vector<std::string> a = {sandbox.bwrap, "--unshare-all", "--die-with-parent",
                                "--new-session"};
  add_system_binds(a);
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
                     "--tmpfs", "/var"});
  // Vendor software (CUDA, TensorRT) often lives in /opt (the platform's own settings
  // under /etc/jizhan stay out: add_system_binds).
  std::error_code ec;
  if (fs::is_directory("/opt", ec)) a.insert(a.end(), {"--ro-bind", "/opt", "/opt"});
  add_gpu_devices(a);
  for (const auto& p : {host_binary, library, package_dir}) {
    if (p.empty()) continue;
    const std::string abs = fs::absolute(p, ec).lexically_normal().string();
    a.insert(a.end(), {"--ro-bind", abs, abs});
  }
  a.push_back("--clearenv");
  std::map<std::string, std::string> vars = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/tmp"}, {"TMPDIR", "/tmp"}};
  // (The sanitizers' options: a sanitized build's children keep the test's settings.)
  for (const char* keep : {"LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
                           "OMP_NUM_THREADS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(keep)) vars[keep] = v;
  }
  if (!package_dir.empty()) vars["JIZHAN_PACKAGE_DIR"] = package_dir;
  for (const auto& [k, v] : vars) a.insert(a.end(), {"--setenv", k, v});
  a.insert(a.end(), {"--chdir", package_dir.empty() ? "/tmp" : package_dir});
  a.push_back("--");
  return a;
}

OutputRelay::OutputRelay(int fd, size_t max_bytes) {
  thread_ = std::thread([this, fd, max_bytes] {
    std::string pending;
    size_t relayed = 0;
    bool dropped = false;
    auto emit = [&](std::string_view line) {
      if (relayed >= max_bytes) {
        if (!dropped) std::cerr << "algorithm: (more output was dropped)\n";
        dropped = true;
        return;
      }
      relayed += line.size() + 1;
      std::cerr << "algorithm: " << escape_controls(line, {.keep_tab = true}) << "\n";
    };
    char buf[4096];
    for (;;) {
      // Once the child is gone, a stray that kept the pipe open (unsandboxed) does not
      // keep us: a quiet 100 ms then ends the relay.
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        if (stopping_) break;
        continue;
      }
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        emit(std::string_view(pending).substr(0, nl));
        pending.erase(0, nl + 1);
      }
      if (pending.size() > 4096) {
        emit(pending);
        pending.clear();
      }
    }
    if (!pending.empty()) emit(pending);
    std::cerr << std::flush;
    ::close(fd);
  });
}

OutputRelay::~OutputRelay() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace jz::sdk
