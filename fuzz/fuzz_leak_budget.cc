// Fuzz target: the leak-budget counter's reader of whitelist patterns (logs/capacity.h).
// The first byte chooses ignore_case; the rest is the pattern. A measured budget is a
// number of bits between 0 and what every line up to the length holds, and never shrinks
// when longer lines are allowed; no pattern crashes it or runs away with memory.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "logs/capacity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 512) return 0;
  jz::logs::LogRule rule{"r", std::string(reinterpret_cast<const char*>(data) + 1, size - 1), false,
                         (data[0] & 1) != 0};
  auto shorter = jz::logs::whitelist_capacity({rule}, 6);
  auto longer = jz::logs::whitelist_capacity({rule}, 12);
  // (A longer bound may meet the state limit where the shorter did not.)
  if (!shorter.ok() || !longer.ok()) return 0;
  // 255 possible bytes a position (no newline): at most log2(256^13) bits up to 12 bytes.
  for (const auto* c : {&*shorter, &*longer}) {
    if (!std::isfinite(c->bits_per_line) || c->bits_per_line < 0 || c->bits_per_line > 104) {
      __builtin_trap();
    }
    if (!std::isfinite(c->bits_per_byte) || c->bits_per_byte < 0 || c->bits_per_byte > 8) {
      __builtin_trap();
    }
  }
  if (longer->bits_per_line + 1e-9 < shorter->bits_per_line) __builtin_trap();
  return 0;
}
