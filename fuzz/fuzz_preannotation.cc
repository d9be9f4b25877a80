// Fuzz target: one line of an algorithm's results as pre-annotation reads it (a job's
// output: the algorithm is not trusted). Whatever the line holds, what comes back is boxes
// of the task's classes inside the image, and a refusal says why.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>

#include "core/json.h"
#include "platform/datasets/preannotation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const jz::datasets::LabelSpec spec =
      *jz::datasets::parse_label_spec(jz::Json::parse(R"({"classes": ["car", "person"]})"));
  static const jz::datasets::PreAnnotationRequest request = [] {
    jz::datasets::PreAnnotationRequest r;
    r.min_confidence = 0.25;
    r.classes = {{"truck", "car"}};
    return r;
  }();
  auto line = jz::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "in");
  if (!line.ok() || !line->is_object()) return 0;
  std::map<std::string, int64_t> dropped;
  auto shapes = jz::datasets::boxes_of(*line, request, spec, dropped);
  if (!shapes.ok()) {
    if (shapes.status().message().empty()) __builtin_trap();
    return 0;
  }
  const double w = line->value("width", jz::Json(0)).get<double>();
  const double h = line->value("height", jz::Json(0)).get<double>();
  for (const auto& s : *shapes) {
    const std::string label = s["label"].get<std::string>();
    if (label != "car" && label != "person") __builtin_trap();
    const double x = s["x"].get<double>(), y = s["y"].get<double>();
    if (x < 0 || y < 0 || x + s["width"].get<double>() > w + 1e-9 ||
        y + s["height"].get<double>() > h + 1e-9 || s["width"].get<double>() < 1) {
      __builtin_trap();
    }
  }
  return 0;
}
