// The Kubernetes objects a Jizhan job becomes (pure functions, no API calls):
//   - a batch/v1 Job, Indexed, one completion per worker of the gang, created suspended
//     (the executor adds what it owns, then lets it run), pinned where the scheduler chose:
//     a node selector for one worker; for a gang, scheduling gates that the executor lifts
//     pod by pod once it has set each pod's node and GPUs (as Kueue's topology-aware
//     scheduling does); GPUs by UUID in the pod annotation jizhan.io/gpus for the node
//     agent and device plugin to honour; nvidia.com/gpu for whole GPUs; CPU and memory
//     requests equal to limits; the runtime limit as activeDeadlineSeconds;
//   - a headless Service for a gang (workers find each other as NAME-INDEX.NAME);
//   - for jobs without network (internal and secret data) a NetworkPolicy that denies all
//     ingress and egress, DNS included (a gang's workers may reach each other only);
//   - for a GPU share a ConfigMap with the vGPU library's limits (docs/VGPU.md).
// Pods run as the project's user (non-root), read-only root filesystem, no service
// account token, seccomp RuntimeDefault, every capability dropped, no privilege
// escalation; /tmp, /job and /output are emptyDir volumes released with the pod.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "exec/executor.h"

namespace jz::kube {

// Where a folder of the server (a dataset, a project volume, the outputs) is on the
// cluster's nodes: a PersistentVolumeClaim in every project namespace, or a host path.
struct VolumeSource {
  std::string server_path;  // the folder on the server, e.g. /srv/jizhan/datasets
  std::string claim;        // a PVC of that name (subPath: the rest of the path)
  std::string host_path;    // or the same folder at this path on every node
};

struct ClusterConfig {
  std::string name = "cluster";
  std::string region;
  std::string pool;                          // the scheduler's pool of its nodes ("": the server's)
  std::string namespace_prefix = "jizhan-";  // a project's namespace: prefix + project
  std::string image = "python:3.11-slim";    // for jobs that name no image
  std::vector<VolumeSource> volumes;
  // Each job's /output on this claim (subPath: the namespace/run); "": an emptyDir (the
  // files go with the pod: the job's log and metrics are what comes back).
  std::string output_claim;
  std::string vgpu_host_dir = "/opt/jizhan/lib";  // the agent DaemonSet installs libjzvgpu.so there
  std::string runtime_class;                      // e.g. "nvidia"
  std::vector<std::string> image_pull_secrets;
  std::string priority_class;
  int64_t run_as_uid = 65534, run_as_gid = 65534;  // when the spec names no user
};

struct JobObjects {
  std::string ns, name;  // the namespace and the Job's name
  Json namespace_object;
  Json job;
  Json service;         // null: none
  Json network_policy;  // null: none
  Json vgpu_config;     // null: none
  bool gated = false;   // pods wait for their placement (a gang)
};

// A DNS-1123 label from an id: lowercase, '-' for anything else, at most `max` characters
// (a hash keeps long ones distinct).
std::string dns_label(const std::string& id, size_t max = 63);
// A label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends).
std::string label_value(const std::string& v);

// The objects for a job; invalid_argument when the cluster cannot run it as given (a
// mount with no volume on the cluster, workers that do not match the gang).
Result<JobObjects> make_objects(const exec::LaunchSpec& spec, const ClusterConfig& cluster);

// The patch that places a gated pod: its node, its GPUs, its gates lifted.
Json placement_patch(const exec::LaunchSpec::Worker& worker);

}  // namespace jz::kube
