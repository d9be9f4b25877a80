// Times a whole COCO evaluation against merely parsing its files, on one core:
//   jz_bench_coco GROUND_TRUTH.json DETECTIONS.json
// Prints one JSON object: parse_s, the anchor (both files parsed into documents by
// nlohmann::json, the JSON library of this project, and nothing else); read_s (our
// streaming readers into boxes) and eval_s (evaluate_coco), whose sum whole_s is what
// `jizhan eval run -t builtin:coco-detection` spends; whole_over_parse; AP as a check.
// Files are read into memory first, outside every timing.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "eval/coco.h"

namespace {
std::string read(const char* p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: jz_bench_coco GROUND_TRUTH.json DETECTIONS.json\n");
    return 2;
  }
  const std::string gt_text = read(argv[1]), dt_text = read(argv[2]);
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto g = jz::Json::parse(gt_text);
    auto d = jz::Json::parse(dt_text);
    if (g.size() + d.size() == 0) return 1;
  }
  const double parse_s = since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  auto gt = jz::eval::read_coco_dataset(gt_text);
  auto dets = jz::eval::read_coco_detections(dt_text);
  const double read_s = since(t1);
  if (!gt.ok() || !dets.ok()) {
    std::fprintf(stderr, "bad input\n");
    return 1;
  }
  const auto t2 = std::chrono::steady_clock::now();
  auto r = jz::eval::evaluate_coco(*gt, *dets);
  const double eval_s = since(t2);
  if (!r.ok()) return 1;
  std::printf(
      "{\"images\":%zu,\"boxes\":%zu,\"detections\":%zu,\"parse_s\":%.3f,\"read_s\":%.3f,"
      "\"eval_s\":%.3f,\"whole_s\":%.3f,\"whole_over_parse\":%.2f,\"AP\":%.4f}\n",
      gt->image_ids.size(), gt->annotations.size(), dets->size(), parse_s, read_s, eval_s,
      read_s + eval_s, (read_s + eval_s) / parse_s, r->stats[0]);
  return 0;
}
