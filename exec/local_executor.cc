#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/sandbox.h"
#include "core/subprocess.h"
#include "exec/cgroup.h"
#include "exec/executor.h"

namespace jz::exec {

namespace fs = std::filesystem;

const char* network_name(Network n) {
  switch (n) {
    case Network::kNone:
      return "none";
    case Network::kLoopback:
      return "loopback";
    case Network::kEgress:
      return "egress";
  }
  return "none";
}

int64_t process_start_ticks(int pid) {
  if (pid <= 0) return -1;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return -1;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat->substr(close + 2));
  std::string field;
  // A zombie has ended: its parent has not collected it yet.
  if (stat->size() > close + 2 && ((*stat)[close + 2] == 'Z' || (*stat)[close + 2] == 'X'))
    return -1;
  // Field 3 (state) is the first after ')'; start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(in >> field)) return -1;
  }
  return std::strtoll(field.c_str(), nullptr, 10);
}

namespace {

// A process is the one recorded when its pid runs and started at the recorded time
// (pids are reused).
bool same_process(int pid, int64_t start_ticks) {
  return pid > 0 && start_ticks >= 0 && process_start_ticks(pid) == start_ticks;
}

Result<Json> read_json_file(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return json::parse(text, path);
}

int64_t int_or(const Json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace

LocalExecutor::LocalExecutor(LocalExecutorOptions options) : options_(std::move(options)) {}

LocalExecutor::~LocalExecutor() {
  // Supervisors keep running (jobs outlive the server); reap those that ended.
  std::lock_guard lock(mu_);
  for (const auto& [id, pid] : children_) ::waitpid(pid, nullptr, WNOHANG);
}

Result<std::unique_ptr<LocalExecutor>> LocalExecutor::create(LocalExecutorOptions options) {
  if (options.jobs_dir.empty()) return Status::invalid_argument("the executor needs a jobs folder");
  std::error_code ec;
  fs::create_directories(options.jobs_dir, ec);
  if (ec) {
    return Status::unavailable("cannot create the jobs folder '" + options.jobs_dir +
                               "': " + ec.message());
  }
  ::chmod(options.jobs_dir.c_str(), 0711);  // sandboxes reach their own folder only
  if (::geteuid() == 0) {
    // bubblewrap runs as the sandbox user, who must pass through every folder above the
    // jobs folder (not list or read them).
    const fs::path jobs = fs::absolute(options.jobs_dir, ec);
    for (fs::path p = jobs; !p.empty(); p = p.parent_path()) {
      struct stat st;
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 01) == 0) {
        return Status::failed_precondition(
            "jobs run as user " + std::to_string(options.sandbox_uid) +
            ", who cannot pass through '" + p.string() + "' on the way to the jobs folder '" +
            options.jobs_dir +
            "': chmod o+x it (others may then pass through, not list it), or "
            "choose a jobs folder elsewhere (jobs.dir)");
      }
      if (p == p.root_path()) break;
    }
  }
  // bubblewrap must run here: a quick sandbox that runs `true`.
  SubprocessOptions probe;
  probe.argv = {options.bwrap, "--unshare-all", "--die-with-parent"};
  add_system_binds(probe.argv);
  probe.argv.insert(probe.argv.end(), {"--proc", "/proc", "--dev", "/dev", "true"});
  probe.timeout = std::chrono::seconds(20);
  auto r = run_subprocess(probe);
  if (!r.ok() || !r->success()) {
    std::string why = r.ok() ? r->err : r.status().message();
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Status::unavailable(
        "bubblewrap cannot start a sandbox here (" + why +
        "): install it (apt-get install bubblewrap) and allow user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1), or run the server as root");
  }
  if (::access(options.shim_binary.c_str(), X_OK) != 0) {
    return Status::failed_precondition("the job supervisor '" + options.shim_binary +
                                       "' cannot be run (it is installed beside jizhan; rebuild "
                                       "or reinstall)");
  }
  std::unique_ptr<LocalExecutor> e(new LocalExecutor(std::move(options)));
  e->machine_ = discover_machine(e->options_.virtual_gpus, e->options_.virtual_gpu_memory_mib,
                                 e->options_.nvml_library);
  Cgroups cg = Cgroups::detect(e->options_.cgroup_name);
  e->cgroup_version_ = cg.version();
  e->machine_.cgroups = cg.version();
  return e;
}

std::string LocalExecutor::job_dir(const std::string& job_id) const {
  return options_.jobs_dir + "/" + job_id;
}

namespace {

bool is_share(const LaunchSpec& spec) {
  return spec.share_cores_percent > 0 || spec.share_memory_mib > 0;
}
constexpr const char* kVgpuLibrary = "/opt/jizhan/lib/libjzvgpu.so";
constexpr const char* kVgpuRegion = "/run/jizhan/vgpu/region";
constexpr const char* kMetricsSocket = "/run/jizhan/metrics.sock";
constexpr const char* kPythonClient = "/opt/jizhan/python";
constexpr const char* kCudaDir = "/opt/jizhan/cuda";

}  // namespace

bool LocalExecutor::enforces_shares() const { return !options_.vgpu_library.empty(); }

Status LocalExecutor::prepare_vgpu(const LaunchSpec& spec, const std::string& dir, int64_t uid,
                                   int64_t gid) const {
  if (::access(options_.vgpu_library.c_str(), R_OK) != 0) {
    return Status::failed_precondition(
        "the vGPU library '" + options_.vgpu_library +
        "' that holds GPU shares to their limits is missing: reinstall jizhan (it is built "
        "beside it), or set exec.vgpu_library to \"\" to run shares without limits");
  }
  const std::string v = dir + "/vgpu";
  std::error_code ec;
  fs::create_directories(v, ec);
  if (ec) return Status::unavailable("cannot create " + v + ": " + ec.message());
  ::chmod(v.c_str(), 0711);
  // The machine's own preloads stay, after ours.
  std::string preload = std::string(kVgpuLibrary) + "\n";
  if (auto host = read_file("/etc/ld.so.preload"); host.ok()) preload += *host;
  JZ_RETURN_IF_ERROR(write_file(v + "/ld.so.preload", preload, 0644, false, false));
  std::string conf = "# Written by the executor for " + spec.job_id + " (docs/VGPU.md).\n";
  if (spec.share_memory_mib > 0) {
    conf += "JZ_VGPU_MEMORY_LIMIT=" + std::to_string(spec.share_memory_mib) + "m\n";
  }
  if (spec.share_cores_percent > 0 && spec.share_cores_percent < 100) {
    conf += "JZ_VGPU_CORE_LIMIT=" + std::to_string(spec.share_cores_percent) + "\n";
  }
  conf += std::string("JZ_VGPU_REGION=") + kVgpuRegion + "\n";
  std::string uuids;
  for (const auto& u : spec.gpu_uuids) uuids += (uuids.empty() ? "" : ",") + u;
  if (!uuids.empty()) conf += "JZ_VGPU_UUIDS=" + uuids + "\n";
  if (!options_.cuda_driver.empty()) {
    conf += std::string("JZ_VGPU_DRIVER=") + kCudaDir + "/libcuda.so.1\n";
  }
  JZ_RETURN_IF_ERROR(write_file(v + "/vgpu.conf", conf, 0644, false, false));
  // The job's processes share it; empty (the library lays it out), the job's own.
  JZ_RETURN_IF_ERROR(write_file(v + "/region", "", 0600, false, false));
  if (::geteuid() == 0 &&
      ::chown((v + "/region").c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    return Status::internal("cannot hand " + v +
                            "/region to the sandbox user: " + errno_message(errno));
  }
  return {};
}

std::vector<std::string> LocalExecutor::sandbox_argv(const LaunchSpec& spec) const {
  const std::string dir = job_dir(spec.job_id);
  std::vector<std::string> a = {options_.bwrap, "--unshare-all", "--die-with-parent",
                                "--new-session"};
  if (spec.network == Network::kEgress) a.push_back("--share-net");
  const bool vgpu = is_share(spec) && enforces_shares();
  if (vgpu) {
    add_system_binds(a, {{"/etc/ld.so.preload", dir + "/vgpu/ld.so.preload"},
                         {"/etc/jizhan/vgpu.conf", dir + "/vgpu/vgpu.conf"}});
  } else {
    add_system_binds(a);
  }
  a.insert(a.end(),
           {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs",
            "/var", "--bind", dir + "/work", "/job", "--bind", dir + "/output", "/output",
            // The job's metrics channel (its supervisor listens: exec/metrics_channel.h).
            "--bind", dir + "/metrics.sock", kMetricsSocket});
  for (const auto& m : spec.read_only)
    a.insert(a.end(), {"--ro-bind", m.host_path, m.sandbox_path});
  for (const auto& m : spec.read_write) a.insert(a.end(), {"--bind", m.host_path, m.sandbox_path});
  // The GPUs' device files; CUDA_VISIBLE_DEVICES picks the job's own.
  if (!spec.gpu_uuids.empty()) add_gpu_devices(a);
  if (vgpu) {
    a.insert(a.end(), {"--ro-bind", options_.vgpu_library, kVgpuLibrary, "--bind",
                       dir + "/vgpu/region", kVgpuRegion});
  }
  if (!options_.cuda_driver.empty() && !spec.gpu_uuids.empty()) {
    a.insert(a.end(), {"--ro-bind", options_.cuda_driver, std::string(kCudaDir) + "/libcuda.so.1"});
  }
  a.insert(a.end(), {"--clearenv", "--setenv", "PATH",
                     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--setenv",
                     "HOME", "/job", "--setenv", "TMPDIR", "/tmp", "--setenv", "JIZHAN_JOB_ID",
                     spec.job_id, "--setenv", "JIZHAN_OUTPUT_DIR", "/output", "--setenv",
                     "JIZHAN_METRICS_SOCKET", kMetricsSocket});
  std::map<std::string, std::string> env = spec.env;
  if (!spec.gpu_uuids.empty()) {
    std::string list;
    for (const auto& u : spec.gpu_uuids) list += (list.empty() ? "" : ",") + u;
    env["CUDA_VISIBLE_DEVICES"] = list;
    env["NVIDIA_VISIBLE_DEVICES"] = list;
  }
  if (is_share(spec)) {
    // For the job's information: the limits themselves come from /etc/jizhan/vgpu.conf.
    env["JIZHAN_VGPU_MEMORY_MIB"] = std::to_string(spec.share_memory_mib);
    env["JIZHAN_VGPU_CORES_PERCENT"] = std::to_string(spec.share_cores_percent);
  }
  if (!options_.cuda_driver.empty() && !spec.gpu_uuids.empty()) {
    env["LD_LIBRARY_PATH"] = kCudaDir;
  }
  if (!options_.python_client.empty()) {
    a.insert(a.end(), {"--ro-bind", options_.python_client, kPythonClient});
    auto it = env.find("PYTHONPATH");
    env["PYTHONPATH"] =
        it == env.end() ? std::string(kPythonClient) : it->second + ":" + kPythonClient;
  }
  for (const auto& [k, v] : env) a.insert(a.end(), {"--setenv", k, v});
  a.insert(a.end(), {"--chdir", spec.workdir.empty() ? "/job" : spec.workdir, "--"});
  a.insert(a.end(), spec.command.begin(), spec.command.end());
  return a;
}

Status LocalExecutor::launch(const LaunchSpec& spec) {
  if (spec.command.empty()) return Status::invalid_argument("a job needs a command");
  const std::string dir = job_dir(spec.job_id);
  std::error_code ec;
  if (spec.resume) {
    auto prev = poll(spec.job_id);
    if (prev.phase == JobStatus::Phase::kRunning || prev.phase == JobStatus::Phase::kStarting) {
      if (fs::exists(dir + "/spec.json", ec)) {
        return Status::already_exists("job " + spec.job_id + " is still running");
      }
    }
    for (const char* f : {"/spec.json", "/shim.json", "/sandbox.json", "/exit.json", "/filter.db",
                          "/labels.json", "/metrics.sock"}) {
      fs::remove(dir + f, ec);
    }
  }
  if (fs::exists(dir + "/spec.json", ec)) {
    return Status::already_exists("job " + spec.job_id + " was launched before (" + dir + ")");
  }
  for (const char* sub : {"/work", "/output"}) {
    fs::create_directories(dir + sub, ec);
    if (ec) return Status::unavailable("cannot create " + dir + sub + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0711);
  const bool root = ::geteuid() == 0;
  const int64_t uid = spec.uid >= 0 ? spec.uid : options_.sandbox_uid;
  const int64_t gid = spec.gid >= 0 ? spec.gid : options_.sandbox_gid;
  if (root) {
    for (const char* sub : {"/work", "/output"}) {
      ::chmod((dir + sub).c_str(), 0700);
      if (::chown((dir + sub).c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
        return Status::internal("cannot hand " + dir + sub +
                                " to the sandbox user: " + errno_message(errno));
      }
    }
  }
  if (is_share(spec) && enforces_shares()) JZ_RETURN_IF_ERROR(prepare_vgpu(spec, dir, uid, gid));
  Cgroups cg = Cgroups::detect(options_.cgroup_name);
  auto groups = cg.create(spec.job_id, spec.cpu_milli, spec.memory_mib, spec.max_pids);
  if (!groups.ok()) return groups.status();
  const std::vector<std::string> argv = sandbox_argv(spec);
  // Where each read-only mount's host path sits in argv, for the supervisor to replace
  // by the folder it opened and checked.
  Json mounts = Json::array();
  for (const bool rw : {false, true}) {
    for (const auto& m : rw ? spec.read_write : spec.read_only) {
      for (size_t i = 1; i + 1 < argv.size(); ++i) {
        if (argv[i - 1] == (rw ? "--bind" : "--ro-bind") && argv[i] == m.host_path &&
            argv[i + 1] == m.sandbox_path) {
          mounts.push_back({{"index", i},
                            {"path", m.host_path},
                            {"dev", m.expect_dev},
                            {"ino", m.expect_ino},
                            {"rw", rw}});
          break;
        }
      }
    }
  }
  Json s = {{"argv", argv},
            {"mounts", mounts},
            {"max_pids", spec.max_pids},
            // Without a pids cgroup the sandbox user's RLIMIT_NPROC bounds it (shared by
            // the jobs that run as that user, so still a bound on the machine).
            {"rlimit_nproc", cg.limits_pids() ? 0 : spec.max_pids},
            {"cgroups", *groups},
            {"cgroup_version", cg.version()},
            {"uid", root ? uid : -1},
            {"gid", root ? gid : -1},
            {"log_policy", spec.log_policy.to_json()},
            {"log_level", spec.log_level},
            {"metrics", true}};
  if (!spec.log_filter.empty()) {
    JZ_RETURN_IF_ERROR(write_file(dir + "/filter.db", spec.log_filter, 0600, false, false));
  }
  JZ_RETURN_IF_ERROR(write_file(dir + "/spec.json", json::dump(s), 0600, true, false));
  Json labels = Json::object();
  for (const auto& [k, v] : spec.labels) labels[k] = v;
  JZ_RETURN_IF_ERROR(write_file(dir + "/labels.json", json::dump(labels), 0644, false, false));

  // posix_spawn (vfork underneath): forking the server, with its threads and libraries,
  // costs tens of milliseconds on every job's start.
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string bin = options_.shim_binary, d = dir;
  char* args[] = {bin.data(), d.data(), nullptr};
  char* env[] = {nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, bin.c_str(), &fa, &attr, args, env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return Status::unavailable("cannot start the job supervisor " + bin + ": " +
                               errno_message(err));
  }
  std::lock_guard lock(mu_);
  children_[spec.job_id] = pid;
  return {};
}

std::vector<int> LocalExecutor::job_pids(const std::string& job_id) const {
  std::vector<int> pids;
  auto spec = read_json_file(job_dir(job_id) + "/spec.json");
  if (spec.ok() && (*spec)["cgroups"].is_array()) {
    for (const auto& g : (*spec)["cgroups"]) {
      if (!g.is_string()) continue;
      for (int p : Cgroups::pids(g.get<std::string>())) pids.push_back(p);
    }
  }
  // Without cgroups: the processes in the sandbox's PID namespace.
  auto sb = read_json_file(job_dir(job_id) + "/sandbox.json");
  if (sb.ok()) {
    const int64_t ns = int_or(*sb, "pid_namespace", 0);
    if (ns > 0) {
      DIR* d = ::opendir("/proc");
      while (d) {
        dirent* e = ::readdir(d);
        if (!e) break;
        const int pid = static_cast<int>(std::strtol(e->d_name, nullptr, 10));
        if (pid <= 0) continue;
        struct stat st;
        if (::stat(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), &st) == 0 &&
            static_cast<int64_t>(st.st_ino) == ns) {
          pids.push_back(pid);
        }
      }
      if (d) ::closedir(d);
    }
  }
  return pids;
}

void LocalExecutor::terminate(const std::string& job_id, std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (terminating_.count(job_id)) return;
    terminating_[job_id] = {std::chrono::steady_clock::now() + grace};
  }
  // Every process of the job but bubblewrap's own two (the monitor and the namespace's
  // init): SIGTERM to the init would end the namespace at once, with no grace.
  int64_t monitor = -1, init = -1;
  if (auto sb = read_json_file(job_dir(job_id) + "/sandbox.json"); sb.ok()) {
    monitor = int_or(*sb, "bwrap_pid", -1);
    init = int_or(*sb, "child_pid", -1);
  }
  for (int pid : job_pids(job_id)) {
    if (pid != monitor && pid != init) ::kill(pid, SIGTERM);
  }
}

JobStatus LocalExecutor::poll(const std::string& job_id) {
  const std::string dir = job_dir(job_id);
  JobStatus st;
  remove_stale_groups();
  {
    std::lock_guard lock(mu_);
    if (auto c = children_.find(job_id); c != children_.end()) {
      if (::waitpid(c->second, nullptr, WNOHANG) != 0) children_.erase(c);
    }
  }
  if (auto ex = read_json_file(dir + "/exit.json"); ex.ok()) {
    st.phase = JobStatus::Phase::kExited;
    st.exit_code = static_cast<int>(int_or(*ex, "exit_code", -1));
    st.signal = static_cast<int>(int_or(*ex, "signal", 0));
    st.oom_killed = ex->value("oom_killed", false) == true;
    st.max_memory_bytes = int_or(*ex, "max_memory_bytes", 0);
    st.cpu_usage_ms = int_or(*ex, "cpu_usage_ms", 0);
    st.pids_limit_hits = int_or(*ex, "pids_limit_hits", 0);
    st.message = json::string_or(*ex, "error", "");
    std::lock_guard lock(mu_);
    terminating_.erase(job_id);
    return st;
  }
  auto shim = read_json_file(dir + "/shim.json");
  if (!shim.ok()) {
    std::error_code ec;
    auto written = fs::last_write_time(dir + "/spec.json", ec);
    if (!ec && fs::file_time_type::clock::now() - written < std::chrono::seconds(30)) {
      st.phase = JobStatus::Phase::kStarting;
      return st;
    }
    st.message = ec ? "the job was never launched on this machine"
                    : "its supervisor did not start within 30 s";
    return st;
  }
  const int pid = static_cast<int>(int_or(*shim, "pid", -1));
  if (!same_process(pid, int_or(*shim, "start_ticks", -1))) {
    // It may have written exit.json between our two reads.
    if (auto ex = read_json_file(dir + "/exit.json"); ex.ok()) return poll(job_id);
    st.message = "its supervisor (pid " + std::to_string(pid) +
                 ") ended without recording how the job ended (machine restarted or killed)";
    return st;
  }
  bool kill_now = false;
  {
    std::lock_guard lock(mu_);
    auto t = terminating_.find(job_id);
    kill_now = t != terminating_.end() && std::chrono::steady_clock::now() >= t->second.deadline;
  }
  if (kill_now) {
    auto sb = read_json_file(dir + "/sandbox.json");
    // The namespace's init first: the kernel then kills everything in it.
    if (sb.ok()) ::kill(static_cast<int>(int_or(*sb, "child_pid", -1)), SIGKILL);
    for (int p : job_pids(job_id)) ::kill(p, SIGKILL);
  }
  std::error_code ec;
  st.phase = fs::exists(dir + "/sandbox.json", ec) ? JobStatus::Phase::kRunning
                                                   : JobStatus::Phase::kStarting;
  return st;
}

void LocalExecutor::release(const std::string& job_id) {
  auto spec = read_json_file(job_dir(job_id) + "/spec.json");
  std::vector<std::string> left;
  if (spec.ok() && (*spec)["cgroups"].is_array()) {
    for (const auto& g : (*spec)["cgroups"]) {
      if (g.is_string()) left.push_back(g);
    }
  }
  // A process killed for memory may take the kernel a moment to tear down; it keeps its
  // group busy until then. Up to half a second here, later polls after that.
  for (int tries = 0; !left.empty() && tries < 50; ++tries) {
    if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::erase_if(left, [](const std::string& g) { return Cgroups::remove(g); });
  }
  std::lock_guard lock(mu_);
  terminating_.erase(job_id);
  stale_groups_.insert(stale_groups_.end(), left.begin(), left.end());
}

void LocalExecutor::remove_stale_groups() {
  std::vector<std::string> groups;
  {
    std::lock_guard lock(mu_);
    groups.swap(stale_groups_);
  }
  std::vector<std::string> left;
  for (const auto& g : groups) {
    if (!Cgroups::remove(g)) left.push_back(g);
  }
  std::lock_guard lock(mu_);
  stale_groups_.insert(stale_groups_.end(), left.begin(), left.end());
}

std::string LocalExecutor::network_namespace(const std::string& job_id) {
  auto sb = read_json_file(job_dir(job_id) + "/sandbox.json");
  if (!sb.ok()) return "";
  const int pid = static_cast<int>(int_or(*sb, "child_pid", -1));
  if (pid <= 0) return "";
  return "/proc/" + std::to_string(pid) + "/ns/net";
}

}  // namespace jz::exec
