/* A test double of the CUDA driver (libcuda.so.1) at its C ABI, for machines without an
 * NVIDIA GPU: the vGPU library (gpu/vgpu) is tested over it, preloaded as it is on a real
 * driver. Each process sees its own simulated devices:
 *   FAKE_CUDA_DEVICES     how many (default 1)
 *   FAKE_CUDA_MEMORY_MIB  each one's memory (default 16384)
 *   FAKE_CUDA_SMS         each one's multiprocessors (default 132)
 *   FAKE_CUDA_VERSION     the driver's version (default 13000)
 * Memory of every family is counted against the device (allocations past it fail with
 * CUDA_ERROR_OUT_OF_MEMORY). A function named "sleep_<us>" (any module image) is a kernel
 * whose every block "runs" <us> microseconds: a launch takes ceil(blocks / SMs) waves on a
 * timeline per device that streams, events and synchronisation follow in real time, so a
 * test can measure how busy a device was (jz_fake_cuda_busy_ns). cuGetProcAddress picks
 * versions and per-thread variants as the real driver does for the symbols here. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/vgpu/cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))
enum { kMaxDevices = 16, kMaxAllocs = 1 << 16 };

typedef struct {
  int in_use;
  int device;
  uint64_t key, size;
} Alloc;

struct CUctx_st {
  int device;
};
struct CUstream_st {
  int device;
};
struct CUevent_st {
  int device;
  int64_t ts; /* -1: never recorded */
};
struct CUfunc_st {
  int64_t block_ns;
};
struct CUmod_st {
  int unused;
};
struct CUarray_st {
  unsigned long long key;
};
struct CUgraph_st {
  int count;
  CUDA_KERNEL_NODE_PARAMS nodes[64];
};
struct CUgraphExec_st {
  struct CUgraph_st graph;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_devices = -1, g_sms = 132, g_version = 13000;
static uint64_t g_memory = 16384ull << 20;
static struct CUctx_st g_primary[kMaxDevices];
static uint64_t g_used[kMaxDevices];
static int64_t g_busy_until[kMaxDevices], g_busy_total[kMaxDevices];
static uint64_t g_next_address = 0x100000000ull;
static Alloc g_allocs[kMaxAllocs];
static __thread CUcontext t_current;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static void sleep_until(int64_t t) {
  for (int64_t n = now_ns(); n < t; n = now_ns()) {
    struct timespec d = {(t - n) / 1000000000, (t - n) % 1000000000};
    nanosleep(&d, NULL);
  }
}
static int64_t env_int(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  return v && *v ? strtoll(v, NULL, 10) : fallback;
}

EXPORT CUresult cuInit(unsigned int flags) {
  (void)flags;
  pthread_mutex_lock(&g_mu);
  if (g_devices < 0) {
    g_devices = (int)env_int("FAKE_CUDA_DEVICES", 1);
    if (g_devices > kMaxDevices) g_devices = kMaxDevices;
    g_memory = (uint64_t)env_int("FAKE_CUDA_MEMORY_MIB", 16384) << 20;
    g_sms = (int)env_int("FAKE_CUDA_SMS", 132);
    g_version = (int)env_int("FAKE_CUDA_VERSION", 13000);
    for (int i = 0; i < kMaxDevices; ++i) g_primary[i].device = i;
  }
  pthread_mutex_unlock(&g_mu);
  return CUDA_SUCCESS;
}
static int ready(void) { return g_devices >= 0; }
static int valid_device(CUdevice d) { return ready() && d >= 0 && d < g_devices; }
static int current_device(void) { return t_current ? t_current->device : -1; }

EXPORT CUresult cuDriverGetVersion(int* v) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  *v = g_version > 0 ? g_version : (int)env_int("FAKE_CUDA_VERSION", 13000);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetCount(int* n) {
  if (!ready()) return CUDA_ERROR_NOT_INITIALIZED;
  *n = g_devices;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGet(CUdevice* d, int ordinal) {
  if (!valid_device(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  snprintf(name, (size_t)len, "Fake CUDA Device %d", d);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  *v = attr == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ? g_sms : 0;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = g_memory;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceTotalMem(unsigned int* bytes, CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = g_memory > 0xffffffffull ? 0xffffffffu : (unsigned)g_memory;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetUuid_v2(unsigned char uuid[16], CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  memset(uuid, 0, 16);
  uuid[15] = (unsigned char)d;
  return CUDA_SUCCESS;
}

/* Contexts: one primary per device; cuCtxCreate hands out the primary too. */
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  *c = &g_primary[d];
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
  return valid_device(d) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}
EXPORT CUresult cuCtxCreate_v2(CUcontext* c, unsigned int flags, CUdevice d) {
  (void)flags;
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  *c = t_current = &g_primary[d];
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxDestroy_v2(CUcontext c) {
  if (t_current == c) t_current = NULL;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxSetCurrent(CUcontext c) {
  t_current = c;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetCurrent(CUcontext* c) {
  *c = t_current;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxPushCurrent_v2(CUcontext c) { return cuCtxSetCurrent(c); }
EXPORT CUresult cuCtxPopCurrent_v2(CUcontext* c) {
  if (c) *c = t_current;
  t_current = NULL;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetDevice(CUdevice* d) {
  if (!t_current) return CUDA_ERROR_INVALID_CONTEXT;
  *d = t_current->device;
  return CUDA_SUCCESS;
}

/* Memory: a table of what is allocated, by address (or handle), per device. */
static CUresult take(int device, uint64_t size, unsigned long long* key) {
  if (device < 0 || device >= g_devices) return CUDA_ERROR_INVALID_CONTEXT;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_mu);
  CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
  if (g_used[device] + size <= g_memory) {
    for (int i = 0; i < kMaxAllocs; ++i) {
      if (g_allocs[i].in_use) continue;
      g_allocs[i] = (Alloc){1, device, g_next_address, size};
      *key = g_next_address;
      g_next_address += (size + 0xffff) & ~0xffffull;
      g_used[device] += size;
      r = CUDA_SUCCESS;
      break;
    }
  }
  pthread_mutex_unlock(&g_mu);
  return r;
}
static CUresult give(uint64_t key) {
  pthread_mutex_lock(&g_mu);
  CUresult r = CUDA_ERROR_INVALID_VALUE;
  for (int i = 0; i < kMaxAllocs; ++i) {
    if (g_allocs[i].in_use && g_allocs[i].key == key) {
      g_used[g_allocs[i].device] -= g_allocs[i].size;
      g_allocs[i].in_use = 0;
      r = CUDA_SUCCESS;
      break;
    }
  }
  pthread_mutex_unlock(&g_mu);
  return r;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t size) {
  return take(current_device(), size, p);
}
EXPORT CUresult cuMemAlloc(CUdeviceptr_v1* p, unsigned int size) {
  unsigned long long key = 0;
  CUresult r = take(current_device(), size, &key);
  if (r == CUDA_SUCCESS) *p = (CUdeviceptr_v1)key;
  return r;
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) { return give(p); }
EXPORT CUresult cuMemFree(CUdeviceptr_v1 p) { return give(p); }
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* p, size_t* pitch, size_t width, size_t height,
                                   unsigned int elem) {
  (void)elem;
  *pitch = (width + 511) & ~(size_t)511;
  return take(current_device(), *pitch * height, p);
}
EXPORT CUresult cuMemAllocManaged(CUdeviceptr* p, size_t size, unsigned int flags) {
  (void)flags;
  return take(current_device(), size, p);
}
EXPORT CUresult cuMemAllocAsync(CUdeviceptr* p, size_t size, CUstream s) {
  return take(s ? s->device : current_device(), size, p);
}
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* p, size_t size, CUstream s) {
  return cuMemAllocAsync(p, size, s);
}
EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* p, size_t size, CUmemoryPool pool,
                                        CUstream s) {
  (void)pool;
  return cuMemAllocAsync(p, size, s);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* p, size_t size, CUmemoryPool pool,
                                             CUstream s) {
  return cuMemAllocFromPoolAsync(p, size, pool, s);
}
EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  (void)s;
  return give(p);
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) { return cuMemFreeAsync(p, s); }
EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const void* props) {
  (void)props;
  static int one;
  *pool = (CUmemoryPool)&one;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  const int d = current_device();
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  pthread_mutex_lock(&g_mu);
  *total = g_memory;
  *free_bytes = g_memory - g_used[d];
  pthread_mutex_unlock(&g_mu);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemGetInfo(unsigned int* free_bytes, unsigned int* total) {
  size_t f = 0, t = 0;
  CUresult r = cuMemGetInfo_v2(&f, &t);
  if (r == CUDA_SUCCESS) {
    *free_bytes = f > 0xffffffffull ? 0xffffffffu : (unsigned)f;
    *total = t > 0xffffffffull ? 0xffffffffu : (unsigned)t;
  }
  return r;
}

static CUresult new_array(CUarray* a, uint64_t bytes) {
  struct CUarray_st* arr = calloc(1, sizeof *arr);
  CUresult r = take(current_device(), bytes, &arr->key);
  if (r != CUDA_SUCCESS) {
    free(arr);
    return r;
  }
  *a = arr;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuArrayCreate_v2(CUarray* a, const CUDA_ARRAY_DESCRIPTOR* d) {
  return new_array(
      a, d->Width * (d->Height ? d->Height : 1) * jz_cuda_element_bytes(d->Format, d->NumChannels));
}
EXPORT CUresult cuArray3DCreate_v2(CUarray* a, const CUDA_ARRAY3D_DESCRIPTOR* d) {
  return new_array(a, d->Width * (d->Height ? d->Height : 1) * (d->Depth ? d->Depth : 1) *
                          jz_cuda_element_bytes(d->Format, d->NumChannels));
}
EXPORT CUresult cuArrayDestroy(CUarray a) {
  if (!a) return CUDA_ERROR_INVALID_HANDLE;
  CUresult r = give(a->key);
  free(a);
  return r;
}
EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* m, const CUDA_ARRAY3D_DESCRIPTOR* d,
                                       unsigned int levels) {
  uint64_t bytes = 0;
  for (unsigned l = 0; l < (levels ? levels : 1); ++l) {
    uint64_t w = d->Width >> l, h = d->Height >> l, z = d->Depth >> l;
    bytes +=
        (w ? w : 1) * (h ? h : 1) * (z ? z : 1) * jz_cuda_element_bytes(d->Format, d->NumChannels);
  }
  return new_array((CUarray*)m, bytes);
}
EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray m) { return cuArrayDestroy((CUarray)m); }

/* Virtual memory management: physical memory is taken at cuMemCreate. */
EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* h, size_t size,
                            const CUmemAllocationProp* prop, unsigned long long flags) {
  (void)flags;
  if (!prop || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  return take(prop->location.id, size, h);
}
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) { return give(h); }
EXPORT CUresult cuMemAddressReserve(CUdeviceptr* p, size_t size, size_t align, CUdeviceptr addr,
                                    unsigned long long flags) {
  (void)align, (void)addr, (void)flags;
  pthread_mutex_lock(&g_mu);
  *p = g_next_address;
  g_next_address += (size + 0xffff) & ~0xffffull;
  pthread_mutex_unlock(&g_mu);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemAddressFree(CUdeviceptr p, size_t size) {
  (void)p, (void)size;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemMap(CUdeviceptr p, size_t size, size_t offset, CUmemGenericAllocationHandle h,
                         unsigned long long flags) {
  (void)p, (void)size, (void)offset, (void)h, (void)flags;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemUnmap(CUdeviceptr p, size_t size) {
  (void)p, (void)size;
  return CUDA_SUCCESS;
}

/* Streams, events and kernels on a timeline per device. */
static int stream_device(CUstream s) { return s ? s->device : current_device(); }
EXPORT CUresult cuStreamCreate(CUstream* s, unsigned int flags) {
  (void)flags;
  if (current_device() < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *s = calloc(1, sizeof **s);
  (*s)->device = current_device();
  return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
  free(s);
  return CUDA_SUCCESS;
}
static int64_t device_idle_at(int d) {
  pthread_mutex_lock(&g_mu);
  int64_t t = g_busy_until[d];
  pthread_mutex_unlock(&g_mu);
  return t;
}
EXPORT CUresult cuStreamSynchronize(CUstream s) {
  const int d = stream_device(s);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  sleep_until(device_idle_at(d));
  return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { return cuStreamSynchronize(s); }
EXPORT CUresult cuCtxSynchronize(void) { return cuStreamSynchronize(NULL); }
EXPORT CUresult cuEventCreate(CUevent* e, unsigned int flags) {
  (void)flags;
  *e = calloc(1, sizeof **e);
  (*e)->ts = -1;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventDestroy_v2(CUevent e) {
  free(e);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventRecord(CUevent e, CUstream s) {
  const int d = stream_device(s);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  const int64_t n = now_ns(), idle = device_idle_at(d);
  e->device = d;
  e->ts = idle > n ? idle : n;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return cuEventRecord(e, s); }
EXPORT CUresult cuEventQuery(CUevent e) {
  return e->ts < 0 || now_ns() >= e->ts ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
EXPORT CUresult cuEventSynchronize(CUevent e) {
  if (e->ts > 0) sleep_until(e->ts);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventElapsedTime_v2(float* ms, CUevent a, CUevent b) {
  if (a->ts < 0 || b->ts < 0) return CUDA_ERROR_INVALID_HANDLE;
  if (now_ns() < b->ts || now_ns() < a->ts) return CUDA_ERROR_NOT_READY;
  *ms = (float)((double)(b->ts - a->ts) / 1e6);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
  return cuEventElapsedTime_v2(ms, a, b);
}
EXPORT CUresult cuModuleLoadData(CUmodule* m, const void* image) {
  (void)image;
  static struct CUmod_st one;
  *m = &one;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
  (void)m;
  if (strncmp(name, "sleep_", 6) != 0) return CUDA_ERROR_NOT_FOUND;
  *f = calloc(1, sizeof **f);
  (*f)->block_ns = strtoll(name + 6, NULL, 10) * 1000;
  return CUDA_SUCCESS;
}
static CUresult run(CUfunction f, uint64_t blocks, CUstream s) {
  const int d = stream_device(s);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (!f || blocks == 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t waves = (blocks + (uint64_t)g_sms - 1) / (uint64_t)g_sms;
  /* Like the driver's launch queue: a launch waits while the device has more than 50 ms
   * of work queued. */
  sleep_until(device_idle_at(d) - 50000000);
  const int64_t duration = (int64_t)waves * f->block_ns, n = now_ns();
  pthread_mutex_lock(&g_mu);
  const int64_t start = g_busy_until[d] > n ? g_busy_until[d] : n;
  g_busy_until[d] = start + duration;
  g_busy_total[d] += duration;
  pthread_mutex_unlock(&g_mu);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shm, CUstream s, void** params,
                               void** extra) {
  (void)bx, (void)by, (void)bz, (void)shm, (void)params, (void)extra;
  return run(f, (uint64_t)gx * gy * gz, s);
}
EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                    unsigned bx, unsigned by, unsigned bz, unsigned shm, CUstream s,
                                    void** params, void** extra) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shm, s, params, extra);
}
EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void** params,
                                 void** extra) {
  (void)params, (void)extra;
  return run(f, (uint64_t)c->gridDimX * c->gridDimY * c->gridDimZ, c->hStream);
}
EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* c, CUfunction f, void** params,
                                      void** extra) {
  return cuLaunchKernelEx(c, f, params, extra);
}
EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                          unsigned bx, unsigned by, unsigned bz, unsigned shm,
                                          CUstream s, void** params) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shm, s, params, NULL);
}
EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                               unsigned bx, unsigned by, unsigned bz, unsigned shm,
                                               CUstream s, void** params) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shm, s, params, NULL);
}
EXPORT CUresult cuGraphCreate(CUgraph* g, unsigned int flags) {
  (void)flags;
  *g = calloc(1, sizeof **g);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphDestroy(CUgraph g) {
  free(g);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode* n, CUgraph g, const CUgraphNode* deps,
                                        size_t ndeps, const CUDA_KERNEL_NODE_PARAMS* p) {
  (void)deps, (void)ndeps;
  if (g->count >= 64) return CUDA_ERROR_OUT_OF_MEMORY;
  g->nodes[g->count] = *p;
  *n = (CUgraphNode)(intptr_t)(++g->count);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long f) {
  (void)f;
  *e = calloc(1, sizeof **e);
  (*e)->graph = *g;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphExecDestroy(CUgraphExec e) {
  free(e);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
  for (int i = 0; i < e->graph.count; ++i) {
    const CUDA_KERNEL_NODE_PARAMS* p = &e->graph.nodes[i];
    CUresult r = run(p->func, (uint64_t)p->gridDimX * p->gridDimY * p->gridDimZ, s);
    if (r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec e, CUstream s) { return cuGraphLaunch(e, s); }
EXPORT CUresult cuGetErrorString(CUresult r, const char** s) {
  *s = r == CUDA_SUCCESS ? "no error" : r == CUDA_ERROR_OUT_OF_MEMORY ? "out of memory" : "error";
  return CUDA_SUCCESS;
}

/* For tests: how long kernels kept a device busy, and what this process holds on it. */
EXPORT int64_t jz_fake_cuda_busy_ns(int d) {
  pthread_mutex_lock(&g_mu);
  int64_t t = d >= 0 && d < kMaxDevices ? g_busy_total[d] : 0;
  pthread_mutex_unlock(&g_mu);
  return t;
}
EXPORT uint64_t jz_fake_cuda_used(int d) {
  pthread_mutex_lock(&g_mu);
  uint64_t u = d >= 0 && d < kMaxDevices ? g_used[d] : 0;
  pthread_mutex_unlock(&g_mu);
  return u;
}

/* cuGetProcAddress: a symbol's variants by the version that introduced them, and the
 * per-thread-default-stream variants, as the driver chooses. */
typedef struct {
  const char* name; /* the name asked for */
  int since;        /* the CUDA version this variant serves from */
  int per_thread;   /* 1: the _ptsz/_ptds variant */
  void* fn;
} Variant;
#define V(name, since, pt, fn) \
  { name, since, pt, (void*)(fn) }
static const Variant kVariants[] = {
    V("cuInit", 2000, 0, cuInit),
    V("cuDriverGetVersion", 2020, 0, cuDriverGetVersion),
    V("cuDeviceGetCount", 2000, 0, cuDeviceGetCount),
    V("cuDeviceGet", 2000, 0, cuDeviceGet),
    V("cuDeviceGetName", 2000, 0, cuDeviceGetName),
    V("cuDeviceGetAttribute", 2000, 0, cuDeviceGetAttribute),
    V("cuDeviceTotalMem", 2000, 0, cuDeviceTotalMem),
    V("cuDeviceTotalMem", 3020, 0, cuDeviceTotalMem_v2),
    V("cuDeviceGetUuid", 11040, 0, cuDeviceGetUuid_v2),
    V("cuDevicePrimaryCtxRetain", 7000, 0, cuDevicePrimaryCtxRetain),
    V("cuDevicePrimaryCtxRelease", 11000, 0, cuDevicePrimaryCtxRelease_v2),
    V("cuCtxCreate", 3020, 0, cuCtxCreate_v2),
    V("cuCtxDestroy", 4000, 0, cuCtxDestroy_v2),
    V("cuCtxSetCurrent", 4000, 0, cuCtxSetCurrent),
    V("cuCtxGetCurrent", 4000, 0, cuCtxGetCurrent),
    V("cuCtxGetDevice", 2000, 0, cuCtxGetDevice),
    V("cuCtxSynchronize", 2000, 0, cuCtxSynchronize),
    V("cuCtxPushCurrent", 4000, 0, cuCtxPushCurrent_v2),
    V("cuCtxPopCurrent", 4000, 0, cuCtxPopCurrent_v2),
    V("cuMemAlloc", 2000, 0, cuMemAlloc),
    V("cuMemAlloc", 3020, 0, cuMemAlloc_v2),
    V("cuMemFree", 2000, 0, cuMemFree),
    V("cuMemFree", 3020, 0, cuMemFree_v2),
    V("cuMemAllocPitch", 3020, 0, cuMemAllocPitch_v2),
    V("cuMemAllocManaged", 6000, 0, cuMemAllocManaged),
    V("cuMemAllocAsync", 11020, 0, cuMemAllocAsync),
    V("cuMemAllocAsync", 11020, 1, cuMemAllocAsync_ptsz),
    V("cuMemAllocFromPoolAsync", 11020, 0, cuMemAllocFromPoolAsync),
    V("cuMemAllocFromPoolAsync", 11020, 1, cuMemAllocFromPoolAsync_ptsz),
    V("cuMemFreeAsync", 11020, 0, cuMemFreeAsync),
    V("cuMemFreeAsync", 11020, 1, cuMemFreeAsync_ptsz),
    V("cuMemPoolCreate", 11020, 0, cuMemPoolCreate),
    V("cuMemGetInfo", 2000, 0, cuMemGetInfo),
    V("cuMemGetInfo", 3020, 0, cuMemGetInfo_v2),
    V("cuArrayCreate", 3020, 0, cuArrayCreate_v2),
    V("cuArray3DCreate", 3020, 0, cuArray3DCreate_v2),
    V("cuArrayDestroy", 2000, 0, cuArrayDestroy),
    V("cuMipmappedArrayCreate", 5000, 0, cuMipmappedArrayCreate),
    V("cuMipmappedArrayDestroy", 5000, 0, cuMipmappedArrayDestroy),
    V("cuMemCreate", 10020, 0, cuMemCreate),
    V("cuMemRelease", 10020, 0, cuMemRelease),
    V("cuMemAddressReserve", 10020, 0, cuMemAddressReserve),
    V("cuMemAddressFree", 10020, 0, cuMemAddressFree),
    V("cuMemMap", 10020, 0, cuMemMap),
    V("cuMemUnmap", 10020, 0, cuMemUnmap),
    V("cuStreamCreate", 2000, 0, cuStreamCreate),
    V("cuStreamDestroy", 4000, 0, cuStreamDestroy_v2),
    V("cuStreamSynchronize", 2000, 0, cuStreamSynchronize),
    V("cuStreamSynchronize", 7000, 1, cuStreamSynchronize_ptsz),
    V("cuEventCreate", 2000, 0, cuEventCreate),
    V("cuEventDestroy", 4000, 0, cuEventDestroy_v2),
    V("cuEventRecord", 2000, 0, cuEventRecord),
    V("cuEventRecord", 7000, 1, cuEventRecord_ptsz),
    V("cuEventQuery", 2000, 0, cuEventQuery),
    V("cuEventSynchronize", 2000, 0, cuEventSynchronize),
    V("cuEventElapsedTime", 2000, 0, cuEventElapsedTime),
    V("cuEventElapsedTime", 12080, 0, cuEventElapsedTime_v2),
    V("cuModuleLoadData", 2000, 0, cuModuleLoadData),
    V("cuModuleGetFunction", 2000, 0, cuModuleGetFunction),
    V("cuLaunchKernel", 4000, 0, cuLaunchKernel),
    V("cuLaunchKernel", 7000, 1, cuLaunchKernel_ptsz),
    V("cuLaunchKernelEx", 11060, 0, cuLaunchKernelEx),
    V("cuLaunchKernelEx", 11060, 1, cuLaunchKernelEx_ptsz),
    V("cuLaunchCooperativeKernel", 9000, 0, cuLaunchCooperativeKernel),
    V("cuLaunchCooperativeKernel", 9000, 1, cuLaunchCooperativeKernel_ptsz),
    V("cuGraphCreate", 10000, 0, cuGraphCreate),
    V("cuGraphDestroy", 10000, 0, cuGraphDestroy),
    V("cuGraphAddKernelNode", 12000, 0, cuGraphAddKernelNode_v2),
    V("cuGraphInstantiate", 11040, 0, cuGraphInstantiateWithFlags),
    V("cuGraphInstantiateWithFlags", 11040, 0, cuGraphInstantiateWithFlags),
    V("cuGraphExecDestroy", 10000, 0, cuGraphExecDestroy),
    V("cuGraphLaunch", 10000, 0, cuGraphLaunch),
    V("cuGraphLaunch", 10000, 1, cuGraphLaunch_ptsz),
    V("cuGetErrorString", 6000, 0, cuGetErrorString),
    V("cuGetProcAddress", 11030, 0, NULL), /* filled below */
    V("cuGetProcAddress", 12000, 0, NULL),
};
#undef V

EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status);
EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags);

EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status) {
  if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
  const int per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const Variant* best = NULL;
  int found = 0;
  for (size_t i = 0; i < sizeof kVariants / sizeof kVariants[0]; ++i) {
    const Variant* v = &kVariants[i];
    if (strcmp(v->name, symbol) != 0) continue;
    found = 1;
    if (v->since > version) continue;
    if (v->per_thread && !per_thread) continue;
    /* The newest variant the version allows; a per-thread one over its legacy twin. */
    if (!best || v->since > best->since || (v->since == best->since && v->per_thread)) best = v;
  }
  *pfn = NULL;
  if (!best) {
    if (status)
      *status =
          found ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = best->fn;
  if (strcmp(symbol, "cuGetProcAddress") == 0) {
    *pfn = best->since >= 12000 ? (void*)cuGetProcAddress_v2 : (void*)cuGetProcAddress;
  }
  if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}
