/* The compute controller: holds a job's kernel time on a device at its core limit.
 *
 * Credit, in nanoseconds of kernel time, accrues at limit% of wall time (capped at a short
 * burst) in the job's shared region, so all of a job's processes draw on one budget per
 * device. A launch waits while the credit is negative, then is charged its estimated
 * duration; events recorded around it measure what it really took, and once it has run
 * the difference is settled. Estimates are per kernel (per wave of blocks, the device's
 * multiprocessor count wide), learned from those measurements.
 *
 * Unlike a token bucket refilled from sampled utilisation (HAMi-core), this is closed on
 * the job's own measured kernel time: it holds for a job alone on a card, on every device
 * of a multi-GPU job independently, and its accuracy does not depend on the SM count
 * (durations are measured, not derived from grid sizes). */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "gpu/vgpu/internal.h"

enum { kRing = 512, kKeys = 1024 };
static const int64_t kBurstNs = 5 * 1000 * 1000; /* credit kept for an idle device */

typedef struct {
  CUevent start, end;
  int64_t estimate_ns;
  uint64_t waves;
  const void* key;
} Pending;

typedef struct {
  Pending ring[kRing];
  int head, count;
  CUevent pool[2 * kRing + 8];
  int pooled;
  int sms;
  int64_t any_per_wave; /* the last measured per-wave time of any kernel */
  struct {
    const void* key;
    int64_t per_wave;
  } keys[kKeys];
} Device;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static Device g_dev[JZ_VGPU_MAX_DEVICES];
static jz_vgpu_compute g_local[JZ_VGPU_MAX_DEVICES]; /* without a shared region */

typedef CUresult (*event_create_fn)(CUevent*, unsigned int);
typedef CUresult (*event_record_fn)(CUevent, CUstream);
typedef CUresult (*event_fn)(CUevent);
typedef CUresult (*elapsed_fn)(float*, CUevent, CUevent);
typedef CUresult (*attribute_fn)(int*, int, CUdevice);
static struct {
  event_create_fn create;
  event_record_fn record, record_ptsz;
  event_fn query, sync, destroy;
  elapsed_fn elapsed;
  attribute_fn attribute;
  int ready;
} g_fn;

static void resolve(void) {
  if (g_fn.ready) return;
  g_fn.create = (event_create_fn)jz_driver_sym("cuEventCreate");
  g_fn.record = (event_record_fn)jz_driver_sym("cuEventRecord");
  g_fn.record_ptsz = (event_record_fn)jz_driver_sym("cuEventRecord_ptsz");
  if (!g_fn.record_ptsz) g_fn.record_ptsz = g_fn.record;
  g_fn.query = (event_fn)jz_driver_sym("cuEventQuery");
  g_fn.sync = (event_fn)jz_driver_sym("cuEventSynchronize");
  g_fn.destroy = (event_fn)jz_driver_sym("cuEventDestroy_v2");
  g_fn.elapsed = (elapsed_fn)jz_driver_sym("cuEventElapsedTime_v2");
  if (!g_fn.elapsed) g_fn.elapsed = (elapsed_fn)jz_driver_sym("cuEventElapsedTime");
  g_fn.attribute = (attribute_fn)jz_driver_sym("cuDeviceGetAttribute");
  g_fn.ready = 1;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The device's controller state: in the shared region (under its lock) or this process's. */
static jz_vgpu_compute* state_lock(int dev) {
  jz_vgpu_region* r = jz_vgpu_shared();
  if (r && jz_vgpu_region_lock(r) == 0) return &r->compute[dev];
  return &g_local[dev];
}
static void state_unlock(void) {
  jz_vgpu_region* r = jz_vgpu_shared();
  if (r) jz_vgpu_region_unlock(r);
}

static void refill(jz_vgpu_compute* c, int limit, int64_t now) {
  if (c->updated_ns == 0 || now < c->updated_ns) {
    c->updated_ns = now;
    if (c->credit_ns == 0) c->credit_ns = kBurstNs * limit / 100;
    return;
  }
  c->credit_ns += (now - c->updated_ns) * limit / 100;
  c->updated_ns = now;
  const int64_t cap = kBurstNs * limit / 100;
  if (c->credit_ns > cap) c->credit_ns = cap;
}

static int64_t* per_wave_of(Device* d, const void* key) {
  size_t h = ((uintptr_t)key >> 4) & (kKeys - 1);
  if (d->keys[h].key != key) {
    d->keys[h].key = key;
    d->keys[h].per_wave = 0;
  }
  return &d->keys[h].per_wave;
}

static CUevent take_event(Device* d) {
  if (d->pooled > 0) return d->pool[--d->pooled];
  CUevent e = NULL;
  if (g_fn.create && g_fn.create(&e, 0) != CUDA_SUCCESS) e = NULL;
  return e;
}
static void give_event(Device* d, CUevent e) {
  if (!e) return;
  if (d->pooled < (int)(sizeof d->pool / sizeof d->pool[0])) {
    d->pool[d->pooled++] = e;
  } else if (g_fn.destroy) {
    g_fn.destroy(e);
  }
}

/* Settles launches that have run (all of them when `wait`, else the finished ones). Under
 * g_mu. */
static void reap(int dev, int wait) {
  Device* d = &g_dev[dev];
  while (d->count > 0) {
    Pending* p = &d->ring[d->head];
    int64_t actual = p->estimate_ns;
    if (p->end) {
      CUresult q = g_fn.query(p->end);
      if (q == CUDA_ERROR_NOT_READY) {
        if (!wait) break;
        q = g_fn.sync(p->end);
      }
      float ms = 0;
      if (q == CUDA_SUCCESS && p->start && g_fn.elapsed &&
          g_fn.elapsed(&ms, p->start, p->end) == CUDA_SUCCESS && ms >= 0) {
        actual = (int64_t)((double)ms * 1e6);
      }
    }
    jz_vgpu_compute* c = state_lock(dev);
    c->credit_ns -= actual - p->estimate_ns;
    c->busy_ns += actual;
    c->launches += 1;
    state_unlock();
    const int64_t per_wave = actual / (int64_t)(p->waves ? p->waves : 1);
    int64_t* known = per_wave_of(d, p->key);
    *known = *known ? (*known * 3 + per_wave) / 4 : per_wave;
    d->any_per_wave = per_wave;
    give_event(d, p->start);
    give_event(d, p->end);
    d->head = (d->head + 1) % kRing;
    --d->count;
  }
}

static void sleep_ns(int64_t ns) {
  if (ns < 20000) ns = 20000;
  if (ns > 20000000) ns = 20000000;
  struct timespec t = {ns / 1000000000, ns % 1000000000};
  nanosleep(&t, NULL);
}

void jz_pace_begin(const void* key, uint64_t blocks, CUstream s, int per_thread,
                   jz_pace_ticket* t) {
  memset(t, 0, sizeof *t);
  t->dev = -1;
  const int dev = jz_vgpu_current_device();
  if (dev < 0 || dev >= JZ_VGPU_MAX_DEVICES) return;
  const int limit = jz_vgpu_cfg()->core_limit[dev];
  if (limit <= 0 || limit >= 100) return;
  pthread_mutex_lock(&g_mu);
  resolve();
  Device* d = &g_dev[dev];
  if (d->sms == 0) {
    int sms = 0;
    if (g_fn.attribute &&
        g_fn.attribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) != CUDA_SUCCESS) {
      sms = 0;
    }
    d->sms = sms > 0 ? sms : 1;
  }
  t->waves = blocks ? (blocks + (uint64_t)d->sms - 1) / (uint64_t)d->sms : 1;
  const int64_t* known = per_wave_of(d, key);
  const int64_t per_wave = *known ? *known : d->any_per_wave;
  t->estimate_ns = per_wave * (int64_t)t->waves;
  reap(dev, 0);
  /* A kernel never measured, with launches in flight: learn from them first, so that a
   * burst of unknown launches does not run unpaced. */
  if ((per_wave == 0 && d->count > 0) || d->count >= kRing - 1) {
    reap(dev, 1);
    const int64_t* learned = per_wave_of(d, key);
    t->estimate_ns = (*learned ? *learned : d->any_per_wave) * (int64_t)t->waves;
  }
  for (;;) {
    jz_vgpu_compute* c = state_lock(dev);
    refill(c, limit, now_ns());
    const int64_t credit = c->credit_ns;
    if (credit >= 0) c->credit_ns -= t->estimate_ns;
    state_unlock();
    if (credit >= 0) break;
    pthread_mutex_unlock(&g_mu);
    sleep_ns(-credit * 100 / limit);
    pthread_mutex_lock(&g_mu);
    reap(dev, 0);
  }
  t->dev = dev;
  t->per_thread = per_thread;
  t->key = key;
  t->start = take_event(d);
  if (t->start && (per_thread ? g_fn.record_ptsz : g_fn.record)(t->start, s) != CUDA_SUCCESS) {
    give_event(d, t->start);
    t->start = NULL;
  }
  pthread_mutex_unlock(&g_mu);
}

void jz_pace_end(jz_pace_ticket* t, CUstream s, CUresult launched) {
  if (t->dev < 0) return;
  pthread_mutex_lock(&g_mu);
  Device* d = &g_dev[t->dev];
  if (launched != CUDA_SUCCESS) {
    jz_vgpu_compute* c = state_lock(t->dev);
    c->credit_ns += t->estimate_ns;
    state_unlock();
    give_event(d, t->start);
    pthread_mutex_unlock(&g_mu);
    return;
  }
  CUevent end = t->start ? take_event(d) : NULL;
  if (end && (t->per_thread ? g_fn.record_ptsz : g_fn.record)(end, s) != CUDA_SUCCESS) {
    give_event(d, end);
    end = NULL;
  }
  if (!end) {
    give_event(d, t->start);
    t->start = NULL;
  }
  if (d->count >= kRing) reap(t->dev, 1);
  Pending* p = &d->ring[(d->head + d->count) % kRing];
  *p = (Pending){t->start, end, t->estimate_ns, t->waves, t->key};
  ++d->count;
  pthread_mutex_unlock(&g_mu);
}
