// kubesim: a Kubernetes API test server, written from the API conventions, implementing
// what Jizhan's Kubernetes executor (exec/kubernetes) uses with the real semantics, so the
// executor can be tested on machines where no real API server runs.
//
// What it implements:
//   - Objects: namespaces, nodes, pods (+ /log, /status), services, persistentvolumeclaims,
//     configmaps (v1); jobs (batch/v1); networkpolicies (networking.k8s.io/v1). Each has
//     metadata.uid, creationTimestamp, generation and a resourceVersion drawn from one
//     counter (as etcd's revision); create (409 AlreadyExists, generateName), get, replace
//     (409 Conflict on a stale resourceVersion), JSON merge patch, delete with
//     gracePeriodSeconds and propagationPolicy (Foreground, Background, Orphan; a batch/v1
//     Job deleted without one orphans its pods, as the real API does), garbage collection
//     through ownerReferences.
//   - list (with the list's resourceVersion, label and field selectors) and watch from a
//     resourceVersion: events in order, BOOKMARK events when asked, `410 Gone` (an ERROR
//     event with a Status of code 410) once the history that far back is compacted,
//     timeoutSeconds.
//   - A job controller (Indexed and NonIndexed Jobs, completions, parallelism,
//     backoffLimit, activeDeadlineSeconds -> DeadlineExceeded, suspend), a scheduler (node
//     name, node selectors, required node affinity, scheduling gates, cpu, memory and
//     nvidia.com/gpu against allocatable) and a kubelet per node that runs each container's
//     command as a local process (environment with the downward API, memory limit
//     enforced: OOMKilled), keeps its log (pods/log with follow, sinceTime, timestamps),
//     pulls only images it knows (ImagePullBackOff otherwise) and ends pods on delete (SIGTERM,
//     SIGKILL after the grace period) or eviction.
//   - Bearer tokens and client certificates (HTTPS), RBAC-like rules per user (apiGroups,
//     resources, verbs), 429 with Retry-After on demand.
// What it leaves out: server-side apply, strategic merge patch, admission webhooks, real
// containers (no image, no mounts, no network isolation: NetworkPolicies are stored, not
// enforced), pod restarts (restartPolicy Never only).
//
// Thread safety: every public member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::kubesim {

struct Rule {
  std::vector<std::string> api_groups;  // "" is the core group; "*" any
  std::vector<std::string> resources;   // "pods", "pods/log", "*"
  std::vector<std::string>
      verbs;  // get list watch create update patch delete deletecollection, "*"
};

struct User {
  std::string name;
  std::string token;        // a bearer token ("" none)
  std::vector<Rule> rules;  // empty: everything (a cluster admin)
};

struct NodeConfig {
  std::string name;
  int64_t cpu_milli = 16000;
  int64_t memory_mib = 65536;
  int gpus = 0;
  std::string gpu_product;  // the nvidia.com/gpu.product label
  int64_t gpu_memory_mib = 16384;
  std::map<std::string, std::string> labels;
};

struct Options {
  std::string listen_host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // HTTPS when both are set; clients may then also authenticate with a certificate
  // signed by client_ca_file (its subject's CN is the user's name).
  std::string tls_cert_file, tls_key_file, client_ca_file;
  std::vector<User> users;  // none: every request is anonymous and allowed
  std::vector<NodeConfig> nodes;
  // Images the kubelet can pull; empty: every image except those in unpullable_images.
  std::set<std::string> images;
  std::set<std::string> unpullable_images;
  size_t history_limit = 100000;  // watch events kept for watches from an older version
  std::chrono::milliseconds bookmark_interval{1000};
  std::chrono::milliseconds controller_interval{20};
  std::string work_dir;  // containers' working folders and logs ("" a temporary folder)
};

class KubeSim {
 public:
  static Result<std::unique_ptr<KubeSim>> start(Options options);
  ~KubeSim();
  KubeSim(const KubeSim&) = delete;
  KubeSim& operator=(const KubeSim&) = delete;

  int port() const;
  // "https://127.0.0.1:PORT" (or http://).
  std::string url() const;

  // Test controls. Stops answering (connections refused, running watches cut) while
  // keeping every object and process; resume() listens on the same port again.
  void pause();
  Status resume();
  // Drops the watch history: watches from any earlier resourceVersion get 410 Gone.
  void compact();
  // Answers the next `n` API requests with 429 Too Many Requests and Retry-After.
  void throttle(int n, int retry_after_seconds = 1);
  // Evicts every pod of the node (phase Failed, reason Evicted), as the kubelet does under
  // memory pressure.
  void evict_node(const std::string& node, const std::string& message);
  // Cuts every open watch (as an API server restart does).
  void cut_watches();

  // Direct reads for tests (no HTTP): the stored object, or null.
  Json get(const std::string& resource, const std::string& ns, const std::string& name) const;
  std::vector<Json> list(const std::string& resource, const std::string& ns = "") const;
  int64_t resource_version() const;
  // Requests served, by "VERB resource" (e.g. "list pods", "watch jobs", "create jobs").
  std::map<std::string, int64_t> request_counts() const;
  // Pods the scheduler bound, and the most pods running at once, over the run.
  int64_t max_running_pods() const;

  struct State;

 private:
  KubeSim() = default;
  std::shared_ptr<State> state_;
};

// Label selectors (metav1 LabelSelector text form): "a=b,c!=d,e,!f,g in (x,y),h notin (z)".
class Selector {
 public:
  static Result<Selector> parse(std::string_view text);
  bool matches(const Json& labels) const;
  bool empty() const { return terms_.empty(); }

 private:
  struct Term {
    enum class Op { kEq, kNe, kExists, kNotExists, kIn, kNotIn } op;
    std::string key;
    std::vector<std::string> values;
  };
  std::vector<Term> terms_;
};

// Field selectors as the API takes them for pods: "metadata.name=x,spec.nodeName=y,
// status.phase!=Running", and metadata.namespace.
class FieldSelector {
 public:
  static Result<FieldSelector> parse(std::string_view text);
  bool matches(const Json& object) const;

 private:
  struct Term {
    std::string path;
    bool negate = false;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace jz::kubesim
