#include "sched/trace.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <random>

#include "core/csv.h"
#include "core/text.h"
#include "sched/sim.h"

namespace jz::sched {

namespace {

// A column's integer in [lo, hi], with the line and column in the error.
Result<int64_t> field(const Csv& csv, size_t r, int c, const char* name, int64_t lo, int64_t hi,
                      const std::string& what) {
  const std::string at = what + " line " + std::to_string(csv.row_lines[r]) + ": " + name;
  const std::string& text = csv.rows[r][static_cast<size_t>(c)];
  auto v = parse_int64(text);
  if (!v || *v < lo || *v > hi) {
    return Status::invalid_argument(at + " must be a whole number from " + std::to_string(lo) +
                                    " to " + std::to_string(hi) + ", not '" + text + "'");
  }
  return *v;
}

Result<std::vector<int>> columns(const Csv& csv, const std::vector<const char*>& names,
                                 const std::string& what, const std::string& expected) {
  std::vector<int> out;
  for (const char* n : names) {
    const int c = csv.column(n);
    if (c < 0) {
      return Status::invalid_argument(what + ": no column '" + n + "' (expected " + expected + ")");
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::vector<TraceNode>> parse_openb_nodes(std::string_view text, const std::string& what) {
  JZ_ASSIGN_OR_RETURN(Csv csv, parse_csv(text, what));
  JZ_ASSIGN_OR_RETURN(auto c, columns(csv, {"sn", "cpu_milli", "memory_mib", "gpu", "model"}, what,
                                      "sn, cpu_milli, memory_mib, gpu, model"));
  std::vector<TraceNode> out;
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    TraceNode n;
    n.name = csv.rows[r][c[0]];
    n.model = csv.rows[r][c[4]];
    if (n.name.empty()) {
      return Status::invalid_argument(what + " line " + std::to_string(csv.row_lines[r]) +
                                      ": a node needs a name (sn)");
    }
    JZ_ASSIGN_OR_RETURN(n.cpu_milli, field(csv, r, c[1], "cpu_milli", 0, int64_t{1} << 40, what));
    JZ_ASSIGN_OR_RETURN(n.memory_mib, field(csv, r, c[2], "memory_mib", 0, int64_t{1} << 40, what));
    JZ_ASSIGN_OR_RETURN(int64_t gpus, field(csv, r, c[3], "gpu", 0, 64, what));
    n.gpus = static_cast<int>(gpus);
    if (n.gpus > 0 && n.model.empty()) n.model = "gpu";
    out.push_back(std::move(n));
  }
  if (out.empty()) return Status::invalid_argument(what + ": no nodes");
  return out;
}

Result<std::vector<TraceTask>> parse_openb_tasks(std::string_view text, const std::string& what) {
  JZ_ASSIGN_OR_RETURN(Csv csv, parse_csv(text, what));
  JZ_ASSIGN_OR_RETURN(
      auto c, columns(csv, {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}, what,
                      "name, cpu_milli, memory_mib, num_gpu, gpu_milli; optional gpu_spec"));
  const int spec = csv.column("gpu_spec");
  std::vector<TraceTask> out;
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    TraceTask t;
    t.name = csv.rows[r][c[0]];
    JZ_ASSIGN_OR_RETURN(t.cpu_milli, field(csv, r, c[1], "cpu_milli", 0, int64_t{1} << 40, what));
    JZ_ASSIGN_OR_RETURN(t.memory_mib, field(csv, r, c[2], "memory_mib", 0, int64_t{1} << 40, what));
    JZ_ASSIGN_OR_RETURN(int64_t gpus, field(csv, r, c[3], "num_gpu", 0, 64, what));
    JZ_ASSIGN_OR_RETURN(int64_t milli, field(csv, r, c[4], "gpu_milli", 0, 1000, what));
    t.gpus = static_cast<int>(gpus);
    t.gpu_milli = gpus == 0 ? 0 : static_cast<int>(milli);
    if (gpus > 0 && milli == 0) {
      return Status::invalid_argument(what + " line " + std::to_string(csv.row_lines[r]) +
                                      ": a task with GPUs needs gpu_milli from 1 to 1000");
    }
    if (milli < 1000 && gpus > 1) {
      return Status::invalid_argument(what + " line " + std::to_string(csv.row_lines[r]) +
                                      ": a share (gpu_milli under 1000) is of one GPU, not " +
                                      std::to_string(gpus));
    }
    if (spec >= 0) t.models = csv.rows[r][static_cast<size_t>(spec)];
    out.push_back(std::move(t));
  }
  if (out.empty()) return Status::invalid_argument(what + ": no tasks");
  return out;
}

NodeSpec node_of(const TraceNode& n) {
  NodeSpec s;
  s.name = n.name;
  s.pool = n.pool;
  s.flavor = n.model.empty() ? "cpu" : n.model;
  s.cpu_milli = n.cpu_milli;
  s.memory_mib = n.memory_mib;
  for (int g = 0; g < n.gpus; ++g)
    s.gpus.push_back({n.name + "-" + std::to_string(g), n.gpu_memory_mib, 100, true});
  return s;
}

JobSpec job_of(const TraceTask& t, int64_t id) {
  JobSpec j;
  j.id = id;
  j.project = "trace";
  j.user = "trace";
  j.preemptible = false;
  j.cpu_milli = t.cpu_milli;
  j.memory_mib = t.memory_mib;
  j.flavor = t.models;
  j.pool = t.pool;
  j.workers = std::max(1, t.workers);
  if (t.gpus > 0 && t.gpu_milli < 1000) {
    // A share of a whole percent of the cores (the trace's are multiples of 10 milli;
    // others round up, never under).
    j.share_cores_percent = (t.gpu_milli + 9) / 10;
    j.share_memory_mib = t.share_memory_mib;
  } else {
    j.gpus = t.gpus;
  }
  return j;
}

std::vector<TraceNode> trace_nodes_of(const ClusterSpec& cluster) {
  std::vector<TraceNode> out;
  for (const PoolSpec& p : cluster.pools) {
    std::vector<NodeType> kinds = p.node_types;
    if (kinds.empty()) {
      kinds.push_back({p.nodes, p.gpus_per_node, p.gpu_memory_mib, p.flavor, p.cpus_per_node,
                       p.memory_gib_per_node});
    }
    for (const NodeType& k : kinds) {
      for (int i = 0; i < k.nodes; ++i) {
        TraceNode n;
        n.name = p.name + "-" + std::to_string(out.size());
        n.pool = p.name;
        n.model = k.gpus_per_node > 0 ? k.flavor : "";
        n.cpu_milli = int64_t{1000} * k.cpus_per_node;
        n.memory_mib = k.memory_gib_per_node * 1024;
        n.gpus = k.gpus_per_node;
        n.gpu_memory_mib = k.gpu_memory_mib;
        out.push_back(std::move(n));
      }
    }
  }
  return out;
}

std::vector<TraceTask> trace_tasks_of(const Workload& workload) {
  std::vector<TraceTask> out;
  for (const SimJob& j : workload.jobs) {
    TraceTask t;
    t.name = j.cls;
    t.pool = j.pool;
    t.cpu_milli = std::llround(j.cpu * 1000);
    t.memory_mib = j.memory_mib;
    t.models = j.flavor;
    t.workers = std::max(1, j.workers);
    if (j.share_cores_percent > 0 || j.share_memory_mib > 0) {
      t.gpus = 1;
      t.gpu_milli = std::clamp(j.share_cores_percent, 1, 100) * 10;
      t.share_memory_mib = j.share_memory_mib;
    } else if (j.gpus > 0) {
      t.gpus = j.gpus;
      t.gpu_milli = 1000;
    }
    out.push_back(std::move(t));
  }
  return out;
}

Result<ArrivalCurve> run_arrivals(const std::vector<TraceNode>& nodes,
                                  const std::vector<TraceTask>& tasks,
                                  const ArrivalOptions& options) {
  if (nodes.empty() || tasks.empty()) return Status::invalid_argument("no nodes or no tasks");
  if (options.until <= 0 || options.until > 10) {
    return Status::invalid_argument("until must be above 0 and at most 10");
  }
  Options o;
  o.policy = options.policy;
  o.backfill = false;
  Scheduler s(o);
  // The free room of each node, kept from the decisions, for the brute-force check.
  struct Free {
    std::string model, pool;
    int64_t cpu = 0, mem = 0;
    std::vector<int> cores;    // per GPU: percent free; -1 when held whole
    std::vector<int> gpu_mib;  // per GPU: MiB free
  };
  std::vector<Free> free;
  std::map<std::string, size_t> index;
  ArrivalCurve curve;
  for (const auto& n : nodes) {
    JZ_RETURN_IF_ERROR(s.add_node(node_of(n)));
    index[n.name] = free.size();
    free.push_back({n.model, n.pool, n.cpu_milli, n.memory_mib, std::vector<int>(n.gpus, 100),
                    std::vector<int>(n.gpus, n.gpu_memory_mib)});
    curve.capacity_milli += int64_t{1000} * n.gpus;
  }
  if (curve.capacity_milli == 0) return Status::invalid_argument("the nodes have no GPUs");
  QueueSpec q;
  q.project = "trace";
  q.nominal_milli = kUnlimited / 2;
  JZ_RETURN_IF_ERROR(s.set_queue(q));

  // Whether the nodes as they are could take every worker of `j` (each node as many as
  // fit there).
  auto room_somewhere = [&](const JobSpec& j) {
    int64_t workers = 0;
    for (const Free& f : free) {
      if (f.pool != j.pool) continue;
      int64_t fit = std::numeric_limits<int64_t>::max();
      if (j.cpu_milli > 0) fit = std::min(fit, f.cpu / j.cpu_milli);
      if (j.memory_mib > 0) fit = std::min(fit, f.mem / j.memory_mib);
      if (j.gpus > 0 || j.share_cores_percent > 0) {
        if (!flavor_accepts(j.flavor, f.model) || f.cores.empty()) continue;
        int64_t units = 0;
        for (size_t g = 0; g < f.cores.size(); ++g) {
          if (j.share_cores_percent > 0) {
            if (f.cores[g] <= 0) continue;
            int64_t u = f.cores[g] / j.share_cores_percent;
            if (j.share_memory_mib > 0) u = std::min<int64_t>(u, f.gpu_mib[g] / j.share_memory_mib);
            units += u;
          } else {
            units += f.cores[g] == 100 ? 1 : 0;
          }
        }
        fit = std::min(fit, j.share_cores_percent > 0 ? units : units / j.gpus);
      }
      workers += fit;
      if (workers >= j.workers) return true;
    }
    return false;
  };

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, tasks.size() - 1);
  const int top = static_cast<int>(options.until * 100);
  // Per whole percent x: the allocated share after each arrival whose requests round to
  // x % (the paper's artifact rounds to the nearest), summed and counted; and the share
  // when the requests first reached x %, for a percent no arrival rounds to (one arrival
  // larger than a percent of the cluster).
  std::vector<double> sum(static_cast<size_t>(top) + 1, 0), first(sum.size(), -1);
  std::vector<int64_t> count(sum.size(), 0);
  int next = 0;  // the next whole percent to reach
  int64_t requested = 0, now = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (next <= top) {
    const TraceTask& t = tasks[pick(rng)];
    const JobSpec j = job_of(t, ++curve.arrivals);
    // What the engine charges (a share: the larger of its cores and its memory fraction;
    // openb's shares ask for no memory, so this is their gpu_milli).
    requested += s.charge_milli(j) * j.workers;
    now += 1;
    bool placed = false;
    if (s.submit(j, now).ok()) {
      for (const Decision& d : s.cycle(now)) {
        if (d.kind != Decision::Kind::kPlace || d.job != j.id) continue;
        placed = true;
        for (const auto& w : d.placement) {
          Free& f = free[index.at(w.node)];
          f.cpu -= j.cpu_milli;
          f.mem -= j.memory_mib;
          for (int g : w.gpus) {
            if (j.share_cores_percent > 0) {
              f.cores[static_cast<size_t>(g)] -= j.share_cores_percent;
              f.gpu_mib[static_cast<size_t>(g)] -= j.share_memory_mib;
            } else {
              f.cores[static_cast<size_t>(g)] = -1;
            }
          }
        }
      }
      if (!placed) (void)s.cancel(j.id, now);
    }
    if (!placed) {
      ++curve.failed;
      if (room_somewhere(j)) ++curve.failed_with_room;
    }
    const double allocated = 100.0 * static_cast<double>(s.allocated_milli()) /
                             static_cast<double>(curve.capacity_milli);
    while (next <= top && requested * 100 >= int64_t{next} * curve.capacity_milli) {
      first[static_cast<size_t>(next++)] = allocated;
    }
    const int64_t rounded = (requested * 200 + curve.capacity_milli) / (2 * curve.capacity_milli);
    if (rounded <= top) {
      sum[static_cast<size_t>(rounded)] += allocated;
      ++count[static_cast<size_t>(rounded)];
    }
  }
  curve.allocated.resize(sum.size());
  for (size_t x = 0; x < sum.size(); ++x) {
    curve.allocated[x] = count[x] > 0 ? sum[x] / static_cast<double>(count[x]) : first[x];
  }
  curve.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Where the unallocated GPUs are at the end, and what strands them.
  for (const Free& f : free) {
    int64_t mine = 0;
    for (int c : f.cores) {
      if (c == 100) {
        curve.free_whole_milli += 1000;
        mine += 1000;
      } else if (c > 0) {
        curve.free_partial_milli += int64_t{c} * 10;
        mine += int64_t{c} * 10;
      }
    }
    if (mine > 0 && f.cpu < 4000) ++curve.cpu_starved_nodes;
  }
  return curve;
}

}  // namespace jz::sched
