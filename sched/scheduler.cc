#include "sched/scheduler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

namespace jz::sched {
namespace {

std::string gpus_text(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", milli / 1000.0);
  return buf;
}

std::string limit_text(int64_t milli) {
  return milli >= kUnlimited ? "unlimited" : gpus_text(milli);
}

int64_t sat_add(int64_t a, int64_t b) {
  return a >= kUnlimited || b >= kUnlimited ? kUnlimited : a + b;
}

}  // namespace

std::optional<Policy> policy_named(const std::string& name) {
  if (name == "binpack") return Policy::kBinpack;
  if (name == "spread") return Policy::kSpread;
  if (name == "fgd") return Policy::kFgd;
  return std::nullopt;
}

bool flavor_accepts(const std::string& wanted, const std::string& flavor) {
  if (wanted.empty()) return true;
  for (size_t at = 0; at <= wanted.size();) {
    const size_t bar = std::min(wanted.find('|', at), wanted.size());
    if (bar - at == flavor.size() && wanted.compare(at, bar - at, flavor) == 0) return true;
    at = bar + 1;
  }
  return false;
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::kBinpack:
      return "binpack";
    case Policy::kSpread:
      return "spread";
    case Policy::kFgd:
      return "fgd";
  }
  return "?";
}

const char* kind_name(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::kPlace:
      return "place";
    case Decision::Kind::kPreempt:
      return "preempt";
    case Decision::Kind::kPending:
      return "pending";
    case Decision::Kind::kReject:
      return "reject";
  }
  return "?";
}

struct Scheduler::State {
  // A set of ids as a sorted vector: a node runs a few jobs at a time; a class's nodes are
  // inserted and erased far more often than there are many of them.
  template <typename Id>
  struct SortedIds {
    std::vector<Id> ids;
    bool empty() const { return ids.empty(); }
    size_t size() const { return ids.size(); }
    bool insert(Id id) {
      auto at = std::lower_bound(ids.begin(), ids.end(), id);
      if (at != ids.end() && *at == id) return false;
      ids.insert(at, id);
      return true;
    }
    bool erase(Id id) {
      auto at = std::lower_bound(ids.begin(), ids.end(), id);
      if (at == ids.end() || *at != id) return false;
      ids.erase(at);
      return true;
    }
    typename std::vector<Id>::const_iterator begin() const { return ids.begin(); }
    typename std::vector<Id>::const_iterator end() const { return ids.end(); }
  };
  struct Device {
    std::string uuid;
    int mem_total = 0, mem_used = 0;
    int cores_used = 0;  // percent
    int shares = 0;
    bool exclusive = false, healthy = true;
    bool empty() const { return !exclusive && shares == 0; }
  };
  struct Node {
    std::string name;
    int group = -1;  // index into groups
    int64_t cpu_total = 0, cpu_used = 0, mem_total = 0, mem_used = 0;
    std::vector<Device> gpus;
    int free_whole = 0;
    bool indexed = false;     // counted in its group's free_whole
    int cls = -1;             // fgd: its class of nodes in the same state
    SortedIds<int64_t> jobs;  // running jobs with a worker here
    bool alive = true;
    bool cordoned = false;  // takes no new work (set_node_schedulable)
  };
  // Nodes of one pool and flavor, indexed for placement.
  struct Group {
    std::string pool, flavor, cluster;
    std::vector<std::set<int>> by_free;                      // free whole GPUs -> nodes
    std::set<std::tuple<int, int, int, int>> share_devices;  // free cores, free MiB, node, gpu
    std::set<int> nodes;
    int64_t free_whole = 0;  // whole GPUs free on its nodes
    // When its running jobs' workers end (started + estimate; unknown: never), with what
    // each holds there: the backfill reservation's start time without a walk of them all.
    std::set<std::tuple<int64_t, int, int64_t, int64_t>> ends;  // end, node, job, milli
  };
  enum class JobState { kPending, kRunning, kPreempting };
  // A kind of GPU job in fgd's workload: share?, GPUs, cores, share MiB, CPU, memory, models.
  using TypeKey = std::tuple<bool, int, int, int, int64_t, int64_t, std::string>;
  struct Job {
    JobSpec spec;
    int queue = -1, user = -1;
    int64_t seq = 0;
    int64_t charge = 0;  // milli-GPUs per worker
    JobState state = JobState::kPending;
    int64_t started_ms = 0;
    std::vector<std::pair<int, std::vector<int>>> placement;  // node, devices
    std::string reason;
    int waiting_for = 0;  // preempted jobs still stopping for this one
    // Its groups of nodes (groups_for), kept while no group is added.
    mutable std::vector<int> groups;
    mutable int64_t groups_version = -1;
    int64_t explained_ms = -1;  // when "no node has room" was last worked out for it
    uint64_t refusal_key = 0;   // the quota refusal its reason says (0: none)
    int pool = -1;              // pool_ids[spec.pool]
    // Its kind's count in the workload (fgd, spread), while it is in the engine.
    std::optional<std::map<TypeKey, int64_t>::iterator> counted;
  };
  struct Queue {
    QueueSpec spec;
    int cohort = -1;
    int64_t used = 0;
    double decayed = 0;  // milli-GPU x ms, halving every half-life
    int64_t decayed_at = 0;
    std::set<std::tuple<int, int64_t, int64_t>> pending;  // -priority, seq, job
    int64_t reserved = 0;  // quota held for jobs whose preemption victims are stopping
    std::unordered_map<int, int64_t> user_reserved;
    int64_t running = 0;
    int64_t cpu_used = 0, mem_used = 0;
    int64_t reserved_jobs = 0, reserved_cpu = 0, reserved_mem = 0;  // held like `reserved`
    std::unordered_map<int, int64_t> user_used;
  };
  struct Cohort {
    int64_t borrowed = 0, lendable = 0;
    std::vector<int> queues;
  };

  // Jobs by id: open addressing over (id, job) slots, linear probing, backward-shift
  // erase. A lookup reads one slot (the job itself where it lives); the standard map's
  // chained buckets cost three dependent reads, which at a few hundred thousand jobs were
  // a tenth of a busy engine's time.
  class JobTable {
   public:
    JobTable() : slots_(16) {}
    ~JobTable() {
      for (Slot& s : slots_) delete s.job;
    }
    JobTable(const JobTable&) = delete;
    JobTable& operator=(const JobTable&) = delete;
    size_t size() const { return size_; }
    bool count(int64_t id) const { return get(id) != nullptr; }
    Job* get(int64_t id) const {
      for (size_t i = home(id);; i = (i + 1) & mask()) {
        const Slot& s = slots_[i];
        if (!s.job) return nullptr;
        if (s.id == id) return s.job;
      }
    }
    Job& at(int64_t id) const {
      Job* j = get(id);
      if (!j) throw std::out_of_range("no job " + std::to_string(id));
      return *j;
    }
    // Adds `job` under `id` unless one is there; the job there either way.
    Job& emplace(int64_t id, Job&& job) {
      if (Job* j = get(id)) return *j;
      if ((size_ + 1) * 4 > slots_.size() * 3) grow();
      Job* j = new Job(std::move(job));
      put(id, j);
      ++size_;
      return *j;
    }
    void erase(int64_t id) {
      size_t i = home(id);
      for (;; i = (i + 1) & mask()) {
        if (!slots_[i].job) return;
        if (slots_[i].id == id) break;
      }
      delete slots_[i].job;
      slots_[i] = {};
      --size_;
      // Move back the slots after it that would otherwise be cut off from their home.
      for (size_t j = (i + 1) & mask(); slots_[j].job; j = (j + 1) & mask()) {
        const size_t h = home(slots_[j].id);
        if (((j - h) & mask()) >= ((j - i) & mask())) {
          slots_[i] = slots_[j];
          slots_[j] = {};
          i = j;
        }
      }
    }
    template <typename F>
    void for_each(F&& f) const {
      for (const Slot& s : slots_) {
        if (s.job) f(s.id, *s.job);
      }
    }

   private:
    struct Slot {
      int64_t id = 0;
      Job* job = nullptr;
    };
    size_t mask() const { return slots_.size() - 1; }
    size_t home(int64_t id) const {
      return (static_cast<uint64_t>(id) * 0x9e3779b97f4a7c15ull >> 17) & mask();
    }
    void put(int64_t id, Job* j) {
      size_t i = home(id);
      while (slots_[i].job) i = (i + 1) & mask();
      slots_[i] = {id, j};
    }
    void grow() {
      std::vector<Slot> old(slots_.size() * 2);
      old.swap(slots_);
      for (const Slot& s : old) {
        if (s.job) put(s.id, s.job);
      }
    }
    std::vector<Slot> slots_;
    size_t size_ = 0;
  };

  Options options;
  std::vector<Node> nodes;
  std::unordered_map<std::string, int> node_index;
  std::vector<Group> groups;
  std::vector<Queue> queues;
  std::unordered_map<std::string, int> queue_index;
  std::vector<Cohort> cohorts;
  std::unordered_map<std::string, int> cohort_index;
  std::unordered_map<std::string, int> users;
  JobTable jobs;
  int64_t seq = 0;
  int64_t capacity = 0, allocated = 0;
  int min_device_mem = 0;
  size_t running_jobs = 0;

  // ---- indexes -------------------------------------------------------------------

  int group_of(const std::string& pool, const std::string& flavor, const std::string& cluster) {
    for (size_t i = 0; i < groups.size(); ++i) {
      if (groups[i].pool == pool && groups[i].flavor == flavor && groups[i].cluster == cluster)
        return static_cast<int>(i);
    }
    groups.push_back({pool, flavor, cluster, {}, {}, {}, 0, {}});
    ++groups_version;
    ++kinds_epoch;  // kinds of jobs may now have one more group of nodes
    return static_cast<int>(groups.size() - 1);
  }

  // binpack looks nodes up by free whole GPUs and share devices by free room; fgd and
  // spread by class of node state. Every policy keeps each group's free whole GPUs. While
  // `tentative` (a preemption search trying victims on one node and undoing it), classes
  // are left as they were: the node is back in its state before anything looks.
  bool tentative = false;

  void unindex(int n) {
    Node& node = nodes[n];
    Group& g = groups[node.group];
    if (node.indexed) g.free_whole -= node.free_whole;
    node.indexed = false;
    if (options.policy != Policy::kBinpack) {
      if (!tentative) leave_class(n);
      return;
    }
    if (node.free_whole < static_cast<int>(g.by_free.size())) g.by_free[node.free_whole].erase(n);
    for (size_t d = 0; d < node.gpus.size(); ++d) {
      const Device& dev = node.gpus[d];
      g.share_devices.erase(
          {100 - dev.cores_used, dev.mem_total - dev.mem_used, n, static_cast<int>(d)});
    }
  }

  void index(int n) {
    Node& node = nodes[n];
    if (!node.alive || node.cordoned) return;
    Group& g = groups[node.group];
    node.free_whole = 0;
    for (const Device& d : node.gpus) node.free_whole += d.healthy && d.empty() ? 1 : 0;
    g.free_whole += node.free_whole;
    node.indexed = true;
    if (options.policy != Policy::kBinpack) {
      if (!tentative) join_class(n);
      return;
    }
    if (static_cast<int>(g.by_free.size()) <= node.free_whole)
      g.by_free.resize(node.free_whole + 1);
    g.by_free[node.free_whole].insert(n);
    for (size_t d = 0; d < node.gpus.size(); ++d) {
      const Device& dev = node.gpus[d];
      if (!dev.healthy || dev.exclusive || dev.cores_used >= 100 || dev.mem_used >= dev.mem_total)
        continue;
      g.share_devices.insert(
          {100 - dev.cores_used, dev.mem_total - dev.mem_used, n, static_cast<int>(d)});
    }
  }

  // ---- quotas ---------------------------------------------------------------------

  static int64_t borrowed_of(const Queue& q) {
    return std::max<int64_t>(0, q.used - q.spec.nominal_milli);
  }
  static int64_t lendable_of(const Queue& q) {
    return std::min(q.spec.lending_limit_milli,
                    std::max<int64_t>(0, q.spec.nominal_milli - q.used));
  }

  void change_usage(Queue& q, int user, int64_t delta) {
    if (q.cohort >= 0) {
      Cohort& c = cohorts[q.cohort];
      c.borrowed -= borrowed_of(q);
      c.lendable -= lendable_of(q);
    }
    q.used += delta;
    q.user_used[user] += delta;
    if (q.cohort >= 0) {
      Cohort& c = cohorts[q.cohort];
      c.borrowed += borrowed_of(q);
      c.lendable += lendable_of(q);
    }
  }

  // Why the queue cannot take `amount` more for `user`; "" when it can. `user_level`
  // says the refusal is the user's limit (other users' jobs may still go). With `key`: on
  // entry the key of the job's last refusal, on return this one's; when they are the same
  // refusal with the same numbers, kSameRefusal is returned without writing it again.
  static constexpr const char* kSameRefusal = "=";
  std::string quota_refusal(const Queue& q, const Job& j, int64_t amount,
                            bool* user_level = nullptr, uint64_t* key = nullptr) const {
    const int user = j.user;
    const std::string& user_name = j.spec.user;
    if (user_level) *user_level = false;
    auto refuse = [&](uint64_t code, std::initializer_list<int64_t> numbers, bool user_wide,
                      auto&& text) -> std::string {
      if (user_level) *user_level = user_wide;
      uint64_t h = code;
      for (int64_t v : numbers) h = mix(h, static_cast<uint64_t>(v));
      h |= 1;  // never 0, the key of no refusal
      if (key) {
        const bool same = *key == h;
        *key = h;
        if (same) return kSameRefusal;
      }
      return text();
    };
    // Limits besides GPUs. Reported as `user_level` too: a refusal here says nothing
    // about jobs asking for more GPUs, so the queue's scan goes on.
    const int64_t cpu = j.spec.cpu_milli * j.spec.workers, mem = j.spec.memory_mib * j.spec.workers;
    if (q.running + q.reserved_jobs + 1 > q.spec.max_running_jobs) {
      return refuse(1, {q.running, q.spec.max_running_jobs}, true, [&] {
        return "project " + q.spec.project + " runs " + std::to_string(q.running) + " of the " +
               std::to_string(q.spec.max_running_jobs) + " jobs its quota allows at once";
      });
    }
    if (q.cpu_used + q.reserved_cpu + cpu > q.spec.cpu_limit_milli) {
      return refuse(2, {q.cpu_used, q.spec.cpu_limit_milli, cpu}, true, [&] {
        return "project " + q.spec.project + " uses " + gpus_text(q.cpu_used) + " of " +
               gpus_text(q.spec.cpu_limit_milli) + " CPUs; this job needs " + gpus_text(cpu);
      });
    }
    if (q.mem_used + q.reserved_mem + mem > q.spec.memory_limit_mib) {
      return refuse(3, {q.mem_used, q.spec.memory_limit_mib, mem}, true, [&] {
        return "project " + q.spec.project + " uses " + std::to_string(q.mem_used) + " of " +
               std::to_string(q.spec.memory_limit_mib) + " MiB of memory; this job needs " +
               std::to_string(mem);
      });
    }
    const int64_t after = q.used + q.reserved + amount;
    const int64_t cap = sat_add(q.spec.nominal_milli, q.spec.borrowing_limit_milli);
    if (after > cap) {
      return refuse(4, {q.used, cap, q.spec.nominal_milli, q.spec.borrowing_limit_milli, amount},
                    false, [&] {
                      return "project " + q.spec.project + " uses " + gpus_text(q.used) + " of " +
                             limit_text(cap) + " GPUs (nominal " + gpus_text(q.spec.nominal_milli) +
                             ", borrowing limit " + limit_text(q.spec.borrowing_limit_milli) +
                             "); this job needs " + gpus_text(amount);
                    });
    }
    auto uu = q.user_used.find(user);
    auto ur = q.user_reserved.find(user);
    const int64_t mine =
        (uu == q.user_used.end() ? 0 : uu->second) + (ur == q.user_reserved.end() ? 0 : ur->second);
    if (mine + amount > q.spec.per_user_milli) {
      return refuse(5, {mine, q.spec.per_user_milli}, true, [&] {
        return "user " + user_name + " uses " + gpus_text(mine) + " of the " +
               gpus_text(q.spec.per_user_milli) + " GPUs a user may use in project " +
               q.spec.project;
      });
    }
    if (after > q.spec.nominal_milli) {
      if (q.cohort < 0) {
        return refuse(6, {q.used, q.spec.nominal_milli}, false, [&] {
          return "project " + q.spec.project + " uses " + gpus_text(q.used) + " of " +
                 gpus_text(q.spec.nominal_milli) + " GPUs and has no cohort to borrow from";
        });
      }
      const Cohort& c = cohorts[q.cohort];
      const int64_t borrowed_after = c.borrowed - borrowed_of(q) + (after - q.spec.nominal_milli);
      // (reserved quota of other queues is not counted here: it is within their nominal,
      // or they preempted their own lower-priority jobs for it)
      const int64_t lendable_after = c.lendable - lendable_of(q);
      if (borrowed_after > lendable_after) {
        return refuse(7, {q.used, q.spec.nominal_milli, lendable_after, c.borrowed}, false, [&] {
          return "project " + q.spec.project + " uses " + gpus_text(q.used) + " of " +
                 gpus_text(q.spec.nominal_milli) + " GPUs and its cohort " + q.spec.cohort +
                 " has " + gpus_text(std::max<int64_t>(0, lendable_after - c.borrowed)) +
                 " more to lend (" + gpus_text(lendable_after) + " lendable, " +
                 gpus_text(c.borrowed) + " borrowed)";
        });
      }
    }
    if (key) *key = 0;
    return "";
  }

  // ---- fragmentation-aware placement (Policy::kFgd) ------------------------------------
  // After FGD (USENIX ATC'23): the fragmentation of a node for the workload is the GPU
  // capacity it has free that a job drawn from the workload could not use there (all of
  // it when the job's CPU, memory, model or GPU count does not fit; the pieces too small
  // for its share; the partly used GPUs for whole-GPU jobs), weighted by how often each
  // kind of job was seen. A job goes where it adds the least fragmentation; CPU-only jobs
  // too, so they do not take the CPU that GPUs need.
  struct WorkType {
    bool share = false;
    int gpus = 0, cores = 0, share_mib = 0;
    int64_t cpu = 0, mem = 0;
    std::string flavor;
    double p = 0;
  };
  // The workload is the GPU jobs in the engine now, running or pending (CPU-only ones
  // leave no GPU unusable), by kind, each weighted by how many there are times the GPU it
  // asks for (what the measure is of); the 128 heaviest. It is looked at again after a
  // quarter more submissions (at least every 4,096) and changes only when the mix has:
  // a kind's weight moved by a fifth (and by more than 0.1 % of the whole), or a kind
  // came or went. A steady mix keeps its measure and everything cached under it.
  std::map<TypeKey, int64_t> type_counts;
  std::vector<WorkType> work_types;
  std::map<TypeKey, double> measured;  // each kind's weight in the measure in use
  double cpu_per_gpu_milli = 0;        // the measure's CPU per GPU (milli-CPU per milli-GPU)
  int64_t observed = 0, observed_since_refresh = 0;
  mutable std::unordered_map<uint64_t, double> frag_cache;

  // A job joins the workload when it comes (submitted or adopted) and leaves it when it
  // leaves the engine.
  void observe(Job& job) {
    const JobSpec& j = job.spec;
    if (options.policy == Policy::kBinpack || (!is_share(j) && j.gpus == 0)) return;
    const TypeKey key{
        is_share(j),  j.gpus,  std::max(1, j.share_cores_percent), j.share_memory_mib, j.cpu_milli,
        j.memory_mib, j.flavor};
    auto it = type_counts.emplace(key, 0).first;
    ++it->second;
    job.counted = it;
    ++observed;
    if (++observed_since_refresh >= std::max<int64_t>(1, std::min<int64_t>(observed / 4, 4096))) {
      refresh_types();
    }
  }
  void unobserve(Job& job) {
    if (!job.counted) return;
    if (--(*job.counted)->second <= 0) type_counts.erase(*job.counted);
    job.counted.reset();
  }

  void refresh_types() {
    observed_since_refresh = 0;
    auto weight = [](const TypeKey& k, int64_t count) {
      const auto& [share, gpus, cores, share_mib, cpu, mem, flavor] = k;
      return static_cast<double>(count) * (share ? cores * 10 : gpus * 1000);
    };
    std::vector<std::pair<double, const TypeKey*>> heaviest;
    for (const auto& [k, c] : type_counts) heaviest.push_back({weight(k, c), &k});
    std::stable_sort(heaviest.begin(), heaviest.end(),
                     [](const auto& x, const auto& y) { return x.first > y.first; });
    if (heaviest.size() > 128) heaviest.resize(128);
    double total = 0;
    for (const auto& [w, k] : heaviest) total += w;
    std::map<TypeKey, double> now;
    for (const auto& [w, k] : heaviest) now[*k] = w / total;
    // The nodes that alone can hold the largest requests are kept whole for them, before
    // any such request has come: a twentieth of the measure is a job that would take a
    // whole node of each shape (GPUs, CPU, memory) that no other shape has at least as much
    // of, rarer shapes weighing more. (On the openb trace the 39 nodes of 128 CPUs were all
    // opened by small jobs before the first 8-GPU job of 120 CPUs came: 95.08 %; kept
    // whole: 95.14 %. A tenth until the CPU term of fragmentation() came; with it a
    // twentieth is better on the default trace and each of the five gpushare variants.)
    if (options.policy == Policy::kFgd) {                       // (spread is to open nodes)
      std::map<std::tuple<int64_t, int64_t, int>, int> shapes;  // cpu, memory, GPUs -> nodes
      for (const Node& n : nodes) {
        if (n.alive && !n.gpus.empty())
          ++shapes[{n.cpu_total, n.mem_total, static_cast<int>(n.gpus.size())}];
      }
      std::vector<std::pair<TypeKey, double>> reserve;
      double rarity = 0;
      for (const auto& [shape, count] : shapes) {
        const auto& [cpu, mem, gpus] = shape;
        bool dominated = false;
        for (const auto& [other, c] : shapes) {
          const auto& [ocpu, omem, ogpus] = other;
          dominated = dominated || (other != shape && ocpu >= cpu && omem >= mem && ogpus >= gpus);
        }
        if (dominated) continue;
        reserve.push_back({{false, gpus, 1, 0, cpu * 9 / 10, mem * 9 / 10, ""}, 1.0 / count});
        rarity += 1.0 / count;
      }
      constexpr double kReserve = 0.05;
      if (!reserve.empty()) {
        for (auto& [k, p] : now) p *= 1 - kReserve;
        for (const auto& [k, r] : reserve) now[k] += kReserve * r / rarity;
      }
    }
    auto moved = [](double was, double is) {
      const double d = std::abs(is - was);
      return d > 0.001 && d > 0.2 * std::max(was, is);
    };
    bool changed = false;
    for (const auto& [k, p] : now) {
      auto it = measured.find(k);
      changed = changed || moved(it == measured.end() ? 0 : it->second, p);
    }
    for (const auto& [k, p] : measured) changed = changed || (!now.count(k) && moved(p, 0));
    if (!changed) return;
    measured = std::move(now);
    work_types.clear();
    double gpu = 0, cpu_asked = 0;
    for (const auto& [k, p] : measured) {
      const auto& [share, gpus, cores, share_mib, cpu, mem, flavor] = k;
      work_types.push_back({share, gpus, cores, share_mib, cpu, mem, flavor, p});
      gpu += p * (share ? cores * 10.0 : gpus * 1000.0);
      cpu_asked += p * static_cast<double>(cpu);
    }
    cpu_per_gpu_milli = gpu > 0 ? cpu_asked / gpu : 0;
    measure_changed();
  }

  // A node as fragmentation sees it: free CPU and memory, per device the free cores
  // (percent; -1 for a device that cannot take anything) and free memory.
  struct FreeView {
    int group = 0;
    int64_t cpu = 0, mem = 0;
    std::vector<std::pair<int, int>> devs;  // free cores (100: whole), free MiB
  };
  // Node `n` as fragmentation sees it, devices sorted, into `v` (whose storage is reused).
  void view_of(const Node& n, FreeView& v) const {
    v.group = n.group;
    v.cpu = n.cpu_total - n.cpu_used;
    v.mem = n.mem_total - n.mem_used;
    v.devs.clear();
    for (const Device& d : n.gpus) {
      if (!d.healthy || d.exclusive) {
        v.devs.push_back({-1, 0});
      } else {
        v.devs.push_back({100 - d.cores_used, d.mem_total - d.mem_used});
      }
    }
    std::sort(v.devs.begin(), v.devs.end());
  }
  FreeView scratch;  // join_class's

  static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
  }
  // `v.devs` sorted.
  double fragmentation(const FreeView& v) const {
    const std::vector<std::pair<int, int>>& sorted = v.devs;
    const uint64_t key = key_of(v);
    auto hit = frag_cache.find(key);
    if (hit != frag_cache.end()) return hit->second;
    auto free_milli = [](const std::pair<int, int>& d) { return d.first <= 0 ? 0 : d.first * 10; };
    int64_t all = 0, partial = 0;
    int whole = 0;
    for (const auto& d : sorted) {
      all += free_milli(d);
      if (d.first == 100) {
        ++whole;
      } else {
        partial += free_milli(d);
      }
    }
    double f = 0;
    const std::string& flavor = groups[static_cast<size_t>(v.group)].flavor;
    for (const WorkType& t : work_types) {
      if (v.cpu < t.cpu || v.mem < t.mem || !flavor_accepts(t.flavor, flavor)) {
        f += t.p * static_cast<double>(all);
      } else if (t.share) {
        int64_t unusable = 0;
        for (const auto& d : sorted) {
          if (d.first < t.cores || d.second < t.share_mib) unusable += free_milli(d);
        }
        f += t.p * static_cast<double>(unusable);
      } else {
        f += t.p * static_cast<double>(whole < t.gpus ? all : partial);
      }
    }
    // The free GPU that the node's free CPU cannot back at the workload's CPU per GPU is
    // lost too, whichever job comes: a job that leaves a node's GPUs without the CPU to
    // use them adds it. (One job at a time, the measure above misses it while the CPU left
    // still fits the smaller kinds. On the openb trace at 100 % requested: fgd 95.14 % ->
    // 95.85 %, spread 91.3 % -> 95.5 %; docs/BENCHMARKS.md.)
    if (cpu_per_gpu_milli > 0) {
      const double backed = static_cast<double>(v.cpu) / cpu_per_gpu_milli;
      if (backed < static_cast<double>(all)) f += static_cast<double>(all) - backed;
    }
    frag_cache.emplace(key, f);
    return f;
  }

  // Nodes in the same state (group, free CPU and memory, the multiset of their devices'
  // free cores and memory) are one class: measured once, ranked once per kind of job.
  // A kind of job keeps its classes ranked by the fragmentation it would add there,
  // brought up to date lazily from a log of classes that gained their first node or lost
  // their last; a choice per class and kind is kept until the workload's measure changes.
  // A job's place is then the first class of its kind's ranking: exact (every class that
  // can take it is ranked) without weighing every node for every job.
  struct Choice {
    uint32_t measure = 0;  // the measure it was made under (0: none yet)
    bool fits = false;
    int64_t delta = 0;                       // added fragmentation, x1e6
    int left = 0;                            // cores a share leaves on its device
    std::pair<int, int> share_device{0, 0};  // the state (free cores, MiB) of a share's device
  };
  struct NodeClass {
    FreeView view;     // devices sorted
    uint64_t key = 0;  // key_of(view)
    SortedIds<int> members;
    int free_whole = 0;
    mutable std::vector<Choice> choices;  // by kind
  };
  // delta, left, free GPUs, the state's key (a tie-break that a restart repeats), class
  using RankKey = std::tuple<int64_t, int, int, uint64_t, int>;
  // A kind's ranking: a min-heap of classes. Under one measure a class's place for a kind
  // never changes, only whether it has a node: a class that loses its last node is marked
  // out and dropped when it reaches the top; one that gains a node again is marked in.
  enum : uint8_t { kUnranked = 0, kIn = 1, kOut = 2 };
  struct Kind {
    JobSpec proto;
    std::vector<int> groups;
    std::vector<RankKey> heap;   // std::greater: the least first
    std::vector<uint8_t> state;  // by class: kUnranked, kIn (in the heap), kOut (in, lazily)
    size_t synced = 0;
    uint64_t epoch = 0;
  };
  std::vector<NodeClass> classes;
  std::unordered_map<uint64_t, std::vector<int>> class_by_key;
  std::vector<std::set<int>> live_classes;  // per group: classes with a node
  std::vector<int> class_log;               // classes that became live or empty
  uint64_t kinds_epoch = 1;                 // bumped when every ranking must be rebuilt
  std::map<std::tuple<std::string, std::string, std::string, bool, int, int, int, int64_t, int64_t>,
           int>
      kind_ids;
  std::unordered_map<int, Kind> kinds;
  int next_kind = 0;
  uint32_t measure_version = 1;

  uint64_t key_of(const FreeView& v) const {
    uint64_t key = mix(mix(mix(1, static_cast<uint64_t>(v.group)), static_cast<uint64_t>(v.cpu)),
                       static_cast<uint64_t>(v.mem));
    for (const auto& [c, m] : v.devs)
      key = mix(mix(key, static_cast<uint64_t>(c) + 2), static_cast<uint64_t>(m));
    return key;
  }

  void join_class(int n) {
    Node& node = nodes[n];
    FreeView& v = scratch;
    view_of(node, v);
    const uint64_t key = key_of(v);
    std::vector<int>& same = class_by_key[key];
    int c = -1;
    for (int k : same) {
      const FreeView& o = classes[static_cast<size_t>(k)].view;
      if (o.group == v.group && o.cpu == v.cpu && o.mem == v.mem && o.devs == v.devs) c = k;
    }
    if (c < 0) {
      c = static_cast<int>(classes.size());
      NodeClass nc;
      nc.key = key;
      for (const auto& d : v.devs) nc.free_whole += d.first == 100 ? 1 : 0;
      nc.view = v;
      classes.push_back(std::move(nc));
      same.push_back(c);
    }
    NodeClass& cls = classes[static_cast<size_t>(c)];
    cls.members.insert(n);
    node.cls = c;
    if (cls.members.size() == 1) {
      if (live_classes.size() <= static_cast<size_t>(node.group))
        live_classes.resize(node.group + 1);
      live_classes[static_cast<size_t>(node.group)].insert(c);
      log_class(c);
    }
  }

  void leave_class(int n) {
    Node& node = nodes[n];
    if (node.cls < 0) return;
    NodeClass& cls = classes[static_cast<size_t>(node.cls)];
    cls.members.erase(n);
    if (cls.members.empty()) {
      live_classes[static_cast<size_t>(node.group)].erase(node.cls);
      log_class(node.cls);
    }
    node.cls = -1;
  }

  void log_class(int c) {
    class_log.push_back(c);
    // A long log is dropped: rankings are rebuilt when next asked.
    if (class_log.size() > (size_t{1} << 16) + 4 * classes.size()) {
      class_log.clear();
      ++kinds_epoch;
    }
  }

  // A new measure of the workload: every choice and ranking is stale.
  void measure_changed() {
    frag_cache.clear();
    ++measure_version;  // every class's choices are stale
    ++kinds_epoch;
    if (kinds.size() > 4096) {
      kinds.clear();
      kind_ids.clear();
      next_kind = 0;
    }
  }

  // The best place in class `c` for one worker of kind `k`, kept until the measure changes.
  const Choice& choice(int c, int k) const {
    std::vector<Choice>& memo = classes[static_cast<size_t>(c)].choices;
    if (memo.size() <= static_cast<size_t>(k)) memo.resize(static_cast<size_t>(k) + 1);
    Choice& best = memo[static_cast<size_t>(k)];
    if (best.measure == measure_version) return best;
    best = Choice{};
    best.measure = measure_version;
    const JobSpec& j = kinds.at(k).proto;
    const FreeView& v = classes[static_cast<size_t>(c)].view;
    if (v.cpu < j.cpu_milli || v.mem < j.memory_mib) return best;
    const double before = fragmentation(v);
    FreeView after = v;
    after.cpu -= j.cpu_milli;
    after.mem -= j.memory_mib;
    auto consider = [&](FreeView& a, std::pair<int, int> device, int left) {
      std::sort(a.devs.begin(), a.devs.end());
      const auto delta = static_cast<int64_t>(std::llround((fragmentation(a) - before) * 1e6));
      if (!best.fits || std::tie(delta, left) < std::tie(best.delta, best.left)) {
        best.fits = true;
        best.delta = delta;
        best.left = left;
        best.share_device = device;
      }
    };
    if (is_share(j)) {
      const int cores = std::max(1, j.share_cores_percent);
      for (size_t d = 0; d < v.devs.size(); ++d) {
        const auto [fc, fm] = v.devs[d];
        if (fc < cores || fm < j.share_memory_mib || (d > 0 && v.devs[d - 1] == v.devs[d]))
          continue;
        FreeView a = after;
        a.devs[d] = {fc - cores, fm - j.share_memory_mib};
        if (a.devs[d].first <= 0 || a.devs[d].second <= 0) a.devs[d].first = -1;
        consider(a, v.devs[d], fc - cores);
      }
    } else if (j.gpus > 0) {
      // The whole devices with the least memory (first in sorted order).
      int taken = 0;
      for (size_t d = 0; d < after.devs.size() && taken < j.gpus; ++d) {
        if (after.devs[d].first != 100) continue;
        after.devs[d] = {-1, 0};
        ++taken;
      }
      if (taken == j.gpus) consider(after, {0, 0}, 0);
    } else {
      consider(after, {0, 0}, 0);
    }
    return best;
  }

  int kind_of(const JobSpec& j) {
    auto key = std::make_tuple(j.pool, j.flavor, j.clusters, is_share(j), is_share(j) ? 0 : j.gpus,
                               is_share(j) ? std::max(1, j.share_cores_percent) : 0,
                               is_share(j) ? j.share_memory_mib : 0, j.cpu_milli, j.memory_mib);
    auto [it, fresh] = kind_ids.emplace(std::move(key), next_kind);
    if (fresh) {
      Kind& k = kinds[next_kind++];
      k.proto = j;
      k.proto.workers = 1;
    }
    return it->second;
  }

  // Puts class `c` in kind `k`'s ranking when it has a node and can take the kind; marks it
  // out otherwise.
  void rank(Kind& k, int id, int c) {
    const NodeClass& cls = classes[static_cast<size_t>(c)];
    if (k.state.size() <= static_cast<size_t>(c)) k.state.resize(classes.size(), kUnranked);
    uint8_t& st = k.state[static_cast<size_t>(c)];
    if (cls.members.empty()) {
      if (st == kIn) st = kOut;
      return;
    }
    if (st == kOut) {
      st = kIn;  // still in the heap, in its place
      return;
    }
    if (st == kIn) return;
    const Choice& ch = choice(c, id);
    if (!ch.fits) return;  // (looked at again only under another measure)
    // Ties: the device a share leaves the least of; then, under fgd, the node with the
    // fewest free GPUs, under spread the most; then by the state (its key). In the class,
    // the node added first.
    k.heap.push_back({ch.delta, ch.left,
                      options.policy == Policy::kSpread ? -cls.free_whole : cls.free_whole, cls.key,
                      c});
    std::push_heap(k.heap.begin(), k.heap.end(), std::greater<>());
    st = kIn;
  }

  // The node (and devices) where the job adds the least fragmentation: the first class of
  // its kind's ranking (ties as rank() says), its node added first.
  int find_node_fgd(const JobSpec& j, std::vector<int>& devices) {
    const int id = kind_of(j);
    Kind& k = kinds.at(id);
    if (k.epoch != kinds_epoch) {
      k.heap.clear();
      k.state.assign(classes.size(), kUnranked);
      k.groups = groups_for(k.proto);
      for (int g : k.groups) {
        if (static_cast<size_t>(g) >= live_classes.size()) continue;
        for (int c : live_classes[static_cast<size_t>(g)]) rank(k, id, c);
      }
      k.epoch = kinds_epoch;
    } else {
      for (size_t i = k.synced; i < class_log.size(); ++i) {
        const int c = class_log[i];
        const int g = classes[static_cast<size_t>(c)].view.group;
        if (std::find(k.groups.begin(), k.groups.end(), g) != k.groups.end()) rank(k, id, c);
      }
    }
    k.synced = class_log.size();
    while (!k.heap.empty() && k.state[static_cast<size_t>(std::get<4>(k.heap.front()))] == kOut) {
      k.state[static_cast<size_t>(std::get<4>(k.heap.front()))] = kUnranked;
      std::pop_heap(k.heap.begin(), k.heap.end(), std::greater<>());
      k.heap.pop_back();
    }
    if (k.heap.empty()) return -1;
    const int c = std::get<4>(k.heap.front());
    const int n = *classes[static_cast<size_t>(c)].members.begin();
    // The devices: a share's in the state its choice takes; whole ones with the least
    // memory first, as the choice measured them.
    const Node& node = nodes[static_cast<size_t>(n)];
    devices.clear();
    if (is_share(j)) {
      const auto want = choice(c, id).share_device;
      for (size_t d = 0; d < node.gpus.size(); ++d) {
        const Device& dev = node.gpus[d];
        if (dev.healthy && !dev.exclusive && 100 - dev.cores_used == want.first &&
            dev.mem_total - dev.mem_used == want.second) {
          devices.push_back(static_cast<int>(d));
          break;
        }
      }
    } else if (j.gpus > 0) {
      std::vector<std::pair<int, int>> whole;  // memory, index
      for (size_t d = 0; d < node.gpus.size(); ++d) {
        if (node.gpus[d].healthy && node.gpus[d].empty())
          whole.push_back({node.gpus[d].mem_total, static_cast<int>(d)});
      }
      std::sort(whole.begin(), whole.end());
      for (int i = 0; i < j.gpus && i < static_cast<int>(whole.size()); ++i)
        devices.push_back(whole[static_cast<size_t>(i)].second);
      std::sort(devices.begin(), devices.end());
    }
    return n;
  }

  // ---- placement --------------------------------------------------------------------

  bool fits_node(const Node& n, const JobSpec& j) const {
    return n.alive && !n.cordoned && n.cpu_total - n.cpu_used >= j.cpu_milli &&
           n.mem_total - n.mem_used >= j.memory_mib;
  }

  int64_t groups_version = 0;
  std::unordered_map<std::string, int> pool_ids;
  int pool_id(const std::string& name) {
    return pool_ids.emplace(name, static_cast<int>(pool_ids.size())).first->second;
  }
  const std::vector<int>& groups_of(const Job& j) const {
    if (j.groups_version != groups_version) {
      j.groups = groups_for(j.spec);
      j.groups_version = groups_version;
    }
    return j.groups;
  }

  std::vector<int> groups_for(const JobSpec& j) const {
    std::vector<int> out;
    for (size_t i = 0; i < groups.size(); ++i) {
      if (groups[i].pool == j.pool && flavor_accepts(j.flavor, groups[i].flavor) &&
          flavor_accepts(j.clusters, groups[i].cluster)) {
        out.push_back(static_cast<int>(i));
      }
    }
    return out;
  }

  static bool is_share(const JobSpec& j) {
    return j.share_cores_percent > 0 || j.share_memory_mib > 0;
  }

  // One worker: a node (and devices) for it, or -1. fgd and spread rank classes of nodes
  // (above). binpack looks at the best candidates first (a window of each free-GPU bucket,
  // of share devices); only when none of them has room is every candidate looked at. Both
  // are exact: a job waits for room only when no node has it, CPU and memory included.
  int find_node(const JobSpec& j, std::vector<int>& devices) {
    if (options.policy != Policy::kBinpack) return find_node_fgd(j, devices);
    const int n = find_node_within(j, devices, false);
    return n >= 0 ? n : find_node_within(j, devices, true);
  }

  int find_node_within(const JobSpec& j, std::vector<int>& devices, bool exhaustive) const {
    const int share_window = exhaustive ? std::numeric_limits<int>::max() : 512;
    const int whole_window = exhaustive ? std::numeric_limits<int>::max() : 64;
    if (!is_share(j) && j.gpus == 0) {
      // CPU only: on the nodes with the fewest free GPUs first (a node's CPU and memory
      // taken where GPUs are free would strand them).
      const std::vector<int> gs = groups_for(j);
      int top = 0;
      for (int gi : gs) top = std::max(top, static_cast<int>(groups[gi].by_free.size()) - 1);
      for (int k = 0; k <= top; ++k) {
        for (int gi : gs) {
          const Group& g = groups[gi];
          if (k >= static_cast<int>(g.by_free.size())) continue;
          int scanned = 0;
          for (int n : g.by_free[k]) {
            if (++scanned > whole_window) break;
            if (fits_node(nodes[n], j)) {
              devices.clear();
              return n;
            }
          }
        }
      }
      return -1;
    }
    for (int gi : groups_for(j)) {
      const Group& g = groups[gi];
      if (is_share(j)) {
        // The fullest device that fits.
        const int cores = std::max(1, j.share_cores_percent);
        int scanned = 0;
        for (auto it = g.share_devices.lower_bound({cores, 0, -1, -1});
             it != g.share_devices.end() && scanned < share_window; ++it, ++scanned) {
          const auto& [free_cores, free_mem, n, d] = *it;
          if (free_cores >= cores && free_mem >= j.share_memory_mib && fits_node(nodes[n], j)) {
            devices = {d};
            return n;
          }
        }
        continue;
      }
      // The node with the fewest free GPUs that fits.
      const int need = j.gpus;
      const int top = static_cast<int>(g.by_free.size()) - 1;
      for (int k = std::max(need, 0); k <= top; ++k) {
        int scanned = 0;
        for (int n : g.by_free[k]) {
          if (++scanned > whole_window) break;
          if (!fits_node(nodes[n], j)) continue;
          devices.clear();
          const Node& node = nodes[n];
          for (size_t d = 0; d < node.gpus.size() && static_cast<int>(devices.size()) < need; ++d) {
            if (node.gpus[d].healthy && node.gpus[d].empty())
              devices.push_back(static_cast<int>(d));
          }
          return n;
        }
      }
    }
    return -1;
  }

  void allocate(int n, const std::vector<int>& devices, const JobSpec& j, int sign) {
    unindex(n);
    Node& node = nodes[n];
    node.cpu_used += sign * j.cpu_milli;
    node.mem_used += sign * j.memory_mib;
    for (int d : devices) {
      Device& dev = node.gpus[d];
      if (is_share(j)) {
        dev.cores_used += sign * std::max(1, j.share_cores_percent);
        dev.mem_used += sign * j.share_memory_mib;
        dev.shares += sign;
      } else {
        dev.exclusive = sign > 0;
      }
    }
    index(n);
  }

  // Places every worker, or none; a gang's workers in one cluster (tried in turn when the
  // job may go to several).
  bool place(Job& job, std::vector<WorkerPlacement>* out) {
    if (job.spec.workers > 1) {
      std::vector<std::string> clusters;
      for (int g : groups_of(job)) {
        if (std::find(clusters.begin(), clusters.end(), groups[g].cluster) == clusters.end())
          clusters.push_back(groups[g].cluster);
      }
      if (clusters.size() > 1) {
        for (const auto& c : clusters) {
          JobSpec one = job.spec;
          one.clusters = c;
          if (place_as(job, one, out)) return true;
        }
        return false;
      }
    }
    return place_as(job, job.spec, out);
  }

  // Places the job's workers on nodes `spec` accepts (the job's own, or narrowed).
  bool place_as(Job& job, const JobSpec& spec, std::vector<WorkerPlacement>* out) {
    std::vector<std::pair<int, std::vector<int>>> done;
    for (int w = 0; w < job.spec.workers; ++w) {
      std::vector<int> devices;
      const int n = find_node(spec, devices);
      if (n < 0) {
        for (auto it = done.rbegin(); it != done.rend(); ++it)
          allocate(it->first, it->second, job.spec, -1);
        return false;
      }
      allocate(n, devices, job.spec, +1);
      done.push_back({n, devices});
    }
    job.placement = std::move(done);
    if (out) {
      for (const auto& [n, devices] : job.placement) out->push_back({nodes[n].name, devices});
    }
    return true;
  }

  void release(Job& job) {
    for (const auto& [n, devices] : job.placement) {
      if (nodes[n].alive) allocate(n, devices, job.spec, -1);
      if (nodes[n].jobs.erase(job.spec.id)) {
        groups[nodes[n].group].ends.erase({end_of(job), n, job.spec.id, job.charge});
      }
    }
    job.placement.clear();
    Queue& q = queues[job.queue];
    change_usage(q, job.user, -job.charge * job.spec.workers);
    allocated -= job.charge * job.spec.workers;
    q.running--;
    q.cpu_used -= job.spec.cpu_milli * job.spec.workers;
    q.mem_used -= job.spec.memory_mib * job.spec.workers;
    running_jobs--;
  }

  void start(Job& job, int64_t now) {
    if (nominated.erase(job.spec.id)) hold_quota(job, -1);
    Queue& q = queues[job.queue];
    q.pending.erase({-job.spec.priority, job.seq, job.spec.id});
    change_usage(q, job.user, job.charge * job.spec.workers);
    allocated += job.charge * job.spec.workers;
    q.running++;
    q.cpu_used += job.spec.cpu_milli * job.spec.workers;
    q.mem_used += job.spec.memory_mib * job.spec.workers;
    running_jobs++;
    job.state = JobState::kRunning;
    job.started_ms = now;
    job.reason.clear();
    job.refusal_key = 0;
    for (const auto& [n, devices] : job.placement) {
      if (nodes[n].jobs.insert(job.spec.id)) {
        // (A worker that may never end is not kept: the walk stops there anyway.)
        if (end_of(job) < kUnlimited)
          groups[nodes[n].group].ends.insert({end_of(job), n, job.spec.id, job.charge});
      }
    }
  }

  static int64_t end_of(const Job& j) {
    const int64_t est = j.spec.runtime_estimate_ms;
    return est > 0 ? j.started_ms + est : kUnlimited;
  }

  // ---- fair share -----------------------------------------------------------------

  // The queue's decayed usage as of `now` (its current usage counted since it was last
  // decayed).
  double decayed_until(const Queue& q, int64_t now) const {
    const int64_t dt = std::max<int64_t>(0, now - q.decayed_at);
    if (dt == 0) return q.decayed;
    const double f =
        std::exp2(-static_cast<double>(dt) / std::max<int64_t>(1, options.usage_half_life_ms));
    return q.decayed * f + static_cast<double>(q.used) * dt;
  }

  void decay(Queue& q, int64_t now) const {
    if (now <= q.decayed_at) return;
    q.decayed = decayed_until(q, now);
    q.decayed_at = now;
  }

  // Decayed usage (as GPUs held over one half-life) plus current usage, over entitlement.
  double share_of(const Queue& q) const {
    const double entitled =
        std::max<double>(1000.0, static_cast<double>(q.spec.nominal_milli)) * q.spec.weight;
    const double history = q.decayed / std::max<int64_t>(1, options.usage_half_life_ms);
    return (static_cast<double>(q.used) + history) / entitled;
  }

  // ---- backfill -------------------------------------------------------------------

  // The estimated time enough GPUs free up in the job's pool, from running jobs' estimates;
  // kUnlimited when some needed job has no estimate.
  int64_t shadow_time(const Job& job, int64_t now) const {
    // Free whole GPUs of the job's groups, then, in the order they end, what running
    // workers hold, until the job's need is met.
    const std::vector<int>& gs = groups_of(job);
    int64_t free = 0;
    for (int gi : gs) free += groups[gi].free_whole * 1000;
    const int64_t need = job.charge * job.spec.workers;
    if (free >= need) return now;
    std::vector<std::set<std::tuple<int64_t, int, int64_t, int64_t>>::const_iterator> at, end;
    for (int gi : gs) {
      at.push_back(groups[gi].ends.begin());
      end.push_back(groups[gi].ends.end());
    }
    for (;;) {
      int next = -1;
      for (size_t i = 0; i < at.size(); ++i) {
        if (at[i] != end[i] &&
            (next < 0 || std::get<0>(*at[i]) < std::get<0>(*at[static_cast<size_t>(next)]))) {
          next = static_cast<int>(i);
        }
      }
      if (next < 0) return kUnlimited;
      const auto [when, node, id, milli] = *at[static_cast<size_t>(next)]++;
      if (when >= kUnlimited) return kUnlimited;
      free += milli;
      if (free >= need) return std::max(now, when);
    }
  }

  // ---- preemption -----------------------------------------------------------------

  // Whether one worker of `j` fits on node `n` as it is now.
  bool worker_fits(const JobSpec& j, int n) const {
    const Node& node = nodes[n];
    if (!fits_node(node, j)) return false;
    if (is_share(j)) {
      for (const Device& d : node.gpus) {
        if (d.healthy && !d.exclusive && 100 - d.cores_used >= std::max(1, j.share_cores_percent) &&
            d.mem_total - d.mem_used >= j.share_memory_mib) {
          return true;
        }
      }
      return false;
    }
    int empty = 0;
    for (const Device& d : node.gpus) empty += d.healthy && d.empty();
    return empty >= j.gpus;
  }

  // Tentative allocations, undone in reverse.
  struct Change {
    int node;
    std::vector<int> devices;
    const JobSpec* spec;
    int sign;
  };
  std::vector<Change> log;
  void apply(int n, const std::vector<int>& devices, const JobSpec& spec, int sign) {
    allocate(n, devices, spec, sign);
    log.push_back({n, devices, &spec, sign});
  }
  void rollback(size_t mark) {
    while (log.size() > mark) {
      const Change c = log.back();
      log.pop_back();
      allocate(c.node, c.devices, *c.spec, -c.sign);
    }
  }

  // Victims that would let `job` run: for each worker the node needing the fewest;
  // there, borrowers first, lowest priority first, youngest first; never a
  // non-preemptible job. Empty when no set of victims would.
  std::vector<int64_t> victims_for(const Job& job, std::string* why_not) {
    const Queue& q = queues[job.queue];
    const bool under_nominal = q.used + job.charge * job.spec.workers <= q.spec.nominal_milli;
    auto borrowing = [&](const Job& r) {
      const Queue& rq = queues[r.queue];
      return rq.used > rq.spec.nominal_milli;
    };
    // Within a queue, lower priority gives way. Across queues only borrowers give way:
    // to a job reclaiming its queue's nominal quota, or to a higher-priority one. A job
    // within its own queue's nominal quota is never preempted by another queue's job.
    auto eligible = [&](const Job& r) {
      if (r.state != JobState::kRunning || !r.spec.preemptible) return false;
      if (r.queue == job.queue) return r.spec.priority < job.spec.priority;
      if (q.cohort < 0 || queues[r.queue].cohort != q.cohort || !borrowing(r)) return false;
      return under_nominal || r.spec.priority < job.spec.priority;
    };
    const size_t start_mark = log.size();
    std::vector<int64_t> victims;
    std::set<int64_t> taken;
    int blocked_by_non_preemptible = 0;
    // A candidate victim with what orders it: borrowers first, lowest priority first,
    // youngest first.
    struct Candidate {
      bool lending;  // its queue is within its nominal quota
      int priority;
      int64_t neg_started, id;
      const Job* job;
      bool operator<(const Candidate& o) const {
        return std::tie(lending, priority, neg_started, id) <
               std::tie(o.lending, o.priority, o.neg_started, o.id);
      }
    };
    std::vector<Candidate> list;
    for (int w = 0; w < job.spec.workers; ++w) {
      std::vector<int> devices;
      int n = find_node(job.spec, devices);
      if (n < 0) {
        int best_node = -1;
        size_t best_count = 0;
        for (int gi : groups_of(job)) {
          // One victim is the fewest there can be: the first node it frees is the one.
          if (best_node >= 0 && best_count <= 1) break;
          for (int cand : groups[gi].nodes) {
            if (nodes[cand].cordoned) continue;
            if (best_node >= 0 && best_count <= 1) break;
            list.clear();
            for (int64_t id : nodes[cand].jobs) {
              if (taken.count(id)) continue;
              const Job& r = jobs.at(id);
              if (eligible(r)) {
                list.push_back({!borrowing(r), r.spec.priority, -r.started_ms, id, &r});
              } else if (!r.spec.preemptible && r.spec.priority < job.spec.priority) {
                ++blocked_by_non_preemptible;
              }
            }
            if (list.empty()) continue;
            std::sort(list.begin(), list.end());
            const size_t mark = log.size();
            size_t k = 0;
            bool fit = false;
            tentative = true;
            for (const Candidate& v : list) {
              if (best_node >= 0 && k + 1 >= best_count) break;  // cannot beat the best
              for (const auto& [rn, rdev] : v.job->placement) {
                if (rn == cand) apply(rn, rdev, v.job->spec, -1);
              }
              ++k;
              if (worker_fits(job.spec, cand)) {
                fit = true;
                break;
              }
            }
            rollback(mark);
            tentative = false;
            if (fit) {
              best_node = cand;
              best_count = k;
              // Remember the victims: the first k of this node's order.
              best_list.clear();
              for (size_t i = 0; i < k; ++i) best_list.push_back(list[i].id);
            }
          }
        }
        if (best_node < 0) {
          rollback(start_mark);
          if (why_not && blocked_by_non_preemptible > 0) {
            *why_not = "not preempting " + std::to_string(blocked_by_non_preemptible) +
                       " lower-priority job(s) in the way: non-preemptible";
          }
          return {};
        }
        for (int64_t id : best_list) {
          const Job& r = jobs.at(id);
          for (const auto& [rn, rdev] : r.placement) apply(rn, rdev, r.spec, -1);
          taken.insert(id);
          victims.push_back(id);
        }
        n = find_node(job.spec, devices);
        if (n < 0) {
          rollback(start_mark);
          return {};
        }
      }
      apply(n, devices, job.spec, +1);
    }
    rollback(start_mark);
    return victims;
  }
  std::vector<int64_t> best_list;

  // Priorities of running preemptible jobs per group, so a cycle knows cheaply whether
  // preemption could help at all.
  std::vector<std::map<int, int64_t>> preemptible_priorities;  // priority -> running jobs
  std::vector<Decision> rejected;  // decided at submit, reported by the next cycle
  // Jobs that preempted others: they go first once their victims stop, and until then
  // hold their pool against jobs of lower or equal priority.
  std::map<int64_t, int64_t> nominated;      // job -> 0
  std::map<int64_t, int64_t> preempted_for;  // victim -> the job it makes room for

  void track(const Job& j, bool add) {
    if (!j.spec.preemptible) return;
    // A gang's workers on nodes of one group count once.
    for (size_t w = 0; w < j.placement.size(); ++w) {
      const int g = nodes[j.placement[w].first].group;
      bool seen = false;
      for (size_t e = 0; e < w && !seen; ++e) seen = nodes[j.placement[e].first].group == g;
      if (seen) continue;
      if (static_cast<int>(preemptible_priorities.size()) <= g)
        preemptible_priorities.resize(g + 1);
      auto& m = preemptible_priorities[g];
      if (add) {
        ++m[j.spec.priority];
      } else if (auto it = m.find(j.spec.priority); it != m.end() && --it->second == 0) {
        m.erase(it);
      }
    }
  }

  bool preemption_may_help(const Job& j) const {
    const Queue& q = queues[j.queue];
    const bool reclaim = q.used + j.charge * j.spec.workers <= q.spec.nominal_milli &&
                         q.cohort >= 0 && cohorts[q.cohort].borrowed > 0;
    for (int g : groups_of(j)) {
      if (g >= static_cast<int>(preemptible_priorities.size())) continue;
      const auto& m = preemptible_priorities[g];
      if (m.empty()) continue;
      if (reclaim || m.begin()->first < j.spec.priority) return true;
    }
    return false;
  }

  // Drops a job that ended (finished, cancelled, lost) and what referred to it.
  void forget(int64_t id) {
    if (auto v = preempted_for.find(id); v != preempted_for.end()) {
      Job* f = jobs.get(v->second);
      if (f && f->waiting_for > 0) f->waiting_for--;
      preempted_for.erase(v);
    }
    if (nominated.erase(id)) hold_quota(jobs.at(id), -1);
    unobserve(jobs.at(id));
    jobs.erase(id);
  }

  void hold_quota(const Job& j, int sign) {
    Queue& q = queues[j.queue];
    q.reserved += sign * j.charge * j.spec.workers;
    q.user_reserved[j.user] += sign * j.charge * j.spec.workers;
    q.reserved_jobs += sign;
    q.reserved_cpu += sign * j.spec.cpu_milli * j.spec.workers;
    q.reserved_mem += sign * j.spec.memory_mib * j.spec.workers;
  }

  void set_reason(Job& j, std::string reason, std::vector<Decision>& out) {
    j.refusal_key = 0;  // the caller sets it again for a quota refusal
    if (j.reason == reason) return;
    j.reason = std::move(reason);
    out.push_back({Decision::Kind::kPending, j.spec.id, {}, 0, 0, j.reason});
  }
};

}  // namespace jz::sched

namespace jz::sched {

Scheduler::Scheduler(Options options) : s_(std::make_unique<State>()) { s_->options = options; }
Scheduler::~Scheduler() = default;

Status Scheduler::add_node(const NodeSpec& spec) {
  State& S = *s_;
  if (spec.name.empty()) return Status::invalid_argument("a node needs a name");
  if (S.node_index.count(spec.name)) {
    return Status::already_exists("node " + spec.name + " is already in the cluster");
  }
  if (spec.cpu_milli < 0 || spec.memory_mib < 0) {
    return Status::invalid_argument("node " + spec.name + ": CPU and memory cannot be negative");
  }
  for (size_t i = 0; i < spec.gpus.size(); ++i) {
    if (spec.gpus[i].memory_mib <= 0) {
      return Status::invalid_argument("node " + spec.name + ": GPU " + std::to_string(i) +
                                      " needs its memory in MiB");
    }
  }
  State::Node n;
  n.name = spec.name;
  n.group = S.group_of(spec.pool, spec.flavor, spec.cluster);
  n.cpu_total = spec.cpu_milli;
  n.mem_total = spec.memory_mib;
  for (const auto& g : spec.gpus) {
    State::Device d;
    d.uuid = g.uuid;
    d.mem_total = g.memory_mib;
    d.healthy = g.healthy;
    n.gpus.push_back(d);
    S.capacity += g.healthy ? 1000 : 0;
    S.min_device_mem =
        S.min_device_mem == 0 ? g.memory_mib : std::min(S.min_device_mem, g.memory_mib);
  }
  const int id = static_cast<int>(S.nodes.size());
  S.nodes.push_back(std::move(n));
  S.node_index[spec.name] = id;
  S.groups[S.nodes[id].group].nodes.insert(id);
  S.index(id);
  return {};
}

Result<std::vector<int64_t>> Scheduler::remove_node(const std::string& name) {
  State& S = *s_;
  auto it = S.node_index.find(name);
  if (it == S.node_index.end()) return Status::not_found("no node " + name + " in the cluster");
  const int n = it->second;
  std::vector<int64_t> lost(S.nodes[n].jobs.begin(), S.nodes[n].jobs.end());
  for (int64_t id : lost) {
    State::Job& j = S.jobs.at(id);
    if (j.state == State::JobState::kRunning) S.track(j, false);
    S.release(j);
    S.forget(id);
  }
  S.unindex(n);
  for (const auto& d : S.nodes[n].gpus) S.capacity -= d.healthy ? 1000 : 0;
  S.nodes[n].alive = false;
  S.groups[S.nodes[n].group].nodes.erase(n);
  S.node_index.erase(it);
  return lost;
}

Status Scheduler::set_gpu_health(const std::string& node, int gpu, bool healthy) {
  State& S = *s_;
  auto it = S.node_index.find(node);
  if (it == S.node_index.end()) return Status::not_found("no node " + node + " in the cluster");
  State::Node& n = S.nodes[it->second];
  if (gpu < 0 || gpu >= static_cast<int>(n.gpus.size())) {
    return Status::invalid_argument("node " + node + " has no GPU " + std::to_string(gpu));
  }
  if (n.gpus[gpu].healthy == healthy) return {};
  S.unindex(it->second);
  n.gpus[gpu].healthy = healthy;
  S.capacity += healthy ? 1000 : -1000;
  S.index(it->second);
  return {};
}

Status Scheduler::set_node_schedulable(const std::string& node, bool schedulable) {
  State& S = *s_;
  auto it = S.node_index.find(node);
  if (it == S.node_index.end()) return Status::not_found("no node " + node + " in the cluster");
  State::Node& n = S.nodes[it->second];
  if (n.cordoned == !schedulable) return {};
  S.unindex(it->second);
  n.cordoned = !schedulable;
  S.index(it->second);
  return {};
}

Status Scheduler::set_queue(const QueueSpec& spec) {
  State& S = *s_;
  if (spec.project.empty()) return Status::invalid_argument("a queue needs its project");
  if (spec.nominal_milli < 0 || spec.borrowing_limit_milli < 0 || spec.lending_limit_milli < 0 ||
      spec.per_user_milli < 0 || spec.max_running_jobs < 0 || spec.cpu_limit_milli < 0 ||
      spec.memory_limit_mib < 0) {
    return Status::invalid_argument("queue " + spec.project +
                                    ": quotas and limits cannot be negative");
  }
  if (!(spec.weight > 0))
    return Status::invalid_argument("queue " + spec.project + ": weight must be above 0");
  auto it = S.queue_index.find(spec.project);
  int qi;
  if (it == S.queue_index.end()) {
    qi = static_cast<int>(S.queues.size());
    S.queues.emplace_back();
    S.queue_index[spec.project] = qi;
  } else {
    qi = it->second;
  }
  State::Queue& q = S.queues[qi];
  // Take the queue's contribution out of its cohort, change it, put it back.
  if (q.cohort >= 0) {
    S.cohorts[q.cohort].borrowed -= State::borrowed_of(q);
    S.cohorts[q.cohort].lendable -= State::lendable_of(q);
  }
  q.spec = spec;
  q.cohort = -1;
  if (!spec.cohort.empty()) {
    auto c = S.cohort_index.find(spec.cohort);
    if (c == S.cohort_index.end()) {
      c = S.cohort_index.emplace(spec.cohort, static_cast<int>(S.cohorts.size())).first;
      S.cohorts.emplace_back();
    }
    q.cohort = c->second;
    auto& members = S.cohorts[q.cohort].queues;
    if (std::find(members.begin(), members.end(), qi) == members.end()) members.push_back(qi);
    S.cohorts[q.cohort].borrowed += State::borrowed_of(q);
    S.cohorts[q.cohort].lendable += State::lendable_of(q);
  }
  return {};
}

int64_t Scheduler::charge_milli(const JobSpec& j) const {
  if (State::is_share(j)) {
    int64_t by_cores = int64_t{std::max(1, j.share_cores_percent)} * 10;
    int64_t by_mem =
        s_->min_device_mem > 0
            ? (int64_t{j.share_memory_mib} * 1000 + s_->min_device_mem - 1) / s_->min_device_mem
            : 0;
    return std::min<int64_t>(1000, std::max(by_cores, by_mem));
  }
  return int64_t{j.gpus} * 1000;
}

namespace {

Status check_job(const JobSpec& spec) {
  const std::string name = "job " + std::to_string(spec.id);
  if (spec.workers < 1) return Status::invalid_argument(name + ": workers must be 1 or more");
  if (spec.gpus < 0 || spec.cpu_milli < 0 || spec.memory_mib < 0 || spec.share_memory_mib < 0 ||
      spec.share_cores_percent < 0 || spec.share_cores_percent > 100) {
    return Status::invalid_argument(
        name + ": resources cannot be negative, and a share is 1-100% of the cores");
  }
  if ((spec.share_cores_percent > 0 || spec.share_memory_mib > 0) && spec.gpus > 0) {
    return Status::invalid_argument(name + ": ask for whole GPUs or a GPU share, not both");
  }
  return {};
}

}  // namespace

Status Scheduler::adopt(const JobSpec& spec, const std::vector<WorkerPlacement>& placement,
                        int64_t started_ms) {
  State& S = *s_;
  const std::string name = "job " + std::to_string(spec.id);
  if (S.jobs.count(spec.id)) return Status::already_exists(name + " is already known");
  auto q = S.queue_index.find(spec.project);
  if (q == S.queue_index.end()) {
    return Status::failed_precondition(name + ": project " + spec.project + " has no queue");
  }
  JZ_RETURN_IF_ERROR(check_job(spec));
  if (static_cast<int>(placement.size()) != spec.workers) {
    return Status::invalid_argument(name + ": " + std::to_string(placement.size()) +
                                    " placements for " + std::to_string(spec.workers) + " workers");
  }
  // Check each worker against what is free and take it; undo all on the first misfit.
  std::vector<std::pair<int, std::vector<int>>> taken;
  auto undo = [&] {
    for (auto it = taken.rbegin(); it != taken.rend(); ++it)
      S.allocate(it->first, it->second, spec, -1);
  };
  for (const auto& w : placement) {
    auto n = S.node_index.find(w.node);
    if (n == S.node_index.end()) {
      undo();
      return Status::not_found(name + ": no node " + w.node);
    }
    const State::Node& node = S.nodes[n->second];
    const size_t want = State::is_share(spec) ? 1 : static_cast<size_t>(spec.gpus);
    bool ok = w.gpus.size() == want && S.fits_node(node, spec);
    for (int d : w.gpus) {
      ok = ok && d >= 0 && d < static_cast<int>(node.gpus.size()) && node.gpus[d].healthy;
      if (!ok) break;
      const auto& dev = node.gpus[d];
      ok = State::is_share(spec)
               ? !dev.exclusive && 100 - dev.cores_used >= std::max(1, spec.share_cores_percent) &&
                     dev.mem_total - dev.mem_used >= spec.share_memory_mib
               : dev.empty();
    }
    if (!ok) {
      undo();
      return Status::failed_precondition(name + ": its placement on " + w.node +
                                         " does not fit what is free there");
    }
    S.allocate(n->second, w.gpus, spec, +1);
    taken.push_back({n->second, w.gpus});
  }
  State::Job j;
  j.spec = spec;
  j.queue = q->second;
  j.user = S.users.emplace(spec.user, static_cast<int>(S.users.size())).first->second;
  j.seq = ++S.seq;
  j.pool = S.pool_id(spec.pool);
  j.charge = charge_milli(spec);
  j.placement = std::move(taken);
  State::Job& job = S.jobs.emplace(spec.id, std::move(j));
  S.queues[job.queue].pending.insert({-spec.priority, job.seq, spec.id});  // start() takes it out
  S.start(job, started_ms);
  S.track(job, true);
  S.observe(job);
  return {};
}

std::optional<Scheduler::UsageHistory> Scheduler::usage_history(const std::string& project) const {
  auto it = s_->queue_index.find(project);
  if (it == s_->queue_index.end()) return std::nullopt;
  const auto& q = s_->queues[it->second];
  return UsageHistory{q.decayed, q.decayed_at};
}

std::optional<Scheduler::UsageHistory> Scheduler::usage_history(const std::string& project,
                                                                int64_t now_ms) const {
  auto it = s_->queue_index.find(project);
  if (it == s_->queue_index.end()) return std::nullopt;
  const State::Queue& q = s_->queues[it->second];
  const int64_t at = std::max(now_ms, q.decayed_at);
  return UsageHistory{s_->decayed_until(q, at), at};
}

Status Scheduler::set_usage_history(const std::string& project, const UsageHistory& h) {
  auto it = s_->queue_index.find(project);
  if (it == s_->queue_index.end()) return Status::not_found("no queue for project " + project);
  if (!(h.decayed >= 0)) return Status::invalid_argument("decayed usage cannot be negative");
  auto& q = s_->queues[it->second];
  q.decayed = h.decayed;
  q.decayed_at = h.at_ms;
  return {};
}

Status Scheduler::submit(const JobSpec& spec, int64_t now_ms) {
  State& S = *s_;
  (void)now_ms;
  if (S.jobs.count(spec.id))
    return Status::already_exists("job " + std::to_string(spec.id) + " was already submitted");
  auto q = S.queue_index.find(spec.project);
  if (q == S.queue_index.end()) {
    return Status::failed_precondition("project " + spec.project +
                                       " has no queue; set its GPU quota first");
  }
  JZ_RETURN_IF_ERROR(check_job(spec));
  State::Job j;
  j.spec = spec;
  j.queue = q->second;
  j.user = S.users.emplace(spec.user, static_cast<int>(S.users.size())).first->second;
  j.seq = ++S.seq;
  j.pool = S.pool_id(spec.pool);
  j.charge = charge_milli(spec);
  // A request no node of its pool could ever hold is rejected now, with the reason. GPUs
  // out of service count: they come back after a repair, and a job waits for them.
  bool possible = false;
  for (int g : S.groups_for(spec)) {
    for (int n : S.groups[g].nodes) {
      const State::Node& node = S.nodes[n];
      if (node.cpu_total < spec.cpu_milli || node.mem_total < spec.memory_mib) continue;
      int gpus = 0, max_mem = 0;
      for (const auto& d : node.gpus) {
        ++gpus;
        max_mem = std::max(max_mem, d.mem_total);
      }
      if (State::is_share(spec) ? max_mem >= spec.share_memory_mib && gpus > 0
                                : gpus >= spec.gpus) {
        possible = true;
        break;
      }
    }
    if (possible) break;
  }
  if (!possible) {
    S.rejected.push_back({Decision::Kind::kReject,
                          spec.id,
                          {},
                          0,
                          0,
                          "no node in pool " + spec.pool +
                              (spec.flavor.empty() ? "" : " with " + spec.flavor + " GPUs") +
                              (spec.clusters.empty() ? "" : " of cluster(s) " + spec.clusters) +
                              " could ever hold one worker of this job"});
    return {};
  }
  S.queues[j.queue].pending.insert({-spec.priority, j.seq, spec.id});
  S.observe(S.jobs.emplace(spec.id, std::move(j)));
  return {};
}

Status Scheduler::cancel(int64_t id, int64_t now_ms) {
  State& S = *s_;
  State::Job* found = S.jobs.get(id);
  if (!found) return Status::not_found("no job " + std::to_string(id));
  State::Job& j = *found;
  if (j.state == State::JobState::kPending) {
    S.queues[j.queue].pending.erase({-j.spec.priority, j.seq, id});
  } else {
    S.decay(S.queues[j.queue], now_ms);
    if (j.state == State::JobState::kRunning) S.track(j, false);  // a preempted one was untracked
    S.release(j);
  }
  S.forget(id);
  return {};
}

Status Scheduler::finished(int64_t id, int64_t now_ms) {
  State& S = *s_;
  const State::Job* found = S.jobs.get(id);
  if (!found || found->state == State::JobState::kPending) {
    return Status::failed_precondition("job " + std::to_string(id) + " is not running");
  }
  return cancel(id, now_ms);
}

std::vector<Decision> Scheduler::cycle(int64_t now) {
  State& S = *s_;
  std::vector<Decision> out = std::move(S.rejected);
  S.rejected.clear();
  struct Entry {
    int priority;
    double share;
    int64_t seq;
    int queue;
    bool operator<(const Entry& o) const {  // the heap's top is the greatest
      return std::tie(priority, o.share, o.seq) < std::tie(o.priority, share, seq);
    }
  };
  std::priority_queue<Entry> heap;
  auto push = [&](int qi) {
    State::Queue& q = S.queues[qi];
    if (q.pending.empty()) return;
    S.decay(q, now);
    const auto& [neg_priority, seq, id] = *q.pending.begin();
    heap.push({-neg_priority, S.share_of(q), seq, qi});
  };
  for (size_t qi = 0; qi < S.queues.size(); ++qi) push(static_cast<int>(qi));

  // Per group: requests that found no room this cycle (and no preemption). Room only
  // shrinks within a cycle, so a request at least as large in every respect (GPUs or the
  // share's cores and memory, CPU, memory, workers) has none either and is not looked
  // for again. Then the backfill reservation of the first blocked job.
  struct Failed {
    bool share;
    int gpus, cores, share_mib;
    int64_t cpu, mem;
    int workers;
  };
  auto failed_of = [](const JobSpec& s) {
    return Failed{State::is_share(s), s.gpus,      std::max(1, s.share_cores_percent),
                  s.share_memory_mib, s.cpu_milli, s.memory_mib,
                  s.workers};
  };
  auto covers = [](const Failed& f, const Failed& j) {
    if (f.share != j.share || f.cpu > j.cpu || f.mem > j.mem || f.workers > j.workers) return false;
    return f.share ? f.cores <= j.cores && f.share_mib <= j.share_mib : f.gpus <= j.gpus;
  };
  std::vector<std::vector<Failed>> memo(S.groups.size());
  struct Reservation {
    int64_t shadow = 0;
    int priority = 0;
    int64_t job = 0;
    int queue = -1;     // the holder's
    bool hard = false;  // room a preemption is making: holds back every queue
    bool active = false;
  };
  // Whether job `j` would run beyond its queue's nominal quota.
  auto beyond_nominal = [&](const State::Job& j) {
    const State::Queue& q = S.queues[j.queue];
    return q.used + q.reserved + j.charge * j.spec.workers > q.spec.nominal_milli;
  };
  std::vector<Reservation> reserved(S.pool_ids.size());  // by pool
  // Pools where room is being made by preemption, with the highest priority it is made
  // for: kept apart from `reserved`, whose one entry a higher-priority blocked job may
  // take over, so that a lower-priority job never takes that room.
  constexpr int kNotHeld = std::numeric_limits<int>::min();
  std::vector<int> hard_held(S.pool_ids.size(), kNotHeld);  // by pool
  auto hold_hard = [&](const State::Job& j) {
    int& h = hard_held[static_cast<size_t>(j.pool)];
    h = std::max(h, j.spec.priority);
  };
  std::vector<std::optional<std::tuple<int, int64_t, int64_t>>> tried_up_to(S.queues.size());

  // Jobs that preempted others come first once their victims have stopped; until then
  // they hold their pool.
  for (auto it = S.nominated.begin(); it != S.nominated.end();) {
    State::Job& j = S.jobs.at(it->first);
    if (j.state != State::JobState::kPending) {
      it = S.nominated.erase(it);
      continue;
    }
    if (j.waiting_for > 0) {
      auto& r = reserved[static_cast<size_t>(j.pool)];
      // Nothing backfills into room a preemption is making (its shadow is now).
      if (!r.active || r.priority < j.spec.priority)
        r = {now, j.spec.priority, j.spec.id, j.queue, true, true};
      hold_hard(j);
      ++it;
      continue;
    }
    State::Queue& q = S.queues[j.queue];
    it = S.nominated.erase(it);  // placed now, or back to the ordinary order
    S.hold_quota(j, -1);
    std::vector<WorkerPlacement> placement;
    if (S.quota_refusal(q, j, j.charge * j.spec.workers).empty() && S.place(j, &placement)) {
      S.start(j, now);
      S.track(j, true);
      out.push_back({Decision::Kind::kPlace, j.spec.id, std::move(placement), 0, 0,
                     "placed where preempted jobs made room"});
    }
  }

  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    State::Queue& q = S.queues[e.queue];
    int64_t min_quota_failure = kUnlimited;
    int tried = 0;
    bool placed = false;
    // Each job is tried once a cycle: a job that could not start is not tried again when
    // its queue comes round after others started (it would preempt what was just placed).
    // The jobs tried are a prefix of the queue's order (a visit tries them in order and
    // stops at the one it places; nothing is submitted during a cycle): the next visit
    // starts after the last one tried.
    auto& from = tried_up_to[static_cast<size_t>(e.queue)];
    auto next = from ? q.pending.upper_bound(*from) : q.pending.begin();
    while (next != q.pending.end() && tried < S.options.max_scan_per_queue) {
      // (Only a placement erases from the queue, and the scan stops there.)
      const auto entry = *next++;
      ++tried;
      State::Job& j = S.jobs.at(std::get<2>(entry));
      const int64_t id = j.spec.id;
      from = entry;
      if (j.waiting_for > 0) continue;  // its victims are still stopping
      const int64_t amount = j.charge * j.spec.workers;
      if (amount >= min_quota_failure) continue;
      bool user_level = false;
      uint64_t key = j.refusal_key;
      std::string refusal = S.quota_refusal(q, j, amount, &user_level, &key);
      if (!refusal.empty()) {
        if (refusal != State::kSameRefusal) {
          S.set_reason(j, "pending: " + refusal, out);
          j.refusal_key = key;
        }
        if (!user_level) min_quota_failure = amount;
        continue;
      }
      // A reservation holds back jobs of lower or equal priority; a job within its own
      // queue's nominal quota only by a reservation of its own queue (guarantees are per
      // queue: another queue's reservation cannot take them) or by room a preemption is
      // making.
      // (Held reasons are written once while the holder stays the same: a pool held for
      // one job holds back every job behind it each cycle.)
      auto held = [&](uint64_t code, int64_t holder, auto&& text) {
        const uint64_t key = State::mix(code, static_cast<uint64_t>(holder)) | 1;
        if (j.refusal_key == key) return;
        S.set_reason(j, text(), out);
        j.refusal_key = key;
      };
      if (const int h = hard_held[static_cast<size_t>(j.pool)];
          h != kNotHeld && h >= j.spec.priority) {
        held(8, h, [&] {
          return "pending: GPUs in pool " + j.spec.pool + " are held for a job of priority " +
                 std::to_string(h) + " whose preempted jobs are stopping";
        });
        continue;
      }
      const Reservation* r = &reserved[static_cast<size_t>(j.pool)];
      if (r->active && r->job != id && r->priority >= j.spec.priority &&
          (r->hard || r->queue == j.queue || beyond_nominal(j))) {
        const bool ends_in_time = S.options.backfill && j.spec.runtime_estimate_ms > 0 &&
                                  now + j.spec.runtime_estimate_ms <= r->shadow;
        if (!ends_in_time) {
          held(9, r->job, [&] {
            return "pending: GPUs in pool " + j.spec.pool + " are held for job " +
                   std::to_string(r->job) +
                   (S.options.backfill ? " (this job's estimate does not end before it starts)"
                                       : "");
          });
          continue;
        }
      }
      // Skip quickly what cannot fit in a group that had no room for a smaller request.
      bool hopeless = true;
      const Failed shape = failed_of(j.spec);
      for (int g : S.groups_of(j)) {
        bool covered = false;
        for (const Failed& f : memo[g]) covered = covered || covers(f, shape);
        if (!covered) hopeless = false;
      }
      std::vector<WorkerPlacement> placement;
      if ((!hopeless || S.groups_of(j).empty()) && S.place(j, &placement)) {
        S.start(j, now);
        S.track(j, true);
        std::string where;
        for (const auto& p : placement) where += (where.empty() ? "" : ", ") + p.node;
        out.push_back({Decision::Kind::kPlace, id, std::move(placement), 0, 0,
                       "placed on " + where + "; project " + q.spec.project + " now uses " +
                           gpus_text(q.used) + " of " + gpus_text(q.spec.nominal_milli) +
                           " nominal GPUs"});
        placed = true;
        break;
      }
      std::string why_not;
      std::vector<int64_t> victims;
      if (S.preemption_may_help(j)) victims = S.victims_for(j, &why_not);
      if (!victims.empty()) {
        for (int64_t v : victims) {
          State::Job& vj = S.jobs.at(v);
          vj.state = State::JobState::kPreempting;
          S.track(vj, false);
          S.preempted_for[v] = id;
          const bool reclaim = vj.queue != j.queue && vj.spec.priority >= j.spec.priority;
          // (a lower-priority borrower of another queue gives way as "preempted for job")
          Decision pd{Decision::Kind::kPreempt,
                      v,
                      {},
                      id,
                      S.options.preemption_grace_ms,
                      reclaim ? "preempted to give project " + q.spec.project +
                                    " back its nominal quota (project " +
                                    S.queues[vj.queue].spec.project + " is borrowing)"
                              : "preempted for job " + std::to_string(id) + " of priority " +
                                    std::to_string(j.spec.priority) + " (this job's is " +
                                    std::to_string(vj.spec.priority) + ")"};
          pd.victim_borrowing = S.queues[vj.queue].used > S.queues[vj.queue].spec.nominal_milli;
          out.push_back(std::move(pd));
        }
        S.set_reason(
            j,
            "pending: waiting for " + std::to_string(victims.size()) + " preempted job(s) to stop",
            out);
        j.waiting_for = static_cast<int>(victims.size());
        S.nominated[id] = 0;
        S.hold_quota(j, +1);
        auto& r = reserved[static_cast<size_t>(j.pool)];
        if (!r.active || r.priority <= j.spec.priority)
          r = {now, j.spec.priority, id, j.queue, true, true};
        hold_hard(j);
        continue;
      }
      for (int g : S.groups_of(j)) {
        if (memo[g].size() < 32) memo[g].push_back(shape);
      }
      if (Reservation& r = reserved[static_cast<size_t>(j.pool)]; !r.active) {
        r = {S.options.backfill ? S.shadow_time(j, now) : kUnlimited,
             j.spec.priority,
             id,
             j.queue,
             false,
             true};
      }
      // What is missing: the GPUs, or (when a node has those) the CPU and memory beside.
      // Worked out again at most every 30 s for a job that stays without room.
      static const std::string kNoRoom = "pending: no node in pool ";
      if (why_not.empty() && j.reason.compare(0, kNoRoom.size(), kNoRoom) == 0 &&
          j.explained_ms >= 0 && now - j.explained_ms < 30000) {
        continue;
      }
      j.explained_ms = now;
      JobSpec gpus_alone = j.spec;
      gpus_alone.cpu_milli = 0;
      gpus_alone.memory_mib = 0;
      std::vector<int> unused;
      const bool cpu_or_memory =
          (!State::is_share(j.spec) && j.spec.gpus == 0) || S.find_node(gpus_alone, unused) >= 0;
      std::string need =
          cpu_or_memory ? std::string()
          : State::is_share(j.spec)
              ? "has a GPU with " + std::to_string(std::max(1, j.spec.share_cores_percent)) +
                    "% of its cores and " + std::to_string(j.spec.share_memory_mib) + " MiB free"
              : "has " + std::to_string(j.spec.gpus) + " free GPUs";
      if (cpu_or_memory) {
        need = std::string(State::is_share(j.spec) || j.spec.gpus > 0 ? "with room for its GPUs "
                                                                      : "") +
               "has " + gpus_text(j.spec.cpu_milli) + " CPUs and " +
               std::to_string(j.spec.memory_mib) + " MiB of memory free";
      }
      S.set_reason(
          j,
          "pending: no node in pool " + j.spec.pool + " " + need +
              (j.spec.workers > 1 ? " for each of " + std::to_string(j.spec.workers) + " workers"
                                  : "") +
              (why_not.empty() ? "" : "; " + why_not),
          out);
    }
    (void)tried;
    if (placed) push(e.queue);
  }
  return out;
}

std::optional<QueueState> Scheduler::queue(const std::string& project) const {
  auto it = s_->queue_index.find(project);
  if (it == s_->queue_index.end()) return std::nullopt;
  const State::Queue& q = s_->queues[it->second];
  return QueueState{q.used,
                    q.cpu_used,
                    q.mem_used,
                    q.spec.nominal_milli,
                    static_cast<int64_t>(q.pending.size()),
                    q.running,
                    s_->share_of(q)};
}

int64_t Scheduler::user_usage_milli(const std::string& project, const std::string& user) const {
  auto q = s_->queue_index.find(project);
  auto u = s_->users.find(user);
  if (q == s_->queue_index.end() || u == s_->users.end()) return 0;
  const auto& m = s_->queues[q->second].user_used;
  auto it = m.find(u->second);
  return it == m.end() ? 0 : it->second;
}

std::string Scheduler::reason(int64_t job) const {
  const State::Job* j = s_->jobs.get(job);
  return j ? j->reason : "";
}

bool Scheduler::is_running(int64_t job) const {
  const State::Job* j = s_->jobs.get(job);
  return j && j->state != State::JobState::kPending;
}

size_t Scheduler::pending_count() const { return s_->jobs.size() - s_->running_jobs; }
bool Scheduler::is_pending(int64_t job) const {
  const State::Job* j = s_->jobs.get(job);
  return j && j->state == State::JobState::kPending;
}

size_t Scheduler::nominated_count() const { return s_->nominated.size(); }
size_t Scheduler::running_count() const { return s_->running_jobs; }
int64_t Scheduler::allocated_milli() const { return s_->allocated; }
int64_t Scheduler::capacity_milli() const { return s_->capacity; }

std::vector<Scheduler::NodeView> Scheduler::nodes_view() const {
  const State& S = *s_;
  std::vector<NodeView> out;
  for (const State::Node& n : S.nodes) {
    if (!n.alive) continue;
    NodeView v{.name = n.name,
               .pool = S.groups[n.group].pool,
               .flavor = S.groups[n.group].flavor,
               .cpu_milli = n.cpu_total,
               .cpu_used_milli = n.cpu_used,
               .memory_mib = n.mem_total,
               .memory_used_mib = n.mem_used};
    for (const State::Device& d : n.gpus) {
      v.gpus.push_back({.uuid = d.uuid,
                        .healthy = d.healthy,
                        .memory_mib = d.mem_total,
                        .memory_used_mib = d.exclusive ? d.mem_total : d.mem_used,
                        .cores_used_percent = d.exclusive ? 100 : d.cores_used});
    }
    const int self = S.node_index.at(n.name);
    for (int64_t id : n.jobs) {  // sorted: job id order
      const State::Job& j = S.jobs.at(id);
      const bool share = State::is_share(j.spec);
      for (const auto& [node, devices] : j.placement) {
        if (node != self) continue;
        for (int d : devices) {
          DeviceView& dv = v.gpus[d];
          dv.holders.push_back({.job = id,
                                .project = j.spec.project,
                                .user = j.spec.user,
                                .whole = !share,
                                .memory_mib = share ? j.spec.share_memory_mib : dv.memory_mib,
                                .cores_percent = share ? j.spec.share_cores_percent : 100,
                                .preempting = j.state == State::JobState::kPreempting});
        }
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Scheduler::PendingView> Scheduler::queue_view() const {
  const State& S = *s_;
  struct Key {
    int priority;
    double share;
    int64_t seq;
    int64_t job;
    bool operator<(const Key& o) const {
      return std::tie(o.priority, share, seq) < std::tie(priority, o.share, o.seq);
    }
  };
  std::vector<Key> keys;
  for (const State::Queue& q : S.queues) {
    const double share = S.share_of(q);
    for (const auto& [neg_priority, seq, id] : q.pending)
      keys.push_back({-neg_priority, share, seq, id});
  }
  std::sort(keys.begin(), keys.end());
  std::vector<PendingView> out;
  out.reserve(keys.size());
  for (const Key& k : keys) {
    const State::Job& j = S.jobs.at(k.job);
    out.push_back({.job = k.job,
                   .project = j.spec.project,
                   .user = j.spec.user,
                   .priority = j.spec.priority,
                   .charge_milli = j.charge * j.spec.workers,
                   .reason = j.reason});
  }
  return out;
}

Status Scheduler::check_invariants() const {
  const State& S = *s_;
  struct DeviceUse {
    int mem = 0, cores = 0, exclusive = 0, shares = 0;
  };
  std::vector<std::vector<DeviceUse>> dev(S.nodes.size());
  std::vector<int64_t> cpu(S.nodes.size()), mem(S.nodes.size());
  for (size_t n = 0; n < S.nodes.size(); ++n) dev[n].resize(S.nodes[n].gpus.size());
  std::vector<int64_t> queue_used(S.queues.size()), queue_jobs(S.queues.size()),
      queue_cpu(S.queues.size()), queue_mem(S.queues.size());
  std::map<std::pair<int, int>, int64_t> user_used;
  std::vector<std::pair<int64_t, const State::Job*>> all;
  S.jobs.for_each([&](int64_t id, const State::Job& j) { all.push_back({id, &j}); });
  std::sort(all.begin(), all.end());
  for (const auto& [id, jp] : all) {
    const State::Job& j = *jp;
    if (j.state == State::JobState::kPending) {
      if (!j.placement.empty())
        return Status::internal("pending job " + std::to_string(id) + " holds a placement");
      continue;
    }
    if (static_cast<int>(j.placement.size()) != j.spec.workers) {
      return Status::internal("job " + std::to_string(id) + " has " +
                              std::to_string(j.placement.size()) + " of its " +
                              std::to_string(j.spec.workers) + " workers placed");
    }
    for (const auto& [n, devices] : j.placement) {
      cpu[n] += j.spec.cpu_milli;
      mem[n] += j.spec.memory_mib;
      for (int d : devices) {
        if (State::is_share(j.spec)) {
          dev[n][d].mem += j.spec.share_memory_mib;
          dev[n][d].cores += std::max(1, j.spec.share_cores_percent);
          dev[n][d].shares++;
        } else {
          dev[n][d].exclusive++;
        }
      }
      if (!State::is_share(j.spec) && static_cast<int>(devices.size()) != j.spec.gpus) {
        return Status::internal("job " + std::to_string(id) + " got the wrong number of GPUs");
      }
    }
    queue_used[j.queue] += j.charge * j.spec.workers;
    queue_jobs[j.queue]++;
    queue_cpu[j.queue] += j.spec.cpu_milli * j.spec.workers;
    queue_mem[j.queue] += j.spec.memory_mib * j.spec.workers;
    user_used[{j.queue, j.user}] += j.charge * j.spec.workers;
  }
  for (size_t n = 0; n < S.nodes.size(); ++n) {
    const State::Node& node = S.nodes[n];
    if (!node.alive) continue;
    if (cpu[n] > node.cpu_total || mem[n] > node.mem_total || cpu[n] != node.cpu_used ||
        mem[n] != node.mem_used) {
      return Status::internal("node " + node.name + ": CPU or memory over-allocated or miscounted");
    }
    for (size_t d = 0; d < node.gpus.size(); ++d) {
      const DeviceUse& u = dev[n][d];
      const State::Device& g = node.gpus[d];
      if (u.exclusive > 1 || (u.exclusive && u.shares) || u.mem > g.mem_total || u.cores > 100 ||
          u.mem != g.mem_used || u.cores != g.cores_used || (u.exclusive > 0) != g.exclusive) {
        return Status::internal("node " + node.name + " GPU " + std::to_string(d) +
                                " is over-allocated or miscounted");
      }
    }
  }
  int64_t total = 0;
  for (size_t qi = 0; qi < S.queues.size(); ++qi) {
    const State::Queue& q = S.queues[qi];
    total += queue_used[qi];
    if (queue_used[qi] != q.used || queue_jobs[qi] != q.running || queue_cpu[qi] != q.cpu_used ||
        queue_mem[qi] != q.mem_used)
      return Status::internal("queue " + q.spec.project + " usage miscounted");
    if (q.running > q.spec.max_running_jobs || q.cpu_used > q.spec.cpu_limit_milli ||
        q.mem_used > q.spec.memory_limit_mib) {
      return Status::internal("queue " + q.spec.project + " is over its job, CPU or memory limit");
    }
    if (q.used > sat_add(q.spec.nominal_milli, q.spec.borrowing_limit_milli)) {
      return Status::internal("queue " + q.spec.project +
                              " uses more than nominal plus its borrowing limit");
    }
  }
  for (const auto& [key, used] : user_used) {
    if (used > S.queues[key.first].spec.per_user_milli) {
      return Status::internal("a user of project " + S.queues[key.first].spec.project +
                              " is over the per-user limit");
    }
  }
  if (total != S.allocated) return Status::internal("allocated total miscounted");
  return {};
}

}  // namespace jz::sched
