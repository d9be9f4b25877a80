// Prints what a job sees of the GPUs: the device count and each device's UUID and
// memory, as the CUDA runtime reports them. Built by bench/gpu/jobs_gpu_check.
#include <cuda_runtime.h>

#include <cstdio>

int main() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    std::printf("cuda error: %s\n", cudaGetErrorString(cudaGetLastError()));
    return 1;
  }
  std::printf("devices %d\n", n);
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    cudaGetDeviceProperties(&p, i);
    std::printf("GPU-");
    for (int b = 0; b < 16; ++b) {
      std::printf("%02x", static_cast<unsigned char>(p.uuid.bytes[b]));
      if (b == 3 || b == 5 || b == 7 || b == 9) std::printf("-");
    }
    std::printf(" %zu MiB\n", p.totalGlobalMem >> 20);
  }
  return 0;
}
