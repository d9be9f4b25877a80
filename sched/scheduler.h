// The GPU scheduling engine (docs/SCHEDULING.md): pure and deterministic. No I/O, no
// threads, no clock of its own: callers pass `now_ms` with every event, and the same
// events in the same order give the same decisions.
//
// Model: nodes in pools, each with GPU devices of one flavor (model); one queue per
// project, in a cohort (its workspace), with a nominal GPU quota, a borrowing limit, a
// lending limit and a per-user limit. Jobs ask for whole GPUs or a GPU share (memory MiB
// and a percentage of the cores on one device) per worker, CPU and memory, a gang of
// workers (all or none), a priority, and whether they may be preempted.
//
// Accounting is in milli-GPUs: a whole GPU is 1000; a share is the larger of its core
// percentage and its memory fraction (of the smallest device in the cluster, so that the
// charge never undercounts), so fractional GPUs count against quotas like whole ones.
//
// A cycle looks at queues in fair-share order (lowest dominant share of decayed usage
// first, by weight), each queue's jobs by priority then submission, and for each job
// checks the quotas, finds a placement (fgd, spread or binpack, whole GPUs of a worker on one
// node), backfills behind a blocked job when runtime estimates allow it, and preempts
// when that admits a higher-priority job or reclaims lent quota. Every decision and every
// non-decision has a reason ("pending: project vision-a uses 8 of 8 GPUs").
//
// Not thread-safe: one Scheduler is driven by one thread.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace jz::sched {

constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max() / 4;

struct GpuSpec {
  std::string uuid;
  int memory_mib = 81920;
  int sm_count = 132;
  bool healthy = true;
};

struct NodeSpec {
  std::string name;
  std::string pool = "default";
  std::string flavor = "gpu";  // the GPU model, e.g. "h100"
  std::string cluster;         // where it is (the local machine, a Kubernetes cluster)
  int64_t cpu_milli = 64000;
  int64_t memory_mib = int64_t{512} * 1024;
  std::vector<GpuSpec> gpus;
};

struct QueueSpec {
  std::string project;
  std::string cohort;                          // the workspace; "" is a cohort of its own
  int64_t nominal_milli = 0;                   // GPUs guaranteed, x1000
  int64_t borrowing_limit_milli = kUnlimited;  // beyond nominal, from the cohort
  int64_t lending_limit_milli = kUnlimited;    // of its unused nominal, to the cohort
  int64_t per_user_milli = kUnlimited;         // one user's GPUs in this project
  double weight = 1.0;                         // fair-share weight
  // Hard limits on what the project's running jobs hold besides GPUs (no borrowing).
  int64_t max_running_jobs = kUnlimited;
  int64_t cpu_limit_milli = kUnlimited;
  int64_t memory_limit_mib = kUnlimited;
};

struct JobSpec {
  int64_t id = 0;
  std::string project, user;
  int priority = 0;
  bool preemptible = true;
  int workers = 1;  // gang size: all or none
  // Per worker: whole GPUs, or a share of one device (share_cores_percent > 0).
  int gpus = 0;
  int share_memory_mib = 0;
  int share_cores_percent = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  std::string pool = "default";
  std::string flavor;               // "" is any; "a|b": any of these GPU models
  std::string clusters;             // "" is any; "a|b": any of these clusters (a gang stays in one)
  int64_t runtime_estimate_ms = 0;  // 0: unknown (never backfilled)
};

// fgd (the default): where the job adds the least fragmentation for the workload in the
// engine (after FGD, ATC'23), ties to the fullest node; spread: the same measure, ties to
// the emptiest node; binpack: the fullest node (and device) that fits.
enum class Policy { kBinpack, kSpread, kFgd };
// "binpack", "spread" or "fgd"; none for another name.
std::optional<Policy> policy_named(const std::string& name);
const char* policy_name(Policy p);
// Whether a job's flavor ("" any; "a100" one model; "v100m16|v100m32" any of several)
// takes a node of `flavor`.
bool flavor_accepts(const std::string& wanted, const std::string& flavor);

struct Options {
  Policy policy = Policy::kFgd;
  int64_t usage_half_life_ms = int64_t{3600} * 1000;  // fair share forgets usage at this rate
  int64_t preemption_grace_ms = int64_t{30} * 1000;
  bool backfill = true;
  int max_scan_per_queue = 8;  // jobs tried behind a blocked one in the same queue
};

struct WorkerPlacement {
  std::string node;
  std::vector<int> gpus;  // device indexes on the node (one for a share)
};

struct Decision {
  enum class Kind { kPlace, kPreempt, kPending, kReject };
  Kind kind;
  int64_t job = 0;
  std::vector<WorkerPlacement> placement;  // kPlace
  int64_t for_job = 0;                     // kPreempt: the job it makes room for
  int64_t grace_ms = 0;                    // kPreempt
  std::string reason;
  bool victim_borrowing = false;  // kPreempt: the victim's queue was beyond its nominal quota
};
const char* kind_name(Decision::Kind k);

struct QueueState {
  int64_t used_milli = 0;
  int64_t cpu_milli = 0, memory_mib = 0;
  int64_t nominal_milli = 0;
  int64_t pending_jobs = 0;
  int64_t running_jobs = 0;
  double dominant_share = 0;
};

class Scheduler {
 public:
  explicit Scheduler(Options options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Cluster and quota changes. Errors name what is wrong; nothing changes on error.
  Status add_node(const NodeSpec& node);
  // Running jobs with a worker on the node are returned: the caller reports them lost.
  Result<std::vector<int64_t>> remove_node(const std::string& name);
  Status set_gpu_health(const std::string& node, int gpu, bool healthy);
  // A node that takes no new work (its cluster stopped answering); what runs there stays.
  Status set_node_schedulable(const std::string& node, bool schedulable);
  Status set_queue(const QueueSpec& queue);

  // Job events.
  Status submit(const JobSpec& job, int64_t now_ms);
  Status cancel(int64_t job, int64_t now_ms);    // pending or running
  Status finished(int64_t job, int64_t now_ms);  // running or being preempted: frees it

  // Rebuilding the view after a restart (the store adapter calls these with what it
  // persisted): a job that is already running on this placement, and a queue's decayed
  // usage. Errors: an unknown project or node, a placement of the wrong shape or onto GPUs
  // that are taken or unhealthy. Pending jobs are submitted again in their original order.
  Status adopt(const JobSpec& job, const std::vector<WorkerPlacement>& placement,
               int64_t started_ms);
  struct UsageHistory {
    double decayed = 0;  // milli-GPU x ms
    int64_t at_ms = 0;
  };
  std::optional<UsageHistory> usage_history(const std::string& project) const;
  // The same brought up to `now_ms` (what is held now counted until then), without
  // changing the engine: what to persist so that a restart loses nothing.
  std::optional<UsageHistory> usage_history(const std::string& project, int64_t now_ms) const;
  Status set_usage_history(const std::string& project, const UsageHistory& h);

  // One scheduling pass; decisions in the order made.
  std::vector<Decision> cycle(int64_t now_ms);

  // Introspection (for the API, the simulator and tests).
  std::optional<QueueState> queue(const std::string& project) const;
  int64_t user_usage_milli(const std::string& project, const std::string& user) const;
  std::string reason(int64_t job) const;  // why a pending job waits; "" otherwise
  bool is_running(int64_t job) const;     // running, or being preempted
  bool is_pending(int64_t job) const;
  size_t pending_count() const;
  size_t nominated_count() const;  // jobs waiting for their preemption victims to stop
  size_t running_count() const;
  int64_t allocated_milli() const;                 // GPUs in use, x1000
  int64_t capacity_milli() const;                  // healthy GPUs, x1000
  int64_t charge_milli(const JobSpec& job) const;  // per worker

  // What each device holds, for the scheduling view: every node with its devices in
  // index order, and on each device the jobs holding it (a whole GPU, or a share's memory
  // and core percentage), in job id order.
  struct Holder {
    int64_t job = 0;
    std::string project, user;
    bool whole = false;
    int memory_mib = 0;     // a share's; the device's for a whole GPU
    int cores_percent = 0;  // a share's; 100 for a whole GPU
    bool preempting = false;
  };
  struct DeviceView {
    std::string uuid;
    bool healthy = true;
    int memory_mib = 0, memory_used_mib = 0, cores_used_percent = 0;
    std::vector<Holder> holders;
  };
  struct NodeView {
    std::string name, pool, flavor;
    int64_t cpu_milli = 0, cpu_used_milli = 0, memory_mib = 0, memory_used_mib = 0;
    std::vector<DeviceView> gpus;
  };
  std::vector<NodeView> nodes_view() const;
  // The pending jobs in the order the next cycle considers them: by priority, then the
  // queue's fair share (lowest first), then submission. The cycle takes a job and looks
  // again, so a placement changes the order after it; this is the order as of now.
  struct PendingView {
    int64_t job = 0;
    std::string project, user;
    int priority = 0;
    int64_t charge_milli = 0;  // all workers
    std::string reason;        // "" before the first cycle looked at it
  };
  std::vector<PendingView> queue_view() const;

  // Recomputes every total from the allocations and checks the promises: no device over
  // its memory or cores, no node over its CPU or memory, no queue over nominal plus its
  // borrowing limit or its job, CPU or memory limits, no user over the per-user limit, no gang
  // partly placed. For tests.
  Status check_invariants() const;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace jz::sched
