/* jzvgpu-tool: prints a job's vGPU region (gpu/vgpu/region.h), or clears it.
 *   jzvgpu-tool REGION          limits, each process's use, the compute controller
 *   jzvgpu-tool --reset REGION  frees every slot and the controller's state
 * A job's region is its folder's vgpu/region on the node (/run/jizhan/vgpu/region inside
 * the job). Reading takes the region's lock briefly and changes nothing; pids are those
 * the job sees (its own pid namespace). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gpu/vgpu/region.h"

static void usage(FILE* to) {
  fprintf(to,
          "usage: jzvgpu-tool [--reset] REGION\n"
          "Prints the vGPU accounting region of a job (its folder's vgpu/region): the\n"
          "limits, what each of its processes holds on each device, and the compute\n"
          "controller's state. --reset frees every process slot and the controller's state\n"
          "(only for a job whose processes are all gone). docs/VGPU.md.\n");
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

int main(int argc, char** argv) {
  int reset = 0;
  const char* path = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--reset") == 0) {
      reset = 1;
    } else if (!path && argv[i][0] != '-') {
      path = argv[i];
    } else {
      fprintf(stderr, "jzvgpu-tool: unexpected '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  char err[640];
  jz_vgpu_region* r = jz_vgpu_region_open(path, 0, err, sizeof err);
  if (!r) {
    fprintf(stderr, "jzvgpu-tool: %s\n", err);
    return 1;
  }
  /* The job can write its region: never wait on its lock for long. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  const int locked = pthread_mutex_timedlock(&r->lock, &until);
  if (locked == EOWNERDEAD) pthread_mutex_consistent(&r->lock);
  if (locked != 0 && locked != EOWNERDEAD) {
    fprintf(stderr, "jzvgpu-tool: the region's lock is held; reading without it\n");
    if (reset) return 1;
  }
  if (reset) {
    jz_vgpu_region_clear(r);
    pthread_mutex_unlock(&r->lock);
    jz_vgpu_region_close(r);
    printf("%s: every slot and the compute state cleared\n", path);
    return 0;
  }
  printf("region %s: version %u, %u slots\n", path, r->version, r->slot_count);
  for (int d = 0; d < JZ_VGPU_MAX_DEVICES; ++d) {
    const uint64_t used = jz_vgpu_region_used(r, d);
    const jz_vgpu_compute* c = &r->compute[d];
    /* Device 0 always; the others where something happened. */
    if (d > 0 && !used && !c->launches) continue;
    printf("device %d: memory ", d);
    if (r->memory_limit[d]) {
      printf("%.0f of %.0f MiB", mib(used), mib(r->memory_limit[d]));
    } else {
      printf("%.0f MiB (no limit)", mib(used));
    }
    if (r->core_limit[d]) {
      printf("; compute limit %d%%, %.3f s of kernels in %lld launches, credit %.3f ms",
             r->core_limit[d], (double)c->busy_ns / 1e9, (long long)c->launches,
             (double)c->credit_ns / 1e6);
    }
    printf("\n");
  }
  int processes = 0;
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS; ++i) {
    const jz_vgpu_slot* s = &r->slots[i];
    if (s->pid == 0) continue;
    ++processes;
    printf("process %d:", s->pid);
    for (int d = 0; d < JZ_VGPU_MAX_DEVICES; ++d) {
      if (s->used[d]) printf(" device %d %.1f MiB", d, mib(s->used[d]));
    }
    printf("\n");
  }
  if (processes == 0) printf("no process holds memory\n");
  if (locked == 0 || locked == EOWNERDEAD) pthread_mutex_unlock(&r->lock);
  jz_vgpu_region_close(r);
  return 0;
}
