/* vgpu-probe: a CUDA driver-API program for the vGPU library's tests. It finds the driver
 * as the CUDA runtime does (dlopen "libcuda.so.1", dlsym "cuGetProcAddress_v2", then every
 * function through it), or, built with PROBE_DIRECT, by linking libcuda.so.1 like a
 * driver-API program. Commands (results on stdout, one `key=value` a line):
 *   info                       the view of device 0: total, free, device_total
 *   alloc FAMILY BYTES         one allocation (alloc, alloc_v1, pitch, managed, async,
 *                              pool, array, array3d, mipmap, vmm): result=CODE
 *   fill CHUNK                 allocates CHUNK bytes until refused: got=BYTES
 *   hold BYTES                 allocates, says held=1, waits to be killed
 *   lock REGION                takes the region's lock, says locked=1, waits to be killed
 *   getproc BYTES              asks cuGetProcAddress for the allocation functions under
 *                              every version and flag, and allocates BYTES with each
 *   compute DEVICES SECONDS GRID BLOCK_US [graph]
 *                              launches kernels on each device for SECONDS, util[d]=%
 *   nvml LIBRARY               NVML's memory and processes of its device 0, as nvidia-smi
 *                              asks: nvml_total, nvml_used, nvml_free, processes, pid0...
 *   bench N                    N launches of an empty kernel, then N allocations and frees
 *                              of 1 MiB: launch_ns=, alloc_free_ns= (bench/vgpu)
 *   exec PROGRAM ARGS...       runs PROGRAM with an empty environment
 * PROBE_PTSZ=1 asks for the per-thread default stream variants. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu/vgpu/cuda_abi.h"
#include "gpu/vgpu/region.h"

#ifdef PROBE_DIRECT
/* Linked to the driver: these bind at load time (to the preloaded library's, if any). */
extern CUresult cuInit(unsigned int);
extern CUresult cuDevicePrimaryCtxRetain(CUcontext*, CUdevice);
extern CUresult cuCtxSetCurrent(CUcontext);
extern CUresult cuMemGetInfo_v2(size_t*, size_t*);
extern CUresult cuDeviceTotalMem_v2(size_t*, CUdevice);
extern CUresult cuMemAlloc_v2(CUdeviceptr*, size_t);

int main(int argc, char** argv) {
  CUcontext ctx;
  cuInit(0);
  if (cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS) return 3;
  cuCtxSetCurrent(ctx);
  if (argc > 2 && strcmp(argv[1], "alloc") == 0) {
    CUdeviceptr p;
    printf("result=%d\n", cuMemAlloc_v2(&p, strtoull(argv[2], NULL, 10)));
  }
  size_t f = 0, t = 0, dt = 0;
  printf("info_result=%d\n", cuMemGetInfo_v2(&f, &t));
  cuDeviceTotalMem_v2(&dt, 0);
  printf("total=%zu\nfree=%zu\ndevice_total=%zu\n", t, f, dt);
  return 0;
}
#else
typedef CUresult (*getproc_v2_fn)(const char*, void**, int, cuuint64_t,
                                  CUdriverProcAddressQueryResult*);
typedef CUresult (*getproc_v1_fn)(const char*, void**, int, cuuint64_t);
static void* g_driver;
static getproc_v2_fn g_getproc;
static int g_flags;

static void* sym(const char* base) {
  void* p = NULL;
  if (g_getproc(base, &p, 13000, (cuuint64_t)g_flags, NULL) != CUDA_SUCCESS) return NULL;
  return p;
}

typedef CUresult (*init_fn)(unsigned int);
typedef CUresult (*retain_fn)(CUcontext*, CUdevice);
typedef CUresult (*set_ctx_fn)(CUcontext);
typedef CUresult (*info_fn)(size_t*, size_t*);
typedef CUresult (*total_fn)(size_t*, CUdevice);
typedef CUresult (*alloc_fn)(CUdeviceptr*, size_t);
typedef CUresult (*alloc_v1_fn)(CUdeviceptr_v1*, unsigned int);
typedef CUresult (*free_fn)(CUdeviceptr);
typedef CUresult (*pitch_fn)(CUdeviceptr*, size_t*, size_t, size_t, unsigned int);
typedef CUresult (*managed_fn)(CUdeviceptr*, size_t, unsigned int);
typedef CUresult (*async_fn)(CUdeviceptr*, size_t, CUstream);
typedef CUresult (*pool_create_fn)(CUmemoryPool*, const void*);
typedef CUresult (*pool_fn)(CUdeviceptr*, size_t, CUmemoryPool, CUstream);
typedef CUresult (*array_fn)(CUarray*, const CUDA_ARRAY_DESCRIPTOR*);
typedef CUresult (*array3d_fn)(CUarray*, const CUDA_ARRAY3D_DESCRIPTOR*);
typedef CUresult (*mipmap_fn)(CUmipmappedArray*, const CUDA_ARRAY3D_DESCRIPTOR*, unsigned);
typedef CUresult (*create_fn)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*,
                              unsigned long long);
typedef CUresult (*module_fn)(CUmodule*, const void*);
typedef CUresult (*function_fn)(CUfunction*, CUmodule, const char*);
typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void**, void**);
typedef CUresult (*sync_fn)(void);
typedef CUresult (*graph_create_fn)(CUgraph*, unsigned);
typedef CUresult (*graph_add_fn)(CUgraphNode*, CUgraph, const CUgraphNode*, size_t,
                                 const CUDA_KERNEL_NODE_PARAMS*);
typedef CUresult (*graph_inst_fn)(CUgraphExec*, CUgraph, unsigned long long);
typedef CUresult (*graph_launch_fn)(CUgraphExec, CUstream);
typedef int64_t (*busy_fn)(int);

static void* need(const char* name) {
  void* p = sym(name);
  if (!p) {
    fprintf(stderr, "vgpu-probe: no %s\n", name);
    exit(3);
  }
  return p;
}

static void start(int dev) {
  ((init_fn)need("cuInit"))(0);
  CUcontext ctx;
  if (((retain_fn)need("cuDevicePrimaryCtxRetain"))(&ctx, dev) != CUDA_SUCCESS) {
    fprintf(stderr, "vgpu-probe: no device %d\n", dev);
    exit(3);
  }
  ((set_ctx_fn)need("cuCtxSetCurrent"))(ctx);
}

static CUresult alloc(const char* family, size_t bytes) {
  CUdeviceptr p = 0;
  if (strcmp(family, "alloc") == 0) return ((alloc_fn)need("cuMemAlloc"))(&p, bytes);
  if (strcmp(family, "alloc_v1") == 0) {
    /* The pre-3.2 function, as an old program asks for it. */
    void* f = NULL;
    g_getproc("cuMemAlloc", &f, 3000, 0, NULL);
    if (!f) return CUDA_ERROR_NOT_FOUND;
    CUdeviceptr_v1 q = 0;
    return ((alloc_v1_fn)f)(&q, (unsigned)bytes);
  }
  if (strcmp(family, "pitch") == 0) {
    size_t pitch = 0;
    return ((pitch_fn)need("cuMemAllocPitch"))(&p, &pitch, bytes / 4, 4, 4);
  }
  if (strcmp(family, "managed") == 0) return ((managed_fn)need("cuMemAllocManaged"))(&p, bytes, 1);
  if (strcmp(family, "async") == 0) return ((async_fn)need("cuMemAllocAsync"))(&p, bytes, NULL);
  if (strcmp(family, "pool") == 0) {
    CUmemoryPool pool;
    ((pool_create_fn)need("cuMemPoolCreate"))(&pool, NULL);
    return ((pool_fn)need("cuMemAllocFromPoolAsync"))(&p, bytes, pool, NULL);
  }
  if (strcmp(family, "array") == 0) {
    CUarray a;
    CUDA_ARRAY_DESCRIPTOR d = {bytes / 4, 1, 0x20, 1}; /* float */
    return ((array_fn)need("cuArrayCreate"))(&a, &d);
  }
  if (strcmp(family, "array3d") == 0) {
    CUarray a;
    CUDA_ARRAY3D_DESCRIPTOR d = {bytes / 4, 1, 1, 0x01, 4, 0}; /* uchar4 */
    return ((array3d_fn)need("cuArray3DCreate"))(&a, &d);
  }
  if (strcmp(family, "mipmap") == 0) {
    CUmipmappedArray m;
    CUDA_ARRAY3D_DESCRIPTOR d = {bytes, 1, 1, 0x01, 1, 0};
    return ((mipmap_fn)need("cuMipmappedArrayCreate"))(&m, &d, 1);
  }
  if (strcmp(family, "vmm") == 0) {
    CUmemGenericAllocationHandle h;
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = 1;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    return ((create_fn)need("cuMemCreate"))(&h, bytes, &prop, 0);
  }
  fprintf(stderr, "vgpu-probe: unknown family %s\n", family);
  exit(2);
}

static void info(void) {
  size_t f = 0, t = 0, dt = 0;
  CUresult r = ((info_fn)need("cuMemGetInfo"))(&f, &t);
  ((total_fn)need("cuDeviceTotalMem"))(&dt, 0);
  printf("info_result=%d\ntotal=%zu\nfree=%zu\ndevice_total=%zu\n", r, t, f, dt);
}

static void wait_forever(void) {
  for (;;) pause();
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
  int dev;
  double seconds;
  unsigned grid;
  int block_us, graph;
  double util;
} Worker;

static void* work(void* arg) {
  Worker* w = arg;
  CUcontext ctx;
  ((retain_fn)need("cuDevicePrimaryCtxRetain"))(&ctx, w->dev);
  ((set_ctx_fn)need("cuCtxSetCurrent"))(ctx);
  CUmodule m;
  ((module_fn)need("cuModuleLoadData"))(&m, "");
  CUfunction f;
  char name[32];
  snprintf(name, sizeof name, "sleep_%d", w->block_us);
  ((function_fn)need("cuModuleGetFunction"))(&f, m, name);
  launch_fn launch = (launch_fn)need("cuLaunchKernel");
  sync_fn sync = (sync_fn)need("cuCtxSynchronize");
  busy_fn busy = (busy_fn)dlsym(g_driver ? g_driver : RTLD_DEFAULT, "jz_fake_cuda_busy_ns");
  CUgraphExec exec = NULL;
  if (w->graph) {
    CUgraph g;
    ((graph_create_fn)need("cuGraphCreate"))(&g, 0);
    CUDA_KERNEL_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.func = f;
    p.gridDimX = w->grid;
    p.gridDimY = p.gridDimZ = p.blockDimX = p.blockDimY = p.blockDimZ = 1;
    CUgraphNode n;
    ((graph_add_fn)need("cuGraphAddKernelNode"))(&n, g, NULL, 0, &p);
    ((graph_inst_fn)need("cuGraphInstantiate"))(&exec, g, 0);
  }
  graph_launch_fn graph_launch = w->graph ? (graph_launch_fn)need("cuGraphLaunch") : NULL;
  /* A warm-up second, then the measured window. */
  const int64_t warm_end = now_ns() + 300000000;
  while (now_ns() < warm_end) {
    if (graph_launch)
      graph_launch(exec, NULL);
    else
      launch(f, w->grid, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
  }
  sync();
  const int64_t t0 = now_ns(), b0 = busy ? busy(w->dev) : 0;
  const int64_t end = t0 + (int64_t)(w->seconds * 1e9);
  while (now_ns() < end) {
    if (graph_launch)
      graph_launch(exec, NULL);
    else
      launch(f, w->grid, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
  }
  sync();
  const int64_t t1 = now_ns(), b1 = busy ? busy(w->dev) : 0;
  w->util = 100.0 * (double)(b1 - b0) / (double)(t1 - t0);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: vgpu-probe COMMAND ...\n");
    return 2;
  }
  const char* cmd = argv[1];
  if (strcmp(cmd, "exec") == 0 && argc > 2) {
    char* empty[] = {NULL};
    execve(argv[2], argv + 2, empty);
    perror("execve");
    return 127;
  }
  if (strcmp(cmd, "nvml") == 0 && argc > 2) {
    void* h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "vgpu-probe: %s\n", dlerror());
      return 3;
    }
    typedef int (*init_fn_)(void);
    typedef int (*handle_fn)(unsigned, void**);
    typedef int (*mem_fn)(void*, unsigned long long*);
    typedef int (*procs_fn)(void*, unsigned*, void*);
    ((init_fn_)dlsym(h, "nvmlInit_v2"))();
    void* dev = NULL;
    ((handle_fn)dlsym(h, "nvmlDeviceGetHandleByIndex_v2"))(0, &dev);
    unsigned long long m[3] = {0, 0, 0}; /* total, free, used */
    printf("nvml_result=%d\n", ((mem_fn)dlsym(h, "nvmlDeviceGetMemoryInfo"))(dev, m));
    printf("nvml_total=%llu\nnvml_free=%llu\nnvml_used=%llu\n", m[0], m[1], m[2]);
    procs_fn procs = (procs_fn)dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    unsigned n = 0;
    procs(dev, &n, NULL);
    struct {
      unsigned pid;
      unsigned long long used;
      unsigned gi, ci;
    } info[64];
    if (n > 64) n = 64;
    procs(dev, &n, info);
    printf("processes=%u\n", n);
    for (unsigned i = 0; i < n; ++i)
      printf("pid%u=%u\nused%u=%llu\n", i, info[i].pid, i, info[i].used);
    return 0;
  }
  if (strcmp(cmd, "lock") == 0 && argc > 2) {
    char err[512];
    jz_vgpu_region* r = jz_vgpu_region_open(argv[2], 1, err, sizeof err);
    if (!r) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    pthread_mutex_lock(&r->lock);
    printf("locked=1\n");
    fflush(stdout);
    wait_forever();
    return 0;
  }
  const char* ptsz = getenv("PROBE_PTSZ");
  g_flags = ptsz && *ptsz == '1' ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM : 0;
  const char* path = getenv("PROBE_DRIVER");
  g_driver = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!g_driver) {
    fprintf(stderr, "vgpu-probe: %s\n", dlerror());
    return 3;
  }
  g_getproc = (getproc_v2_fn)dlsym(g_driver, "cuGetProcAddress_v2");
  if (!g_getproc) {
    fprintf(stderr, "vgpu-probe: the driver has no cuGetProcAddress_v2\n");
    return 3;
  }
  if (strcmp(cmd, "info") == 0) {
    start(0);
    info();
  } else if (strcmp(cmd, "alloc") == 0 && argc > 3) {
    start(0);
    printf("result=%d\n", alloc(argv[2], strtoull(argv[3], NULL, 10)));
    info();
  } else if (strcmp(cmd, "fill") == 0 && argc > 2) {
    start(0);
    const size_t chunk = strtoull(argv[2], NULL, 10);
    size_t got = 0;
    CUdeviceptr p;
    while (((alloc_fn)need("cuMemAlloc"))(&p, chunk) == CUDA_SUCCESS) got += chunk;
    printf("got=%zu\n", got);
    info();
  } else if (strcmp(cmd, "hold") == 0 && argc > 2) {
    start(0);
    CUdeviceptr p;
    printf("result=%d\n", ((alloc_fn)need("cuMemAlloc"))(&p, strtoull(argv[2], NULL, 10)));
    printf("held=1\n");
    fflush(stdout);
    wait_forever();
  } else if (strcmp(cmd, "getproc") == 0 && argc > 2) {
    start(0);
    const size_t bytes = strtoull(argv[2], NULL, 10);
    const int versions[] = {11030, 11080, 12000, 12080, 13000};
    const int flags[] = {CU_GET_PROC_ADDRESS_DEFAULT, CU_GET_PROC_ADDRESS_LEGACY_STREAM,
                         CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM};
    for (size_t v = 0; v < sizeof versions / sizeof *versions; ++v) {
      for (size_t f = 0; f < sizeof flags / sizeof *flags; ++f) {
        /* The way each runtime asks: cuGetProcAddress itself first, then the rest. */
        void* gp = NULL;
        g_getproc("cuGetProcAddress", &gp, versions[v], (cuuint64_t)flags[f], NULL);
        void* a = NULL;
        void* as = NULL;
        if (versions[v] >= 12000) {
          ((getproc_v2_fn)gp)("cuMemAlloc", &a, versions[v], (cuuint64_t)flags[f], NULL);
          ((getproc_v2_fn)gp)("cuMemAllocAsync", &as, versions[v], (cuuint64_t)flags[f], NULL);
        } else {
          ((getproc_v1_fn)gp)("cuMemAlloc", &a, versions[v], (cuuint64_t)flags[f]);
          ((getproc_v1_fn)gp)("cuMemAllocAsync", &as, versions[v], (cuuint64_t)flags[f]);
        }
        CUdeviceptr p;
        printf("cuMemAlloc@%d/%d=%d\n", versions[v], flags[f], a ? ((alloc_fn)a)(&p, bytes) : -1);
        printf("cuMemAllocAsync@%d/%d=%d\n", versions[v], flags[f],
               as ? ((async_fn)as)(&p, bytes, NULL) : -1);
      }
    }
    /* And through dlsym with the driver's handle, as driver-API loaders do. */
    alloc_fn direct = (alloc_fn)dlsym(g_driver, "cuMemAlloc_v2");
    CUdeviceptr p;
    printf("dlsym:cuMemAlloc_v2=%d\n", direct ? direct(&p, bytes) : -1);
  } else if (strcmp(cmd, "bench") == 0 && argc > 2) {
    start(0);
    const long n = atol(argv[2]);
    CUmodule m;
    ((module_fn)need("cuModuleLoadData"))(&m, "");
    CUfunction f;
    ((function_fn)need("cuModuleGetFunction"))(&f, m, "sleep_0");
    launch_fn launch = (launch_fn)need("cuLaunchKernel");
    alloc_fn alloc_ = (alloc_fn)need("cuMemAlloc");
    free_fn free_ = (free_fn)need("cuMemFree");
    int64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) launch(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
    const int64_t t1 = now_ns();
    CUdeviceptr p;
    for (long i = 0; i < n; ++i) {
      alloc_(&p, 1 << 20);
      free_(p);
    }
    const int64_t t2 = now_ns();
    printf("launch_ns=%.1f\nalloc_free_ns=%.1f\n", (double)(t1 - t0) / (double)n,
           (double)(t2 - t1) / (double)n);
  } else if (strcmp(cmd, "compute") == 0 && argc > 5) {
    ((init_fn)need("cuInit"))(0);
    const int n = atoi(argv[2]);
    Worker w[16];
    pthread_t th[16];
    for (int i = 0; i < n && i < 16; ++i) {
      w[i] = (Worker){i,
                      atof(argv[3]),
                      (unsigned)atoi(argv[4]),
                      atoi(argv[5]),
                      argc > 6 && strcmp(argv[6], "graph") == 0,
                      0};
      pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < n && i < 16; ++i) {
      pthread_join(th[i], NULL);
      printf("util%d=%.2f\n", i, w[i].util);
    }
  } else {
    fprintf(stderr, "vgpu-probe: unknown command %s\n", cmd);
    return 2;
  }
  return 0;
}
#endif /* PROBE_DIRECT */
