/* NVML as a limited job sees it (nvidia-smi, PyTorch's memory queries, monitoring
 * libraries inside the job): a device the job holds a share of reports the job's limit as
 * its memory and the job's own use, and lists the job's own processes (pids as the job
 * sees them, with what each holds) instead of the host's, which are meaningless in the
 * job's pid namespace and would tell one tenant about another's. Devices are matched to
 * CUDA's by UUID (JZ_VGPU_UUIDS). Calls go on to the NVML the program loaded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "gpu/vgpu/internal.h"

#define EXPORT __attribute__((visibility("default")))

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned int version;
  unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t; /* _v2 and _v3 */
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;
enum { kNvmlSuccess = 0, kNvmlInvalid = 2, kNvmlInsufficientSize = 7 };

static void* g_nvml_handle; /* the handle a program looked NVML's functions up in */

void jz_vgpu_note_nvml_handle(void* handle) {
  if (handle != RTLD_DEFAULT && handle != RTLD_NEXT) {
    __atomic_store_n(&g_nvml_handle, handle, __ATOMIC_RELEASE);
  }
}

/* The program's NVML function: the next definition after us, or the one in the handle
 * it looked ours up in. */
static void* nvml_real(const char* name) {
  void* f = jz_real_dlsym(RTLD_NEXT, name);
  if (!f) {
    void* h = __atomic_load_n(&g_nvml_handle, __ATOMIC_ACQUIRE);
    if (h) f = jz_real_dlsym(h, name);
  }
  return f;
}
#define NVML_REAL(type, name)                                         \
  static type real_##name;                                            \
  type name##_real = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE); \
  if (!name##_real) {                                                 \
    name##_real = (type)nvml_real(#name);                             \
    __atomic_store_n(&real_##name, name##_real, __ATOMIC_RELEASE);    \
  }                                                                   \
  if (!name##_real) return 999 /* NVML_ERROR_UNKNOWN */

/* The CUDA index of an NVML device with a memory limit, or -1. */
static int limited_device(nvmlDevice_t d) {
  jz_vgpu_init();
  const jz_vgpu_config* c = jz_vgpu_cfg();
  typedef nvmlReturn_t (*uuid_fn)(nvmlDevice_t, char*, unsigned int);
  static uuid_fn get_uuid;
  if (!get_uuid) get_uuid = (uuid_fn)nvml_real("nvmlDeviceGetUUID");
  char uuid[96] = "";
  if (!get_uuid || get_uuid(d, uuid, sizeof uuid) != kNvmlSuccess) return -1;
  for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
    if (c->uuids[i][0] && strcmp(c->uuids[i], uuid) == 0) {
      return c->memory_limit[i] ? i : -1;
    }
  }
  return -1;
}

static void job_view(int dev, unsigned long long* total, unsigned long long* free_bytes,
                     unsigned long long* used) {
  const uint64_t limit = jz_vgpu_cfg()->memory_limit[dev];
  const uint64_t mine = jz_vgpu_job_used(dev);
  if (*total > limit) *total = limit;
  *used = mine < *total ? mine : *total;
  const unsigned long long left = *total - *used;
  if (*free_bytes > left) *free_bytes = left;
}

typedef nvmlReturn_t (*memory_fn)(nvmlDevice_t, nvmlMemory_t*);
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t* m) {
  NVML_REAL(memory_fn, nvmlDeviceGetMemoryInfo);
  const nvmlReturn_t r = nvmlDeviceGetMemoryInfo_real(d, m);
  const int dev = r == kNvmlSuccess && m ? limited_device(d) : -1;
  if (dev >= 0) job_view(dev, &m->total, &m->free, &m->used);
  return r;
}
typedef nvmlReturn_t (*memory_v2_fn)(nvmlDevice_t, nvmlMemory_v2_t*);
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t* m) {
  NVML_REAL(memory_v2_fn, nvmlDeviceGetMemoryInfo_v2);
  const nvmlReturn_t r = nvmlDeviceGetMemoryInfo_v2_real(d, m);
  const int dev = r == kNvmlSuccess && m ? limited_device(d) : -1;
  if (dev >= 0) {
    m->reserved = 0;
    job_view(dev, &m->total, &m->free, &m->used);
  }
  return r;
}

/* The job's processes on the device: NVML's answer protocol (too small a buffer: the
 * count needed and NVML_ERROR_INSUFFICIENT_SIZE). */
static nvmlReturn_t job_processes(int dev, unsigned int* count, void* infos, int v1) {
  if (!count) return kNvmlInvalid;
  int32_t pids[JZ_VGPU_MAX_SLOTS];
  uint64_t used[JZ_VGPU_MAX_SLOTS];
  const int n = jz_vgpu_job_processes(dev, pids, used, JZ_VGPU_MAX_SLOTS);
  if (!infos || *count < (unsigned)n) {
    *count = (unsigned)n;
    return n == 0 ? kNvmlSuccess : kNvmlInsufficientSize;
  }
  for (int i = 0; i < n; ++i) {
    if (v1) {
      nvmlProcessInfo_v1_t* p = (nvmlProcessInfo_v1_t*)infos + i;
      p->pid = (unsigned)pids[i];
      p->usedGpuMemory = used[i];
    } else {
      nvmlProcessInfo_t* p = (nvmlProcessInfo_t*)infos + i;
      p->pid = (unsigned)pids[i];
      p->usedGpuMemory = used[i];
      p->gpuInstanceId = p->computeInstanceId = 0xFFFFFFFFu;
    }
  }
  *count = (unsigned)n;
  return kNvmlSuccess;
}

typedef nvmlReturn_t (*procs_fn)(nvmlDevice_t, unsigned int*, void*);
#define PROCESSES(name, v1)                                                    \
  EXPORT nvmlReturn_t name(nvmlDevice_t d, unsigned int* count, void* infos) { \
    NVML_REAL(procs_fn, name);                                                 \
    const int dev = limited_device(d);                                         \
    if (dev < 0) return name##_real(d, count, infos);                          \
    return job_processes(dev, count, infos, v1);                               \
  }
PROCESSES(nvmlDeviceGetComputeRunningProcesses, 1)
PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, 0)
PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, 0)
#undef PROCESSES

static const struct {
  const char* name;
  void* hook;
} kNvmlHooks[] = {
    {"nvmlDeviceGetMemoryInfo", (void*)nvmlDeviceGetMemoryInfo},
    {"nvmlDeviceGetMemoryInfo_v2", (void*)nvmlDeviceGetMemoryInfo_v2},
    {"nvmlDeviceGetComputeRunningProcesses", (void*)nvmlDeviceGetComputeRunningProcesses},
    {"nvmlDeviceGetComputeRunningProcesses_v2", (void*)nvmlDeviceGetComputeRunningProcesses_v2},
    {"nvmlDeviceGetComputeRunningProcesses_v3", (void*)nvmlDeviceGetComputeRunningProcesses_v3},
};

void* jz_vgpu_nvml_hook(const char* name) {
  for (size_t i = 0; i < sizeof kNvmlHooks / sizeof kNvmlHooks[0]; ++i) {
    if (strcmp(kNvmlHooks[i].name, name) == 0) return kNvmlHooks[i].hook;
  }
  return NULL;
}
