/* libjzvgpu.so: GPU memory and compute limits for one job's processes, by interception of
 * the CUDA driver API. Preloaded (the platform's sandboxes list it in /etc/ld.so.preload),
 * it exports the driver functions it limits, so programs linked to libcuda.so.1 call it
 * first; it answers dlsym() lookups of those names, so programs that dlopen the driver
 * (the CUDA runtime, PyTorch) get it too; and it wraps cuGetProcAddress (every version),
 * returning its own functions for the symbols it limits, in the variant (_v2, per-thread
 * stream) that the caller's CUDA version asks for. It finds the real driver itself
 * (dlopen "libcuda.so.1", or JZ_VGPU_DRIVER) and calls through to it.
 *
 * Memory: every allocation family counts against the device's limit in the job's shared
 * region (region.h); past it the call returns CUDA_ERROR_OUT_OF_MEMORY without reaching the
 * driver. cuMemGetInfo and cuDeviceTotalMem report the limit and the job's own use.
 * Compute: launches on a device with a core limit are paced by a credit controller
 * (limiter.c). Without any limit every function goes straight to the driver.
 * docs/VGPU.md has the whole picture. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/vgpu/config.h"
#include "gpu/vgpu/cuda_abi.h"
#include "gpu/vgpu/internal.h"
#include "gpu/vgpu/region.h"

#define EXPORT __attribute__((visibility("default")))
#define kConfigPath "/etc/jizhan/vgpu.conf"

extern char** environ;

/* ---- the real dlsym and the driver ---------------------------------------------------- */

typedef void* (*dlsym_fn)(void*, const char*);
static dlsym_fn g_real_dlsym;

void* jz_real_dlsym(void* handle, const char* name) {
  dlsym_fn f = __atomic_load_n(&g_real_dlsym, __ATOMIC_ACQUIRE);
  if (!f) {
    f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!f) f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    __atomic_store_n(&g_real_dlsym, f, __ATOMIC_RELEASE);
  }
  return f ? f(handle, name) : NULL;
}

static jz_vgpu_config g_cfg;
static int g_memory_limited, g_core_limited;
static int g_broken; /* a configuration or region error: allocations are refused */
static jz_vgpu_region* g_region;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void* g_driver;
static char g_driver_path[512];

void jz_vgpu_log(const char* fmt, ...) {
  char buf[768];
  int n = snprintf(buf, sizeof buf, "jizhan vGPU: ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t w = write(2, buf, (size_t)n);
  (void)w;
}

static void* driver(void) {
  void* d = __atomic_load_n(&g_driver, __ATOMIC_ACQUIRE);
  if (d) return d;
  d = dlopen(g_driver_path[0] ? g_driver_path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!d) return NULL;
  __atomic_store_n(&g_driver, d, __ATOMIC_RELEASE);
  return d;
}

void* jz_driver_sym(const char* name) {
  void* d = driver();
  return d ? jz_real_dlsym(d, name) : NULL;
}

/* ---- configuration and the region ---------------------------------------------------- */

static void read_config(void) {
  const int fd = open(kConfigPath, O_RDONLY | O_CLOEXEC);
  const char* why = NULL;
  if (fd >= 0) {
    static char text[16384];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0) n = 0;
    g_cfg.from_file = 1;
    const int bad = jz_vgpu_parse_config(text, (size_t)n, &g_cfg, &why);
    if (bad != 0) {
      jz_vgpu_log("%s line %d: %s; GPU memory is refused until it is fixed", kConfigPath, bad, why);
      g_broken = 1;
    }
  } else {
    for (char** e = environ; e && *e; ++e) {
      if (strncmp(*e, "JZ_VGPU_", 8) != 0) continue;
      const char* eq = strchr(*e, '=');
      if (!eq) continue;
      if (jz_vgpu_config_set(&g_cfg, *e, (size_t)(eq - *e), eq + 1, strlen(eq + 1), &why) != 0) {
        jz_vgpu_log("%.*s: %s; GPU memory is refused until it is fixed", (int)(eq - *e), *e, why);
        g_broken = 1;
      }
    }
  }
  const char* drv = g_cfg.from_file ? g_cfg.driver : getenv("JZ_VGPU_DRIVER");
  if (drv && *drv) snprintf(g_driver_path, sizeof g_driver_path, "%s", drv);
}

static void init(void) {
  read_config();
  for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
    if (g_cfg.memory_limit[i]) g_memory_limited = 1;
    if (g_cfg.core_limit[i]) g_core_limited = 1;
  }
  if (!g_memory_limited && !g_core_limited) return;
  char err[640] = "";
  if (g_cfg.region[0]) {
    g_region = jz_vgpu_region_open(g_cfg.region, 1, err, sizeof err);
  } else {
    /* Outside the platform: this process's own accounting. */
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/jzvgpu-%d-XXXXXX", (int)getpid());
    const int fd = mkstemp(path);
    if (fd >= 0) {
      close(fd);
      g_region = jz_vgpu_region_open(path, 0, err, sizeof err);
      unlink(path);
    } else {
      snprintf(err, sizeof err, "cannot make a private region: %s", strerror(errno));
    }
  }
  if (!g_region) {
    jz_vgpu_log("%s; GPU memory is refused", err);
    g_broken = 1;
    return;
  }
  if (jz_vgpu_region_lock(g_region) == 0) {
    for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
      g_region->memory_limit[i] = g_cfg.memory_limit[i];
      g_region->core_limit[i] = g_cfg.core_limit[i];
    }
    jz_vgpu_region_unlock(g_region);
  }
}

void jz_vgpu_init(void) { pthread_once(&g_once, init); }
const jz_vgpu_config* jz_vgpu_cfg(void) { return &g_cfg; }
jz_vgpu_region* jz_vgpu_shared(void) { return g_region; }
int jz_vgpu_core_limited(void) {
  jz_vgpu_init();
  return g_core_limited;
}

/* This process's pid (getpid() is a system call; kept, and renewed in a forked child). */
static int32_t g_pid;

/* This process's slot (under the region's lock), found again after a fork. */
static jz_vgpu_slot* my_slot(void) {
  static jz_vgpu_slot* slot;
  static int32_t slot_pid;
  const int32_t pid = g_pid ? g_pid : (int32_t)getpid();
  if (slot && slot_pid == pid) return slot;
  slot = jz_vgpu_region_slot(g_region, pid, jz_vgpu_process_start(pid));
  slot_pid = pid;
  return slot;
}

/* ---- memory accounting ---------------------------------------------------------------- */

static int memory_limited(int dev) {
  jz_vgpu_init();
  if (g_broken) return 1; /* refused: reserve() says no */
  if (!g_memory_limited) return 0;
  return dev >= 0 && dev < JZ_VGPU_MAX_DEVICES && g_cfg.memory_limit[dev] != 0;
}

/* Takes `size` bytes of the job's limit on `dev`, or says why not. */
static CUresult reserve(int dev, uint64_t size) {
  if (g_broken || !g_region) return CUDA_ERROR_OUT_OF_MEMORY;
  if (jz_vgpu_region_lock(g_region) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  jz_vgpu_slot* s = my_slot();
  CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
  if (!s) {
    jz_vgpu_log("all %d process slots of the job's region are taken", JZ_VGPU_MAX_SLOTS);
  } else {
    const uint64_t limit = g_cfg.memory_limit[dev];
    uint64_t used = jz_vgpu_region_used(g_region, dev);
    if (size > limit || used > limit - size) {
      if (jz_vgpu_region_reap(g_region) > 0) used = jz_vgpu_region_used(g_region, dev);
    }
    if (size <= limit && used <= limit - size) {
      jz_vgpu_region_charge(g_region, s, dev, size);
      r = CUDA_SUCCESS;
    }
  }
  jz_vgpu_region_unlock(g_region);
  return r;
}

static void unreserve(int dev, uint64_t size) {
  if (!g_region || jz_vgpu_region_lock(g_region) != 0) return;
  jz_vgpu_slot* s = my_slot();
  if (s) jz_vgpu_region_uncharge(g_region, s, dev, size);
  jz_vgpu_region_unlock(g_region);
}

/* What this process allocated: key (address, handle or array) -> size, device, context. */
typedef struct {
  uint64_t key, size;
  CUcontext ctx;
  int32_t dev, state; /* 0 empty, 1 used, 2 removed */
} Entry;
static pthread_mutex_t g_table_mu = PTHREAD_MUTEX_INITIALIZER;
static Entry* g_table;
static size_t g_cap, g_filled;

static size_t slot_of(uint64_t key, size_t cap) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}
static void table_grow(void) {
  const size_t cap = g_cap ? g_cap * 2 : 1024;
  Entry* t = calloc(cap, sizeof *t);
  if (!t) return;
  for (size_t i = 0; i < g_cap; ++i) {
    if (g_table[i].state != 1) continue;
    size_t j = slot_of(g_table[i].key, cap);
    while (t[j].state == 1) j = (j + 1) & (cap - 1);
    t[j] = g_table[i];
  }
  free(g_table);
  g_table = t;
  g_cap = cap;
  size_t used = 0;
  for (size_t i = 0; i < cap; ++i) used += t[i].state == 1;
  g_filled = used;
}
static void track(uint64_t key, uint64_t size, int dev, CUcontext ctx) {
  pthread_mutex_lock(&g_table_mu);
  if ((g_filled + 1) * 10 > g_cap * 7) table_grow();
  if (g_cap) {
    size_t j = slot_of(key, g_cap);
    while (g_table[j].state == 1 && g_table[j].key != key) j = (j + 1) & (g_cap - 1);
    if (g_table[j].state != 1) ++g_filled;
    g_table[j] = (Entry){key, size, ctx, dev, 1};
  }
  pthread_mutex_unlock(&g_table_mu);
}
static int untrack(uint64_t key, uint64_t* size, int* dev) {
  int found = 0;
  pthread_mutex_lock(&g_table_mu);
  if (g_cap) {
    size_t j = slot_of(key, g_cap);
    for (size_t n = 0; n < g_cap && g_table[j].state != 0; ++n, j = (j + 1) & (g_cap - 1)) {
      if (g_table[j].state == 1 && g_table[j].key == key) {
        *size = g_table[j].size;
        *dev = g_table[j].dev;
        g_table[j].state = 2;
        found = 1;
        break;
      }
    }
  }
  pthread_mutex_unlock(&g_table_mu);
  return found;
}

static void after_fork_child(void) {
  g_pid = (int32_t)getpid();
  /* Contexts do not survive a fork: the child starts with nothing allocated. */
  free(g_table);
  g_table = NULL;
  g_cap = g_filled = 0;
  pthread_mutex_init(&g_table_mu, NULL);
}
__attribute__((constructor)) static void on_load(void) {
  g_pid = (int32_t)getpid();
  pthread_atfork(NULL, NULL, after_fork_child);
}
/* A process that exits normally gives its slot back (the driver frees its memory); one
 * that is killed leaves it to be reaped by the next process that needs the room. */
__attribute__((destructor)) static void on_unload(void) {
  if (!g_region || jz_vgpu_region_lock(g_region) != 0) return;
  const int32_t pid = (int32_t)getpid();
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS; ++i) {
    jz_vgpu_slot* s = &g_region->slots[i];
    if (s->pid != pid) continue;
    for (int d = 0; d < JZ_VGPU_MAX_DEVICES; ++d)
      jz_vgpu_region_uncharge(g_region, s, d, s->used[d]);
    memset(s, 0, sizeof *s);
  }
  jz_vgpu_region_unlock(g_region);
}

/* ---- the driver functions ------------------------------------------------------------- */

#define REAL(type, name)                                              \
  static type real_##name;                                            \
  type name##_real = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE); \
  if (!name##_real) {                                                 \
    name##_real = (type)jz_driver_sym(#name);                         \
    __atomic_store_n(&real_##name, name##_real, __ATOMIC_RELEASE);    \
  }                                                                   \
  if (!name##_real) return CUDA_ERROR_NOT_FOUND

typedef CUresult (*ctx_get_device_fn)(CUdevice*);
typedef CUresult (*ctx_get_current_fn)(CUcontext*);

static int current_device(CUcontext* ctx) {
  static ctx_get_device_fn get_device;
  static ctx_get_current_fn get_current;
  if (!get_device) get_device = (ctx_get_device_fn)jz_driver_sym("cuCtxGetDevice");
  if (!get_current) get_current = (ctx_get_current_fn)jz_driver_sym("cuCtxGetCurrent");
  CUdevice d = -1;
  if (!get_device || get_device(&d) != CUDA_SUCCESS) return -1;
  if (ctx) {
    *ctx = NULL;
    if (get_current) get_current(ctx);
  }
  return d;
}
int jz_vgpu_current_device(void) { return current_device(NULL); }

/* An allocation on the current device: reserve, call, keep or give back. */
#define COUNTED_ALLOC(dev_expr, size_expr, call, key_expr) \
  do {                                                     \
    CUcontext ctx_ = NULL;                                 \
    const int dev_ = (dev_expr);                           \
    (void)ctx_;                                            \
    if (!memory_limited(dev_)) return call;                \
    const uint64_t size_ = (size_expr);                    \
    CUresult r_ = reserve(dev_, size_);                    \
    if (r_ != CUDA_SUCCESS) return r_;                     \
    r_ = call;                                             \
    if (r_ != CUDA_SUCCESS) {                              \
      unreserve(dev_, size_);                              \
      return r_;                                           \
    }                                                      \
    current_device(&ctx_);                                 \
    track((key_expr), size_, dev_, ctx_);                  \
    return r_;                                             \
  } while (0)

static CUresult release(CUresult r, uint64_t key) {
  uint64_t size = 0;
  int dev = 0;
  if (r == CUDA_SUCCESS && untrack(key, &size, &dev)) unreserve(dev, size);
  return r;
}

typedef CUresult (*alloc_fn)(CUdeviceptr*, size_t);
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t size) {
  REAL(alloc_fn, cuMemAlloc_v2);
  if (!p) return cuMemAlloc_v2_real(p, size);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAlloc_v2_real(p, size), *p);
}
typedef CUresult (*alloc_v1_fn)(CUdeviceptr_v1*, unsigned int);
EXPORT CUresult cuMemAlloc(CUdeviceptr_v1* p, unsigned int size) {
  REAL(alloc_v1_fn, cuMemAlloc);
  if (!p) return cuMemAlloc_real(p, size);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAlloc_real(p, size), *p);
}
typedef CUresult (*free_fn)(CUdeviceptr);
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  REAL(free_fn, cuMemFree_v2);
  return release(cuMemFree_v2_real(p), p);
}
typedef CUresult (*free_v1_fn)(CUdeviceptr_v1);
EXPORT CUresult cuMemFree(CUdeviceptr_v1 p) {
  REAL(free_v1_fn, cuMemFree);
  return release(cuMemFree_real(p), p);
}

typedef CUresult (*pitch_fn)(CUdeviceptr*, size_t*, size_t, size_t, unsigned int);
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* p, size_t* pitch, size_t width, size_t height,
                                   unsigned int elem) {
  REAL(pitch_fn, cuMemAllocPitch_v2);
  const int dev = current_device(NULL);
  if (!p || !pitch || !memory_limited(dev)) {
    return cuMemAllocPitch_v2_real(p, pitch, width, height, elem);
  }
  /* The pitch is known after the call: reserve a 512-byte aligned row first, then settle. */
  if (width > (SIZE_MAX - 511) || (height && ((width + 511) & ~(size_t)511) > SIZE_MAX / height)) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  const uint64_t guess = (uint64_t)((width + 511) & ~(size_t)511) * height;
  CUresult r = reserve(dev, guess);
  if (r != CUDA_SUCCESS) return r;
  r = cuMemAllocPitch_v2_real(p, pitch, width, height, elem);
  if (r != CUDA_SUCCESS) {
    unreserve(dev, guess);
    return r;
  }
  const uint64_t actual = (uint64_t)*pitch * height;
  if (actual > guess && reserve(dev, actual - guess) != CUDA_SUCCESS) {
    REAL(free_fn, cuMemFree_v2);
    cuMemFree_v2_real(*p);
    unreserve(dev, guess);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (actual < guess) unreserve(dev, guess - actual);
  CUcontext ctx = NULL;
  current_device(&ctx);
  track(*p, actual, dev, ctx);
  return r;
}

typedef CUresult (*managed_fn)(CUdeviceptr*, size_t, unsigned int);
EXPORT CUresult cuMemAllocManaged(CUdeviceptr* p, size_t size, unsigned int flags) {
  REAL(managed_fn, cuMemAllocManaged);
  if (!p) return cuMemAllocManaged_real(p, size, flags);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAllocManaged_real(p, size, flags), *p);
}

typedef CUresult (*async_fn)(CUdeviceptr*, size_t, CUstream);
EXPORT CUresult cuMemAllocAsync(CUdeviceptr* p, size_t size, CUstream s) {
  REAL(async_fn, cuMemAllocAsync);
  if (!p) return cuMemAllocAsync_real(p, size, s);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAllocAsync_real(p, size, s), *p);
}
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* p, size_t size, CUstream s) {
  REAL(async_fn, cuMemAllocAsync_ptsz);
  if (!p) return cuMemAllocAsync_ptsz_real(p, size, s);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAllocAsync_ptsz_real(p, size, s), *p);
}
typedef CUresult (*pool_fn)(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* p, size_t size, CUmemoryPool pool,
                                        CUstream s) {
  REAL(pool_fn, cuMemAllocFromPoolAsync);
  if (!p) return cuMemAllocFromPoolAsync_real(p, size, pool, s);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAllocFromPoolAsync_real(p, size, pool, s), *p);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* p, size_t size, CUmemoryPool pool,
                                             CUstream s) {
  REAL(pool_fn, cuMemAllocFromPoolAsync_ptsz);
  if (!p) return cuMemAllocFromPoolAsync_ptsz_real(p, size, pool, s);
  COUNTED_ALLOC(current_device(NULL), size, cuMemAllocFromPoolAsync_ptsz_real(p, size, pool, s),
                *p);
}
typedef CUresult (*free_async_fn)(CUdeviceptr, CUstream);
EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  REAL(free_async_fn, cuMemFreeAsync);
  return release(cuMemFreeAsync_real(p, s), p);
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) {
  REAL(free_async_fn, cuMemFreeAsync_ptsz);
  return release(cuMemFreeAsync_ptsz_real(p, s), p);
}

/* Arrays: their size from the descriptor (the element's bytes by format, every channel). */
static uint64_t mul_sat(uint64_t a, uint64_t b) {
  if (a && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}
static uint64_t extent(size_t v) { return v ? v : 1; }

typedef CUresult (*array_fn)(CUarray*, const CUDA_ARRAY_DESCRIPTOR*);
EXPORT CUresult cuArrayCreate_v2(CUarray* a, const CUDA_ARRAY_DESCRIPTOR* d) {
  REAL(array_fn, cuArrayCreate_v2);
  if (!a || !d) return cuArrayCreate_v2_real(a, d);
  COUNTED_ALLOC(current_device(NULL),
                mul_sat(mul_sat(d->Width, extent(d->Height)),
                        jz_cuda_element_bytes(d->Format, d->NumChannels)),
                cuArrayCreate_v2_real(a, d), (uint64_t)(uintptr_t)*a);
}
typedef CUresult (*array3d_fn)(CUarray*, const CUDA_ARRAY3D_DESCRIPTOR*);
EXPORT CUresult cuArray3DCreate_v2(CUarray* a, const CUDA_ARRAY3D_DESCRIPTOR* d) {
  REAL(array3d_fn, cuArray3DCreate_v2);
  if (!a || !d) return cuArray3DCreate_v2_real(a, d);
  COUNTED_ALLOC(current_device(NULL),
                mul_sat(mul_sat(mul_sat(d->Width, extent(d->Height)), extent(d->Depth)),
                        jz_cuda_element_bytes(d->Format, d->NumChannels)),
                cuArray3DCreate_v2_real(a, d), (uint64_t)(uintptr_t)*a);
}
typedef CUresult (*array_destroy_fn)(CUarray);
EXPORT CUresult cuArrayDestroy(CUarray a) {
  REAL(array_destroy_fn, cuArrayDestroy);
  return release(cuArrayDestroy_real(a), (uint64_t)(uintptr_t)a);
}
static uint64_t mipmap_bytes(const CUDA_ARRAY3D_DESCRIPTOR* d, unsigned levels) {
  uint64_t sum = 0;
  for (unsigned l = 0; l < (levels ? levels : 1) && l < 64; ++l) {
    const uint64_t w = d->Width >> l, h = d->Height >> l, z = d->Depth >> l;
    const uint64_t level = mul_sat(mul_sat(mul_sat(w ? w : 1, h ? h : 1), z ? z : 1),
                                   jz_cuda_element_bytes(d->Format, d->NumChannels));
    sum = sum > UINT64_MAX - level ? UINT64_MAX : sum + level;
  }
  return sum;
}
typedef CUresult (*mipmap_fn)(CUmipmappedArray*, const CUDA_ARRAY3D_DESCRIPTOR*, unsigned int);
EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* m, const CUDA_ARRAY3D_DESCRIPTOR* d,
                                       unsigned int levels) {
  REAL(mipmap_fn, cuMipmappedArrayCreate);
  if (!m || !d) return cuMipmappedArrayCreate_real(m, d, levels);
  COUNTED_ALLOC(current_device(NULL), mipmap_bytes(d, levels),
                cuMipmappedArrayCreate_real(m, d, levels), (uint64_t)(uintptr_t)*m);
}
typedef CUresult (*mipmap_destroy_fn)(CUmipmappedArray);
EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray m) {
  REAL(mipmap_destroy_fn, cuMipmappedArrayDestroy);
  return release(cuMipmappedArrayDestroy_real(m), (uint64_t)(uintptr_t)m);
}

/* Virtual memory management: physical memory is counted when created, given back when
 * released. */
typedef CUresult (*mem_create_fn)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*,
                                  unsigned long long);
EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* h, size_t size,
                            const CUmemAllocationProp* prop, unsigned long long flags) {
  REAL(mem_create_fn, cuMemCreate);
  if (!h || !prop) return cuMemCreate_real(h, size, prop, flags);
  const int dev =
      prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? prop->location.id : current_device(NULL);
  COUNTED_ALLOC(dev, size, cuMemCreate_real(h, size, prop, flags), *h);
}
typedef CUresult (*mem_release_fn)(CUmemGenericAllocationHandle);
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
  REAL(mem_release_fn, cuMemRelease);
  return release(cuMemRelease_real(h), h);
}

/* The pre-3.2 array functions take 32-bit descriptors: refused under a memory limit. */
typedef CUresult (*legacy_fn)(void*, const void*);
EXPORT CUresult cuArrayCreate(void* a, const void* d) {
  REAL(legacy_fn, cuArrayCreate);
  if (memory_limited(current_device(NULL))) return CUDA_ERROR_NOT_SUPPORTED;
  return cuArrayCreate_real(a, d);
}
EXPORT CUresult cuArray3DCreate(void* a, const void* d) {
  REAL(legacy_fn, cuArray3DCreate);
  if (memory_limited(current_device(NULL))) return CUDA_ERROR_NOT_SUPPORTED;
  return cuArray3DCreate_real(a, d);
}
typedef CUresult (*pitch_v1_fn)(CUdeviceptr_v1*, unsigned int*, unsigned int, unsigned int,
                                unsigned int);
EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1* p, unsigned int* pitch, unsigned int w,
                                unsigned int h, unsigned int elem) {
  REAL(pitch_v1_fn, cuMemAllocPitch);
  if (memory_limited(current_device(NULL))) return CUDA_ERROR_NOT_SUPPORTED;
  return cuMemAllocPitch_real(p, pitch, w, h, elem);
}

/* A destroyed context frees what was allocated in it. */
static void drop_context(CUcontext ctx) {
  pthread_mutex_lock(&g_table_mu);
  for (size_t i = 0; i < g_cap; ++i) {
    if (g_table[i].state == 1 && g_table[i].ctx == ctx) {
      g_table[i].state = 2;
      const int dev = g_table[i].dev;
      const uint64_t size = g_table[i].size;
      pthread_mutex_unlock(&g_table_mu);
      unreserve(dev, size);
      pthread_mutex_lock(&g_table_mu);
    }
  }
  pthread_mutex_unlock(&g_table_mu);
}
typedef CUresult (*ctx_destroy_fn)(CUcontext);
EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  REAL(ctx_destroy_fn, cuCtxDestroy_v2);
  const CUresult r = cuCtxDestroy_v2_real(ctx);
  if (r == CUDA_SUCCESS && g_memory_limited) drop_context(ctx);
  return r;
}
EXPORT CUresult cuCtxDestroy(CUcontext ctx) {
  REAL(ctx_destroy_fn, cuCtxDestroy);
  const CUresult r = cuCtxDestroy_real(ctx);
  if (r == CUDA_SUCCESS && g_memory_limited) drop_context(ctx);
  return r;
}

/* ---- what the job is told ------------------------------------------------------------- */

uint64_t jz_vgpu_job_used(int dev) {
  uint64_t used = 0;
  if (dev >= 0 && dev < JZ_VGPU_MAX_DEVICES && g_region && jz_vgpu_region_lock(g_region) == 0) {
    used = jz_vgpu_region_used(g_region, dev);
    jz_vgpu_region_unlock(g_region);
  }
  return used;
}

int jz_vgpu_job_processes(int dev, int32_t* pids, uint64_t* used, int max) {
  int n = 0;
  if (dev < 0 || dev >= JZ_VGPU_MAX_DEVICES || !g_region || jz_vgpu_region_lock(g_region) != 0) {
    return 0;
  }
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS && n < max; ++i) {
    const jz_vgpu_slot* s = &g_region->slots[i];
    if (s->pid == 0 || s->used[dev] == 0) continue;
    pids[n] = s->pid;
    used[n] = s->used[dev];
    ++n;
  }
  jz_vgpu_region_unlock(g_region);
  return n;
}

/* The job's view of a device: total = the limit (never above the card), free = what the
 * limit leaves (never above what the card has free, never negative). */
static void limited_view(int dev, uint64_t* free_bytes, uint64_t* total) {
  const uint64_t limit = g_cfg.memory_limit[dev];
  const uint64_t used = jz_vgpu_job_used(dev);
  if (*total > limit) *total = limit;
  const uint64_t left = used >= *total ? 0 : *total - used;
  if (*free_bytes > left) *free_bytes = left;
}

typedef CUresult (*info_fn)(size_t*, size_t*);
EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  REAL(info_fn, cuMemGetInfo_v2);
  const CUresult r = cuMemGetInfo_v2_real(free_bytes, total);
  const int dev = current_device(NULL);
  if (r == CUDA_SUCCESS && free_bytes && total && memory_limited(dev)) {
    uint64_t f = *free_bytes, t = *total;
    limited_view(dev, &f, &t);
    *free_bytes = f;
    *total = t;
  }
  return r;
}
typedef CUresult (*info_v1_fn)(unsigned int*, unsigned int*);
EXPORT CUresult cuMemGetInfo(unsigned int* free_bytes, unsigned int* total) {
  REAL(info_v1_fn, cuMemGetInfo);
  const CUresult r = cuMemGetInfo_real(free_bytes, total);
  const int dev = current_device(NULL);
  if (r == CUDA_SUCCESS && free_bytes && total && memory_limited(dev)) {
    uint64_t f = *free_bytes, t = *total;
    limited_view(dev, &f, &t);
    *free_bytes = (unsigned)f;
    *total = (unsigned)t;
  }
  return r;
}
typedef CUresult (*total_fn)(size_t*, CUdevice);
EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  REAL(total_fn, cuDeviceTotalMem_v2);
  const CUresult r = cuDeviceTotalMem_v2_real(bytes, dev);
  if (r == CUDA_SUCCESS && bytes && memory_limited(dev) && *bytes > g_cfg.memory_limit[dev]) {
    *bytes = (size_t)g_cfg.memory_limit[dev];
  }
  return r;
}
typedef CUresult (*total_v1_fn)(unsigned int*, CUdevice);
EXPORT CUresult cuDeviceTotalMem(unsigned int* bytes, CUdevice dev) {
  REAL(total_v1_fn, cuDeviceTotalMem);
  const CUresult r = cuDeviceTotalMem_real(bytes, dev);
  if (r == CUDA_SUCCESS && bytes && memory_limited(dev) && *bytes > g_cfg.memory_limit[dev]) {
    *bytes = (unsigned)g_cfg.memory_limit[dev];
  }
  return r;
}

/* ---- launches ------------------------------------------------------------------------- */

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void**, void**);
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shm, CUstream s, void** params,
                               void** extra) {
  REAL(launch_fn, cuLaunchKernel);
  if (!jz_vgpu_core_limited())
    return cuLaunchKernel_real(f, gx, gy, gz, bx, by, bz, shm, s, params, extra);
  JZ_PACED(f, (uint64_t)gx * gy * gz, s, 0,
           cuLaunchKernel_real(f, gx, gy, gz, bx, by, bz, shm, s, params, extra));
}
EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                    unsigned bx, unsigned by, unsigned bz, unsigned shm, CUstream s,
                                    void** params, void** extra) {
  REAL(launch_fn, cuLaunchKernel_ptsz);
  if (!jz_vgpu_core_limited()) {
    return cuLaunchKernel_ptsz_real(f, gx, gy, gz, bx, by, bz, shm, s, params, extra);
  }
  JZ_PACED(f, (uint64_t)gx * gy * gz, s, 1,
           cuLaunchKernel_ptsz_real(f, gx, gy, gz, bx, by, bz, shm, s, params, extra));
}
typedef CUresult (*launch_ex_fn)(const CUlaunchConfig*, CUfunction, void**, void**);
EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void** params,
                                 void** extra) {
  REAL(launch_ex_fn, cuLaunchKernelEx);
  if (!c || !jz_vgpu_core_limited()) return cuLaunchKernelEx_real(c, f, params, extra);
  JZ_PACED(f, (uint64_t)c->gridDimX * c->gridDimY * c->gridDimZ, c->hStream, 0,
           cuLaunchKernelEx_real(c, f, params, extra));
}
EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* c, CUfunction f, void** params,
                                      void** extra) {
  REAL(launch_ex_fn, cuLaunchKernelEx_ptsz);
  if (!c || !jz_vgpu_core_limited()) return cuLaunchKernelEx_ptsz_real(c, f, params, extra);
  JZ_PACED(f, (uint64_t)c->gridDimX * c->gridDimY * c->gridDimZ, c->hStream, 1,
           cuLaunchKernelEx_ptsz_real(c, f, params, extra));
}
typedef CUresult (*coop_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                            unsigned, CUstream, void**);
EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                          unsigned bx, unsigned by, unsigned bz, unsigned shm,
                                          CUstream s, void** params) {
  REAL(coop_fn, cuLaunchCooperativeKernel);
  if (!jz_vgpu_core_limited()) {
    return cuLaunchCooperativeKernel_real(f, gx, gy, gz, bx, by, bz, shm, s, params);
  }
  JZ_PACED(f, (uint64_t)gx * gy * gz, s, 0,
           cuLaunchCooperativeKernel_real(f, gx, gy, gz, bx, by, bz, shm, s, params));
}
EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                               unsigned bx, unsigned by, unsigned bz, unsigned shm,
                                               CUstream s, void** params) {
  REAL(coop_fn, cuLaunchCooperativeKernel_ptsz);
  if (!jz_vgpu_core_limited()) {
    return cuLaunchCooperativeKernel_ptsz_real(f, gx, gy, gz, bx, by, bz, shm, s, params);
  }
  JZ_PACED(f, (uint64_t)gx * gy * gz, s, 1,
           cuLaunchCooperativeKernel_ptsz_real(f, gx, gy, gz, bx, by, bz, shm, s, params));
}
typedef CUresult (*graph_launch_fn)(CUgraphExec, CUstream);
EXPORT CUresult cuGraphLaunch(CUgraphExec g, CUstream s) {
  REAL(graph_launch_fn, cuGraphLaunch);
  if (!jz_vgpu_core_limited()) return cuGraphLaunch_real(g, s);
  JZ_PACED(g, 0, s, 0, cuGraphLaunch_real(g, s));
}
EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec g, CUstream s) {
  REAL(graph_launch_fn, cuGraphLaunch_ptsz);
  if (!jz_vgpu_core_limited()) return cuGraphLaunch_ptsz_real(g, s);
  JZ_PACED(g, 0, s, 1, cuGraphLaunch_ptsz_real(g, s));
}

/* ---- finding functions: cuGetProcAddress and dlsym ------------------------------------- */

typedef struct {
  const char* name; /* the exported name */
  const char* base; /* the name cuGetProcAddress is asked for */
  int since;        /* the CUDA version from which the base name means this variant */
  int per_thread;
  void* hook;
} Hook;
#define H(name, base, since, pt) \
  { #name, base, since, pt, (void*)name }
EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags);
EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status);
static const Hook kHooks[] = {
    H(cuGetProcAddress, "cuGetProcAddress", 11030, 0),
    H(cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0),
    H(cuMemAlloc, "cuMemAlloc", 2000, 0),
    H(cuMemAlloc_v2, "cuMemAlloc", 3020, 0),
    H(cuMemFree, "cuMemFree", 2000, 0),
    H(cuMemFree_v2, "cuMemFree", 3020, 0),
    H(cuMemAllocPitch, "cuMemAllocPitch", 2000, 0),
    H(cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0),
    H(cuMemAllocManaged, "cuMemAllocManaged", 6000, 0),
    H(cuMemAllocAsync, "cuMemAllocAsync", 11020, 0),
    H(cuMemAllocAsync_ptsz, "cuMemAllocAsync", 11020, 1),
    H(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0),
    H(cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync", 11020, 1),
    H(cuMemFreeAsync, "cuMemFreeAsync", 11020, 0),
    H(cuMemFreeAsync_ptsz, "cuMemFreeAsync", 11020, 1),
    H(cuMemGetInfo, "cuMemGetInfo", 2000, 0),
    H(cuMemGetInfo_v2, "cuMemGetInfo", 3020, 0),
    H(cuDeviceTotalMem, "cuDeviceTotalMem", 2000, 0),
    H(cuDeviceTotalMem_v2, "cuDeviceTotalMem", 3020, 0),
    H(cuArrayCreate, "cuArrayCreate", 2000, 0),
    H(cuArrayCreate_v2, "cuArrayCreate", 3020, 0),
    H(cuArray3DCreate, "cuArray3DCreate", 2000, 0),
    H(cuArray3DCreate_v2, "cuArray3DCreate", 3020, 0),
    H(cuArrayDestroy, "cuArrayDestroy", 2000, 0),
    H(cuMipmappedArrayCreate, "cuMipmappedArrayCreate", 5000, 0),
    H(cuMipmappedArrayDestroy, "cuMipmappedArrayDestroy", 5000, 0),
    H(cuMemCreate, "cuMemCreate", 10020, 0),
    H(cuMemRelease, "cuMemRelease", 10020, 0),
    H(cuCtxDestroy, "cuCtxDestroy", 2000, 0),
    H(cuCtxDestroy_v2, "cuCtxDestroy", 4000, 0),
    H(cuLaunchKernel, "cuLaunchKernel", 4000, 0),
    H(cuLaunchKernel_ptsz, "cuLaunchKernel", 7000, 1),
    H(cuLaunchKernelEx, "cuLaunchKernelEx", 11060, 0),
    H(cuLaunchKernelEx_ptsz, "cuLaunchKernelEx", 11060, 1),
    H(cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel", 9000, 0),
    H(cuLaunchCooperativeKernel_ptsz, "cuLaunchCooperativeKernel", 9000, 1),
    H(cuGraphLaunch, "cuGraphLaunch", 10000, 0),
    H(cuGraphLaunch_ptsz, "cuGraphLaunch", 10000, 1),
};
#undef H
enum { kHookCount = sizeof kHooks / sizeof kHooks[0] };

static const Hook* hook_named(const char* name) {
  for (int i = 0; i < kHookCount; ++i) {
    if (strcmp(kHooks[i].name, name) == 0) return &kHooks[i];
  }
  return NULL;
}

/* A function cuGetProcAddress found for `symbol`: ours in its place when we limit it. The
 * variant is the exported one at the same address, or else the one our table says the
 * caller's version and flags select (as the driver's own table does). */
static void* redirect(const char* symbol, void* found, int version, cuuint64_t flags) {
  int known = 0;
  for (int i = 0; i < kHookCount; ++i) {
    if (strcmp(kHooks[i].base, symbol) != 0) continue;
    known = 1;
    if (jz_driver_sym(kHooks[i].name) == found) return kHooks[i].hook;
  }
  if (!known) return found;
  const int per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const Hook* best = NULL;
  for (int i = 0; i < kHookCount; ++i) {
    const Hook* h = &kHooks[i];
    if (strcmp(h->base, symbol) != 0 || h->since > version || (h->per_thread && !per_thread)) {
      continue;
    }
    if (!best || h->since > best->since || (h->since == best->since && h->per_thread)) best = h;
  }
  if (best) return best->hook;
  jz_vgpu_log("cannot tell which variant of %s the driver gave for CUDA %d; refusing it", symbol,
              version);
  return NULL;
}

typedef CUresult (*getproc_v2_fn)(const char*, void**, int, cuuint64_t,
                                  CUdriverProcAddressQueryResult*);
EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status) {
  REAL(getproc_v2_fn, cuGetProcAddress_v2);
  const CUresult r = cuGetProcAddress_v2_real(symbol, pfn, version, flags, status);
  if (r == CUDA_SUCCESS && symbol && pfn && *pfn) {
    *pfn = redirect(symbol, *pfn, version, flags);
    if (!*pfn) {
      if (status) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
      return CUDA_ERROR_NOT_FOUND;
    }
  }
  return r;
}
typedef CUresult (*getproc_fn)(const char*, void**, int, cuuint64_t);
EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags) {
  REAL(getproc_fn, cuGetProcAddress);
  const CUresult r = cuGetProcAddress_real(symbol, pfn, version, flags);
  if (r == CUDA_SUCCESS && symbol && pfn && *pfn) {
    *pfn = redirect(symbol, *pfn, version, flags);
    if (!*pfn) return CUDA_ERROR_NOT_FOUND;
  }
  return r;
}

/* RTLD_NEXT for a caller other than us: the first object after the caller's that defines
 * the symbol itself (glibc resolves RTLD_NEXT from its caller, which would be us). */
static void* next_after(const void* caller, const char* symbol) {
  Dl_info info;
  struct link_map* lm = NULL;
  if (!dladdr1(caller, &info, (void**)&lm, RTLD_DL_LINKMAP) || !lm) return NULL;
  for (struct link_map* l = lm->l_next; l; l = l->l_next) {
    void* h = dlopen(l->l_name && l->l_name[0] ? l->l_name : NULL, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    void* s = jz_real_dlsym(h, symbol);
    dlclose(h);
    if (!s) continue;
    Dl_info si;
    struct link_map* sl = NULL;
    if (dladdr1(s, &si, (void**)&sl, RTLD_DL_LINKMAP) && sl == l) return s;
  }
  return NULL;
}

EXPORT void* dlsym(void* handle, const char* symbol) {
  if (symbol[0] == 'c' && symbol[1] == 'u') {
    const Hook* h = hook_named(symbol);
    /* Ours only where the driver has it: a program probing for a newer function than the
     * driver's must still learn it is missing. */
    if (h) {
      void* theirs = handle == RTLD_NEXT ? next_after(__builtin_return_address(0), symbol)
                                         : jz_real_dlsym(handle, symbol);
      return theirs ? h->hook : NULL;
    }
  }
  if (symbol[0] == 'n' && strncmp(symbol, "nvml", 4) == 0) {
    void* hook = jz_vgpu_nvml_hook(symbol);
    if (hook) {
      void* theirs = handle == RTLD_NEXT ? next_after(__builtin_return_address(0), symbol)
                                         : jz_real_dlsym(handle, symbol);
      if (!theirs) return NULL;
      jz_vgpu_note_nvml_handle(handle);
      return hook;
    }
  }
  if (handle == RTLD_NEXT) return next_after(__builtin_return_address(0), symbol);
  return jz_real_dlsym(handle, symbol);
}
