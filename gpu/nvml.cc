#include "gpu/nvml.h"

#include <dlfcn.h>

#include <cstring>

namespace jz::gpu {

namespace {

// NVML's return codes, structures and constants that we use, as its documentation
// defines them (the ABI is stable across driver versions for these).
constexpr int kSuccess = 0;
constexpr int kNotSupported = 3;
constexpr int kNotFound = 6;
constexpr int kInsufficientSize = 7;
constexpr int kTimeout = 10;
constexpr int kGpuIsLost = 15;
constexpr int kClockSm = 1, kClockMem = 2;
constexpr int kTemperatureGpu = 0;
constexpr unsigned kFieldMemoryTemp = 82;  // NVML_FI_DEV_MEMORY_TEMP
constexpr unsigned long long kEventXid = 0x8;
constexpr int kEccCorrected = 0, kEccUncorrected = 1, kEccVolatile = 0;

using Dev = void*;
struct Memory {
  unsigned long long total, free, used;
};
struct MemoryV2 {
  unsigned version;
  unsigned long long total, reserved, free, used;
};
struct Utilization {
  unsigned gpu, memory;
};
struct PciInfo {
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
};
struct ProcessInfo {
  unsigned pid;
  unsigned long long used_gpu_memory;
  unsigned gpu_instance_id, compute_instance_id;
};
struct ProcessSample {
  unsigned pid;
  unsigned long long time_stamp;
  unsigned sm_util, mem_util, enc_util, dec_util;
};
struct EventData {
  Dev device;
  unsigned long long event_type, event_data;
  unsigned gpu_instance_id, compute_instance_id;
};
struct FieldValue {
  unsigned field_id, scope_id;
  long long timestamp, latency_usec;
  int value_type, nvml_return;
  union {
    double d;
    unsigned ui;
    unsigned long ul;
    unsigned long long ull;
    long long sll;
    int si;
  } value;
};
constexpr unsigned kMemoryV2Version = sizeof(MemoryV2) | (2u << 24);
// NVML's "not available" for a process's memory (e.g. without permission).
constexpr unsigned long long kValueNotAvailable = ~0ull;

double field_number(const FieldValue& v) {
  switch (v.value_type) {
    case 0:
      return v.value.d;
    case 1:
      return v.value.ui;
    case 2:
      return static_cast<double>(v.value.ul);
    case 3:
      return static_cast<double>(v.value.ull);
    case 4:
      return static_cast<double>(v.value.sll);
    default:
      return v.value.si;
  }
}

}  // namespace

struct Nvml::Api {
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*driver_version)(char*, unsigned) = nullptr;
  int (*count)(unsigned*) = nullptr;
  int (*handle)(unsigned, Dev*) = nullptr;
  int (*uuid)(Dev, char*, unsigned) = nullptr;
  int (*name)(Dev, char*, unsigned) = nullptr;
  int (*pci)(Dev, PciInfo*) = nullptr;
  int (*minor)(Dev, unsigned*) = nullptr;
  int (*utilization)(Dev, Utilization*) = nullptr;
  int (*encoder)(Dev, unsigned*, unsigned*) = nullptr;
  int (*decoder)(Dev, unsigned*, unsigned*) = nullptr;
  int (*memory_v2)(Dev, MemoryV2*) = nullptr;
  int (*memory)(Dev, Memory*) = nullptr;
  int (*clock)(Dev, int, unsigned*) = nullptr;
  int (*temperature)(Dev, int, unsigned*) = nullptr;
  int (*fields)(Dev, int, FieldValue*) = nullptr;
  int (*power)(Dev, unsigned*) = nullptr;
  int (*energy)(Dev, unsigned long long*) = nullptr;
  int (*replays)(Dev, unsigned*) = nullptr;
  int (*ecc)(Dev, int, int, unsigned long long*) = nullptr;
  int (*remapped)(Dev, unsigned*, unsigned*, unsigned*, unsigned*) = nullptr;
  int (*reasons)(Dev, unsigned long long*) = nullptr;
  int (*compute_procs)(Dev, unsigned*, ProcessInfo*) = nullptr;
  int (*graphics_procs)(Dev, unsigned*, ProcessInfo*) = nullptr;
  int (*proc_util)(Dev, ProcessSample*, unsigned*, unsigned long long) = nullptr;
  int (*event_set_create)(void**) = nullptr;
  int (*register_events)(Dev, unsigned long long, void*) = nullptr;
  int (*event_wait)(void*, EventData*, unsigned) = nullptr;
  int (*event_set_free)(void*) = nullptr;
};

namespace {

template <typename F>
void bind(void* lib, F& fn, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (void* p = ::dlsym(lib, n)) {
      fn = reinterpret_cast<F>(p);
      return;
    }
  }
}

}  // namespace

std::unique_ptr<Nvml> Nvml::open(const std::string& library, std::string* why) {
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    if (why) *why = "cannot load " + library + ": " + ::dlerror();
    return nullptr;
  }
  std::unique_ptr<Nvml> n(new Nvml());
  n->handle_ = lib;
  n->api_ = std::make_unique<Api>();
  Api& a = *n->api_;
  bind(lib, a.init, {"nvmlInit_v2", "nvmlInit"});
  bind(lib, a.shutdown, {"nvmlShutdown"});
  bind(lib, a.driver_version, {"nvmlSystemGetDriverVersion"});
  bind(lib, a.count, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  bind(lib, a.handle, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
  bind(lib, a.uuid, {"nvmlDeviceGetUUID"});
  bind(lib, a.name, {"nvmlDeviceGetName"});
  bind(lib, a.pci, {"nvmlDeviceGetPciInfo_v3"});
  bind(lib, a.minor, {"nvmlDeviceGetMinorNumber"});
  bind(lib, a.utilization, {"nvmlDeviceGetUtilizationRates"});
  bind(lib, a.encoder, {"nvmlDeviceGetEncoderUtilization"});
  bind(lib, a.decoder, {"nvmlDeviceGetDecoderUtilization"});
  bind(lib, a.memory_v2, {"nvmlDeviceGetMemoryInfo_v2"});
  bind(lib, a.memory, {"nvmlDeviceGetMemoryInfo"});
  bind(lib, a.clock, {"nvmlDeviceGetClockInfo"});
  bind(lib, a.temperature, {"nvmlDeviceGetTemperature"});
  bind(lib, a.fields, {"nvmlDeviceGetFieldValues"});
  bind(lib, a.power, {"nvmlDeviceGetPowerUsage"});
  bind(lib, a.energy, {"nvmlDeviceGetTotalEnergyConsumption"});
  bind(lib, a.replays, {"nvmlDeviceGetPcieReplayCounter"});
  bind(lib, a.ecc, {"nvmlDeviceGetTotalEccErrors"});
  bind(lib, a.remapped, {"nvmlDeviceGetRemappedRows"});
  bind(lib, a.reasons,
       {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"});
  bind(lib, a.compute_procs,
       {"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2"});
  bind(lib, a.graphics_procs,
       {"nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2"});
  bind(lib, a.proc_util, {"nvmlDeviceGetProcessUtilization"});
  bind(lib, a.event_set_create, {"nvmlEventSetCreate"});
  bind(lib, a.register_events, {"nvmlDeviceRegisterEvents"});
  bind(lib, a.event_wait, {"nvmlEventSetWait_v2", "nvmlEventSetWait"});
  bind(lib, a.event_set_free, {"nvmlEventSetFree"});
  if (!a.init || !a.count || !a.handle) {
    if (why) *why = library + " lacks nvmlInit/nvmlDeviceGetCount/nvmlDeviceGetHandleByIndex";
    return nullptr;  // the destructor closes the library; shutdown is not called
  }
  if (const int rc = a.init(); rc != kSuccess) {
    if (why) *why = "nvmlInit failed with NVML error " + std::to_string(rc);
    a.shutdown = nullptr;
    return nullptr;
  }
  char version[96] = {0};
  if (a.driver_version && a.driver_version(version, sizeof version) == kSuccess) {
    n->driver_version_ = version;
  }
  unsigned count = 0;
  if (a.count(&count) != kSuccess) count = 0;
  n->devices_.assign(count, nullptr);
  n->last_sample_us_.assign(count, 0);
  for (unsigned i = 0; i < count; ++i) {
    Dev d = nullptr;
    if (n->ok(a.handle(i, &d), "nvmlDeviceGetHandleByIndex")) n->devices_[i] = d;
  }
  if (a.event_set_create && a.register_events && a.event_wait &&
      a.event_set_create(&n->events_) == kSuccess) {
    for (Dev d : n->devices_) {
      if (d) n->ok(a.register_events(d, kEventXid, n->events_), "nvmlDeviceRegisterEvents");
    }
  }
  return n;
}

Nvml::~Nvml() {
  if (api_) {
    if (events_ && api_->event_set_free) api_->event_set_free(events_);
    if (api_->shutdown) api_->shutdown();
  }
  if (handle_) ::dlclose(handle_);
}

bool Nvml::ok(int rc, const char* call, GpuReading* r) {
  if (rc == kSuccess) return true;
  if (rc == kGpuIsLost && r) r->lost = true;
  if (rc != kNotSupported) ++errors_[call];
  return false;
}

GpuReading Nvml::read(unsigned index) {
  GpuReading r;
  r.index = index;
  if (index >= devices_.size()) return r;
  Dev d = devices_[index];
  if (!d) {
    r.lost = true;
    return r;
  }
  const Api& a = *api_;
  char buf[96] = {0};
  if (a.uuid && ok(a.uuid(d, buf, sizeof buf), "nvmlDeviceGetUUID", &r)) r.uuid = buf;
  std::memset(buf, 0, sizeof buf);
  if (a.name && ok(a.name(d, buf, sizeof buf), "nvmlDeviceGetName", &r)) r.name = buf;
  PciInfo pci{};
  if (a.pci && ok(a.pci(d, &pci), "nvmlDeviceGetPciInfo", &r)) {
    pci.bus_id[sizeof pci.bus_id - 1] = '\0';
    r.pci_bus_id = pci.bus_id;
  }
  unsigned u = 0, period = 0;
  if (a.minor && ok(a.minor(d, &u), "nvmlDeviceGetMinorNumber", &r)) r.minor = u;
  Utilization util{};
  if (a.utilization && ok(a.utilization(d, &util), "nvmlDeviceGetUtilizationRates", &r)) {
    r.gpu_util = util.gpu;
    r.mem_copy_util = util.memory;
  }
  if (a.encoder && ok(a.encoder(d, &u, &period), "nvmlDeviceGetEncoderUtilization", &r)) {
    r.enc_util = u;
  }
  if (a.decoder && ok(a.decoder(d, &u, &period), "nvmlDeviceGetDecoderUtilization", &r)) {
    r.dec_util = u;
  }
  MemoryV2 m2{};
  m2.version = kMemoryV2Version;
  Memory m{};
  if (a.memory_v2 && a.memory_v2(d, &m2) == kSuccess) {
    r.fb_total_mib = static_cast<int64_t>(m2.total >> 20);
    r.fb_used_mib = static_cast<int64_t>(m2.used >> 20);
    r.fb_free_mib = static_cast<int64_t>(m2.free >> 20);
    r.fb_reserved_mib = static_cast<int64_t>(m2.reserved >> 20);
  } else if (a.memory && ok(a.memory(d, &m), "nvmlDeviceGetMemoryInfo", &r)) {
    r.fb_total_mib = static_cast<int64_t>(m.total >> 20);
    r.fb_used_mib = static_cast<int64_t>(m.used >> 20);
    r.fb_free_mib = static_cast<int64_t>(m.free >> 20);
  }
  if (a.clock && ok(a.clock(d, kClockSm, &u), "nvmlDeviceGetClockInfo", &r)) r.sm_clock_mhz = u;
  if (a.clock && ok(a.clock(d, kClockMem, &u), "nvmlDeviceGetClockInfo", &r)) r.mem_clock_mhz = u;
  if (a.temperature && ok(a.temperature(d, kTemperatureGpu, &u), "nvmlDeviceGetTemperature", &r)) {
    r.gpu_temp_c = u;
  }
  FieldValue f{};
  f.field_id = kFieldMemoryTemp;
  if (a.fields && ok(a.fields(d, 1, &f), "nvmlDeviceGetFieldValues", &r) &&
      f.nvml_return == kSuccess) {
    r.memory_temp_c = field_number(f);
  }
  if (a.power && ok(a.power(d, &u), "nvmlDeviceGetPowerUsage", &r)) r.power_w = u / 1000.0;
  unsigned long long ull = 0;
  if (a.energy && ok(a.energy(d, &ull), "nvmlDeviceGetTotalEnergyConsumption", &r)) {
    r.energy_mj = static_cast<double>(ull);
  }
  if (a.replays && ok(a.replays(d, &u), "nvmlDeviceGetPcieReplayCounter", &r)) r.pcie_replays = u;
  if (a.ecc && ok(a.ecc(d, kEccCorrected, kEccVolatile, &ull), "nvmlDeviceGetTotalEccErrors", &r)) {
    r.ecc_sbe_volatile = static_cast<int64_t>(ull);
  }
  if (a.ecc &&
      ok(a.ecc(d, kEccUncorrected, kEccVolatile, &ull), "nvmlDeviceGetTotalEccErrors", &r)) {
    r.ecc_dbe_volatile = static_cast<int64_t>(ull);
  }
  unsigned corr = 0, unc = 0, pending = 0, failed = 0;
  if (a.remapped &&
      ok(a.remapped(d, &corr, &unc, &pending, &failed), "nvmlDeviceGetRemappedRows", &r)) {
    r.remapped_correctable = corr;
    r.remapped_uncorrectable = unc;
    r.remap_pending = pending;
    r.remap_failure = failed;
  }
  if (a.reasons && ok(a.reasons(d, &ull), "nvmlDeviceGetCurrentClocksEventReasons", &r)) {
    r.clock_event_reasons = ull;
  }
  return r;
}

std::vector<ProcessReading> Nvml::processes(unsigned index) {
  std::vector<ProcessReading> out;
  if (index >= devices_.size() || !devices_[index]) return out;
  Dev d = devices_[index];
  const Api& a = *api_;
  std::map<int64_t, ProcessReading> by_pid;
  for (auto [fn, call] : {std::pair{a.compute_procs, "nvmlDeviceGetComputeRunningProcesses"},
                          std::pair{a.graphics_procs, "nvmlDeviceGetGraphicsRunningProcesses"}}) {
    if (!fn) continue;
    // The list can grow between the two calls: retry with room to spare.
    std::vector<ProcessInfo> infos(16);
    for (int attempt = 0; attempt < 4; ++attempt) {
      unsigned n = static_cast<unsigned>(infos.size());
      const int rc = fn(d, &n, infos.data());
      if (rc == kInsufficientSize) {
        infos.resize(std::max<size_t>(n + 8, infos.size() * 2));
        continue;
      }
      if (!ok(rc, call)) break;
      for (unsigned i = 0; i < n && i < infos.size(); ++i) {
        ProcessReading& p = by_pid[infos[i].pid];
        p.gpu = index;
        p.pid = infos[i].pid;
        if (infos[i].used_gpu_memory != kValueNotAvailable) {
          p.used_mib += static_cast<int64_t>(infos[i].used_gpu_memory >> 20);
        }
      }
      break;
    }
  }
  if (a.proc_util) {
    unsigned n = 0;
    int rc = a.proc_util(d, nullptr, &n, last_sample_us_[index]);
    if (rc == kInsufficientSize || (rc == kSuccess && n > 0)) {
      std::vector<ProcessSample> samples(n + 8);
      n = static_cast<unsigned>(samples.size());
      rc = a.proc_util(d, samples.data(), &n, last_sample_us_[index]);
      if (ok(rc, "nvmlDeviceGetProcessUtilization")) {
        // Several samples per process: the latest counts.
        std::map<int64_t, const ProcessSample*> latest;
        for (unsigned i = 0; i < n && i < samples.size(); ++i) {
          const ProcessSample& s = samples[i];
          auto& l = latest[s.pid];
          if (!l || s.time_stamp >= l->time_stamp) l = &s;
          last_sample_us_[index] = std::max(last_sample_us_[index], s.time_stamp);
        }
        for (const auto& [pid, s] : latest) {
          ProcessReading& p = by_pid[pid];
          p.gpu = index;
          p.pid = pid;
          p.sm_util = s->sm_util;
          p.mem_util = s->mem_util;
          p.enc_util = s->enc_util;
          p.dec_util = s->dec_util;
        }
      }
    } else if (rc != kNotFound) {
      ok(rc, "nvmlDeviceGetProcessUtilization");
    }
  }
  for (auto& [pid, p] : by_pid) out.push_back(p);
  return out;
}

std::vector<XidEvent> Nvml::xid_events(unsigned timeout_ms) {
  std::vector<XidEvent> out;
  if (!events_) return out;
  for (unsigned wait = timeout_ms;; wait = 0) {
    EventData e{};
    const int rc = api_->event_wait(events_, &e, wait);
    if (rc == kTimeout) break;
    if (!ok(rc, "nvmlEventSetWait")) break;
    if (!(e.event_type & kEventXid)) continue;
    XidEvent x;
    x.xid = static_cast<int64_t>(e.event_data);
    for (unsigned i = 0; i < devices_.size(); ++i) {
      if (devices_[i] == e.device) x.gpu = i;
    }
    out.push_back(x);
    if (out.size() >= 1024) break;
  }
  return out;
}

}  // namespace jz::gpu
