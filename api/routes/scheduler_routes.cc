// The scheduler's view (nodes, GPUs and who holds them, the queue with reasons, quota use)
// and the "what if" simulator over the current cluster or a changed copy of it.
#include <chrono>
#include <map>
#include <mutex>

#include "api/schema.h"
#include "api/services.h"
#include "core/text.h"
#include "platform/jobs/runner.h"
#include "sched/sim.h"

namespace jz::api {

namespace sc = schema;

namespace {

// The runner's view, less what the caller may not see: a GPU held by another tenant's job
// shows how much is held, not by whom; the queue keeps only visible jobs (at their place in
// the whole queue); projects only visible ones.
Json visible_view(Json view, JobVisibility& vis, bool admin) {
  if (admin) return view;
  for (Json& node : view["nodes"]) {
    for (Json& gpu : node["gpus"]) {
      for (Json& h : gpu["holders"]) {
        if (vis.sees(h.value("project", ""))) continue;
        h = {{"hidden", true},
             {"whole", h["whole"]},
             {"memory_mib", h["memory_mib"]},
             {"cores_percent", h["cores_percent"]}};
      }
    }
  }
  Json queue = Json::array();
  for (Json& q : view["queue"]) {
    if (vis.sees(q.value("project", ""))) queue.push_back(std::move(q));
  }
  view["queue_length"] = view["queue"].size();
  view["queue"] = std::move(queue);
  Json projects = Json::array();
  for (Json& p : view["projects"]) {
    if (vis.sees(p.value("project", ""))) projects.push_back(std::move(p));
  }
  view["projects"] = std::move(projects);
  return view;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The current cluster as the simulator's cluster YAML: one pool per node pool, GPUs per
// node and memory from the machine, and every project with its GPU quota.
Result<std::string> cluster_yaml(const ApiServices& s, const Json& view) {
  struct Pool {
    int nodes = 0, gpus = 0, memory = 0;
    std::string flavor;
  };
  std::map<std::string, Pool> pools;
  for (const Json& n : view.value("nodes", Json::array())) {
    Pool& p = pools[n.value("pool", "default")];
    ++p.nodes;
    p.gpus = std::max(p.gpus, static_cast<int>(n["gpus"].size()));
    for (const Json& g : n["gpus"]) p.memory = std::max(p.memory, g.value("memory_mib", 0));
    p.flavor = n.value("flavor", "gpu");
  }
  std::string y =
      "# The current cluster (GET /api/v1/scheduler/cluster); change it to ask \"what if\".\n"
      "policy: " +
      view.value("policy", std::string("fgd")) + "\npools:\n";
  for (const auto& [name, p] : pools) {
    y += "  - {name: " + name + ", nodes: " + std::to_string(p.nodes) +
         ", gpus_per_node: " + std::to_string(std::max(1, p.gpus)) +
         ", gpu_memory_mib: " + std::to_string(p.memory > 0 ? p.memory : 81920) +
         ", flavor: " + (p.flavor.empty() ? "gpu" : p.flavor) + "}\n";
  }
  int64_t total_gpus = 0;
  for (const auto& [name, p] : pools) total_gpus += int64_t{p.nodes} * std::max(1, p.gpus);
  JZ_ASSIGN_OR_RETURN(auto projects, s.tenancy.all_projects());
  y += projects.empty() ? "projects: []\n" : "projects:\n";
  for (const auto& p : projects) {
    JZ_ASSIGN_OR_RETURN(iam::Quota q, s.quotas.get(p.id));
    // Quotas are hard limits here (no borrowing); no GPU quota is every GPU there is.
    y += "  - {name: " + p.name + ", nominal_gpus: " +
         (q.gpus_milli ? number_text(static_cast<double>(*q.gpus_milli) / 1000)
                       : std::to_string(total_gpus)) +
         ", borrowing_limit_gpus: 0";
    if (q.per_user_gpus_milli) {
      y += ", per_user_gpus: " + number_text(static_cast<double>(*q.per_user_gpus_milli) / 1000);
    }
    y += "}\n";
  }
  return y;
}

constexpr double kMaxSimJobs = 200000;

}  // namespace

void add_scheduler_routes(ApiRoutes& api, const ApiServices& s) {
  jobs::JobRunner* runner = s.platform.runner;
  auto sim_mu = std::make_shared<std::mutex>();
  api.add({
      {.method = "GET",
       .path = "/api/v1/scheduler",
       .summary = "The scheduler's view: nodes and GPUs with the jobs holding them, the queue "
                  "in order with reasons, GPU use per project (other tenants' jobs: amounts only)",
       .response_schema = sc::ref("SchedulerView"),
       .errors = {409, 503},
       .handler = [&s, runner](RequestContext& ctx) -> Result<Reply> {
         if (!runner) {
           return Status::failed_precondition("this server runs no jobs (jobs.enabled=false)");
         }
         Json view = runner->scheduler_json();
         if (view.empty()) return Status::unavailable("the scheduler has not started yet");
         const int64_t as_of = view.value("as_of_ms", int64_t{0});
         view.erase("as_of_ms");
         view["as_of"] = wire_time(as_of);
         JobVisibility vis(s, ctx.me());
         Reply r = Reply::json(visible_view(std::move(view), vis, ctx.me().is_platform_admin()));
         r.headers.set("Cache-Control", "no-store");
         return r;
       }},
      {.method = "GET",
       .path = "/api/v1/scheduler/cluster",
       .scope = Scope::kPlatformAdmin,
       .summary = "The current cluster and project quotas as the simulator's cluster YAML",
       .response_schema = sc::object({{"yaml", sc::str()}}),
       .errors = {409},
       .handler = [&s, runner](RequestContext&) -> Result<Reply> {
         if (!runner) {
           return Status::failed_precondition("this server runs no jobs (jobs.enabled=false)");
         }
         JZ_ASSIGN_OR_RETURN(std::string y, cluster_yaml(s, runner->scheduler_json()));
         return Reply::json({{"yaml", y}});
       }},
      {.method = "POST",
       .path = "/api/v1/scheduler/simulate",
       .scope = Scope::kPlatformAdmin,
       .resource = "scheduler",
       .verb = "simulate",
       .summary = "What if: run the scheduling simulator (jizhan sched sim) on a cluster "
                  "(default: the current one) with a workload; one at a time",
       .body_schema = sc::object(
           {{"cluster", sc::str("Cluster YAML (docs/SCHEDULING.md); default: the current "
                                "cluster, as GET /api/v1/scheduler/cluster gives it")},
            {"workload", sc::str("A trace (CSV) or a generator (YAML); the simulation ends "
                                 "at the last submission")},
            {"workload_format", sc::one_of_strings({"csv", "yaml"})}},
           {"workload", "workload_format"}),
       .response_schema = sc::ref("SimulationReport"),
       .errors = {409, 429},
       .handler = [&s, runner, sim_mu](RequestContext& ctx) -> Result<Reply> {
         std::unique_lock lock(*sim_mu, std::try_to_lock);
         if (!lock.owns_lock()) {
           return Status::resource_exhausted(
               "a simulation is already running on this server; try again when it ends");
         }
         std::string cluster_text = ctx.body.value("cluster", "");
         if (cluster_text.empty()) {
           if (!runner) {
             return Status::failed_precondition(
                 "this server runs no jobs: send a cluster YAML to simulate");
           }
           JZ_ASSIGN_OR_RETURN(cluster_text, cluster_yaml(s, runner->scheduler_json()));
         }
         JZ_ASSIGN_OR_RETURN(auto cluster, sched::parse_cluster(cluster_text, "cluster"));
         const std::string text = ctx.body["workload"];
         Result<sched::Workload> workload =
             ctx.body["workload_format"] == "csv"
                 ? sched::parse_trace(text, "workload")
                 : sched::parse_generator(text, "workload", cluster, kMaxSimJobs);
         if (!workload.ok()) return workload.status();
         if (workload->jobs.empty()) {
           return Status::invalid_argument("workload: no jobs; add at least one row or class");
         }
         if (static_cast<double>(workload->jobs.size()) > kMaxSimJobs) {
           return Status::invalid_argument("workload: " + std::to_string(workload->jobs.size()) +
                                           " jobs; at most " + number_text(kMaxSimJobs) +
                                           " here (use `jizhan sched sim` for more)");
         }
         const auto start = std::chrono::steady_clock::now();
         JZ_ASSIGN_OR_RETURN(auto result, sched::simulate(cluster, *workload));
         const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - start);
         return Reply::json({{"summary", std::move(result.summary)},
                             {"series", std::move(result.series)},
                             {"summary_markdown", std::move(result.summary_markdown)},
                             {"cluster", cluster_text},
                             {"wall_ms", wall.count()}});
       }},
  });
}

}  // namespace jz::api
