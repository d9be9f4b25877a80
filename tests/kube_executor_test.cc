// The Kubernetes executor against the API test server (kubesim), over real HTTP(S):
// jobs with their logs and the cluster's reasons, isolation objects, gangs all or nothing,
// watches broken by 410, by the API server and by a restart of the executor without a
// state change lost or repeated, a cluster that stops answering, TLS with client
// certificates, least rights, 429.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/subprocess.h"
#include "exec/kubernetes/executor.h"
#include "kubesim/kubesim.h"
#include "logs/policy.h"
#include "logs/store.h"
#include "tests/support/temp_dir.h"

namespace jz::kube {
namespace {

using namespace std::chrono_literals;
using exec::JobStatus;

struct Cluster {
  testing::TempDir dir{"jz-kube"};
  std::unique_ptr<kubesim::KubeSim> sim;
  std::unique_ptr<KubeExecutor> executor;

  explicit Cluster(kubesim::Options o = {}) {
    if (o.nodes.empty()) {
      o.nodes = {{.name = "gpu-1",
                  .cpu_milli = 8000,
                  .memory_mib = 16384,
                  .gpus = 4,
                  .gpu_product = "A100"},
                 {.name = "gpu-2",
                  .cpu_milli = 8000,
                  .memory_mib = 16384,
                  .gpus = 4,
                  .gpu_product = "A100"}};
    }
    if (o.bookmark_interval == kubesim::Options{}.bookmark_interval) o.bookmark_interval = 200ms;
    auto s = kubesim::KubeSim::start(o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    sim = std::move(*s);
  }
  KubeExecutorOptions options() {
    KubeExecutorOptions e;
    e.cluster.name = "sim";
    e.cluster.image = "busybox";
    e.client.auth.server = sim->url();
    e.client.backoff = 20ms;
    e.jobs_dir = dir.str() + "/jobs";
    e.node_sync = 200ms;
    e.unavailable_after = 1s;
    e.watch_timeout_s = 5;
    return e;
  }
  void start(KubeExecutorOptions e) {
    auto ex = KubeExecutor::create(e);
    ASSERT_TRUE(ex.ok()) << ex.status().to_string();
    executor = std::move(*ex);
  }
  void start() { start(options()); }

  JobStatus wait_end(const std::string& id, std::chrono::seconds limit = 30s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      JobStatus st = executor->poll(id);
      if (st.phase == JobStatus::Phase::kExited || st.phase == JobStatus::Phase::kLost) return st;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << id << " did not end";
    return {};
  }
  std::string log(const std::string& id) {
    auto t = logs::read_log_text(executor->job_dir(id) + "/logs");
    return t.ok() ? *t : "";
  }
  std::vector<std::string> states(const std::string& id) {
    std::vector<std::string> out;
    std::ifstream in(executor->job_dir(id) + "/events.jsonl");
    std::string line;
    while (std::getline(in, line)) out.push_back(Json::parse(line)["state"]);
    return out;
  }
};

exec::LaunchSpec job(const std::string& id, const std::string& script,
                     std::vector<exec::LaunchSpec::Worker> workers = {{"gpu-1", {}}}) {
  exec::LaunchSpec s;
  s.job_id = id;
  s.command = {"/bin/sh", "-c", script};
  s.network = exec::Network::kEgress;
  s.workers = std::move(workers);
  s.labels = {{"job", id}, {"project", "p1"}, {"user", "alice"}};
  s.cpu_milli = 500;
  s.memory_mib = 512;
  return s;
}

TEST(KubeExecutor, RunsAJobAndKeepsItsLog) {
  Cluster c;
  c.start();
  ASSERT_TRUE(
      c.executor->launch(job("hello", "echo one; echo two >&2; echo worker=$JIZHAN_WORKER_INDEX"))
          .ok());
  JobStatus st = c.wait_end("hello");
  EXPECT_EQ(st.phase, JobStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(c.log("hello"), "one\ntwo\nworker=0\n");
  EXPECT_EQ(c.states("hello"), (std::vector<std::string>{"starting", "running", "exited"}));
  // The capacity of the cluster, from its nodes.
  EXPECT_EQ(c.executor->machine().gpus.size(), 8u);
  EXPECT_EQ(c.executor->machine().cpu_milli, 16000);
  auto nodes = c.executor->cluster_nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].flavor, "A100");
  EXPECT_EQ(nodes[0].machine.gpus[0].uuid, "GPU-gpu-1-0");
  // Released: nothing of it stays on the cluster.
  c.executor->release("hello");
  for (int i = 0; i < 300 && !c.sim->list("pods").empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(c.sim->list("jobs").empty());
  EXPECT_TRUE(c.sim->list("pods").empty());
}

TEST(KubeExecutor, EndsHaveTheClustersReasons) {
  kubesim::Options o;
  o.unpullable_images = {"registry.example/nope:1"};
  Cluster c(o);
  c.start();
  exec::LaunchSpec oom = job(
      "oom", "exec /usr/bin/python3 -c 'import time; x = bytearray(400 << 20); time.sleep(30)'");
  oom.memory_mib = 64;
  ASSERT_TRUE(c.executor->launch(oom).ok());
  exec::LaunchSpec slow = job("slow", "sleep 30");
  slow.runtime_limit_s = 1;
  ASSERT_TRUE(c.executor->launch(slow).ok());
  exec::LaunchSpec image = job("image", "true");
  image.image = "registry.example/nope:1";
  ASSERT_TRUE(c.executor->launch(image).ok());
  ASSERT_TRUE(c.executor->launch(job("fails", "echo bad >&2; exit 3")).ok());
  ASSERT_TRUE(c.executor->launch(job("evicted", "sleep 30")).ok());

  JobStatus st = c.wait_end("oom");
  EXPECT_TRUE(st.oom_killed);
  EXPECT_EQ(st.reason, "OOMKilled");
  EXPECT_EQ(st.exit_code, 137);
  st = c.wait_end("slow");
  EXPECT_EQ(st.reason, "DeadlineExceeded");
  st = c.wait_end("image");
  EXPECT_EQ(st.reason, "LaunchFailed");
  EXPECT_NE(st.message.find("ImagePullBackOff"), std::string::npos) << st.message;
  EXPECT_NE(st.message.find("registry.example/nope:1"), std::string::npos) << st.message;
  EXPECT_EQ(c.states("image"), (std::vector<std::string>{"starting", "exited"}));
  st = c.wait_end("fails");
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.reason, "");
  EXPECT_EQ(c.log("fails"), "bad\n");
  for (int i = 0; i < 500 && c.executor->poll("evicted").phase != JobStatus::Phase::kRunning; ++i)
    std::this_thread::sleep_for(10ms);
  c.sim->evict_node("gpu-1", "The node was low on resource: memory.");
  st = c.wait_end("evicted");
  EXPECT_EQ(st.reason, "Evicted");
  EXPECT_EQ(st.message, "The node was low on resource: memory.");
}

TEST(KubeExecutor, SecretJobGetsItsDenyAllPolicyBeforeItRuns) {
  Cluster c;
  c.start();
  exec::LaunchSpec s = job("secret", "echo hidden");
  s.network = exec::Network::kNone;
  s.uid = s.gid = 20005;
  ASSERT_TRUE(c.executor->launch(s).ok());
  Json np = c.sim->get("networkpolicies", "jizhan-p1", "secret-isolated");
  ASSERT_TRUE(np.is_object());
  EXPECT_TRUE(np["spec"]["ingress"].empty());
  EXPECT_TRUE(np["spec"]["egress"].empty());
  EXPECT_EQ(np["metadata"]["ownerReferences"][0]["kind"], "Job");
  // The policy is older than the Job's unsuspension (its resourceVersion is lower than any
  // pod's).
  c.wait_end("secret");
  Json job = c.sim->get("jobs", "jizhan-p1", "secret");
  const Json& pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsUser"], 20005);
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  for (const auto& p : c.sim->list("pods", "jizhan-p1")) {
    EXPECT_LT(std::stoll(np["metadata"]["resourceVersion"].get<std::string>()),
              std::stoll(p["metadata"]["resourceVersion"].get<std::string>()));
  }
  c.executor->release("secret");
  for (int i = 0; i < 300 && !c.sim->list("networkpolicies").empty(); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(c.sim->list("networkpolicies").empty()) << "owned by the Job: collected with it";
}

// A hostile job on secret data prints what it read: its pod's log reaches the platform
// only through the secret level's filter, as a local job's does.
TEST(KubeExecutor, ASecretJobsPodLogPassesTheLevelsFilter) {
  Cluster c;
  c.start();
  exec::LaunchSpec s = job("leaky",
                           "echo c2VjcmV0LWltYWdlLWJ5dGVzLTAxMjM0NTY3ODlhYmNkZWY=; "
                           "echo /data/faces/0001.jpg 4a6f686e20446f65; echo done");
  s.network = exec::Network::kNone;
  s.log_level = "secret";
  s.log_policy = logs::default_policy("secret");
  ASSERT_TRUE(c.executor->launch(s).ok());
  EXPECT_EQ(c.wait_end("leaky").exit_code, 0);
  const std::string log = c.log("leaky");
  EXPECT_EQ(log.find("c2VjcmV0"), std::string::npos) << log;
  EXPECT_EQ(log.find("0001.jpg"), std::string::npos) << log;
  EXPECT_EQ(log.find("4a6f686e"), std::string::npos) << log;
  auto stats = read_file(c.executor->job_dir("leaky") + "/logs/stats.json");
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->find("\"secret\""), std::string::npos) << *stats;
}

TEST(KubeExecutor, GangOfFourRunsAllOrNothing) {
  Cluster c;
  c.start();
  std::vector<exec::LaunchSpec::Worker> w = {{"gpu-1", {"GPU-gpu-1-0"}},
                                             {"gpu-1", {"GPU-gpu-1-1"}},
                                             {"gpu-2", {"GPU-gpu-2-0"}},
                                             {"gpu-2", {"GPU-gpu-2-3"}}};
  ASSERT_TRUE(c.executor
                  ->launch(job("gang",
                               "echo i=$JIZHAN_WORKER_INDEX of $JIZHAN_WORKERS "
                               "gpu=$NVIDIA_VISIBLE_DEVICES host=$(hostname)",
                               w))
                  .ok());
  JobStatus st = c.wait_end("gang");
  EXPECT_EQ(st.exit_code, 0);
  const std::string log = c.log("gang");
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(log.find("[worker " + std::to_string(i) + "] i=" + std::to_string(i) +
                       " of 4 gpu=" + w[static_cast<size_t>(i)].gpu_uuids[0]),
              std::string::npos)
        << log;
  }
  for (const auto& p : c.sim->list("pods", "jizhan-p1")) {
    const std::string idx =
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
    EXPECT_EQ(p["spec"]["nodeName"], w[std::stoul(idx)].node);
  }
  // One worker failing fails the gang: the others are stopped.
  ASSERT_TRUE(
      c.executor
          ->launch(job("gang2",
                       "if [ $JIZHAN_WORKER_INDEX = 2 ]; then sleep 0.3; exit 7; fi; sleep 60", w))
          .ok());
  st = c.wait_end("gang2");
  EXPECT_EQ(st.exit_code, 7);
  for (int i = 0; i < 500; ++i) {
    int running = 0;
    for (const auto& p : c.sim->list("pods", "jizhan-p1")) {
      if (p["metadata"]["labels"]["jizhan.io/run"] == "gang2" && p["status"]["phase"] == "Running")
        ++running;
    }
    if (running == 0) break;
    ASSERT_LT(i, 499) << "the gang's other workers still run";
    std::this_thread::sleep_for(10ms);
  }
}

TEST(KubeExecutor, CancelEndsThePodsWithTheGracePeriod) {
  Cluster c;
  c.start();
  ASSERT_TRUE(
      c.executor
          ->launch(
              job("cancel",
                  "trap 'echo got TERM; exit 143' TERM; echo up; while true; do sleep 0.1; done"))
          .ok());
  for (int i = 0; i < 500 && c.log("cancel").find("up") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  c.executor->terminate("cancel", 5s);
  JobStatus st = c.wait_end("cancel");
  EXPECT_EQ(st.exit_code, 143);
  EXPECT_NE(c.log("cancel").find("got TERM"), std::string::npos) << c.log("cancel");
  EXPECT_TRUE(c.sim->list("jobs").empty());
}

TEST(KubeExecutor, NoStateChangeIsLostOrRepeatedAcross410BrokenWatchesAndARestart) {
  kubesim::Options o;
  o.bookmark_interval = 60s;  // the watches' versions move with their own events only
  Cluster c(o);
  c.start();
  const int n = 24;
  for (int i = 0; i < n; ++i) {
    const std::string id = "w" + std::to_string(i);
    ASSERT_TRUE(c.executor
                    ->launch(job(id,
                                 "for k in 1 2 3 4 5; do echo " + id + "-$k; sleep 0." +
                                     std::to_string(1 + i % 5) + "; done",
                                 {{i % 2 ? "gpu-1" : "gpu-2", {}}}))
                    .ok());
  }
  std::this_thread::sleep_for(400ms);
  // 410: after a change neither watch sees, the history is compacted and the watches cut.
  KubeClient client({.auth = {.server = c.sim->url()}});
  ASSERT_TRUE(
      client
          .create("/api/v1/namespaces/default/configmaps",
                  {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "unseen"}}}})
          .ok());
  c.sim->compact();
  c.sim->cut_watches();
  std::this_thread::sleep_for(300ms);
  // The API server goes away and comes back.
  c.sim->pause();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(c.sim->resume().ok());
  std::this_thread::sleep_for(200ms);
  // Both watches were told 410 (and relisted) and saw their connection cut (on a loaded
  // machine, e.g. under ASan on 2 cores, the reconnections may take a few seconds).
  auto restarts = c.executor->watch_restarts();
  for (int i = 0; i < 300 && (restarts["gone"] < 2 || restarts["broken"] < 2); ++i) {
    std::this_thread::sleep_for(50ms);
    restarts = c.executor->watch_restarts();
  }
  EXPECT_GE(restarts["gone"], 2);
  EXPECT_GE(restarts["broken"], 2);
  // The executor restarts (the server process does) while jobs run and end.
  c.executor.reset();
  std::this_thread::sleep_for(700ms);
  c.sim->compact();
  c.start();
  for (int i = 0; i < n; ++i) {
    const std::string id = "w" + std::to_string(i);
    JobStatus st = c.wait_end(id);
    EXPECT_EQ(st.exit_code, 0) << id;
    const auto s = c.states(id);
    // Each state once, in order; "running" even when it ran while nobody watched.
    std::vector<std::string> want = {"running", "exited"};
    std::vector<std::string> got(s.begin() + (s.size() > 2 && s[0] == "starting" ? 1 : 0), s.end());
    EXPECT_EQ(got, want) << id;
    std::string expect;
    for (int k = 1; k <= 5; ++k) expect += id + "-" + std::to_string(k) + "\n";
    EXPECT_EQ(c.log(id), expect) << id << ": every line once";
  }
}

TEST(KubeExecutor, AClusterThatStopsAnsweringIsUnavailable) {
  Cluster c;
  c.start();
  EXPECT_TRUE(c.executor->available());
  c.sim->pause();
  for (int i = 0; i < 300 && c.executor->available(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(c.executor->available());
  EXPECT_NE(c.executor->unavailable_reason(), "");
  EXPECT_FALSE(c.executor->launch(job("while-down", "true")).ok());
  ASSERT_TRUE(c.sim->resume().ok());
  for (int i = 0; i < 300 && !c.executor->available(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(c.executor->available());
  // An executor cannot start against a cluster that is not there, and says which.
  c.sim->pause();
  auto e = c.options();
  e.client.max_attempts = 2;
  auto none = KubeExecutor::create(e);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("cluster 'sim'"), std::string::npos);
  ASSERT_TRUE(c.sim->resume().ok());
}

TEST(KubeExecutor, RetriesWhenThrottled) {
  Cluster c;
  c.start();
  c.sim->throttle(3, 0);
  ASSERT_TRUE(c.executor->launch(job("throttled", "echo fine")).ok());
  EXPECT_EQ(c.wait_end("throttled").exit_code, 0);
}

// The executor's least rights (deploy/kubernetes/base/rbac.yaml holds the same).
std::vector<kubesim::Rule> executor_rules() {
  return {
      {.api_groups = {""}, .resources = {"namespaces"}, .verbs = {"get", "create"}},
      {.api_groups = {""}, .resources = {"nodes"}, .verbs = {"get", "list", "watch"}},
      {.api_groups = {""},
       .resources = {"pods"},
       .verbs = {"get", "list", "watch", "patch", "delete"}},
      {.api_groups = {""}, .resources = {"pods/log"}, .verbs = {"get"}},
      {.api_groups = {""}, .resources = {"services", "configmaps"}, .verbs = {"create", "delete"}},
      {.api_groups = {"batch"},
       .resources = {"jobs"},
       .verbs = {"get", "list", "watch", "create", "patch", "delete"}},
      {.api_groups = {"networking.k8s.io"},
       .resources = {"networkpolicies"},
       .verbs = {"create", "delete"}}};
}

TEST(KubeExecutor, WorksOverTlsWithACertificateAndLeastRights) {
  testing::TempDir certs{"jz-kube-tls"};
  const std::string d = certs.str();
  auto sh = [&](const std::string& cmd) {
    SubprocessOptions o;
    o.argv = {"/bin/sh", "-c", cmd};
    o.cwd = d;
    auto r = run_subprocess(o);
    ASSERT_TRUE(r.ok() && r->exit_code == 0)
        << cmd << ": " << (r.ok() ? r->err : r.status().message());
  };
  sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj "
     "/CN=test-ca 2>/dev/null");
  sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 "
     "2>/dev/null && "
     "printf 'subjectAltName=IP:127.0.0.1' > san.ext && "
     "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
     "-days 1 -extfile san.ext 2>/dev/null");
  sh("openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "
     "/CN=jizhan-executor 2>/dev/null && "
     "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt "
     "-days 1 2>/dev/null");
  kubesim::Options o;
  o.tls_cert_file = d + "/server.crt";
  o.tls_key_file = d + "/server.key";
  o.client_ca_file = d + "/ca.crt";
  o.users = {{"jizhan-executor", "", executor_rules()},
             {"viewer",
              "viewer-token",
              {{.api_groups = {""}, .resources = {"nodes"}, .verbs = {"list"}}}}};
  Cluster c(o);
  ASSERT_EQ(c.sim->url().rfind("https://", 0), 0u);
  // A kubeconfig as an operator writes one, with files beside it.
  const std::string kubeconfig =
      "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    "
      "server: " +
      c.sim->url() +
      "\n    certificate-authority: ca.crt\nusers:\n- name: executor\n  user:\n    "
      "client-certificate: client.crt\n    client-key: client.key\ncontexts:\n- name: sim\n  "
      "context: {cluster: sim, user: executor}\n";
  ASSERT_TRUE(write_file(d + "/kubeconfig", kubeconfig).ok());
  auto auth = load_kubeconfig(d + "/kubeconfig");
  ASSERT_TRUE(auth.ok()) << auth.status().to_string();
  auto e = c.options();
  e.client.auth = *auth;
  c.start(e);
  exec::LaunchSpec s = job("tls", "echo over tls");
  s.network = exec::Network::kNone;
  s.workers = {{"gpu-1", {}}, {"gpu-2", {}}};
  ASSERT_TRUE(c.executor->launch(s).ok());
  EXPECT_EQ(c.wait_end("tls").exit_code, 0);
  EXPECT_NE(c.log("tls").find("[worker 1] over tls"), std::string::npos);
  c.executor->release("tls");
  // Without the CA the server is not trusted; a user without the rights is refused.
  auto untrusted = c.options();
  untrusted.client.auth = *auth;
  untrusted.client.auth.ca_file.clear();
  untrusted.client.max_attempts = 1;
  auto refused = KubeExecutor::create(untrusted);
  ASSERT_FALSE(refused.ok());
  auto viewer = c.options();
  viewer.client.auth.server = c.sim->url();
  viewer.client.auth.ca_file = d + "/ca.crt";
  viewer.client.auth.token = "viewer-token";
  auto weak = KubeExecutor::create(viewer);
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().code(), Code::kPermissionDenied) << weak.status().to_string();
}

}  // namespace
}  // namespace jz::kube
