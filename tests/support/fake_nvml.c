/* A test double of NVML at its C ABI (libnvidia-ml.so.1), for machines without NVIDIA
 * GPUs: FAKE_NVML_GPUS devices (default 2), each FAKE_NVML_MEMORY_MIB of memory (default
 * 81559), named "NVIDIA H100 80GB HBM3", with UUIDs GPU-fake-0000-<index>. Only the calls
 * exec/machine.cc makes. Loaded through JIZHAN_NVML_LIBRARY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

static unsigned count(void) {
  const char* n = getenv("FAKE_NVML_GPUS");
  return n ? (unsigned)atoi(n) : 2u;
}

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned* n) {
  *n = count();
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** device) {
  if (i >= count()) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (void*)(size_t)(i + 1);
  return 0;
}
int nvmlDeviceGetUUID(void* device, char* out, unsigned len) {
  snprintf(out, len, "GPU-fake-0000-%u", (unsigned)((size_t)device - 1));
  return 0;
}
int nvmlDeviceGetName(void* device, char* out, unsigned len) {
  (void)device;
  snprintf(out, len, "NVIDIA H100 80GB HBM3");
  return 0;
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* m) {
  (void)device;
  const char* mib = getenv("FAKE_NVML_MEMORY_MIB");
  m->total = (unsigned long long)(mib ? atoll(mib) : 81559) << 20;
  m->free = m->total;
  m->used = 0;
  return 0;
}
