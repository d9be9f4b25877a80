// Fuzz target: the openb trace readers (sched/trace.h), nodes and tasks CSVs of Alibaba's
// cluster-trace-gpu-v2023. What they accept is in range: GPU counts 0-64, a share's
// milli-GPU under 1000 only on one GPU, and every task's request is what its fields say.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sched/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto nodes = jz::sched::parse_openb_nodes(text, "nodes"); nodes.ok()) {
    for (const auto& n : *nodes) {
      if (n.gpus < 0 || n.gpus > 64 || n.cpu_milli < 0 || n.memory_mib < 0) __builtin_trap();
    }
  }
  if (auto tasks = jz::sched::parse_openb_tasks(text, "tasks"); tasks.ok()) {
    for (const auto& t : *tasks) {
      if (t.gpus < 0 || t.gpus > 64 || t.gpu_milli < 0 || t.gpu_milli > 1000) __builtin_trap();
      if (t.gpu_milli < 1000 && t.gpus > 1) __builtin_trap();
      if (t.request_milli() != int64_t{t.gpus} * t.gpu_milli) __builtin_trap();
    }
  }
  return 0;
}
