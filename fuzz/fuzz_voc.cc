// Fuzz target: Pascal VOC annotation files. What is accepted writes back and reads again the
// same (to a millionth of a pixel: VOC is text).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "data/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> cats;
  auto img = jz::data::read_voc(text, "in.xml", cats);
  if (!img.ok()) {
    if (img.status().message().rfind("in.xml", 0) != 0) __builtin_trap();
    return 0;
  }
  std::vector<std::string> cats2;
  auto again = jz::data::read_voc(jz::data::write_voc(*img), "again.xml", cats2);
  if (!again.ok() || again->file != img->file || again->boxes.size() != img->boxes.size() ||
      cats2 != cats) {
    __builtin_trap();
  }
  for (size_t i = 0; i < img->boxes.size(); ++i) {
    const auto& a = img->boxes[i];
    const auto& b = again->boxes[i];
    if (a.category != b.category || std::abs(a.x - b.x) > 1e-5 || std::abs(a.y - b.y) > 1e-5 ||
        std::abs(a.width - b.width) > 1e-5 || std::abs(a.height - b.height) > 1e-5) {
      __builtin_trap();
    }
  }
  return 0;
}
