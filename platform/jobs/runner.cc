#include "platform/jobs/runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

#include "core/text.h"
#include "logs/filter.h"
#include "logs/retention.h"
#include "logs/store.h"
#include "platform/jobs/environment.h"
#include "platform/monitor/monitor.h"

namespace jz::jobs {

namespace {

const std::vector<std::string> kActive = {"admitted", "starting", "running"};

}  // namespace

JobRunner::JobRunner(store::Database& db, Clock& clock, JobStore& jobs, Datasets& datasets,
                     iam::Quotas& quotas, iam::Tenancy& tenancy, exec::Executor& executor,
                     std::shared_ptr<spdlog::logger> logger, const RunnerOptions& options)
    : db_(db),
      clock_(clock),
      jobs_(jobs),
      datasets_(datasets),
      quotas_(quotas),
      tenancy_(tenancy),
      executor_(executor),
      logger_(std::move(logger)),
      options_(options),
      engine_(
          sched::Options{.policy = options.policy, .preemption_grace_ms = options.grace.count()}) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::log_error(const std::string& what, const Status& s) {
  logger_->error("jobs: {}: {}", what, s.message());
}

Status JobRunner::start() {
  JZ_RETURN_IF_ERROR(sync_nodes(clock_.now_unix_ms()));
  JZ_RETURN_IF_ERROR(rebuild());
  thread_ = std::thread([this] { loop(); });
  return {};
}

namespace {
std::string engine_node_name(const exec::NodeInfo& n) {
  return n.cluster == "local" ? n.name : n.cluster + "/" + n.name;
}
}  // namespace

Status JobRunner::sync_nodes(int64_t now) {
  next_node_sync_ms_ = now + 1000;
  nodes_version_ = executor_.nodes_version();
  std::map<std::string, exec::NodeInfo> now_nodes;
  for (auto& n : executor_.nodes()) now_nodes[engine_node_name(n)] = std::move(n);
  std::map<std::string, exec::NodeInfo> before;
  {
    std::lock_guard lock(nodes_mu_);
    before = nodes_;
  }
  for (const auto& [name, n] : now_nodes) {
    auto was = before.find(name);
    const bool same_shape = was != before.end() &&
                            was->second.machine.gpus.size() == n.machine.gpus.size() &&
                            was->second.machine.cpu_milli == n.machine.cpu_milli &&
                            was->second.machine.memory_mib == n.machine.memory_mib;
    if (was != before.end() && !same_shape) {
      // Resized (a node's allocatable changed): taken out and added again below.
      now_nodes.erase(name);
      continue;
    }
    if (was == before.end()) {
      const exec::MachineInfo& m = n.machine;
      sched::NodeSpec spec;
      spec.name = name;
      spec.pool = n.pool.empty() ? options_.pool : n.pool;
      spec.cluster = n.cluster;
      spec.flavor = m.gpus.empty() ? "cpu" : (m.gpus[0].name.empty() ? "gpu" : m.gpus[0].name);
      spec.cpu_milli = m.cpu_milli;
      spec.memory_mib = m.memory_mib;
      for (const auto& g : m.gpus) {
        spec.gpus.push_back({g.uuid, static_cast<int>(std::max<int64_t>(1, g.memory_mib)),
                             g.sm_count > 0 ? g.sm_count : 100, true});
      }
      JZ_RETURN_IF_ERROR(engine_.add_node(spec));
      logger_->info("jobs: node {} ({}) joins with {} GPU(s)", name, n.cluster, m.gpus.size());
    }
    if (was == before.end() || was->second.schedulable != n.schedulable) {
      if (Status st = engine_.set_node_schedulable(name, n.schedulable); !st.ok()) {
        log_error("cordoning " + name, st);
      } else if (was != before.end()) {
        logger_->warn("jobs: node {} {}", name,
                      n.schedulable ? "takes jobs again"
                                    : "takes no new job (its cluster stopped answering)");
      }
    }
  }
  // Nodes that left (or changed shape): their jobs are lost.
  for (const auto& [name, n] : before) {
    if (now_nodes.count(name)) continue;
    auto lost = engine_.remove_node(name);
    if (!lost.ok()) {
      log_error("removing node " + name, lost.status());
      continue;
    }
    logger_->warn("jobs: node {} left; {} job(s) on it are lost", name, lost->size());
    for (int64_t seq : *lost) {
      auto id = by_seq_.find(seq);
      if (id == by_seq_.end()) continue;
      auto a = active_.find(id->second);
      if (a == active_.end()) continue;
      exec::JobStatus st;
      st.phase = exec::JobStatus::Phase::kLost;
      st.message = "its node " + name + " left the cluster";
      finish(a->second, st);
    }
  }
  {
    std::lock_guard lock(nodes_mu_);
    nodes_ = std::move(now_nodes);
  }
  return {};
}

std::optional<exec::GpuInfo> JobRunner::gpu_at(const std::string& node, int index) const {
  std::lock_guard lock(nodes_mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || index < 0 || index >= static_cast<int>(it->second.machine.gpus.size()))
    return std::nullopt;
  return it->second.machine.gpus[static_cast<size_t>(index)];
}

void JobRunner::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  scheduler_cv_.notify_all();
  if (!thread_.joinable()) return;
  thread_.join();
  // The loop has ended: the engine is this thread's now.
  if (Status s = persist_usage(clock_.now_unix_ms()); !s.ok()) log_error("saving usage", s);
}

Status JobRunner::persist_usage(int64_t now) {
  return db_.transact([&](store::Conn& c) -> Status {
    for (const auto& name : known_projects_) {
      auto h = engine_.usage_history(name, now);
      if (!h) continue;
      JZ_RETURN_IF_ERROR(
          c.exec("INSERT INTO sched_usage (project, decayed, at_ms) VALUES (?, ?, ?) "
                 "ON CONFLICT (project) DO UPDATE SET decayed = excluded.decayed, "
                 "at_ms = excluded.at_ms",
                 {name, h->decayed, h->at_ms})
              .status());
    }
    return {};
  });
}

Status JobRunner::restore_usage() {
  return db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT project, decayed, at_ms FROM sched_usage"));
    for (const auto& r : rows) {
      const std::string project = r.text("project");
      if (!known_projects_.count(project)) continue;  // deleted meanwhile
      const double decayed = std::strtod(r.text("decayed").c_str(), nullptr);
      JZ_RETURN_IF_ERROR(engine_.set_usage_history(project, {decayed, r.integer("at_ms")}));
    }
    return {};
  });
}

void JobRunner::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void JobRunner::set_gpu_health(const std::string& uuid, bool healthy, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    health_changes_.push_back({uuid, healthy, reason});
  }
  wake();
}

void JobRunner::apply_health_changes(int64_t now) {
  std::vector<HealthChange> changes;
  {
    std::lock_guard lock(mu_);
    changes.swap(health_changes_);
  }
  for (const auto& c : changes) {
    int index = -1;
    std::string node;
    {
      std::lock_guard lock(nodes_mu_);
      for (const auto& [name, n] : nodes_) {
        for (size_t i = 0; i < n.machine.gpus.size(); ++i) {
          if (n.machine.gpus[i].uuid == c.uuid) {
            index = static_cast<int>(i);
            node = name;
          }
        }
      }
    }
    if (index < 0) continue;  // not a GPU jobs are placed on
    if (Status s = engine_.set_gpu_health(node, index, c.healthy); !s.ok()) {
      log_error("setting the health of GPU " + c.uuid, s);
      continue;
    }
    gpu_health_[c.uuid] = c.healthy ? "" : c.reason;
    const std::string what =
        "GPU " + std::to_string(index) + " (" + c.uuid + ") of node " + node +
        (c.healthy ? " is back in service" : " is out of service: " + c.reason);
    if (c.healthy) {
      logger_->info("jobs: {}", what);
    } else {
      logger_->warn("jobs: {}; no job is placed on it", what);
    }
    iam::Event node_event;
    node_event.resource_type = "node";
    node_event.resource_name = node;
    node_event.type = "updated";
    node_event.reason = c.healthy ? "GpuHealthy" : "GpuUnhealthy";
    node_event.message = what;
    node_event.actor = "system";
    if (auto e = jobs_.events().append(node_event); !e.ok()) log_error("recording", e.status());
    if (c.healthy) continue;
    // Each job running on it hears of it, in its project.
    for (const auto& n : engine_.nodes_view()) {
      if (n.name != node || index >= static_cast<int>(n.gpus.size())) continue;
      for (const auto& h : n.gpus[static_cast<size_t>(index)].holders) {
        auto it = by_seq_.find(h.job);
        if (it == by_seq_.end()) continue;
        iam::Event e;
        e.project = h.project;
        if (auto p = tenancy_.project(h.project); p.ok()) e.workspace = p->workspace;
        e.resource_type = "job";
        e.resource_name = it->second;
        e.type = "updated";
        e.reason = "GpuUnhealthy";
        e.message = "the job runs on " + what;
        e.actor = "system";
        if (auto r = jobs_.events().append(e); !r.ok()) log_error("recording", r.status());
      }
    }
  }
  (void)now;
}

void JobRunner::check_training_gpu_idle(Active& a, int64_t now) {
  if (now < a.next_idle_check_ms) return;
  a.next_idle_check_ms = now + 10'000;
  auto settings = jobs_.settings(a.project_id);
  const int64_t threshold = settings.ok() ? settings->devenv_gpu_idle_percent : 5;
  auto util = monitor_->run_gpu_util(a.run_id, options_.training_gpu_idle);
  if (!util) return;
  const bool idle = *util < static_cast<double>(threshold);
  if (!idle) {
    a.gpu_idle_reported = false;
    return;
  }
  if (a.gpu_idle_reported) return;
  a.gpu_idle_reported = true;
  auto job = jobs_.get(a.id);
  if (!job.ok()) return;
  char use[32];
  std::snprintf(use, sizeof use, "%.1f%%", *util);
  job_event(a.id, job->project, job->username, "GpuIdle",
            "the job holds its GPUs but used them at " + std::string(use) + " (under " +
                std::to_string(threshold) + "%) for the last " +
                std::to_string(options_.training_gpu_idle.count() / 60) +
                " minutes; cancel it if it is stuck, or give the GPUs back");
}

Json JobRunner::allocation_of(const Job& j, const sched::Decision& d) const {
  const sched::JobSpec es = engine_spec(j);
  const int64_t workers = std::max<int64_t>(1, static_cast<int64_t>(d.placement.size()));
  int64_t gpu_memory = 0;
  std::string flavor = "cpu", cluster = "local";
  for (const auto& w : d.placement) {
    if (auto g = gpu_at(w.node, w.gpus.empty() ? 0 : w.gpus[0]); g && !g->name.empty())
      flavor = g->name;
    std::lock_guard lock(nodes_mu_);
    if (auto n = nodes_.find(w.node); n != nodes_.end()) cluster = n->second.cluster;
  }
  if (j.spec.resources.is_share()) {
    gpu_memory = int64_t{es.share_memory_mib} * workers;
  } else {
    for (const auto& w : d.placement) {
      for (int g : w.gpus) {
        if (auto info = gpu_at(w.node, g)) gpu_memory += info->memory_mib;
      }
    }
  }
  return {{"gpu_milli", engine_.charge_milli(es) * workers},
          {"gpu_memory_mib", gpu_memory},
          {"cpu_milli", es.cpu_milli * workers},
          {"memory_mib", es.memory_mib * workers},
          {"pool", options_.pool},
          {"flavor", flavor},
          {"cluster", cluster}};
}

Json JobRunner::gpu_limits(const Job& j) const {
  const Resources& r = j.spec.resources;
  if (r.is_share()) {
    const sched::JobSpec es = engine_spec(j);
    return {{"share", true},
            {"memory_mib", es.share_memory_mib},
            {"cores_percent", es.share_cores_percent > 0 ? es.share_cores_percent : 100}};
  }
  if (r.gpus <= 0) return nullptr;
  // The devices it was placed on (the first worker's; workers get alike devices).
  int64_t memory = 0;
  for (const auto& w : j.placement) {
    if (!w.contains("gpus")) continue;
    for (const auto& g : w["gpus"]) {
      if (!g.is_number_integer()) continue;
      if (auto info = gpu_at(json::string_or(w, "node"), g.get<int>())) {
        memory = std::max<int64_t>(memory, info->memory_mib);
      }
    }
  }
  Json out = {{"share", false}, {"gpus", r.gpus}, {"cores_percent", 100}};
  if (memory > 0) out["memory_mib"] = memory;
  return out;
}

std::string JobRunner::metrics_text() {
  std::lock_guard lock(mu_);
  std::string out = metrics_cache_;
  // The wait histogram is kept under mu_ (admissions add to it between ticks).
  out += "# HELP jizhan_job_wait_seconds Time from a job's submission to its admission.\n";
  out += "# TYPE jizhan_job_wait_seconds histogram\n";
  for (size_t b = 0; b < kWaitBuckets.size(); ++b) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", kWaitBuckets[b]);
    out += "jizhan_job_wait_seconds_bucket{le=\"" + std::string(le) + "\"} " +
           std::to_string(wait_buckets_[b]) + "\n";
  }
  out += "jizhan_job_wait_seconds_bucket{le=\"+Inf\"} " + std::to_string(wait_count_) + "\n";
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.3f", wait_sum_s_);
  out += "jizhan_job_wait_seconds_sum " + std::string(sum) + "\n";
  out += "jizhan_job_wait_seconds_count " + std::to_string(wait_count_) + "\n";
  return out;
}

std::string JobRunner::render_metrics(const std::map<std::string, Json>& usage) const {
  auto number = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.10g", v);
    return std::string(b);
  };
  // Project names are [a-z0-9-]: nothing in them needs escaping in a label value.
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  family("jizhan_jobs", "gauge",
         "Jobs the scheduler holds, by project and state (pending: waiting for resources; "
         "running: holding them).");
  for (const auto& [project, u] : usage) {
    out += "jizhan_jobs{project=\"" + project + "\",state=\"pending\"} " +
           std::to_string(u.value("pending_jobs", int64_t{0})) + "\n";
    out += "jizhan_jobs{project=\"" + project + "\",state=\"running\"} " +
           std::to_string(u.value("concurrent_jobs", int64_t{0})) + "\n";
  }
  family("jizhan_queue_length", "gauge", "Jobs waiting for resources.");
  out += "jizhan_queue_length " + std::to_string(engine_.pending_count()) + "\n";
  family("jizhan_project_gpus_used", "gauge", "GPUs a project's jobs hold (shares as fractions).");
  for (const auto& [project, u] : usage) {
    out += "jizhan_project_gpus_used{project=\"" + project + "\"} " + number(u.value("gpus", 0.0)) +
           "\n";
  }
  family("jizhan_project_gpus_quota", "gauge",
         "A project's guaranteed GPUs (absent: no GPU quota).");
  for (const auto& [project, u] : usage) {
    auto q = engine_.queue(project);
    if (q && q->nominal_milli < sched::kUnlimited / 2) {
      out += "jizhan_project_gpus_quota{project=\"" + project + "\"} " +
             number(static_cast<double>(q->nominal_milli) / 1000) + "\n";
    }
  }
  family("jizhan_project_cpu_cores_used", "gauge", "CPU cores a project's jobs hold.");
  for (const auto& [project, u] : usage) {
    out += "jizhan_project_cpu_cores_used{project=\"" + project + "\"} " +
           number(u.value("cpu_cores", 0.0)) + "\n";
  }
  family("jizhan_project_memory_used_bytes", "gauge", "Memory a project's jobs hold.");
  for (const auto& [project, u] : usage) {
    out += "jizhan_project_memory_used_bytes{project=\"" + project + "\"} " +
           std::to_string(u.value("memory_mib", int64_t{0}) << 20) + "\n";
  }
  family("jizhan_gpus", "gauge", "GPUs of the cluster: total, allocated (x1), out of service.");
  int64_t total = 0, unhealthy = 0;
  for (const auto& n : engine_.nodes_view()) {
    for (const auto& d : n.gpus) {
      ++total;
      unhealthy += d.healthy ? 0 : 1;
    }
  }
  out += "jizhan_gpus{state=\"total\"} " + std::to_string(total) + "\n";
  out += "jizhan_gpus{state=\"allocated\"} " +
         number(static_cast<double>(engine_.allocated_milli()) / 1000) + "\n";
  out += "jizhan_gpus{state=\"unhealthy\"} " + std::to_string(unhealthy) + "\n";
  return out;
}

void JobRunner::touch(const std::string& job_id) {
  std::lock_guard lock(mu_);
  touched_[job_id] = clock_.now_unix_ms();
}

Json JobRunner::nodes_json() {
  std::lock_guard lock(mu_);
  return nodes_cache_;
}

std::optional<int64_t> JobRunner::idle_stop_at_ms(const std::string& job_id) {
  std::lock_guard lock(mu_);
  auto it = idle_at_cache_.find(job_id);
  if (it == idle_at_cache_.end()) return std::nullopt;
  return it->second;
}

Json JobRunner::usage_json(const std::string& project_name) {
  std::lock_guard lock(mu_);
  auto it = usage_cache_.find(project_name);
  return it == usage_cache_.end() ? Json::object() : it->second;
}

Json JobRunner::scheduler_json() {
  std::unique_lock lock(mu_);
  scheduler_wanted_until_ = clock_.steady_now() + std::chrono::seconds(10);
  const int64_t asked = clock_.now_unix_ms();
  if (scheduler_cache_.is_null() || asked - scheduler_built_ms_ > 1000) {
    // Not built lately (nobody asked): the next tick builds it.
    woken_ = true;
    cv_.notify_all();
    scheduler_cv_.wait_for(lock, std::chrono::seconds(1), [&] {
      return (!scheduler_cache_.is_null() && scheduler_built_ms_ >= asked) || stop_;
    });
  }
  return scheduler_cache_.is_null() ? Json::object() : scheduler_cache_;
}

std::string JobRunner::platform_words(std::string reason) const {
  static constexpr std::string_view kJob = "for job ";
  for (size_t at = reason.find(kJob); at != std::string::npos; at = reason.find(kJob, at + 1)) {
    const size_t from = at + kJob.size();
    size_t to = from;
    while (to < reason.size() && std::isdigit(static_cast<unsigned char>(reason[to]))) ++to;
    if (to == from) continue;
    auto it = by_seq_.find(std::stoll(reason.substr(from, to - from)));
    if (it != by_seq_.end()) reason.replace(from, to - from, it->second);
  }
  return reason;
}

void JobRunner::prune_labels() {
  for (auto it = labels_.begin(); it != labels_.end();) {
    it = by_seq_.count(it->first) ? std::next(it) : labels_.erase(it);
  }
}

Json JobRunner::build_scheduler_view(int64_t now) {
  prune_labels();
  auto job_fields = [this](int64_t seq, Json& out) {
    auto id = by_seq_.find(seq);
    out["job"] = id == by_seq_.end() ? "" : id->second;
    auto label = labels_.find(seq);
    out["name"] = label == labels_.end() ? "" : label->second.first;
    out["kind"] = label == labels_.end() ? "" : label->second.second;
  };
  std::map<std::string, exec::NodeInfo> infos;
  {
    std::lock_guard lock(nodes_mu_);
    infos = nodes_;
  }
  Json nodes = Json::array();
  for (const auto& n : engine_.nodes_view()) {
    auto info = infos.find(n.name);
    const exec::MachineInfo empty;
    const exec::MachineInfo& m = info == infos.end() ? empty : info->second.machine;
    Json gpus = Json::array();
    for (size_t i = 0; i < n.gpus.size(); ++i) {
      const auto& d = n.gpus[i];
      Json holders = Json::array();
      for (const auto& h : d.holders) {
        Json hj = {{"project", h.project},
                   {"user", h.user},
                   {"whole", h.whole},
                   {"memory_mib", h.memory_mib},
                   {"cores_percent", h.cores_percent},
                   {"preempting", h.preempting}};
        job_fields(h.job, hj);
        holders.push_back(std::move(hj));
      }
      const bool known = i < m.gpus.size();
      gpus.push_back({{"index", i},
                      {"uuid", d.uuid},
                      {"model", known ? m.gpus[i].name : ""},
                      {"virtual", known && m.gpus[i].is_virtual},
                      {"healthy", d.healthy},
                      {"memory_mib", d.memory_mib},
                      {"memory_used_mib", d.memory_used_mib},
                      {"cores_used_percent", d.cores_used_percent},
                      {"holders", std::move(holders)}});
    }
    nodes.push_back({{"name", n.name},
                     {"cluster", info == infos.end() ? "local" : info->second.cluster},
                     {"schedulable", info == infos.end() || info->second.schedulable},
                     {"pool", n.pool},
                     {"flavor", n.flavor},
                     {"cpu", static_cast<double>(n.cpu_milli) / 1000},
                     {"cpu_used", static_cast<double>(n.cpu_used_milli) / 1000},
                     {"memory_mib", n.memory_mib},
                     {"memory_used_mib", n.memory_used_mib},
                     {"gpus", std::move(gpus)}});
  }
  Json queue = Json::array();
  int64_t position = 0;
  for (const auto& p : engine_.queue_view()) {
    Json qj = {{"position", ++position},
               {"project", p.project},
               {"user", p.user},
               {"priority", p.priority},
               {"gpus", static_cast<double>(p.charge_milli) / 1000},
               {"reason", platform_words(p.reason)}};
    job_fields(p.job, qj);
    queue.push_back(std::move(qj));
  }
  Json projects = Json::array();
  for (const auto& name : known_projects_) {
    auto q = engine_.queue(name);
    if (!q) continue;
    // An unlimited quota is a nominal of a million GPUs (refresh_queues).
    Json quota = q->nominal_milli >= int64_t{1'000'000'000}
                     ? Json(nullptr)
                     : Json(static_cast<double>(q->nominal_milli) / 1000);
    // Fair share's memory: GPU-hours, decayed by the half-life (1 h), as of now.
    auto h = engine_.usage_history(name, now);
    const double recent = h ? h->decayed / 1000 / 3.6e6 : 0;
    projects.push_back({{"project", name},
                        {"gpus_used", static_cast<double>(q->used_milli) / 1000},
                        {"recent_gpu_hours", std::round(recent * 1e4) / 1e4},
                        {"gpus_quota", quota},
                        {"running_jobs", q->running_jobs},
                        {"pending_jobs", q->pending_jobs}});
  }
  return {{"nodes", std::move(nodes)},
          {"queue", std::move(queue)},
          {"projects", std::move(projects)},
          {"gpus_total", static_cast<double>(engine_.capacity_milli()) / 1000},
          {"gpus_allocated", static_cast<double>(engine_.allocated_milli()) / 1000},
          {"policy", sched::policy_name(options_.policy)},
          {"as_of_ms", now}};
}

void JobRunner::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    tick();
    // While a sandbox is starting, look again soon: its start is on every job's path.
    bool starting = false;
    for (const auto& [id, a] : active_) starting = starting || (!a.running && a.ending.empty());
    lock.lock();
    cv_.wait_for(lock,
                 starting ? std::min(options_.tick, std::chrono::milliseconds(5)) : options_.tick,
                 [this] { return stop_ || woken_; });
    woken_ = false;
  }
}

Status JobRunner::refresh_queues(bool force) {
  if (quotas_changed_.exchange(false)) force = true;
  if (!force && clock_.steady_now() - last_refresh_ < options_.quota_refresh) return {};
  last_refresh_ = clock_.steady_now();
  JZ_ASSIGN_OR_RETURN(auto projects, tenancy_.all_projects());
  for (const auto& p : projects) {
    JZ_ASSIGN_OR_RETURN(iam::Quota q, quotas_.get(p.id));
    sched::QueueSpec s;
    s.project = p.name;
    // Quotas are hard limits per project here: no cohort, no borrowing.
    s.nominal_milli = q.gpus_milli.value_or(int64_t{1'000'000'000});
    s.borrowing_limit_milli = 0;
    s.lending_limit_milli = 0;
    s.per_user_milli = q.per_user_gpus_milli.value_or(sched::kUnlimited);
    s.max_running_jobs = q.concurrent_jobs.value_or(sched::kUnlimited);
    s.cpu_limit_milli = q.cpu_milli.value_or(sched::kUnlimited);
    s.memory_limit_mib = q.memory_mib.value_or(sched::kUnlimited);
    JZ_RETURN_IF_ERROR(engine_.set_queue(s));
    known_projects_.insert(p.name);
    std::string clusters;
    for (const auto& c : q.clusters) clusters += (clusters.empty() ? "" : "|") + c;
    std::lock_guard lock(nodes_mu_);
    project_clusters_[p.name] = clusters;
  }
  return {};
}

sched::JobSpec JobRunner::engine_spec(const Job& j) const {
  sched::JobSpec s;
  s.id = j.seq;
  s.project = j.project;
  s.user = j.username;
  s.priority = j.spec.priority;
  s.preemptible = j.spec.preemptible;
  const Resources& r = j.spec.resources;
  if (r.is_share()) {
    s.share_cores_percent = r.share_cores_percent;
    int64_t mem = r.share_memory_mib;
    if (r.gpu_fraction > 0) {
      // A fraction of the smallest device's memory.
      int64_t smallest = 0;
      std::lock_guard lock(nodes_mu_);
      for (const auto& [name, n] : nodes_) {
        for (const auto& g : n.machine.gpus) {
          if (smallest == 0 || g.memory_mib < smallest) smallest = g.memory_mib;
        }
      }
      mem = static_cast<int64_t>(static_cast<double>(smallest) * r.gpu_fraction);
    }
    s.share_memory_mib = static_cast<int>(std::max<int64_t>(1, mem));
  } else {
    s.gpus = r.gpus;
  }
  s.cpu_milli = r.cpu_milli;
  s.memory_mib = r.memory_mib;
  s.pool = j.spec.pool;
  s.runtime_estimate_ms = j.spec.runtime_limit_s * 1000;
  {
    std::lock_guard lock(nodes_mu_);
    if (auto c = project_clusters_.find(j.project); c != project_clusters_.end())
      s.clusters = c->second;
    if (j.kind == "devenv") {
      // Dev environments are reached through this machine's proxy: they run here.
      s.clusters = sched::flavor_accepts(s.clusters, "local")
                       ? "local"
                       : "(this machine, for a dev environment)";
    } else if (!j.spec.image.empty()) {
      // A container image: a Kubernetes cluster's job (this machine runs none in images).
      std::set<std::string> allowed;
      for (const auto& [name, n] : nodes_) {
        if (n.cluster != "local" && sched::flavor_accepts(s.clusters, n.cluster)) {
          allowed.insert(n.cluster);
        }
      }
      std::string list;
      for (const auto& c : allowed) list += (list.empty() ? "" : "|") + c;
      // None: a name no node has, so the engine says no node could hold it.
      s.clusters = list.empty() ? "(a Kubernetes cluster, for its image)" : list;
    }
  }
  return s;
}

Status JobRunner::rebuild() {
  JZ_RETURN_IF_ERROR(refresh_queues(true));
  JZ_RETURN_IF_ERROR(restore_usage());
  JZ_ASSIGN_OR_RETURN(auto active, jobs_.in_states(kActive));
  const int64_t now = clock_.now_unix_ms();
  for (const Job& j : active) {
    const std::string run = j.kind == "devenv" ? j.id : j.run_id();
    exec::JobStatus st = executor_.poll(run);
    if (st.phase == exec::JobStatus::Phase::kLost) {
      Transition t{.to = "lost",
                   .reason = "Lost",
                   .detail = "after a restart of the server: " + st.message,
                   .finished = true};
      if (Status s = jobs_.transition(j.id, kActive, t); !s.ok()) log_error("marking lost", s);
      continue;
    }
    std::vector<sched::WorkerPlacement> placement;
    for (const auto& w : j.placement) {
      sched::WorkerPlacement p;
      p.node = json::string_or(w, "node", "");
      if (w.contains("gpus") && w["gpus"].is_array()) {
        for (const auto& g : w["gpus"]) {
          if (g.is_number_integer()) p.gpus.push_back(g.get<int>());
        }
      }
      placement.push_back(p);
    }
    Status adopted = engine_.adopt(engine_spec(j), placement, j.started_at_ms.value_or(now));
    if (!adopted.ok()) {
      // It runs, but not where the engine could account for it (the machine changed):
      // stop it rather than let it run unaccounted.
      executor_.terminate(run, options_.grace);
      logger_->warn("jobs: job {} cannot be adopted ({}); stopping it", j.id, adopted.message());
    }
    Active a;
    a.id = j.id;
    a.run_id = run;
    a.project_id = j.project_id;
    a.kind = j.kind;
    a.user_id = j.user_id;
    a.seq = j.seq;
    a.started_ms = j.started_at_ms.value_or(now);
    a.deadline_ms = j.spec.runtime_limit_s > 0 ? a.started_ms + j.spec.runtime_limit_s * 1000 : 0;
    a.last_activity_ms = now;
    a.running = j.state == "running";
    a.uses_gpu = j.spec.resources.gpus > 0 || j.spec.resources.is_share();
    if (!adopted.ok()) a.ending = "lost";
    by_seq_[j.seq] = j.id;
    labels_[j.seq] = {j.name, j.kind};
    active_[j.id] = a;
    logger_->info("jobs: adopted job {} ({}) after a restart", j.id, j.state);
  }
  take_new_jobs();
  return {};
}

void JobRunner::take_new_jobs() {
  auto queued = jobs_.in_states({"queued"}, last_queue_seq_);
  if (!queued.ok()) return log_error("reading queued jobs", queued.status());
  const int64_t now = clock_.now_unix_ms();
  for (const Job& j : *queued) {
    last_queue_seq_ = std::max(last_queue_seq_, j.queue_seq);
    if (by_seq_.count(j.seq)) continue;
    if (!known_projects_.count(j.project)) (void)refresh_queues(true);
    Status s = engine_.submit(engine_spec(j), now);
    if (!s.ok()) {
      Transition t{.to = "failed", .reason = "Rejected", .detail = s.message(), .finished = true};
      if (Status w = jobs_.transition(j.id, {"queued"}, t); !w.ok()) log_error("rejecting", w);
      continue;
    }
    by_seq_[j.seq] = j.id;
    labels_[j.seq] = {j.name, j.kind};
    waiting_[j.seq] = {j.id, j.project_id, j.project, j.username, j.updated_at_ms, false};
  }
}

void JobRunner::job_event(const std::string& job_id, const std::string& project,
                          const std::string& username, const std::string& reason,
                          const std::string& message) {
  iam::Event e;
  e.project = project;
  if (auto p = tenancy_.project(project); p.ok()) e.workspace = p->workspace;
  e.subject = username;
  e.resource_type = "job";
  e.resource_name = job_id;
  e.type = "updated";
  e.reason = reason;
  e.message = message;
  e.actor = "system";
  if (auto r = jobs_.events().append(e); !r.ok()) log_error("recording", r.status());
}

void JobRunner::check_quotas(int64_t now) {
  if (now < next_quota_check_ms_) return;
  next_quota_check_ms_ = now + 2000;
  for (const auto& name : known_projects_) {
    auto q = engine_.queue(name);
    // No quota (a nominal of a million GPUs stands for none) or none of GPUs.
    if (!q || q->nominal_milli <= 0 || q->nominal_milli >= int64_t{1'000'000'000}) continue;
    const double share = static_cast<double>(q->used_milli) / static_cast<double>(q->nominal_milli);
    bool& told = quota_warned_[name];
    if (share < 0.8) told = false;
    if (share < 0.9 || told) continue;
    told = true;
    char text[160];
    std::snprintf(text, sizeof text,
                  "the project's jobs hold %.1f of its %.1f GPUs (%.0f%%): more wait in the "
                  "queue or borrow idle GPUs others may take back",
                  static_cast<double>(q->used_milli) / 1000,
                  static_cast<double>(q->nominal_milli) / 1000, share * 100);
    iam::Event e;
    e.project = name;
    if (auto p = tenancy_.project(name); p.ok()) e.workspace = p->workspace;
    e.resource_type = "project";
    e.resource_name = name;
    e.type = "updated";
    e.reason = "QuotaNearlyUsed";
    e.message = text;
    e.actor = "scheduler";
    if (auto r = jobs_.events().append(e); !r.ok()) log_error("recording", r.status());
  }
}

void JobRunner::check_waiting(int64_t now) {
  if (now < next_wait_check_ms_) return;
  next_wait_check_ms_ = now + 250;
  std::set<int64_t> queued;
  for (const auto& p : engine_.queue_view()) {
    queued.insert(p.job);
    auto w = waiting_.find(p.job);
    if (w == waiting_.end() || w->second.reported) continue;
    // The projects' limits, read again every 30 s.
    auto known = queued_alert_s_.find(w->second.project_id);
    if (known == queued_alert_s_.end() || now - known->second.second >= 30'000) {
      auto st = jobs_.settings(w->second.project_id);
      known = queued_alert_s_
                  .insert_or_assign(w->second.project_id,
                                    std::pair{st.ok() ? st->queued_alert_s : int64_t{1800}, now})
                  .first;
    }
    const int64_t limit_s = known->second.first;
    if (limit_s <= 0 || now - w->second.since_ms < limit_s * 1000) continue;
    w->second.reported = true;
    const std::string why = p.reason.empty() ? "not yet looked at" : platform_words(p.reason);
    auto span = [](int64_t s) {
      return s < 120    ? std::to_string(s) + " s"
             : s < 7200 ? std::to_string(s / 60) + " min"
                        : std::to_string(s / 3600) + " h";
    };
    job_event(w->second.id, w->second.project, w->second.username, "QueuedTooLong",
              "queued for " + span((now - w->second.since_ms) / 1000) +
                  " (the project's limit: " + span(limit_s) + "); the scheduler says: " + why);
  }
  // Those placed, cancelled or gone since.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    it = queued.count(it->first) ? std::next(it) : waiting_.erase(it);
  }
}

void JobRunner::attach_runs(training::RunService* runs) {
  runs_ = runs;
  watch_ =
      runs ? std::make_unique<training::TrainingWatch>(*runs, jobs_.events(), clock_) : nullptr;
}

std::optional<training::JobProgress> JobRunner::job_progress(const std::string& job_id) const {
  return watch_ ? watch_->progress(job_id) : std::nullopt;
}

void JobRunner::start_run_if_reported(Active& a) {
  if (a.has_run || !runs_) return;
  const std::string dir = executor_.job_dir(a.run_id) + "/metrics";
  std::error_code ec;
  bool reported = std::filesystem::exists(dir + "/tags", ec);
  if (!reported) {
    const auto size = std::filesystem::file_size(dir + "/records.jsonl", ec);
    reported = !ec && size > 0;
  }
  if (!reported) return;
  if (Status s = runs_->job_started(a.project_id, a.id, a.user_id, dir); !s.ok()) {
    return log_error("starting the training run of job " + a.id, s);
  }
  a.has_run = true;
}

void JobRunner::handle_cancels() {
  auto ids = jobs_.cancel_requested();
  if (!ids.ok()) return log_error("reading cancel requests", ids.status());
  const int64_t now = clock_.now_unix_ms();
  for (const auto& id : *ids) {
    auto a = active_.find(id);
    if (a != active_.end()) {
      if (a->second.ending.empty() || a->second.ending == "preempt") {
        a->second.ending = "cancel";
        logger_->info("jobs: cancelling job {}: SIGTERM, SIGKILL after {} ms", id,
                      options_.grace.count());
        executor_.terminate(a->second.run_id, options_.grace);
      }
      continue;
    }
    auto j = jobs_.get(id);
    if (!j.ok() || j->state != "queued") continue;
    (void)engine_.cancel(j->seq, now);
    by_seq_.erase(j->seq);
    Transition t{.to = "cancelled",
                 .reason = "Cancelled",
                 .detail = "cancelled while queued",
                 .finished = true};
    if (Status s = jobs_.transition(id, {"queued"}, t); !s.ok()) log_error("cancelling", s);
  }
}

void JobRunner::finish(Active& a, const exec::JobStatus& st) {
  const int64_t now = clock_.now_unix_ms();
  auto job = jobs_.get(a.id);
  if (!job.ok()) return log_error("reading job " + a.id, job.status());
  Transition t;
  t.finished = true;
  if (st.phase == exec::JobStatus::Phase::kLost) {
    t.to = "lost";
    t.reason = "Lost";
    t.detail = st.message;
  } else {
    t.exit_code = st.exit_code;
    if (a.ending == "cancel") {
      t.to = "cancelled";
      t.reason = "Cancelled";
      t.detail = "cancelled while " + job->state;
    } else if (a.ending == "preempt") {
      t.to = "preempted";
      t.reason = "Preempted";
      t.detail = a.ending_detail;
    } else if (a.ending == "idle") {
      t.to = "cancelled";
      t.reason = "Idle";
      t.detail = a.ending_detail + "; its folder is kept: retry the job to resume it";
    } else if (a.ending == "storage") {
      t.to = "failed";
      t.reason = "StorageQuotaExceeded";
      t.detail = a.ending_detail;
    } else if (a.ending == "timeout") {
      t.to = "failed";
      t.reason = "DeadlineExceeded";
      t.detail =
          "ran past its runtime limit of " + std::to_string(job->spec.runtime_limit_s) + " s";
    } else {
      // Forks the process limit refused, said whether the job failed of them or not.
      const std::string refused =
          st.pids_limit_hits > 0
              ? std::to_string(st.pids_limit_hits) +
                    " process or thread creation(s) were refused at its limit of " +
                    std::to_string(options_.max_pids) +
                    " processes and threads (server setting jobs.max_pids)"
              : "";
      if (!st.reason.empty() && st.reason != "OOMKilled") {
        // Ended by its cluster: past its deadline there, evicted, or never started.
        t.to = "failed";
        t.reason = st.reason;
        t.detail = st.message;
      } else if (st.exit_code == 0) {
        t.to = "succeeded";
        t.reason = "Succeeded";
        t.detail = refused;
      } else {
        t.to = "failed";
        t.reason = st.oom_killed ? "OOMKilled" : !refused.empty() ? "PidsLimit" : "Failed";
        t.detail = st.oom_killed
                       ? "killed for using more than its " +
                             std::to_string(job->spec.resources.memory_mib) + " MiB of memory"
                   : !refused.empty() ? "failed after " + refused
                                      : st.message;
        auto level = t.reason == "Failed" ? data_level(*job, nullptr) : Result<std::string>("");
        if (t.reason == "Failed" && level.ok() && *level == "open") {
          // The last lines of its log, so the notification says why without a visit. Only
          // for open data: notifications reach chat rooms and mailboxes outside the
          // platform, where a log under a dataset's policy was never meant to go.
          logs::LogQuery q;
          q.tail = 3;
          q.max_bytes = 4096;
          auto page = logs::read_log(executor_.job_dir(a.run_id) + "/logs", q);
          std::string last;
          for (const auto& r : page.ok() ? page->records : std::vector<logs::LogRecord>{}) {
            std::string line = escape_controls(r.text.substr(0, 200), {});
            if (!line.empty()) last += (last.empty() ? "" : " | ") + line;
          }
          if (!last.empty()) t.detail += "; its log ends: " + last;
        }
      }
    }
  }
  if (outputs_) {
    // What the run left in /output becomes the job's outputs, held when it read
    // internal or secret data; recorded before the end is, so whoever sees the job
    // ended finds them.
    const std::string dir = executor_.job_dir(a.run_id) + "/output";
    auto level = data_level(*job, nullptr);
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) {
      auto rec = outputs_->record(a.id, a.project_id, dir, level.ok() ? *level : "secret");
      if (!rec.ok()) log_error("recording the outputs of job " + a.id, rec.status());
    }
  }
  // Store first, then free the engine's resources: the log shows the release before
  // any admission that uses them.
  if (Status s = jobs_.transition(a.id, kActive, t); !s.ok()) {
    log_error("recording the end of job " + a.id, s);
    return;
  }
  if (watch_ && a.watched) watch_->ended(a.id, t.to == "succeeded");
  if (runs_) {
    start_run_if_reported(a);
    if (Status s = a.has_run ? runs_->job_ended(a.project_id, a.id) : Status(); !s.ok()) {
      log_error("finishing the training run of job " + a.id, s);
    }
  }
  (void)engine_.finished(a.seq, now);
  executor_.release(a.run_id);
  by_seq_.erase(a.seq);
  const std::string id = a.id;
  active_.erase(id);
  // Back to the queue when its policy allows.
  const bool failed = t.to == "failed" && t.reason != "DeadlineExceeded";
  if ((failed && job->spec.restart_policy == "on_failure" &&
       job->attempt <= job->spec.max_restarts) ||
      (t.to == "preempted" && job->spec.restart_policy != "never")) {
    Transition back{.to = "queued",
                    .reason = t.to == "preempted" ? "Requeued" : "Restarting",
                    .detail = "attempt " + std::to_string(job->attempt + 1) +
                              (t.to == "preempted" ? " after preemption" : " after a failure"),
                    .requeue = true,
                    .next_attempt = true};
    if (Status s = jobs_.transition(id, {t.to}, back); !s.ok()) log_error("requeueing", s);
  }
}

void JobRunner::poll_active(int64_t now) {
  std::map<std::string, int64_t> touched;
  {
    std::lock_guard lock(mu_);
    touched.swap(touched_);
  }
  std::vector<std::string> ids;
  for (const auto& [id, a] : active_) ids.push_back(id);
  idle_at_.clear();  // filled again for the dev environments still running
  for (const auto& id : ids) {
    Active& a = active_.at(id);
    if (auto t = touched.find(id); t != touched.end()) a.last_activity_ms = t->second;
    exec::JobStatus st = executor_.poll(a.run_id);
    if (runs_ && !a.has_run) start_run_if_reported(a);
    // A job that ran and ended between two looks still ran: record that first, so every
    // run's history reads starting -> running -> its end.
    const bool ran = st.phase == exec::JobStatus::Phase::kRunning ||
                     (st.phase == exec::JobStatus::Phase::kExited &&
                      (st.reason.empty() ? st.message.empty() : st.reason != "LaunchFailed"));
    if (ran && !a.running) {
      Transition t{.to = "running", .reason = "Running", .detail = "", .started = true};
      if (Status s = jobs_.transition(id, {"admitted", "starting"}, t); !s.ok()) {
        log_error("recording the start of job " + id, s);
      }
      a.running = true;
      a.started_ms = now;
      a.last_activity_ms = now;
    }
    if (watch_ && a.running && !a.watched && a.kind != "devenv") {
      a.watched = true;
      auto job = jobs_.get(id);
      auto settings = job.ok() ? training::parse_watch_settings(job->spec.monitor)
                               : Result<training::WatchSettings>(job.status());
      if (settings.ok()) {
        watch_->watch({.job_id = id,
                       .project = job->project,
                       .project_id = a.project_id,
                       .name = job->name,
                       .run_dir = executor_.job_dir(a.run_id) + "/metrics",
                       .log_dir = executor_.job_dir(a.run_id) + "/logs",
                       .settings = *settings,
                       .started_ms = job->started_at_ms.value_or(now)});
      }
    }
    if (st.phase == exec::JobStatus::Phase::kExited || st.phase == exec::JobStatus::Phase::kLost) {
      finish(a, st);
      continue;
    }
    if (!a.ending.empty()) continue;
    if (a.deadline_ms > 0 && now >= a.deadline_ms) {
      a.ending = "timeout";
      executor_.terminate(a.run_id, options_.grace);
      continue;
    }
    if (a.kind != "devenv" && a.running && a.uses_gpu && monitor_ &&
        options_.training_gpu_idle.count() > 0) {
      check_training_gpu_idle(a, now);
    }
    if (a.kind == "devenv" && a.running) {
      auto settings = jobs_.settings(a.project_id);
      const int64_t idle_s = settings.ok() ? settings->devenv_idle_s : 3600;
      const int64_t gpu_idle = settings.ok() ? settings->devenv_gpu_idle_percent : 5;
      // Its GPUs' use over the idle window, where the node agent measured it: use at or
      // above the project's devenv_gpu_idle_percent keeps it alive like traffic does.
      std::optional<double> util;
      if (monitor_ && a.uses_gpu) {
        util = monitor_->run_gpu_util(a.run_id, std::chrono::seconds(idle_s));
      }
      if (util && *util >= static_cast<double>(gpu_idle)) a.last_activity_ms = now;
      idle_at_[id] = a.last_activity_ms + idle_s * 1000;
      // Its owner is warned first: a tenth of the idle time before (at most 10 minutes).
      const int64_t warn_ms = std::min<int64_t>(600'000, idle_s * 100);
      const int64_t left_ms = idle_at_[id] - now;
      if (left_ms > warn_ms) {
        a.idle_warned = false;
      } else if (!a.idle_warned && left_ms > 0) {
        a.idle_warned = true;
        auto job = jobs_.get(id);
        if (job.ok()) {
          job_event(id, job->project, job->username, "IdleSoon",
                    "the dev environment has been idle (no traffic" +
                        std::string(util ? ", GPUs under " + std::to_string(gpu_idle) + "%" : "") +
                        ") and will be stopped at " +
                        format_rfc3339(Clock::WallTime(std::chrono::milliseconds(idle_at_[id]))) +
                        " (in " + std::to_string((left_ms + 59'999) / 60'000) +
                        " minutes) unless it is used; its folder is kept");
        }
      }
      if (now - a.last_activity_ms >= idle_s * 1000) {
        idle_at_.erase(id);
        a.ending = "idle";
        a.ending_detail = "no traffic for " + std::to_string(idle_s) + " s";
        if (util) {
          char use[64];
          std::snprintf(use, sizeof use, "%.1f%%", *util);
          a.ending_detail += " and its GPUs at " + std::string(use) + " (under " +
                             std::to_string(gpu_idle) + "%) over that time";
        }
        executor_.terminate(a.run_id, options_.grace);
      }
    }
  }
}

Result<int64_t> JobRunner::storage_used(const std::string& project_id) {
  JZ_ASSIGN_OR_RETURN(auto runs, jobs_.run_ids(project_id));
  int64_t total = 0;
  for (const auto& run : runs) {
    {
      std::lock_guard lock(storage_mu_);
      if (auto it = ended_run_bytes_.find(run); it != ended_run_bytes_.end()) {
        total += it->second;
        continue;
      }
    }
    const std::string dir = executor_.job_dir(run);
    const bool ended = std::filesystem::exists(dir + "/exit.json");
    const int64_t bytes = disk_bytes(dir);
    total += bytes;
    if (ended) {
      std::lock_guard lock(storage_mu_);
      if (ended_run_bytes_.size() > 1000000) ended_run_bytes_.clear();
      ended_run_bytes_[run] = bytes;
    }
  }
  JZ_ASSIGN_OR_RETURN(int64_t dataset_bytes, datasets_.total_bytes(project_id));
  // The project's volume and repository grow with what its people put there.
  if (!options_.volumes_dir.empty()) total += disk_bytes(options_.volumes_dir + "/" + project_id);
  if (code_) total += disk_bytes(code_->repo_path(project_id));
  if (also_storage_) {
    JZ_ASSIGN_OR_RETURN(int64_t more, also_storage_(project_id));
    total += more;
  }
  return total + dataset_bytes;
}

Result<std::optional<int64_t>> JobRunner::storage_left(const std::string& project_id) {
  JZ_ASSIGN_OR_RETURN(iam::Quota q, quotas_.get(project_id));
  if (!q.storage_mib) return std::optional<int64_t>();
  JZ_ASSIGN_OR_RETURN(int64_t used, storage_used(project_id));
  return std::optional<int64_t>((*q.storage_mib << 20) - used);
}

Result<std::string> JobRunner::storage_exceeded(const std::string& project_id) {
  JZ_ASSIGN_OR_RETURN(iam::Quota q, quotas_.get(project_id));
  if (!q.storage_mib) return std::string();
  JZ_ASSIGN_OR_RETURN(int64_t used, storage_used(project_id));
  if (used <= *q.storage_mib << 20) return std::string();
  return "the project uses " + std::to_string(used >> 20) + " MiB of its " +
         std::to_string(*q.storage_mib) +
         " MiB storage quota (job outputs, work folders, logs, uploaded datasets and dataset "
         "versions); free "
         "some or ask for a larger storage_mib";
}

// A project past its storage quota: its running jobs are stopped with the reason (they
// are what grows it). Measured every storage_check, for projects with running jobs only.
void JobRunner::check_storage(int64_t now) {
  if (now < next_storage_check_ms_) return;
  next_storage_check_ms_ = now + options_.storage_check.count();
  std::set<std::string> projects;
  for (const auto& [id, a] : active_) projects.insert(a.project_id);
  for (const auto& project : projects) {
    auto exceeded = storage_exceeded(project);
    if (!exceeded.ok()) {
      log_error("measuring the storage of project " + project, exceeded.status());
      continue;
    }
    if (exceeded->empty()) continue;
    for (auto& [id, a] : active_) {
      if (a.project_id != project || !a.ending.empty()) continue;
      a.ending = "storage";
      a.ending_detail = *exceeded;
      executor_.terminate(a.run_id, options_.grace);
    }
  }
}

Status JobRunner::launch(const Job& j, const Json& placement) {
  // A project already past its storage quota starts nothing more.
  JZ_ASSIGN_OR_RETURN(std::string exceeded, storage_exceeded(j.project_id));
  if (!exceeded.empty()) return Status::resource_exhausted(exceeded);
  exec::LaunchSpec spec;
  spec.job_id = j.kind == "devenv" ? j.id : j.run_id();
  spec.resume = j.kind == "devenv";
  spec.command = j.spec.command;
  spec.env = j.spec.env;
  spec.workdir = j.spec.workdir;
  JZ_ASSIGN_OR_RETURN(const std::string level, data_level(j, &spec));
  const int strictest = security_rank(level);
  if (!j.spec.code_commit.empty()) {
    if (!code_) return Status::unavailable("project code is not available on this server");
    JZ_ASSIGN_OR_RETURN(std::string snap, code_->snapshot(j.project_id, j.spec.code_commit));
    spec.read_only.push_back({snap, "/code"});
    spec.env["JIZHAN_CODE_COMMIT"] = j.spec.code_commit;
    spec.env["JIZHAN_CODE_REF"] = j.spec.code_ref;
  }
  if (!j.spec.algorithm_name.empty()) {
    // An evaluation: its package (the names were checked when the job was made, so the
    // path stays inside algorithms_dir) and the programs that run it.
    if (options_.algorithms_dir.empty() || options_.tools_dir.empty()) {
      return Status::unavailable("this server runs no evaluations (no algorithm folder)");
    }
    const std::string dir = options_.algorithms_dir + "/" + j.project_id + "/" +
                            j.spec.algorithm_name + "/" + j.spec.algorithm_version;
    if (!std::filesystem::is_directory(dir)) {
      return Status::failed_precondition("algorithm " + j.spec.algorithm_name + " " +
                                         j.spec.algorithm_version +
                                         " is no longer uploaded in project " + j.project);
    }
    spec.read_only.push_back({dir, "/algorithm"});
  }
  // The platform's own programs (jizhan-algo: the algorithm runner, the data tools that
  // curation jobs run), read-only, for evaluations and jobs that ask (`tools`).
  if (!j.spec.algorithm_name.empty() || j.spec.tools) {
    if (options_.tools_dir.empty()) {
      return Status::unavailable("this server has no folder of its programs to mount (tools)");
    }
    spec.read_only.push_back({options_.tools_dir, "/opt/jizhan/bin"});
  }
  if (j.kind == "devenv" && code_) {
    // The repository itself: `git clone /code.git` and `git push` work inside with no
    // network; its owner's rights (push or not) were checked at submission.
    JZ_RETURN_IF_ERROR(code_->ensure(j.project_id));
    exec::Mount repo{code_->repo_path(j.project_id), "/code.git"};
    (j.spec.code_write ? spec.read_write : spec.read_only).push_back(repo);
  }
  JZ_ASSIGN_OR_RETURN(JobSettings settings, jobs_.settings(j.project_id));
  // The log filter of the strictest dataset's level (a job without data: open).
  spec.log_level = strictest >= 2 ? "secret" : strictest == 1 ? "internal" : "open";
  JZ_ASSIGN_OR_RETURN(auto policy, jobs_.log_policy(j.project_id, spec.log_level));
  spec.log_policy = std::move(policy.policy);
  if (spec.log_policy.mode != logs::LogPolicy::Mode::kOpen) {
    const std::string key = json::dump(spec.log_policy.to_json());
    auto it = compiled_filters_.find(key);
    if (it == compiled_filters_.end()) {
      auto f = logs::LogFilter::compile(spec.log_policy);
      auto bytes = f.ok() ? (*f)->serialize() : Result<std::string>(f.status());
      // A filter that does not compile here will not in the supervisor either: the job
      // then ends with the reason, and runs unfiltered never.
      if (compiled_filters_.size() >= 64) compiled_filters_.clear();
      it = compiled_filters_.emplace(key, bytes.ok() ? *bytes : std::string()).first;
    }
    spec.log_filter = it->second;
  }
  if (strictest >= 1) {
    spec.network = exec::Network::kNone;  // D1: internal and secret data never leave
  } else {
    spec.network = settings.allow_egress ? exec::Network::kEgress : exec::Network::kLoopback;
  }
  spec.cpu_milli = j.spec.resources.cpu_milli;
  spec.memory_mib = j.spec.resources.memory_mib;
  spec.max_pids = options_.max_pids;
  if (options_.project_uid_base > 0) {
    JZ_ASSIGN_OR_RETURN(int64_t offset, jobs_.uid_offset(j.project_id));
    spec.uid = spec.gid = options_.project_uid_base + offset;
  }
  // Where each worker runs: its node (by the executor's name) and its GPUs by UUID.
  for (const auto& w : placement) {
    const std::string engine_node = json::string_or(w, "node");
    exec::LaunchSpec::Worker worker;
    {
      std::lock_guard lock(nodes_mu_);
      auto n = nodes_.find(engine_node);
      worker.node = n == nodes_.end() ? engine_node : n->second.name;
      if (n != nodes_.end()) spec.cluster = n->second.cluster;
    }
    if (w.contains("gpus") && w["gpus"].is_array()) {
      for (const auto& g : w["gpus"]) {
        if (!g.is_number_integer()) continue;
        if (auto info = gpu_at(engine_node, g.get<int>())) worker.gpu_uuids.push_back(info->uuid);
      }
    }
    // (The local executor runs a gang as one process holding every worker's GPUs.)
    spec.gpu_uuids.insert(spec.gpu_uuids.end(), worker.gpu_uuids.begin(), worker.gpu_uuids.end());
    spec.workers.push_back(std::move(worker));
  }
  spec.runtime_limit_s = j.spec.runtime_limit_s;
  spec.image = j.spec.image;
  if (j.spec.resources.is_share()) {
    sched::JobSpec es = engine_spec(j);
    spec.share_cores_percent = es.share_cores_percent;
    spec.share_memory_mib = es.share_memory_mib;
  }
  // Who the job is, for the node agent's per-job series (labels.json beside the run,
  // where the job cannot write).
  spec.labels = {{"job", j.id},    {"project", j.project}, {"user", j.username},
                 {"kind", j.kind}, {"name", j.name},       {"run", spec.job_id}};
  if (auto p = tenancy_.project(j.project); p.ok()) spec.labels["workspace"] = p->workspace;
  if (spec.share_memory_mib > 0) {
    spec.labels["gpu_memory_limit_mib"] = std::to_string(spec.share_memory_mib);
    spec.labels["gpu_cores_percent"] = std::to_string(spec.share_cores_percent);
  }
  // The environment description: packages the node must have; the project's volume and
  // a venv in it.
  if (!j.spec.packages.empty()) {
    JZ_ASSIGN_OR_RETURN(auto missing, missing_packages(j.spec.packages));
    if (!missing.empty()) return Status::failed_precondition(missing_packages_message(missing));
  }
  if (!options_.volumes_dir.empty()) {
    const std::string volume = options_.volumes_dir + "/" + j.project_id;
    std::error_code ec;
    std::filesystem::create_directories(volume, ec);
    if (ec) return Status::unavailable("cannot create the project's volume: " + ec.message());
    ::chmod(options_.volumes_dir.c_str(), 0711);
    ::chmod(volume.c_str(), 0700);
    if (::geteuid() == 0) {
      const int64_t uid = spec.uid >= 0 ? spec.uid : options_.sandbox_uid;
      const int64_t gid = spec.gid >= 0 ? spec.gid : options_.sandbox_gid;
      if (::chown(volume.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
        return Status::internal("cannot hand the project's volume to its user");
      }
    }
    // What a job on internal or secret data writes must not reach a dev environment
    // (where people read it): for those the volume is read-only.
    (strictest >= 1 ? spec.read_only : spec.read_write)
        .push_back({.host_path = volume, .sandbox_path = "/project", .optional = true});
    if (!j.spec.venv.empty()) {
      const std::string venv = "/project/venvs/" + j.spec.venv;
      spec.env["VIRTUAL_ENV"] = venv;
      spec.env["PATH"] = venv + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
      // Made on first use, by the job's own user, with the node's Python packages visible.
      std::vector<std::string> wrapped = {
          "/bin/sh", "-c",
          "if [ ! -x \"$VIRTUAL_ENV/bin/python\" ]; then /usr/bin/python3 -m venv "
          "--system-site-packages \"$VIRTUAL_ENV\" >&2 || /usr/bin/python3 -m venv --without-pip "
          "--system-site-packages \"$VIRTUAL_ENV\" >&2 || { echo \"jizhan: cannot make the venv "
          "$VIRTUAL_ENV (a job on internal or secret data sees /project read-only: make it from "
          "a dev environment or a job on open data first)\" >&2; exit 127; }; fi; exec \"$@\"",
          "jizhan-venv"};
      wrapped.insert(wrapped.end(), spec.command.begin(), spec.command.end());
      spec.command = std::move(wrapped);
    }
  } else if (!j.spec.venv.empty()) {
    return Status::failed_precondition("this server keeps no project volumes for venvs");
  }
  spec.env["JIZHAN_JOB_ID"] = j.id;
  spec.env["JIZHAN_ATTEMPT"] = std::to_string(j.attempt);
  spec.env["JIZHAN_PROJECT"] = j.project;
  if (j.kind == "devenv") {
    spec.env["JIZHAN_PORT"] = std::to_string(j.spec.port);
    spec.env["JIZHAN_BASE_URL"] = "/devenvs/" + j.id + "/";
  }
  return executor_.launch(spec);
}

Result<std::string> JobRunner::data_level(const Job& j, exec::LaunchSpec* spec) {
  std::string level = "open";
  for (const auto& name : j.spec.datasets) {
    auto d = datasets_.get(j.project_id, name);
    if (!d.ok()) {
      return Status::failed_precondition("dataset '" + name + "' no longer exists in project " +
                                         j.project);
    }
    level = stricter_level(level, d->security_level);
    if (!spec) continue;
    if (j.kind == "devenv") JZ_RETURN_IF_ERROR(devenv_may_mount(*d));
    spec->read_only.push_back({d->path, "/data/" + name, d->folder_dev, d->folder_ino});
  }
  for (const auto& id : j.spec.inputs) {
    if (!outputs_) return Status::unavailable("job outputs are not available on this server");
    auto o = outputs_->get(j.project_id, id);
    if (!o.ok()) {
      return Status::failed_precondition("input job " + id + ": " + o.status().message());
    }
    if (o->state == "expired") {
      return Status::failed_precondition("the outputs of input job " + id +
                                         " were removed after the retention period");
    }
    // Released outputs were approved to leave: they no longer carry their level.
    const std::string input_level = o->state == "held" ? o->level : "open";
    level = stricter_level(level, input_level);
    if (!spec) continue;
    if (j.kind == "devenv" && input_level != "open") {
      return Status::failed_precondition(
          "the outputs of job " + id +
          " are held (they come from internal or secret data): a dev environment, which people "
          "reach interactively, may mount open or released outputs only; use a batch job");
    }
    spec->read_only.push_back({o->dir, "/inputs/" + id});
  }
  return level;
}

void JobRunner::housekeeping(int64_t now) {
  if (now < next_housekeeping_ms_) return;
  next_housekeeping_ms_ = now + int64_t{3600} * 1000;
  if (outputs_) {
    auto n = outputs_->expire();
    if (!n.ok()) log_error("expiring job outputs", n.status());
    if (n.ok() && *n > 0)
      logger_->info("job outputs: removed the files of {} jobs past retention", *n);
  }
  if (code_) {
    // Snapshots that running jobs mount stay.
    std::vector<std::string> keep;
    for (const auto& [id, a] : active_) {
      auto job = jobs_.get(id);
      if (job.ok() && !job->spec.code_commit.empty()) {
        keep.push_back(code_->snapshot_path(a.project_id, job->spec.code_commit));
      }
    }
    const int n = code_->prune_snapshots(std::chrono::hours(24 * 7), keep);
    if (n > 0) logger_->info("code: removed {} snapshots no job used for a week", n);
  }
}

void JobRunner::apply(const sched::Decision& d, int64_t now) {
  auto it = by_seq_.find(d.job);
  if (it == by_seq_.end()) return;
  const std::string id = it->second;
  switch (d.kind) {
    case sched::Decision::Kind::kPlace: {
      Json placement = Json::array();
      for (const auto& w : d.placement) placement.push_back({{"node", w.node}, {"gpus", w.gpus}});
      Transition t{
          .to = "admitted", .reason = "Admitted", .detail = d.reason, .placement = placement};
      if (auto before = jobs_.get(id); before.ok()) t.allocation = allocation_of(*before, d);
      Status s = jobs_.transition(id, {"queued"}, t);
      if (!s.ok()) {
        // Cancelled or changed meanwhile: give the room back.
        (void)engine_.finished(d.job, now);
        by_seq_.erase(d.job);
        if (s.code() != Code::kFailedPrecondition) log_error("admitting job " + id, s);
        return;
      }
      auto job = jobs_.get(id);
      Status launched = job.ok() ? launch(*job, placement) : job.status();
      if (!launched.ok()) {
        Transition f{.to = "failed",
                     .reason = launched.code() == Code::kResourceExhausted ? "StorageQuotaExceeded"
                                                                           : "LaunchFailed",
                     .detail = launched.message(),
                     .finished = true};
        if (Status w = jobs_.transition(id, {"admitted"}, f); !w.ok()) log_error("failing", w);
        (void)engine_.finished(d.job, now);
        by_seq_.erase(d.job);
        return;
      }
      Transition st{.to = "starting", .reason = "Starting", .detail = "sandbox launched"};
      if (Status w = jobs_.transition(id, {"admitted"}, st); !w.ok()) log_error("starting", w);
      {
        // How long it queued, for jizhan_job_wait_seconds (a first attempt: since it was
        // submitted).
        const double wait_s = static_cast<double>(now - job->created_at_ms) / 1000;
        std::lock_guard lock(mu_);
        if (job->attempt == 1 && wait_s >= 0) {
          for (size_t b = 0; b < kWaitBuckets.size(); ++b) {
            if (wait_s <= kWaitBuckets[b]) ++wait_buckets_[b];
          }
          ++wait_count_;
          wait_sum_s_ += wait_s;
        }
      }
      Active a;
      a.id = id;
      a.run_id = job->kind == "devenv" ? job->id : job->run_id();
      a.project_id = job->project_id;
      a.kind = job->kind;
      a.user_id = job->user_id;
      a.seq = d.job;
      a.started_ms = now;
      a.deadline_ms = job->spec.runtime_limit_s > 0 ? now + job->spec.runtime_limit_s * 1000 : 0;
      a.last_activity_ms = now;
      a.uses_gpu = job->spec.resources.gpus > 0 || job->spec.resources.is_share();
      active_[id] = a;
      pending_message_.erase(id);
      return;
    }
    case sched::Decision::Kind::kPreempt: {
      auto a = active_.find(id);
      if (a == active_.end()) {
        (void)engine_.finished(d.job, now);
        return;
      }
      if (a->second.ending.empty()) {
        a->second.ending = "preempt";
        a->second.ending_detail = platform_words(d.reason);
        executor_.terminate(a->second.run_id, std::chrono::milliseconds(d.grace_ms));
      }
      return;
    }
    case sched::Decision::Kind::kReject: {
      Transition t{.to = "failed", .reason = "Unschedulable", .detail = d.reason, .finished = true};
      if (Status s = jobs_.transition(id, {"queued"}, t); !s.ok()) log_error("rejecting", s);
      (void)engine_.cancel(d.job, now);
      by_seq_.erase(d.job);
      return;
    }
    case sched::Decision::Kind::kPending: {
      auto& last = pending_message_[id];
      if (last == d.reason) return;
      last = d.reason;
      (void)jobs_.set_message(id, platform_words(d.reason));
      return;
    }
  }
}

void JobRunner::tick() {
  const int64_t now = clock_.now_unix_ms();
  if (Status s = refresh_queues(false); !s.ok()) log_error("refreshing quotas", s);
  if (now >= next_node_sync_ms_ || executor_.nodes_version() != nodes_version_) {
    if (Status s = sync_nodes(now); !s.ok()) log_error("syncing the nodes", s);
  }
  apply_health_changes(now);
  take_new_jobs();
  handle_cancels();
  poll_active(now);
  for (const auto& d : engine_.cycle(now)) apply(d, now);
  check_waiting(now);
  if (watch_ && now >= next_watch_ms_) {
    next_watch_ms_ = now + 2000;
    watch_->check();
  }
  check_quotas(now);
  check_storage(now);
  housekeeping(now);
  if (now >= next_usage_persist_ms_) {
    if (next_usage_persist_ms_ > 0) {
      if (Status s = persist_usage(now); !s.ok()) log_error("saving usage", s);
    }
    next_usage_persist_ms_ = now + options_.usage_persist.count();
  }
  if (!options_.jobs_dir.empty() && now >= next_retention_ms_) {
    next_retention_ms_ = now + 60000;
    auto r = logs::apply_retention(options_.jobs_dir, options_.log_retention_age,
                                   options_.log_retention_bytes, clock_.now());
    if (r.removed_by_age + r.removed_by_size > 0) {
      logger_->info("log retention: removed {} run logs by age and {} by size ({} bytes)",
                    r.removed_by_age, r.removed_by_size, r.bytes_freed);
    }
  }
  Json nodes = Json::array();
  std::map<std::string, exec::NodeInfo> infos;
  {
    std::lock_guard lock(nodes_mu_);
    infos = nodes_;
  }
  for (const auto& [name, info] : infos) {
    const exec::MachineInfo& m = info.machine;
    Json gpus = Json::array();
    for (const auto& g : m.gpus) {
      gpus.push_back({{"uuid", g.uuid},
                      {"name", g.name},
                      {"memory_mib", g.memory_mib},
                      {"virtual", g.is_virtual},
                      {"healthy", !gpu_health_.count(g.uuid) || gpu_health_[g.uuid].empty()},
                      {"unhealthy_reason", gpu_health_.count(g.uuid) ? gpu_health_[g.uuid] : ""}});
    }
    nodes.push_back({{"name", name},
                     {"cluster", info.cluster},
                     {"schedulable", info.schedulable},
                     {"pool", info.pool.empty() ? options_.pool : info.pool},
                     {"cpu", static_cast<double>(m.cpu_milli) / 1000},
                     {"memory_mib", m.memory_mib},
                     {"gpus", gpus},
                     {"gpu_source", m.gpu_source},
                     {"cgroups", m.cgroups},
                     {"gpus_allocated", static_cast<double>(engine_.allocated_milli()) / 1000},
                     {"running_jobs", engine_.running_count()},
                     {"pending_jobs", engine_.pending_count()}});
  }
  // GPU memory held (a whole GPU holds all of its memory) and GPUs per user, by project.
  std::map<std::string, int64_t> gpu_memory;
  std::map<std::string, std::set<std::string>> gpu_users;
  for (const auto& n : engine_.nodes_view()) {
    for (const auto& d : n.gpus) {
      for (const auto& h : d.holders) {
        gpu_memory[h.project] += h.memory_mib;
        gpu_users[h.project].insert(h.user);
      }
    }
  }
  std::map<std::string, Json> usage;
  for (const auto& name : known_projects_) {
    if (auto q = engine_.queue(name)) {
      Json per_user = Json::object();
      for (const auto& user : gpu_users[name]) {
        per_user[user] = static_cast<double>(engine_.user_usage_milli(name, user)) / 1000;
      }
      usage[name] = {{"gpus", static_cast<double>(q->used_milli) / 1000},
                     {"gpu_memory_mib", gpu_memory[name]},
                     {"per_user_gpus", std::move(per_user)},
                     {"cpu_cores", static_cast<double>(q->cpu_milli) / 1000},
                     {"memory_mib", q->memory_mib},
                     {"concurrent_jobs", q->running_jobs},
                     {"pending_jobs", q->pending_jobs}};
    }
  }
  std::string metrics = render_metrics(usage);
  if (labels_.size() > 2 * by_seq_.size() + 64) prune_labels();
  bool wanted;
  {
    std::lock_guard lock(mu_);
    wanted = clock_.steady_now() < scheduler_wanted_until_ &&
             (scheduler_cache_.is_null() || now - scheduler_built_ms_ >= 500);
  }
  Json view = wanted ? build_scheduler_view(now) : Json();
  std::lock_guard lock(mu_);
  nodes_cache_ = {{"items", nodes}};
  usage_cache_ = std::move(usage);
  metrics_cache_ = std::move(metrics);
  idle_at_cache_ = idle_at_;
  if (wanted) {
    scheduler_cache_ = std::move(view);
    scheduler_built_ms_ = now;
    scheduler_cv_.notify_all();
  }
}

}  // namespace jz::jobs
