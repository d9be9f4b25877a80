// The openb trace readers and the arrival-only experiment on a small cluster whose
// answers are known by hand.
#include "sched/trace.h"

#include <gtest/gtest.h>

#include "sched/sim.h"

namespace jz::sched {
namespace {

TEST(Trace, ReadsOpenbNodesAndTasksAndSaysWhatIsWrong) {
  auto nodes = parse_openb_nodes(
      "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,786432,8,V100M32\n"
      "c0,32000,65536,0,\n",
      "nodes.csv");
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  ASSERT_EQ(nodes->size(), 3u);
  EXPECT_EQ((*nodes)[1].model, "V100M32");
  EXPECT_EQ((*nodes)[1].gpus, 8);
  EXPECT_EQ((*nodes)[2].gpus, 0);
  auto tasks = parse_openb_tasks(
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n"
      "a,12000,16384,1,1000,,LS\nb,6000,12288,1,460,,LS\nc,8000,8192,0,0,,BE\n"
      "d,88000,327680,8,1000,V100M16|V100M32,LS\n",
      "tasks.csv");
  ASSERT_TRUE(tasks.ok()) << tasks.status().message();
  EXPECT_EQ((*tasks)[1].request_milli(), 460);
  EXPECT_EQ((*tasks)[3].request_milli(), 8000);
  EXPECT_EQ(job_of((*tasks)[1], 1).share_cores_percent, 46);
  EXPECT_EQ(job_of((*tasks)[3], 2).flavor, "V100M16|V100M32");

  auto bad =
      parse_openb_tasks("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,1,2,500\n", "t.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "t.csv line 2: a share (gpu_milli under 1000) is of one GPU, not 2");
  bad = parse_openb_tasks("name,cpu_milli,memory_mib,num_gpu\nx,1,1,2\n", "t.csv");
  EXPECT_NE(bad.status().message().find("no column 'gpu_milli'"), std::string::npos);
  auto bad_node = parse_openb_nodes("sn,cpu_milli,memory_mib,gpu,model\nn,lots,1,1,T4\n", "n.csv");
  EXPECT_EQ(bad_node.status().message(),
            "n.csv line 2: cpu_milli must be a whole number from 0 to 1099511627776, not 'lots'");
}

// Two nodes of 2 GPUs; only half-GPU shares: every arrival fits until the 4 GPUs hold 8
// halves, so the curve follows the requests to 100 % and stays there.
TEST(Trace, TheArrivalCurveOfShareThatPackExactly) {
  std::vector<TraceNode> nodes = {{"a", "T4", 64000, 65536, 2}, {"b", "T4", 64000, 65536, 2}};
  std::vector<TraceTask> tasks = {{"half", 1000, 1024, 1, 500, ""}};
  ArrivalOptions o;
  o.until = 1.5;
  auto c = run_arrivals(nodes, tasks, o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->capacity_milli, 4000);
  EXPECT_EQ(c->allocated[50], 50);
  EXPECT_EQ(c->allocated[100], 100);
  EXPECT_EQ(c->allocated[150], 100);
  EXPECT_EQ(c->failed, 4);
  EXPECT_EQ(c->failed_with_room, 0);
  // A model no node has: nothing is placed, nothing had room.
  tasks[0].models = "A100";
  c = run_arrivals(nodes, tasks, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->allocated[100], 0);
  EXPECT_EQ(c->failed, c->arrivals);
  EXPECT_EQ(c->failed_with_room, 0);
}

// The experiment on a cluster and a workload of the simulator: pools, GPU memory of
// shares, gangs and CPU-only jobs as the simulator reads them.
TEST(Trace, AClusterAndWorkloadOfTheSimulatorRunTheSameExperiment) {
  auto cluster = parse_cluster(
      "pools:\n"
      "  - name: train\n"
      "    node_types:\n"
      "      - {nodes: 2, gpus_per_node: 2, gpu_memory_mib: 81920, flavor: a100,\n"
      "         cpus_per_node: 64, memory_gib_per_node: 256}\n"
      "      - {nodes: 1, gpus_per_node: 0, cpus_per_node: 8}\n"
      "projects:\n"
      "  - {name: p, nominal_gpus: 4}\n",
      "c.yaml");
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  const std::vector<TraceNode> nodes = trace_nodes_of(*cluster);
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].pool, "train");
  EXPECT_EQ(nodes[0].gpus, 2);
  EXPECT_EQ(nodes[0].gpu_memory_mib, 81920);
  EXPECT_EQ(nodes[2].gpus, 0);
  // Shares of half a GPU's cores and 40,000 MiB: two to a GPU, by memory as by cores.
  auto shares = parse_trace(
      "submit_s,user,project,share_cores_percent,share_memory_mib,duration_s,priority,pool\n"
      "0,u,p,50,40000,60,0,train\n",
      "w.csv");
  ASSERT_TRUE(shares.ok()) << shares.status().message();
  std::vector<TraceTask> tasks = trace_tasks_of(*shares);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].request_milli(), 500);
  ArrivalOptions o;
  o.until = 1.5;
  auto c = run_arrivals(nodes, tasks, o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->capacity_milli, 4000);
  EXPECT_EQ(c->allocated[100], 100);
  EXPECT_EQ(c->failed, 4);
  EXPECT_EQ(c->failed_with_room, 0);
  // 50,000 MiB each: one to a GPU by memory (each charged its memory fraction, 50,000 of
  // 81,920 MiB rounded up: 611 milli-GPU), so half the cores stay free and no arrival
  // after the fourth finds room.
  tasks[0].share_memory_mib = 50000;
  c = run_arrivals(nodes, tasks, o);
  ASSERT_TRUE(c.ok());
  EXPECT_DOUBLE_EQ(c->allocated[100], 100.0 * 4 * 611 / 4000);
  EXPECT_EQ(c->failed, c->arrivals - 4);
  EXPECT_EQ(c->failed_with_room, 0);
  // A gang of two workers of two GPUs is the whole pool: the first takes it all.
  auto gang = parse_trace(
      "submit_s,user,project,gpus,workers,duration_s,priority,pool\n0,u,p,2,2,60,0,train\n",
      "g.csv");
  ASSERT_TRUE(gang.ok()) << gang.status().message();
  tasks = trace_tasks_of(*gang);
  EXPECT_EQ(tasks[0].request_milli(), 4000);
  c = run_arrivals(nodes, tasks, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->allocated[100], 100);
  EXPECT_EQ(c->arrivals, 2);
  EXPECT_EQ(c->failed, 1);
  EXPECT_EQ(c->failed_with_room, 0);
}

}  // namespace
}  // namespace jz::sched
