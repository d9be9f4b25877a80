/* The vGPU library's limits: from the sandbox's /etc/jizhan/vgpu.conf when it exists (the
 * executor writes it and mounts it read-only, so a job cannot loosen its limits by
 * changing or clearing its environment), else from the environment (outside the
 * platform's sandboxes). Both use the same names, KEY=VALUE a line in the file:
 *   JZ_VGPU_MEMORY_LIMIT      device memory a job may hold on each device: bytes, or a
 *                             number with k, m, g or t (KiB..TiB; "Mi", "Gi" too)
 *   JZ_VGPU_MEMORY_LIMIT_<i>  the same for CUDA device i (overrides the above)
 *   JZ_VGPU_CORE_LIMIT        percent of each device's compute time (1-100; 100 or unset:
 *                             no limit); JZ_VGPU_CORE_LIMIT_<i> per device
 *   JZ_VGPU_REGION            the shared accounting file of the job's processes
 *   JZ_VGPU_UUIDS             the devices' UUIDs in CUDA order (for NVML's queries)
 *   JZ_VGPU_DRIVER            the driver library, where it is not "libcuda.so.1" on the
 *                             loader's path
 * Lines starting with '#' and blank lines are ignored. */
#ifndef JZ_GPU_VGPU_CONFIG_H
#define JZ_GPU_VGPU_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { JZ_VGPU_MAX_DEVICES = 16 };

typedef struct {
  uint64_t memory_limit[JZ_VGPU_MAX_DEVICES]; /* bytes; 0: none */
  int core_limit[JZ_VGPU_MAX_DEVICES];        /* percent; 0: none */
  char region[512];
  char driver[512];
  char uuids[JZ_VGPU_MAX_DEVICES][96];
  int from_file; /* 1 when read from the configuration file */
} jz_vgpu_config;

/* "20000m" -> bytes. 0 on success, -1 (with *why) when it is not a size. */
int jz_vgpu_parse_size(const char* text, size_t len, uint64_t* out, const char** why);

/* Applies one KEY=VALUE (key and value given apart). Unknown keys are ignored; a bad value
 * returns -1 and sets *why. */
int jz_vgpu_config_set(jz_vgpu_config* c, const char* key, size_t key_len, const char* value,
                       size_t value_len, const char** why);

/* Parses a whole file's text. Returns the number of the first bad line (1-based) with *why
 * set, or 0 when every line was good. */
int jz_vgpu_parse_config(const char* text, size_t len, jz_vgpu_config* c, const char** why);

#ifdef __cplusplus
}
#endif

#endif /* JZ_GPU_VGPU_CONFIG_H */
