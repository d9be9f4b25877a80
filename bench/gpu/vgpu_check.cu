// The programs bench/gpu/vgpu runs under the vGPU library on a real GPU (CUDA runtime and
// driver API). Build: nvcc -O2 -o vgpu_check bench/gpu/vgpu_check.cu -lcuda
//   vgpu_check info                      cudaMemGetInfo: total=, free=
//   vgpu_check fill|fill_async|fill_managed|driver_fill CHUNK_MIB
//                                        allocates CHUNK_MIB at a time until refused:
//                                        allocated_mib=, error=
//   vgpu_check hold MIB SECONDS          allocates, says held=1, waits
//   vgpu_check spin SECONDS              compute-bound kernels: kernels_per_s=
//   vgpu_check launch N                  N empty launches: ns_per_launch=
#include <cuda.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

__global__ void spin(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}
__global__ void empty() {}

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argv[1];
  const size_t mib = 1 << 20;
  if (!std::strcmp(mode, "info")) {
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    std::printf("total=%zu\nfree=%zu\n", t / mib, f / mib);
  } else if (!std::strcmp(mode, "driver_fill") && argc > 2) {
    cuInit(0);
    CUdevice d;
    CUcontext ctx;
    cuDeviceGet(&d, 0);
    cuDevicePrimaryCtxRetain(&ctx, d);
    cuCtxSetCurrent(ctx);
    const size_t chunk = std::strtoull(argv[2], nullptr, 10) * mib;
    size_t got = 0;
    CUdeviceptr p;
    CUresult r;
    while ((r = cuMemAlloc(&p, chunk)) == CUDA_SUCCESS) got += chunk;
    const char* name = "";
    cuGetErrorName(r, &name);
    std::printf("allocated_mib=%zu\nerror=%s\n", got / mib, name);
  } else if (!std::strncmp(mode, "fill", 4) && argc > 2) {
    const size_t chunk = std::strtoull(argv[2], nullptr, 10) * mib;
    size_t got = 0;
    void* p;
    cudaError_t e;
    for (;;) {
      if (!std::strcmp(mode, "fill_async")) {
        e = cudaMallocAsync(&p, chunk, 0);
        if (e == cudaSuccess) e = cudaStreamSynchronize(0);
      } else if (!std::strcmp(mode, "fill_managed")) {
        e = cudaMallocManaged(&p, chunk);
      } else {
        e = cudaMalloc(&p, chunk);
      }
      if (e != cudaSuccess) break;
      got += chunk;
    }
    std::printf("allocated_mib=%zu\nerror=%s\n", got / mib, cudaGetErrorName(e));
  } else if (!std::strcmp(mode, "hold") && argc > 3) {
    void* p = nullptr;
    cudaFree(0);
    const size_t n = std::strtoull(argv[2], nullptr, 10) * mib;
    if (n) std::printf("result=%d\n", (int)cudaMalloc(&p, n));
    std::printf("held=1\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(argv[3])));
  } else if (!std::strcmp(mode, "spin") && argc > 2) {
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    int khz = 0;
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    const long long cycles = (long long)khz * 1;                  // about 1 ms a kernel
    for (int i = 0; i < 50; ++i) spin<<<sms * 2, 128>>>(cycles);  // warm up, learn
    cudaDeviceSynchronize();
    const double seconds = std::atof(argv[2]), t0 = now_s();
    long n = 0;
    while (now_s() - t0 < seconds) {
      spin<<<sms * 2, 128>>>(cycles);
      ++n;
    }
    cudaDeviceSynchronize();
    std::printf("kernels_per_s=%.2f\n", n / (now_s() - t0));
  } else if (!std::strcmp(mode, "launch") && argc > 2) {
    const long n = std::atol(argv[2]);
    empty<<<1, 1>>>();
    cudaDeviceSynchronize();
    const double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      empty<<<1, 1>>>();
      if ((i & 1023) == 1023) cudaDeviceSynchronize();
    }
    cudaDeviceSynchronize();
    std::printf("ns_per_launch=%.1f\n", (now_s() - t0) * 1e9 / n);
  } else {
    return 2;
  }
  return 0;
}
