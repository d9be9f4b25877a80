#include "cli/sched_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <unordered_map>

#include "core/files.h"
#include "core/json.h"
#include "core/text.h"
#include "sched/scheduler.h"
#include "sched/sim.h"
#include "sched/trace.h"

namespace jz::cli {
namespace {

double rss_mib() {  // current resident memory
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024.0) / 1024.0;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

Result<sched::ClusterSpec> read_cluster(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return sched::parse_cluster(text, path);
}

// A workload file: a trace (.csv) or a generator (YAML, which may name the cluster's pools).
Result<sched::Workload> read_workload(const std::string& path, const sched::ClusterSpec& cluster,
                                      double max_jobs) {
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  const bool csv = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  return csv ? sched::parse_trace(text, path)
             : sched::parse_generator(text, path, cluster, max_jobs);
}

}  // namespace

SchedCommands::SchedCommands(CLI::App& app) {
  auto* sched = app.add_subcommand("sched", "The GPU scheduling engine (docs/SCHEDULING.md)");
  sched->require_subcommand(1);
  auto* bench = sched->add_subcommand(
      "bench",
      "Build a cluster and a backlog in memory, schedule it until nothing more fits, and print\n"
      "one JSON line: placements, seconds, placements_per_second, peak_rss_mib,\n"
      "bytes_per_pending_job. Projects share one cohort with equal nominal quotas; jobs ask\n"
      "for 1, 2, 4 or 8 GPUs (mostly 1), or with --shares half of them for a GPU share.");
  bench->add_option("--nodes", nodes_, "Nodes")->capture_default_str();
  bench->add_option("--gpus-per-node", gpus_per_node_, "GPUs per node")->capture_default_str();
  bench->add_option("--jobs", jobs_, "Pending jobs")->capture_default_str();
  bench->add_option("--projects", projects_, "Projects (queues)")->capture_default_str();
  bench->add_flag("--shares", shares_, "Half of the jobs ask for a GPU share");
  bench->add_option("--policy", policy_, "binpack, spread or fgd")
      ->check(CLI::IsMember({"binpack", "spread", "fgd"}))
      ->capture_default_str();
  bench->add_option("--seed", seed_, "Random seed")->capture_default_str();
  bench->add_flag("--churn", churn_,
                  "A running cluster instead of one fill: --jobs arrive over simulated time\n"
                  "(a fifth of them shares, three priorities, exponential run times) while\n"
                  "others end and higher priorities preempt borrowers; prints sustained\n"
                  "placements per second and the p50/p99 time of one scheduling cycle");
  bench->callback([this] { action_ = [this] { return churn_ ? this->churn() : this->bench(); }; });

  auto* sim = sched->add_subcommand(
      "sim",
      "Simulate a cluster under a workload with the scheduling engine and write OUT/summary.md\n"
      "(allocation and use per pool, wait percentiles per job class, share received vs\n"
      "entitled per project), summary.json, allocation.csv (by hour) and plot.svg. The\n"
      "formats are in docs/SCHEDULING.md; examples in examples/sched/.");
  sim->add_option("--cluster", cluster_, "Cluster YAML")->required()->option_text("CLUSTER.yaml");
  sim->add_option("--workload", workload_, "A trace (.csv) or a generator (.yaml)")
      ->required()
      ->option_text("TRACE.csv|GENERATOR.yaml");
  sim->add_option("--out", out_, "Output folder (created)")->required()->option_text("DIR");
  sim->callback([this] { action_ = [this] { return this->sim(); }; });

  auto* trace = sched->add_subcommand(
      "trace",
      "The FGD paper's arrival-only experiment on an openb trace (Alibaba's\n"
      "cluster-trace-gpu-v2023), or on a cluster and workload of `sched sim`: tasks drawn\n"
      "with replacement arrive until their GPU requests reach --until times the cluster's\n"
      "GPUs; none leaves. Prints, per seed and on average, the percent of GPUs allocated\n"
      "at each whole percent of requests (the mean over the arrivals whose requests round\n"
      "to it, as the paper's artifact), the failed arrivals and those some\n"
      "node had room for (must be 0). docs/SCHEDULING.md.");
  auto* nodes = trace->add_option("--nodes", trace_nodes_, "openb_node_list_gpu_node.csv")
                    ->option_text("NODES.csv");
  auto* cluster =
      trace->add_option("--cluster", trace_cluster_, "Or a cluster YAML of `sched sim` (its nodes)")
          ->option_text("CLUSTER.yaml");
  nodes->excludes(cluster);
  auto* tasks = trace->add_option("--tasks", trace_tasks_, "An openb_pod_list_*.csv")
                    ->option_text("TASKS.csv");
  auto* workload = trace
                       ->add_option("--workload", trace_workload_,
                                    "Or a workload of `sched sim`, a trace (.csv) or a "
                                    "generator (.yaml): the kinds of tasks drawn")
                       ->option_text("WORKLOAD");
  tasks->excludes(workload);
  trace->add_option("--policy", policy_, "binpack, spread or fgd")
      ->check(CLI::IsMember({"binpack", "spread", "fgd"}))
      ->capture_default_str();
  trace->add_option("--seeds", trace_seeds_, "A seed or a range (42-51, the paper's)")
      ->capture_default_str();
  trace->add_option("--until", trace_until_, "Requests as a multiple of the GPUs")
      ->check(CLI::Range(0.01, 10.0))
      ->capture_default_str();
  trace->add_option("--out", trace_out_, "Also write the curve (percent, one column a seed)")
      ->option_text("CURVE.csv");
  trace->callback([this] { action_ = [this] { return this->trace(); }; });
}

int SchedCommands::trace() {
  const char* cmd = "jizhan sched trace";
  auto fail = [&](const Status& s) {
    std::cerr << cmd << ": error: " << s.message() << "\n";
    return 1;
  };
  uint64_t first = 0, last = 0;
  {
    const size_t dash = trace_seeds_.find('-');
    auto a = parse_int64(trace_seeds_.substr(0, dash));
    auto b = dash == std::string::npos ? a : parse_int64(trace_seeds_.substr(dash + 1));
    if (!a || !b || *a < 0 || *b < *a || *b - *a > 1000) {
      return fail(Status::invalid_argument("--seeds is a seed (42) or a range (42-51), not '" +
                                           trace_seeds_ + "'"));
    }
    first = static_cast<uint64_t>(*a);
    last = static_cast<uint64_t>(*b);
  }
  if (trace_nodes_.empty() == trace_cluster_.empty() ||
      trace_tasks_.empty() == trace_workload_.empty()) {
    return fail(Status::invalid_argument(
        "give the nodes (--nodes NODES.csv or --cluster CLUSTER.yaml) and the tasks (--tasks "
        "TASKS.csv or --workload WORKLOAD.csv|.yaml)"));
  }
  std::vector<sched::TraceNode> nodes;
  std::optional<sched::ClusterSpec> cluster;
  if (!trace_nodes_.empty()) {
    auto text = read_file(trace_nodes_);
    if (!text.ok()) return fail(text.status());
    auto parsed = sched::parse_openb_nodes(*text, trace_nodes_);
    if (!parsed.ok()) return fail(parsed.status());
    nodes = std::move(*parsed);
  } else {
    auto parsed = read_cluster(trace_cluster_);
    if (!parsed.ok()) return fail(parsed.status());
    cluster = std::move(*parsed);
    nodes = sched::trace_nodes_of(*cluster);
  }
  std::vector<sched::TraceTask> tasks;
  if (!trace_tasks_.empty()) {
    auto text = read_file(trace_tasks_);
    if (!text.ok()) return fail(text.status());
    auto parsed = sched::parse_openb_tasks(*text, trace_tasks_);
    if (!parsed.ok()) return fail(parsed.status());
    tasks = std::move(*parsed);
  } else {
    // (Without a cluster, a generator's pools are checked against a default one.)
    auto parsed = read_workload(trace_workload_, cluster ? *cluster : sched::ClusterSpec{}, 1e6);
    if (!parsed.ok()) return fail(parsed.status());
    tasks = sched::trace_tasks_of(*parsed);
    if (tasks.empty()) return fail(Status::invalid_argument(trace_workload_ + ": no jobs"));
  }
  std::vector<sched::ArrivalCurve> curves;
  for (uint64_t seed = first; seed <= last; ++seed) {
    sched::ArrivalOptions o;
    o.policy = *sched::policy_named(policy_);
    o.seed = seed;
    o.until = trace_until_;
    auto c = sched::run_arrivals(nodes, tasks, o);
    if (!c.ok()) return fail(c.status());
    std::cerr << cmd << ": seed " << seed << ": " << c->arrivals << " arrivals, " << c->failed
              << " failed (" << c->failed_with_room << " with room somewhere), "
              << (c->allocated.size() > 100 ? c->allocated[100] : -1) << "% at 100% requested; "
              << "left free: " << c->free_whole_milli / 1000 << " whole GPUs, "
              << c->free_partial_milli / 1000.0 << " in pieces, " << c->cpu_starved_nodes
              << " nodes with free GPUs under 4 free CPUs; " << c->seconds << " s\n";
    curves.push_back(std::move(*c));
  }
  const size_t points = curves[0].allocated.size();
  std::string csv = "requested_percent";
  for (uint64_t seed = first; seed <= last; ++seed) csv += ",seed" + std::to_string(seed);
  csv += ",mean\n";
  Json mean = Json::array();
  for (size_t x = 0; x < points; ++x) {
    double sum = 0;
    csv += std::to_string(x);
    for (const auto& c : curves) {
      char b[32];
      std::snprintf(b, sizeof b, ",%.2f", c.allocated[x]);
      csv += b;
      sum += c.allocated[x];
    }
    char b[32];
    std::snprintf(b, sizeof b, ",%.2f\n", sum / static_cast<double>(curves.size()));
    csv += b;
    mean.push_back(std::round(sum / static_cast<double>(curves.size()) * 100) / 100);
  }
  if (!trace_out_.empty()) {
    Status w = write_file(trace_out_, csv);
    if (!w.ok()) return fail(w);
  }
  int64_t failed = 0, with_room = 0, arrivals = 0;
  double lo = 1e9, hi = -1, seconds = 0;
  for (const auto& c : curves) {
    failed += c.failed;
    with_room += c.failed_with_room;
    arrivals += c.arrivals;
    seconds += c.seconds;
    if (points > 100) {
      lo = std::min(lo, c.allocated[100]);
      hi = std::max(hi, c.allocated[100]);
    }
  }
  Json out = {{"policy", policy_},
              {"seeds", curves.size()},
              {"capacity_gpus", curves[0].capacity_milli / 1000},
              {"arrivals", arrivals},
              {"failed", failed},
              {"failed_with_room", with_room},
              {"seconds", std::round(seconds * 1000) / 1000},
              {"mean_allocated_percent", mean}};
  if (points > 100) {
    out["at_100"] = {{"mean", mean[100]}, {"min", lo}, {"max", hi}};
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int SchedCommands::sim() {
  const char* cmd = "jizhan sched sim";
  auto fail = [&](const Status& s) {
    std::cerr << cmd << ": error: " << s.message() << "\n";
    return 1;
  };
  auto cluster = read_cluster(cluster_);
  if (!cluster.ok()) return fail(cluster.status());
  auto workload = read_workload(workload_, *cluster, 2e6);
  if (!workload.ok()) return fail(workload.status());
  std::cerr << cmd << ": simulating " << workload->jobs.size() << " jobs...\n";
  auto result = sched::simulate(*cluster, *workload);
  if (!result.ok()) return fail(result.status());
  std::error_code ec;
  std::filesystem::create_directories(out_, ec);
  if (ec) return fail(Status::failed_precondition("cannot create " + out_ + ": " + ec.message()));
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"summary.md", result->summary_markdown},
        {"summary.json", result->summary.dump(2) + "\n"},
        {"allocation.csv", result->allocation_csv},
        {"plot.svg", result->plot_svg}}) {
    Status w = write_file(out_ + "/" + name, text);
    if (!w.ok()) return fail(w);
  }
  std::cout << result->summary_markdown;
  return 0;
}

// The benchmarks' cluster: --nodes nodes of --gpus-per-node GPUs (128 CPUs, 1 TiB each),
// --projects projects with equal nominal quotas in one cohort (with `per_user`, a user may
// hold half a project's quota and one GPU more).
Status SchedCommands::bench_cluster(sched::Scheduler& s, bool per_user) const {
  for (int n = 0; n < nodes_; ++n) {
    sched::NodeSpec spec;
    spec.name = "node-" + std::to_string(n);
    spec.cpu_milli = 128000;
    spec.memory_mib = int64_t{1024} * 1024;
    for (int g = 0; g < gpus_per_node_; ++g) spec.gpus.push_back({"", 81920, 132, true});
    JZ_RETURN_IF_ERROR(s.add_node(spec));
  }
  const int64_t capacity = int64_t{nodes_} * gpus_per_node_ * 1000;
  for (int p = 0; p < projects_; ++p) {
    sched::QueueSpec q;
    q.project = "project-" + std::to_string(p);
    q.cohort = "workspace";
    q.nominal_milli = capacity / projects_;
    if (per_user) q.per_user_milli = q.nominal_milli / 2 + 1000;
    JZ_RETURN_IF_ERROR(s.set_queue(q));
  }
  return {};
}

int SchedCommands::churn() {
  const char* cmd = "jizhan sched bench --churn";
  if (nodes_ < 1 || gpus_per_node_ < 1 || projects_ < 1 || jobs_ < 1) {
    std::cerr << cmd
              << ": error: --nodes, --gpus-per-node, --jobs and --projects must be 1 or more\n";
    return 2;
  }
  sched::Options o;
  o.policy = *sched::policy_named(policy_);  // CLI checked the name
  o.preemption_grace_ms = 30000;
  sched::Scheduler s(o);
  if (Status st = bench_cluster(s, false); !st.ok()) {
    std::cerr << cmd << ": error: " << st.message() << "\n";
    return 1;
  }
  const int64_t capacity = int64_t{nodes_} * gpus_per_node_ * 1000;
  // Arrivals keep the cluster a little over-asked: the mean request (about 1.3 GPUs) times
  // the mean run (20 simulated minutes) times the rate is 1.1 times the GPUs.
  std::mt19937_64 rng(seed_);
  const double mean_run_s = 1200, mean_gpus = 1.3;
  const double rate = 1.1 * static_cast<double>(capacity) / 1000 / mean_gpus / mean_run_s;
  std::exponential_distribution<double> gap(rate), run(1.0 / mean_run_s);
  std::multimap<int64_t, int64_t> ends;  // simulated ms -> job (running, or preempted)
  std::unordered_map<int64_t, std::multimap<int64_t, int64_t>::iterator> end_of;
  std::unordered_map<int64_t, int64_t> run_ms;  // job -> how long it runs once placed
  double t_s = 0;
  int64_t submitted = 0, placements = 0, preemptions = 0, cycles = 0, now = 0;
  std::vector<double> cycle_ms;
  double engine_s = 0;
  auto timed = [&](auto&& f) {
    const auto a = std::chrono::steady_clock::now();
    f();
    engine_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
  };
  while (submitted < jobs_ || !ends.empty()) {
    now += 1000;  // a cycle a simulated second
    // Arrivals of this second.
    while (submitted < jobs_ && t_s * 1000 < static_cast<double>(now)) {
      sched::JobSpec j;
      j.id = ++submitted;
      j.project = "project-" + std::to_string(rng() % projects_);
      j.user = "user-" + std::to_string(rng() % 10);
      const int r = static_cast<int>(rng() % 100);
      j.priority = r < 10 ? 2 : r < 30 ? 1 : 0;
      const int kind = static_cast<int>(rng() % 100);
      if (kind < 20) {
        j.share_cores_percent = 25 * (1 + static_cast<int>(rng() % 3));
        j.share_memory_mib = 10240 * (1 + static_cast<int>(rng() % 4));
      } else {
        j.gpus = kind < 80 ? 1 : kind < 90 ? 2 : kind < 96 ? 4 : 8;
        j.gpus = std::min(j.gpus, gpus_per_node_);
      }
      j.cpu_milli = 4000;
      j.memory_mib = 16384;
      run_ms[j.id] = std::max<int64_t>(1000, static_cast<int64_t>(run(rng) * 1000));
      Status st;
      timed([&] { st = s.submit(j, now); });
      if (!st.ok()) {
        std::cerr << cmd << ": error: " << st.message() << "\n";
        return 1;
      }
      t_s += gap(rng);
    }
    // Jobs that ended (or stopped after preemption) by now.
    while (!ends.empty() && ends.begin()->first <= now) {
      const int64_t id = ends.begin()->second;
      ends.erase(ends.begin());
      end_of.erase(id);
      run_ms.erase(id);
      timed([&] { (void)s.finished(id, now); });
    }
    std::vector<sched::Decision> out;
    const auto a = std::chrono::steady_clock::now();
    out = s.cycle(now);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
    engine_s += ms / 1000;
    cycle_ms.push_back(ms);
    ++cycles;
    for (const auto& d : out) {
      if (d.kind == sched::Decision::Kind::kPlace) {
        ++placements;
        end_of[d.job] = ends.emplace(now + run_ms[d.job], d.job);
      } else if (d.kind == sched::Decision::Kind::kPreempt) {
        ++preemptions;
        // It stops within its grace period instead of at its planned end.
        if (auto e = end_of.find(d.job); e != end_of.end()) ends.erase(e->second);
        end_of[d.job] = ends.emplace(now + d.grace_ms / 2, d.job);
      }
    }
    if (submitted >= jobs_ && out.empty() && s.pending_count() > 0 && ends.empty()) break;
  }
  std::sort(cycle_ms.begin(), cycle_ms.end());
  auto pct = [&](double q) {
    return cycle_ms.empty()
               ? 0.0
               : cycle_ms[std::min(cycle_ms.size() - 1, static_cast<size_t>(q * cycle_ms.size()))];
  };
  Status inv = s.check_invariants();
  Json result = {{"nodes", nodes_},
                 {"gpus_per_node", gpus_per_node_},
                 {"jobs", jobs_},
                 {"projects", projects_},
                 {"policy", policy_},
                 {"placements", placements},
                 {"preemptions", preemptions},
                 {"cycles", cycles},
                 {"simulated_hours", static_cast<double>(now) / 3.6e6},
                 {"engine_seconds", engine_s},
                 {"placements_per_second", static_cast<double>(placements) / engine_s},
                 {"cycle_p50_ms", pct(0.5)},
                 {"cycle_p99_ms", pct(0.99)},
                 {"cycle_max_ms", cycle_ms.empty() ? 0.0 : cycle_ms.back()},
                 {"peak_rss_mib", peak_rss_mib()},
                 {"invariants", inv.ok() ? "hold" : inv.message()}};
  std::cout << result.dump() << "\n";
  return inv.ok() ? 0 : 1;
}

int SchedCommands::bench() {
  if (nodes_ < 1 || gpus_per_node_ < 1 || projects_ < 1 || jobs_ < 1) {
    std::cerr << "jizhan sched bench: error: --nodes, --gpus-per-node, --jobs and --projects must "
                 "be 1 or more\n";
    return 2;
  }
  sched::Options o;
  o.policy = *sched::policy_named(policy_);  // CLI checked the name
  sched::Scheduler s(o);
  if (Status st = bench_cluster(s, true); !st.ok()) {
    std::cerr << "jizhan sched bench: error: " << st.message() << "\n";
    return 1;
  }
  const int64_t capacity = int64_t{nodes_} * gpus_per_node_ * 1000;
  std::mt19937_64 rng(seed_);
  const double before = rss_mib();
  for (int64_t i = 0; i < jobs_; ++i) {
    sched::JobSpec j;
    j.id = i + 1;
    j.project = "project-" + std::to_string(rng() % projects_);
    j.user = "user-" + std::to_string(rng() % 10);
    j.priority = static_cast<int>(rng() % 3);
    const int r = static_cast<int>(rng() % 100);
    if (shares_ && r < 50) {
      j.share_cores_percent = 10 + static_cast<int>(rng() % 5) * 10;
      j.share_memory_mib = 4096 * (1 + static_cast<int>(rng() % 4));
    } else {
      j.gpus = r < 70 ? 1 : r < 85 ? 2 : r < 95 ? 4 : 8;
      j.gpus = std::min(j.gpus, gpus_per_node_);
    }
    j.cpu_milli = 4000;
    j.memory_mib = 16384;
    j.runtime_estimate_ms = int64_t{3600} * 1000;
    if (auto st = s.submit(j, 0); !st.ok()) {
      std::cerr << "jizhan sched bench: error: " << st.message() << "\n";
      return 1;
    }
  }
  const double after = rss_mib();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t placements = 0, cycles = 0;
  for (;;) {
    int64_t placed = 0;
    for (const auto& d : s.cycle(1)) placed += d.kind == sched::Decision::Kind::kPlace;
    ++cycles;
    placements += placed;
    if (placed == 0) break;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Status inv = s.check_invariants();
  Json out = {
      {"nodes", nodes_},
      {"gpus_per_node", gpus_per_node_},
      {"jobs", jobs_},
      {"projects", projects_},
      {"shares", shares_},
      {"placements", placements},
      {"cycles", cycles},
      {"seconds", secs},
      {"placements_per_second", secs > 0 ? placements / secs : 0.0},
      {"charged_gpus_over_capacity", static_cast<double>(s.allocated_milli()) / capacity},
      {"peak_rss_mib", peak_rss_mib()},
      {"bytes_per_pending_job", (after - before) * 1024 * 1024 / static_cast<double>(jobs_)},
      {"invariants", inv.ok() ? "hold" : inv.message()}};
  std::cout << out.dump() << "\n";
  return inv.ok() ? 0 : 1;
}

}  // namespace jz::cli
