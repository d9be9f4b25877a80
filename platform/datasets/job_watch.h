// What the dataset services that run their work as jobs (curation, pre-annotation) share:
// a thread that looks at their jobs now and then, and what a job's state means for them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/json.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/spec.h"
#include "platform/jobs/store.h"
#include "store/database.h"

namespace jz::datasets {

// Calls `tick` every `period`, and at once when woken, on a thread of its own.
class Ticker {
 public:
  explicit Ticker(std::chrono::milliseconds period) : period_(period) {}
  ~Ticker() { stop(); }
  void start(std::function<void()> tick) {
    thread_ = std::thread([this, tick = std::move(tick)] {
      while (!stop_) {
        tick();
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, period_, [this] { return woken_ || stop_.load(); });
        woken_ = false;
      }
    });
  }
  void stop() {
    stop_ = true;
    wake();
    if (thread_.joinable()) thread_.join();
  }
  void wake() {
    std::lock_guard lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }

 private:
  std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Where a job that a service waits on stands, for that service.
struct JobTurn {
  enum Kind { kWait, kStarted, kSucceeded, kEnded } kind = kWait;
  std::string state;       // kEnded: failed | cancelled
  std::string message;     // kEnded: why, for people
  std::string output_dir;  // kSucceeded: the job's /output
};

// `queued`: the service still has the work as queued (so a running job is news). `what`
// names the job in messages ("the curation job").
inline JobTurn job_turn(jobs::JobStore& jobs, jobs::Outputs& outputs, const std::string& project_id,
                        const std::string& job_id, bool queued, const std::string& what) {
  auto job = jobs.get(job_id);
  if (!job.ok()) return {JobTurn::kEnded, "failed", "its job is gone", ""};
  if (job->state == "running") return {queued ? JobTurn::kStarted : JobTurn::kWait, "", "", ""};
  if (job->state == "succeeded") {
    auto out = outputs.get(project_id, job_id);
    if (!out.ok()) return {};  // its outputs are recorded a moment after it ends
    return {JobTurn::kSucceeded, "", "", out->dir};
  }
  if (job->state == "failed") {
    return {JobTurn::kEnded, "failed", what + " failed (" + job->message + "); its log says why",
            ""};
  }
  if (job->state == "cancelled") return {JobTurn::kEnded, "cancelled", "its job was cancelled", ""};
  if (job->state == "lost") {
    return {JobTurn::kEnded, "failed", "its job was lost (" + job->message + ")", ""};
  }
  return {};
}

// Queues a job of the platform's own making for a service: `command` over the version
// `mounted` (NAME@N), never restarted, on the CPU unless `gpus`; `algorithm` (name,
// version) mounts an uploaded package, else the platform's programs are mounted.
inline Result<jobs::Job> queue_service_job(jobs::JobStore& jobs, const std::string& project_id,
                                           const std::string& project, const std::string& user_id,
                                           const std::string& username, std::string name,
                                           const Json& command, const std::string& mounted,
                                           int64_t memory_mib, int64_t runtime_s,
                                           const Json& algorithm = Json(), int64_t gpus = 0) {
  if (name.size() > 100) name.resize(100);
  Json body = {{"name", name},
               {"kind", "eval"},
               {"command", command},
               {"datasets", {mounted}},
               {"resources", {{"cpu", 1}, {"memory_mib", memory_mib}, {"gpus", gpus}}},
               {"runtime_limit_s", runtime_s},
               {"restart_policy", "never"}};
  if (algorithm.is_object()) {
    body["algorithm"] = algorithm;
  } else {
    body["tools"] = true;
  }
  auto spec = jobs::parse_job_request(body);
  if (!spec.ok()) return Status::invalid_argument(name + ": " + spec.status().message());
  return jobs.create(project_id, project, user_id, username, *spec, username);
}

// Marks a service's row (in `table`) running once its job runs.
inline Status mark_running(store::Database& db, const std::string& table, const std::string& id) {
  return db.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec("UPDATE " + table + " SET state = 'running' WHERE id = ? AND state = 'queued'", {id})
        .status();
  });
}

}  // namespace jz::datasets
