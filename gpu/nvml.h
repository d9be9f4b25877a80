// NVML, the NVIDIA driver's management library, loaded with dlopen("libnvidia-ml.so.1")
// and called through our own declarations of the few functions and structures we use, so
// nothing NVIDIA is needed to build and a machine without a driver runs (and sees no GPU).
//
// Every reading is optional: a call a device does not support, or that fails, leaves its
// field empty and counts the error; one device's errors never stop the others. A device
// whose calls answer "GPU is lost" (fallen off the bus) is reported lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jz::gpu {

struct GpuReading {
  unsigned index = 0;
  std::string uuid, name, pci_bus_id;
  std::optional<unsigned> minor;  // /dev/nvidiaN
  // Percent over the driver's last sample period.
  std::optional<double> gpu_util, mem_copy_util, enc_util, dec_util;
  std::optional<int64_t> fb_total_mib, fb_used_mib, fb_free_mib, fb_reserved_mib;
  std::optional<double> sm_clock_mhz, mem_clock_mhz, gpu_temp_c, memory_temp_c, power_w;
  std::optional<double> energy_mj;  // since the driver loaded
  std::optional<int64_t> pcie_replays, ecc_sbe_volatile, ecc_dbe_volatile;
  std::optional<int64_t> remapped_correctable, remapped_uncorrectable, remap_failure, remap_pending;
  std::optional<uint64_t> clock_event_reasons;  // NVML's throttle reason bit mask
  bool lost = false;                            // NVML answered "GPU is lost"
};

// One process's use of one GPU: memory from the running-process lists, utilisation from
// the driver's process samples (absent when the driver kept none for it since the last
// look).
struct ProcessReading {
  unsigned gpu = 0;
  int64_t pid = 0;
  int64_t used_mib = 0;
  std::optional<double> sm_util, mem_util, enc_util, dec_util;
};

struct XidEvent {
  unsigned gpu = 0;
  int64_t xid = 0;
};

class Nvml {
 public:
  // Loads and initialises the library; null with `why` set when it is not there or does
  // not initialise (no driver: the caller reports no GPUs).
  static std::unique_ptr<Nvml> open(const std::string& library, std::string* why);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  unsigned count() const { return static_cast<unsigned>(devices_.size()); }
  std::string driver_version() const { return driver_version_; }
  GpuReading read(unsigned index);
  // Compute and graphics processes on the device with their memory and, where the driver
  // sampled them since the previous call, their utilisation.
  std::vector<ProcessReading> processes(unsigned index);
  // XID critical errors since the last call, waiting up to `timeout_ms` for the first.
  std::vector<XidEvent> xid_events(unsigned timeout_ms);
  // Calls that failed (other than "not supported"), by function name, since open().
  std::map<std::string, int64_t> errors() const { return errors_; }

 private:
  struct Api;
  Nvml() = default;
  bool ok(int rc, const char* call, GpuReading* r = nullptr);

  void* handle_ = nullptr;
  std::unique_ptr<Api> api_;
  std::vector<void*> devices_;  // nvmlDevice_t by index (null: not reachable)
  std::vector<unsigned long long> last_sample_us_;
  void* events_ = nullptr;  // nvmlEventSet_t
  std::string driver_version_;
  std::map<std::string, int64_t> errors_;
};

}  // namespace jz::gpu
