// The server's side of GPU monitoring: it runs jizhan-agent for this machine (a child
// process on loopback with a token of its own, started again if it dies), reads the
// agent's sample every interval, keeps the series in the embedded time-series store
// (metrics/tsdb.h), tells a listener when a GPU leaves or returns to service, and answers
// the queries of the API: the latest sample, a job's recent GPU use (idle reclaim), ranges
// for charts. docs/MONITORING.md.
//
// Series kept (labels in brackets; `Hostname` on all):
//   DCGM_FI_DEV_GPU_UTIL, _MEM_COPY_UTIL, _FB_USED, _FB_FREE, _GPU_TEMP, _POWER_USAGE,
//   _SM_CLOCK [gpu, UUID]; jizhan_gpu_healthy [gpu, UUID];
//   jizhan_job_gpu_util, jizhan_job_gpu_memory_used_mib [gpu, UUID, job, run, project,
//   workspace, user]; jizhan_job_gpu_memory_limit_mib (GPU shares) and jizhan_job_cpu_cores,
//   jizhan_job_memory_bytes [job, run, project, workspace, user]; jizhan_node_cpu_util,
//   jizhan_node_memory_used_bytes; jizhan_node_filesystem_size_bytes, _avail_bytes [path];
//   jizhan_node_up (1 for each sample, 0 when the agent does not answer).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "metrics/tsdb.h"

namespace spdlog {
class logger;
}

namespace jz::monitor {

struct MonitorOptions {
  // The agent: run it for this machine (false: none; the server then keeps no series).
  bool run_agent = true;
  std::string agent_binary;  // jizhan-agent, beside jizhan
  std::string state_dir;     // the agent's token and port files; the store under tsdb/
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string jobs_dir;
  std::string cgroup_name = "jizhan";
  std::vector<std::string> filesystems;
  std::chrono::milliseconds interval{1000};
  metrics::TsdbOptions tsdb;  // its dir defaults to state_dir + "/tsdb"
  // Extra environment for the agent (the tests' fake NVML scenario).
  std::map<std::string, std::string> agent_env;
  // When set (http://host:9090), charts are read from this Prometheus's HTTP API
  // (query_range) instead of the embedded store; it must scrape the agents with
  // honor_labels: true (docs/MONITORING.md).
  std::string prometheus_url;
};

// One series of a query: its labels and its points.
struct QuerySeries {
  metrics::Labels labels;
  std::vector<metrics::Point> points;
};

// A GPU that left or came back into service.
struct HealthChange {
  std::string node, uuid;
  int index = 0;
  bool healthy = true;
  std::string reason;
};

class Monitor {
 public:
  Monitor(MonitorOptions options, Clock& clock, std::shared_ptr<spdlog::logger> logger);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Called from the collector's thread on every change of a GPU's health (and once for
  // each GPU found unhealthy at the first sample). Set before start().
  void on_health(std::function<void(const HealthChange&)> listener) {
    health_listener_ = std::move(listener);
  }
  Status start();
  void stop();

  // The latest sample of each node, as the agents report it (null before the first).
  Json latest() const;
  // A run's mean GPU utilisation (SM %, summed over its GPUs) over the last `window`, or
  // nothing when no sample covers it (no agent, not yet sampled).
  std::optional<double> run_gpu_util(const std::string& run,
                                     std::chrono::milliseconds window) const;
  metrics::Tsdb* store() { return tsdb_.get(); }
  // The series of `metric` whose labels include `match`, one point per step from the
  // embedded store or, with prometheus_url, from Prometheus (AGG_over_time over each step;
  // jizhan_job_cpu_cores as the rate of jizhan_job_cpu_seconds_total). failed_precondition
  // when neither is there; unavailable naming Prometheus when it does not answer.
  Result<std::vector<QuerySeries>> query(const std::string& metric, const metrics::Labels& match,
                                         int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                         metrics::Aggregation agg) const;
  // "embedded" or "prometheus".
  std::string source() const { return options_.prometheus_url.empty() ? "embedded" : "prometheus"; }
  // Why there is no agent ("" when one runs).
  std::string agent_status() const;

 private:
  void loop();
  void ensure_agent();
  void collect();
  void ingest(const Json& sample, int64_t now_ms);
  void record(std::vector<metrics::Tsdb::Sample>& batch, const std::string& metric,
              const metrics::Labels& labels, int64_t t_ms, double value);

  MonitorOptions options_;
  Clock& clock_;
  std::shared_ptr<spdlog::logger> logger_;
  std::function<void(const HealthChange&)> health_listener_;
  std::unique_ptr<metrics::Tsdb> tsdb_;
  std::optional<Child> agent_;
  std::string token_;
  int port_ = 0;
  int64_t next_agent_start_ms_ = 0;
  int agent_starts_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  Json latest_;
  std::string agent_status_ = "not started";
  std::map<std::string, bool> healthy_;  // by GPU uuid
  // Per run: its GPU utilisation in 10 s buckets over the last day, for idle reclaim.
  struct UtilBucket {
    int64_t start_ms = 0;
    double sum = 0;
    int count = 0;
  };
  std::map<std::string, std::vector<UtilBucket>> run_util_;
  // The previous CPU counters, for rates.
  std::map<std::string, std::pair<int64_t, double>> cpu_seconds_;
};

}  // namespace jz::monitor
