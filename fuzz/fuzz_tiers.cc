// Fuzz target: the embedded store's tier list (monitoring.tiers, "1s:1h,10s:24h,1m:30d").
// What it accepts has 1 to 8 tiers, steps of at least a second and strictly coarser in
// turn, each keep a whole number of steps, at most ten million of them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "metrics/tsdb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tiers = jz::metrics::parse_tiers(std::string(reinterpret_cast<const char*>(data), size));
  if (!tiers.ok()) return 0;
  if (tiers->empty() || tiers->size() > 8) __builtin_trap();
  int64_t previous = 0;
  for (const auto& t : *tiers) {
    const int64_t step = t.step.count(), keep = t.keep.count();
    if (step < 1 || step <= previous || keep % step != 0 || keep / step > 10'000'000) {
      __builtin_trap();
    }
    previous = step;
  }
  return 0;
}
