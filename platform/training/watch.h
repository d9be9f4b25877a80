// Unattended training (docs/TRAINING.md, "Watching a job"): the runner hands each running
// job to the watch, which looks at its run and its log every few seconds and records
// events the alert rules turn into notifications (to the job's owner and subscribers,
// through their channels; platform/alerts):
//   TrainingStalled     no metric and no log line for `stalled_minutes` (said once a stall)
//   LossNaN             a NaN or infinite value in a tag whose name holds "loss" (once)
//   MilestoneReached    a milestone the owner set ("val/acc >= 0.9"), once each
//   TrainingProgress    every `progress_every_percent` of the run's progress, with an ETA
//   TrainingCompleted   the job succeeded: its final metrics
// Progress comes from the run (the client's progress()), else from the job's log: tqdm
// bars, Keras' "Epoch 3/100", and lines such as "epoch 3/100" or "step 120/500".
//
// Thread-safety: one thread (the runner's) calls watch, check and ended; progress() from
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/iam/events.h"
#include "platform/training/runs.h"

namespace jz::training {

struct Milestone {
  std::string tag, op;  // op: >=, <=, >, <
  double value = 0;
  std::string text() const;
};
// "val/acc >= 0.9"; invalid_argument saying the form otherwise.
Result<Milestone> parse_milestone(std::string_view text);

struct WatchSettings {
  int64_t stalled_s = 1800;   // 0: off
  int progress_percent = 25;  // 0: off
  bool nan = true;
  bool completion = true;
  std::vector<Milestone> milestones;
  Json to_json() const;
};
// A job's "monitor" object: {"stalled_minutes": 30, "progress_every_percent": 25, "nan":
// true, "completion": true, "milestones": ["val/acc >= 0.9"]}; every field optional.
Result<WatchSettings> parse_watch_settings(const Json& j);

// done of total, from the run or from the log; eta_s when it can be said.
struct JobProgress {
  int64_t done = 0, total = 0;
  std::string source;  // "metrics" or "log"
  std::optional<int64_t> eta_s;
};
// The progress a log line states, if any ("45%|####  | 450/1000 [00:10<00:12]", "Epoch
// 3/100", "epoch [3/100]", "step 120 / 500"). `epoch` says whether it counts epochs.
struct LineProgress {
  int64_t done = 0, total = 0;
  bool epoch = false;
};
std::optional<LineProgress> progress_of_line(std::string_view line);

struct WatchedJob {
  std::string job_id, project, project_id, name;
  std::string run_dir;  // the job's metrics folder (its run store)
  std::string log_dir;  // the job's filtered log
  WatchSettings settings;
  int64_t started_ms = 0;
};

class TrainingWatch {
 public:
  TrainingWatch(RunService& runs, iam::EventLog& events, Clock& clock)
      : runs_(runs), events_(events), clock_(clock) {}
  void watch(WatchedJob job);
  // Looks at every watched job once.
  void check();
  // The job ended: a completion event when it succeeded (and reported metrics).
  void ended(const std::string& job_id, bool succeeded);
  std::optional<JobProgress> progress(const std::string& job_id) const;

 private:
  struct State {
    WatchedJob job;
    std::map<std::string, int64_t> seen;  // tag -> points looked at
    int64_t last_activity_ms = 0, last_log_seq = 0;
    bool stalled = false, nan = false;
    std::vector<bool> reached;
    int64_t last_percent = 0;  // the last multiple of progress_percent said
    std::optional<JobProgress> progress;
  };
  void emit(const State& s, const std::string& reason, const std::string& message);
  void look(State& s, int64_t now);
  RunService& runs_;
  iam::EventLog& events_;
  Clock& clock_;
  std::map<std::string, State> jobs_;
  mutable std::mutex mu_;  // guards the progress copies below
  std::map<std::string, JobProgress> progress_;
};

}  // namespace jz::training
