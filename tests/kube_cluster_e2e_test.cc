// Kubernetes clusters as executors, end to end: the real `jizhan server` with two clusters
// of the API test server (kubesim) registered through the API; 200 jobs of three projects
// (one limited to one cluster) placed across them with quotas never exceeded (replayed
// from the event log); a cluster that stops answering gets no new work while the other
// takes it; credentials never shown and never stored in plain text; who may register.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "kubesim/kubesim.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<kubesim::KubeSim> cluster(const std::string& prefix, const std::string& token) {
  kubesim::Options o;
  o.users = {{"jizhan", token, {}}};
  for (int i = 1; i <= 2; ++i) {
    o.nodes.push_back({.name = prefix + "-" + std::to_string(i),
                       .cpu_milli = 16000,
                       .memory_mib = 32768,
                       .gpus = 4,
                       .gpu_product = "A100"});
  }
  auto s = kubesim::KubeSim::start(o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string kubeconfig(const kubesim::KubeSim& sim, const std::string& token) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n"
         "    server: " +
         sim.url() + "\nusers:\n- name: u\n  user:\n    token: " + token +
         "\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n";
}

Json register_body(const std::string& name, const kubesim::KubeSim& sim, const std::string& token,
                   const std::string& data_dir) {
  // The server's data folder (project volumes, datasets) is the same path on every node.
  return {{"name", name},
          {"region", name == "east" ? "cn-east" : "cn-west"},
          {"kubeconfig", kubeconfig(sim, token)},
          {"image", "registry.example/jizhan-runtime:1"},
          {"volumes", Json::array({{{"server_path", data_dir}, {"host_path", data_dir}}})}};
}

std::string cluster_of(const Json& job) {
  const Json& placement = job.value("placement", Json::array());
  if (!placement.is_array() || placement.empty()) return "";
  const std::string node = json::string_or(placement[0], "node");
  const size_t slash = node.find('/');
  return slash == std::string::npos ? "local" : node.substr(0, slash);
}

TEST(KubeClusters, TwoHundredJobsAcrossTwoClustersNeverExceedTheirQuotas) {
  auto east = cluster("east", "east-secret-token");
  auto west = cluster("west", "west-secret-token");
  ASSERT_TRUE(east && west);
  Platform p({"--set", "clusters.sync_ms=200", "--set", "clusters.unavailable_after_ms=1500"});
  ASSERT_TRUE(p.server);
  Api admin = p.admin();
  int status = 0;
  Json c = admin.call("POST", "/api/v1/clusters",
                      register_body("east", *east, "east-secret-token", p.data), &status);
  ASSERT_EQ(status, 201) << c.dump();
  c = admin.call("POST", "/api/v1/clusters",
                 register_body("west", *west, "west-secret-token", p.data), &status);
  ASSERT_EQ(status, 201) << c.dump();
  EXPECT_EQ(c["gpus"], 8);
  EXPECT_EQ(c["state"], "ready");

  for (const char* u : {"alice", "bob", "carol"}) p.user(u);
  p.project("lab", "pa", {{"alice", "project-developer"}}, {{"gpus", 3}, {"clusters", {"east"}}});
  p.project("lab", "pb", {{"bob", "project-developer"}}, {{"gpus", 5}});
  p.project("lab", "pc", {{"carol", "project-developer"}}, {{"gpus", 4}, {"concurrent_jobs", 3}});
  std::map<std::string, Api> users;
  for (const char* u : {"alice", "bob", "carol"}) users.emplace(u, p.user(u));
  // A viewer of the registry sees no credentials.
  const std::string listed = users.at("bob").call("GET", "/api/v1/clusters").dump();
  EXPECT_EQ(listed.find("secret-token"), std::string::npos);
  EXPECT_NE(listed.find("\"east\""), std::string::npos);
  users.at("bob").call("POST", "/api/v1/clusters", register_body("mine", *east, "x", p.data),
                       &status);
  EXPECT_EQ(status, 403) << "only platform admins register clusters";

  struct Submitted {
    std::string project, id;
    int64_t gpus;
  };
  std::vector<Submitted> all;
  const std::vector<std::pair<std::string, std::string>> who = {
      {"pa", "alice"}, {"pb", "bob"}, {"pc", "carol"}};
  for (int i = 0; i < 200; ++i) {
    const auto& [project, user] = who[i % who.size()];
    const int gpus = i % 7 == 3 ? 2 : 1;
    const bool fails = i % 10 == 7;
    Json body = job("k" + std::to_string(i),
                    {"sh", "-c",
                     "echo job " + std::to_string(i) + " on $NVIDIA_VISIBLE_DEVICES; sleep 0." +
                         std::to_string(i % 4) + (fails ? "; exit 3" : "")},
                    0.5, 256);
    body["resources"]["gpus"] = gpus;
    Json j = users.at(user).call("POST", "/api/v1/projects/" + project + "/jobs", body);
    ASSERT_TRUE(j.is_object() && j.contains("id")) << j.dump();
    all.push_back({project, j["id"].get<std::string>(), gpus});
  }
  int succeeded = 0, failed = 0;
  std::map<std::string, std::set<std::string>> clusters_used;
  for (const auto& s : all) {
    auto done = wait_states(admin, s.project, {s.id}, kTerminal, 240s);
    const Json& j = done[s.id];
    if (j["state"] == "succeeded") ++succeeded;
    if (j["state"] == "failed") {
      ++failed;
      EXPECT_EQ(j["exit_code"], 3) << j.dump();
    }
    clusters_used[s.project].insert(cluster_of(j));
  }
  EXPECT_EQ(succeeded, 180);
  EXPECT_EQ(failed, 20);
  EXPECT_EQ(clusters_used["pa"], (std::set<std::string>{"east"})) << "pa may use east only";
  EXPECT_EQ(clusters_used["pb"], (std::set<std::string>{"east", "west"}));
  // A job's log came back from its pod.
  Json logs = admin.call("GET", "/api/v1/projects/pb/jobs/" + all[1].id + "/logs");
  EXPECT_NE(logs.dump().find("job 1 on GPU-"), std::string::npos) << logs.dump();

  // Replay every job's changes of state in the platform's order: GPUs held never pass
  // the quota.
  std::map<std::string, const Submitted*> by_id;
  for (const auto& s : all) by_id[s.id] = &s;
  const auto events = job_events(admin, {"pa", "pb", "pc"});
  auto holds = [](const std::string& s) {
    return s == "admitted" || s == "starting" || s == "running";
  };
  std::map<std::string, int64_t> gpus_now, jobs_now, most_gpus, most_jobs;
  for (const auto& e : events) {
    const Submitted* s = by_id.at(e.job);
    const int sign = holds(e.to) && !holds(e.from) ? 1 : (!holds(e.to) && holds(e.from) ? -1 : 0);
    gpus_now[e.project] += sign * s->gpus;
    jobs_now[e.project] += sign;
    most_gpus[e.project] = std::max(most_gpus[e.project], gpus_now[e.project]);
    most_jobs[e.project] = std::max(most_jobs[e.project], jobs_now[e.project]);
    ASSERT_LE(gpus_now["pa"], 3) << "seq " << e.seq;
    ASSERT_LE(gpus_now["pb"], 5) << "seq " << e.seq;
    ASSERT_LE(gpus_now["pc"], 4) << "seq " << e.seq;
    ASSERT_LE(jobs_now["pc"], 3) << "seq " << e.seq;
  }
  for (const char* project : {"pa", "pb", "pc"}) EXPECT_EQ(gpus_now[project], 0) << project;
  // The limits were reached, so the checks above could have failed.
  EXPECT_EQ(most_gpus["pa"], 3);
  EXPECT_GE(most_gpus["pb"], 4);
  EXPECT_EQ(most_jobs["pc"], 3);
  // Nothing of the jobs is left on the clusters.
  for (int i = 0; i < 500 && !(east->list("jobs").empty() && west->list("jobs").empty()); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(east->list("jobs").empty());
  EXPECT_TRUE(west->list("jobs").empty());
  EXPECT_GE(east->max_running_pods(), 2);
  EXPECT_GE(west->max_running_pods(), 2);
  // The credentials are sealed at rest: no token in the database's files.
  for (const auto& f : std::filesystem::recursive_directory_iterator(p.data)) {
    if (!f.is_regular_file() || f.path().string().find("/jobs/") != std::string::npos) continue;
    auto bytes = read_file(f.path().string());
    if (!bytes.ok()) continue;
    EXPECT_EQ(bytes->find("east-secret-token"), std::string::npos) << f.path();
  }
}

TEST(KubeClusters, AClusterThatStopsAnsweringGetsNoNewWork) {
  auto east = cluster("east", "t1");
  auto west = cluster("west", "t2");
  ASSERT_TRUE(east && west);
  Platform p({"--set", "clusters.sync_ms=200", "--set", "clusters.unavailable_after_ms=1000"});
  ASSERT_TRUE(p.server);
  Api admin = p.admin();
  int status = 0;
  admin.call("POST", "/api/v1/clusters", register_body("east", *east, "t1", p.data), &status);
  ASSERT_EQ(status, 201);
  admin.call("POST", "/api/v1/clusters", register_body("west", *west, "t2", p.data), &status);
  ASSERT_EQ(status, 201);
  p.user("alice");
  p.project("lab", "pa", {{"alice", "project-developer"}});
  Api alice = p.user("alice");
  // A bad kubeconfig and an unreachable server are refused with the reason.
  Json bad = admin.call("POST", "/api/v1/clusters",
                        {{"name", "broken"}, {"kubeconfig", "clusters: [\n"}}, &status);
  EXPECT_EQ(status, 400) << bad.dump();
  Json gone = register_body("gone", *east, "t1", p.data);
  gone["kubeconfig"] =
      "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n"
      "  cluster:\n    server: http://127.0.0.1:1\nusers:\n- name: u\n  user:\n"
      "    token: x\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n";
  Json refused = admin.call("POST", "/api/v1/clusters", gone, &status);
  EXPECT_EQ(status, 409) << refused.dump();
  EXPECT_NE(refused.dump().find("cannot reach cluster 'gone'"), std::string::npos)
      << refused.dump();

  east->pause();
  for (int i = 0; i < 300; ++i) {
    Json c = admin.call("GET", "/api/v1/clusters/east");
    if (c["state"] == "unreachable") break;
    ASSERT_LT(i, 299) << c.dump();
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(500ms);  // the runner's next look at the nodes
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    Json body = job("w" + std::to_string(i), {"sh", "-c", "sleep 0.2"}, 0.5, 128);
    body["resources"]["gpus"] = 1;
    Json j = alice.call("POST", "/api/v1/projects/pa/jobs", body);
    ASSERT_TRUE(j.contains("id")) << j.dump();
    ids.push_back(j["id"]);
  }
  auto done = wait_states(admin, "pa", ids, kTerminal, 120s);
  for (const auto& id : ids) {
    EXPECT_EQ(done[id]["state"], "succeeded") << done[id].dump();
    EXPECT_EQ(cluster_of(done[id]), "west") << done[id].dump();
  }
  ASSERT_TRUE(east->resume().ok());
  for (int i = 0; i < 300; ++i) {
    Json c = admin.call("GET", "/api/v1/clusters/east");
    if (c["state"] == "ready") break;
    ASSERT_LT(i, 299) << c.dump();
    std::this_thread::sleep_for(20ms);
  }
  // Disabled: it takes no new job; removed: gone from the list.
  admin.call("PATCH", "/api/v1/clusters/west", {{"enabled", false}}, &status);
  EXPECT_EQ(status, 200);
  admin.call("DELETE", "/api/v1/clusters/west", nullptr, &status);
  EXPECT_EQ(status, 204);
  const std::string list = admin.call("GET", "/api/v1/clusters").dump();
  EXPECT_EQ(list.find("\"west\""), std::string::npos);
}

}  // namespace
}  // namespace jz
