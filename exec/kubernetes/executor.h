// The Kubernetes executor: runs jobs on one cluster as batch/v1 Jobs (objects.h), where
// Jizhan's scheduler placed them.
//
// State comes from two watches (Jobs and Pods the executor made, by label): a list, then
// a watch from the list's resourceVersion with bookmarks; 410 Gone means list again; a
// broken connection resumes from the last version seen. Each run keeps its record in its
// folder (<jobs_dir>/<run>/), as the local executor's do:
//   kube.json    the cluster, namespace and Job name, the placement
//   events.jsonl each state the executor saw, once: starting, running, exited (with its
//                reason); a restarted server reads it back, so a transition is neither
//                lost (a run that ended while nobody watched is recorded running, then
//                exited) nor repeated
//   exit.json    how it ended
//   logs/        the pods' logs, followed (pods/log?follow=true&timestamps=true, resumed
//                from the last line kept) through the same capture and log policy as
//                local jobs; a gang's lines carry "[worker N] "
// Reasons: OOMKilled, DeadlineExceeded (activeDeadlineSeconds), Evicted, LaunchFailed
// (ImagePullBackOff, InvalidImageName, CreateContainerConfigError, ...), with the
// cluster's message.
// Cancel, preempt and idle-stop delete the pods with the grace period, then the Job
// (background propagation: its Service, NetworkPolicy and ConfigMap go with it).
//
// Capacity: the nodes (label selector `node_selector`) are listed every `node_sync`:
// allocatable CPU, memory and nvidia.com/gpu, the GPU model (nvidia.com/gpu.product), the
// devices' UUIDs from the node agent's jizhan.io/gpus annotation, readiness. A cluster
// that does not answer for `unavailable_after` is unavailable (available() false).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exec/executor.h"
#include "exec/kubernetes/client.h"
#include "exec/kubernetes/objects.h"

namespace jz::kube {

struct KubeExecutorOptions {
  ClusterConfig cluster;
  ClientOptions client;
  std::string jobs_dir;
  std::string node_selector;  // which nodes are Jizhan's ("" all)
  std::chrono::milliseconds node_sync{5000};
  std::chrono::milliseconds unavailable_after{15000};
  int watch_timeout_s = 300;  // each watch request's timeoutSeconds (then it resumes)
  // Gives up waiting on a pod that cannot be scheduled (LaunchFailed) after this long.
  std::chrono::milliseconds unschedulable_limit{std::chrono::minutes(5)};
};

struct ClusterNode {
  std::string name;
  bool ready = false;
  std::string flavor;  // the GPU model
  exec::MachineInfo machine;
  std::map<std::string, std::string> labels;
};

class KubeExecutor : public exec::Executor {
 public:
  // Connects (the first list of nodes, Jobs and Pods must answer: a clear error
  // otherwise) and starts the watches.
  static Result<std::unique_ptr<KubeExecutor>> create(KubeExecutorOptions options);
  ~KubeExecutor() override;

  // The cluster as one machine: its ready nodes' CPUs, memory and GPUs added up.
  const exec::MachineInfo& machine() const override;
  Status launch(const exec::LaunchSpec& spec) override;
  exec::JobStatus poll(const std::string& job_id) override;
  void terminate(const std::string& job_id, std::chrono::milliseconds grace) override;
  void release(const std::string& job_id) override;
  std::string job_dir(const std::string& job_id) const override;
  std::string network_namespace(const std::string&) override { return ""; }

  const ClusterConfig& cluster() const { return options_.cluster; }
  // The cluster's nodes for the scheduler: ready ones schedulable while the cluster
  // answers; the pool from the node label jizhan.io/pool, else the cluster's.
  std::vector<exec::NodeInfo> nodes() const override;
  uint64_t nodes_version() const override { return nodes_version_.load(); }
  std::vector<ClusterNode> cluster_nodes() const;
  // Whether a run was launched here (its record names this cluster).
  bool knows(const std::string& job_id) const;
  // Runs launched here that have not been released.
  int64_t active_runs() const;
  bool available() const;
  std::string unavailable_reason() const;
  // Watch restarts by cause, for tests and metrics: "gone" (410), "broken", "timeout".
  std::map<std::string, int64_t> watch_restarts() const;

 private:
  explicit KubeExecutor(KubeExecutorOptions options);
  struct Run;
  struct Follower;
  Status sync_nodes();
  void note_nodes_change();  // under mu_: bumps nodes_version_ when nodes() changed
  void node_loop();
  void watch_loop(const std::string& kind, std::string rv);
  Status relist(const std::string& kind, std::string* rv);
  void on_object(const std::string& kind, const std::string& type, const Json& object);
  void update_run(Run& r);                                                // under mu_
  void record(Run& r, const std::string& state, const Json& extra = {});  // under mu_
  void follow_logs(Run& r, const std::string& pod, int index);            // under mu_
  void follow(std::shared_ptr<Follower> f);
  Run* run_for(const std::string& job_id);  // under mu_; loads the record
  void finish_capture(Run& r);              // under mu_

  KubeExecutorOptions options_;
  std::unique_ptr<KubeClient> client_;
  mutable std::mutex mu_;
  exec::MachineInfo machine_;
  std::vector<ClusterNode> nodes_;
  std::chrono::steady_clock::time_point last_answer_;
  std::string unavailable_reason_;
  std::map<std::string, std::unique_ptr<Run>> runs_;  // run id ->
  std::map<std::string, std::string> by_name_;        // "namespace/name" -> run id
  std::map<std::string, int64_t> restarts_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> nodes_version_{0};
  std::string nodes_digest_;  // what nodes() would say, to tell a change
  std::vector<std::thread> threads_;
  std::vector<std::thread> followers_;
};

}  // namespace jz::kube
