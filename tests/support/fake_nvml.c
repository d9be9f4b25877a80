/* A test double of NVML at its C ABI (libnvidia-ml.so.1), for machines without NVIDIA
 * GPUs; loaded through JIZHAN_NVML_LIBRARY or the agent's --nvml-library.
 *
 * Without a scenario: FAKE_NVML_GPUS devices (default 2), each FAKE_NVML_MEMORY_MIB of
 * memory (default 81559), named "NVIDIA H100 80GB HBM3", UUIDs GPU-fake-0000-<index>.
 *
 * With FAKE_NVML_SCENARIO=FILE: the devices, processes and XID events the file describes,
 * read again whenever the file changes, so a test can change them while a program runs.
 * One item per line, fields as key=value ('#' starts a comment; '_' in a name is a space):
 *   gpu uuid=GPU-a name=NVIDIA_H100 bus=00000000:17:00.0 minor=0 memory_mib=81559
 *       used_mib=0 reserved_mib=0 util=0 mem_util=0 enc=0 dec=0 sm_clock=1980
 *       mem_clock=2619 temp=40 mem_temp=45 power_mw=70000 energy_mj=0 replays=0 sbe=0
 *       dbe=0 remap_corr=0 remap_unc=0 remap_pending=0 remap_fail=0 reasons=0 lost=0
 *       fail=power,name     (these calls fail with NVML_ERROR_UNKNOWN on this device)
 *   process gpu=0 pid=1234 used_mib=500 sm=30 mem=10 enc=0 dec=0
 *   xid gpu=0 code=79       (delivered once, in file order, by nvmlEventSetWait)
 * lost=1 makes every query of the device answer NVML_ERROR_GPU_IS_LOST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
  kSuccess = 0,
  kInvalid = 2,
  kNotFound = 6,
  kInsufficient = 7,
  kTimeout = 10,
  kLost = 15,
  kUnknown = 999
};
enum { kMaxGpus = 64, kMaxProcs = 4096, kMaxXids = 1024 };

typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned version;
  unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
  unsigned gpu, memory;
} nvmlUtilization_t;
typedef struct {
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
} nvmlPciInfo_t;
typedef struct {
  unsigned pid;
  unsigned long long used;
  unsigned gi, ci;
} nvmlProcessInfo_t;
typedef struct {
  unsigned pid;
  unsigned long long ts;
  unsigned sm, mem, enc, dec;
} nvmlProcessUtilizationSample_t;
typedef struct {
  void* device;
  unsigned long long type, data;
  unsigned gi, ci;
} nvmlEventData_t;
typedef struct {
  unsigned field_id, scope_id;
  long long timestamp, latency;
  int value_type, ret;
  union {
    double d;
    unsigned ui;
    unsigned long long ull;
  } value;
} nvmlFieldValue_t;

typedef struct {
  char uuid[80], name[96], bus[32], fail[256];
  long long minor, memory_mib, used_mib, reserved_mib, util, mem_util, enc, dec, sm_clock,
      mem_clock, temp, mem_temp, power_mw, energy_mj, replays, sbe, dbe, remap_corr, remap_unc,
      remap_pending, remap_fail, reasons, lost;
} Gpu;
typedef struct {
  long long gpu, pid, used_mib, sm, mem, enc, dec;
} Proc;
typedef struct {
  long long gpu, code;
} Xid;

static Gpu gpus[kMaxGpus];
static unsigned ngpus;
static Proc procs[kMaxProcs];
static unsigned nprocs;
static Xid xids[kMaxXids];
static unsigned nxids, delivered;
static struct timespec loaded_mtime;
static off_t loaded_size = -1;

static void defaults(Gpu* g, unsigned i, long long memory_mib) {
  memset(g, 0, sizeof *g);
  snprintf(g->uuid, sizeof g->uuid, "GPU-fake-0000-%u", i);
  snprintf(g->name, sizeof g->name, "NVIDIA H100 80GB HBM3");
  snprintf(g->bus, sizeof g->bus, "00000000:%02X:00.0", 0x17 + i);
  g->minor = i;
  g->memory_mib = memory_mib;
  g->sm_clock = 1980;
  g->mem_clock = 2619;
  g->temp = 35;
  g->mem_temp = 40;
  g->power_mw = 70000;
}

static void text_field(char* out, size_t n, const char* v) {
  snprintf(out, n, "%s", v);
  for (char* p = out; *p; ++p) {
    if (*p == '_') *p = ' ';
  }
}

static void set_gpu(Gpu* g, const char* k, const char* v) {
  struct {
    const char* key;
    long long* field;
  } nums[] = {{"minor", &g->minor},
              {"memory_mib", &g->memory_mib},
              {"used_mib", &g->used_mib},
              {"reserved_mib", &g->reserved_mib},
              {"util", &g->util},
              {"mem_util", &g->mem_util},
              {"enc", &g->enc},
              {"dec", &g->dec},
              {"sm_clock", &g->sm_clock},
              {"mem_clock", &g->mem_clock},
              {"temp", &g->temp},
              {"mem_temp", &g->mem_temp},
              {"power_mw", &g->power_mw},
              {"energy_mj", &g->energy_mj},
              {"replays", &g->replays},
              {"sbe", &g->sbe},
              {"dbe", &g->dbe},
              {"remap_corr", &g->remap_corr},
              {"remap_unc", &g->remap_unc},
              {"remap_pending", &g->remap_pending},
              {"remap_fail", &g->remap_fail},
              {"reasons", &g->reasons},
              {"lost", &g->lost}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; ++i) {
    if (strcmp(k, nums[i].key) == 0) {
      *nums[i].field = atoll(v);
      return;
    }
  }
  if (strcmp(k, "uuid") == 0) snprintf(g->uuid, sizeof g->uuid, "%s", v);
  if (strcmp(k, "name") == 0) text_field(g->name, sizeof g->name, v);
  if (strcmp(k, "bus") == 0) snprintf(g->bus, sizeof g->bus, "%s", v);
  if (strcmp(k, "fail") == 0) snprintf(g->fail, sizeof g->fail, ",%s,", v);
}

static void set_proc(Proc* p, const char* k, const char* v) {
  const long long x = atoll(v);
  if (strcmp(k, "gpu") == 0) p->gpu = x;
  if (strcmp(k, "pid") == 0) p->pid = x;
  if (strcmp(k, "used_mib") == 0) p->used_mib = x;
  if (strcmp(k, "sm") == 0) p->sm = x;
  if (strcmp(k, "mem") == 0) p->mem = x;
  if (strcmp(k, "enc") == 0) p->enc = x;
  if (strcmp(k, "dec") == 0) p->dec = x;
}

/* Reads the scenario again when it changed; without one, the environment's defaults. */
static void load(void) {
  const char* path = getenv("FAKE_NVML_SCENARIO");
  if (!path || !*path) {
    const char* n = getenv("FAKE_NVML_GPUS");
    const char* mib = getenv("FAKE_NVML_MEMORY_MIB");
    ngpus = n ? (unsigned)atoi(n) : 2u;
    if (ngpus > kMaxGpus) ngpus = kMaxGpus;
    for (unsigned i = 0; i < ngpus; ++i) defaults(&gpus[i], i, mib ? atoll(mib) : 81559);
    nprocs = 0;
    nxids = 0;
    return;
  }
  struct stat st;
  if (stat(path, &st) != 0) return;
  if (st.st_size == loaded_size && st.st_mtim.tv_sec == loaded_mtime.tv_sec &&
      st.st_mtim.tv_nsec == loaded_mtime.tv_nsec) {
    return;
  }
  FILE* f = fopen(path, "r");
  if (!f) return;
  loaded_size = st.st_size;
  loaded_mtime = st.st_mtim;
  ngpus = nprocs = nxids = 0;
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    char* hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char* save = NULL;
    char* kind = strtok_r(line, " \t\r\n", &save);
    if (!kind) continue;
    Gpu* g = NULL;
    Proc* p = NULL;
    Xid* x = NULL;
    if (strcmp(kind, "gpu") == 0 && ngpus < kMaxGpus) {
      g = &gpus[ngpus];
      defaults(g, ngpus, 81559);
      ++ngpus;
    } else if (strcmp(kind, "process") == 0 && nprocs < kMaxProcs) {
      p = &procs[nprocs++];
      memset(p, 0, sizeof *p);
    } else if (strcmp(kind, "xid") == 0 && nxids < kMaxXids) {
      x = &xids[nxids++];
      memset(x, 0, sizeof *x);
    } else {
      continue;
    }
    for (char* kv; (kv = strtok_r(NULL, " \t\r\n", &save));) {
      char* eq = strchr(kv, '=');
      if (!eq) continue;
      *eq = '\0';
      if (g) set_gpu(g, kv, eq + 1);
      if (p) set_proc(p, kv, eq + 1);
      if (x && strcmp(kv, "gpu") == 0) x->gpu = atoll(eq + 1);
      if (x && strcmp(kv, "code") == 0) x->code = atoll(eq + 1);
    }
  }
  fclose(f);
}

/* The device behind a handle, or NULL; *rc says why not (lost, failing call). */
static Gpu* dev(void* device, const char* call, int* rc) {
  load();
  const size_t i = (size_t)device - 1;
  if (i >= ngpus) {
    *rc = kInvalid;
    return NULL;
  }
  Gpu* g = &gpus[i];
  if (g->lost) {
    *rc = kLost;
    return NULL;
  }
  char needle[64];
  snprintf(needle, sizeof needle, ",%s,", call);
  if (strstr(g->fail, needle)) {
    *rc = kUnknown;
    return NULL;
  }
  *rc = kSuccess;
  return g;
}

#define DEV(call)                  \
  int rc;                          \
  Gpu* g = dev(device, call, &rc); \
  if (!g) return rc;

int nvmlInit_v2(void) {
  load();
  return kSuccess;
}
int nvmlShutdown(void) { return kSuccess; }
const char* nvmlErrorString(int rc) { return rc == 0 ? "Success" : "Fake error"; }
int nvmlSystemGetDriverVersion(char* out, unsigned len) {
  snprintf(out, len, "580.0-fake");
  return kSuccess;
}
int nvmlDeviceGetCount_v2(unsigned* n) {
  load();
  *n = ngpus;
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** device) {
  load();
  if (i >= ngpus) return kInvalid;
  *device = (void*)(size_t)(i + 1);
  return kSuccess;
}
int nvmlDeviceGetUUID(void* device, char* out, unsigned len) {
  DEV("uuid");
  snprintf(out, len, "%s", g->uuid);
  return kSuccess;
}
int nvmlDeviceGetName(void* device, char* out, unsigned len) {
  DEV("name");
  snprintf(out, len, "%s", g->name);
  return kSuccess;
}
int nvmlDeviceGetPciInfo_v3(void* device, nvmlPciInfo_t* pci) {
  DEV("pci");
  memset(pci, 0, sizeof *pci);
  snprintf(pci->bus_id, sizeof pci->bus_id, "%s", g->bus);
  return kSuccess;
}
int nvmlDeviceGetMinorNumber(void* device, unsigned* minor) {
  DEV("minor");
  *minor = (unsigned)g->minor;
  return kSuccess;
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization_t* u) {
  DEV("util");
  u->gpu = (unsigned)g->util;
  u->memory = (unsigned)g->mem_util;
  return kSuccess;
}
int nvmlDeviceGetEncoderUtilization(void* device, unsigned* util, unsigned* period) {
  DEV("enc");
  *util = (unsigned)g->enc;
  *period = 167000;
  return kSuccess;
}
int nvmlDeviceGetDecoderUtilization(void* device, unsigned* util, unsigned* period) {
  DEV("dec");
  *util = (unsigned)g->dec;
  *period = 167000;
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* m) {
  DEV("memory");
  m->total = (unsigned long long)g->memory_mib << 20;
  m->used = (unsigned long long)(g->used_mib + g->reserved_mib) << 20;
  m->free = m->total - m->used;
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo_v2(void* device, nvmlMemory_v2_t* m) {
  DEV("memory");
  if (m->version != (sizeof(nvmlMemory_v2_t) | (2u << 24))) return kInvalid;
  m->total = (unsigned long long)g->memory_mib << 20;
  m->reserved = (unsigned long long)g->reserved_mib << 20;
  m->used = (unsigned long long)g->used_mib << 20;
  m->free = m->total - m->reserved - m->used;
  return kSuccess;
}
int nvmlDeviceGetClockInfo(void* device, int type, unsigned* mhz) {
  DEV("clock");
  *mhz = (unsigned)(type == 2 ? g->mem_clock : g->sm_clock);
  return kSuccess;
}
int nvmlDeviceGetTemperature(void* device, int sensor, unsigned* c) {
  DEV("temp");
  (void)sensor;
  *c = (unsigned)g->temp;
  return kSuccess;
}
int nvmlDeviceGetFieldValues(void* device, int count, nvmlFieldValue_t* values) {
  DEV("fields");
  for (int i = 0; i < count; ++i) {
    values[i].ret = values[i].field_id == 82 ? kSuccess : 3;
    values[i].value_type = 1;
    values[i].value.ui = (unsigned)g->mem_temp;
  }
  return kSuccess;
}
int nvmlDeviceGetPowerUsage(void* device, unsigned* mw) {
  DEV("power");
  *mw = (unsigned)g->power_mw;
  return kSuccess;
}
int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* mj) {
  DEV("energy");
  *mj = (unsigned long long)g->energy_mj;
  return kSuccess;
}
int nvmlDeviceGetPcieReplayCounter(void* device, unsigned* n) {
  DEV("replays");
  *n = (unsigned)g->replays;
  return kSuccess;
}
int nvmlDeviceGetTotalEccErrors(void* device, int type, int counter, unsigned long long* n) {
  DEV("ecc");
  (void)counter;
  *n = (unsigned long long)(type == 1 ? g->dbe : g->sbe);
  return kSuccess;
}
int nvmlDeviceGetRemappedRows(void* device, unsigned* corr, unsigned* unc, unsigned* pending,
                              unsigned* failed) {
  DEV("remap");
  *corr = (unsigned)g->remap_corr;
  *unc = (unsigned)g->remap_unc;
  *pending = (unsigned)g->remap_pending;
  *failed = (unsigned)g->remap_fail;
  return kSuccess;
}
int nvmlDeviceGetCurrentClocksEventReasons(void* device, unsigned long long* reasons) {
  DEV("reasons");
  *reasons = (unsigned long long)g->reasons;
  return kSuccess;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void* device, unsigned* count,
                                            nvmlProcessInfo_t* infos) {
  DEV("processes");
  const unsigned index = (unsigned)((size_t)device - 1);
  unsigned n = 0;
  for (unsigned i = 0; i < nprocs; ++i) n += procs[i].gpu == index;
  if (*count < n) {
    *count = n;
    return kInsufficient;
  }
  unsigned k = 0;
  for (unsigned i = 0; i < nprocs; ++i) {
    if (procs[i].gpu != index) continue;
    infos[k].pid = (unsigned)procs[i].pid;
    infos[k].used = (unsigned long long)procs[i].used_mib << 20;
    infos[k].gi = infos[k].ci = 0xFFFFFFFFu;
    ++k;
  }
  *count = n;
  return kSuccess;
}
int nvmlDeviceGetProcessUtilization(void* device, nvmlProcessUtilizationSample_t* samples,
                                    unsigned* count, unsigned long long last_seen) {
  DEV("process_util");
  const unsigned index = (unsigned)((size_t)device - 1);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  const unsigned long long ts =
      (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000;
  (void)last_seen; /* every call is a new sample period here */
  unsigned n = 0;
  for (unsigned i = 0; i < nprocs; ++i) n += procs[i].gpu == index;
  if (n == 0) return kNotFound;
  if (!samples || *count < n) {
    *count = n;
    return kInsufficient;
  }
  unsigned k = 0;
  for (unsigned i = 0; i < nprocs; ++i) {
    if (procs[i].gpu != index) continue;
    samples[k].pid = (unsigned)procs[i].pid;
    samples[k].ts = ts;
    samples[k].sm = (unsigned)procs[i].sm;
    samples[k].mem = (unsigned)procs[i].mem;
    samples[k].enc = (unsigned)procs[i].enc;
    samples[k].dec = (unsigned)procs[i].dec;
    ++k;
  }
  *count = n;
  return kSuccess;
}
int nvmlEventSetCreate(void** set) {
  *set = (void*)&delivered;
  return kSuccess;
}
int nvmlDeviceRegisterEvents(void* device, unsigned long long types, void* set) {
  (void)types;
  (void)set;
  DEV("events");
  return kSuccess;
}
int nvmlEventSetWait_v2(void* set, nvmlEventData_t* data, unsigned timeout_ms) {
  (void)set;
  load();
  if (delivered >= nxids) {
    if (timeout_ms > 0) usleep(timeout_ms * 1000u);
    return kTimeout;
  }
  const Xid* x = &xids[delivered++];
  memset(data, 0, sizeof *data);
  data->device = (void*)(size_t)(x->gpu + 1);
  data->type = 0x8;
  data->data = (unsigned long long)x->code;
  return kSuccess;
}
int nvmlEventSetFree(void* set) {
  (void)set;
  return kSuccess;
}
