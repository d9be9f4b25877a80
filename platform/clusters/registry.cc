#include "platform/clusters/registry.h"

#include <filesystem>
#include <set>

#include "core/files.h"
#include "platform/iam/tenancy.h"

namespace jz::clusters {

struct ClusterRegistry::Entry {
  std::string name, region, context, created_by;
  bool in_cluster = false;
  std::string kubeconfig;  // plain, in memory only
  Json settings = Json::object();
  bool enabled = true;
  int64_t created_at_ms = 0, updated_at_ms = 0;
  std::string server;  // from the credentials, shown
  // Connection.
  std::shared_ptr<kube::KubeExecutor> executor;
  std::string error;  // why it is not connected
  int64_t next_try_ms = 0;
};

namespace {

const char* kSettings[] = {
    "namespace_prefix", "image",        "pool",          "node_selector",
    "volumes",          "output_claim", "runtime_class", "image_pull_secrets",
    "priority_class"};

std::string str(const Json& j, const char* key) { return json::string_or(j, key); }

Status check_settings(const Json& s) {
  for (const char* k : {"namespace_prefix", "image", "pool", "node_selector", "output_claim",
                        "runtime_class", "priority_class"}) {
    if (s.contains(k) && !s[k].is_string()) {
      return Status::invalid_argument(std::string("field '") + k + "' must be a string");
    }
  }
  const std::string prefix = str(s, "namespace_prefix");
  if (prefix.size() > 30)
    return Status::invalid_argument("field 'namespace_prefix' is longer than 30");
  if (s.contains("image_pull_secrets")) {
    if (!s["image_pull_secrets"].is_array()) {
      return Status::invalid_argument("field 'image_pull_secrets' must be a list of names");
    }
    for (const auto& x : s["image_pull_secrets"]) {
      if (!x.is_string())
        return Status::invalid_argument("field 'image_pull_secrets' must be a list of names");
    }
  }
  if (s.contains("volumes")) {
    if (!s["volumes"].is_array()) {
      return Status::invalid_argument(
          "field 'volumes' must be a list of {server_path, claim or host_path}");
    }
    for (const auto& v : s["volumes"]) {
      const std::string path = str(v, "server_path");
      if (!v.is_object() || path.empty() || path[0] != '/') {
        return Status::invalid_argument("each of 'volumes' needs an absolute server_path");
      }
      if (str(v, "claim").empty() == str(v, "host_path").empty()) {
        return Status::invalid_argument("volume '" + path +
                                        "': give exactly one of claim (a PVC) or host_path");
      }
    }
  }
  return {};
}

kube::ClusterConfig config_of(const std::string& name, const std::string& region, const Json& s) {
  kube::ClusterConfig c;
  c.name = name;
  c.region = region;
  if (s.contains("namespace_prefix")) c.namespace_prefix = str(s, "namespace_prefix");
  if (!str(s, "image").empty()) c.image = str(s, "image");
  c.pool = str(s, "pool");
  c.output_claim = str(s, "output_claim");
  c.runtime_class = str(s, "runtime_class");
  c.priority_class = str(s, "priority_class");
  for (const auto& x : s.value("image_pull_secrets", Json::array())) {
    if (x.is_string()) c.image_pull_secrets.push_back(x.get<std::string>());
  }
  for (const auto& v : s.value("volumes", Json::array())) {
    c.volumes.push_back({str(v, "server_path"), str(v, "claim"), str(v, "host_path")});
  }
  return c;
}

}  // namespace

ClusterRegistry::ClusterRegistry(store::Database& db, Clock& clock, alerts::SecretBox box,
                                 exec::Executor* local, RegistryOptions options,
                                 std::shared_ptr<spdlog::logger> logger)
    : db_(db),
      clock_(clock),
      box_(std::move(box)),
      local_(local),
      options_(std::move(options)),
      logger_(std::move(logger)) {}

ClusterRegistry::~ClusterRegistry() { stop(); }

Status ClusterRegistry::connect(Entry& e) const {
  kube::KubeExecutorOptions o;
  o.cluster = config_of(e.name, e.region, e.settings);
  o.client = options_.client;
  if (e.in_cluster) {
    JZ_ASSIGN_OR_RETURN(o.client.auth, kube::in_cluster_auth());
  } else {
    JZ_ASSIGN_OR_RETURN(o.client.auth,
                        kube::parse_kubeconfig(e.kubeconfig, e.context, options_.jobs_dir));
  }
  e.server = o.client.auth.server;
  o.jobs_dir = options_.jobs_dir;
  o.node_selector = str(e.settings, "node_selector");
  o.node_sync = options_.node_sync;
  o.unavailable_after = options_.unavailable_after;
  JZ_ASSIGN_OR_RETURN(auto ex, kube::KubeExecutor::create(o));
  e.executor = std::move(ex);
  e.error.clear();
  return {};
}

Status ClusterRegistry::start() {
  std::vector<std::shared_ptr<Entry>> loaded;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT name, region, credentials, context, settings, "
                                           "enabled, created_by, created_at_ms, updated_at_ms "
                                           "FROM clusters ORDER BY name"));
    for (const auto& r : rows) {
      auto e = std::make_shared<Entry>();
      e->name = r.text("name");
      e->region = r.text("region");
      e->context = r.text("context");
      e->created_by = r.text("created_by");
      e->enabled = r.integer("enabled") != 0;
      e->created_at_ms = r.integer("created_at_ms");
      e->updated_at_ms = r.integer("updated_at_ms");
      e->settings = Json::parse(r.text("settings"), nullptr, false);
      if (!e->settings.is_object()) e->settings = Json::object();
      const std::string creds = r.text("credentials");
      if (creds.empty()) {
        e->in_cluster = true;
      } else if (auto plain = box_.open(creds); plain.ok()) {
        e->kubeconfig = *plain;
      } else {
        e->error = "its credentials do not open with this server's key (" +
                   plain.status().message() + "): register the cluster again";
        e->enabled = false;
      }
      loaded.push_back(e);
    }
    return {};
  }));
  for (auto& e : loaded) {
    if (e->enabled) {
      if (Status s = connect(*e); !s.ok()) {
        e->error = s.message();
        logger_->warn("clusters: {} is not reachable ({}); retrying in the background", e->name,
                      s.message());
      } else {
        logger_->info("clusters: connected to {} ({})", e->name, e->server);
      }
    }
    std::lock_guard lock(mu_);
    clusters_[e->name] = e;
  }
  thread_ = std::thread([this] { retry_loop(); });
  return {};
}

void ClusterRegistry::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  clusters_.clear();
}

void ClusterRegistry::retry_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.retry);
    if (stop_) break;
    std::vector<std::shared_ptr<Entry>> todo;
    for (auto& [name, e] : clusters_) {
      if (e->enabled && !e->executor) todo.push_back(e);
    }
    lock.unlock();
    for (auto& e : todo) {
      auto copy = std::make_shared<Entry>(*e);
      const Status s = connect(*copy);
      std::lock_guard relock(mu_);
      auto it = clusters_.find(e->name);
      if (it == clusters_.end() || it->second != e) continue;  // changed meanwhile
      if (s.ok()) {
        it->second = copy;
        ++version_;
        logger_->info("clusters: connected to {} ({})", e->name, copy->server);
      } else {
        e->error = s.message();
      }
    }
    lock.lock();
  }
}

Result<std::shared_ptr<ClusterRegistry::Entry>> ClusterRegistry::entry_from(
    const Json& body, const Json* current) const {
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  static const std::set<std::string> kKnown = {
      "name",          "region",  "kubeconfig",       "in_cluster",    "context",
      "force",         "enabled", "namespace_prefix", "image",         "pool",
      "node_selector", "volumes", "output_claim",     "runtime_class", "image_pull_secrets",
      "priority_class"};
  for (const auto& [k, v] : body.items()) {
    if (!kKnown.count(k)) {
      return Status::invalid_argument("unknown field '" + k +
                                      "': a cluster has name, region, kubeconfig or in_cluster, "
                                      "context, enabled, namespace_prefix, image, pool, "
                                      "node_selector, volumes, output_claim, runtime_class, "
                                      "image_pull_secrets, priority_class");
    }
  }
  auto e = std::make_shared<Entry>();
  Json merged = current ? *current : Json::object();
  for (const auto& [k, v] : body.items()) merged[k] = v;
  e->name = str(merged, "name");
  if (Status s = iam::validate_cluster_name(e->name); !s.ok()) return s;
  if (e->name == "local") {
    return Status::invalid_argument("'local' is this machine's name: choose another for a cluster");
  }
  e->region = str(merged, "region");
  e->context = str(merged, "context");
  e->in_cluster = merged.value("in_cluster", false) == true;
  e->kubeconfig = str(merged, "kubeconfig");
  if (merged.contains("enabled") && !merged["enabled"].is_boolean()) {
    return Status::invalid_argument("field 'enabled' must be true or false");
  }
  e->enabled = merged.value("enabled", true);
  if (e->in_cluster == !e->kubeconfig.empty()) {
    return Status::invalid_argument(
        "give the cluster's credentials: a kubeconfig (its YAML text) or \"in_cluster\": true "
        "when the server runs in that cluster");
  }
  if (!e->in_cluster) {
    auto auth = kube::parse_kubeconfig(e->kubeconfig, e->context, options_.jobs_dir);
    if (!auth.ok()) return Status::invalid_argument("kubeconfig: " + auth.status().message());
    e->server = auth->server;
  }
  for (const char* k : kSettings) {
    if (merged.contains(k) && !merged[k].is_null()) e->settings[k] = merged[k];
  }
  JZ_RETURN_IF_ERROR(check_settings(e->settings));
  return e;
}

Result<Json> ClusterRegistry::add(const Json& body, const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(auto e, entry_from(body, nullptr));
  {
    std::lock_guard lock(mu_);
    if (clusters_.count(e->name)) {
      return Status::already_exists("cluster '" + e->name + "' is registered already");
    }
  }
  if (e->enabled) {
    if (Status s = connect(*e); !s.ok()) {
      if (body.value("force", false) != true) {
        return Status::failed_precondition("cannot reach cluster '" + e->name +
                                           "': " + s.message() +
                                           " (fix the credentials, or add it with \"force\": "
                                           "true to connect later)");
      }
      e->error = s.message();
    }
  }
  e->created_by = actor;
  e->created_at_ms = e->updated_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO clusters (name, region, credentials, context, settings, enabled, "
            "created_by, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {e->name, e->region, e->in_cluster ? std::string() : box_.seal(e->kubeconfig),
             e->context, json::dump(e->settings), int64_t{e->enabled ? 1 : 0}, actor,
             e->created_at_ms, e->updated_at_ms})
        .status();
  }));
  std::lock_guard lock(mu_);
  clusters_[e->name] = e;
  ++version_;
  return to_json(*e);
}

Result<Json> ClusterRegistry::update(const std::string& name, const Json& body) {
  auto cur = find(name);
  if (!cur) return Status::not_found("no cluster '" + name + "'");
  if (body.is_object() && body.contains("name") && body["name"] != name) {
    return Status::invalid_argument("a cluster's name cannot change: remove it and add it again");
  }
  Json current = cur->settings;
  current["name"] = cur->name;
  current["region"] = cur->region;
  current["context"] = cur->context;
  current["enabled"] = cur->enabled;
  if (cur->in_cluster) {
    current["in_cluster"] = true;
  } else {
    current["kubeconfig"] = cur->kubeconfig;
  }
  // New credentials replace the old ones of the other kind.
  if (body.is_object() && body.contains("kubeconfig")) current.erase("in_cluster");
  if (body.is_object() && body.contains("in_cluster")) current.erase("kubeconfig");
  JZ_ASSIGN_OR_RETURN(auto e, entry_from(body, &current));
  if (e->enabled) {
    if (Status s = connect(*e); !s.ok()) e->error = s.message();
  }
  e->created_by = cur->created_by;
  e->created_at_ms = cur->created_at_ms;
  e->updated_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "UPDATE clusters SET region = ?, credentials = ?, context = ?, settings = ?, "
            "enabled = ?, updated_at_ms = ? WHERE name = ?",
            {e->region, e->in_cluster ? std::string() : box_.seal(e->kubeconfig), e->context,
             json::dump(e->settings), int64_t{e->enabled ? 1 : 0}, e->updated_at_ms, name})
        .status();
  }));
  std::lock_guard lock(mu_);
  clusters_[name] = e;
  ++version_;
  return to_json(*e);
}

Status ClusterRegistry::remove(const std::string& name) {
  auto e = find(name);
  if (!e) return Status::not_found("no cluster '" + name + "'");
  if (e->executor && e->executor->active_runs() > 0) {
    return Status::failed_precondition(
        "cluster '" + name + "' runs " + std::to_string(e->executor->active_runs()) +
        " job(s) of the platform: cancel them or let them end first (or disable it: "
        "\"enabled\": false, so it takes no new job)");
  }
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    return c.exec("DELETE FROM clusters WHERE name = ?", {name}).status();
  }));
  std::lock_guard lock(mu_);
  clusters_.erase(name);
  ++version_;
  return {};
}

std::shared_ptr<ClusterRegistry::Entry> ClusterRegistry::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second;
}

Json ClusterRegistry::to_json(const Entry& e) const {
  Json j = {
      {"name", e.name},
      {"region", e.region},
      {"kind", "kubernetes"},
      {"server", e.server},
      {"context", e.context},
      {"credentials", e.in_cluster ? "in_cluster" : "kubeconfig"},
      {"enabled", e.enabled},
      {"created_by", e.created_by},
      {"created_at", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(e.created_at_ms)))},
      {"updated_at", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(e.updated_at_ms)))}};
  for (const char* k : kSettings) j[k] = e.settings.contains(k) ? e.settings[k] : Json(nullptr);
  std::string state = !e.enabled ? "disabled" : !e.executor ? "unreachable" : "ready";
  std::string reason = e.error;
  int64_t nodes = 0, ready = 0, gpus = 0, cpu_milli = 0, memory_mib = 0;
  if (e.executor) {
    if (!e.executor->available()) {
      state = "unreachable";
      reason = e.executor->unavailable_reason();
    }
    for (const auto& n : e.executor->cluster_nodes()) {
      ++nodes;
      if (!n.ready) continue;
      ++ready;
      gpus += static_cast<int64_t>(n.machine.gpus.size());
      cpu_milli += n.machine.cpu_milli;
      memory_mib += n.machine.memory_mib;
    }
  }
  j["state"] = state;
  j["reason"] = reason;
  j["nodes"] = nodes;
  j["ready_nodes"] = ready;
  j["gpus"] = gpus;
  j["cpu"] = static_cast<double>(cpu_milli) / 1000;
  j["memory_mib"] = memory_mib;
  return j;
}

Result<Json> ClusterRegistry::get(const std::string& name) const {
  if (name == "local") {
    Json items = list()["items"];
    if (!items.empty() && items[0]["name"] == "local") return items[0];
  }
  auto e = find(name);
  if (!e) return Status::not_found("no cluster '" + name + "'");
  return to_json(*e);
}

Json ClusterRegistry::list() const {
  Json items = Json::array();
  if (local_) {
    const exec::MachineInfo& m = local_->machine();
    items.push_back({{"name", "local"},
                     {"region", ""},
                     {"kind", "local"},
                     {"server", ""},
                     {"enabled", true},
                     {"state", "ready"},
                     {"reason", ""},
                     {"nodes", 1},
                     {"ready_nodes", 1},
                     {"gpus", m.gpus.size()},
                     {"cpu", static_cast<double>(m.cpu_milli) / 1000},
                     {"memory_mib", m.memory_mib}});
  }
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : clusters_) all.push_back(e);
  }
  for (const auto& e : all) items.push_back(to_json(*e));
  return {{"items", items}, {"next_page_token", nullptr}};
}

// ---- the executor -----------------------------------------------------------------------

const exec::MachineInfo& ClusterRegistry::machine() const {
  return local_ ? local_->machine() : none_;
}

std::vector<exec::NodeInfo> ClusterRegistry::nodes() const {
  std::vector<exec::NodeInfo> out;
  if (local_) out = local_->nodes();
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : clusters_) all.push_back(e);
  }
  for (const auto& e : all) {
    if (!e->executor) continue;
    for (auto& n : e->executor->nodes()) {
      n.schedulable = n.schedulable && e->enabled;
      out.push_back(std::move(n));
    }
  }
  return out;
}

uint64_t ClusterRegistry::nodes_version() const {
  uint64_t v = version_.load() * 1000003;
  std::lock_guard lock(mu_);
  for (const auto& [name, e] : clusters_) {
    if (e->executor) v += e->executor->nodes_version();
  }
  return v;
}

std::shared_ptr<ClusterRegistry::Entry> ClusterRegistry::owner_of(const std::string& job_id) const {
  std::string cluster;
  {
    std::lock_guard lock(mu_);
    auto it = owners_.find(job_id);
    if (it != owners_.end()) {
      cluster = it->second;
    } else {
      auto text = read_file(options_.jobs_dir + "/" + job_id + "/kube.json");
      Json rec = text.ok() ? Json::parse(*text, nullptr, false) : Json();
      cluster = rec.is_object() ? str(rec, "cluster") : "";
      owners_[job_id] = cluster;
    }
    if (cluster.empty()) return nullptr;
    auto e = clusters_.find(cluster);
    if (e != clusters_.end()) return e->second;
  }
  // A cluster no longer registered: an entry that cannot answer.
  auto gone = std::make_shared<Entry>();
  gone->name = cluster;
  gone->error = "cluster '" + cluster + "' is not registered any more";
  return gone;
}

Status ClusterRegistry::launch(const exec::LaunchSpec& spec) {
  if (spec.cluster.empty() || spec.cluster == "local") {
    if (!local_) return Status::failed_precondition("this server runs no jobs on its own machine");
    {
      std::lock_guard lock(mu_);
      owners_[spec.job_id] = "";
    }
    return local_->launch(spec);
  }
  auto e = find(spec.cluster);
  if (!e) return Status::not_found("no cluster '" + spec.cluster + "'");
  if (!e->executor) {
    return Status::unavailable("cluster '" + spec.cluster + "' is not connected: " + e->error);
  }
  {
    std::lock_guard lock(mu_);
    owners_[spec.job_id] = spec.cluster;
  }
  return e->executor->launch(spec);
}

exec::JobStatus ClusterRegistry::poll(const std::string& job_id) {
  auto e = owner_of(job_id);
  if (!e) {
    if (local_) return local_->poll(job_id);
    exec::JobStatus st;
    st.message = "this server runs no jobs on its own machine";
    return st;
  }
  if (!e->executor) {
    // Not connected (yet): as far as is known it goes on; its cluster will tell.
    exec::JobStatus st;
    st.phase = exec::JobStatus::Phase::kRunning;
    st.message = "cluster '" + e->name + "' is not connected: " + e->error;
    return st;
  }
  return e->executor->poll(job_id);
}

void ClusterRegistry::terminate(const std::string& job_id, std::chrono::milliseconds grace) {
  auto e = owner_of(job_id);
  if (!e) {
    if (local_) local_->terminate(job_id, grace);
    return;
  }
  if (e->executor) e->executor->terminate(job_id, grace);
}

void ClusterRegistry::release(const std::string& job_id) {
  auto e = owner_of(job_id);
  if (!e) {
    if (local_) local_->release(job_id);
  } else if (e->executor) {
    e->executor->release(job_id);
  }
  std::lock_guard lock(mu_);
  owners_.erase(job_id);
}

std::string ClusterRegistry::job_dir(const std::string& job_id) const {
  if (local_) return local_->job_dir(job_id);
  return options_.jobs_dir + "/" + job_id;
}

std::string ClusterRegistry::network_namespace(const std::string& job_id) {
  return local_ && !owner_of(job_id) ? local_->network_namespace(job_id) : "";
}

}  // namespace jz::clusters
