// Fuzz target: TensorBoard event files (training/tensorboard.h), as `jizhan metrics import`
// reads them. What reads is written again as scalars and reads back to the same scalars
// (values as float32, what simple_value holds).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "training/tensorboard.h"

namespace tr = jz::training;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = tr::read_event_file(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!file.ok()) return 0;
  std::string out;
  tr::EventWriter w(out);
  w.file_version(1);
  for (const auto& s : file->scalars)
    w.scalar(s.wall_s, s.step, s.tag, static_cast<float>(s.value));
  auto again = tr::read_event_file(out);
  if (!again.ok() || again->scalars.size() != file->scalars.size() || again->truncated) {
    __builtin_trap();
  }
  for (size_t i = 0; i < file->scalars.size(); ++i) {
    const auto& a = file->scalars[i];
    const auto& b = again->scalars[i];
    const float fa = static_cast<float>(a.value), fb = static_cast<float>(b.value);
    if (a.tag != b.tag || a.step != b.step || std::memcmp(&a.wall_s, &b.wall_s, 8) != 0 ||
        std::memcmp(&fa, &fb, 4) != 0) {
      __builtin_trap();
    }
  }
  return 0;
}
