/* The shared accounting region (region.h). */
#define _GNU_SOURCE
#include "gpu/vgpu/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t jz_vgpu_process_start(int32_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  /* Fields after the command name (which may hold spaces and parentheses): state is the
   * 3rd field, starttime the 22nd. */
  const char* p = strrchr(buf, ')');
  if (!p) return 0;
  int field = 2;
  for (++p; *p && field < 21; ++p) {
    if (*p == ' ') ++field;
  }
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
  return v ? v : 1;
}

static void say(char* err, size_t len, const char* what, const char* path, int e) {
  if (err && len) snprintf(err, len, "%s %s: %s", what, path, e ? strerror(e) : "");
}

static int init_region(jz_vgpu_region* r) {
  memset(r, 0, sizeof *r);
  r->version = JZ_VGPU_REGION_VERSION;
  r->size = (uint32_t)sizeof *r;
  r->slot_count = JZ_VGPU_MAX_SLOTS;
  r->device_count = JZ_VGPU_MAX_DEVICES;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(&r->lock, &a);
  pthread_mutexattr_destroy(&a);
  if (rc != 0) return rc;
  __atomic_store_n(&r->magic, JZ_VGPU_REGION_MAGIC, __ATOMIC_RELEASE);
  return 0;
}

jz_vgpu_region* jz_vgpu_region_open(const char* path, int create, char* err, size_t err_len) {
  const int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    say(err, err_len, "cannot open the vGPU region", path, errno);
    return NULL;
  }
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      say(err, err_len, "cannot lock the vGPU region", path, errno);
      close(fd);
      return NULL;
    }
  }
  jz_vgpu_region* r = NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    say(err, err_len, "the vGPU region is not a regular file:", path, 0);
    goto out;
  }
  if (st.st_size == 0 && ftruncate(fd, (off_t)sizeof *r) != 0) {
    say(err, err_len, "cannot size the vGPU region", path, errno);
    goto out;
  }
  if (st.st_size != 0 && st.st_size != (off_t)sizeof *r) {
    if (err && err_len) {
      snprintf(err, err_len,
               "%s is not a vGPU region of this library's version %d (%lld bytes, not %zu)", path,
               JZ_VGPU_REGION_VERSION, (long long)st.st_size, sizeof *r);
    }
    goto out;
  }
  void* m = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    say(err, err_len, "cannot map the vGPU region", path, errno);
    goto out;
  }
  r = (jz_vgpu_region*)m;
  const uint64_t magic = __atomic_load_n(&r->magic, __ATOMIC_ACQUIRE);
  if (magic == 0) {
    /* New, or its creator died before finishing (we hold the flock: nobody uses it). */
    if (init_region(r) != 0) {
      say(err, err_len, "cannot initialise the vGPU region", path, 0);
      munmap(m, sizeof *r);
      r = NULL;
    }
  } else if (magic != JZ_VGPU_REGION_MAGIC || r->version != JZ_VGPU_REGION_VERSION ||
             r->size != sizeof *r) {
    if (err && err_len) {
      snprintf(err, err_len, "%s holds a vGPU region of another version (%u; this library: %d)",
               path, r->version, JZ_VGPU_REGION_VERSION);
    }
    munmap(m, sizeof *r);
    r = NULL;
  }
out:
  flock(fd, LOCK_UN);
  close(fd);
  return r;
}

void jz_vgpu_region_close(jz_vgpu_region* r) {
  if (r) munmap(r, sizeof *r);
}

static void free_slot(jz_vgpu_region* r, jz_vgpu_slot* s) {
  for (int d = 0; d < JZ_VGPU_MAX_DEVICES; ++d) {
    r->used[d] -= s->used[d] < r->used[d] ? s->used[d] : r->used[d];
  }
  memset(s, 0, sizeof *s);
}

static void recount(jz_vgpu_region* r) {
  memset(r->used, 0, sizeof r->used);
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS; ++i) {
    if (r->slots[i].pid == 0) continue;
    for (int d = 0; d < JZ_VGPU_MAX_DEVICES; ++d) r->used[d] += r->slots[i].used[d];
  }
}

int jz_vgpu_region_reap(jz_vgpu_region* r) {
  int freed = 0;
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS; ++i) {
    jz_vgpu_slot* s = &r->slots[i];
    if (s->pid == 0) continue;
    if (jz_vgpu_process_start(s->pid) != s->start_time) {
      free_slot(r, s);
      ++freed;
    }
  }
  return freed;
}

void jz_vgpu_region_charge(jz_vgpu_region* r, jz_vgpu_slot* s, int device, uint64_t bytes) {
  s->used[device] += bytes;
  r->used[device] += bytes;
}

void jz_vgpu_region_uncharge(jz_vgpu_region* r, jz_vgpu_slot* s, int device, uint64_t bytes) {
  if (bytes > s->used[device]) bytes = s->used[device];
  s->used[device] -= bytes;
  r->used[device] -= bytes < r->used[device] ? bytes : r->used[device];
}

void jz_vgpu_region_clear(jz_vgpu_region* r) {
  memset(r->slots, 0, sizeof r->slots);
  memset(r->used, 0, sizeof r->used);
  memset(r->compute, 0, sizeof r->compute);
}

int jz_vgpu_region_lock(jz_vgpu_region* r) {
  int rc = pthread_mutex_lock(&r->lock);
  if (rc == EOWNERDEAD) {
    /* Its holder died inside: what it held goes with its slot. */
    pthread_mutex_consistent(&r->lock);
    jz_vgpu_region_reap(r);
    recount(r); /* it may have died between a slot and the sum */
    rc = 0;
  }
  return rc;
}

void jz_vgpu_region_unlock(jz_vgpu_region* r) { pthread_mutex_unlock(&r->lock); }

jz_vgpu_slot* jz_vgpu_region_slot(jz_vgpu_region* r, int32_t pid, uint64_t start_time) {
  jz_vgpu_slot* empty = NULL;
  for (int i = 0; i < JZ_VGPU_MAX_SLOTS; ++i) {
    jz_vgpu_slot* s = &r->slots[i];
    if (s->pid == pid && s->start_time == start_time) return s;
    if (s->pid == pid) free_slot(r, s); /* an earlier process with this pid */
    if (s->pid == 0 && !empty) empty = s;
  }
  if (!empty && jz_vgpu_region_reap(r) > 0) {
    for (int i = 0; i < JZ_VGPU_MAX_SLOTS && !empty; ++i) {
      if (r->slots[i].pid == 0) empty = &r->slots[i];
    }
  }
  if (empty) {
    memset(empty, 0, sizeof *empty);
    empty->start_time = start_time;
    empty->pid = pid;
  }
  return empty;
}

uint64_t jz_vgpu_region_used(const jz_vgpu_region* r, int device) {
  if (device < 0 || device >= JZ_VGPU_MAX_DEVICES) return 0;
  return r->used[device];
}
