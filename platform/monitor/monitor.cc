#include "platform/monitor/monitor.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/files.h"
#include "core/random.h"
#include "core/text.h"

namespace jz::monitor {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kBucketMs = 10'000;                       // run utilisation buckets
constexpr int64_t kRunUtilKeepMs = int64_t{24} * 3600'000;  // the longest idle window

}  // namespace

Monitor::Monitor(MonitorOptions options, Clock& clock, std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), clock_(clock), logger_(std::move(logger)) {
  if (options_.tsdb.dir.empty()) options_.tsdb.dir = options_.state_dir + "/tsdb";
}

Monitor::~Monitor() { stop(); }

Status Monitor::start() {
  std::error_code ec;
  fs::create_directories(options_.state_dir, ec);
  if (ec) return Status::unavailable("cannot create " + options_.state_dir + ": " + ec.message());
  ::chmod(options_.state_dir.c_str(), 0700);
  JZ_ASSIGN_OR_RETURN(tsdb_, metrics::Tsdb::open(options_.tsdb));
  token_ = random_hex(SecureRandom::instance(), 24);
  JZ_RETURN_IF_ERROR(write_file(options_.state_dir + "/agent-token", token_ + "\n", 0600));
  {
    std::lock_guard lock(mu_);
    agent_status_ = options_.run_agent ? "starting" : "off (monitoring.agent=false)";
  }
  thread_ = std::thread([this] { loop(); });
  return Status::ok_status();
}

void Monitor::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (agent_) {
    agent_->signal(SIGTERM);
    if (!agent_->wait_for(std::chrono::seconds(3))) agent_->signal(SIGKILL);
    agent_.reset();
  }
}

std::string Monitor::agent_status() const {
  std::lock_guard lock(mu_);
  return agent_status_;
}

Json Monitor::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

void Monitor::loop() {
  int64_t next_compact = 0;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    ensure_agent();
    collect();
    const int64_t now = clock_.now_unix_ms();
    if (now >= next_compact) {
      if (const size_t n = tsdb_->compact(now); n > 0) {
        logger_->info("monitoring: dropped {} series with no sample for {} days", n,
                      options_.tsdb.forget_after.count() / 86400);
      }
      next_compact = now + 3600'000;
    }
    lock.lock();
    cv_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

void Monitor::ensure_agent() {
  if (!options_.run_agent) return;
  if (agent_ && agent_->running()) return;
  const int64_t now = clock_.now_unix_ms();
  if (agent_) {
    auto r = agent_->wait();
    logger_->warn(
        "monitoring: jizhan-agent exited ({}); starting it again",
        r.signal ? "signal " + std::to_string(r.signal) : "status " + std::to_string(r.exit_code));
    agent_.reset();
    port_ = 0;
    // Again at once the first time, then backing off up to a minute.
    next_agent_start_ms_ =
        now + std::min<int64_t>(60'000, int64_t{1000} << std::min(agent_starts_, 6));
  }
  if (now < next_agent_start_ms_) return;
  const std::string port_file = options_.state_dir + "/agent-port";
  std::error_code ec;
  fs::remove(port_file, ec);
  SubprocessOptions so;
  so.argv = {options_.agent_binary,
             "--listen",
             "127.0.0.1:0",
             "--port-file",
             port_file,
             "--token-file",
             options_.state_dir + "/agent-token",
             "--nvml-library",
             options_.nvml_library,
             "--cgroup-name",
             options_.cgroup_name,
             "--interval",
             std::to_string(std::max<int64_t>(50, options_.interval.count()) / 1000.0),
             "--exit-with-parent"};
  if (!options_.jobs_dir.empty()) so.argv.insert(so.argv.end(), {"--jobs-dir", options_.jobs_dir});
  for (const auto& f : options_.filesystems) so.argv.insert(so.argv.end(), {"--filesystem", f});
  so.env = options_.agent_env;
  so.output_file = options_.state_dir + "/agent.log";
  auto child = Child::spawn(so);
  ++agent_starts_;
  if (!child.ok()) {
    std::lock_guard lock(mu_);
    agent_status_ = "cannot start " + options_.agent_binary + ": " + child.status().message();
    next_agent_start_ms_ = now + 60'000;
    logger_->error("monitoring: {}", agent_status_);
    return;
  }
  agent_.emplace(std::move(*child));
}

void Monitor::collect() {
  if (!options_.run_agent || !agent_) return;
  if (port_ == 0) {
    // The agent writes its port once it listens.
    for (int i = 0; i < 40 && port_ == 0; ++i) {
      auto p = read_file(options_.state_dir + "/agent-port");
      if (p.ok()) port_ = static_cast<int>(parse_int64(p->substr(0, p->find('\n'))).value_or(0));
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (port_ == 0) return;
  }
  httplib::Client c("127.0.0.1", port_);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  auto r = c.Get("/v1/sample", {{"Authorization", "Bearer " + token_}});
  if (!r || r->status != 200) {
    // The node is down as far as alerts go (jizhan_node_up 0, rule node_down).
    std::string host;
    {
      std::lock_guard lock(mu_);
      if (!latest_.empty()) host = latest_.begin().key();
    }
    if (!host.empty()) {
      std::vector<metrics::Tsdb::Sample> batch;
      record(batch, "jizhan_node_up", {{"Hostname", host}}, clock_.now_unix_ms(), 0);
      tsdb_->append(batch);
    }
    std::lock_guard lock(mu_);
    agent_status_ = "the agent did not answer (" +
                    (r ? "HTTP " + std::to_string(r->status) : httplib::to_string(r.error())) +
                    "); see " + options_.state_dir + "/agent.log";
    return;
  }
  Json sample = Json::parse(r->body, nullptr, false);
  if (!sample.is_object()) return;
  ingest(sample, clock_.now_unix_ms());
  std::lock_guard lock(mu_);
  agent_status_ = "";
  const std::string host = json::string_or(sample, "hostname");
  latest_ = Json::object();
  latest_[host] = std::move(sample);
}

void Monitor::record(std::vector<metrics::Tsdb::Sample>& batch, const std::string& metric,
                     const metrics::Labels& labels, int64_t t_ms, double value) {
  auto id = tsdb_->series(metric, labels);
  if (!id.ok()) {
    static std::atomic<int64_t> warned{0};
    if (warned++ % 1000 == 0) logger_->warn("monitoring: {}", id.status().message());
    return;
  }
  batch.push_back({*id, t_ms, value});
}

void Monitor::ingest(const Json& sample, int64_t now_ms) {
  const std::string host = json::string_or(sample, "hostname");
  const int64_t t = sample.value("at_ms", now_ms);
  std::vector<metrics::Tsdb::Sample> batch;
  std::vector<HealthChange> changes;
  std::map<int, std::string> uuid_of;
  static const std::pair<const char*, const char*> kGpuSeries[] = {
      {"gpu_util", "DCGM_FI_DEV_GPU_UTIL"},    {"mem_copy_util", "DCGM_FI_DEV_MEM_COPY_UTIL"},
      {"fb_used_mib", "DCGM_FI_DEV_FB_USED"},  {"fb_free_mib", "DCGM_FI_DEV_FB_FREE"},
      {"gpu_temp_c", "DCGM_FI_DEV_GPU_TEMP"},  {"power_w", "DCGM_FI_DEV_POWER_USAGE"},
      {"sm_clock_mhz", "DCGM_FI_DEV_SM_CLOCK"}};
  for (const Json& g : sample.value("gpus", Json::array())) {
    const int index = g.value("index", 0);
    const std::string uuid = json::string_or(g, "uuid");
    uuid_of[index] = uuid;
    const metrics::Labels labels = {
        {"Hostname", host}, {"gpu", std::to_string(index)}, {"UUID", uuid}};
    for (const auto& [field, metric] : kGpuSeries) {
      if (g.contains(field) && g[field].is_number()) {
        record(batch, metric, labels, t, g[field].get<double>());
      }
    }
    const bool healthy = g.value("healthy", !g.value("lost", false));
    record(batch, "jizhan_gpu_healthy", labels, t, healthy ? 1 : 0);
    std::lock_guard lock(mu_);
    auto it = healthy_.find(uuid);
    if (it == healthy_.end() ? !healthy : it->second != healthy) {
      changes.push_back({host, uuid, index, healthy,
                         healthy ? "back in service" : json::string_or(g, "unhealthy_reason")});
    }
    healthy_[uuid] = healthy;
  }

  // Jobs: labels, CPU and memory; GPU use from their processes.
  std::map<std::string, metrics::Labels> job_labels;
  std::map<std::string, double> run_util;
  for (const Json& j : sample.value("jobs", Json::array())) {
    const std::string run = json::string_or(j, "run");
    metrics::Labels l = {{"Hostname", host}, {"run", run}};
    const Json labels = j.value("labels", Json::object());
    for (const char* k : {"job", "project", "workspace", "user"}) l[k] = json::string_or(labels, k);
    job_labels[run] = l;
    run_util[run] = 0;
    // A GPU share's memory limit, beside its use (the alert on a share near its limit).
    const std::string limit = json::string_or(labels, "gpu_memory_limit_mib");
    if (!limit.empty()) {
      char* end = nullptr;
      const double mib = std::strtod(limit.c_str(), &end);
      if (end != limit.c_str() && *end == '\0' && mib > 0) {
        record(batch, "jizhan_job_gpu_memory_limit_mib", l, t, mib);
      }
    }
    record(batch, "jizhan_job_memory_bytes", l, t, j.value("memory_bytes", 0.0));
    const double cpu = j.value("cpu_seconds", 0.0);
    auto prev = cpu_seconds_.find(run);
    if (prev != cpu_seconds_.end() && t > prev->second.first && cpu >= prev->second.second) {
      record(batch, "jizhan_job_cpu_cores", l, t,
             (cpu - prev->second.second) / (static_cast<double>(t - prev->second.first) / 1000));
    }
    cpu_seconds_[run] = {t, cpu};
  }
  struct Use {
    double memory = 0, sm = 0;
    bool has_sm = false;
  };
  std::map<std::pair<std::string, int>, Use> use;
  for (const Json& p : sample.value("processes", Json::array())) {
    const std::string run = json::string_or(p, "run");
    if (run.empty()) continue;
    Use& u = use[{run, p.value("gpu", 0)}];
    u.memory += p.value("used_mib", 0.0);
    if (p.contains("sm_util") && p["sm_util"].is_number()) {
      u.sm += p["sm_util"].get<double>();
      u.has_sm = true;
    }
  }
  for (const auto& [key, u] : use) {
    metrics::Labels l = job_labels.count(key.first)
                            ? job_labels[key.first]
                            : metrics::Labels{{"Hostname", host}, {"run", key.first}};
    l["gpu"] = std::to_string(key.second);
    l["UUID"] = uuid_of[key.second];
    record(batch, "jizhan_job_gpu_memory_used_mib", l, t, u.memory);
    if (u.has_sm) record(batch, "jizhan_job_gpu_util", l, t, u.sm);
    run_util[key.first] += u.sm;
  }

  // The node: CPU busy share since the last sample; memory in use.
  const Json node = sample.value("node", Json::object());
  const metrics::Labels nl = {{"Hostname", host}};
  double total = 0, idle = 0;
  const Json cpu_modes = node.value("cpu_seconds", Json::object());
  for (const auto& [mode, v] : cpu_modes.items()) {
    if (!v.is_number()) continue;
    total += v.get<double>();
    if (mode == "idle" || mode == "iowait") idle += v.get<double>();
  }
  auto prev = cpu_seconds_.find("\x01node:" + host);
  if (prev != cpu_seconds_.end() && total > prev->second.second) {
    // first: idle seconds then, second: total seconds then.
    const double busy =
        1 - (idle - static_cast<double>(prev->second.first) / 1e6) / (total - prev->second.second);
    record(batch, "jizhan_node_cpu_util", nl, t, 100 * std::clamp(busy, 0.0, 1.0));
  }
  cpu_seconds_["\x01node:" + host] = {static_cast<int64_t>(idle * 1e6), total};
  record(batch, "jizhan_node_up", nl, t, 1);
  record(batch, "jizhan_node_memory_used_bytes", nl, t,
         node.value("memory_total_bytes", 0.0) - node.value("memory_available_bytes", 0.0));
  for (const Json& f : node.value("filesystems", Json::array())) {
    metrics::Labels fl = nl;
    fl["path"] = json::string_or(f, "path");
    record(batch, "jizhan_node_filesystem_size_bytes", fl, t, f.value("size_bytes", 0.0));
    record(batch, "jizhan_node_filesystem_avail_bytes", fl, t, f.value("avail_bytes", 0.0));
  }
  tsdb_->append(batch);

  // Runs' GPU use is known only where the agent sees GPUs (not virtual ones).
  if (uuid_of.empty()) run_util.clear();
  {
    std::lock_guard lock(mu_);
    const int64_t bucket = t / kBucketMs * kBucketMs;
    for (const auto& [run, util] : run_util) {
      auto& v = run_util_[run];
      if (v.empty() || v.back().start_ms != bucket) v.push_back({bucket, 0, 0});
      v.back().sum += util;
      ++v.back().count;
      auto keep = std::find_if(v.begin(), v.end(), [&](const UtilBucket& b) {
        return b.start_ms >= t - kRunUtilKeepMs;
      });
      v.erase(v.begin(), keep);
    }
    for (auto it = run_util_.begin(); it != run_util_.end();) {
      const bool gone = !run_util.count(it->first) &&
                        (it->second.empty() || it->second.back().start_ms < t - 3600'000);
      it = gone ? run_util_.erase(it) : std::next(it);
    }
    for (auto it = cpu_seconds_.begin(); it != cpu_seconds_.end();) {
      const bool gone = it->first[0] != '\x01' && !job_labels.count(it->first);
      it = gone ? cpu_seconds_.erase(it) : std::next(it);
    }
  }
  if (health_listener_) {
    for (const auto& c : changes) health_listener_(c);
  }
}

namespace {

// A label value inside a PromQL string.
std::string promql_quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<std::vector<QuerySeries>> Monitor::query(const std::string& metric,
                                                const metrics::Labels& match, int64_t start_ms,
                                                int64_t end_ms, int64_t step_ms,
                                                metrics::Aggregation agg) const {
  std::vector<QuerySeries> out;
  if (options_.prometheus_url.empty()) {
    if (!tsdb_) {
      return Status::failed_precondition(
          "this server keeps no GPU metrics (monitoring.agent=false, or jobs are off)");
    }
    for (const auto& s : tsdb_->find(metric, match)) {
      out.push_back({s.labels, tsdb_->range(s.id, start_ms, end_ms, step_ms, agg)});
    }
    return out;
  }
  std::string selector;
  for (const auto& [k, v] : match)
    selector += (selector.empty() ? "" : ",") + k + "=" + promql_quote(v);
  const std::string window = "[" + std::to_string(step_ms / 1000) + "s]";
  const char* fn = agg == metrics::Aggregation::kMax   ? "max_over_time"
                   : agg == metrics::Aggregation::kMin ? "min_over_time"
                                                       : "avg_over_time";
  std::string promql = metric == "jizhan_job_cpu_cores"
                           ? "rate(jizhan_job_cpu_seconds_total{" + selector + "}[" +
                                 std::to_string(std::max<int64_t>(step_ms / 1000, 30)) + "s])"
                           : std::string(fn) + "(" + metric + "{" + selector + "}" + window + ")";
  // Prometheus's value at t covers (t - step, t]; ours are labelled with their step's start.
  const std::string start = std::to_string((start_ms + step_ms) / 1000);
  const std::string end = std::to_string(end_ms / 1000);
  const std::string url = options_.prometheus_url;
  const size_t scheme = url.find("://");
  const std::string host =
      scheme == std::string::npos ? url : url.substr(0, url.find('/', scheme + 3));
  const std::string prefix =
      scheme == std::string::npos || url.find('/', scheme + 3) == std::string::npos
          ? ""
          : url.substr(url.find('/', scheme + 3));
  httplib::Client c(host);
  c.set_connection_timeout(5);
  c.set_read_timeout(30);
  auto r = c.Get(prefix + "/api/v1/query_range",
                 httplib::Params{{"query", promql},
                                 {"start", start},
                                 {"end", end},
                                 {"step", std::to_string(step_ms / 1000) + "s"}},
                 httplib::Headers{});
  if (!r) {
    return Status::unavailable(
        "Prometheus at " + url +
        " (monitoring.prometheus_url) did not answer: " + httplib::to_string(r.error()));
  }
  Json body = Json::parse(r->body, nullptr, false);
  if (r->status != 200 || !body.is_object() || body.value("status", "") != "success") {
    return Status::unavailable(
        "Prometheus at " + url + " refused " + promql + ": " +
        (body.is_object() ? body.value("error", r->body.substr(0, 200)) : r->body.substr(0, 200)));
  }
  for (const Json& res : body["data"].value("result", Json::array())) {
    QuerySeries q;
    const Json labels = res.value("metric", Json::object());
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string() && k != "__name__" && k != "instance") q.labels[k] = v.get<std::string>();
    }
    for (const Json& pt : res.value("values", Json::array())) {
      if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_string()) continue;
      const double v = std::strtod(pt[1].get<std::string>().c_str(), nullptr);
      if (!std::isfinite(v)) continue;
      const auto t = static_cast<int64_t>(pt[0].get<double>() * 1000);
      q.points.push_back({t - step_ms, v});
    }
    out.push_back(std::move(q));
  }
  return out;
}

std::optional<double> Monitor::run_gpu_util(const std::string& run,
                                            std::chrono::milliseconds window) const {
  const int64_t now = clock_.now_unix_ms();
  const int64_t from = now - window.count();
  std::lock_guard lock(mu_);
  auto it = run_util_.find(run);
  if (it == run_util_.end() || it->second.empty()) return std::nullopt;
  // Only when the samples cover the whole window (a bucket's width of slack).
  if (it->second.front().start_ms > from + kBucketMs) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (const UtilBucket& b : it->second) {
    if (b.start_ms + kBucketMs <= from) continue;
    sum += b.sum;
    n += b.count;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

}  // namespace jz::monitor
