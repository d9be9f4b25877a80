// Fuzz target: YOLO label files and class lists. The input's first line is a class list
// (names separated by commas), the rest a label file for a 640x480 image. What is accepted
// writes back and reads again within a thousandth of a pixel.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  std::string list(text.substr(0, nl));
  for (char& c : list) c = c == ',' ? '\n' : c;
  auto classes = jz::data::read_class_list(list, "classes.txt");
  if (!classes.ok()) return 0;
  if (auto again = jz::data::read_class_list(jz::data::write_class_list(*classes), "c");
      !again.ok() || *again != *classes) {
    __builtin_trap();
  }
  if (nl == std::string_view::npos) return 0;
  auto boxes = jz::data::read_yolo(text.substr(nl + 1), "in.txt", *classes, 640, 480);
  if (!boxes.ok()) {
    if (boxes.status().message().rfind("in.txt", 0) != 0) __builtin_trap();
    return 0;
  }
  const jz::data::AnnotatedImage img{"a.jpg", 640, 480, *boxes, {}};
  auto again =
      jz::data::read_yolo(jz::data::write_yolo(img, *classes), "again.txt", *classes, 640, 480);
  if (!again.ok() || again->size() != boxes->size()) __builtin_trap();
  for (size_t i = 0; i < boxes->size(); ++i) {
    const auto& a = (*boxes)[i];
    const auto& b = (*again)[i];
    if (a.category != b.category || std::abs(a.x - b.x) > 1e-3 ||
        std::abs(a.width - b.width) > 1e-3) {
      __builtin_trap();
    }
  }
  return 0;
}
