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

#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"

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

}  // namespace jz::datasets
