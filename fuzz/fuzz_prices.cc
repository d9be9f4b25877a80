// Fuzz target: metering prices (metering.prices, "default: gpu=2.5, cpu=0.04; *: gpu=1").
// What it accepts has only lower-case pool names (or *) and finite prices from 0 to 1e9.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "platform/jobs/metering.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto prices =
      jz::jobs::parse_prices(std::string(reinterpret_cast<const char*>(data), size), "CNY");
  if (!prices.ok()) return 0;
  for (const auto& [pool, r] : prices->by_pool) {
    if (pool.empty() || pool.size() > 64) __builtin_trap();
    for (char c : pool) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      (c == '*' && pool == "*");
      if (!ok) __builtin_trap();
    }
    for (double v : {r.gpu_hour, r.gpu_memory_gib_hour, r.cpu_core_hour, r.memory_gib_hour}) {
      if (!std::isfinite(v) || v < 0 || v > 1e9) __builtin_trap();
    }
  }
  return 0;
}
