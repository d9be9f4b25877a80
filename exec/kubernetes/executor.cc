#include "exec/kubernetes/executor.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/clock.h"
#include "core/files.h"
#include "logs/capture.h"

namespace jz::kube {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr const char* kManaged = "app.kubernetes.io/managed-by=jizhan";

const Json& at(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string str(const Json& j, const char* a, const char* b = nullptr, const char* c = nullptr) {
  const Json* x = &at(j, a);
  if (b) x = &at(*x, b);
  if (c) x = &at(*x, c);
  return x->is_string() ? x->get<std::string>() : "";
}

// "2026-12-06T07:22:48.123456789Z" -> Unix microseconds; -1 when not such a time.
int64_t parse_timestamp_us(std::string_view t) {
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
    return -1;
  std::tm tm{};
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 0 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0)
    return -1;
  int64_t us = 0;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    int64_t scale = 100000;
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      us += (t[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i >= t.size() || t[i] != 'Z') return -1;
  return static_cast<int64_t>(timegm(&tm)) * 1000000 + us;
}

std::string seconds_rfc3339(int64_t us) {
  const std::time_t s = us / 1000000;
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_terminal_pod(const Json& pod) {
  const std::string phase = str(pod, "status", "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// The cluster's reason a container cannot start for good.
bool launch_failure(const std::string& reason) {
  static const std::set<std::string> kFinal = {"ImagePullBackOff",     "InvalidImageName",
                                               "ErrImageNeverPull",    "CreateContainerConfigError",
                                               "CreateContainerError", "RunContainerError"};
  return kFinal.count(reason) > 0;
}

int64_t index_of(const Json& pod) {
  const Json& i =
      at(at(at(pod, "metadata"), "annotations"), "batch.kubernetes.io/job-completion-index");
  if (!i.is_string()) return 0;
  try {
    return std::stoll(i.get<std::string>());
  } catch (...) {
    return 0;
  }
}

Json job_condition(const Json& job, const std::string& type) {
  for (const auto& c : at(at(job, "status"), "conditions")) {
    if (str(c, "type") == type && str(c, "status") == "True") return c;
  }
  return nullptr;
}

}  // namespace

struct CaptureBox {
  std::mutex mu;
  std::unique_ptr<logs::Capture> capture;
  bool finished = false;
};

struct KubeExecutor::Follower {
  std::string run_id, ns, pod, dir;
  int index = 0, workers = 1;
  std::shared_ptr<CaptureBox> box;
  int64_t last_us = 0, same = 0;  // the last line kept: its time, lines kept at that time
  std::atomic<bool> done{false};
};

struct KubeExecutor::Run {
  std::string id, ns, name, dir;
  std::vector<exec::LaunchSpec::Worker> workers;
  Json job;  // the Job as last seen (null: none)
  std::map<std::string, Json> pods;
  std::string last_state;  // the last one in events.jsonl
  exec::JobStatus status;
  Clock::time_point kill_at{};
  Clock::time_point terminal_at{};
  Clock::time_point unschedulable_since{};
  std::set<std::string> placed;
  std::map<std::string, std::shared_ptr<Follower>> followers;  // pod ->
  std::shared_ptr<CaptureBox> capture;
  Json log_positions = Json::object();  // pod -> {last_us, same}, as saved
  // Work to do outside the lock: patches and deletions.
  std::vector<std::pair<std::string, Json>> patches;
  bool job_seen = false, job_gone = false;
  bool ended = false;
  bool terminating = false;
  bool killed = false;
  bool released = false;
  bool delete_job = false;
};

KubeExecutor::KubeExecutor(KubeExecutorOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<KubeExecutor>> KubeExecutor::create(KubeExecutorOptions options) {
  if (options.jobs_dir.empty())
    return Status::invalid_argument("the Kubernetes executor needs a jobs folder");
  if (options.client.auth.server.empty()) {
    return Status::invalid_argument("cluster '" + options.cluster.name +
                                    "' has no API server address");
  }
  std::error_code ec;
  fs::create_directories(options.jobs_dir, ec);
  if (ec) return Status::unavailable("cannot create " + options.jobs_dir + ": " + ec.message());
  auto e = std::unique_ptr<KubeExecutor>(new KubeExecutor(std::move(options)));
  e->client_ = std::make_unique<KubeClient>(e->options_.client);
  e->last_answer_ = Clock::now();
  if (Status s = e->sync_nodes(); !s.ok()) {
    return s.with_context("cluster '" + e->options_.cluster.name + "' (" +
                          e->options_.client.auth.server + ")");
  }
  // The first lists happen here, so a poll right after knows every run of the cluster.
  std::string rv_jobs, rv_pods;
  JZ_RETURN_IF_ERROR(e->relist("jobs", &rv_jobs));
  JZ_RETURN_IF_ERROR(e->relist("pods", &rv_pods));
  KubeExecutor* self = e.get();
  e->threads_.emplace_back([self, rv_jobs] { self->watch_loop("jobs", rv_jobs); });
  e->threads_.emplace_back([self, rv_pods] { self->watch_loop("pods", rv_pods); });
  e->threads_.emplace_back([self] { self->node_loop(); });
  return e;
}

KubeExecutor::~KubeExecutor() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  std::vector<std::thread> followers;
  {
    std::lock_guard lock(mu_);
    followers.swap(followers_);
  }
  for (auto& t : followers) t.join();
  std::lock_guard lock(mu_);
  for (auto& [id, r] : runs_) {
    if (!r->dir.empty()) {
      (void)write_file(r->dir + "/kube-logs.json", json::dump(r->log_positions), 0600, false,
                       false);
    }
  }
}

// ---- capacity -------------------------------------------------------------------------

Status KubeExecutor::sync_nodes() {
  std::string path = "/api/v1/nodes";
  if (!options_.node_selector.empty())
    path += "?labelSelector=" + query_escape(options_.node_selector);
  auto list = client_->get(path);
  std::lock_guard lock(mu_);
  if (!list.ok()) {
    if (Clock::now() - last_answer_ > options_.unavailable_after)
      unavailable_reason_ = list.status().message();
    note_nodes_change();
    return list.status();
  }
  last_answer_ = Clock::now();
  unavailable_reason_.clear();
  std::vector<ClusterNode> nodes;
  exec::MachineInfo all;
  all.hostname = options_.cluster.name;
  all.gpu_source = "kubernetes";
  all.cgroups = "kubernetes";
  for (const auto& n : at(*list, "items")) {
    ClusterNode c;
    c.name = str(n, "metadata", "name");
    for (const auto& cond : at(at(n, "status"), "conditions")) {
      if (str(cond, "type") == "Ready") c.ready = str(cond, "status") == "True";
    }
    if (at(at(n, "spec"), "unschedulable") == true) c.ready = false;
    const Json& labels = at(at(n, "metadata"), "labels");
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) c.labels[k] = v.get<std::string>();
      }
    }
    c.flavor = c.labels.count("nvidia.com/gpu.product") ? c.labels["nvidia.com/gpu.product"] : "";
    const Json& alloc = at(at(n, "status"), "allocatable");
    auto quantity = [&](const char* name) -> int64_t {
      const std::string q = str(alloc, name);
      if (q.empty()) return 0;
      // Plain forms only: "16", "16000m", "65536Ki", "64Gi", "64Mi".
      char* end = nullptr;
      const double v = std::strtod(q.c_str(), &end);
      const std::string unit = end ? end : "";
      if (unit == "m") return static_cast<int64_t>(v);
      if (unit == "Ki") return static_cast<int64_t>(v * 1024);
      if (unit == "Mi") return static_cast<int64_t>(v * 1024 * 1024);
      if (unit == "Gi") return static_cast<int64_t>(v * 1024 * 1024 * 1024);
      if (unit == "Ti") return static_cast<int64_t>(v * 1024 * 1024 * 1024 * 1024);
      if (unit == "k") return static_cast<int64_t>(v * 1e3);
      if (unit == "M") return static_cast<int64_t>(v * 1e6);
      if (unit == "G") return static_cast<int64_t>(v * 1e9);
      return static_cast<int64_t>(v * (std::string(name) == "cpu" ? 1000 : 1));
    };
    c.machine.hostname = c.name;
    c.machine.cpu_milli = quantity("cpu");
    c.machine.memory_mib = quantity("memory") >> 20;
    c.machine.gpu_source = "kubernetes";
    c.machine.cgroups = "kubernetes";
    const int gpus = static_cast<int>(quantity("nvidia.com/gpu"));
    // The devices as the node agent reports them; without it, names made from the node.
    Json devices = Json::parse(str(n, "metadata", "annotations", "jizhan.io/gpus"), nullptr, false);
    for (int i = 0; i < gpus; ++i) {
      exec::GpuInfo g;
      const Json& d =
          devices.is_array() && i < static_cast<int>(devices.size()) ? devices[i] : Json();
      g.uuid = str(d, "uuid");
      if (g.uuid.empty()) g.uuid = c.name + "/gpu" + std::to_string(i);
      g.name = str(d, "name").empty() ? c.flavor : str(d, "name");
      g.memory_mib = at(d, "memory_mib").is_number_integer() ? d["memory_mib"].get<int64_t>() : 0;
      if (g.memory_mib == 0 && c.labels.count("nvidia.com/gpu.memory")) {
        g.memory_mib = std::strtoll(c.labels["nvidia.com/gpu.memory"].c_str(), nullptr, 10);
      }
      c.machine.gpus.push_back(g);
    }
    if (c.ready) {
      all.cpu_milli += c.machine.cpu_milli;
      all.memory_mib += c.machine.memory_mib;
      all.gpus.insert(all.gpus.end(), c.machine.gpus.begin(), c.machine.gpus.end());
    }
    nodes.push_back(std::move(c));
  }
  nodes_ = std::move(nodes);
  machine_ = std::move(all);
  note_nodes_change();
  return {};
}

void KubeExecutor::note_nodes_change() {
  std::string digest = unavailable_reason_.empty() ? "up" : "down";
  for (const auto& n : nodes_) {
    digest += "|" + n.name + (n.ready ? "+" : "-") + std::to_string(n.machine.gpus.size()) + ":" +
              std::to_string(n.machine.cpu_milli) + ":" + std::to_string(n.machine.memory_mib);
  }
  if (digest != nodes_digest_) {
    nodes_digest_ = std::move(digest);
    ++nodes_version_;
  }
}

void KubeExecutor::node_loop() {
  auto next = Clock::now() + options_.node_sync;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Clock::now() < next) continue;
    (void)sync_nodes();
    next = Clock::now() + options_.node_sync;
    // Ended runs whose followers stopped: their captures can finish.
    std::lock_guard lock(mu_);
    for (auto& [id, r] : runs_) {
      if (r->ended) finish_capture(*r);
    }
  }
}

const exec::MachineInfo& KubeExecutor::machine() const {
  std::lock_guard lock(mu_);
  return machine_;
}

std::vector<ClusterNode> KubeExecutor::cluster_nodes() const {
  std::lock_guard lock(mu_);
  return nodes_;
}

std::vector<exec::NodeInfo> KubeExecutor::nodes() const {
  std::lock_guard lock(mu_);
  std::vector<exec::NodeInfo> out;
  for (const auto& n : nodes_) {
    exec::NodeInfo i;
    i.name = n.name;
    i.cluster = options_.cluster.name;
    auto pool = n.labels.find("jizhan.io/pool");
    i.pool = pool != n.labels.end() ? pool->second : options_.cluster.pool;
    i.schedulable = n.ready && unavailable_reason_.empty();
    i.machine = n.machine;
    out.push_back(std::move(i));
  }
  return out;
}

int64_t KubeExecutor::active_runs() const {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  for (const auto& [id, r] : runs_) n += r->released ? 0 : 1;
  return n;
}

bool KubeExecutor::knows(const std::string& job_id) const {
  auto text = read_file(job_dir(job_id) + "/kube.json");
  if (!text.ok()) return false;
  Json rec = Json::parse(*text, nullptr, false);
  return rec.is_object() && str(rec, "cluster") == options_.cluster.name;
}

bool KubeExecutor::available() const {
  std::lock_guard lock(mu_);
  return unavailable_reason_.empty();
}

std::string KubeExecutor::unavailable_reason() const {
  std::lock_guard lock(mu_);
  return unavailable_reason_;
}

std::map<std::string, int64_t> KubeExecutor::watch_restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

// ---- watches --------------------------------------------------------------------------

namespace {
std::string collection(const std::string& kind) {
  return kind == "jobs" ? "/apis/batch/v1/jobs" : "/api/v1/pods";
}
}  // namespace

Status KubeExecutor::relist(const std::string& kind, std::string* rv) {
  auto list = client_->get(collection(kind) + "?labelSelector=" + query_escape(kManaged));
  if (!list.ok()) return list.status();
  std::set<std::string> present;
  std::vector<std::function<void()>> work;
  {
    for (const auto& item : at(*list, "items")) {
      present.insert(str(item, "metadata", "namespace") + "/" + str(item, "metadata", "name"));
      on_object(kind, "SYNC", item);
    }
    // What the list no longer has was deleted while nobody watched.
    std::vector<Json> gone;
    {
      std::lock_guard lock(mu_);
      last_answer_ = Clock::now();
      for (auto& [id, r] : runs_) {
        if (kind == "jobs") {
          if (r->job_seen && !r->job_gone && !present.count(r->ns + "/" + r->name))
            gone.push_back(r->job);
        } else {
          for (const auto& [name, pod] : r->pods) {
            if (!present.count(r->ns + "/" + name)) gone.push_back(pod);
          }
        }
      }
    }
    for (const auto& g : gone) on_object(kind, "DELETED", g);
  }
  *rv = str(*list, "metadata", "resourceVersion");
  return {};
}

void KubeExecutor::watch_loop(const std::string& kind, std::string rv) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    if (rv.empty()) {
      if (Status s = relist(kind, &rv); !s.ok()) {
        {
          std::lock_guard lock(mu_);
          if (Clock::now() - last_answer_ > options_.unavailable_after)
            unavailable_reason_ = s.message();
          note_nodes_change();
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        continue;
      }
    }
    bool gone = false;
    bool got_any = false;
    const std::string path = collection(kind) + "?labelSelector=" + query_escape(kManaged) +
                             "&watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
                             std::to_string(options_.watch_timeout_s) + "&resourceVersion=" + rv;
    Status s = client_->stream(
        path,
        [&](std::string_view line) {
          Json e = Json::parse(line, nullptr, false);
          if (!e.is_object()) return true;
          got_any = true;
          const std::string type = str(e, "type");
          const Json& obj = at(e, "object");
          if (type == "ERROR") {
            if (at(obj, "code") == 410) gone = true;
            return false;
          }
          const std::string v = str(obj, "metadata", "resourceVersion");
          if (type != "BOOKMARK") on_object(kind, type, obj);
          if (!v.empty()) rv = v;
          return true;
        },
        &stop_);
    std::unique_lock lock(mu_);
    if (got_any) {
      last_answer_ = Clock::now();
      unavailable_reason_.clear();
      note_nodes_change();
    }
    if (gone) {
      ++restarts_["gone"];
      rv.clear();  // 410: list again
      continue;
    }
    if (!s.ok()) {
      ++restarts_["broken"];
      if (Clock::now() - last_answer_ > options_.unavailable_after)
        unavailable_reason_ = s.message();
      note_nodes_change();
      lock.unlock();
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
      continue;
    }
    if (!stop_) ++restarts_["timeout"];
    backoff = std::chrono::milliseconds(100);
  }
}

void KubeExecutor::on_object(const std::string& kind, const std::string& type, const Json& object) {
  std::vector<std::pair<std::string, Json>> patches;
  std::vector<std::string> delete_jobs;
  {
    std::lock_guard lock(mu_);
    const std::string ns = str(object, "metadata", "namespace");
    std::string run_name = kind == "jobs" ? str(object, "metadata", "name")
                                          : str(object, "metadata", "labels", "jizhan.io/run");
    Run* r = nullptr;
    auto it = by_name_.find(ns + "/" + run_name);
    if (it != by_name_.end()) {
      r = run_for(it->second);
    } else {
      const std::string id = str(object, "metadata", "annotations", "jizhan.io/run-id");
      if (!id.empty()) r = run_for(id);  // a run of an earlier server process
    }
    if (!r || r->ns != ns || r->name != run_name) return;
    if (kind == "jobs") {
      if (type == "DELETED") {
        r->job_gone = true;
      } else {
        r->job = object;
        r->job_seen = true;
        r->job_gone = false;
      }
    } else {
      const std::string name = str(object, "metadata", "name");
      if (type == "DELETED") {
        r->pods.erase(name);
      } else {
        r->pods[name] = object;
      }
    }
    update_run(*r);
    patches.swap(r->patches);
    if (r->delete_job) {
      r->delete_job = false;
      delete_jobs.push_back("/apis/batch/v1/namespaces/" + r->ns + "/jobs/" + r->name);
    }
  }
  for (const auto& [path, patch] : patches) (void)client_->merge_patch(path, patch);
  for (const auto& path : delete_jobs) (void)client_->remove(path, "Background", 0);
}

KubeExecutor::Run* KubeExecutor::run_for(const std::string& job_id) {
  if (auto it = runs_.find(job_id); it != runs_.end()) return it->second.get();
  const std::string dir = job_dir(job_id);
  auto text = read_file(dir + "/kube.json");
  if (!text.ok()) return nullptr;
  Json rec = Json::parse(*text, nullptr, false);
  if (!rec.is_object() || str(rec, "cluster") != options_.cluster.name) return nullptr;
  auto r = std::make_unique<Run>();
  r->id = job_id;
  r->dir = dir;
  r->ns = str(rec, "namespace");
  r->name = str(rec, "name");
  for (const auto& w : at(rec, "workers")) {
    exec::LaunchSpec::Worker wk;
    wk.node = str(w, "node");
    for (const auto& g : at(w, "gpus")) {
      if (g.is_string()) wk.gpu_uuids.push_back(g.get<std::string>());
    }
    r->workers.push_back(wk);
  }
  // The states already recorded, and how it ended.
  if (auto ev = read_file(dir + "/events.jsonl"); ev.ok()) {
    size_t start = 0;
    while (start < ev->size()) {
      size_t nl = ev->find('\n', start);
      if (nl == std::string::npos) nl = ev->size();
      Json e = Json::parse(ev->substr(start, nl - start), nullptr, false);
      if (e.is_object()) r->last_state = str(e, "state");
      start = nl + 1;
    }
  }
  if (auto ex = read_file(dir + "/exit.json"); ex.ok()) {
    Json e = Json::parse(*ex, nullptr, false);
    if (e.is_object()) {
      r->ended = true;
      r->status.phase = str(e, "phase") == "lost" ? exec::JobStatus::Phase::kLost
                                                  : exec::JobStatus::Phase::kExited;
      r->status.exit_code = at(e, "exit_code").is_number_integer() ? e["exit_code"].get<int>() : -1;
      r->status.signal = at(e, "signal").is_number_integer() ? e["signal"].get<int>() : 0;
      r->status.oom_killed = at(e, "oom_killed") == true;
      r->status.reason = str(e, "reason");
      r->status.message = str(e, "message");
    }
  }
  if (auto pos = read_file(dir + "/kube-logs.json"); pos.ok()) {
    Json p = Json::parse(*pos, nullptr, false);
    if (p.is_object()) r->log_positions = p;
  }
  if (!r->ended) {
    logs::CaptureOptions co;
    co.level = str(rec, "log_level").empty() ? "open" : str(rec, "log_level");
    co.policy = logs::default_policy(co.level);
    if (rec.contains("log_policy")) {
      auto p = logs::parse_policy(rec["log_policy"], false);
      if (p.ok()) co.policy = std::move(*p);
    }
    co.store_dir = dir + "/logs";
    if (co.policy.keep_raw && co.policy.mode != logs::LogPolicy::Mode::kOpen)
      co.raw_dir = dir + "/raw";
    auto cap = logs::Capture::open(co);
    r->capture = std::make_shared<CaptureBox>();
    if (cap.ok()) r->capture->capture = std::move(*cap);
  }
  Run* raw = r.get();
  by_name_[r->ns + "/" + r->name] = job_id;
  runs_[job_id] = std::move(r);
  return raw;
}

void KubeExecutor::record(Run& r, const std::string& state, const Json& extra) {
  if (r.last_state == state) return;
  Json e = {{"state", state},
            {"at", format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now()))}};
  if (extra.is_object()) e.update(extra);
  std::ofstream out(r.dir + "/events.jsonl", std::ios::app);
  out << json::dump(e) << "\n";
  r.last_state = state;
}

void KubeExecutor::finish_capture(Run& r) {
  if (!r.capture) return;
  for (const auto& [pod, f] : r.followers) {
    if (!f->done) return;
  }
  std::lock_guard lock(r.capture->mu);
  if (r.capture->finished || !r.capture->capture) return;
  (void)r.capture->capture->finish();
  r.capture->finished = true;
}

void KubeExecutor::update_run(Run& r) {
  if (r.ended) return;
  const int workers = std::max<int>(1, static_cast<int>(r.workers.size()));
  // A gang's pods get their places once all of them exist (all or nothing).
  if (workers > 1 && !r.terminating) {
    int gated = 0;
    for (const auto& [name, pod] : r.pods) {
      const Json& gates = at(at(pod, "spec"), "schedulingGates");
      if (gates.is_array() && !gates.empty() && !r.placed.count(name)) ++gated;
    }
    if (static_cast<int>(r.pods.size()) == workers && gated > 0) {
      for (const auto& [name, pod] : r.pods) {
        const Json& gates = at(at(pod, "spec"), "schedulingGates");
        if (!gates.is_array() || gates.empty() || r.placed.count(name)) continue;
        const int64_t i = index_of(pod);
        if (i < 0 || i >= workers) continue;
        r.patches.push_back({"/api/v1/namespaces/" + r.ns + "/pods/" + name,
                             placement_patch(r.workers[static_cast<size_t>(i)])});
        r.placed.insert(name);
      }
    }
  }
  // Logs: every pod that started gets a follower.
  bool any_running = false, any_started = false;
  std::string waiting_reason, waiting_message, unschedulable;
  for (const auto& [name, pod] : r.pods) {
    const std::string phase = str(pod, "status", "phase");
    if (phase == "Running") any_running = true;
    if (phase == "Running" || is_terminal_pod(pod)) {
      any_started = true;
      if (!r.followers.count(name)) follow_logs(r, name, static_cast<int>(index_of(pod)));
    }
    for (const auto& cs : at(at(pod, "status"), "containerStatuses")) {
      const std::string reason = str(cs, "state", "waiting", "reason");
      if (launch_failure(reason)) {
        waiting_reason = reason;
        waiting_message = str(cs, "state", "waiting", "message");
      }
    }
    for (const auto& c : at(at(pod, "status"), "conditions")) {
      if (str(c, "type") == "PodScheduled" && str(c, "status") == "False" &&
          str(c, "reason") == "Unschedulable")
        unschedulable = str(c, "message");
    }
  }
  // The Job's end and its pods' ends come on two watches, in any order: the end is told
  // once the pods the Job counts have been seen ending (their exit codes and logs), and
  // their last lines reached the log; at most 5 s after the end was first seen.
  int64_t terminal_pods = 0;
  bool all_terminal = true;
  for (const auto& [name, pod] : r.pods) {
    const bool t = is_terminal_pod(pod);
    terminal_pods += t ? 1 : 0;
    all_terminal = all_terminal && t;
  }
  const Json& job_status = at(r.job, "status");
  const int64_t counted =
      (at(job_status, "succeeded").is_number_integer() ? job_status["succeeded"].get<int64_t>()
                                                       : 0) +
      (at(job_status, "failed").is_number_integer() ? job_status["failed"].get<int64_t>() : 0);
  // `stuck`: its pods will never end by themselves (they could not start).
  auto end = [&](exec::JobStatus st, bool stuck = false) {
    if (r.terminal_at == Clock::time_point{}) r.terminal_at = Clock::now();
    bool drained = stuck || (all_terminal && terminal_pods >= counted);
    for (const auto& [pod, f] : r.followers) drained = drained && f->done;
    if (!drained && Clock::now() - r.terminal_at < std::chrono::seconds(5)) return;
    if (st.phase == exec::JobStatus::Phase::kExited &&
        (r.last_state.empty() || r.last_state == "starting") && any_started) {
      record(r, "running");
    }
    Json e = {{"phase", st.phase == exec::JobStatus::Phase::kLost ? "lost" : "exited"},
              {"exit_code", st.exit_code},
              {"signal", st.signal},
              {"oom_killed", st.oom_killed},
              {"reason", st.reason},
              {"message", st.message}};
    (void)write_file(r.dir + "/exit.json", json::dump(e), 0600, false, false);
    record(r, "exited", {{"exit_code", st.exit_code}, {"reason", st.reason}});
    r.ended = true;
    r.status = st;
    finish_capture(r);
  };
  exec::JobStatus st;
  st.phase = exec::JobStatus::Phase::kExited;
  // How the job went, from its Job and pods.
  if (!waiting_reason.empty() && !r.terminating) {
    st.exit_code = -1;
    st.reason = "LaunchFailed";
    st.message = waiting_reason + ": " + waiting_message;
    if (!r.job_gone) r.delete_job = true;
    return end(st, true);
  }
  if (!unschedulable.empty() && !any_started && !r.terminating) {
    if (r.unschedulable_since == Clock::time_point{}) r.unschedulable_since = Clock::now();
    if (Clock::now() - r.unschedulable_since > options_.unschedulable_limit) {
      st.exit_code = -1;
      st.reason = "LaunchFailed";
      st.message = "the cluster cannot schedule it: " + unschedulable;
      if (!r.job_gone) r.delete_job = true;
      return end(st, true);
    }
  }
  const Json failed = job_condition(r.job, "Failed");
  const Json complete = job_condition(r.job, "Complete");
  // The pod whose end tells most: evicted, OOM-killed, else any failed one.
  auto failed_pod = [&]() -> const Json* {
    const Json* best = nullptr;
    for (const auto& [name, pod] : r.pods) {
      if (str(pod, "status", "phase") != "Failed") continue;
      if (str(pod, "status", "reason") == "Evicted") return &pod;
      if (!best) best = &pod;
    }
    return best;
  };
  auto from_pod = [&](const Json& pod) {
    if (str(pod, "status", "reason") == "Evicted") {
      st.exit_code = 137;
      st.reason = "Evicted";
      st.message = str(pod, "status", "message");
      return;
    }
    for (const auto& cs : at(at(pod, "status"), "containerStatuses")) {
      const Json& t = at(at(cs, "state"), "terminated");
      if (!t.is_object()) continue;
      st.exit_code = at(t, "exitCode").is_number_integer() ? t["exitCode"].get<int>() : 1;
      st.signal = at(t, "signal").is_number_integer() ? t["signal"].get<int>() : 0;
      if (str(t, "reason") == "OOMKilled") {
        st.oom_killed = true;
        st.reason = "OOMKilled";
      }
      st.message = str(t, "message");
    }
  };
  if (r.terminating) {
    // Ended by Jizhan: over once the pods are gone (or the Job with them).
    bool all_gone = true;
    for (const auto& [name, pod] : r.pods) all_gone = all_gone && is_terminal_pod(pod);
    if (r.pods.empty() || all_gone) {
      st.exit_code = 143;
      for (const auto& [name, pod] : r.pods) from_pod(pod);
      st.reason.clear();
      return end(st);
    }
  } else if (!failed.is_null()) {
    if (str(failed, "reason") == "DeadlineExceeded") {
      st.exit_code = 124;
      st.reason = "DeadlineExceeded";
      st.message = str(failed, "message");
    } else {
      st.exit_code = 1;
      st.message = str(failed, "message");
      if (const Json* p = failed_pod()) from_pod(*p);
    }
    return end(st);
  } else if (!complete.is_null()) {
    st.exit_code = 0;
    return end(st);
  } else if (r.job_gone) {
    st.phase = exec::JobStatus::Phase::kLost;
    st.message = "the Job " + r.ns + "/" + r.name + " was deleted from cluster '" +
                 options_.cluster.name + "' outside Jizhan";
    return end(st);
  }
  if (any_running) {
    record(r, "running");
  } else if (r.last_state.empty()) {
    record(r, "starting");
  }
}

// ---- logs -----------------------------------------------------------------------------

void KubeExecutor::follow_logs(Run& r, const std::string& pod, int index) {
  auto f = std::make_shared<Follower>();
  f->run_id = r.id;
  f->ns = r.ns;
  f->pod = pod;
  f->dir = r.dir;
  f->index = index;
  f->workers = std::max<int>(1, static_cast<int>(r.workers.size()));
  f->box = r.capture;
  const Json& pos = at(r.log_positions, pod.c_str());
  if (pos.is_object()) {
    f->last_us = at(pos, "last_us").is_number_integer() ? pos["last_us"].get<int64_t>() : 0;
    f->same = at(pos, "same").is_number_integer() ? pos["same"].get<int64_t>() : 0;
  }
  r.followers[pod] = f;
  if (!f->box || !f->box->capture) {
    f->done = true;
    return;
  }
  followers_.emplace_back([this, f] { follow(f); });
}

void KubeExecutor::follow(std::shared_ptr<Follower> f) {
  const std::string prefix = f->workers > 1 ? "[worker " + std::to_string(f->index) + "] " : "";
  auto backoff = std::chrono::milliseconds(100);
  auto save = [&] {
    std::lock_guard lock(mu_);
    auto it = runs_.find(f->run_id);
    if (it == runs_.end()) return;
    it->second->log_positions[f->pod] = {{"last_us", f->last_us}, {"same", f->same}};
    (void)write_file(f->dir + "/kube-logs.json", json::dump(it->second->log_positions), 0600, false,
                     false);
  };
  while (!stop_) {
    std::string path =
        "/api/v1/namespaces/" + f->ns + "/pods/" + f->pod + "/log?follow=true&timestamps=true";
    if (f->last_us > 0) path += "&sinceTime=" + query_escape(seconds_rfc3339(f->last_us));
    int64_t seen_at_last = 0;
    auto last_save = Clock::now();
    Status s = client_->stream(
        path,
        [&](std::string_view line) {
          const size_t sp = line.find(' ');
          const int64_t t =
              sp == std::string_view::npos ? -1 : parse_timestamp_us(line.substr(0, sp));
          if (t < 0) return true;
          if (t < f->last_us) return true;
          if (t == f->last_us && seen_at_last < f->same) {
            ++seen_at_last;
            return true;  // kept before a restart
          }
          if (t == f->last_us) {
            ++f->same;
            ++seen_at_last;
          } else {
            f->last_us = t;
            f->same = 1;
            seen_at_last = 1;
          }
          std::string text = prefix;
          text.append(line.substr(sp + 1));
          text.push_back('\n');
          {
            std::lock_guard lock(f->box->mu);
            if (!f->box->finished) (void)f->box->capture->feed(0, text, t);
          }
          if (Clock::now() - last_save > std::chrono::milliseconds(500)) {
            save();
            last_save = Clock::now();
          }
          return true;
        },
        &stop_);
    save();
    if (stop_) break;
    // Over when the pod ended or went; else the stream was cut: follow again.
    bool over = false;
    {
      std::lock_guard lock(mu_);
      auto it = runs_.find(f->run_id);
      if (it == runs_.end()) {
        over = true;
      } else {
        auto p = it->second->pods.find(f->pod);
        over = p == it->second->pods.end() || is_terminal_pod(p->second);
      }
    }
    if (s.code() == Code::kNotFound) over = true;
    if (over && s.ok()) break;
    if (over) break;
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
  }
  f->done = true;
}

// ---- the Executor interface -------------------------------------------------------------

std::string KubeExecutor::job_dir(const std::string& job_id) const {
  return options_.jobs_dir + "/" + job_id;
}

Status KubeExecutor::launch(const exec::LaunchSpec& spec) {
  JZ_ASSIGN_OR_RETURN(JobObjects o, make_objects(spec, options_.cluster));
  const std::string dir = job_dir(spec.job_id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::unavailable("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  Json workers = Json::array();
  for (const auto& w : spec.workers) workers.push_back({{"node", w.node}, {"gpus", w.gpu_uuids}});
  if (spec.workers.empty()) workers.push_back({{"node", ""}, {"gpus", spec.gpu_uuids}});
  Json rec = {{"cluster", options_.cluster.name},
              {"namespace", o.ns},
              {"name", o.name},
              {"run", spec.job_id},
              {"workers", workers},
              {"log_level", spec.log_level},
              {"log_policy", spec.log_policy.to_json()}};
  JZ_RETURN_IF_ERROR(write_file(dir + "/kube.json", json::dump(rec), 0600, false, false));
  {
    std::lock_guard lock(mu_);
    runs_.erase(spec.job_id);
    if (!run_for(spec.job_id)) return Status::internal("cannot read back " + dir + "/kube.json");
  }
  const std::string ns_path = "/api/v1/namespaces/" + o.ns;
  if (auto ns = client_->get(ns_path); !ns.ok()) {
    if (ns.status().code() != Code::kNotFound) return ns.status();
    auto made = client_->create("/api/v1/namespaces", o.namespace_object);
    if (!made.ok() && made.status().code() != Code::kAlreadyExists) return made.status();
  }
  const std::string jobs = "/apis/batch/v1/namespaces/" + o.ns + "/jobs";
  auto job = client_->create(jobs, o.job);
  if (!job.ok() && job.status().code() == Code::kAlreadyExists) {
    // Launched before (a retry after a lost answer): it must be this run's.
    job = client_->get(jobs + "/" + o.name);
    if (job.ok() && str(*job, "metadata", "annotations", "jizhan.io/run-id") != spec.job_id) {
      return Status::already_exists("a Job " + o.ns + "/" + o.name + " of another run exists");
    }
  }
  if (!job.ok()) return job.status();
  auto undo = [&](Status s) {
    (void)client_->remove(jobs + "/" + o.name, "Background", 0);
    return s;
  };
  const Json owner = Json::array({{{"apiVersion", "batch/v1"},
                                   {"kind", "Job"},
                                   {"name", o.name},
                                   {"uid", str(*job, "metadata", "uid")},
                                   {"blockOwnerDeletion", true}}});
  struct Owned {
    Json object;
    std::string collection;
  };
  for (const auto& [obj, coll] :
       {Owned{o.network_policy,
              "/apis/networking.k8s.io/v1/namespaces/" + o.ns + "/networkpolicies"},
        Owned{o.service, "/api/v1/namespaces/" + o.ns + "/services"},
        Owned{o.vgpu_config, "/api/v1/namespaces/" + o.ns + "/configmaps"}}) {
    if (obj.is_null()) continue;
    Json owned = obj;
    owned["metadata"]["ownerReferences"] = owner;
    auto made = client_->create(coll, owned);
    if (!made.ok() && made.status().code() != Code::kAlreadyExists) return undo(made.status());
  }
  // Everything it needs is in place (its network policy first of all): let it run.
  auto started = client_->merge_patch(jobs + "/" + o.name, {{"spec", {{"suspend", false}}}});
  if (!started.ok()) return undo(started.status());
  return {};
}

exec::JobStatus KubeExecutor::poll(const std::string& job_id) {
  std::vector<std::pair<std::string, Json>> patches;
  bool delete_job = false;
  std::vector<std::string> pods;
  std::string ns, name;
  exec::JobStatus st;
  {
    std::lock_guard lock(mu_);
    Run* r = run_for(job_id);
    if (!r) {
      st.phase = exec::JobStatus::Phase::kLost;
      st.message = "cluster '" + options_.cluster.name + "' has no record of this job";
      return st;
    }
    update_run(*r);
    patches.swap(r->patches);
    delete_job = r->delete_job;
    r->delete_job = false;
    if (r->terminating && !r->ended && !r->killed && Clock::now() >= r->kill_at) {
      r->killed = true;
      for (const auto& [pod, unused] : r->pods) pods.push_back(pod);
    }
    ns = r->ns;
    name = r->name;
    if (r->ended) {
      st = r->status;
    } else {
      st.phase = r->last_state == "running" ? exec::JobStatus::Phase::kRunning
                                            : exec::JobStatus::Phase::kStarting;
    }
  }
  for (const auto& [path, patch] : patches) (void)client_->merge_patch(path, patch);
  if (delete_job)
    (void)client_->remove("/apis/batch/v1/namespaces/" + ns + "/jobs/" + name, "Background", 0);
  for (const auto& pod : pods)
    (void)client_->remove("/api/v1/namespaces/" + ns + "/pods/" + pod, "", 0);
  return st;
}

void KubeExecutor::terminate(const std::string& job_id, std::chrono::milliseconds grace) {
  std::vector<std::string> pods;
  std::string ns, name;
  {
    std::lock_guard lock(mu_);
    Run* r = run_for(job_id);
    if (!r || r->ended) return;
    if (!r->terminating) {
      r->terminating = true;
      r->kill_at = Clock::now() + grace;
    }
    for (const auto& [pod, unused] : r->pods) pods.push_back(pod);
    ns = r->ns;
    name = r->name;
  }
  const int64_t grace_s = std::chrono::duration_cast<std::chrono::seconds>(grace).count();
  // The Job first (so no pod is made again), then its pods with the grace period.
  (void)client_->remove("/apis/batch/v1/namespaces/" + ns + "/jobs/" + name, "Background", grace_s);
  for (const auto& pod : pods)
    (void)client_->remove("/api/v1/namespaces/" + ns + "/pods/" + pod, "", grace_s);
}

void KubeExecutor::release(const std::string& job_id) {
  std::string ns, name;
  {
    std::lock_guard lock(mu_);
    Run* r = run_for(job_id);
    if (!r || r->released) return;
    r->released = true;
    ns = r->ns;
    name = r->name;
    finish_capture(*r);
  }
  // The Job and everything it owns (pods, Service, NetworkPolicy, ConfigMap) go: nothing
  // of an ended job stays on a node.
  (void)client_->remove("/apis/batch/v1/namespaces/" + ns + "/jobs/" + name, "Background", 0);
}

}  // namespace jz::kube
