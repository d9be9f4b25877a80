// A steady CUDA load for bench/gpu/monitor: holds MIB of device memory and keeps the GPU
// busy with a compute kernel for SECONDS, so NVML and nvidia-smi have something to agree on.
//
//   load MIB SECONDS
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

__global__ void spin(float* a, size_t n, int rounds) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  float x = a[i];
  for (int r = 0; r < rounds; ++r) x = x * 1.000001f + 0.5f;
  a[i] = x;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: load MIB SECONDS\n");
    return 2;
  }
  const size_t mib = std::strtoull(argv[1], nullptr, 10);
  const double seconds = std::atof(argv[2]);
  float* a = nullptr;
  if (cudaMalloc(&a, mib << 20) != cudaSuccess) {
    std::fprintf(stderr, "load: cudaMalloc of %zu MiB failed\n", mib);
    return 1;
  }
  cudaMemset(a, 0, mib << 20);
  const size_t n = 1 << 24;  // the kernel touches the first 64 MiB
  std::printf("load: holding %zu MiB for %.0f s\n", mib, seconds);
  std::fflush(stdout);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    spin<<<(n + 255) / 256, 256>>>(a, n, 4096);
    cudaDeviceSynchronize();
  }
  cudaFree(a);
  return 0;
}
