// `jizhan sched bench`: the scheduling engine's speed on a generated cluster and backlog
// (docs/SCHEDULING.md, docs/BENCHMARKS.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/status.h"
#include "sched/scheduler.h"

namespace jz::cli {

class SchedCommands {
 public:
  explicit SchedCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  int bench();
  int churn();
  Status bench_cluster(sched::Scheduler& s, bool per_user) const;
  int sim();
  int trace();
  std::function<int()> action_;
  int nodes_ = 1000, gpus_per_node_ = 8, projects_ = 50;
  int64_t jobs_ = 100000;
  bool shares_ = false, churn_ = false;
  uint64_t seed_ = 1;
  std::string policy_ = "fgd";
  std::string cluster_, workload_, out_;
  std::string trace_nodes_, trace_tasks_, trace_seeds_ = "42-51", trace_out_;
  std::string trace_cluster_, trace_workload_;
  double trace_until_ = 1.3;
};

}  // namespace jz::cli
