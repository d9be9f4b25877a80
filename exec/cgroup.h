// Control groups for jobs: CPU and memory limits, accounting, OOM detection and the list
// of a job's processes. cgroup v2 when the unified hierarchy has the memory controller,
// else v1 (memory, cpu and cpuacct hierarchies), else none (limits are then not
// enforced and the server says so at start).
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
  // memory one first). Empty when there are no cgroups here.
  Result<std::vector<std::string>> create(const std::string& job_id, int64_t cpu_milli,
                                          int64_t memory_mib) const;

  // For the supervisor: puts process `pid` into each group.
  static Status join(const std::vector<std::string>& groups, int pid);
  static std::vector<int> pids(const std::string& group);
  struct Usage {
    bool oom_killed = false;
    int64_t max_memory_bytes = 0;
    int64_t cpu_usage_ms = 0;
  };
  static Usage usage(const std::vector<std::string>& groups, const std::string& version);
  // Removes an empty group (its processes must have ended).
  static void remove(const std::string& group);

 private:
  std::string version_ = "none";
  std::vector<std::string> parents_;  // v2: one; v1: memory, cpu, cpuacct
};

}  // namespace jz::exec
