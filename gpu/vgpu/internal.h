/* Shared between the vGPU library's files (vgpu.c, limiter.c); not an interface. */
#ifndef JZ_GPU_VGPU_INTERNAL_H
#define JZ_GPU_VGPU_INTERNAL_H

#include <stdint.h>

#include "gpu/vgpu/config.h"
#include "gpu/vgpu/cuda_abi.h"
#include "gpu/vgpu/region.h"

void* jz_real_dlsym(void* handle, const char* name);
void* jz_driver_sym(const char* name);
void jz_vgpu_log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void jz_vgpu_init(void);
const jz_vgpu_config* jz_vgpu_cfg(void);
jz_vgpu_region* jz_vgpu_shared(void); /* NULL when it could not be opened */
int jz_vgpu_core_limited(void);
int jz_vgpu_current_device(void);
/* Bytes the job holds on a device; its live processes there (pid, bytes), at most `max`. */
uint64_t jz_vgpu_job_used(int dev);
int jz_vgpu_job_processes(int dev, int32_t* pids, uint64_t* used, int max);

/* NVML (nvml_hooks.c): our function for an NVML name, or NULL; the handle a program
 * looked one up in. */
void* jz_vgpu_nvml_hook(const char* name);
void jz_vgpu_note_nvml_handle(void* handle);

/* The compute controller (limiter.c). A launch on a device with a core limit waits for
 * credit, which accrues at the limit's share of wall time; it is charged the kernel's
 * estimated time, corrected by the time its events measured once it has run. */
typedef struct {
  int dev; /* -1: not paced */
  int per_thread;
  int64_t estimate_ns;
  uint64_t waves;
  const void* key;
  CUevent start;
} jz_pace_ticket;
void jz_pace_begin(const void* key, uint64_t blocks, CUstream s, int per_thread, jz_pace_ticket* t);
void jz_pace_end(jz_pace_ticket* t, CUstream s, CUresult launched);

#define JZ_PACED(key, blocks, stream, per_thread, call)          \
  do {                                                           \
    jz_pace_ticket t_;                                           \
    jz_pace_begin((key), (blocks), (stream), (per_thread), &t_); \
    const CUresult r_ = (call);                                  \
    jz_pace_end(&t_, (stream), r_);                              \
    return r_;                                                   \
  } while (0)

#endif /* JZ_GPU_VGPU_INTERNAL_H */
