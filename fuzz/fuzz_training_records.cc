// Fuzz target: training records (training/records.h), as clients send them and as
// `jizhan metrics upload` reads them. What parses formats to a line that parses again to
// the same record (its time within a microsecond: seconds are carried as a double).
#include <cstddef>
#include <cstdint>
#include <string>

#include "training/records.h"

namespace tr = jz::training;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto records = tr::parse_lines(text);
  if (!records.ok()) return 0;
  for (const tr::Record& r : *records) {
    const std::string line = tr::format_record(r);
    auto again = tr::parse_lines(line);
    if (!again.ok() || again->size() != 1) __builtin_trap();
    tr::Record a = r, b = (*again)[0];
    if (a.wall_us - b.wall_us > 1 || b.wall_us - a.wall_us > 1) __builtin_trap();
    a.wall_us = b.wall_us = 0;
    if (a.walls_us.size() != b.walls_us.size()) __builtin_trap();
    for (size_t i = 0; i < a.walls_us.size(); ++i) {
      if (a.walls_us[i] - b.walls_us[i] > 1 || b.walls_us[i] - a.walls_us[i] > 1) __builtin_trap();
    }
    a.walls_us.clear();
    b.walls_us.clear();
    if (tr::format_record(a) != tr::format_record(b)) __builtin_trap();
  }
  return 0;
}
