// The scheduling engine: placements, quotas, borrowing and reclaim, preemption, gangs,
// GPU shares, backfill, reasons; and invariants over thousands of random histories.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <set>

namespace jz::sched {
namespace {

NodeSpec node(const std::string& name, int gpus, const std::string& pool = "default") {
  NodeSpec n;
  n.name = name;
  n.pool = pool;
  n.cpu_milli = 64000;
  n.memory_mib = int64_t{256} * 1024;
  for (int i = 0; i < gpus; ++i)
    n.gpus.push_back({name + "-gpu" + std::to_string(i), 81920, 132, true});
  return n;
}

QueueSpec queue(const std::string& project, double nominal, const std::string& cohort = "") {
  QueueSpec q;
  q.project = project;
  q.cohort = cohort;
  q.nominal_milli = static_cast<int64_t>(nominal * 1000);
  return q;
}

JobSpec job(int64_t id, const std::string& project, int gpus, int priority = 0,
            const std::string& user = "alice") {
  JobSpec j;
  j.id = id;
  j.project = project;
  j.user = user;
  j.gpus = gpus;
  j.priority = priority;
  j.cpu_milli = 1000;
  j.memory_mib = 1024;
  return j;
}

std::vector<Decision> of_kind(const std::vector<Decision>& all, Decision::Kind k) {
  std::vector<Decision> out;
  for (const auto& d : all) {
    if (d.kind == k) out.push_back(d);
  }
  return out;
}

TEST(Scheduler, BinpackFillsANodeSpreadBalances) {
  for (Policy p : {Policy::kBinpack, Policy::kSpread, Policy::kFgd}) {
    Scheduler s({.policy = p});
    ASSERT_TRUE(s.add_node(node("a", 8)).ok());
    ASSERT_TRUE(s.add_node(node("b", 8)).ok());
    ASSERT_TRUE(s.set_queue(queue("vision", 16)).ok());
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(s.submit(job(i, "vision", 2), 0).ok());
    auto placed = of_kind(s.cycle(0), Decision::Kind::kPlace);
    ASSERT_EQ(placed.size(), 4u);
    std::map<std::string, int> per_node;
    for (const auto& d : placed) per_node[d.placement[0].node] += 2;
    if (p != Policy::kSpread) {
      EXPECT_EQ(per_node.size(), 1u) << "binpack and fgd keep whole nodes free";
    } else {
      EXPECT_EQ(per_node["a"], 4);
      EXPECT_EQ(per_node["b"], 4);
    }
    EXPECT_TRUE(s.check_invariants().ok()) << s.check_invariants().message();
  }
}

// A job that leaves a node's free GPUs without the CPU to use them strands them, even while
// the CPU it leaves still fits a job: fgd and spread count the free GPU that the node's free
// CPU cannot back at the workload's CPU per GPU. Here a CPU-only job of 12 CPUs goes to the
// node of 40 CPUs (leaving 28: three 8-CPU GPU jobs) rather than the one of 24 (leaving 12:
// one), so six of the eight GPU jobs run, not five.
TEST(Scheduler, AJobLeavesFreeGpusTheCpuToUseThem) {
  for (Policy p : {Policy::kSpread, Policy::kFgd}) {
    Scheduler s({.policy = p});
    NodeSpec a = node("a", 4), b = node("b", 4);
    a.cpu_milli = 40000;
    b.cpu_milli = 24000;
    ASSERT_TRUE(s.add_node(a).ok());
    ASSERT_TRUE(s.add_node(b).ok());
    ASSERT_TRUE(s.set_queue(queue("vision", 16)).ok());
    JobSpec cpu_only = job(1, "vision", 0);
    cpu_only.cpu_milli = 12000;
    ASSERT_TRUE(s.submit(cpu_only, 0).ok());
    for (int64_t id = 2; id <= 9; ++id) {
      JobSpec j = job(id, "vision", 1);
      j.cpu_milli = 8000;
      ASSERT_TRUE(s.submit(j, 0).ok());
    }
    auto placed = of_kind(s.cycle(0), Decision::Kind::kPlace);
    ASSERT_FALSE(placed.empty());
    EXPECT_EQ(placed[0].job, 1);
    EXPECT_EQ(placed[0].placement[0].node, "a") << static_cast<int>(p);
    EXPECT_EQ(placed.size(), 7u) << "the CPU-only job and six GPU jobs";
    EXPECT_TRUE(s.check_invariants().ok()) << s.check_invariants().message();
  }
}

TEST(Scheduler, QuotaAndPerUserLimitsExplainWhyAJobWaits) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 16)).ok());
  QueueSpec q = queue("vision-a", 8);
  q.borrowing_limit_milli = 0;
  q.per_user_milli = 6000;
  ASSERT_TRUE(s.set_queue(q).ok());
  ASSERT_TRUE(s.submit(job(1, "vision-a", 4, 0, "alice"), 0).ok());
  ASSERT_TRUE(s.submit(job(2, "vision-a", 4, 0, "alice"), 0).ok());
  ASSERT_TRUE(s.submit(job(3, "vision-a", 4, 0, "bob"), 0).ok());
  auto d = s.cycle(0);
  EXPECT_TRUE(s.is_running(1));
  EXPECT_FALSE(s.is_running(2));
  bool user_reason = false;
  for (const auto& x : of_kind(d, Decision::Kind::kPending)) {
    user_reason =
        user_reason ||
        (x.job == 2 &&
         x.reason == "pending: user alice uses 4 of the 6 GPUs a user may use in project vision-a");
  }
  EXPECT_TRUE(user_reason) << "alice's second job waits for her limit";
  EXPECT_TRUE(s.is_running(3)) << "bob's job is not held up by alice's limit";
  ASSERT_TRUE(s.submit(job(4, "vision-a", 1, 0, "carol"), 0).ok());
  s.cycle(1);
  EXPECT_EQ(s.reason(4),
            "pending: project vision-a uses 8 of 8 GPUs (nominal 8, borrowing limit 0); this job "
            "needs 1");
  EXPECT_EQ(s.queue("vision-a")->used_milli, 8000);
  ASSERT_TRUE(s.finished(1, 2).ok());
  s.cycle(2);
  EXPECT_TRUE(s.is_running(2)) << "first in line";
  EXPECT_FALSE(s.is_running(4));
  EXPECT_TRUE(s.check_invariants().ok());
}

// CPU-only jobs are held by the project's job, CPU and memory limits, and a job that
// is refused by them does not stop a smaller one behind it.
TEST(Scheduler, JobCpuAndMemoryLimitsHoldCpuOnlyJobs) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 0)).ok());
  QueueSpec q = queue("cpu-only", 0);
  q.max_running_jobs = 3;
  q.cpu_limit_milli = 4000;
  q.memory_limit_mib = 3072;
  ASSERT_TRUE(s.set_queue(q).ok());
  for (int64_t id = 1; id <= 5; ++id) ASSERT_TRUE(s.submit(job(id, "cpu-only", 0), 0).ok());
  s.cycle(0);
  EXPECT_EQ(s.running_count(), 3u);
  EXPECT_EQ(s.reason(4), "pending: project cpu-only runs 3 of the 3 jobs its quota allows at once");
  EXPECT_TRUE(s.check_invariants().ok());
  ASSERT_TRUE(s.finished(1, 1).ok());
  JobSpec big = job(6, "cpu-only", 0);
  big.cpu_milli = 3000;
  ASSERT_TRUE(s.submit(big, 1).ok());
  s.cycle(1);
  EXPECT_TRUE(s.is_running(4));
  ASSERT_TRUE(s.finished(2, 2).ok());
  ASSERT_TRUE(s.finished(3, 2).ok());
  s.cycle(2);
  // 4 and 5 hold 2 CPUs and 2 GiB; job 6 needs 3 CPUs more (limit 4).
  EXPECT_FALSE(s.is_running(6));
  EXPECT_EQ(s.reason(6), "pending: project cpu-only uses 2 of 4 CPUs; this job needs 3");
  EXPECT_EQ(s.queue("cpu-only")->cpu_milli, 2000);
  EXPECT_TRUE(s.check_invariants().ok());
  QueueSpec bad = q;
  bad.max_running_jobs = -1;
  EXPECT_FALSE(s.set_queue(bad).ok());
}

TEST(Scheduler, BorrowsFromItsCohortAndGivesItBackByPreemption) {
  Scheduler s({.preemption_grace_ms = 5000});
  ASSERT_TRUE(s.add_node(node("a", 8)).ok());
  ASSERT_TRUE(s.set_queue(queue("a", 4, "ws")).ok());
  ASSERT_TRUE(s.set_queue(queue("b", 4, "ws")).ok());
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(s.submit(job(i, "a", 1), 0).ok());
  s.cycle(0);
  EXPECT_EQ(s.queue("a")->used_milli, 8000) << "a borrows b's idle quota";
  // b wants its quota back: borrowers are preempted, youngest first.
  ASSERT_TRUE(s.submit(job(100, "b", 2), 10).ok());
  auto d = s.cycle(10);
  auto pre = of_kind(d, Decision::Kind::kPreempt);
  ASSERT_EQ(pre.size(), 2u);
  for (const auto& p : pre) {
    EXPECT_EQ(p.for_job, 100);
    EXPECT_EQ(p.grace_ms, 5000);
    EXPECT_NE(p.reason.find("give project b back its nominal quota"), std::string::npos)
        << p.reason;
  }
  EXPECT_EQ(s.reason(100), "pending: waiting for 2 preempted job(s) to stop");
  for (const auto& p : pre) ASSERT_TRUE(s.finished(p.job, 20).ok());
  s.cycle(20);
  EXPECT_TRUE(s.is_running(100));
  EXPECT_TRUE(s.check_invariants().ok());

  // A lending limit keeps part of the quota home.
  Scheduler t;
  ASSERT_TRUE(t.add_node(node("a", 8)).ok());
  ASSERT_TRUE(t.set_queue(queue("a", 4, "ws")).ok());
  QueueSpec b = queue("b", 4, "ws");
  b.lending_limit_milli = 1000;
  ASSERT_TRUE(t.set_queue(b).ok());
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(t.submit(job(i, "a", 1), 0).ok());
  t.cycle(0);
  EXPECT_EQ(t.queue("a")->used_milli, 5000);
  EXPECT_NE(t.reason(6).find("cohort ws has 0 more to lend"), std::string::npos) << t.reason(6);
}

TEST(Scheduler, PreemptsLowerPriorityButNeverANonPreemptibleJob) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 4)).ok());
  ASSERT_TRUE(s.set_queue(queue("p", 8)).ok());
  JobSpec keep = job(1, "p", 2, 0);
  keep.preemptible = false;
  ASSERT_TRUE(s.submit(keep, 0).ok());
  ASSERT_TRUE(s.submit(job(2, "p", 2, 0), 0).ok());
  s.cycle(0);
  ASSERT_TRUE(s.is_running(1) && s.is_running(2));
  ASSERT_TRUE(s.submit(job(3, "p", 2, 5), 1).ok());
  auto pre = of_kind(s.cycle(1), Decision::Kind::kPreempt);
  ASSERT_EQ(pre.size(), 1u);
  EXPECT_EQ(pre[0].job, 2);
  ASSERT_TRUE(s.finished(2, 2).ok());
  s.cycle(2);
  EXPECT_TRUE(s.is_running(3));
  // Nothing preemptible is left below priority 9: the reason says so.
  ASSERT_TRUE(s.submit(job(4, "p", 4, 9), 3).ok());
  auto d = s.cycle(3);
  EXPECT_TRUE(of_kind(d, Decision::Kind::kPreempt).empty() ||
              of_kind(d, Decision::Kind::kPreempt)[0].job == 3);
  EXPECT_NE(s.reason(4).find("non-preemptible"), std::string::npos) << s.reason(4);
  EXPECT_TRUE(s.is_running(1));
}

TEST(Scheduler, GangsAreAllOrNothing) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 8)).ok());
  ASSERT_TRUE(s.add_node(node("b", 4)).ok());
  ASSERT_TRUE(s.set_queue(queue("p", 32)).ok());
  JobSpec gang = job(1, "p", 8);
  gang.workers = 2;  // needs two nodes with 8 free GPUs each: there is one
  ASSERT_TRUE(s.submit(gang, 0).ok());
  auto d = s.cycle(0);
  EXPECT_TRUE(of_kind(d, Decision::Kind::kPlace).empty());
  EXPECT_EQ(s.allocated_milli(), 0) << "no worker placed alone";
  EXPECT_NE(s.reason(1).find("for each of 2 workers"), std::string::npos) << s.reason(1);
  ASSERT_TRUE(s.add_node(node("c", 8)).ok());
  d = s.cycle(1);
  auto placed = of_kind(d, Decision::Kind::kPlace);
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].placement.size(), 2u);
  EXPECT_NE(placed[0].placement[0].node, placed[0].placement[1].node);
  EXPECT_TRUE(s.check_invariants().ok());
}

TEST(Scheduler, GpuSharesPackOneDeviceAndCountAgainstQuota) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 2)).ok());
  QueueSpec q = queue("dev", 1);
  q.borrowing_limit_milli = 0;
  ASSERT_TRUE(s.set_queue(q).ok());
  for (int i = 1; i <= 5; ++i) {
    JobSpec j = job(i, "dev", 0);
    j.share_memory_mib = 16000;
    j.share_cores_percent = 25;
    ASSERT_TRUE(s.submit(j, 0).ok());
  }
  auto placed = of_kind(s.cycle(0), Decision::Kind::kPlace);
  ASSERT_EQ(placed.size(), 4u) << "4 x 25% fill the project's one GPU of quota";
  for (const auto& p : placed)
    EXPECT_EQ(p.placement[0].gpus, std::vector<int>{placed[0].placement[0].gpus});
  EXPECT_EQ(s.queue("dev")->used_milli, 1000);
  EXPECT_NE(s.reason(5).find("uses 1 of 1 GPUs"), std::string::npos) << s.reason(5);
  JobSpec mixed = job(9, "dev", 1);
  mixed.share_cores_percent = 10;
  EXPECT_FALSE(s.submit(mixed, 0).ok());
  EXPECT_TRUE(s.check_invariants().ok());
}

TEST(Scheduler, BackfillRunsShortJobsBehindABlockedOneButNotLongOnes) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 8)).ok());
  ASSERT_TRUE(s.set_queue(queue("p", 16)).ok());
  JobSpec running = job(1, "p", 6);
  running.runtime_estimate_ms = 100000;
  ASSERT_TRUE(s.submit(running, 0).ok());
  s.cycle(0);
  JobSpec big = job(2, "p", 8);  // first in line, blocked until job 1 ends (~100 s)
  ASSERT_TRUE(s.submit(big, 1).ok());
  JobSpec short_one = job(3, "p", 2);
  short_one.runtime_estimate_ms = 50000;
  JobSpec long_one = job(4, "p", 2);
  long_one.runtime_estimate_ms = 500000;
  ASSERT_TRUE(s.submit(long_one, 1).ok());
  ASSERT_TRUE(s.submit(short_one, 1).ok());
  s.cycle(1);
  EXPECT_FALSE(s.is_running(2));
  EXPECT_TRUE(s.is_running(3)) << s.reason(3);
  EXPECT_FALSE(s.is_running(4));
  EXPECT_NE(s.reason(4).find("held for job 2"), std::string::npos) << s.reason(4);
}

TEST(Scheduler, RejectsWhatNoNodeCouldHoldAndBadInput) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 4)).ok());
  ASSERT_TRUE(s.set_queue(queue("p", 16)).ok());
  ASSERT_TRUE(s.submit(job(1, "p", 8), 0).ok());
  auto r = of_kind(s.cycle(0), Decision::Kind::kReject);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].reason.find("could ever hold"), std::string::npos);
  EXPECT_EQ(s.submit(job(2, "nope", 1), 0).code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.submit(job(3, "p", -1), 0).code(), Code::kInvalidArgument);
  EXPECT_EQ(s.add_node(node("a", 1)).code(), Code::kAlreadyExists);
  EXPECT_EQ(s.pending_count(), 0u);
}

// The stated bound: a job within its queue's unused nominal quota, whose worker fits on a
// node once borrowers' preemptible jobs there are gone (a one-GPU job always does), starts
// within one preemption grace period (its victims' stop) plus one cycle. Random clusters
// and workloads; a borrower fills everything first.
TEST(SchedulerInvariants, UnderQuotaJobsAreNotStarvedBeyondOneGracePeriod) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int64_t grace = 30000;
    Scheduler s({.policy = static_cast<Policy>(seed % 3), .preemption_grace_ms = grace});
    int total = 0;
    for (int n = 0; n < pick(1, 4); ++n) {
      const int g = pick(2, 8);
      total += g;
      ASSERT_TRUE(s.add_node(node("n" + std::to_string(n), g)).ok());
    }
    const int nominal_a = pick(1, total);
    ASSERT_TRUE(s.set_queue(queue("a", nominal_a, "ws")).ok());
    ASSERT_TRUE(s.set_queue(queue("b", total - nominal_a, "ws")).ok());
    // b borrows a's idle quota with small preemptible jobs until nothing more fits.
    int64_t id = 1, now = 0;
    for (int i = 0; i < total * 2; ++i)
      ASSERT_TRUE(s.submit(job(id++, "b", pick(1, 2), pick(0, 5)), now).ok());
    s.cycle(now);
    // a's jobs, each within its remaining nominal quota, one at a time.
    for (int k = 0; k < 5; ++k) {
      const auto qa = *s.queue("a");
      const int room = static_cast<int>((qa.nominal_milli - qa.used_milli) / 1000);
      if (room < 1) break;
      // One GPU: it fits on a node once a borrower's job there is gone. (A multi-GPU job
      // may find the GPUs it could reclaim scattered over nodes: outside the bound.)
      const int64_t mine = id++;
      ASSERT_TRUE(s.submit(job(mine, "a", 1), now).ok());
      const int64_t submitted = now;
      for (int round = 0; round < 3 && !s.is_running(mine); ++round) {
        auto dd = s.cycle(now);
        if (std::getenv("SCHED_DEBUG_SEED") &&
            std::to_string(seed) == std::getenv("SCHED_DEBUG_SEED")) {
          for (const auto& d : dd)
            std::printf("k%d r%d %s job %lld for %lld: %s\n", k, round, kind_name(d.kind),
                        (long long)d.job, (long long)d.for_job, d.reason.c_str());
        }
        for (const auto& d : dd) {
          if (d.kind == Decision::Kind::kPreempt) {
            ASSERT_TRUE(s.finished(d.job, now + grace).ok());
          }
        }
        if (!s.is_running(mine)) now += grace;  // the victims stop within the grace period
      }
      s.cycle(now);
      ASSERT_TRUE(s.is_running(mine)) << "seed " << seed << ": " << s.reason(mine);
      EXPECT_LE(now - submitted, grace) << "seed " << seed;
      ASSERT_TRUE(s.check_invariants().ok());
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000);
}

// A restart rebuilds the same view: a second engine given the same nodes and queues, the
// running jobs adopted on their placements, the usage history, and the pending jobs again
// in their order, shows the same usage and makes the same next decisions.
// binpack: the same next decisions too. fgd and spread measure the workload again from
// the jobs adopted and submitted, so their next placements may differ among nodes that are
// equally good by the measure each has; what they place still holds every promise.
TEST(SchedulerRebuild, ARestartRebuildsTheSameView) {
  int compared = 0;
  for (uint64_t seed = 1; seed <= 600; ++seed) {
    const Policy policy = seed % 2 ? Policy::kBinpack : Policy::kFgd;
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::vector<NodeSpec> nodes;
    nodes.reserve(4);
    std::vector<QueueSpec> queues;
    for (int n = 0; n < pick(1, 4); ++n) nodes.push_back(node("n" + std::to_string(n), pick(1, 8)));
    for (const char* p : {"a", "b", "c"}) {
      QueueSpec q = queue(p, pick(0, 8), "ws");
      if (pick(0, 1)) q.per_user_milli = pick(1, 6) * int64_t{1000};
      queues.push_back(q);
    }
    auto fresh = [&](Scheduler& s) {
      for (const auto& n : nodes) ASSERT_TRUE(s.add_node(n).ok());
      for (const auto& q : queues) ASSERT_TRUE(s.set_queue(q).ok());
    };
    Scheduler a({.policy = policy});
    fresh(a);
    std::map<int64_t, JobSpec> specs;
    std::map<int64_t, std::pair<std::vector<WorkerPlacement>, int64_t>> running;
    int64_t now = 0;
    auto apply = [&](const std::vector<Decision>& ds, Scheduler& s) {
      for (const auto& d : ds) {
        if (d.kind == Decision::Kind::kPlace) running[d.job] = {d.placement, now};
        if (d.kind == Decision::Kind::kPreempt) {
          ASSERT_TRUE(s.finished(d.job, now).ok());
          running.erase(d.job);
        }
      }
    };
    for (int64_t id = 1; id <= 30; ++id) {
      now += pick(1, 500);
      JobSpec j = job(id, std::vector<std::string>{"a", "b", "c"}[pick(0, 2)], 0, pick(0, 3),
                      pick(0, 1) ? "u1" : "u2");
      if (pick(0, 2) == 0) {
        j.share_cores_percent = pick(1, 100);
        j.share_memory_mib = pick(0, 40000);
      } else {
        j.gpus = pick(1, 4);
      }
      ASSERT_TRUE(a.submit(j, now).ok());
      specs[id] = j;
      if (pick(0, 2) == 0 && !running.empty()) {
        auto it = running.begin();
        std::advance(it, pick(0, static_cast<int>(running.size()) - 1));
        ASSERT_TRUE(a.finished(it->first, now).ok());
        running.erase(it);
      }
      apply(a.cycle(now), a);
    }
    // The restart.
    Scheduler b({.policy = policy});
    fresh(b);
    for (const auto& q : queues)
      ASSERT_TRUE(b.set_usage_history(q.project, *a.usage_history(q.project)).ok());
    for (const auto& [id, r] : running) {
      Status st = b.adopt(specs[id], r.first, r.second);
      ASSERT_TRUE(st.ok()) << "seed " << seed << ": " << st.message();
    }
    for (const auto& [id, spec] : specs) {
      if (a.is_pending(id)) {
        ASSERT_TRUE(b.submit(spec, now).ok());
      }
    }
    ASSERT_TRUE(b.check_invariants().ok()) << b.check_invariants().message();
    for (const char* p : {"a", "b", "c"}) {
      EXPECT_EQ(a.queue(p)->used_milli, b.queue(p)->used_milli) << "seed " << seed;
      EXPECT_EQ(a.queue(p)->pending_jobs, b.queue(p)->pending_jobs) << "seed " << seed;
      for (const char* u : {"u1", "u2"})
        EXPECT_EQ(a.user_usage_milli(p, u), b.user_usage_milli(p, u));
    }
    EXPECT_EQ(a.allocated_milli(), b.allocated_milli());
    if (a.nominated_count() > 0) continue;  // a nomination is not part of what is persisted
    // The same next decisions after the same event.
    now += 100;
    if (!running.empty()) {
      const int64_t done = running.begin()->first;
      ASSERT_TRUE(a.finished(done, now).ok());
      ASSERT_TRUE(b.finished(done, now).ok());
    }
    auto strip = [](const std::vector<Decision>& ds) {
      std::vector<std::string> out;
      for (const auto& d : ds) {
        if (d.kind == Decision::Kind::kPending) continue;  // reasons are not persisted
        std::string line = std::string(kind_name(d.kind)) + " " + std::to_string(d.job);
        for (const auto& p : d.placement) {
          line += " " + p.node;
          for (int g : p.gpus) line += ":" + std::to_string(g);
        }
        out.push_back(line);
      }
      return out;
    };
    if (policy == Policy::kBinpack) {
      EXPECT_EQ(strip(a.cycle(now)), strip(b.cycle(now))) << "seed " << seed;
      ++compared;
    } else {
      b.cycle(now);
      EXPECT_TRUE(b.check_invariants().ok())
          << "seed " << seed << ": " << b.check_invariants().message();
    }
  }
  EXPECT_GT(compared, 200);
}

// Random histories: every promise holds after every cycle.
TEST(SchedulerInvariants, HoldOverThousandsOfRandomHistories) {
  int preemptions = 0, placements = 0;
  for (uint64_t seed = 1; seed <= 5000; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Scheduler s({.policy = static_cast<Policy>(seed % 3), .backfill = seed % 4 != 0});
    const int node_count = pick(1, 4);
    for (int n = 0; n < node_count; ++n) {
      ASSERT_TRUE(
          s.add_node(node("n" + std::to_string(n), pick(1, 8), n % 2 ? "dev" : "default")).ok());
    }
    const char* projects[] = {"a", "b", "c"};
    for (const char* p : projects) {
      QueueSpec q = queue(p, pick(0, 8), pick(0, 1) ? "ws" : "");
      if (pick(0, 1)) q.borrowing_limit_milli = pick(0, 4) * int64_t{1000};
      if (pick(0, 1)) q.lending_limit_milli = pick(0, 4) * int64_t{1000};
      if (pick(0, 1)) q.per_user_milli = pick(1, 6) * int64_t{1000};
      if (pick(0, 3) == 0) q.max_running_jobs = pick(1, 6);
      if (pick(0, 3) == 0) q.cpu_limit_milli = pick(1, 8) * int64_t{1000};
      ASSERT_TRUE(s.set_queue(q).ok());
    }
    std::map<int64_t, JobSpec> specs;
    std::vector<int64_t> running;
    int64_t next = 1, now = 0;
    for (int step = 0; step < 40; ++step) {
      now += pick(1, 1000);
      const int action = pick(0, 9);
      if (action < 5) {
        JobSpec j = job(next++, projects[pick(0, 2)], 0, pick(0, 3), pick(0, 1) ? "u1" : "u2");
        if (pick(0, 2) == 0) {
          j.share_cores_percent = pick(1, 100);
          j.share_memory_mib = pick(0, 40000);
        } else {
          j.gpus = pick(1, 4);
        }
        j.workers = pick(0, 4) == 0 ? 2 : 1;
        j.preemptible = pick(0, 3) != 0;
        j.pool = pick(0, 3) == 0 ? "dev" : "default";
        j.runtime_estimate_ms = pick(0, 1) ? pick(1, 5000) : 0;
        ASSERT_TRUE(s.submit(j, now).ok());
        specs[j.id] = j;
      } else if (action < 8 && !running.empty()) {
        const size_t k = static_cast<size_t>(pick(0, static_cast<int>(running.size()) - 1));
        if (s.is_running(running[k])) {
          ASSERT_TRUE(s.finished(running[k], now).ok());
        }
        running.erase(running.begin() + static_cast<long>(k));
      } else if (action == 8 && next > 1) {
        (void)s.cancel(pick(1, static_cast<int>(next - 1)), now);
      } else {
        (void)s.set_gpu_health("n0", 0, pick(0, 1) == 1);
      }
      // Usage per queue before the cycle, to judge the preemptions it makes.
      std::map<std::string, QueueState> before;
      for (const char* p : projects) before[p] = *s.queue(p);
      auto decisions = s.cycle(now);
      if (std::getenv("SCHED_DEBUG_SEED") &&
          std::to_string(seed) == std::getenv("SCHED_DEBUG_SEED")) {
        for (const auto& d : decisions) {
          std::string where;
          for (const auto& p : d.placement) {
            where += " " + p.node + "[";
            for (int g : p.gpus) where += std::to_string(g) + ",";
            where += "]";
          }
          const JobSpec& js = specs[d.job];
          std::printf(
              "step %d t=%lld %s job %lld (%s prio %d gpus %d share %d/%d w%d pool %s)%s: %s\n",
              step, (long long)now, kind_name(d.kind), (long long)d.job, js.project.c_str(),
              js.priority, js.gpus, js.share_cores_percent, js.share_memory_mib, js.workers,
              js.pool.c_str(), where.c_str(), d.reason.c_str());
        }
      }
      Status inv = s.check_invariants();
      ASSERT_TRUE(inv.ok()) << "seed " << seed << " step " << step << ": " << inv.message();
      std::set<int64_t> preemptors;
      std::vector<const JobSpec*> placed_after;  // placements after some preemption
      for (const auto& d : decisions) {
        if (d.kind == Decision::Kind::kPlace) {
          if (!preemptors.empty()) placed_after.push_back(&specs[d.job]);
          running.push_back(d.job);
          ++placements;
          if (specs[d.job].workers > 1) {
            EXPECT_EQ(d.placement.size(), 2u);
          }
        }
        if (d.kind == Decision::Kind::kPreempt) {
          ++preemptions;
          const JobSpec& victim = specs[d.job];
          const JobSpec& for_job = specs[d.for_job];
          ASSERT_TRUE(victim.preemptible) << "seed " << seed;
          // Only for a higher-priority job of its own project, or for another project of
          // its cohort while it borrows.
          EXPECT_TRUE((for_job.project == victim.project && for_job.priority > victim.priority) ||
                      (for_job.project != victim.project && d.victim_borrowing))
              << "seed " << seed << ": " << d.reason;
          // The victim is being stopped; the executor reports it finished.
          ASSERT_TRUE(s.finished(d.job, now).ok());
          preemptors.insert(d.for_job);
        }
      }
      // Preemption admits the job it was for: once the victims stopped, it runs.
      // (Unless a job of at least its priority took the room in the same pool.)
      if (!preemptors.empty()) {
        for (const auto& d : s.cycle(now)) {
          if (d.kind == Decision::Kind::kPlace) {
            placed_after.push_back(&specs[d.job]);
            running.push_back(d.job);
          }
        }
        for (int64_t p : preemptors) {
          bool overtaken = false;
          for (const JobSpec* o : placed_after) {
            overtaken = overtaken || (o->id != p && o->pool == specs[p].pool &&
                                      o->priority >= specs[p].priority);
          }
          EXPECT_TRUE(s.is_running(p) || overtaken)
              << "seed " << seed << " step " << step << ": job " << p
              << " preempted others and still waits: " << s.reason(p);
        }
        ASSERT_TRUE(s.check_invariants().ok());
      }
    }
  }
  EXPECT_GT(placements, 10000);
  EXPECT_GT(preemptions, 50) << "the histories exercise preemption";
}

// Exact placement: over random heterogeneous clusters (GPU counts, models, CPU, memory,
// device sizes) and random jobs (CPU-only, whole GPUs, shares, gangs, CPU and memory, a
// model or any), arriving and ending, a job is reported waiting for room only when a
// brute-force oracle over every node agrees that none has it; and nothing placed is
// more than a node or device holds.
TEST(SchedulerExact, AJobWaitsForRoomOnlyWhenNoNodeHasIt) {
  struct Dev {
    int mem_total = 0, mem_used = 0, cores_used = 0, shares = 0;
    bool exclusive = false;
  };
  struct Model {
    std::string pool, flavor;
    int64_t cpu_free = 0, mem_free = 0;
    std::vector<Dev> gpus;
  };
  int checked = 0, placed_total = 0;
  for (int seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Options o;
    o.policy = seed % 3 == 0 ? Policy::kFgd : seed % 3 == 1 ? Policy::kBinpack : Policy::kSpread;
    Scheduler s(o);
    std::map<std::string, Model> model;
    const int node_count = pick(3, 60);
    for (int i = 0; i < node_count; ++i) {
      NodeSpec n;
      n.name = "n" + std::to_string(i);
      n.pool = pick(0, 3) == 0 ? "other" : "default";
      n.flavor = pick(0, 1) ? "a100" : "v100";
      n.cpu_milli = int64_t{1000} * pick(4, 96);
      n.memory_mib = int64_t{1024} * pick(8, 512);
      const int gpus = std::vector<int>{0, 1, 2, 4, 8}[pick(0, 4)];
      const int device_mib = pick(0, 1) ? 16384 : 81920;
      Model m{n.pool, n.flavor, n.cpu_milli, n.memory_mib, {}};
      for (int g = 0; g < gpus; ++g) {
        n.gpus.push_back({n.name + "-" + std::to_string(g), device_mib, 80, true});
        m.gpus.push_back({device_mib, 0, 0, 0, false});
      }
      ASSERT_TRUE(s.add_node(n).ok());
      model[n.name] = m;
    }
    // How many workers of `j` the cluster could take now, by trying every node.
    auto room_for = [&](const JobSpec& j) {
      int64_t total = 0;
      for (const auto& [name, m] : model) {
        if (m.pool != j.pool || (!j.flavor.empty() && j.flavor != m.flavor)) continue;
        int64_t c = std::numeric_limits<int64_t>::max();
        if (j.cpu_milli > 0) c = std::min(c, m.cpu_free / j.cpu_milli);
        if (j.memory_mib > 0) c = std::min(c, m.mem_free / j.memory_mib);
        if (j.share_cores_percent > 0) {
          int64_t fits = 0;
          for (const Dev& d : m.gpus) {
            if (d.exclusive) continue;
            int64_t k = (100 - d.cores_used) / j.share_cores_percent;
            if (j.share_memory_mib > 0)
              k = std::min<int64_t>(k, (d.mem_total - d.mem_used) / j.share_memory_mib);
            fits += std::max<int64_t>(0, k);
          }
          c = std::min(c, fits);
        } else if (j.gpus > 0) {
          int64_t empty = 0;
          for (const Dev& d : m.gpus) empty += !d.exclusive && d.shares == 0;
          c = std::min(c, empty / j.gpus);
        }
        total += c;
        if (total >= j.workers) return true;
      }
      return false;
    };
    std::map<int64_t, JobSpec> specs;
    std::map<int64_t, std::vector<WorkerPlacement>> running;
    auto apply = [&](const JobSpec& j, const std::vector<WorkerPlacement>& where, int sign) {
      for (const auto& w : where) {
        Model& m = model.at(w.node);
        m.cpu_free -= sign * j.cpu_milli;
        m.mem_free -= sign * j.memory_mib;
        ASSERT_GE(m.cpu_free, 0) << w.node;
        ASSERT_GE(m.mem_free, 0) << w.node;
        for (int g : w.gpus) {
          Dev& d = m.gpus.at(g);
          if (j.share_cores_percent > 0) {
            d.cores_used += sign * j.share_cores_percent;
            d.mem_used += sign * j.share_memory_mib;
            d.shares += sign;
            ASSERT_LE(d.cores_used, 100);
            ASSERT_LE(d.mem_used, d.mem_total);
            ASSERT_FALSE(d.exclusive);
          } else {
            ASSERT_TRUE(sign < 0 || (!d.exclusive && d.shares == 0)) << w.node << " gpu " << g;
            d.exclusive = sign > 0;
          }
        }
      }
    };
    int64_t now = 1000;
    for (int64_t id = 1; id <= 250; ++id) {
      JobSpec j;
      j.id = id;
      j.project = "p" + std::to_string(id);  // a queue each: no queue's reservation holds another
      j.user = "u";
      j.preemptible = false;
      j.pool = pick(0, 4) == 0 ? "other" : "default";
      if (pick(0, 3) == 0) j.flavor = pick(0, 1) ? "a100" : "v100";
      const int kind = pick(0, 9);
      if (kind < 2) {
        j.gpus = 0;
      } else if (kind < 6) {
        j.gpus = std::vector<int>{1, 1, 1, 2, 4, 8}[pick(0, 5)];
      } else {
        j.share_cores_percent = std::vector<int>{10, 25, 30, 50, 70, 100}[pick(0, 5)];
        j.share_memory_mib = pick(1, 20) * 1000;
      }
      j.cpu_milli = int64_t{500} * pick(0, 64);
      j.memory_mib = int64_t{1024} * pick(0, 128);
      j.workers = pick(0, 9) == 0 ? pick(2, 3) : 1;
      QueueSpec q;
      q.project = j.project;
      q.nominal_milli = kUnlimited / 2;
      ASSERT_TRUE(s.set_queue(q).ok());
      if (!s.submit(j, now).ok()) continue;  // no node could ever hold it
      specs[id] = j;
      // Now and then some running jobs end.
      if (pick(0, 3) == 0 && !running.empty()) {
        auto it = running.begin();
        std::advance(it, pick(0, static_cast<int>(running.size()) - 1));
        ASSERT_TRUE(s.finished(it->first, now).ok());
        apply(specs.at(it->first), it->second, -1);
        running.erase(it);
      }
      now += 1000;
      for (const Decision& d : s.cycle(now)) {
        if (d.kind == Decision::Kind::kPlace) {
          apply(specs.at(d.job), d.placement, +1);
          running[d.job] = d.placement;
          ++placed_total;
        }
        ASSERT_NE(d.kind, Decision::Kind::kPreempt);
      }
      for (const auto& [pid, spec] : specs) {
        if (!s.is_pending(pid)) continue;
        const std::string why = s.reason(pid);
        if (why.rfind("pending: no node", 0) != 0) continue;
        ++checked;
        EXPECT_FALSE(room_for(spec))
            << "seed " << seed << ": job " << pid << " (" << spec.gpus << " GPUs, share "
            << spec.share_cores_percent << "% " << spec.share_memory_mib << " MiB, "
            << spec.cpu_milli << " mCPU, " << spec.memory_mib << " MiB, " << spec.workers
            << " workers, flavor '" << spec.flavor << "') waits with room for it: " << why;
      }
    }
  }
  EXPECT_GT(checked, 1000) << "the oracle saw few waiting jobs";
  EXPECT_GT(placed_total, 3000);
}

TEST(Scheduler, ViewsShowWhatEachDeviceHoldsAndTheQueueInOrder) {
  Scheduler s;
  ASSERT_TRUE(s.add_node(node("a", 2)).ok());
  QueueSpec q = queue("vision", 2);
  q.borrowing_limit_milli = 0;
  ASSERT_TRUE(s.set_queue(q).ok());
  ASSERT_TRUE(s.set_queue(queue("nlp", 8)).ok());
  JobSpec share = job(1, "vision", 0);
  share.share_cores_percent = 30;
  share.share_memory_mib = 20000;
  ASSERT_TRUE(s.submit(share, 0).ok());
  ASSERT_TRUE(s.submit(job(2, "nlp", 1, 0, "bob"), 0).ok());
  s.cycle(0);
  // Waiting: vision has 1 of 2 GPUs left but the node has none whole; 3 outranks 4 by
  // priority though submitted later.
  ASSERT_TRUE(s.submit(job(4, "vision", 2), 1).ok());
  ASSERT_TRUE(s.submit(job(3, "nlp", 1, 5, "bob"), 2).ok());
  s.cycle(3);

  auto nodes = s.nodes_view();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "a");
  EXPECT_EQ(nodes[0].pool, "default");
  EXPECT_EQ(nodes[0].cpu_used_milli, 2000);
  ASSERT_EQ(nodes[0].gpus.size(), 2u);
  int shared = nodes[0].gpus[0].holders.size() == 1 && !nodes[0].gpus[0].holders[0].whole ? 0 : 1;
  const auto& sd = nodes[0].gpus[shared];
  const auto& wd = nodes[0].gpus[1 - shared];
  EXPECT_EQ(sd.uuid, "a-gpu" + std::to_string(shared));
  ASSERT_EQ(sd.holders.size(), 1u);
  EXPECT_EQ(sd.holders[0].job, 1);
  EXPECT_EQ(sd.holders[0].memory_mib, 20000);
  EXPECT_EQ(sd.holders[0].cores_percent, 30);
  EXPECT_EQ(sd.memory_used_mib, 20000);
  EXPECT_EQ(sd.cores_used_percent, 30);
  ASSERT_EQ(wd.holders.size(), 1u);
  EXPECT_EQ(wd.holders[0].job, 2);
  EXPECT_TRUE(wd.holders[0].whole);
  EXPECT_EQ(wd.cores_used_percent, 100);
  EXPECT_EQ(wd.memory_used_mib, 81920);

  auto queue = s.queue_view();
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0].job, 3);
  EXPECT_EQ(queue[0].priority, 5);
  EXPECT_EQ(queue[1].job, 4);
  EXPECT_EQ(queue[1].charge_milli, 2000);
  EXPECT_EQ(queue[1].project, "vision");
  EXPECT_NE(queue[1].reason.find("vision"), std::string::npos) << queue[1].reason;
  EXPECT_FALSE(queue[0].reason.empty());

  // Taken away, a job leaves both views.
  ASSERT_TRUE(s.finished(2, 4).ok());
  ASSERT_TRUE(s.cancel(4, 4).ok());
  EXPECT_TRUE(s.nodes_view()[0].gpus[1 - shared].holders.empty());
  ASSERT_EQ(s.queue_view().size(), 1u);
}

}  // namespace
}  // namespace jz::sched

namespace jz::sched {
namespace {

NodeSpec in_cluster(NodeSpec n, const std::string& cluster) {
  n.cluster = cluster;
  return n;
}

TEST(Scheduler, GangsStayInOneClusterAndJobsGoWhereTheyMay) {
  for (Policy p : {Policy::kBinpack, Policy::kSpread, Policy::kFgd}) {
    Scheduler s({.policy = p});
    ASSERT_TRUE(s.add_node(in_cluster(node("a1", 4), "a")).ok());
    ASSERT_TRUE(s.add_node(in_cluster(node("b1", 4), "b")).ok());
    ASSERT_TRUE(s.add_node(in_cluster(node("b2", 4), "b")).ok());
    ASSERT_TRUE(s.set_queue(queue("p", 100)).ok());
    // Two workers of 4 GPUs: only cluster b has two such nodes.
    JobSpec gang = job(1, "p", 4);
    gang.workers = 2;
    ASSERT_TRUE(s.submit(gang, 0).ok());
    auto d = of_kind(s.cycle(0), Decision::Kind::kPlace);
    ASSERT_EQ(d.size(), 1u) << policy_name(p);
    std::set<std::string> nodes;
    for (const auto& w : d[0].placement) nodes.insert(w.node);
    EXPECT_EQ(nodes, (std::set<std::string>{"b1", "b2"})) << policy_name(p);
    // Another such gang would need a1 and a node of b: it waits rather than split.
    JobSpec gang2 = job(2, "p", 4);
    gang2.workers = 2;
    ASSERT_TRUE(s.submit(gang2, 1).ok());
    EXPECT_TRUE(of_kind(s.cycle(1), Decision::Kind::kPlace).empty()) << policy_name(p);
    ASSERT_TRUE(s.cancel(2, 2).ok());
    // A job limited to cluster b waits for it even with a1 free.
    JobSpec only_b = job(3, "p", 1);
    only_b.clusters = "b";
    ASSERT_TRUE(s.submit(only_b, 3).ok());
    EXPECT_TRUE(of_kind(s.cycle(3), Decision::Kind::kPlace).empty()) << policy_name(p);
    ASSERT_TRUE(s.cancel(3, 4).ok());
    JobSpec a_or_b = job(4, "p", 1);
    a_or_b.clusters = "b|a";
    ASSERT_TRUE(s.submit(a_or_b, 4).ok());
    d = of_kind(s.cycle(4), Decision::Kind::kPlace);
    ASSERT_EQ(d.size(), 1u) << policy_name(p);
    EXPECT_EQ(d[0].job, 4);
    EXPECT_EQ(d[0].placement[0].node, "a1");
    EXPECT_TRUE(s.check_invariants().ok());
  }
}

TEST(Scheduler, AnUnschedulableNodeTakesNothingNewAndKeepsWhatRuns) {
  for (Policy p : {Policy::kBinpack, Policy::kSpread, Policy::kFgd}) {
    Scheduler s({.policy = p});
    ASSERT_TRUE(s.add_node(in_cluster(node("x1", 2), "x")).ok());
    ASSERT_TRUE(s.add_node(in_cluster(node("y1", 2), "y")).ok());
    ASSERT_TRUE(s.set_queue(queue("p", 100)).ok());
    JobSpec first = job(1, "p", 2);
    first.clusters = "x";
    ASSERT_TRUE(s.submit(first, 0).ok());
    ASSERT_EQ(of_kind(s.cycle(0), Decision::Kind::kPlace).size(), 1u);
    ASSERT_TRUE(s.set_node_schedulable("y1", false).ok());
    ASSERT_TRUE(s.submit(job(2, "p", 1), 1).ok());
    EXPECT_TRUE(of_kind(s.cycle(1), Decision::Kind::kPlace).empty()) << policy_name(p);
    EXPECT_TRUE(s.is_running(1));
    ASSERT_TRUE(s.set_node_schedulable("x1", false).ok());
    ASSERT_TRUE(s.finished(1, 2).ok()) << "a job on an unschedulable node ends as usual";
    EXPECT_TRUE(of_kind(s.cycle(2), Decision::Kind::kPlace).empty()) << policy_name(p);
    ASSERT_TRUE(s.set_node_schedulable("y1", true).ok());
    auto d = of_kind(s.cycle(3), Decision::Kind::kPlace);
    ASSERT_EQ(d.size(), 1u) << policy_name(p);
    EXPECT_EQ(d[0].placement[0].node, "y1");
    EXPECT_FALSE(s.set_node_schedulable("nowhere", false).ok());
    EXPECT_TRUE(s.check_invariants().ok());
  }
}

}  // namespace
}  // namespace jz::sched
