/* The shared accounting region of one job's processes: a file that every process of the
 * job maps (MAP_SHARED), with a slot per process holding what it has allocated on each
 * device, so that a limit holds for the job and not per process.
 *
 * Format (version 1, native byte order; the executor and the library run on one machine):
 *   header: magic "JZVGPU01", version, sizes, a process-shared robust mutex, the limits
 *           (for jzvgpu-tool), per device the compute controller's state;
 *   slots:  JZ_VGPU_MAX_SLOTS of {pid, start time, used bytes per device}.
 * Crash safety: the mutex is robust, so a process killed while holding it leaves it to the
 * next locker (EOWNERDEAD), which then frees every slot whose process is gone (its pid no
 * longer runs with the start time recorded) and recounts the per-device sums from the
 * slots. A slot's counters are single 64-bit words, so a process killed mid-update leaves
 * a value that is simply freed with its slot. Creation
 * and initialisation run under flock(2), which the kernel releases if the creator dies. */
#ifndef JZ_GPU_VGPU_REGION_H
#define JZ_GPU_VGPU_REGION_H

#include <pthread.h>
#include <stdint.h>

#include "gpu/vgpu/config.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { JZ_VGPU_MAX_SLOTS = 256, JZ_VGPU_REGION_VERSION = 1 };
#define JZ_VGPU_REGION_MAGIC 0x31305550475a564aull /* "JZVGPU01" */

typedef struct {
  int32_t pid;         /* 0: free */
  int32_t flags;       /* reserved */
  uint64_t start_time; /* /proc/<pid>/stat field 22, to tell a reused pid */
  uint64_t used[JZ_VGPU_MAX_DEVICES];
} jz_vgpu_slot;

typedef struct {
  int64_t credit_ns;  /* the compute controller's credit (may go negative) */
  int64_t updated_ns; /* CLOCK_MONOTONIC of the last refill */
  int64_t busy_ns;    /* kernel time measured on this device so far */
  int64_t launches;
} jz_vgpu_compute;

typedef struct {
  uint64_t magic;
  uint32_t version, size;
  uint32_t slot_count, device_count;
  pthread_mutex_t lock;
  char lock_pad[64 - sizeof(pthread_mutex_t) % 64];
  uint64_t memory_limit[JZ_VGPU_MAX_DEVICES];
  int32_t core_limit[JZ_VGPU_MAX_DEVICES];
  uint64_t used[JZ_VGPU_MAX_DEVICES]; /* the sum of the slots', kept with them */
  jz_vgpu_compute compute[JZ_VGPU_MAX_DEVICES];
  jz_vgpu_slot slots[JZ_VGPU_MAX_SLOTS];
} jz_vgpu_region;

/* Opens (creating and initialising when new or empty) the region at `path`, mode 0600.
 * Returns NULL with a message in `err` when it cannot (permissions, another version). */
jz_vgpu_region* jz_vgpu_region_open(const char* path, int create, char* err, size_t err_len);
void jz_vgpu_region_close(jz_vgpu_region* r);

/* Locks; a lock left by a dead holder is made consistent and dead slots freed. 0 on
 * success. */
int jz_vgpu_region_lock(jz_vgpu_region* r);
void jz_vgpu_region_unlock(jz_vgpu_region* r);

/* Under the lock: this process's slot (claimed on first use), or NULL when all are taken
 * by live processes. */
jz_vgpu_slot* jz_vgpu_region_slot(jz_vgpu_region* r, int32_t pid, uint64_t start_time);
/* Under the lock: frees the slots of processes that are gone; returns how many. */
int jz_vgpu_region_reap(jz_vgpu_region* r);
/* Under the lock: bytes the job holds on `device` (the slots' sum, kept as they change). */
uint64_t jz_vgpu_region_used(const jz_vgpu_region* r, int device);
/* Under the lock: a slot takes or gives back bytes on a device (never below zero). */
void jz_vgpu_region_charge(jz_vgpu_region* r, jz_vgpu_slot* s, int device, uint64_t bytes);
void jz_vgpu_region_uncharge(jz_vgpu_region* r, jz_vgpu_slot* s, int device, uint64_t bytes);
/* Under the lock: every slot and the sums cleared (jzvgpu-tool --reset). */
void jz_vgpu_region_clear(jz_vgpu_region* r);

/* A process's start time (clock ticks since boot), 0 when it does not exist. */
uint64_t jz_vgpu_process_start(int32_t pid);

#ifdef __cplusplus
}
#endif

#endif /* JZ_GPU_VGPU_REGION_H */
