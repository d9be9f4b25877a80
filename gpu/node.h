// The node's own metrics from procfs and sysfs, and the jobs on it from their control
// groups: which job a process belongs to (its cgroup path holds `<cgroup name>/<run>`, as
// the local executor makes them), each job's CPU time and memory, and the labels the
// executor wrote beside the job (labels.json in the job's folder).
//
// Readers take their roots as arguments so tests can point them at prepared folders.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace jz::gpu {

struct NodeReading {
  int64_t cpus = 0;
  std::map<std::string, double> cpu_seconds;  // by mode (user, system, idle, iowait, ...)
  int64_t memory_total_bytes = 0, memory_available_bytes = 0;
  double load1 = 0;
  struct Filesystem {
    std::string path;
    int64_t size_bytes = 0, avail_bytes = 0;
  };
  std::vector<Filesystem> filesystems;
  struct Network {
    std::string device;
    int64_t receive_bytes = 0, transmit_bytes = 0;
  };
  std::vector<Network> networks;
};

// `filesystems`: the paths whose file systems are reported (the data folder).
NodeReading read_node(const std::vector<std::string>& filesystems,
                      const std::string& proc = "/proc");

// The run a process belongs to: the path component after `cgroup_name` in any line of
// /proc/PID/cgroup; "" for a process of no job (or one gone).
std::string run_of_pid(int64_t pid, const std::string& cgroup_name,
                       const std::string& proc = "/proc");

struct JobReading {
  std::string run;
  double cpu_seconds = 0;
  int64_t memory_bytes = 0;
  std::optional<int64_t> memory_limit_bytes;
  std::map<std::string, std::string> labels;  // job, project, workspace, user, ...
};

// Every job group under `<cgroup_root>/<cgroup_name>` (v2) or the v1 memory and cpuacct
// hierarchies' `<cgroup_name>` folders, with labels from `<jobs_dir>/<run>/labels.json`
// when `jobs_dir` is set.
std::vector<JobReading> read_jobs(const std::string& cgroup_root, const std::string& cgroup_name,
                                  const std::string& jobs_dir);

// The labels file of a run: a flat JSON object of strings; {} when absent or not that.
std::map<std::string, std::string> read_labels(const std::string& path);

}  // namespace jz::gpu
