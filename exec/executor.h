// Running jobs on a machine (mission C1, D1): the executor interface the job service
// drives, and the local executor, which runs every job in a bubblewrap sandbox under a
// supervisor process (`jizhan-shim`, a small program beside `jizhan`) that outlives a
// restart of the server.
//
// A job's folder (`<jobs_dir>/<run id>/`) holds everything about one run:
//   spec.json     what to run (bwrap's argv, cgroups, the sandbox user), written at launch
//   shim.json     the supervisor's pid and start time (so a restarted server can check
//                 that the pid is still the same process)
//   sandbox.json  the sandbox's init pid and PID namespace, once bubblewrap started it
//   exit.json     how it ended (exit code, signal, OOM kill), written by the supervisor
//   logs/         stdout and stderr as filtered by the job's log policy (logs/store.h),
//                 with stats.json: what passed and what was withheld, by reason
//   raw/          the unfiltered output, only when the policy keeps it
//   work/         writable, /job inside the sandbox (also the working directory)
//   output/       writable, /output inside the sandbox
// The server reads these files rather than holding pipes to the job, so a server killed
// at any moment loses nothing: when it starts again, poll() tells each job's state.
//
// Thread safety: an Executor may be called from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "logs/policy.h"

namespace jz::exec {

struct GpuInfo {
  std::string uuid, name;
  int64_t memory_mib = 0;
  int sm_count = 0;
  bool is_virtual = false;
};

struct MachineInfo {
  std::string hostname;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  std::vector<GpuInfo> gpus;
  std::string gpu_source;  // "nvml", "virtual" or "none"
  std::string cgroups;     // "v2", "v1" or "none": whether limits are enforced
};

// Reads the CPUs this process may use, the memory (the smaller of the machine's and a
// cgroup limit), and GPUs through NVML when `nvml_library` loads (another library may
// stand in for it: a test double). `virtual_gpus` > 0 declares that many GPUs of
// `virtual_gpu_memory_mib` instead (test configurations, machines without GPUs).
MachineInfo discover_machine(int virtual_gpus = 0, int64_t virtual_gpu_memory_mib = 16384,
                             const std::string& nvml_library = "libnvidia-ml.so.1");

enum class Network {
  kNone,      // a private network namespace: nothing outside the sandbox is reachable
  kLoopback,  // the same, kept apart to say the job may use its own loopback
  kEgress,    // the machine's network
};
const char* network_name(Network n);

struct Mount {
  std::string host_path;
  std::string sandbox_path;
  // The folder expected there (a dataset's registered identity): the supervisor opens
  // host_path without following any symlink, compares, and mounts what it opened, so a
  // folder replaced after the check is never the one mounted. 0: any folder (still opened
  // without symlinks).
  int64_t expect_dev = 0, expect_ino = 0;
  // Left out where it cannot be mounted (a cluster with no volume for it: the project
  // volume), instead of failing the launch.
  bool optional = false;
};

struct LaunchSpec {
  std::string job_id;
  std::vector<std::string> command;  // argv; looked up on the sandbox's PATH
  std::map<std::string, std::string> env;
  std::string workdir;            // inside the sandbox; default /job
  std::vector<Mount> read_only;   // datasets, project code
  std::vector<Mount> read_write;  // a dev environment's project repository
  // The user the job runs as when the server runs as root (each project has its own);
  // -1: the executor's sandbox_uid.
  int64_t uid = -1, gid = -1;
  Network network = Network::kNone;
  int64_t cpu_milli = 0;   // 0: no limit
  int64_t memory_mib = 0;  // 0: no limit
  // Processes and threads the job may have at once (the pids cgroup; without one,
  // RLIMIT_NPROC of the sandbox user). 0: no limit.
  int64_t max_pids = 0;
  std::vector<std::string> gpu_uuids;
  int share_memory_mib = 0;  // a GPU share (with one uuid): the vGPU limits
  int share_cores_percent = 0;
  // What of stdout and stderr reaches the log (logs/policy.h), and the security level it
  // belongs to.
  logs::LogPolicy log_policy;
  std::string log_level = "open";
  std::string log_filter;  // the policy compiled (LogFilter::serialize), or "" to compile it there
  // Who the job is (job, project, workspace, user, ...; a GPU share's limits), written
  // to labels.json in the job's folder for the node agent (gpu/monitor.h); the job
  // itself cannot write there.
  std::map<std::string, std::string> labels;
  // Launch again into the job's existing folder (a dev environment resumed): the
  // previous run's records go, work/, output/ and the log stay.
  bool resume = false;
  // Cluster executors (exec/kubernetes): where each worker of the gang runs and on which
  // GPUs (the scheduler's choice; one entry per worker), the container image, and the
  // runtime limit enforced by the cluster too (activeDeadlineSeconds; 0: none). The
  // local executor runs one worker on its machine and ignores them.
  struct Worker {
    std::string node;
    std::vector<std::string> gpu_uuids;
  };
  std::vector<Worker> workers;
  std::string cluster;  // the cluster of its nodes ("" or "local": this machine)
  std::string image;
  int64_t runtime_limit_s = 0;
};

struct JobStatus {
  enum class Phase { kStarting, kRunning, kExited, kLost };
  Phase phase = Phase::kLost;
  int exit_code = -1;  // kExited: the command's exit status (128 + n when killed by signal n)
  int signal = 0;
  bool oom_killed = false;
  int64_t max_memory_bytes = 0;
  int64_t cpu_usage_ms = 0;
  int64_t pids_limit_hits = 0;  // forks refused by the process limit
  std::string message;          // kLost: why; kExited: what ended it, when not the command
  // kExited by something other than the command's own exit (cluster executors): the
  // platform's reason, "OOMKilled", "DeadlineExceeded", "Evicted" or "LaunchFailed" (an
  // image that cannot be pulled, a container that cannot be created), with `message`.
  std::string reason;
};

// One node jobs may be placed on.
struct NodeInfo {
  std::string name;               // unique within its cluster
  std::string cluster = "local";  // "local": this machine; else a Kubernetes cluster's name
  std::string pool;               // "": the runner's pool
  bool schedulable = true;        // false: takes no new job (its cluster stopped answering)
  MachineInfo machine;
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual const MachineInfo& machine() const = 0;
  // The nodes jobs may be placed on (a LaunchSpec's workers name them); by default the
  // machine itself. A copy: nodes come and go.
  virtual std::vector<NodeInfo> nodes() const {
    NodeInfo n;
    n.machine = machine();
    n.name = n.machine.hostname.empty() ? "local" : n.machine.hostname;
    return {n};
  }
  // Changes whenever nodes() would answer differently (a node joined, left or became
  // unschedulable), so a caller may look again at once.
  virtual uint64_t nodes_version() const { return 0; }
  // Starts the job; returns once its supervisor runs (the sandbox starts after).
  virtual Status launch(const LaunchSpec& spec) = 0;
  // Where the job stands, from its folder; also ends a termination whose grace period
  // is over (SIGKILL). Works for jobs launched by an earlier server process too.
  virtual JobStatus poll(const std::string& job_id) = 0;
  // SIGTERM to every process of the job, then SIGKILL to all of them once `grace`
  // passes (checked by poll()).
  virtual void terminate(const std::string& job_id, std::chrono::milliseconds grace) = 0;
  // Frees what the executor holds for an ended job (cgroups); keeps the folder.
  virtual void release(const std::string& job_id) = 0;
  virtual std::string job_dir(const std::string& job_id) const = 0;
  // The network namespace file of a running sandbox (/proc/PID/ns/net), for the
  // dev-environment proxy; "" when not running.
  virtual std::string network_namespace(const std::string& job_id) = 0;
};

struct LocalExecutorOptions {
  std::string jobs_dir;     // job folders
  std::string shim_binary;  // the jizhan-shim program
  std::string bwrap = "bwrap";
  int sandbox_uid = 65534;  // the user a job runs as when the server runs as root
  int sandbox_gid = 65534;
  std::string cgroup_name = "jizhan";  // jobs' cgroups go under this one
  int virtual_gpus = 0;
  int64_t virtual_gpu_memory_mib = 16384;
  std::string nvml_library = "libnvidia-ml.so.1";
  // The vGPU library (gpu/vgpu: libjzvgpu.so) that holds a GPU share to its limits: the
  // sandbox of a share preloads it through /etc/ld.so.preload, with its limits in
  // /etc/jizhan/vgpu.conf, both read-only there (docs/VGPU.md). "": shares run without it
  // (their limits are then only the scheduler's accounting).
  std::string vgpu_library;
  // The CUDA driver the jobs use when it is not the machine's libcuda.so.1 (tests: a fake
  // one): shown in sandboxes at /opt/jizhan/cuda/libcuda.so.1, on LD_LIBRARY_PATH.
  std::string cuda_driver;
  // The Python training client (a folder holding the `jizhan` package): shown read-only in
  // every sandbox at /opt/jizhan/python, on PYTHONPATH, so `import jizhan` needs no
  // installation. "": not shown.
  std::string python_client;
};

class LocalExecutor : public Executor {
 public:
  // Checks that bubblewrap runs here (a clear error naming the package otherwise) and
  // prepares the jobs folder and the cgroup parent.
  static Result<std::unique_ptr<LocalExecutor>> create(LocalExecutorOptions options);
  ~LocalExecutor() override;

  const MachineInfo& machine() const override { return machine_; }
  Status launch(const LaunchSpec& spec) override;
  JobStatus poll(const std::string& job_id) override;
  void terminate(const std::string& job_id, std::chrono::milliseconds grace) override;
  void release(const std::string& job_id) override;
  std::string job_dir(const std::string& job_id) const override;
  std::string network_namespace(const std::string& job_id) override;

  // The bwrap argv for a spec (for tests and docs).
  std::vector<std::string> sandbox_argv(const LaunchSpec& spec) const;
  // Whether GPU shares get the vGPU library; its files for one (limits, preload, the
  // shared region owned by the job's user) in the job's folder.
  bool enforces_shares() const;
  Status prepare_vgpu(const LaunchSpec& spec, const std::string& dir, int64_t uid,
                      int64_t gid) const;

 private:
  explicit LocalExecutor(LocalExecutorOptions options);
  // Every pid of the job: its cgroup's and its PID namespace's.
  std::vector<int> job_pids(const std::string& job_id) const;
  void remove_stale_groups();
  LocalExecutorOptions options_;
  MachineInfo machine_;
  std::string cgroup_version_;  // "v2", "v1", "none"
  std::vector<std::string> cgroup_parents_;
  std::mutex mu_;
  std::map<std::string, int> children_;  // supervisors this process started, to reap
  struct Kill {
    std::chrono::steady_clock::time_point deadline;
  };
  std::map<std::string, Kill> terminating_;
  // Groups of ended jobs that could not be removed yet (a process the kernel was still
  // tearing down); retried on later polls.
  std::vector<std::string> stale_groups_;
};

// The supervisor: `jizhan-shim DIR` (see the folder layout above). Returns the
// process's exit status.
int run_shim(const std::string& dir);

// The start time of a process (clock ticks since boot, /proc/PID/stat field 22), or -1
// (also for a zombie).
int64_t process_start_ticks(int pid);

}  // namespace jz::exec
