// Fuzz target: WKT regions of interest (include/jizhan/wkt.hpp). An accepted region's
// points all lie in [0, 1] and contains() never misbehaves.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jizhan/wkt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto roi = jizhan::Roi::parse(text, &error);
  if (!roi) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& polygon : roi->polygons()) {
    for (const auto& ring : polygon) {
      if (ring.size() < 4) __builtin_trap();
      for (const auto& p : ring) {
        if (!(p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1)) __builtin_trap();
      }
    }
  }
  (void)roi->contains(0.5, 0.5);
  return 0;
}
