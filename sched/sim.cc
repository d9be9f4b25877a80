#include "sched/sim.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <queue>
#include <random>
#include <set>

#include "core/csv.h"

namespace jz::sched {
namespace {

// ---- input ----------------------------------------------------------------------------

Result<Json> yaml_json(const YAML::Node& n, int depth) {
  if (depth > 32) return Status::invalid_argument("nested too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return Status::invalid_argument("keys must be plain names");
        JZ_ASSIGN_OR_RETURN(o[kv.first.Scalar()], yaml_json(kv.second, depth + 1));
      }
      return o;
    }
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) {
        JZ_ASSIGN_OR_RETURN(Json v, yaml_json(e, depth + 1));
        a.push_back(std::move(v));
      }
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!") {  // unquoted: numbers and booleans are what they look like
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == 0 && std::isfinite(d)) return Json(d);
        if (s == "true") return Json(true);
        if (s == "false") return Json(false);
      }
      return Json(s);
    }
    default:
      return Json();
  }
}

Result<Json> load_yaml(std::string_view text, const std::string& what) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(what + ":" + std::to_string(e.mark.line + 1) + ":" +
                                    std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return Status::invalid_argument(what + ": expected a mapping at the top");
  auto j = yaml_json(root, 0);
  if (!j.ok()) return Status::invalid_argument(what + ": " + j.status().message());
  return j;
}

// Typed fields with errors that name the field and what it should be.
class Fields {
 public:
  Fields(const Json& j, std::string at) : j_(j), at_(std::move(at)) {}
  Status only(std::initializer_list<const char*> known) const {
    if (!j_.is_object()) return Status::invalid_argument(at_ + ": expected a mapping");
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool ok = false;
      std::string list;
      for (const char* k : known) {
        ok = ok || it.key() == k;
        list += std::string(list.empty() ? "" : ", ") + k;
      }
      if (!ok)
        return Status::invalid_argument(at_ + ": unknown key '" + it.key() + "' (known: " + list +
                                        ")");
    }
    return {};
  }
  Result<double> number(const char* key, double fallback, double lo, double hi) const {
    if (!j_.contains(key)) return fallback;
    const Json& v = j_[key];
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
      return Status::invalid_argument(at_ + "." + key + ": expected a number from " + num(lo) +
                                      " to " + num(hi));
    }
    return v.get<double>();
  }
  Result<int> integer(const char* key, int fallback, int lo, int hi) const {
    JZ_ASSIGN_OR_RETURN(double d, number(key, fallback, lo, hi));
    if (d != std::floor(d))
      return Status::invalid_argument(at_ + "." + key + ": expected a whole number");
    return static_cast<int>(d);
  }
  Result<std::string> text(const char* key, const std::string& fallback,
                           bool required = false) const {
    if (!j_.contains(key)) {
      if (required) return Status::invalid_argument(at_ + "." + key + ": required");
      return fallback;
    }
    const Json& v = j_[key];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 128) {
      return Status::invalid_argument(at_ + "." + key + ": expected a name (1-128 characters)");
    }
    return v.get<std::string>();
  }
  Result<bool> flag(const char* key, bool fallback) const {
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_boolean())
      return Status::invalid_argument(at_ + "." + key + ": expected true or false");
    return j_[key].get<bool>();
  }

 private:
  static std::string num(double d) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
  }
  const Json& j_;
  std::string at_;
};

int64_t milli(double gpus) {
  return gpus >= 1e9 ? kUnlimited : static_cast<int64_t>(std::llround(gpus * 1000));
}

std::string fmt(double v, int digits = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

int64_t PoolSpec::gpus() const {
  if (node_types.empty()) return int64_t{nodes} * gpus_per_node;
  int64_t sum = 0;
  for (const auto& k : node_types) sum += int64_t{k.nodes} * k.gpus_per_node;
  return sum;
}

Result<ClusterSpec> parse_cluster(std::string_view yaml, const std::string& what) {
  JZ_ASSIGN_OR_RETURN(Json j, load_yaml(yaml, what));
  ClusterSpec c;
  Fields top(j, what);
  JZ_RETURN_IF_ERROR(top.only({"policy", "idle_reclaim_minutes", "pools", "projects"}));
  JZ_ASSIGN_OR_RETURN(std::string policy, top.text("policy", "fgd"));
  const std::optional<Policy> named = policy_named(policy);
  if (!named) return Status::invalid_argument(what + ".policy: binpack, spread or fgd");
  c.policy = *named;
  JZ_ASSIGN_OR_RETURN(c.idle_reclaim_minutes, top.number("idle_reclaim_minutes", 0, 0, 10080));
  if (!j.contains("pools") || !j["pools"].is_array() || j["pools"].empty()) {
    return Status::invalid_argument(what + ".pools: required, a list of pools");
  }
  std::set<std::string> names;
  int64_t total_nodes = 0;
  for (size_t i = 0; i < j["pools"].size(); ++i) {
    const std::string at = what + ".pools[" + std::to_string(i) + "]";
    Fields f(j["pools"][i], at);
    JZ_RETURN_IF_ERROR(f.only({"name", "nodes", "gpus_per_node", "gpu_memory_mib", "flavor",
                               "cpus_per_node", "memory_gib_per_node", "node_types"}));
    PoolSpec p;
    JZ_ASSIGN_OR_RETURN(p.name, f.text("name", "", true));
    JZ_ASSIGN_OR_RETURN(p.nodes, f.integer("nodes", 1, 1, 100000));
    JZ_ASSIGN_OR_RETURN(p.gpus_per_node, f.integer("gpus_per_node", 8, 1, 64));
    JZ_ASSIGN_OR_RETURN(p.gpu_memory_mib, f.integer("gpu_memory_mib", 81920, 1024, 1 << 22));
    JZ_ASSIGN_OR_RETURN(p.flavor, f.text("flavor", "gpu"));
    JZ_ASSIGN_OR_RETURN(p.cpus_per_node, f.integer("cpus_per_node", 256, 1, 1 << 20));
    JZ_ASSIGN_OR_RETURN(p.memory_gib_per_node, f.integer("memory_gib_per_node", 2048, 1, 1 << 20));
    const Json& types = j["pools"][i].contains("node_types") ? j["pools"][i]["node_types"] : Json();
    if (!types.is_null()) {
      if (!types.is_array() || types.empty() || types.size() > 1000) {
        return Status::invalid_argument(at + ".node_types: a list of 1 to 1000 kinds of node");
      }
      int64_t nodes = 0, gpus = 0;
      for (size_t t = 0; t < types.size(); ++t) {
        Fields tf(types[t], at + ".node_types[" + std::to_string(t) + "]");
        JZ_RETURN_IF_ERROR(tf.only({"nodes", "gpus_per_node", "gpu_memory_mib", "flavor",
                                    "cpus_per_node", "memory_gib_per_node"}));
        NodeType k;
        JZ_ASSIGN_OR_RETURN(k.nodes, tf.integer("nodes", 1, 1, 100000));
        JZ_ASSIGN_OR_RETURN(k.gpus_per_node, tf.integer("gpus_per_node", p.gpus_per_node, 0, 64));
        JZ_ASSIGN_OR_RETURN(k.gpu_memory_mib,
                            tf.integer("gpu_memory_mib", p.gpu_memory_mib, 1024, 1 << 22));
        JZ_ASSIGN_OR_RETURN(k.flavor, tf.text("flavor", p.flavor));
        JZ_ASSIGN_OR_RETURN(k.cpus_per_node,
                            tf.integer("cpus_per_node", p.cpus_per_node, 1, 1 << 20));
        JZ_ASSIGN_OR_RETURN(k.memory_gib_per_node,
                            tf.integer("memory_gib_per_node", p.memory_gib_per_node, 1, 1 << 20));
        nodes += k.nodes;
        gpus += int64_t{k.nodes} * k.gpus_per_node;
        if (nodes > 100000)
          return Status::invalid_argument(at + ".node_types: more than 100,000 nodes");
        p.node_types.push_back(k);
      }
      if (gpus == 0) return Status::invalid_argument(at + ".node_types: no node has a GPU");
      p.nodes = static_cast<int>(nodes);
    }
    if (!names.insert(p.name).second) {
      return Status::invalid_argument(what + ".pools[" + std::to_string(i) + "].name: '" + p.name +
                                      "' twice");
    }
    total_nodes += p.nodes;
    if (total_nodes > 100000)
      return Status::invalid_argument(what + ".pools: more than 100,000 nodes");
    c.pools.push_back(p);
  }
  if (!j.contains("projects") || !j["projects"].is_array() || j["projects"].empty()) {
    return Status::invalid_argument(what + ".projects: required, a list of projects");
  }
  std::set<std::string> projects;
  for (size_t i = 0; i < j["projects"].size(); ++i) {
    Fields f(j["projects"][i], what + ".projects[" + std::to_string(i) + "]");
    JZ_RETURN_IF_ERROR(f.only({"name", "workspace", "nominal_gpus", "borrowing_limit_gpus",
                               "lending_limit_gpus", "per_user_gpus", "weight"}));
    QueueSpec q;
    JZ_ASSIGN_OR_RETURN(q.project, f.text("name", "", true));
    JZ_ASSIGN_OR_RETURN(q.cohort, f.text("workspace", ""));
    JZ_ASSIGN_OR_RETURN(double nominal, f.number("nominal_gpus", 0, 0, 1e7));
    JZ_ASSIGN_OR_RETURN(double borrow, f.number("borrowing_limit_gpus", 1e9, 0, 1e9));
    JZ_ASSIGN_OR_RETURN(double lend, f.number("lending_limit_gpus", 1e9, 0, 1e9));
    JZ_ASSIGN_OR_RETURN(double per_user, f.number("per_user_gpus", 1e9, 0, 1e9));
    JZ_ASSIGN_OR_RETURN(q.weight, f.number("weight", 1, 0.001, 1000));
    q.nominal_milli = milli(nominal);
    q.borrowing_limit_milli = milli(borrow);
    q.lending_limit_milli = milli(lend);
    q.per_user_milli = milli(per_user);
    if (!projects.insert(q.project).second) {
      return Status::invalid_argument(what + ".projects[" + std::to_string(i) + "].name: '" +
                                      q.project + "' twice");
    }
    c.queues.push_back(q);
  }
  return c;
}

Result<Workload> parse_trace(std::string_view text, const std::string& what) {
  JZ_ASSIGN_OR_RETURN(Csv csv, parse_csv(text, what));
  for (const char* need : {"submit_s", "user", "project", "duration_s", "priority"}) {
    if (csv.column(need) < 0) {
      return Status::invalid_argument(what + ": no column '" + need +
                                      "' (columns: submit_s, user, project, gpus or "
                                      "share_cores_percent and share_memory_mib, duration_s, "
                                      "priority; optional pool, workers, estimate_s, class, busy)");
    }
  }
  if (csv.column("gpus") < 0 && csv.column("share_cores_percent") < 0) {
    return Status::invalid_argument(what + ": give a 'gpus' or a 'share_cores_percent' column");
  }
  Workload w;
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    const auto& row = csv.rows[r];
    const std::string at = what + " line " + std::to_string(csv.row_lines[r]);
    auto num = [&](const char* col, double fallback, double lo, double hi,
                   bool required = false) -> Result<double> {
      const int c = csv.column(col);
      if (c < 0 || row[c].empty()) {
        if (required) return Status::invalid_argument(at + ": " + col + " is empty");
        return fallback;
      }
      char* end = nullptr;
      const double d = std::strtod(row[c].c_str(), &end);
      if (*end || !std::isfinite(d) || d < lo || d > hi) {
        return Status::invalid_argument(at + ": " + col + " '" + row[c] +
                                        "' is not a number from " + fmt(lo, 0) + " to " +
                                        fmt(hi, 0));
      }
      return d;
    };
    auto str = [&](const char* col, const std::string& fallback) {
      const int c = csv.column(col);
      return c < 0 || row[c].empty() ? fallback : row[c];
    };
    SimJob j;
    j.id = static_cast<int64_t>(r) + 1;
    JZ_ASSIGN_OR_RETURN(j.submit_s, num("submit_s", 0, 0, 1e9, true));
    j.user = str("user", "");
    j.project = str("project", "");
    if (j.user.empty() || j.project.empty())
      return Status::invalid_argument(at + ": user and project are required");
    JZ_ASSIGN_OR_RETURN(double gpus, num("gpus", 0, 0, 64));
    JZ_ASSIGN_OR_RETURN(double cores, num("share_cores_percent", 0, 0, 100));
    JZ_ASSIGN_OR_RETURN(double mem, num("share_memory_mib", 0, 0, 1 << 22));
    j.gpus = static_cast<int>(gpus);
    j.share_cores_percent = static_cast<int>(cores);
    j.share_memory_mib = static_cast<int>(mem);
    if (j.gpus > 0 && j.share_cores_percent > 0) {
      return Status::invalid_argument(at + ": give gpus or share_cores_percent, not both");
    }
    JZ_ASSIGN_OR_RETURN(j.cpu, num("cpu", 1, 0, 4096));
    JZ_ASSIGN_OR_RETURN(double memory, num("memory_mib", 1024, 0, 1 << 30));
    j.memory_mib = static_cast<int64_t>(memory);
    j.flavor = str("flavor", "");
    if (j.gpus == 0 && j.share_cores_percent == 0 && j.cpu <= 0 && j.memory_mib <= 0) {
      return Status::invalid_argument(at + ": a job without GPUs needs cpu or memory_mib");
    }
    JZ_ASSIGN_OR_RETURN(j.duration_s, num("duration_s", 0, 1, 1e8, true));
    JZ_ASSIGN_OR_RETURN(double prio, num("priority", 0, -1000, 1000, true));
    j.priority = static_cast<int>(prio);
    JZ_ASSIGN_OR_RETURN(double workers, num("workers", 1, 1, 1024));
    j.workers = static_cast<int>(workers);
    JZ_ASSIGN_OR_RETURN(j.estimate_s, num("estimate_s", 0, 0, 1e8));
    JZ_ASSIGN_OR_RETURN(j.busy, num("busy", 1, 0, 1));
    j.pool = str("pool", "default");
    j.cls = str("class", "job");
    w.jobs.push_back(j);
  }
  std::stable_sort(w.jobs.begin(), w.jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.submit_s < b.submit_s; });
  return w;
}

Result<Workload> parse_generator(std::string_view yaml, const std::string& what,
                                 const ClusterSpec& cluster, double max_jobs) {
  JZ_ASSIGN_OR_RETURN(Json j, load_yaml(yaml, what));
  Fields top(j, what);
  JZ_RETURN_IF_ERROR(
      top.only({"seed", "hours", "jobs_per_hour", "projects", "users_per_project", "classes"}));
  JZ_ASSIGN_OR_RETURN(double seed, top.number("seed", 1, 0, 1e15));
  JZ_ASSIGN_OR_RETURN(double hours, top.number("hours", 24, 0.01, 24 * 365));
  JZ_ASSIGN_OR_RETURN(double per_hour, top.number("jobs_per_hour", 100, 0.01, 1e6));
  JZ_ASSIGN_OR_RETURN(int users, top.integer("users_per_project", 4, 1, 10000));
  if (hours * per_hour > max_jobs) {
    return Status::invalid_argument(what + ": hours x jobs_per_hour is more than " +
                                    fmt(max_jobs, 0) + " jobs; shorten one of them");
  }
  std::vector<std::string> projects;
  if (j.contains("projects")) {
    if (!j["projects"].is_array() || j["projects"].empty()) {
      return Status::invalid_argument(what + ".projects: a list of project names");
    }
    for (const auto& p : j["projects"]) {
      if (!p.is_string())
        return Status::invalid_argument(what + ".projects: a list of project names");
      projects.push_back(p.get<std::string>());
    }
  } else {
    for (const auto& q : cluster.queues) projects.push_back(q.project);
  }
  for (const auto& p : projects) {
    bool known = false;
    for (const auto& q : cluster.queues) known = known || q.project == p;
    if (!known)
      return Status::invalid_argument(what + ".projects: '" + p +
                                      "' is not a project of the cluster");
  }
  if (!j.contains("classes") || !j["classes"].is_array() || j["classes"].empty()) {
    return Status::invalid_argument(what + ".classes: required, a list of job classes");
  }
  struct Class {
    SimJob tmpl;
    double weight = 1, minutes = 30;
    std::string distribution = "exponential";
  };
  std::vector<Class> classes;
  double total_weight = 0;
  for (size_t i = 0; i < j["classes"].size(); ++i) {
    Fields f(j["classes"][i], what + ".classes[" + std::to_string(i) + "]");
    JZ_RETURN_IF_ERROR(
        f.only({"name", "weight", "gpus", "share_cores_percent", "share_memory_mib", "workers",
                "minutes", "distribution", "priority", "pool", "session", "busy", "active_minutes",
                "estimate", "cpu", "memory_mib", "flavor"}));
    Class c;
    JZ_ASSIGN_OR_RETURN(c.tmpl.cls, f.text("name", "", true));
    JZ_ASSIGN_OR_RETURN(c.weight, f.number("weight", 1, 0, 1e6));
    JZ_ASSIGN_OR_RETURN(c.tmpl.gpus, f.integer("gpus", 0, 0, 64));
    JZ_ASSIGN_OR_RETURN(c.tmpl.share_cores_percent, f.integer("share_cores_percent", 0, 0, 100));
    JZ_ASSIGN_OR_RETURN(c.tmpl.share_memory_mib, f.integer("share_memory_mib", 0, 0, 1 << 22));
    if (c.tmpl.gpus > 0 && c.tmpl.share_cores_percent > 0) {
      return Status::invalid_argument(what + ".classes[" + std::to_string(i) +
                                      "]: give gpus or share_cores_percent, not both (neither: "
                                      "CPU-only jobs)");
    }
    JZ_ASSIGN_OR_RETURN(c.tmpl.cpu, f.number("cpu", 1, 0, 4096));
    JZ_ASSIGN_OR_RETURN(c.tmpl.memory_mib, f.integer("memory_mib", 1024, 0, 1 << 30));
    JZ_ASSIGN_OR_RETURN(c.tmpl.flavor, f.text("flavor", ""));
    if (c.tmpl.gpus == 0 && c.tmpl.share_cores_percent == 0 && c.tmpl.cpu <= 0 &&
        c.tmpl.memory_mib <= 0) {
      return Status::invalid_argument(what + ".classes[" + std::to_string(i) +
                                      "]: a class without GPUs needs cpu or memory_mib");
    }
    JZ_ASSIGN_OR_RETURN(c.tmpl.workers, f.integer("workers", 1, 1, 1024));
    JZ_ASSIGN_OR_RETURN(c.minutes, f.number("minutes", 30, 0.1, 1e6));
    JZ_ASSIGN_OR_RETURN(c.distribution, f.text("distribution", "exponential"));
    if (c.distribution != "exponential" && c.distribution != "fixed" &&
        c.distribution != "lognormal") {
      return Status::invalid_argument(what + ".classes[" + std::to_string(i) +
                                      "].distribution: exponential, lognormal or fixed");
    }
    JZ_ASSIGN_OR_RETURN(c.tmpl.priority, f.integer("priority", 0, -1000, 1000));
    JZ_ASSIGN_OR_RETURN(c.tmpl.pool, f.text("pool", "default"));
    JZ_ASSIGN_OR_RETURN(c.tmpl.session, f.flag("session", false));
    JZ_ASSIGN_OR_RETURN(c.tmpl.busy, f.number("busy", 1, 0, 1));
    JZ_ASSIGN_OR_RETURN(c.tmpl.active_minutes, f.number("active_minutes", 0, 0, 1e6));
    JZ_ASSIGN_OR_RETURN(bool estimate, f.flag("estimate", true));
    c.tmpl.estimate_s = estimate ? 1 : 0;  // marks "use the duration as the estimate"
    total_weight += c.weight;
    classes.push_back(c);
  }
  if (total_weight <= 0)
    return Status::invalid_argument(what + ".classes: the weights add up to 0");
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::exponential_distribution<double> gap(per_hour / 3600.0);
  std::uniform_real_distribution<double> unit(0, 1);
  Workload w;
  double t = 0;
  for (int64_t id = 1;; ++id) {
    t += gap(rng);
    if (t >= hours * 3600) break;
    double pick = unit(rng) * total_weight;
    size_t ci = 0;
    while (ci + 1 < classes.size() && pick >= classes[ci].weight) pick -= classes[ci++].weight;
    const Class& c = classes[ci];
    SimJob job = c.tmpl;
    job.id = id;
    job.submit_s = t;
    job.project = projects[rng() % projects.size()];
    job.user = job.project + "-user" + std::to_string(rng() % users);
    double minutes = c.minutes;
    if (c.distribution == "exponential") {
      minutes = std::exponential_distribution<double>(1.0 / c.minutes)(rng);
    } else if (c.distribution == "lognormal") {
      minutes = std::lognormal_distribution<double>(std::log(c.minutes) - 0.5, 1.0)(rng);
    }
    job.duration_s = std::max(60.0, minutes * 60);
    job.estimate_s = c.tmpl.estimate_s > 0 ? job.duration_s : 0;
    w.jobs.push_back(job);
  }
  return w;
}

// ---- the simulation ----------------------------------------------------------------

Result<SimResult> simulate(const ClusterSpec& cluster, const Workload& workload) {
  Options o;
  o.policy = cluster.policy;
  o.preemption_grace_ms = int64_t{30} * 1000;
  Scheduler s(o);
  std::map<std::string, double> pool_capacity;  // GPUs
  for (const auto& p : cluster.pools) {
    std::vector<NodeType> kinds = p.node_types;
    if (kinds.empty()) {
      kinds.push_back({p.nodes, p.gpus_per_node, p.gpu_memory_mib, p.flavor, p.cpus_per_node,
                       p.memory_gib_per_node});
    }
    int n = 0;
    for (const NodeType& k : kinds) {
      for (int i = 0; i < k.nodes; ++i) {
        NodeSpec ns;
        ns.name = p.name + "-" + std::to_string(n++);
        ns.pool = p.name;
        ns.flavor = k.gpus_per_node > 0 ? k.flavor : "cpu";
        ns.cpu_milli = int64_t{k.cpus_per_node} * 1000;
        ns.memory_mib = k.memory_gib_per_node * 1024;
        for (int g = 0; g < k.gpus_per_node; ++g)
          ns.gpus.push_back({"", k.gpu_memory_mib, 132, true});
        JZ_RETURN_IF_ERROR(s.add_node(ns));
      }
    }
    pool_capacity[p.name] = static_cast<double>(p.gpus());
  }
  for (const auto& q : cluster.queues) JZ_RETURN_IF_ERROR(s.set_queue(q));

  // Pieces the scheduler sees: a job, or for a session with idle reclaim, one piece per
  // busy stretch (held through at most the reclaim delay of the idle stretch after it).
  struct Piece {
    const SimJob* job;
    double submit_s, hold_s, busy_s;  // busy_s: seconds of the hold the GPU works
    double alloc;                     // GPUs it holds
  };
  const double reclaim_s = cluster.idle_reclaim_minutes * 60;
  std::vector<Piece> pieces;
  for (const auto& j : workload.jobs) {
    const double alloc = j.workers * (j.gpus > 0 ? j.gpus : j.share_cores_percent / 100.0);
    if (j.session && j.active_minutes > 0 && j.busy > 0 && j.busy < 1) {
      const double active = j.active_minutes * 60, idle = active * (1 - j.busy) / j.busy;
      if (reclaim_s > 0) {
        for (int64_t n = 0; n * (active + idle) < j.duration_s; ++n) {
          const double at = static_cast<double>(n) * (active + idle);
          const double a = std::min(active, j.duration_s - at);
          const double held = a + std::min({idle, reclaim_s, std::max(0.0, j.duration_s - at - a)});
          pieces.push_back({&j, j.submit_s + at, held, a, alloc});
        }
        continue;
      }
      pieces.push_back({&j, j.submit_s, j.duration_s, j.duration_s * j.busy, alloc});
      continue;
    }
    pieces.push_back({&j, j.submit_s, j.duration_s, j.duration_s * j.busy, alloc});
  }
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const Piece& a, const Piece& b) { return a.submit_s < b.submit_s; });
  double horizon = 0;
  for (const auto& p : pieces) horizon = std::max(horizon, p.submit_s);
  horizon = std::max(horizon, 1.0);

  enum EventKind { kSubmit, kFinish, kPreempted };
  struct Event {
    double t;
    int kind;
    int64_t id;
    bool operator>(const Event& o) const {
      return std::tie(t, kind, id) > std::tie(o.t, o.kind, o.id);
    }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  struct Run {
    size_t piece;
    double first_submit, submit, started = -1, remaining;
    int64_t finish_token = 0;
  };
  std::map<int64_t, Run> runs;  // scheduler job id -> run
  int64_t next_id = 1;
  auto submit = [&](size_t piece, double t, double first_submit, double remaining) -> Status {
    const Piece& p = pieces[piece];
    JobSpec js;
    js.id = next_id++;
    js.project = p.job->project;
    js.user = p.job->user;
    js.priority = p.job->priority;
    js.workers = p.job->workers;
    js.gpus = p.job->gpus;
    js.share_cores_percent = p.job->share_cores_percent;
    js.share_memory_mib = p.job->share_memory_mib;
    js.pool = p.job->pool;
    js.cpu_milli = static_cast<int64_t>(std::llround(p.job->cpu * 1000));
    js.memory_mib = p.job->memory_mib;
    js.flavor = p.job->flavor;
    js.runtime_estimate_ms = p.job->estimate_s > 0 ? static_cast<int64_t>(remaining * 1000) : 0;
    JZ_RETURN_IF_ERROR(s.submit(js, static_cast<int64_t>(t * 1000)));
    runs[js.id] = {piece, first_submit, t, -1, remaining, 0};
    return {};
  };
  for (size_t i = 0; i < pieces.size(); ++i)
    events.push({pieces[i].submit_s, kSubmit, static_cast<int64_t>(i)});

  // Time-weighted allocation and use per pool, hour by hour.
  std::map<std::string, double> alloc_now, used_now;
  std::map<std::string, double> alloc_area, used_area;
  std::map<std::string, std::vector<std::pair<double, double>>>
      hourly;  // per pool: alloc, used GPU-s
  double last_t = 0;
  auto advance = [&](double t) {
    t = std::min(t, horizon);
    if (t <= last_t) return;
    for (const auto& [pool, cap] : pool_capacity) {
      auto& h = hourly[pool];
      double a = last_t;
      while (a < t) {
        const size_t hour = static_cast<size_t>(a / 3600);
        const double b = std::min(t, (hour + 1) * 3600.0);
        if (h.size() <= hour) h.resize(hour + 1);
        h[hour].first += alloc_now[pool] * (b - a);
        h[hour].second += used_now[pool] * (b - a);
        a = b;
      }
      alloc_area[pool] += alloc_now[pool] * (t - last_t);
      used_area[pool] += used_now[pool] * (t - last_t);
    }
    last_t = t;
  };
  std::map<std::string, std::vector<double>> waits;  // class -> seconds
  std::map<std::string, double> project_gpu_s;
  std::map<std::string, double> user_gpu_s;
  int64_t preemptions = 0, rejected = 0, decisions = 0;
  double cycle_seconds = 0;

  while (!events.empty()) {
    const double t = events.top().t;
    if (t > horizon) break;
    advance(t);
    while (!events.empty() && events.top().t == t) {
      const Event e = events.top();
      events.pop();
      if (e.kind == kSubmit) {
        const Piece& p = pieces[static_cast<size_t>(e.id)];
        JZ_RETURN_IF_ERROR(submit(static_cast<size_t>(e.id), t, p.submit_s, p.hold_s));
      } else {
        auto it = runs.find(e.id);
        if (it == runs.end()) continue;  // already finished, preempted or restarted under a new id
        Run& r = it->second;
        if (r.started < 0) continue;
        const Piece& p = pieces[r.piece];
        const double frac = p.hold_s > 0 ? p.busy_s / p.hold_s : 1;
        alloc_now[p.job->pool] -= p.alloc;
        used_now[p.job->pool] -= p.alloc * frac;
        const double held = t - r.started;
        project_gpu_s[p.job->project] += p.alloc * held;
        user_gpu_s[p.job->user] += p.alloc * held;
        (void)s.finished(e.id, static_cast<int64_t>(t * 1000));
        if (e.kind == kPreempted) {  // back to the queue with what is left
          const double left = r.remaining - held;
          const size_t piece = r.piece;
          const double first = r.first_submit;
          runs.erase(it);
          if (left > 1) JZ_RETURN_IF_ERROR(submit(piece, t, first, left));
        } else {
          runs.erase(it);
        }
      }
    }
    const auto c0 = std::chrono::steady_clock::now();
    auto ds = s.cycle(static_cast<int64_t>(t * 1000));
    cycle_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    decisions += static_cast<int64_t>(ds.size());
    for (const auto& d : ds) {
      if (d.kind == Decision::Kind::kPlace) {
        Run& r = runs.at(d.job);
        r.started = t;
        const Piece& p = pieces[r.piece];
        const double frac = p.hold_s > 0 ? p.busy_s / p.hold_s : 1;
        alloc_now[p.job->pool] += p.alloc;
        used_now[p.job->pool] += p.alloc * frac;
        if (r.submit == r.first_submit) waits[p.job->cls].push_back(t - r.submit);  // first starts
        events.push({t + r.remaining, kFinish, d.job});
      } else if (d.kind == Decision::Kind::kPreempt) {
        ++preemptions;
        // It stops after the grace period; its normal finish may come first.
        Run& r = runs.at(d.job);
        const double stop = t + static_cast<double>(d.grace_ms) / 1000;
        if (r.started >= 0 && r.started + r.remaining > stop)
          events.push({stop, kPreempted, d.job});
      } else if (d.kind == Decision::Kind::kReject) {
        ++rejected;
        runs.erase(d.job);
      }
    }
  }
  advance(horizon);

  auto percentile = [](std::vector<double> v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(std::llround(q * (v.size() - 1))))];
  };
  SimResult out;
  Json pools = Json::object();
  std::string md = "| pool | GPUs | allocated | used |\n|---|---:|---:|---:|\n";
  for (const auto& [pool, cap] : pool_capacity) {
    const double a = alloc_area[pool] / (cap * horizon), u = used_area[pool] / (cap * horizon);
    pools[pool] = {{"gpus", cap}, {"allocated", a}, {"used", u}};
    md += "| " + pool + " | " + fmt(cap, 0) + " | " + fmt(100 * a, 1) + "% | " + fmt(100 * u, 1) +
          "% |\n";
  }
  Json classes = Json::object();
  md += "\n| class | jobs started | wait p50 | wait p90 | wait p99 |\n|---|---:|---:|---:|---:|\n";
  for (const auto& [cls, v] : waits) {
    classes[cls] = {{"started", v.size()},
                    {"wait_p50_s", percentile(v, 0.5)},
                    {"wait_p90_s", percentile(v, 0.9)},
                    {"wait_p99_s", percentile(v, 0.99)}};
    md += "| " + cls + " | " + std::to_string(v.size()) + " | " + fmt(percentile(v, 0.5) / 60, 1) +
          " min | " + fmt(percentile(v, 0.9) / 60, 1) + " min | " +
          fmt(percentile(v, 0.99) / 60, 1) + " min |\n";
  }
  double total_gpu_s = 0, total_nominal = 0;
  for (const auto& [p, g] : project_gpu_s) total_gpu_s += g;
  for (const auto& q : cluster.queues) total_nominal += static_cast<double>(q.nominal_milli);
  Json projects = Json::object();
  md += "\n| project | entitled | received |\n|---|---:|---:|\n";
  for (const auto& q : cluster.queues) {
    const double entitled = total_nominal > 0 ? q.nominal_milli / total_nominal : 0;
    const double received = total_gpu_s > 0 ? project_gpu_s[q.project] / total_gpu_s : 0;
    projects[q.project] = {{"entitled", entitled}, {"received", received}};
    md += "| " + q.project + " | " + fmt(100 * entitled, 1) + "% | " + fmt(100 * received, 1) +
          "% |\n";
  }
  Json users = Json::object();
  for (const auto& [u, g] : user_gpu_s) users[u] = total_gpu_s > 0 ? g / total_gpu_s : 0;
  out.summary = {{"hours", horizon / 3600},
                 {"jobs", workload.jobs.size()},
                 {"pools", pools},
                 {"classes", classes},
                 {"projects", projects},
                 {"users", users},
                 {"preemptions", preemptions},
                 {"rejected", rejected},
                 {"decisions", decisions},
                 {"decisions_per_second", cycle_seconds > 0 ? decisions / cycle_seconds : 0.0}};
  md += "\npreemptions " + std::to_string(preemptions) + ", rejected " + std::to_string(rejected) +
        ", " + std::to_string(decisions) + " decisions at " +
        fmt(cycle_seconds > 0 ? decisions / cycle_seconds : 0, 0) + " per second\n";
  out.summary_markdown = md;

  out.allocation_csv = "hour,pool,allocated,used\n";
  out.series = Json::object();
  // One chart per pool: allocated and used (percent of its GPUs) by hour, with a y axis
  // (0-100 %, gridlines every 25), an x axis (hours, about eight ticks), a legend.
  std::string svg;
  const int width = 760, height = 160, left = 56, right = 24, top = 34, bottom = 36;
  const int panel = top + height + bottom;
  int y0 = 0;
  svg += "<svg xmlns='http://www.w3.org/2000/svg' width='" + std::to_string(left + width + right) +
         "' height='" + std::to_string(static_cast<int>(pool_capacity.size()) * panel + 8) +
         "' font-family='sans-serif' font-size='12'>\n";
  for (const auto& [pool, cap] : pool_capacity) {
    const auto& h = hourly[pool];
    Json& series = out.series[pool];
    series = {{"hour", Json::array()}, {"allocated", Json::array()}, {"used", Json::array()}};
    std::string pa, pu;
    size_t points = 0;
    for (size_t i = 0; i < h.size(); ++i) {
      const double span = std::min(3600.0, horizon - i * 3600.0);
      if (span <= 0) break;
      ++points;
    }
    auto x_of = [&](double hour) {
      return left + (points > 1 ? width * hour / static_cast<double>(points - 1) : 0.0);
    };
    auto y_of = [&](double fraction) { return y0 + top + height * (1 - fraction); };
    for (size_t i = 0; i < points; ++i) {
      const double span = std::min(3600.0, horizon - i * 3600.0);
      const double a = h[i].first / (cap * span), u = h[i].second / (cap * span);
      out.allocation_csv +=
          std::to_string(i) + "," + pool + "," + fmt(a, 4) + "," + fmt(u, 4) + "\n";
      series["hour"].push_back(i);
      series["allocated"].push_back(std::round(a * 10000) / 10000);
      series["used"].push_back(std::round(u * 10000) / 10000);
      pa += fmt(x_of(static_cast<double>(i)), 1) + "," + fmt(y_of(a), 1) + " ";
      pu += fmt(x_of(static_cast<double>(i)), 1) + "," + fmt(y_of(u), 1) + " ";
    }
    svg += "<text x='" + std::to_string(left) + "' y='" + std::to_string(y0 + 16) + "'>pool " +
           pool + " (" + fmt(cap, 0) + " GPUs), by hour</text>\n";
    // The legend, top right.
    const int lx = left + width - 170;
    svg += "<line x1='" + std::to_string(lx) + "' y1='" + std::to_string(y0 + 12) + "' x2='" +
           std::to_string(lx + 18) + "' y2='" + std::to_string(y0 + 12) +
           "' stroke='#1f77b4' stroke-width='2'/><text x='" + std::to_string(lx + 22) + "' y='" +
           std::to_string(y0 + 16) + "'>allocated</text>\n";
    svg += "<line x1='" + std::to_string(lx + 90) + "' y1='" + std::to_string(y0 + 12) + "' x2='" +
           std::to_string(lx + 108) + "' y2='" + std::to_string(y0 + 12) +
           "' stroke='#ff7f0e' stroke-width='2'/><text x='" + std::to_string(lx + 112) + "' y='" +
           std::to_string(y0 + 16) + "'>used</text>\n";
    // The y axis: percent of the pool's GPUs, with gridlines.
    for (int pct = 0; pct <= 100; pct += 25) {
      const std::string y = fmt(y_of(pct / 100.0), 1);
      svg += "<line x1='" + std::to_string(left) + "' y1='" + y + "' x2='" +
             std::to_string(left + width) + "' y2='" + y + "' stroke='" +
             (pct == 0 ? "#666" : "#ddd") + "'/><text x='" + std::to_string(left - 6) + "' y='" +
             fmt(y_of(pct / 100.0) + 4, 1) + "' text-anchor='end'>" + std::to_string(pct) +
             " %</text>\n";
    }
    svg += "<line x1='" + std::to_string(left) + "' y1='" + fmt(y_of(1), 1) + "' x2='" +
           std::to_string(left) + "' y2='" + fmt(y_of(0), 1) + "' stroke='#666'/>\n";
    // The x axis: hours, about eight ticks.
    const size_t last = points > 0 ? points - 1 : 0;
    const size_t step = std::max<size_t>(1, (last + 7) / 8);
    for (size_t hour = 0; hour <= last; hour += step) {
      const std::string x = fmt(x_of(static_cast<double>(hour)), 1);
      svg += "<line x1='" + x + "' y1='" + fmt(y_of(0), 1) + "' x2='" + x + "' y2='" +
             fmt(y_of(0) + 5, 1) + "' stroke='#666'/><text x='" + x + "' y='" +
             fmt(y_of(0) + 18, 1) + "' text-anchor='middle'>" + std::to_string(hour) + "</text>\n";
    }
    svg += "<text x='" + std::to_string(left + width / 2) + "' y='" + fmt(y_of(0) + 32, 1) +
           "' text-anchor='middle'>hour</text>\n";
    svg += "<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='" + pa + "'/>\n";
    svg += "<polyline fill='none' stroke='#ff7f0e' stroke-width='2' points='" + pu + "'/>\n";
    y0 += panel;
  }
  svg += "</svg>\n";
  out.plot_svg = svg;
  return out;
}

}  // namespace jz::sched
