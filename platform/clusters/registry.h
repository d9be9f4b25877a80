// The cluster registry (mission A2, B3 at scale): this machine plus any number of
// Kubernetes clusters, each with a name, region, credentials (a kubeconfig sealed at rest
// with the server's secret key, or the pod's own service account), pool, node selector and
// how the cluster sees the server's folders (exec/kubernetes/objects.h). Registered by
// platform admins through the API; every user may list them without credentials.
//
// It is also the executor the job runner drives: nodes() is this machine's and every
// connected cluster's (a cluster that stops answering keeps its nodes, unschedulable, so
// queued work goes elsewhere and what runs there is not given up), launch() goes to the
// cluster of the placement, and poll/terminate/release to the cluster the run was launched
// on (its record, kube.json in the run's folder, names it). A cluster that cannot be
// reached when the server starts is retried in the background.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/json.h"
#include "exec/executor.h"
#include "exec/kubernetes/executor.h"
#include "platform/alerts/secrets.h"
#include "store/database.h"

namespace jz::clusters {

struct RegistryOptions {
  std::string jobs_dir;  // shared with the local executor: a run's folder is the same
  std::chrono::milliseconds retry{10000};
  // Applied to every cluster's executor options (tests: faster syncs).
  std::chrono::milliseconds node_sync{5000};
  std::chrono::milliseconds unavailable_after{15000};
  kube::ClientOptions client;  // timeouts and retries (auth is each cluster's)
};

class ClusterRegistry final : public exec::Executor {
 public:
  // `local`: this machine's executor, or null when jobs run on clusters only.
  ClusterRegistry(store::Database& db, Clock& clock, alerts::SecretBox box, exec::Executor* local,
                  RegistryOptions options, std::shared_ptr<spdlog::logger> logger);
  ~ClusterRegistry() override;

  // Loads the registered clusters and connects to each (in the background for those that
  // do not answer).
  Status start();
  void stop();

  // The API's operations. Bodies: {"name", "region", "kubeconfig" (YAML text) or
  // "in_cluster": true, "context", "namespace_prefix", "image", "pool", "node_selector",
  // "volumes": [{"server_path", "claim" | "host_path"}], "output_claim", "runtime_class",
  // "image_pull_secrets", "enabled"}. add() connects first and refuses a cluster it cannot
  // reach, with the reason, unless "force": true.
  Result<Json> add(const Json& body, const std::string& actor);
  Result<Json> update(const std::string& name, const Json& body);
  // Refused (failed_precondition) while jobs of the platform run there.
  Status remove(const std::string& name);
  Result<Json> get(const std::string& name) const;
  Json list() const;  // {"items": [...]}, this machine first

  // exec::Executor
  const exec::MachineInfo& machine() const override;
  std::vector<exec::NodeInfo> nodes() const override;
  uint64_t nodes_version() const override;
  Status launch(const exec::LaunchSpec& spec) override;
  exec::JobStatus poll(const std::string& job_id) override;
  void terminate(const std::string& job_id, std::chrono::milliseconds grace) override;
  void release(const std::string& job_id) override;
  std::string job_dir(const std::string& job_id) const override;
  std::string network_namespace(const std::string& job_id) override;

  struct Entry;

 private:
  Result<std::shared_ptr<Entry>> entry_from(const Json& body, const Json* current) const;
  Status connect(Entry& e) const;
  std::shared_ptr<Entry> find(const std::string& name) const;
  std::shared_ptr<Entry> owner_of(const std::string& job_id) const;  // null: local
  Json to_json(const Entry& e) const;
  void retry_loop();

  store::Database& db_;
  Clock& clock_;
  alerts::SecretBox box_;
  exec::Executor* local_;
  RegistryOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::shared_ptr<Entry>> clusters_;
  mutable std::map<std::string, std::string> owners_;  // run -> cluster ("": local)
  exec::MachineInfo none_;
  std::atomic<uint64_t> version_{0};  // bumped when a cluster is added, changed, removed
  std::thread thread_;
};

}  // namespace jz::clusters
