// Fuzz target: per-image annotation JSON. What is accepted writes back and reads again equal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "data/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto img = jz::data::read_image_json(text, "in.json");
  if (!img.ok()) {
    if (img.status().message().rfind("in.json", 0) != 0) __builtin_trap();
    return 0;
  }
  auto again = jz::data::read_image_json(jz::data::write_image_json(*img), "again.json");
  if (!again.ok() || !(*again == *img)) __builtin_trap();
  return 0;
}
