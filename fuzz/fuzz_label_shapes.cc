// Fuzz target: a labelling task's spec and the shapes a tool sends (both come from users:
// the spec from a data owner, the shapes from any annotator). The input is one JSON object
// {"spec": ..., "shapes": [...], "width": W, "height": H}. What is accepted is accepted
// again unchanged (checking is idempotent), and every accepted shape lies in the image.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "platform/datasets/labelling.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = jz::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "in");
  if (!j.ok() || !j->is_object()) return 0;
  auto spec = jz::datasets::parse_label_spec(j->value("spec", jz::Json()));
  if (!spec.ok()) {
    if (spec.status().message().empty()) __builtin_trap();
    return 0;
  }
  const jz::Json w = j->value("width", jz::Json(100)), h = j->value("height", jz::Json(100));
  if (!w.is_number_integer() || !h.is_number_integer()) return 0;
  const int width = static_cast<int>(std::clamp<int64_t>(w.get<int64_t>(), 1, 100000));
  const int height = static_cast<int>(std::clamp<int64_t>(h.get<int64_t>(), 1, 100000));
  auto shapes = jz::datasets::check_shapes(*spec, j->value("shapes", jz::Json()), width, height);
  if (!shapes.ok()) {
    if (shapes.status().message().empty()) __builtin_trap();
    return 0;
  }
  auto again = jz::datasets::check_shapes(*spec, *shapes, width, height);
  if (!again.ok() || *again != *shapes) __builtin_trap();
  for (const auto& s : *shapes) {
    const bool box = s["type"] == "box";
    if (box && !(s["width"].get<double>() >= 1 && s["x"].get<double>() >= -1 &&
                 s["x"].get<double>() + s["width"].get<double>() <= width + 1)) {
      __builtin_trap();
    }
    if (!box && s["points"].size() < 6) __builtin_trap();
  }
  // The spec reads back as written.
  auto spec_again = jz::datasets::parse_label_spec(spec->to_json());
  if (!spec_again.ok() || spec_again->to_json() != spec->to_json()) __builtin_trap();
  return 0;
}
