// Fuzz target: the CSV reader of `jizhan eval diff-csv`. A CSV compared with itself is
// identical.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/csv_diff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = jz::eval::parse_csv(text, "fuzz.csv");
  if (!c.ok()) return 0;
  for (const auto& row : c->rows) {
    if (row.size() != c->header.size()) __builtin_trap();
  }
  auto d = jz::eval::diff_csv(*c, *c, c->header[0], {});
  if (d.ok() && d->verdict != "identical") __builtin_trap();
  return 0;
}
