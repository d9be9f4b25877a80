// Fuzz target: the simulator's inputs (cluster YAML, trace CSV, generator YAML). Whatever
// is accepted is within the documented bounds; nothing crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sched/sim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cluster = jz::sched::parse_cluster(text, "cluster.yaml");
  if (cluster.ok()) {
    for (const auto& p : cluster->pools) {
      if (p.nodes < 1 || p.gpus_per_node < 1 || p.name.empty() || p.gpus() < 1) __builtin_trap();
    }
  }
  auto trace = jz::sched::parse_trace(text, "trace.csv");
  if (trace.ok()) {
    for (const auto& j : trace->jobs) {
      if ((j.gpus > 0 && j.share_cores_percent > 0) || j.duration_s < 1) __builtin_trap();
      // A job without GPUs (CPU only) asks for CPU or memory.
      if (j.gpus == 0 && j.share_cores_percent == 0 && j.cpu <= 0 && j.memory_mib <= 0) {
        __builtin_trap();
      }
    }
  }
  jz::sched::ClusterSpec c;
  c.pools.push_back({});
  c.queues.push_back({.project = "p"});
  auto gen = jz::sched::parse_generator(text, "workload.yaml", c, 2000);
  if (gen.ok() && gen->jobs.size() > 2000 * 2) __builtin_trap();
  return 0;
}
