// The job runner: one thread that joins the scheduling engine (sched/), the executor
// (exec/) and the job store. Each tick it
//   - refreshes the queues from the projects' quotas,
//   - hands newly queued jobs to the engine, and cancels what users asked to cancel,
//   - polls every active job's executor state (running, exited, lost) and records it,
//   - ends jobs past their runtime limit and dev environments that are idle,
//   - runs a scheduling cycle and carries out its decisions (launch, preempt, reject).
// The runner is the only writer of a job's state after submission (retry aside, which
// only touches ended jobs), so state changes are ordered, and a job's resources are
// released in the store before the engine gives them to another job: the event log never
// shows a quota exceeded.
//
// Startup rebuilds the engine from the store: active jobs are adopted on their recorded
// placement when the executor still knows them (their supervisor runs, or it recorded how
// they ended) and marked lost otherwise; queued jobs are submitted again in their order.
//
// Thread-safe: start/stop/wake/touch from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "exec/executor.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "platform/training/runs.h"
#include "platform/training/watch.h"
#include "sched/scheduler.h"

namespace jz::monitor {
class Monitor;
}

namespace jz::jobs {

struct RunnerOptions {
  std::chrono::milliseconds tick{100};
  std::chrono::milliseconds grace{10000};  // SIGTERM to SIGKILL on cancel/preempt/timeout
  int64_t max_pids = 4096;                 // processes and threads of one job at once (0: no limit)
  // Each project's jobs run as user (and group) project_uid_base + the project's number
  // when the server runs as root; 0: every job as the executor's sandbox user.
  int64_t project_uid_base = 0;
  // How often the storage of projects with a storage quota and running jobs is measured.
  std::chrono::milliseconds storage_check{10000};
  std::chrono::milliseconds quota_refresh{2000};
  // How often each project's fair-share usage is written to the store (and at stop), so
  // that a restart does not forget who used the GPUs lately.
  std::chrono::milliseconds usage_persist{30000};
  sched::Policy policy = sched::Policy::kFgd;
  std::string pool = "default";
  // Log retention (logs/retention.h) over jobs_dir, checked every minute; 0: no limit.
  std::string jobs_dir;
  // Each project's volume, <volumes_dir>/<project id>, at /project in its jobs (writable
  // for those on open data only); "" for none.
  std::string volumes_dir;
  // The user jobs run as when the server is root and projects have no users of their own
  // (the executor's sandbox user): the owner of their project's volume.
  int64_t sandbox_uid = 65534, sandbox_gid = 65534;
  std::chrono::seconds log_retention_age{std::chrono::hours(24 * 30)};
  int64_t log_retention_bytes = int64_t{50} << 30;
  // A job (not a dev environment) whose GPUs stay under its project's
  // devenv_gpu_idle_percent this long gets a GpuIdle event, once until it uses them
  // again (the node monitor measures; 0: never).
  std::chrono::seconds training_gpu_idle{std::chrono::minutes(30)};
  // Evaluations (platform/autotest): uploaded packages are in
  // <algorithms_dir>/<project id>/<name>/<version>/ (mounted read-only at /algorithm); ""
  // there: jobs that name an algorithm fail with the reason. The platform's programs
  // (jizhan-algo) are in tools_dir, mounted read-only at /opt/jizhan/bin in evaluations
  // and in jobs with `tools` (curation).
  std::string algorithms_dir, tools_dir;
};

class JobRunner {
 public:
  JobRunner(store::Database& db, Clock& clock, JobStore& jobs, Datasets& datasets,
            iam::Quotas& quotas, iam::Tenancy& tenancy, exec::Executor& executor,
            std::shared_ptr<spdlog::logger> logger, const RunnerOptions& options = {});
  ~JobRunner();

  // Project code (snapshots mounted at /code, the repository in dev environments) and
  // job outputs (recorded when a job ends; inputs mounted at /inputs); call before
  // start(). Without them jobs that name code or inputs fail with the reason.
  void attach(CodeRepos* code, Outputs* outputs) {
    code_ = code;
    outputs_ = outputs;
  }
  // The node monitor: dev environments' GPU use counts against their idleness. Call before
  // start().
  void attach_monitor(monitor::Monitor* m) { monitor_ = m; }
  // Training runs: each job gets one (named after it) where its metrics channel writes.
  // Call before start().
  // The runner also watches training jobs unattended (platform/training/watch.h).
  void attach_runs(training::RunService* runs);
  // A running training job's progress (from its run, else its log) and ETA.
  std::optional<training::JobProgress> job_progress(const std::string& job_id) const;
  // A GPU left (or came back into) service, e.g. after an XID 79 (the monitor's listener
  // calls it, from any thread): the scheduler stops placing on it, and the node and every
  // job running on it get an event.
  void set_gpu_health(const std::string& uuid, bool healthy, const std::string& reason);
  // The scheduler's metrics in the Prometheus text format (jizhan_jobs, queue length,
  // projects' use against quotas, GPUs, queue waits), as of the last tick.
  std::string metrics_text();
  // Rebuilds from the store, then runs the loop in a thread.
  Status start();
  void stop();
  // Runs a tick soon (after a submission or a cancel request).
  void wake();
  // A project's quota changed: read every quota again before the next jobs are taken (so a
  // job submitted after the change is admitted, and limited to clusters, under it).
  void quotas_changed() {
    quotas_changed_ = true;
    wake();
  }
  // Traffic to a dev environment (the proxy calls it): it is not idle.
  void touch(const std::string& job_id);
  // The machine and what is in use, for GET /api/v1/nodes.
  Json nodes_json();
  // What the project's jobs hold now (as of the last tick), against its quota: gpus,
  // cpu_cores, memory_mib, concurrent_jobs (running) and pending_jobs. Empty when the
  // runner has not seen the project yet.
  Json usage_json(const std::string& project_name);
  // When a running dev environment will be stopped as idle if nothing reaches it (Unix
  // ms, as of the last tick); none for other jobs.
  std::optional<int64_t> idle_stop_at_ms(const std::string& job_id);
  // The scheduler's view for GET /api/v1/scheduler: every node and GPU with the jobs
  // holding it (whole, or a share's memory and core %), the pending jobs in the order the
  // next cycle considers them with their reasons, and each project's GPU use against its
  // quota. Every project's jobs: the API hides what the caller may not see. Built by the
  // runner's thread at most twice a second while someone asks (waits up to a second for
  // the first one).
  Json scheduler_json();
  exec::Executor& executor() { return executor_; }
  // What the job may use of each GPU it holds, for its resources view: a share's memory
  // and core percentage (its vGPU limit; share: true), or the whole device (its memory,
  // 100%). Null for a job without GPUs.
  Json gpu_limits(const Job& j) const;
  // More bytes a project stores elsewhere (dataset versions), counted by storage_used.
  // Call before start().
  void also_count_storage(std::function<Result<int64_t>(const std::string& project_id)> fn) {
    also_storage_ = std::move(fn);
  }
  // Bytes the project's runs (work, outputs, logs), uploaded datasets, volume and code
  // repository take on disk, with what also_count_storage adds.
  // Runs that ended are measured once. Thread-safe.
  Result<int64_t> storage_used(const std::string& project_id);
  // What the project's storage quota still allows in bytes (negative: over it); none when
  // it has no storage quota.
  Result<std::optional<int64_t>> storage_left(const std::string& project_id);

 private:
  int64_t next_retention_ms_ = 0;
  std::function<Result<int64_t>(const std::string&)> also_storage_;
  // Log filters compiled once per policy (by its JSON), handed to each job's supervisor.
  std::map<std::string, std::string> compiled_filters_;
  struct Active {
    std::string id, run_id, project_id, kind, user_id;
    bool has_run = false;  // its training run exists (made when the job first reports)
    bool watched = false;  // handed to the training watch
    int64_t seq = 0;
    int64_t started_ms = 0;   // the run's start (engine time)
    int64_t deadline_ms = 0;  // 0: none
    int64_t last_activity_ms = 0;
    std::string ending;  // "", "cancel", "preempt", "timeout", "idle", "storage"
    std::string ending_detail;
    bool running = false;
    bool uses_gpu = false;
    bool gpu_idle_reported = false;  // a GpuIdle event since it last used its GPUs
    bool idle_warned = false;        // an IdleSoon event since its last activity (devenvs)
    int64_t next_idle_check_ms = 0;
  };
  // Jobs in the queue, to tell their owners when one waits longer than its project's
  // queued_alert_s (a QueuedTooLong event, once per wait).
  struct Waiting {
    std::string id, project_id, project, username;
    int64_t since_ms = 0;
    bool reported = false;
  };
  std::map<int64_t, Waiting> waiting_;  // engine id -> (runner thread)
  // Makes the job's training run once its metrics channel has taken something.
  void start_run_if_reported(Active& a);
  int64_t next_wait_check_ms_ = 0;
  std::map<std::string, std::pair<int64_t, int64_t>>
      queued_alert_s_;  // project id -> limit, read at
  void check_waiting(int64_t now);
  // A project that holds 90 % of its GPU quota gets a QuotaNearlyUsed event (again once it
  // went back under 80 %).
  void check_quotas(int64_t now);
  int64_t next_quota_check_ms_ = 0;
  std::map<std::string, bool> quota_warned_;  // project -> told (runner thread)
  // Records an event about a job (its owner is the subject).
  void job_event(const std::string& job_id, const std::string& project, const std::string& username,
                 const std::string& reason, const std::string& message);
  struct HealthChange {
    std::string uuid;
    bool healthy = true;
    std::string reason;
  };
  std::vector<HealthChange> health_changes_;       // under mu_
  std::map<std::string, std::string> gpu_health_;  // uuid -> why out of service (runner thread)
  monitor::Monitor* monitor_ = nullptr;
  static constexpr std::array<double, 9> kWaitBuckets = {1,   5,    15,    60,   300,
                                                         900, 3600, 14400, 86400};
  std::array<int64_t, 9> wait_buckets_{};  // under mu_; cumulative per bucket
  int64_t wait_count_ = 0;
  double wait_sum_s_ = 0;
  std::string metrics_cache_;  // under mu_
  std::string render_metrics(const std::map<std::string, Json>& usage) const;
  // What an admission holds, recorded with its event for metering.
  Json allocation_of(const Job& j, const sched::Decision& d) const;
  void apply_health_changes(int64_t now);
  void check_training_gpu_idle(Active& a, int64_t now);
  void loop();
  Status rebuild();
  void tick();
  Status refresh_queues(bool force);
  sched::JobSpec engine_spec(const Job& j) const;
  void take_new_jobs();
  void handle_cancels();
  void poll_active(int64_t now);
  void check_storage(int64_t now);
  // Why the project is past its storage quota, or "" when it is not (or has none).
  Result<std::string> storage_exceeded(const std::string& project_id);
  void apply(const sched::Decision& d, int64_t now);
  Status launch(const Job& j, const Json& placement);
  void finish(Active& a, const exec::JobStatus& st);
  // The strictest level of what the job reads: its datasets, and the held outputs of the
  // jobs it names as inputs. Mounts them into `spec` when given.
  Result<std::string> data_level(const Job& j, exec::LaunchSpec* spec);
  // Hourly: outputs past their retention, code snapshots no job used for a week.
  void housekeeping(int64_t now);
  int64_t next_housekeeping_ms_ = 0;
  CodeRepos* code_ = nullptr;
  Outputs* outputs_ = nullptr;
  training::RunService* runs_ = nullptr;
  std::unique_ptr<training::TrainingWatch> watch_;
  int64_t next_watch_ms_ = 0;
  void log_error(const std::string& what, const Status& s);

  store::Database& db_;
  Clock& clock_;
  JobStore& jobs_;
  Datasets& datasets_;
  iam::Quotas& quotas_;
  iam::Tenancy& tenancy_;
  exec::Executor& executor_;
  std::shared_ptr<spdlog::logger> logger_;
  RunnerOptions options_;
  sched::Scheduler engine_;
  std::map<int64_t, std::string> by_seq_;  // engine id -> job id (queued and active)
  std::map<std::string, Active> active_;   // by job id
  std::map<std::string, std::string> pending_message_;
  int64_t last_queue_seq_ = 0;
  Clock::SteadyTime last_refresh_{};
  std::set<std::string> known_projects_;

  std::atomic<bool> quotas_changed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::map<std::string, int64_t> touched_;  // job id -> ms
  Json nodes_cache_ = Json::object();
  std::map<std::string, Json> usage_cache_;       // by project name
  std::map<std::string, int64_t> idle_at_;        // loop thread: job id -> idle stop (ms)
  std::map<std::string, int64_t> idle_at_cache_;  // the same, published under mu_
  // The scheduler view (scheduler_json): built while wanted, published under mu_.
  Json build_scheduler_view(int64_t now);
  void prune_labels();  // names of jobs the engine no longer holds go
  // Fair-share usage: written to (sched_usage) and read back from the store.
  Status persist_usage(int64_t now);
  Status restore_usage();
  int64_t next_usage_persist_ms_ = 0;
  // The engine's words with each "job N" (its own number for a job) as the platform's job
  // id, which users can look up.
  std::string platform_words(std::string reason) const;
  std::map<int64_t, std::pair<std::string, std::string>> labels_;  // engine id -> name, kind
  Json scheduler_cache_;
  int64_t scheduler_built_ms_ = 0;
  Clock::SteadyTime scheduler_wanted_until_{};
  std::condition_variable scheduler_cv_;
  int64_t next_storage_check_ms_ = 0;
  std::mutex storage_mu_;
  std::map<std::string, int64_t> ended_run_bytes_;  // runs with exit.json: measured once
  // The nodes the engine places on (the executor's: this machine, Kubernetes clusters'),
  // by engine name ("cluster/node" for a cluster's, the machine's own name for it), and
  // each project's clusters ("" any, "a|b"), from its quota. Guarded by nodes_mu_ (API
  // threads read them).
  mutable std::mutex nodes_mu_;
  std::map<std::string, exec::NodeInfo> nodes_;
  std::map<std::string, std::string> project_clusters_;
  int64_t next_node_sync_ms_ = 0;
  uint64_t nodes_version_ = 0;
  // Brings the engine's nodes in line with the executor's: new ones added, gone ones
  // removed (their jobs lost), unschedulable ones cordoned. Runner thread.
  Status sync_nodes(int64_t now);
  // The GPU at `index` of an engine node; null when unknown.
  std::optional<exec::GpuInfo> gpu_at(const std::string& node, int index) const;
  std::thread thread_;
};

}  // namespace jz::jobs
