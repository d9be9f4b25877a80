// Job rows and their state changes. Every change of state is one transaction that
// updates the row, appends a per-job history record (job_events) and a project event
// (`events`, reason the new state in CamelCase, message "from -> to: detail"), so the
// event log is an exact history: replaying it in seq order gives what every job held at
// every moment.
//
// States: queued -> admitted -> starting -> running -> succeeded | failed | cancelled |
// preempted | lost; failed and preempted jobs go back to queued when their restart
// policy allows, and any ended job may be retried (queued again, next attempt).
//
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "logs/policy.h"
#include "platform/iam/events.h"
#include "platform/jobs/spec.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::jobs {

bool is_terminal(const std::string& state);
// Holds resources on a machine: admitted, starting, running.
bool is_active(const std::string& state);

struct Job {
  std::string id;
  int64_t seq = 0;        // submission order, platform-wide (the scheduler's job id)
  int64_t queue_seq = 0;  // order of (re)entering the queue
  std::string project_id, project, user_id, username, name, kind;
  JobRequest spec;
  std::string state, reason, message;
  std::optional<int64_t> exit_code;
  int attempt = 1;
  Json placement = Json::array();  // [{"node": ..., "gpus": [..]}]
  bool cancel_requested = false;
  int64_t created_at_ms = 0, updated_at_ms = 0;
  std::optional<int64_t> started_at_ms, finished_at_ms;

  // The executor's id of the current attempt (its folder name).
  std::string run_id() const { return id + "-" + std::to_string(attempt); }
  Json to_json() const;
};

struct JobEvent {
  int64_t seq = 0, time_ms = 0;
  std::string from, to, reason, message;
  std::optional<int64_t> exit_code;
  Json to_json() const;
};

struct Transition {
  std::string to;
  std::string reason;  // CamelCase
  std::string detail;
  std::optional<int64_t> exit_code;
  std::optional<Json> placement;
  // What an admission holds (gpu_milli, gpu_memory_mib, cpu_milli, memory_mib, pool,
  // flavor), kept with the event for metering.
  std::optional<Json> allocation;
  bool started = false;   // sets started_at
  bool finished = false;  // sets finished_at
  bool requeue = false;   // a new place in the queue
  bool next_attempt = false;
};

// Per-project settings of jobs: whether jobs on open datasets may reach the network,
// and when an idle dev environment is stopped.
struct JobSettings {
  bool allow_egress = false;
  int64_t devenv_idle_s = 3600;
  int64_t devenv_gpu_idle_percent = 5;  // GPU use below this counts as idle
  int64_t queued_alert_s = 1800;  // a job queued this long gets a QueuedTooLong event (0: never)
  Json to_json() const;
};

struct ListFilter {
  std::string state, kind, user;
  std::string user_id;     // only this user's jobs (by id)
  bool active = false;     // only queued, admitted, starting and running jobs
  int64_t before_seq = 0;  // paging: newest first; 0 from the newest
  int limit = 100;
};

class JobStore {
 public:
  JobStore(store::Database& db, Clock& clock, IdGenerator& ids, iam::EventLog& events)
      : db_(db), clock_(clock), ids_(ids), events_(events) {}
  iam::EventLog& events() { return events_; }

  Result<Job> create(const std::string& project_id, const std::string& project,
                     const std::string& user_id, const std::string& username,
                     const JobRequest& spec, const std::string& actor);
  Result<Job> get(const std::string& id);
  // not_found for a job of another project (it looks like a missing one).
  Result<Job> get_in(const std::string& project_id, const std::string& id);
  Result<std::vector<Job>> list(const std::string& project_id, const ListFilter& f);
  Status request_cancel(const std::string& project_id, const std::string& id,
                        const std::string& actor);
  Result<Job> retry(const std::string& project_id, const std::string& id, const std::string& actor);

  // Moves a job from one of `from` to t.to; failed_precondition when it is elsewhere.
  Status transition(const std::string& id, const std::vector<std::string>& from,
                    const Transition& t, const std::string& actor = "scheduler");
  // Why a queued job waits (no event: not a change of state).
  Status set_message(const std::string& id, const std::string& message);
  // Jobs in `states` with queue_seq > after, in queue order.
  Result<std::vector<Job>> in_states(const std::vector<std::string>& states, int64_t after = 0);
  Result<std::vector<std::string>> cancel_requested();
  // The job's changes of state by seq (oldest first), one keyset page.
  Result<store::Page<JobEvent>> history(const std::string& id,
                                        const store::PageSpec& page = {.after = "", .limit = 1000});

  Result<JobSettings> settings(const std::string& project_id);
  // The project's own number among projects that ran jobs (0, 1, 2, ...; kept for good):
  // its jobs run as user project_uid_base + this number.
  Result<int64_t> uid_offset(const std::string& project_id);
  // The executor ids (folder names) of every run of the project's jobs, ended ones too.
  Result<std::vector<std::string>> run_ids(const std::string& project_id);
  Status set_settings(const std::string& project_id, const JobSettings& s);

  // The log policy of a security level in a project: the data owners' edit, else the
  // built-in one (logs/policy.h). `edited` says which.
  struct StoredLogPolicy {
    logs::LogPolicy policy;
    bool edited = false;
    std::string updated_by;
    int64_t updated_at_ms = 0;
  };
  Result<StoredLogPolicy> log_policy(const std::string& project_id, const std::string& level);
  // Both record an event in the project (`project` is its name) naming who and what.
  Status set_log_policy(const std::string& project_id, const std::string& project,
                        const std::string& level, const logs::LogPolicy& policy,
                        const std::string& by);
  // Back to the built-in policy.
  Status reset_log_policy(const std::string& project_id, const std::string& project,
                          const std::string& level, const std::string& by);

 private:
  Status write_transition(store::Conn& c, const Job& before, const Transition& t,
                          const std::string& actor, int64_t& event_seq);
  Status record(store::Conn& c, const std::string& job_id, const std::string& project,
                const std::string& from, const Transition& t, const std::string& actor,
                int64_t& event_seq);
  Result<std::vector<Job>> query_jobs(const std::string& sql, const store::Params& p);
  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  iam::EventLog& events_;
};

}  // namespace jz::jobs
