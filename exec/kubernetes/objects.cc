#include "exec/kubernetes/objects.h"

#include <algorithm>
#include <cctype>

#include "core/hash.h"

namespace jz::kube {
namespace {

constexpr const char* kGate = "jizhan.io/placement";
constexpr const char* kGpusAnnotation = "jizhan.io/gpus";

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

Json env_var(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

Json env_field(const std::string& name, const std::string& path) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", path}}}}}};
}

bool is_share(const exec::LaunchSpec& s) {
  return s.share_cores_percent > 0 || s.share_memory_mib > 0;
}

}  // namespace

std::string dns_label(const std::string& id, size_t max) {
  std::string out;
  for (char c : id) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok) {
      out.push_back(l);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "j-" + out;
  if (out.size() > max) {
    const std::string tail = sha256_hex(id).substr(0, 8);
    out = out.substr(0, max - tail.size() - 1);
    while (!out.empty() && out.back() == '-') out.pop_back();
    out += "-" + tail;
  }
  return out;
}

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.size() > 63) out = out.substr(0, 54) + "." + sha256_hex(v).substr(0, 8);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

Json placement_patch(const exec::LaunchSpec::Worker& worker) {
  return {{"metadata", {{"annotations", {{kGpusAnnotation, join(worker.gpu_uuids)}}}}},
          {"spec",
           {{"nodeSelector", {{"kubernetes.io/hostname", worker.node}}},
            {"schedulingGates", nullptr}}}};
}

Result<JobObjects> make_objects(const exec::LaunchSpec& spec, const ClusterConfig& cluster) {
  JobObjects o;
  const auto label = [&](const char* key) {
    auto it = spec.labels.find(key);
    return it == spec.labels.end() ? std::string() : label_value(it->second);
  };
  const std::string project = spec.labels.count("project") ? spec.labels.at("project") : "default";
  o.ns = dns_label(cluster.namespace_prefix + project);
  o.name = dns_label(spec.job_id, 52);  // room for "-INDEX-xxxxx" in pod names
  const int workers = std::max<int>(1, static_cast<int>(spec.workers.size()));
  if (spec.command.empty()) return Status::invalid_argument("the job has no command");
  for (const auto& w : spec.workers) {
    if (w.node.empty()) return Status::invalid_argument("a worker of the job has no node");
  }
  o.gated = workers > 1;

  Json labels = {{"app.kubernetes.io/managed-by", "jizhan"}, {"jizhan.io/run", o.name}};
  for (const char* k : {"job", "project", "user", "workspace", "kind"}) {
    const std::string v = label(k);
    if (!v.empty()) labels[std::string("jizhan.io/") + k] = v;
  }
  o.namespace_object = {{"apiVersion", "v1"},
                        {"kind", "Namespace"},
                        {"metadata",
                         {{"name", o.ns},
                          {"labels",
                           {{"app.kubernetes.io/managed-by", "jizhan"},
                            {"jizhan.io/project", label_value(project)},
                            // Pod Security Admission: warn and audit against "restricted" (its
                            // enforcement would refuse the hostPath volumes a cluster may map).
                            {"pod-security.kubernetes.io/warn", "restricted"},
                            {"pod-security.kubernetes.io/audit", "restricted"}}}}}};

  // Volumes: scratch space released with the pod, mapped server folders, the vGPU files.
  Json volumes = Json::array(), mounts = Json::array();
  auto scratch = [&](const std::string& vname, const std::string& path) {
    volumes.push_back({{"name", vname}, {"emptyDir", Json::object()}});
    mounts.push_back({{"name", vname}, {"mountPath", path}});
  };
  scratch("tmp", "/tmp");
  scratch("work", "/job");
  if (cluster.output_claim.empty()) {
    scratch("output", "/output");
  } else {
    volumes.push_back(
        {{"name", "output"}, {"persistentVolumeClaim", {{"claimName", cluster.output_claim}}}});
    mounts.push_back(
        {{"name", "output"}, {"mountPath", "/output"}, {"subPath", o.ns + "/" + o.name}});
  }
  int n = 0;
  auto map_mount = [&](const exec::Mount& m, bool read_only) -> Status {
    const VolumeSource* best = nullptr;
    for (const auto& v : cluster.volumes) {
      const std::string& p = v.server_path;
      const bool under =
          m.host_path == p || (m.host_path.rfind(p, 0) == 0 && m.host_path.size() > p.size() &&
                               (p.back() == '/' || m.host_path[p.size()] == '/'));
      if (under && (!best || p.size() > best->server_path.size())) best = &v;
    }
    if (!best && m.optional) return {};
    if (!best) {
      return Status::invalid_argument(
          "cluster '" + cluster.name + "' has no volume for the server folder '" + m.host_path +
          "' (mounted at " + m.sandbox_path +
          "): add one to the cluster's volumes (server_path with a claim or host_path)");
    }
    std::string rest = m.host_path.substr(best->server_path.size());
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    const std::string vname = "mount-" + std::to_string(n++);
    Json mount = {{"name", vname}, {"mountPath", m.sandbox_path}, {"readOnly", read_only}};
    if (!best->claim.empty()) {
      volumes.push_back(
          {{"name", vname},
           {"persistentVolumeClaim", {{"claimName", best->claim}, {"readOnly", read_only}}}});
      if (!rest.empty()) mount["subPath"] = rest;
    } else {
      std::string path = best->host_path;
      if (!rest.empty()) path += (path.back() == '/' ? "" : "/") + rest;
      volumes.push_back({{"name", vname}, {"hostPath", {{"path", path}, {"type", "Directory"}}}});
    }
    mounts.push_back(mount);
    return {};
  };
  for (const auto& m : spec.read_only) JZ_RETURN_IF_ERROR(map_mount(m, true));
  for (const auto& m : spec.read_write) JZ_RETURN_IF_ERROR(map_mount(m, false));

  // The environment: the job's own, the platform's, the gang's, the GPUs'.
  std::map<std::string, std::string> env_map = spec.env;
  env_map["HOME"] = "/job";
  env_map["TMPDIR"] = "/tmp";
  env_map["JIZHAN_JOB_ID"] = spec.labels.count("job") ? spec.labels.at("job") : spec.job_id;
  env_map["JIZHAN_OUTPUT_DIR"] = "/output";
  env_map["JIZHAN_WORKERS"] = std::to_string(workers);
  if (workers > 1) env_map["JIZHAN_PEERS"] = o.name;  // NAME-INDEX.NAME resolves each worker
  Json env = Json::array();
  for (const auto& [k, v] : env_map) env.push_back(env_var(k, v));
  env.push_back(env_field("JIZHAN_WORKER_INDEX",
                          "metadata.annotations['batch.kubernetes.io/job-completion-index']"));
  const bool gpus =
      !spec.gpu_uuids.empty() || std::any_of(spec.workers.begin(), spec.workers.end(),
                                             [](const auto& w) { return !w.gpu_uuids.empty(); });
  if (gpus) {
    // The devices the placement chose, read when the container starts (after a gang's
    // pods got theirs).
    const std::string path = std::string("metadata.annotations['") + kGpusAnnotation + "']";
    env.push_back(env_field("NVIDIA_VISIBLE_DEVICES", path));
    env.push_back(env_field("CUDA_VISIBLE_DEVICES", path));
  }

  Json resources = {{"requests", Json::object()}, {"limits", Json::object()}};
  if (spec.cpu_milli > 0) {
    resources["requests"]["cpu"] = resources["limits"]["cpu"] =
        std::to_string(spec.cpu_milli) + "m";
  }
  if (spec.memory_mib > 0) {
    resources["requests"]["memory"] = resources["limits"]["memory"] =
        std::to_string(spec.memory_mib) + "Mi";
  }
  const size_t whole =
      spec.workers.empty() ? spec.gpu_uuids.size() : spec.workers[0].gpu_uuids.size();
  if (gpus && !is_share(spec) && whole > 0) {
    resources["limits"]["nvidia.com/gpu"] = std::to_string(whole);
  }
  if (resources["requests"].empty()) resources.erase("requests");
  if (resources["limits"].empty()) resources.erase("limits");

  if (is_share(spec)) {
    // The vGPU library preloaded, its limits read-only from a ConfigMap (the job cannot
    // change them), its shared region in memory.
    std::string conf =
        "# Written by the Kubernetes executor for " + spec.job_id + " (docs/VGPU.md).\n";
    if (spec.share_memory_mib > 0)
      conf += "JZ_VGPU_MEMORY_LIMIT=" + std::to_string(spec.share_memory_mib) + "m\n";
    if (spec.share_cores_percent > 0 && spec.share_cores_percent < 100)
      conf += "JZ_VGPU_CORE_LIMIT=" + std::to_string(spec.share_cores_percent) + "\n";
    conf += "JZ_VGPU_REGION=/run/jizhan/vgpu/region\n";
    if (workers == 1) {
      const auto& uuids = spec.workers.empty() ? spec.gpu_uuids : spec.workers[0].gpu_uuids;
      if (!uuids.empty()) conf += "JZ_VGPU_UUIDS=" + join(uuids) + "\n";
    }
    o.vgpu_config = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata", {{"name", o.name + "-vgpu"}, {"namespace", o.ns}, {"labels", labels}}},
        {"data", {{"vgpu.conf", conf}, {"ld.so.preload", "/opt/jizhan/lib/libjzvgpu.so\n"}}}};
    volumes.push_back({{"name", "vgpu-config"}, {"configMap", {{"name", o.name + "-vgpu"}}}});
    volumes.push_back({{"name", "vgpu-library"},
                       {"hostPath", {{"path", cluster.vgpu_host_dir}, {"type", "Directory"}}}});
    volumes.push_back({{"name", "vgpu-region"}, {"emptyDir", {{"medium", "Memory"}}}});
    mounts.push_back({{"name", "vgpu-config"},
                      {"mountPath", "/etc/jizhan/vgpu.conf"},
                      {"subPath", "vgpu.conf"},
                      {"readOnly", true}});
    mounts.push_back({{"name", "vgpu-config"},
                      {"mountPath", "/etc/ld.so.preload"},
                      {"subPath", "ld.so.preload"},
                      {"readOnly", true}});
    mounts.push_back(
        {{"name", "vgpu-library"}, {"mountPath", "/opt/jizhan/lib"}, {"readOnly", true}});
    mounts.push_back({{"name", "vgpu-region"}, {"mountPath", "/run/jizhan/vgpu"}});
  }

  const int64_t uid = spec.uid >= 0 ? spec.uid : cluster.run_as_uid;
  const int64_t gid = spec.gid >= 0 ? spec.gid : cluster.run_as_gid;
  if (uid == 0) return Status::invalid_argument("jobs on a cluster never run as root (uid 0)");
  Json container = {{"name", "main"},
                    {"image", spec.image.empty() ? cluster.image : spec.image},
                    {"command", spec.command},
                    {"workingDir", spec.workdir.empty() ? "/job" : spec.workdir},
                    {"env", env},
                    {"volumeMounts", mounts},
                    {"securityContext",
                     {{"allowPrivilegeEscalation", false},
                      {"privileged", false},
                      {"readOnlyRootFilesystem", true},
                      {"runAsNonRoot", true},
                      {"capabilities", {{"drop", Json::array({"ALL"})}}}}}};
  if (!resources.empty()) container["resources"] = resources;

  Json pod_spec = {{"restartPolicy", "Never"},
                   {"automountServiceAccountToken", false},
                   {"enableServiceLinks", false},
                   {"terminationGracePeriodSeconds", 30},
                   {"securityContext",
                    {{"runAsNonRoot", true},
                     {"runAsUser", uid},
                     {"runAsGroup", gid},
                     {"fsGroup", gid},
                     {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
                   {"containers", Json::array({container})},
                   {"volumes", volumes}};
  if (!cluster.runtime_class.empty()) pod_spec["runtimeClassName"] = cluster.runtime_class;
  if (!cluster.priority_class.empty()) pod_spec["priorityClassName"] = cluster.priority_class;
  for (const auto& s : cluster.image_pull_secrets)
    pod_spec["imagePullSecrets"].push_back({{"name", s}});
  Json annotations = {{"jizhan.io/run-id", spec.job_id}};
  if (o.gated) {
    pod_spec["schedulingGates"] = Json::array({{{"name", kGate}}});
    pod_spec["subdomain"] = o.name;
  } else {
    const std::vector<std::string>& uuids =
        spec.workers.empty() ? spec.gpu_uuids : spec.workers[0].gpu_uuids;
    if (!spec.workers.empty())
      pod_spec["nodeSelector"] = {{"kubernetes.io/hostname", spec.workers[0].node}};
    if (gpus) annotations[kGpusAnnotation] = join(uuids);
  }

  o.job = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata",
       {{"name", o.name},
        {"namespace", o.ns},
        {"labels", labels},
        {"annotations", {{"jizhan.io/run-id", spec.job_id}}}}},
      {"spec",
       {{"suspend", true},
        {"completionMode", "Indexed"},
        {"completions", workers},
        {"parallelism", workers},
        {"backoffLimit", 0},
        {"template",
         {{"metadata", {{"labels", labels}, {"annotations", annotations}}}, {"spec", pod_spec}}}}}};
  if (spec.runtime_limit_s > 0) o.job["spec"]["activeDeadlineSeconds"] = spec.runtime_limit_s;

  if (workers > 1) {
    o.service = {{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", {{"name", o.name}, {"namespace", o.ns}, {"labels", labels}}},
                 {"spec",
                  {{"clusterIP", "None"},
                   {"publishNotReadyAddresses", true},
                   {"selector", {{"jizhan.io/run", o.name}}}}}};
  }
  if (spec.network != exec::Network::kEgress) {
    // Nothing in, nothing out, DNS included; a gang's workers only reach each other.
    Json peers = Json::array();
    if (workers > 1) {
      peers.push_back(
          {{"from",
            Json::array({{{"podSelector", {{"matchLabels", {{"jizhan.io/run", o.name}}}}}}})}});
    }
    Json egress = Json::array();
    if (workers > 1) {
      egress.push_back(
          {{"to",
            Json::array({{{"podSelector", {{"matchLabels", {{"jizhan.io/run", o.name}}}}}}})}});
    }
    o.network_policy = {
        {"apiVersion", "networking.k8s.io/v1"},
        {"kind", "NetworkPolicy"},
        {"metadata", {{"name", o.name + "-isolated"}, {"namespace", o.ns}, {"labels", labels}}},
        {"spec",
         {{"podSelector", {{"matchLabels", {{"jizhan.io/run", o.name}}}}},
          {"policyTypes", Json::array({"Ingress", "Egress"})},
          {"ingress", peers},
          {"egress", egress}}}};
  }
  return o;
}

}  // namespace jz::kube
