// Control groups for jobs: CPU, memory and process-count limits, accounting, OOM detection and the
// list of a job's processes. cgroup v2 when the unified hierarchy has the memory controller, else
// v1 (memory, cpu and cpuacct hierarchies), else none (limits are then not enforced and the server
// says so at start).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace jz::exec {

class Cgroups {
 public:
  // Finds the hierarchy and makes sure `<root>/<name>` exists in each controller used.
  static Cgroups detect(const std::string& name);
  const std::string& version() const { return version_; }  // "v2", "v1" or "none"

  // Creates the job's groups with the limits (0: none); returns their folders (the
  // memory one first). Empty when there are no cgroups here. `max_pids` bounds the
  // job's processes and threads together (the pids controller).
  Result<std::vector<std::string>> create(const std::string& job_id, int64_t cpu_milli,
                                          int64_t memory_mib, int64_t max_pids = 0) const;
  // Whether create() can bound a job's processes (the pids controller is there).
  bool limits_pids() const { return pids_; }

  // For the supervisor: puts process `pid` into each group.
  static Status join(const std::vector<std::string>& groups, int pid);
  static std::vector<int> pids(const std::string& group);
  struct Usage {
    bool oom_killed = false;
    int64_t max_memory_bytes = 0;
    int64_t cpu_usage_ms = 0;
    int64_t pids_limit_hits = 0;  // forks and clones refused by the process limit
  };
  static Usage usage(const std::vector<std::string>& groups, const std::string& version);
  // Removes the group once its processes have ended; a process still in it (one the
  // kernel is still tearing down after an OOM kill, or a stray) is killed first. False
  // when the group is still there.
  static bool remove(const std::string& group);

 private:
  std::string version_ = "none";
  std::vector<std::string> parents_;  // v2: one; v1: memory, cpu, cpuacct, pids
  bool pids_ = false;
};

}  // namespace jz::exec
