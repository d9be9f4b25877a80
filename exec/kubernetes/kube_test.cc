// The objects a job becomes on Kubernetes, and kubeconfig reading (no cluster needed).
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/files.h"
#include "exec/kubernetes/client.h"
#include "exec/kubernetes/objects.h"
#include "tests/support/temp_dir.h"

namespace jz::kube {
namespace {

exec::LaunchSpec secret_job() {
  exec::LaunchSpec s;
  s.job_id = "JOB_01ABC-1";
  s.command = {"python3", "train.py"};
  s.env = {{"EPOCHS", "3"}};
  s.network = exec::Network::kNone;
  s.cpu_milli = 2000;
  s.memory_mib = 4096;
  s.uid = 20001;
  s.gid = 20001;
  s.labels = {{"job", "JOB_01ABC"}, {"project", "Vision"}, {"user", "alice@example.com"}};
  s.read_only = {{"/srv/jizhan/datasets/faces", "/data"}};
  s.workers = {{"gpu-node-3", {"GPU-aaa", "GPU-bbb"}}};
  s.runtime_limit_s = 3600;
  return s;
}

ClusterConfig cluster() {
  ClusterConfig c;
  c.name = "beijing";
  c.volumes = {{"/srv/jizhan/datasets", "datasets", ""},
               {"/srv/jizhan/volumes", "", "/mnt/volumes"}};
  return c;
}

TEST(KubeObjects, SecretJobIsIsolatedAndLockedDown) {
  auto o = make_objects(secret_job(), cluster());
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->ns, "jizhan-vision");
  EXPECT_EQ(o->name, "job-01abc-1");
  const Json& job = o->job;
  EXPECT_EQ(job["spec"]["suspend"], true) << "created suspended, let run once its policy exists";
  EXPECT_EQ(job["spec"]["completionMode"], "Indexed");
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  EXPECT_EQ(job["spec"]["activeDeadlineSeconds"], 3600);
  EXPECT_EQ(job["metadata"]["labels"]["jizhan.io/user"], "alice_example.com");
  const Json& pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["runAsUser"], 20001);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["nodeSelector"]["kubernetes.io/hostname"], "gpu-node-3");
  EXPECT_FALSE(pod.contains("schedulingGates"));
  const Json& c = pod["containers"][0];
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], Json::array({"ALL"}));
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "2");
  EXPECT_EQ(c["resources"]["limits"]["cpu"], "2000m");
  EXPECT_EQ(c["resources"]["requests"]["memory"], "4096Mi");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["annotations"]["jizhan.io/gpus"],
            "GPU-aaa,GPU-bbb");
  // The dataset from its claim, read-only, at the folder's path inside it.
  bool dataset = false;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"] == "/data") {
      dataset = true;
      EXPECT_EQ(m["readOnly"], true);
      EXPECT_EQ(m["subPath"], "faces");
    }
  }
  EXPECT_TRUE(dataset);
  // Deny all, both ways, DNS included (no rule at all).
  ASSERT_TRUE(o->network_policy.is_object());
  const Json& np = o->network_policy["spec"];
  EXPECT_EQ(np["policyTypes"], Json::array({"Ingress", "Egress"}));
  EXPECT_TRUE(np["ingress"].empty());
  EXPECT_TRUE(np["egress"].empty());
  EXPECT_EQ(np["podSelector"]["matchLabels"]["jizhan.io/run"], o->name);
  EXPECT_TRUE(o->service.is_null());
}

TEST(KubeObjects, OpenJobsHaveNoPolicyAndGangsWaitForPlacement) {
  exec::LaunchSpec s = secret_job();
  s.network = exec::Network::kEgress;
  s.read_only.clear();
  s.workers = {{"a", {"GPU-1"}}, {"b", {"GPU-2"}}, {"b", {"GPU-3"}}, {"c", {"GPU-4"}}};
  auto o = make_objects(s, cluster());
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->network_policy.is_null());
  EXPECT_TRUE(o->gated);
  const Json& pod = o->job["spec"]["template"]["spec"];
  EXPECT_EQ(o->job["spec"]["completions"], 4);
  EXPECT_EQ(o->job["spec"]["parallelism"], 4);
  EXPECT_EQ(pod["schedulingGates"][0]["name"], "jizhan.io/placement");
  EXPECT_FALSE(pod.contains("nodeSelector"));
  EXPECT_EQ(pod["subdomain"], o->name);
  ASSERT_TRUE(o->service.is_object());
  EXPECT_EQ(o->service["spec"]["clusterIP"], "None");
  Json p = placement_patch(s.workers[2]);
  EXPECT_EQ(p["spec"]["nodeSelector"]["kubernetes.io/hostname"], "b");
  EXPECT_TRUE(p["spec"]["schedulingGates"].is_null());
  EXPECT_EQ(p["metadata"]["annotations"]["jizhan.io/gpus"], "GPU-3");
  // A gang on secret data: its workers reach each other and nothing else.
  s.network = exec::Network::kNone;
  auto g = make_objects(s, cluster());
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->network_policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]
                             ["jizhan.io/run"],
            g->name);
}

TEST(KubeObjects, SharesGetTheVgpuLimitsAndNoWholeGpu) {
  exec::LaunchSpec s = secret_job();
  s.workers = {{"gpu-node-1", {"GPU-x"}}};
  s.share_memory_mib = 8192;
  s.share_cores_percent = 30;
  auto o = make_objects(s, cluster());
  ASSERT_TRUE(o.ok());
  const Json& c = o->job["spec"]["template"]["spec"]["containers"][0];
  EXPECT_FALSE(c["resources"]["limits"].contains("nvidia.com/gpu"));
  ASSERT_TRUE(o->vgpu_config.is_object());
  const std::string conf = o->vgpu_config["data"]["vgpu.conf"];
  EXPECT_NE(conf.find("JZ_VGPU_MEMORY_LIMIT=8192m"), std::string::npos);
  EXPECT_NE(conf.find("JZ_VGPU_CORE_LIMIT=30"), std::string::npos);
  EXPECT_NE(conf.find("JZ_VGPU_UUIDS=GPU-x"), std::string::npos);
  bool preload = false;
  for (const auto& m : c["volumeMounts"])
    preload = preload || m["mountPath"] == "/etc/ld.so.preload";
  EXPECT_TRUE(preload);
}

TEST(KubeObjects, RefusesWhatTheClusterCannotRun) {
  exec::LaunchSpec s = secret_job();
  s.read_only = {{"/elsewhere/data", "/data"}};
  auto o = make_objects(s, cluster());
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("has no volume for the server folder '/elsewhere/data'"),
            std::string::npos);
  s = secret_job();
  s.uid = 0;
  EXPECT_FALSE(make_objects(s, cluster()).ok());
  // A prefix that is not a folder boundary does not match.
  s = secret_job();
  s.read_only = {{"/srv/jizhan/datasets-old/x", "/data"}};
  EXPECT_FALSE(make_objects(s, cluster()).ok());
}

TEST(KubeObjects, NamesAndLabelsAreValid) {
  EXPECT_EQ(dns_label("JOB_01ABC-1"), "job-01abc-1");
  EXPECT_EQ(dns_label("9lives"), "j-9lives");
  EXPECT_EQ(dns_label("___"), "j-");
  const std::string long_id(100, 'a');
  EXPECT_EQ(dns_label(long_id).size(), 63u);
  EXPECT_NE(dns_label(long_id + "x"), dns_label(long_id + "y"));
  EXPECT_EQ(label_value("alice@example.com"), "alice_example.com");
  EXPECT_EQ(label_value("-x-"), "x");
  EXPECT_LE(label_value(std::string(200, 'b')).size(), 63u);
}

TEST(Kubeconfig, ReadsContextsTokensAndCertificates) {
  testing::TempDir dir;
  ASSERT_TRUE(write_file(dir.str() + "/token", "file-token\n").ok());
  const std::string config = R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: c1
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: Q0EgUEVN
- name: c2
  cluster:
    server: https://k8s.example:443
    certificate-authority: ca.crt
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: bot
  user:
    tokenFile: token
- name: cloud
  user:
    exec:
      command: gke-gcloud-auth-plugin
contexts:
- name: prod
  context: {cluster: c1, user: admin, namespace: ml}
- name: staging
  context: {cluster: c2, user: bot}
- name: gke
  context: {cluster: c2, user: cloud}
- name: broken
  context: {cluster: nowhere, user: bot}
)";
  auto prod = parse_kubeconfig(config, "", dir.str());
  ASSERT_TRUE(prod.ok()) << prod.status().to_string();
  EXPECT_EQ(prod->server, "https://10.0.0.1:6443");
  EXPECT_EQ(prod->ca_pem, "CA PEM");
  EXPECT_EQ(prod->client_cert_pem, "CERT");
  EXPECT_EQ(prod->client_key_pem, "KEY");
  EXPECT_EQ(prod->namespace_, "ml");
  auto staging = parse_kubeconfig(config, "staging", dir.str());
  ASSERT_TRUE(staging.ok()) << staging.status().to_string();
  EXPECT_EQ(staging->token, "file-token");
  EXPECT_EQ(staging->ca_file, dir.str() + "/ca.crt");
  auto gke = parse_kubeconfig(config, "gke", dir.str());
  ASSERT_FALSE(gke.ok());
  EXPECT_NE(gke.status().message().find("plugin"), std::string::npos);
  EXPECT_EQ(parse_kubeconfig(config, "missing").status().code(), Code::kNotFound);
  EXPECT_NE(parse_kubeconfig(config, "broken").status().message().find("'nowhere'"),
            std::string::npos);
  EXPECT_FALSE(parse_kubeconfig("a: [", "").ok());
  EXPECT_FALSE(parse_kubeconfig("- just\n- a list\n", "").ok());
}

}  // namespace
}  // namespace jz::kube

namespace jz::kube {
namespace {

TEST(Kubeconfig, InClusterUsesThePodsServiceAccount) {
  testing::TempDir dir;
  ASSERT_TRUE(write_file(dir.str() + "/token", "sa-token\n").ok());
  ASSERT_TRUE(write_file(dir.str() + "/namespace", "jizhan-system").ok());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto outside = in_cluster_auth(dir.str());
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("not running in a Kubernetes pod"), std::string::npos);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto a = in_cluster_auth(dir.str());
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->server, "https://10.96.0.1:443");
  EXPECT_EQ(a->token, "sa-token");
  EXPECT_EQ(a->ca_file, dir.str() + "/ca.crt");
  EXPECT_EQ(a->namespace_, "jizhan-system");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(in_cluster_auth(dir.str())->server, "https://[fd00::1]:443");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
}  // namespace jz::kube
