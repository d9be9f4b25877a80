// What this machine offers to jobs: CPUs, memory, GPUs.
#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/files.h"
#include "exec/executor.h"

namespace jz::exec {

namespace {

int64_t memory_mib() {
  int64_t total_kib = 0;
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t value;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "MemTotal:") {
      total_kib = value;
      break;
    }
  }
  int64_t mib = total_kib / 1024;
  // A container's limit, when lower (v2, then v1).
  for (const char* p :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    auto r = read_file(p);
    if (!r.ok()) continue;
    const int64_t bytes = std::strtoll(r->c_str(), nullptr, 10);
    if (bytes > 0 && (bytes >> 20) < mib) mib = bytes >> 20;
  }
  return mib;
}

// NVML through dlopen, so the binary runs where no NVIDIA driver is installed.
std::vector<GpuInfo> nvml_gpus(const std::string& library) {
  void* h = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return {};
  using Device = void*;
  struct Memory {
    unsigned long long total, free, used;
  };
  auto init = reinterpret_cast<int (*)()>(::dlsym(h, "nvmlInit_v2"));
  auto count = reinterpret_cast<int (*)(unsigned*)>(::dlsym(h, "nvmlDeviceGetCount_v2"));
  auto handle =
      reinterpret_cast<int (*)(unsigned, Device*)>(::dlsym(h, "nvmlDeviceGetHandleByIndex_v2"));
  auto uuid = reinterpret_cast<int (*)(Device, char*, unsigned)>(::dlsym(h, "nvmlDeviceGetUUID"));
  auto name = reinterpret_cast<int (*)(Device, char*, unsigned)>(::dlsym(h, "nvmlDeviceGetName"));
  auto memory = reinterpret_cast<int (*)(Device, Memory*)>(::dlsym(h, "nvmlDeviceGetMemoryInfo"));
  auto shutdown = reinterpret_cast<int (*)()>(::dlsym(h, "nvmlShutdown"));
  std::vector<GpuInfo> out;
  unsigned n = 0;
  if (init && count && handle && uuid && memory && init() == 0 && count(&n) == 0) {
    for (unsigned i = 0; i < n; ++i) {
      Device d = nullptr;
      if (handle(i, &d) != 0) continue;
      GpuInfo g;
      char buf[96] = {0};
      if (uuid(d, buf, sizeof buf) == 0) g.uuid = buf;
      if (name && name(d, buf, sizeof buf) == 0) g.name = buf;
      Memory m{};
      if (memory(d, &m) == 0) g.memory_mib = static_cast<int64_t>(m.total >> 20);
      out.push_back(g);
    }
    if (shutdown) shutdown();
  }
  ::dlclose(h);
  return out;
}

}  // namespace

MachineInfo discover_machine(int virtual_gpus, int64_t virtual_gpu_memory_mib,
                             const std::string& nvml_library) {
  MachineInfo m;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  m.hostname = host;
  cpu_set_t set;
  int cpus = 0;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  m.cpu_milli = int64_t{cpus} * 1000;
  m.memory_mib = memory_mib();
  if (virtual_gpus > 0) {
    for (int i = 0; i < virtual_gpus; ++i) {
      GpuInfo g;
      g.uuid = "GPU-virtual-" + std::to_string(i);
      g.name = "virtual";
      g.memory_mib = virtual_gpu_memory_mib;
      g.is_virtual = true;
      m.gpus.push_back(g);
    }
    m.gpu_source = "virtual";
    return m;
  }
  m.gpus = nvml_gpus(nvml_library);
  m.gpu_source = m.gpus.empty() ? "none" : "nvml";
  return m;
}

}  // namespace jz::exec
