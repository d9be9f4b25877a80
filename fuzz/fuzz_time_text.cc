// Fuzz target: RFC 3339 times and durations (CLI flags such as --since and
// --expires-in). An accepted time formats and parses back to itself at millisecond
// precision; an accepted duration is positive.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto t = jz::parse_rfc3339(text); t.ok()) {
    auto again = jz::parse_rfc3339(jz::format_rfc3339(*t));
    if (!again.ok() || *again != *t) __builtin_trap();
  }
  if (auto d = jz::parse_duration(text); d.ok() && d->count() <= 0) __builtin_trap();
  return 0;
}
