#include "gpu/monitor.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>

namespace jz::gpu {

namespace {

std::string machine_hostname() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

// Label values per the exposition format: backslash, quote and newline escaped.
void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  append_escaped(out, value);
  out += '"';
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[32];
  const double r = std::nearbyint(v);
  std::to_chars_result res = (r == v && std::fabs(v) < 9e15)
                                 ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(r))
                                 : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    name_ = name;
  }
  void sample(std::string_view labels, double v) {
    out_ += name_;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    append_number(out_, v);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }
  void reserve(size_t n) { out_.reserve(n); }

 private:
  std::string out_;
  std::string_view name_;
};

// A device family: one sample per GPU whose reading has the field.
template <typename Get>
void device_family(Exposition& e, const Snapshot& s, const std::vector<std::string>& labels,
                   std::string_view name, std::string_view type, std::string_view help, Get get) {
  bool any = false;
  for (const auto& g : s.gpus) {
    if (get(g)) any = true;
  }
  if (!any) return;
  e.family(name, type, help);
  for (size_t i = 0; i < s.gpus.size(); ++i) {
    if (auto v = get(s.gpus[i])) e.sample(labels[i], static_cast<double>(*v));
  }
}

}  // namespace

Monitor::Monitor(MonitorOptions options) : options_(std::move(options)) {
  if (options_.hostname.empty()) options_.hostname = machine_hostname();
  std::string why;
  nvml_ = Nvml::open(options_.nvml_library, &why);
  nvml_status_ = nvml_ ? "ok" : why;
  if (nvml_) health_.assign(nvml_->count(), GpuHealth{});
}

Monitor::~Monitor() = default;

Snapshot Monitor::sample(int64_t now_ms) {
  const auto t0 = std::chrono::steady_clock::now();
  Snapshot s;
  s.at_ms = now_ms;
  s.hostname = options_.hostname;
  s.nvml = nvml_status_;
  if (nvml_) {
    s.driver_version = nvml_->driver_version();
    for (const XidEvent& x : nvml_->xid_events(0)) {
      if (x.gpu >= health_.size()) continue;
      GpuHealth& h = health_[x.gpu];
      h.last_xid = x.xid;
      ++h.xid_count;
      if (options_.fatal_xids.count(x.xid) && h.healthy) {
        h.healthy = false;
        h.reason = "XID " + std::to_string(x.xid);
      }
    }
    std::map<int64_t, std::string> run_by_pid;
    for (unsigned i = 0; i < nvml_->count(); ++i) {
      GpuReading r = nvml_->read(i);
      if (r.lost && health_[i].healthy) {
        health_[i].healthy = false;
        health_[i].reason = "lost (fallen off the bus)";
      }
      if (!r.lost) {
        for (ProcessReading& p : nvml_->processes(i)) {
          auto it = run_by_pid.find(p.pid);
          if (it == run_by_pid.end()) {
            it = run_by_pid.emplace(p.pid, run_of_pid(p.pid, options_.cgroup_name, options_.proc))
                     .first;
          }
          s.processes.push_back({p, it->second});
        }
      }
      s.gpus.push_back(std::move(r));
    }
    s.health = health_;
    s.nvml_errors = nvml_->errors();
  }
  s.node = read_node(options_.filesystems, options_.proc);
  s.jobs = read_jobs(options_.cgroup_root, options_.cgroup_name, "");
  // Labels are written once when a job starts: read each run's file once, and forget
  // runs whose groups are gone.
  std::map<std::string, std::map<std::string, std::string>> seen;
  for (JobReading& j : s.jobs) {
    auto it = labels_.find(j.run);
    if (it == labels_.end() || it->second.empty()) {
      auto labels = options_.jobs_dir.empty()
                        ? std::map<std::string, std::string>{}
                        : read_labels(options_.jobs_dir + "/" + j.run + "/labels.json");
      it = labels_.insert_or_assign(j.run, std::move(labels)).first;
    }
    j.labels = it->second;
    seen[j.run] = it->second;
  }
  labels_.swap(seen);
  s.samples = ++samples_;
  s.sample_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

std::string render_prometheus(const Snapshot& s) {
  Exposition e;
  e.reserve(256 + s.gpus.size() * 30 * 200);
  // dcgm-exporter's labels on its names (dl); ours leave out its one camelCase label,
  // modelName, which the DCGM series carry for joins (gl).
  std::vector<std::string> dl(s.gpus.size()), gl(s.gpus.size());
  std::map<unsigned, size_t> by_index;
  for (size_t i = 0; i < s.gpus.size(); ++i) {
    const GpuReading& g = s.gpus[i];
    by_index[g.index] = i;
    append_label(gl[i], "gpu", std::to_string(g.index));
    append_label(gl[i], "UUID", g.uuid);
    append_label(gl[i], "pci_bus_id", g.pci_bus_id);
    append_label(gl[i], "device", "nvidia" + std::to_string(g.minor.value_or(g.index)));
    dl[i] = gl[i];
    append_label(dl[i], "modelName", g.name);
    append_label(dl[i], "Hostname", s.hostname);
    append_label(gl[i], "Hostname", s.hostname);
  }
  using G = GpuReading;
  device_family(e, s, dl, "DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).",
                [](const G& g) { return g.gpu_util; });
  device_family(e, s, dl, "DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).",
                [](const G& g) { return g.mem_copy_util; });
  device_family(e, s, dl, "DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %).",
                [](const G& g) { return g.enc_util; });
  device_family(e, s, dl, "DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %).",
                [](const G& g) { return g.dec_util; });
  device_family(e, s, dl, "DCGM_FI_DEV_FB_FREE", "gauge", "Frame buffer memory free (in MiB).",
                [](const G& g) { return g.fb_free_mib; });
  device_family(e, s, dl, "DCGM_FI_DEV_FB_USED", "gauge", "Frame buffer memory used (in MiB).",
                [](const G& g) { return g.fb_used_mib; });
  device_family(e, s, dl, "DCGM_FI_DEV_FB_RESERVED", "gauge",
                "Frame buffer memory reserved (in MiB).",
                [](const G& g) { return g.fb_reserved_mib; });
  device_family(e, s, dl, "DCGM_FI_DEV_FB_TOTAL", "gauge", "Frame buffer memory total (in MiB).",
                [](const G& g) { return g.fb_total_mib; });
  device_family(e, s, dl, "DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).",
                [](const G& g) { return g.sm_clock_mhz; });
  device_family(e, s, dl, "DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz).",
                [](const G& g) { return g.mem_clock_mhz; });
  device_family(e, s, dl, "DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).",
                [](const G& g) { return g.gpu_temp_c; });
  device_family(e, s, dl, "DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C).",
                [](const G& g) { return g.memory_temp_c; });
  device_family(e, s, dl, "DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).",
                [](const G& g) { return g.power_w; });
  device_family(e, s, dl, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter",
                "Total energy consumption since boot (in mJ).",
                [](const G& g) { return g.energy_mj; });
  device_family(e, s, dl, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter",
                "Total number of PCIe retries.", [](const G& g) { return g.pcie_replays; });
  device_family(e, s, dl, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter",
                "Total number of single-bit volatile ECC errors.",
                [](const G& g) { return g.ecc_sbe_volatile; });
  device_family(e, s, dl, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter",
                "Total number of double-bit volatile ECC errors.",
                [](const G& g) { return g.ecc_dbe_volatile; });
  device_family(e, s, dl, "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter",
                "Number of remapped rows for correctable errors.",
                [](const G& g) { return g.remapped_correctable; });
  device_family(e, s, dl, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter",
                "Number of remapped rows for uncorrectable errors.",
                [](const G& g) { return g.remapped_uncorrectable; });
  device_family(e, s, dl, "DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge",
                "Whether remapping of rows has failed.",
                [](const G& g) { return g.remap_failure; });
  device_family(e, s, dl, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "gauge",
                "Current clock throttle reasons (NVML's bit mask).",
                [](const G& g) { return g.clock_event_reasons; });
  if (!s.gpus.empty()) {
    e.family("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered.");
    for (size_t i = 0; i < s.gpus.size(); ++i) {
      e.sample(dl[i], i < s.health.size() ? static_cast<double>(s.health[i].last_xid) : 0);
    }
    e.family("jizhan_gpu_xid_errors_total", "counter",
             "XID errors the agent has seen on the GPU since it started.");
    for (size_t i = 0; i < s.gpus.size(); ++i) {
      e.sample(gl[i], i < s.health.size() ? static_cast<double>(s.health[i].xid_count) : 0);
    }
    e.family("jizhan_gpu_healthy", "gauge",
             "1 while the GPU is in service; 0 after a fatal XID (48, 79) or when it is lost.");
    for (size_t i = 0; i < s.gpus.size(); ++i) {
      e.sample(gl[i], i >= s.health.size() || s.health[i].healthy ? 1 : 0);
    }
  }

  // Per job and GPU: the processes of a run summed; the rest of each GPU's processes are
  // use outside the platform.
  struct Use {
    int64_t memory_mib = 0, processes = 0;
    double sm = 0;
    bool has_sm = false;
  };
  std::map<std::pair<std::string, unsigned>, Use> by_job;
  std::map<unsigned, Use> outside;
  for (const auto& p : s.processes) {
    Use& u = p.run.empty() ? outside[p.reading.gpu] : by_job[{p.run, p.reading.gpu}];
    u.memory_mib += p.reading.used_mib;
    ++u.processes;
    if (p.reading.sm_util) {
      u.sm += *p.reading.sm_util;
      u.has_sm = true;
    }
  }
  std::map<std::string, const JobReading*> job_by_run;
  for (const auto& j : s.jobs) job_by_run[j.run] = &j;
  auto job_labels = [&](const std::string& run) {
    std::string l;
    auto it = job_by_run.find(run);
    static const std::map<std::string, std::string> kNone;
    const auto& labels = it == job_by_run.end() ? kNone : it->second->labels;
    for (const char* k : {"job", "project", "workspace", "user"}) {
      auto v = labels.find(k);
      append_label(l, k, v == labels.end() ? "" : v->second);
    }
    append_label(l, "run", run);
    return l;
  };
  std::vector<std::pair<std::string, const Use*>> job_gpu;
  for (const auto& [key, use] : by_job) {
    auto idx = by_index.find(key.second);
    std::string l = idx == by_index.end() ? "" : gl[idx->second];
    l += ',';
    l += job_labels(key.first);
    job_gpu.emplace_back(std::move(l), &use);
  }
  if (!job_gpu.empty()) {
    e.family("jizhan_job_gpu_memory_used_mib", "gauge",
             "GPU memory the job's processes hold on the GPU (in MiB).");
    for (const auto& [l, u] : job_gpu) e.sample(l, static_cast<double>(u->memory_mib));
    e.family("jizhan_job_gpu_util", "gauge",
             "SM utilization of the job's processes on the GPU (in %, NVML process samples).");
    for (const auto& [l, u] : job_gpu) {
      if (u->has_sm) e.sample(l, u->sm);
    }
    e.family("jizhan_job_gpu_processes", "gauge", "The job's processes on the GPU.");
    for (const auto& [l, u] : job_gpu) e.sample(l, static_cast<double>(u->processes));
    bool limits = false;
    for (const auto& [key, use] : by_job) {
      auto it = job_by_run.find(key.first);
      if (it != job_by_run.end() && it->second->labels.count("gpu_memory_limit_mib")) limits = true;
    }
    if (limits) {
      e.family("jizhan_job_gpu_memory_limit_mib", "gauge",
               "The GPU memory a job on a GPU share may use (its vGPU limit, in MiB).");
      size_t i = 0;
      for (const auto& [key, use] : by_job) {
        auto it = job_by_run.find(key.first);
        if (it != job_by_run.end()) {
          auto lim = it->second->labels.find("gpu_memory_limit_mib");
          if (lim != it->second->labels.end()) {
            e.sample(job_gpu[i].first, std::strtod(lim->second.c_str(), nullptr));
          }
        }
        ++i;
      }
    }
  }
  if (!outside.empty()) {
    e.family("jizhan_gpu_unattributed_memory_used_mib", "gauge",
             "GPU memory held by processes of no job (in MiB).");
    for (const auto& [gpu, u] : outside) {
      auto idx = by_index.find(gpu);
      if (idx != by_index.end()) e.sample(gl[idx->second], static_cast<double>(u.memory_mib));
    }
  }

  std::string host;
  append_label(host, "Hostname", s.hostname);
  if (!s.jobs.empty()) {
    std::vector<std::string> jl;
    for (const auto& j : s.jobs) jl.push_back(host + "," + job_labels(j.run));
    e.family("jizhan_job_cpu_seconds_total", "counter", "CPU time the job's processes used.");
    for (size_t i = 0; i < s.jobs.size(); ++i) e.sample(jl[i], s.jobs[i].cpu_seconds);
    e.family("jizhan_job_memory_bytes", "gauge", "Memory the job's control group holds.");
    for (size_t i = 0; i < s.jobs.size(); ++i) {
      e.sample(jl[i], static_cast<double>(s.jobs[i].memory_bytes));
    }
    e.family("jizhan_job_memory_limit_bytes", "gauge", "The job's memory limit.");
    for (size_t i = 0; i < s.jobs.size(); ++i) {
      if (s.jobs[i].memory_limit_bytes) {
        e.sample(jl[i], static_cast<double>(*s.jobs[i].memory_limit_bytes));
      }
    }
  }

  const NodeReading& n = s.node;
  e.family("jizhan_node_cpus", "gauge", "CPUs online.");
  e.sample(host, static_cast<double>(n.cpus));
  if (!n.cpu_seconds.empty()) {
    e.family("jizhan_node_cpu_seconds_total", "counter", "CPU time of all CPUs by mode.");
    for (const auto& [mode, v] : n.cpu_seconds) {
      std::string l = host;
      append_label(l, "mode", mode);
      e.sample(l, v);
    }
  }
  e.family("jizhan_node_memory_total_bytes", "gauge", "Memory of the node.");
  e.sample(host, static_cast<double>(n.memory_total_bytes));
  e.family("jizhan_node_memory_available_bytes", "gauge", "Memory available to new work.");
  e.sample(host, static_cast<double>(n.memory_available_bytes));
  e.family("jizhan_node_load1", "gauge", "Load average over one minute.");
  e.sample(host, n.load1);
  if (!n.filesystems.empty()) {
    e.family("jizhan_node_filesystem_size_bytes", "gauge", "Size of the file system.");
    for (const auto& f : n.filesystems) {
      std::string l = host;
      append_label(l, "path", f.path);
      e.sample(l, static_cast<double>(f.size_bytes));
    }
    e.family("jizhan_node_filesystem_avail_bytes", "gauge",
             "Bytes of the file system available to unprivileged users.");
    for (const auto& f : n.filesystems) {
      std::string l = host;
      append_label(l, "path", f.path);
      e.sample(l, static_cast<double>(f.avail_bytes));
    }
  }
  if (!n.networks.empty()) {
    e.family("jizhan_node_network_receive_bytes_total", "counter", "Bytes received.");
    for (const auto& d : n.networks) {
      std::string l = host;
      append_label(l, "device", d.device);
      e.sample(l, static_cast<double>(d.receive_bytes));
    }
    e.family("jizhan_node_network_transmit_bytes_total", "counter", "Bytes sent.");
    for (const auto& d : n.networks) {
      std::string l = host;
      append_label(l, "device", d.device);
      e.sample(l, static_cast<double>(d.transmit_bytes));
    }
  }
  e.family("jizhan_node_gpus", "gauge", "GPUs NVML reports on the node.");
  e.sample(host, static_cast<double>(s.gpus.size()));
  e.family("jizhan_agent_nvml_up", "gauge", "1 when NVML loaded and initialised.");
  e.sample(host, s.nvml == "ok" ? 1 : 0);
  e.family("jizhan_agent_samples_total", "counter", "Samples taken since the agent started.");
  e.sample(host, static_cast<double>(s.samples));
  e.family("jizhan_agent_sample_duration_seconds", "gauge", "How long the last sample took.");
  e.sample(host, s.sample_seconds);
  if (!s.nvml_errors.empty()) {
    e.family("jizhan_agent_nvml_errors_total", "counter", "NVML calls that failed, by function.");
    for (const auto& [call, count] : s.nvml_errors) {
      std::string l = host;
      append_label(l, "call", call);
      e.sample(l, static_cast<double>(count));
    }
  }
  return e.take();
}

nlohmann::json to_json(const Snapshot& s) {
  using nlohmann::json;
  auto opt = [](json& o, const char* k, const auto& v) {
    if (v) o[k] = *v;
  };
  json gpus = json::array();
  for (size_t i = 0; i < s.gpus.size(); ++i) {
    const GpuReading& g = s.gpus[i];
    json o{{"index", g.index},
           {"uuid", g.uuid},
           {"name", g.name},
           {"pci_bus_id", g.pci_bus_id},
           {"lost", g.lost}};
    opt(o, "gpu_util", g.gpu_util);
    opt(o, "mem_copy_util", g.mem_copy_util);
    opt(o, "enc_util", g.enc_util);
    opt(o, "dec_util", g.dec_util);
    opt(o, "fb_total_mib", g.fb_total_mib);
    opt(o, "fb_used_mib", g.fb_used_mib);
    opt(o, "fb_free_mib", g.fb_free_mib);
    opt(o, "fb_reserved_mib", g.fb_reserved_mib);
    opt(o, "sm_clock_mhz", g.sm_clock_mhz);
    opt(o, "mem_clock_mhz", g.mem_clock_mhz);
    opt(o, "gpu_temp_c", g.gpu_temp_c);
    opt(o, "memory_temp_c", g.memory_temp_c);
    opt(o, "power_w", g.power_w);
    opt(o, "energy_mj", g.energy_mj);
    opt(o, "pcie_replays", g.pcie_replays);
    opt(o, "ecc_sbe_volatile", g.ecc_sbe_volatile);
    opt(o, "ecc_dbe_volatile", g.ecc_dbe_volatile);
    opt(o, "remapped_correctable", g.remapped_correctable);
    opt(o, "remapped_uncorrectable", g.remapped_uncorrectable);
    opt(o, "clock_event_reasons", g.clock_event_reasons);
    if (i < s.health.size()) {
      const GpuHealth& h = s.health[i];
      o["healthy"] = h.healthy;
      o["unhealthy_reason"] = h.reason;
      o["last_xid"] = h.last_xid;
      o["xid_count"] = h.xid_count;
    }
    gpus.push_back(std::move(o));
  }
  json procs = json::array();
  for (const auto& p : s.processes) {
    json o{{"gpu", p.reading.gpu},
           {"pid", p.reading.pid},
           {"used_mib", p.reading.used_mib},
           {"run", p.run}};
    opt(o, "sm_util", p.reading.sm_util);
    opt(o, "mem_util", p.reading.mem_util);
    procs.push_back(std::move(o));
  }
  json jobs = json::array();
  for (const auto& j : s.jobs) {
    json o{{"run", j.run},
           {"cpu_seconds", j.cpu_seconds},
           {"memory_bytes", j.memory_bytes},
           {"labels", j.labels}};
    opt(o, "memory_limit_bytes", j.memory_limit_bytes);
    jobs.push_back(std::move(o));
  }
  json fs = json::array(), net = json::array();
  for (const auto& f : s.node.filesystems) {
    fs.push_back({{"path", f.path}, {"size_bytes", f.size_bytes}, {"avail_bytes", f.avail_bytes}});
  }
  for (const auto& d : s.node.networks) {
    net.push_back({{"device", d.device},
                   {"receive_bytes", d.receive_bytes},
                   {"transmit_bytes", d.transmit_bytes}});
  }
  return {{"at_ms", s.at_ms},
          {"hostname", s.hostname},
          {"driver_version", s.driver_version},
          {"nvml", s.nvml},
          {"gpus", std::move(gpus)},
          {"processes", std::move(procs)},
          {"jobs", std::move(jobs)},
          {"node",
           {{"cpus", s.node.cpus},
            {"cpu_seconds", s.node.cpu_seconds},
            {"memory_total_bytes", s.node.memory_total_bytes},
            {"memory_available_bytes", s.node.memory_available_bytes},
            {"load1", s.node.load1},
            {"filesystems", std::move(fs)},
            {"networks", std::move(net)}}},
          {"nvml_errors", s.nvml_errors},
          {"sample_seconds", s.sample_seconds},
          {"samples", s.samples}};
}

}  // namespace jz::gpu
