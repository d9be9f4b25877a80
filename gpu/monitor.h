// One node's monitor: every GPU (NVML), the processes on them mapped to the jobs they
// belong to, GPU health from XID events, the node's CPU, memory, disk and network, and
// each job's CPU and memory from its control group. jizhan-agent samples it every second
// and serves the last snapshot as Prometheus text (/metrics) and JSON (/v1/sample).
//
// Device metrics carry dcgm-exporter's names and labels (gpu, UUID, pci_bus_id, device,
// modelName, Hostname) so its dashboards work unchanged; per-job series add job, project,
// workspace, user and run; node and job series are jizhan_*. docs/MONITORING.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gpu/node.h"
#include "gpu/nvml.h"

namespace jz::gpu {

struct MonitorOptions {
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string hostname;  // "" : the machine's
  std::string proc = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_name = "jizhan";  // the executor's (exec/executor.h cgroup_name)
  std::string jobs_dir;                // where the executor keeps jobs' folders (labels.json)
  std::vector<std::string> filesystems;
  // XIDs that take a GPU out of service: 48 (double-bit ECC error), 79 (fallen off the
  // bus); a GPU that NVML reports lost is unhealthy too.
  std::set<int64_t> fatal_xids = {48, 79};
};

struct AttributedProcess {
  ProcessReading reading;
  std::string run;  // "" when the process belongs to no job
};

struct GpuHealth {
  bool healthy = true;
  std::string reason;     // why not, for events ("XID 79", "lost")
  int64_t last_xid = 0;   // 0: none seen
  int64_t xid_count = 0;  // since the agent started
};

struct Snapshot {
  int64_t at_ms = 0;
  std::string hostname, driver_version;
  std::string nvml;  // "ok", or why NVML is not there ("cannot load ...")
  std::vector<GpuReading> gpus;
  std::vector<GpuHealth> health;  // by GPU index
  std::vector<AttributedProcess> processes;
  NodeReading node;
  std::vector<JobReading> jobs;
  std::map<std::string, int64_t> nvml_errors;
  double sample_seconds = 0;  // how long the last sample took
  int64_t samples = 0;
};

class Monitor {
 public:
  explicit Monitor(MonitorOptions options);
  ~Monitor();
  // Reads everything once (XID events without waiting).
  Snapshot sample(int64_t now_ms);
  bool has_nvml() const { return nvml_ != nullptr; }

 private:
  MonitorOptions options_;
  std::unique_ptr<Nvml> nvml_;
  std::string nvml_status_;
  std::vector<GpuHealth> health_;
  std::map<std::string, std::map<std::string, std::string>> labels_;  // by run, cached
  int64_t samples_ = 0;
};

// Prometheus text exposition (0.0.4) of a snapshot.
std::string render_prometheus(const Snapshot& s);
// The same as JSON, for the server's collector.
nlohmann::json to_json(const Snapshot& s);

}  // namespace jz::gpu
