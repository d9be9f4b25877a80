// The scheduling simulator (`jizhan sched sim`): a cluster (YAML), a workload (a trace CSV
// or a generator YAML), and the engine of scheduler.h driven through simulated time.
// Deterministic: the same inputs and seed give the same results.
//
// Cluster YAML:
//   policy: fgd                     # (the default), binpack or spread
//   idle_reclaim_minutes: 0         # dev sessions idle this long give their GPUs back (0: never)
//   pools:
//     - {name: training, nodes: 16, gpus_per_node: 8, gpu_memory_mib: 81920, flavor: h100,
//        cpus_per_node: 256, memory_gib_per_node: 2048}
//     - name: mixed                 # nodes of several kinds in one pool
//       node_types:
//         - {nodes: 4, gpus_per_node: 8, flavor: a100, cpus_per_node: 128}
//         - {nodes: 8, gpus_per_node: 2, flavor: t4, cpus_per_node: 32, memory_gib_per_node: 256}
//         - {nodes: 2, gpus_per_node: 0, cpus_per_node: 64}   # CPU-only nodes
//   projects:
//     - {name: vision-a, workspace: cv, nominal_gpus: 64, borrowing_limit_gpus: 32,
//        lending_limit_gpus: 64, per_user_gpus: 16, weight: 1}
//
// Trace CSV, one job a row: submit_s, user, project, gpus (or share_cores_percent and
// share_memory_mib; neither: a CPU-only job), duration_s, priority; optional pool,
// workers, estimate_s, class, busy (the fraction of its time the GPU is busy; 1 by
// default), cpu (cores a worker takes; 1 by default), memory_mib (1024 by default),
// flavor (the GPU models it accepts, '|'-separated).
//
// Generator YAML (Kueue-style: queues x job classes with runtime distributions):
//   seed: 1
//   hours: 24
//   jobs_per_hour: 300
//   projects: [vision-a, vision-b]   # default: every project of the cluster
//   users_per_project: 4
//   classes:
//     - {name: small, weight: 6, gpus: 1, minutes: 30, distribution: exponential, pool: training}
//     - {name: etl, weight: 2, cpu: 8, memory_mib: 32768, minutes: 10}  # CPU only
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

struct NodeType {
  int nodes = 1;
  int gpus_per_node = 8;  // 0: CPU-only nodes
  int gpu_memory_mib = 81920;
  std::string flavor = "gpu";
  int cpus_per_node = 256;
  int64_t memory_gib_per_node = 2048;
};

struct PoolSpec {
  std::string name = "default";
  // The pool's own fields (one kind of node), or, with node_types, the defaults of its
  // kinds; `nodes` and `gpus_per_node` are then the totals.
  int nodes = 1;
  int gpus_per_node = 8;
  int gpu_memory_mib = 81920;
  std::string flavor = "gpu";
  int cpus_per_node = 256;
  int64_t memory_gib_per_node = 2048;
  std::vector<NodeType> node_types;  // empty: `nodes` of the kind above
  int64_t gpus() const;              // in the whole pool
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
  double cpu = 1;             // cores a worker takes
  int64_t memory_mib = 1024;  // memory a worker takes
  std::string flavor;         // GPU models it accepts ('|'-separated); "" any
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
