// Production traces for the scheduling engine: Alibaba's cluster-trace-gpu-v2023 ("openb",
// the data of the USENIX ATC'23 paper "Beware of Fragmentation: Scheduling GPU-Sharing
// Workloads with Fragmentation Gradient Descent", FGD) and that paper's arrival-only
// experiment. docs/SCHEDULING.md has the numbers.
//
// Nodes CSV (openb_node_list_gpu_node.csv): sn, cpu_milli, memory_mib, gpu, model.
// Tasks CSV (openb_pod_list_*.csv): name, cpu_milli, memory_mib, num_gpu, gpu_milli; an
// optional gpu_spec (the GPU models a task accepts, '|'-separated); other columns (qos,
// phases, times) are read past. A task with gpu_milli < 1000 is a share of one GPU; with
// 1000, num_gpu whole GPUs; with num_gpu 0, CPU and memory only.
//
// The experiment: tasks drawn from the trace with replacement (seeded) arrive one at a
// time until their GPU requests reach `until` (1.3) times the cluster's GPUs; none leaves;
// each is placed at once or fails (and counts as requested). After each arrival the share
// of the cluster's GPUs allocated (milli-GPU) is recorded against the share requested so
// far; the curve holds, for every whole percent x of requested, the mean allocated share
// over the arrivals whose requests round to x % (as the paper's artifact averages them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sched/scheduler.h"

namespace jz::sched {

struct TraceNode {
  std::string name, model;
  int64_t cpu_milli = 0, memory_mib = 0;
  int gpus = 0;
  int gpu_memory_mib = 1;  // each GPU's MiB (openb does not say: its shares ask for none)
  std::string pool = "default";
};

struct TraceTask {
  std::string name;
  int64_t cpu_milli = 0, memory_mib = 0;
  int gpus = 0;              // whole GPUs (gpu_milli 1000), or 1 for a share
  int gpu_milli = 0;         // per GPU: 1000, or the share's
  std::string models;        // accepted GPU models, '|'-separated; "" any
  int share_memory_mib = 0;  // a share's GPU memory
  int workers = 1;           // a gang: all or none
  std::string pool = "default";
  int64_t request_milli() const { return int64_t{gpus} * gpu_milli * workers; }
};

Result<std::vector<TraceNode>> parse_openb_nodes(std::string_view csv, const std::string& what);
Result<std::vector<TraceTask>> parse_openb_tasks(std::string_view csv, const std::string& what);

// The engine's view of them: a node of one pool ("default") whose flavor is its model; a
// job whose flavor is the models it accepts.
NodeSpec node_of(const TraceNode& n);
JobSpec job_of(const TraceTask& t, int64_t id);

// The same experiment on a cluster and a workload of `jizhan sched sim` (sim.h): every
// node of every pool, and every job of the workload as a task (its submit times and
// durations are not used: tasks are drawn from it and none leaves).
struct ClusterSpec;
struct Workload;
std::vector<TraceNode> trace_nodes_of(const ClusterSpec& cluster);
std::vector<TraceTask> trace_tasks_of(const Workload& workload);

struct ArrivalOptions {
  Policy policy = Policy::kFgd;
  uint64_t seed = 42;
  double until = 1.3;  // of the cluster's GPUs requested
};

struct ArrivalCurve {
  // allocated[x]: the mean percent of the cluster's GPUs allocated after the arrivals whose
  // requests round to x percent of them (when none does: the percent when the requests
  // first reached x), x = 0 .. until x 100.
  std::vector<double> allocated;
  int64_t capacity_milli = 0;
  int64_t arrivals = 0, failed = 0;
  // Failed arrivals that some node could have taken (a brute-force check over every
  // node): the engine's placement must make this 0.
  int64_t failed_with_room = 0;
  double seconds = 0;  // the engine's time (placements and checks), wall clock
  // At the end: GPUs left wholly free, left in pieces (free parts of shared GPUs), and
  // nodes with free GPUs but under 4 CPUs free (stranded by CPU).
  int64_t free_whole_milli = 0, free_partial_milli = 0, cpu_starved_nodes = 0;
};

Result<ArrivalCurve> run_arrivals(const std::vector<TraceNode>& nodes,
                                  const std::vector<TraceTask>& tasks,
                                  const ArrivalOptions& options);

}  // namespace jz::sched
