// The supervisor of one job (`jizhan-shim DIR`): started by the local executor in a
// session of its own, it joins the job's cgroups, starts bubblewrap as the sandbox user
// with stdout and stderr into two pipes, records the sandbox's pids, filters what the job
// writes into its log store (logs/capture.h) until both pipes close, waits for it and
// writes DIR/exit.json (after the last line of the log). It does not depend on the server: a server
// killed meanwhile finds the result in the folder when it starts again.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/files.h"
#include "core/json.h"
#include "exec/cgroup.h"
#include "exec/executor.h"
#include "exec/metrics_channel.h"
#include "logs/capture.h"

namespace jz::exec {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int finish(const std::string& dir, Json result) {
  result["finished_at_ms"] = now_ms();
  // Not synced: a job's records outlive the server, not the machine (whose jobs are
  // gone with it).
  Status s = write_file(dir + "/exit.json", json::dump(result), 0600, false, false);
  return s.ok() ? 0 : 1;
}

// Opens the folder `path` (absolute) one component at a time without following any
// symlink, checks it is the expected one (device and inode; 0: any), and returns a
// descriptor that the sandbox inherits (not close-on-exec, above the descriptors the
// sandbox is given by number).
Result<int> open_folder_no_symlinks(const std::string& path, int64_t dev, int64_t ino) {
  auto changed = [&](const std::string& why) {
    return Status::failed_precondition(
        "the dataset folder '" + path + "' " + why +
        " since it was registered; a data owner must register it again");
  };
  int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  std::string rest = path;
  for (size_t start = 1; fd >= 0 && start < rest.size();) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    const std::string part = rest.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    const int next = ::openat(fd, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    ::close(fd);
    if (next < 0) {
      return err == ENOTDIR || err == ELOOP ? changed("became a symlink or a file")
                                            : changed("is gone (" + jz::errno_message(err) + ")");
    }
    fd = next;
  }
  if (fd < 0) return changed("cannot be opened");
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    ::close(fd);
    return changed("is not a folder");
  }
  if ((dev != 0 || ino != 0) &&
      (static_cast<int64_t>(st.st_dev) != dev || static_cast<int64_t>(st.st_ino) != ino)) {
    ::close(fd);
    return changed("was replaced by another folder");
  }
  const int kept = ::fcntl(fd, F_DUPFD, 10);  // not close-on-exec: bubblewrap mounts it
  ::close(fd);
  if (kept < 0) return Status::unavailable("cannot keep the dataset folder open");
  return kept;
}

}  // namespace

int run_shim(const std::string& dir) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(sig, SIG_IGN);
  auto text = read_file(dir + "/spec.json");
  if (!text.ok()) return 2;
  auto spec = json::parse(*text, "spec.json");
  if (!spec.ok() || !(*spec)["argv"].is_array() || (*spec)["argv"].empty()) {
    return finish(dir, {{"exit_code", -1}, {"error", "the job's spec.json is unreadable"}});
  }
  std::vector<std::string> argv;
  for (const auto& a : (*spec)["argv"]) argv.push_back(a.is_string() ? a.get<std::string>() : "");
  std::vector<std::string> groups;
  if ((*spec)["cgroups"].is_array()) {
    for (const auto& g : (*spec)["cgroups"]) {
      if (g.is_string()) groups.push_back(g.get<std::string>());
    }
  }
  const std::string version = json::string_or(*spec, "cgroup_version", "none");
  const int uid = (*spec)["uid"].is_number_integer() ? (*spec)["uid"].get<int>() : -1;
  const int64_t nproc =
      (*spec)["rlimit_nproc"].is_number_integer() ? (*spec)["rlimit_nproc"].get<int64_t>() : 0;
  const int gid = (*spec)["gid"].is_number_integer() ? (*spec)["gid"].get<int>() : -1;

  const int self = static_cast<int>(::getpid());
  if (!write_file(dir + "/shim.json",
                  json::dump(Json{{"pid", self}, {"start_ticks", process_start_ticks(self)}}), 0600,
                  false, false)
           .ok()) {
    return 2;
  }
  // The log filter is built before anything runs: a job whose policy cannot be applied
  // does not run unfiltered.
  logs::CaptureOptions co;
  co.level = json::string_or(*spec, "log_level", "open");
  co.policy = logs::default_policy(co.level);
  if ((*spec).contains("log_policy")) {
    auto p = logs::parse_policy((*spec)["log_policy"], false);
    if (!p.ok()) {
      return finish(dir, {{"exit_code", -1}, {"error", "the log policy: " + p.status().message()}});
    }
    co.policy = std::move(*p);
  }
  co.store_dir = dir + "/logs";
  if (auto compiled = read_file(dir + "/filter.db"); compiled.ok())
    co.compiled = std::move(*compiled);
  if (co.policy.keep_raw && co.policy.mode != logs::LogPolicy::Mode::kOpen)
    co.raw_dir = dir + "/raw";
  auto capture = logs::Capture::open(co);
  if (!capture.ok()) {
    return finish(dir, {{"exit_code", -1}, {"error", "the log: " + capture.status().message()}});
  }
  // The metrics channel (exec/metrics_channel.h), bound by the level's rules, its notes
  // through a filter of the same policy (the capture's is not shared: one per thread).
  std::unique_ptr<MetricsChannel> metrics;
  if ((*spec).value("metrics", false)) {
    auto filter = co.compiled.empty() ? logs::LogFilter::compile(co.policy)
                                      : logs::LogFilter::load(co.policy, co.compiled);
    if (!filter.ok()) filter = logs::LogFilter::compile(co.policy);
    if (!filter.ok()) {
      return finish(
          dir, {{"exit_code", -1}, {"error", "the metrics filter: " + filter.status().message()}});
    }
    auto channel = MetricsChannel::open(dir + "/metrics.sock", dir + "/metrics",
                                        MetricsBounds::for_level(co.level), std::move(*filter));
    if (!channel.ok()) {
      return finish(dir, {{"exit_code", -1},
                          {"error", "the metrics channel: " + channel.status().message()}});
    }
    metrics = std::move(*channel);
    metrics->start();
  }
  int out[2], err[2], info[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(info, O_CLOEXEC) != 0) {
    return finish(dir, {{"exit_code", -1}, {"error", "cannot create the job's output pipes"}});
  }
  // Read-only mounts (datasets) are opened here, without following a symlink anywhere on
  // the path, checked against the folder registered, and handed to bubblewrap by
  // descriptor: what is mounted is what was checked, whatever happens to the path after.
  if ((*spec)["mounts"].is_array()) {
    for (const auto& m : (*spec)["mounts"]) {
      const size_t index = m.value("index", size_t{0});
      const std::string path = json::string_or(m, "path");
      if (index == 0 || index >= argv.size() || argv[index] != path) {
        return finish(dir, {{"exit_code", -1}, {"error", "the job's spec.json is inconsistent"}});
      }
      auto fd =
          open_folder_no_symlinks(path, m.value("dev", int64_t{0}), m.value("ino", int64_t{0}));
      if (!fd.ok()) return finish(dir, {{"exit_code", -1}, {"error", fd.status().message()}});
      argv[index - 1] = m.value("rw", false) ? "--bind-fd" : "--ro-bind-fd";
      argv[index] = std::to_string(*fd);
    }
  }
  // bubblewrap's options (host paths, environment values) travel in a memory file on fd
  // 4, not on its command line, which ps and the job's own /proc/1/cmdline would show.
  // The job's command stays on it, after "--".
  const auto dashes = std::find(argv.begin() + 1, argv.end(), std::string("--"));
  std::string options;
  for (auto it = argv.begin() + 1; it != dashes; ++it) options.append(*it).push_back('\0');
  const int args_fd = ::memfd_create("bwrap-args", MFD_CLOEXEC);
  if (args_fd < 0 ||
      ::write(args_fd, options.data(), options.size()) != static_cast<ssize_t>(options.size()) ||
      ::lseek(args_fd, 0, SEEK_SET) != 0) {
    return finish(dir, {{"exit_code", -1}, {"error", "cannot pass the sandbox its options"}});
  }
  argv.erase(argv.begin() + 1, dashes);
  argv.insert(argv.begin() + 1, {"--info-fd", "3", "--args", "4"});
  const pid_t child = ::fork();
  if (child < 0) return finish(dir, {{"exit_code", -1}, {"error", "fork failed"}});
  if (child == 0) {
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::dup2(info[1], 3);
    ::dup2(args_fd, 4);
    // The sandbox joins the job's cgroups, the supervisor stays out: an OOM kill in the
    // job must not take the process that records it.
    if (Status s = Cgroups::join(groups, static_cast<int>(::getpid())); !s.ok()) {
      dprintf(2, "jizhan: %s\n", s.message().c_str());
      ::_exit(126);
    }
    if (nproc > 0) {
      const rlimit lim{static_cast<rlim_t>(nproc), static_cast<rlim_t>(nproc)};
      ::setrlimit(RLIMIT_NPROC, &lim);
    }
    if (uid >= 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
        dprintf(2, "jizhan: cannot switch to the sandbox user %d: %m\n", uid);
        ::_exit(126);
      }
    }
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    dprintf(2, "jizhan: cannot run %s: %m\n", args[0]);
    ::_exit(127);
  }
  ::close(args_fd);
  ::close(info[1]);
  ::close(out[1]);
  ::close(err[1]);
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(info[0], buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      // bubblewrap keeps the descriptor open while the sandbox runs; one object is all.
      auto parsed = Json::parse(got, nullptr, false);
      if (!parsed.is_discarded()) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(info[0]);
  auto parsed = Json::parse(got, nullptr, false);
  if (parsed.is_object()) {
    auto num = [&](const char* k) -> int64_t {
      auto it = parsed.find(k);
      return it != parsed.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    };
    (void)write_file(dir + "/sandbox.json",
                     json::dump(Json{{"child_pid", num("child-pid")},
                                     {"bwrap_pid", static_cast<int64_t>(child)},
                                     {"pid_namespace", num("pid-namespace")},
                                     {"started_at_ms", now_ms()}}),
                     0600, false, false);
  }
  // Until the job's last process closes its output (the sandbox's end closes it).
  Status logged = (*capture)->pump(out[0], err[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int exit_code = -1, sig = 0;
  if (WIFEXITED(status)) {
    exit_code = WEXITSTATUS(status);
    // bubblewrap reports a command killed by signal n as 128 + n.
    if (exit_code > 128 && exit_code < 128 + 65) sig = exit_code - 128;
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    exit_code = 128 + sig;
  }
  if (metrics) metrics->stop();
  Cgroups::Usage u = Cgroups::usage(groups, version);
  Json result = {{"exit_code", exit_code},
                 {"signal", sig},
                 {"oom_killed", u.oom_killed && sig == SIGKILL},
                 {"max_memory_bytes", u.max_memory_bytes},
                 {"cpu_usage_ms", u.cpu_usage_ms},
                 {"pids_limit_hits", u.pids_limit_hits}};
  if (!parsed.is_object()) result["error"] = "the sandbox did not start (see the job's log)";
  if (!logged.ok()) result["log_error"] = logged.message();
  return finish(dir, result);
}

}  // namespace jz::exec
