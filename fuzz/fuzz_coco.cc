// Fuzz target: COCO annotation files. What is accepted writes back and reads again the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "data/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = jz::data::read_coco(text, "in.json");
  if (!a.ok()) {
    if (a.status().message().rfind("in.json", 0) != 0) __builtin_trap();  // names the file
    return 0;
  }
  auto again = jz::data::read_coco(jz::data::write_coco(*a), "again.json");
  if (!again.ok() || again->categories != a->categories || again->images != a->images) {
    __builtin_trap();
  }
  return 0;
}
