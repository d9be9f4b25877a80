// The simulator: its inputs are checked field by field, a trace replays exactly, and the
// seed's story holds (examples/sched/): a saturated training pool stays >= 95% allocated;
// a dev pool of whole-GPU sessions busy half the time is ~50% used, and >= 70% with GPU
// shares and idle reclaim.
#include "sched/sim.h"

#include <gtest/gtest.h>

#include "core/files.h"

namespace jz::sched {
namespace {

std::string example(const std::string& name) {
  auto t = read_file(std::string(JZ_SOURCE_DIR) + "/examples/sched/" + name);
  EXPECT_TRUE(t.ok()) << name;
  return t.ok() ? *t : "";
}

Json run(const std::string& cluster_file, const std::string& workload_file) {
  auto c = parse_cluster(example(cluster_file), cluster_file);
  EXPECT_TRUE(c.ok()) << c.status().message();
  auto w = parse_generator(example(workload_file), workload_file, *c);
  EXPECT_TRUE(w.ok()) << w.status().message();
  auto r = simulate(*c, *w);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r->summary : Json();
}

TEST(Simulator, TheSeedsStory) {
  Json training = run("training-cluster.yaml", "training-workload.yaml");
  EXPECT_GE(training["pools"]["training"]["allocated"].get<double>(), 0.95) << training.dump(2);
  Json whole = run("dev-cluster-whole.yaml", "dev-workload-whole.yaml");
  const double whole_used = whole["pools"]["dev"]["used"].get<double>();
  EXPECT_GE(whole["pools"]["dev"]["allocated"].get<double>(), 0.9);
  EXPECT_NEAR(whole_used, 0.5, 0.05) << "sessions hold whole GPUs, busy half the time";
  Json shares = run("dev-cluster-shares.yaml", "dev-workload-shares.yaml");
  EXPECT_GE(shares["pools"]["dev"]["used"].get<double>(), 0.70) << shares.dump(2);
  EXPECT_LT(shares["classes"]["session"]["wait_p50_s"].get<double>(),
            whole["classes"]["session"]["wait_p50_s"].get<double>())
      << "and sessions wait less";
}

TEST(Simulator, ATraceReplaysExactly) {
  auto c = parse_cluster(R"(
pools: [{name: default, nodes: 1, gpus_per_node: 4}]
projects: [{name: p, nominal_gpus: 4}, {name: q, nominal_gpus: 0}]
)",
                         "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto w = parse_trace(
      "submit_s,user,project,gpus,duration_s,priority,class\n"
      "0,alice,p,4,3600,0,big\n"
      "0,bob,p,2,1800,0,small\n"
      "7200,carol,p,2,3600,0,small\n",
      "t.csv");
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto r = simulate(*c, *w);
  ASSERT_TRUE(r.ok());
  const Json& s = r->summary;
  // big runs 0-1h; small (bob) waits for it, 1h-1.5h; carol at 2h-3h (the horizon is her
  // submission at 2h): GPU-seconds 4*3600 + 2*1800 = 18000 of 4 GPUs x 7200 s.
  EXPECT_NEAR(s["pools"]["default"]["allocated"].get<double>(), 18000.0 / (4 * 7200), 1e-9);
  EXPECT_DOUBLE_EQ(s["classes"]["small"]["wait_p50_s"].get<double>(), 3600);
  EXPECT_EQ(s["classes"]["big"]["started"], 1);
  EXPECT_NE(r->plot_svg.find("<svg"), std::string::npos);
  // Axes with ticks and labels, and a legend.
  for (const char* label : {">allocated</text>", ">used</text>", ">0 %</text>", ">100 %</text>",
                            ">hour</text>", ">0</text>", ">1</text>"}) {
    EXPECT_NE(r->plot_svg.find(label), std::string::npos) << label << "\n" << r->plot_svg;
  }
  EXPECT_NE(r->allocation_csv.find("hour,pool,allocated,used"), std::string::npos);
  // The same by hour for charts: hour 0 all 4 GPUs (big), hour 1 bob's 2 for half of it.
  const Json& series = r->series["default"];
  EXPECT_EQ(series["hour"], Json::array({0, 1}));
  EXPECT_EQ(series["allocated"], Json::array({1.0, 0.25}));
  EXPECT_EQ(series["used"], Json::array({1.0, 0.25}));
}

// A heterogeneous pool (8-GPU A100 nodes with few CPUs, 2-GPU T4 nodes, CPU-only nodes)
// and jobs with CPU, memory and GPU models: each goes where it can, CPU-only jobs too.
TEST(Simulator, HeterogeneousNodesCpuOnlyJobsAndModels) {
  auto c = parse_cluster(R"(
pools:
  - name: mixed
    node_types:
      - {nodes: 1, gpus_per_node: 8, flavor: a100, cpus_per_node: 16, memory_gib_per_node: 512}
      - {nodes: 2, gpus_per_node: 2, flavor: t4, cpus_per_node: 64}
      - {nodes: 1, gpus_per_node: 0, cpus_per_node: 32}
projects: [{name: p, nominal_gpus: 12}]
)",
                         "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pools[0].gpus(), 12);
  EXPECT_EQ(c->pools[0].nodes, 4);
  auto w = parse_trace(
      "submit_s,user,project,gpus,duration_s,priority,class,pool,cpu,memory_mib,flavor\n"
      // 8 A100s but 16 CPUs on that node: two 8-CPU jobs of 4 GPUs fit, a third waits.
      "0,a,p,4,3600,0,a100,mixed,8,1024,a100\n"
      "0,a,p,4,3600,0,a100,mixed,8,1024,a100\n"
      // T4 jobs only on T4 nodes; a job accepting either model takes what is left.
      "0,b,p,2,3600,0,t4,mixed,4,1024,t4\n"
      "0,b,p,2,3600,0,any,mixed,4,1024,t4|a100\n"
      // CPU-only: 40 cores fit nowhere but a T4 node (64), 30 on the CPU node.
      "0,c,p,0,3600,0,cpu40,mixed,40,4096,\n"
      "0,c,p,0,3600,0,cpu30,mixed,30,4096,\n"
      // (last: once it waits, the pool is held for it and jobs behind it wait too)
      "0,a,p,1,3600,0,a100wait,mixed,1,1024,a100\n"
      // (the simulation runs until the last submission)
      "7200,d,p,0,60,0,late,mixed,1,1024,\n",
      "t.csv");
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto r = simulate(*c, *w);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& s = r->summary;
  EXPECT_EQ(s["classes"]["a100"]["started"], 2) << s.dump();
  EXPECT_DOUBLE_EQ(s["classes"]["a100"]["wait_p50_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(s["classes"]["a100wait"]["wait_p50_s"].get<double>(), 3600) << s.dump();
  EXPECT_DOUBLE_EQ(s["classes"]["t4"]["wait_p50_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(s["classes"]["any"]["wait_p50_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(s["classes"]["cpu40"]["wait_p50_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(s["classes"]["cpu30"]["wait_p50_s"].get<double>(), 0);

  auto bad = parse_cluster(
      "pools: [{name: x, node_types: [{nodes: 2, gpus_per_node: 0}]}]\nprojects: [{name: p}]",
      "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "c.yaml.pools[0].node_types: no node has a GPU");
  auto none = parse_trace(
      "submit_s,user,project,gpus,duration_s,priority,cpu,memory_mib\n0,a,p,0,60,0,0,0\n", "t.csv");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "t.csv line 2: a job without GPUs needs cpu or memory_mib");
}

TEST(Simulator, InputErrorsNameTheField) {
  const std::pair<const char*, const char*> clusters[] = {
      {"pools: []\nprojects: [{name: p}]", "c.yaml.pools: required"},
      {"pools: [{name: a, nodes: 0}]\nprojects: [{name: p}]",
       "c.yaml.pools[0].nodes: expected a number from 1 to 100000"},
      {"pools: [{name: a, gpus: 8}]\nprojects: [{name: p}]", "c.yaml.pools[0]: unknown key 'gpus'"},
      {"pools: [{name: a}]\nprojects: [{name: p}, {name: p}]",
       "c.yaml.projects[1].name: 'p' twice"},
      {"policy: fifo\npools: [{name: a}]\nprojects: [{name: p}]",
       "c.yaml.policy: binpack, spread or fgd"},
      {"pools: [{name: a}\n", "c.yaml:"},
  };
  for (const auto& [text, needle] : clusters) {
    auto c = parse_cluster(text, "c.yaml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().message();
  }
  const std::pair<const char*, const char*> traces[] = {
      {"user,project\n", "no column 'submit_s'"},
      {"submit_s,user,project,duration_s,priority\n",
       "give a 'gpus' or a 'share_cores_percent' column"},
      {"submit_s,user,project,gpus,duration_s,priority\nx,a,p,1,10,0\n",
       "t.csv line 2: submit_s 'x' is not a number"},
      {"submit_s,user,project,gpus,share_cores_percent,duration_s,priority\n0,a,p,1,50,10,0\n",
       "line 2: give gpus or share_cores_percent, not both"},
      // found by fuzz_sim_input: an empty duration was read as 0
      {"submit_s,user,project,gpus,duration_s,priority\n0,a,p,1,,0\n",
       "t.csv line 2: duration_s is empty"},
  };
  for (const auto& [text, needle] : traces) {
    auto t = parse_trace(text, "t.csv");
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().message();
  }
  ClusterSpec c;
  c.queues.push_back({.project = "p"});
  auto g = parse_generator("classes: [{name: x, gpus: 1}]\nprojects: [zz]", "g.yaml", c);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("'zz' is not a project of the cluster"), std::string::npos);
  g = parse_generator("hours: 1000\njobs_per_hour: 100000\nclasses: [{name: x, gpus: 1}]", "g.yaml",
                      c);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("shorten one of them"), std::string::npos);
}

}  // namespace
}  // namespace jz::sched
