// The scheduling simulator (`jizhan sched sim`): a cluster (YAML), a workload (a trace CSV
// or a generator YAML), and the engine of scheduler.h driven through simulated time.
// Deterministic: the same inputs and seed give the same results.
//
// Cluster YAML:
//   policy: binpack                 # or spread
//   idle_reclaim_minutes: 0         # dev sessions idle this long give their GPUs back (0: never)
//   pools:
//     - {name: training, nodes: 16, gpus_per_node: 8, gpu_memory_mib: 81920, flavor: h100}
//   projects:
//     - {name: vision-a, workspace: cv, nominal_gpus: 64, borrowing_limit_gpus: 32,
//        lending_limit_gpus: 64, per_user_gpus: 16, weight: 1}
//
// Trace CSV, one job a row: submit_s, user, project, gpus (or share_cores_percent and
// share_memory_mib), duration_s, priority; optional pool, workers, estimate_s, class,
// busy (the fraction of its time the GPU is busy; 1 by default).
//
// Generator YAML (Kueue-style: queues x job classes with runtime distributions):
//   seed: 1
//   hours: 24
//   jobs_per_hour: 300
//   projects: [vision-a, vision-b]   # default: every project of the cluster
//   users_per_project: 4
//   classes:
//     - {name: small, weight: 6, gpus: 1, minutes: 30, distribution: exponential, pool: training}
//     - {name: session, weight: 1, share_cores_percent: 50, share_memory_mib: 20000,
//        minutes: 240, session: true, busy: 0.5, active_minutes: 30, pool: dev}
//
// Every parser here has a fuzz target (fuzz/fuzz_sim_input.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "sched/scheduler.h"

namespace jz::sched {

struct PoolSpec {
  std::string name = "default";
  int nodes = 1;
  int gpus_per_node = 8;
  int gpu_memory_mib = 81920;
  std::string flavor = "gpu";
};

struct ClusterSpec {
  Policy policy = Policy::kBinpack;
  double idle_reclaim_minutes = 0;
  std::vector<PoolSpec> pools;
  std::vector<QueueSpec> queues;
};

struct SimJob {
  int64_t id = 0;
  double submit_s = 0;
  std::string user, project, pool = "default", cls = "job";
  int gpus = 0, share_cores_percent = 0, share_memory_mib = 0, workers = 1, priority = 0;
  double duration_s = 0, estimate_s = 0;
  double busy = 1.0;          // fraction of its held time the GPU works
  double active_minutes = 0;  // sessions: length of one busy stretch (then an idle one)
  bool session = false;
};

struct Workload {
  std::vector<SimJob> jobs;  // by submit time
};

Result<ClusterSpec> parse_cluster(std::string_view yaml, const std::string& what);
Result<Workload> parse_trace(std::string_view csv, const std::string& what);
Result<Workload> parse_generator(std::string_view yaml, const std::string& what,
                                 const ClusterSpec& cluster, double max_jobs = 2e6);

struct SimResult {
  Json summary;                  // per pool and per class figures, projects, totals
  std::string summary_markdown;  // the table a person reads
  std::string allocation_csv;    // time_h, pool, allocated, used (fractions of the pool)
  Json series;                   // the same by pool: {pool: {hour: [], allocated: [], used: []}}
  std::string plot_svg;          // allocation and use over time, per pool
};

Result<SimResult> simulate(const ClusterSpec& cluster, const Workload& workload);

}  // namespace jz::sched
