// COCO-style detection evaluation with pycocotools' exact semantics (COCOeval, bbox):
// detections sorted by score with a stable sort and capped per image and category at
// the largest maxDets, greedy matching per IoU threshold in score order preferring
// non-ignored ground truth, crowd regions matched by intersection over the detection's
// area and never used up, the annotation's own `area` for the area ranges, 101 recall
// points with the precision envelope, and -1 for what cannot be measured (no ground
// truth in a category or area range). Tested against pycocotools' numbers to 1e-6.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::eval {

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // COCO's [x, y, width, height]
};

struct GroundTruth {
  int64_t id = 0, image_id = 0, category_id = 0;
  Box box;
  double area = 0;  // the annotation's area (segment area in COCO), not the box's
  bool iscrowd = false;
};

struct Detection {
  int64_t image_id = 0, category_id = 0;
  Box box;
  double score = 0;
};

struct CocoDataset {
  std::vector<int64_t> image_ids;  // every image, including those without boxes
  struct Category {
    int64_t id;
    std::string name;
  };
  std::vector<Category> categories;
  std::vector<GroundTruth> annotations;
};

// A COCO dataset file (images, categories, annotations with bbox and area), read as a
// stream (no document is built: a val2017-sized file reads in a fraction of a second).
// Errors name the annotation and field. An annotation without `area` gets its box's area.
Result<CocoDataset> read_coco_dataset(std::string_view json_text);
// Detections: a COCO results list [{image_id, category_id, bbox, score}], or a
// COCO-dataset-shaped object whose "annotations" are the detections.
Result<std::vector<Detection>> read_coco_detections(std::string_view json_text);

struct CocoParams {
  std::vector<double> iou_thresholds;     // default .50:.05:.95, as numpy.linspace gives
  std::vector<double> recall_thresholds;  // default 0:.01:1 (101 points)
  std::vector<int> max_dets = {1, 10, 100};
  std::vector<std::array<double, 2>> area_ranges = {
      {0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
  std::vector<std::string> area_labels = {"all", "small", "medium", "large"};
  CocoParams();
};

struct CocoResult {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
  std::array<double, 12> stats{};
  static const std::array<const char*, 12>& stat_names();
  struct PerCategory {
    int64_t id;
    std::string name;
    double ap = -1, ap50 = -1, ar100 = -1;  // all areas, 100 detections
    int64_t ground_truth = 0, detections = 0;
    std::vector<double> pr_curve_50;  // precision at the 101 recall points, IoU .50
  };
  std::vector<PerCategory> categories;
  Json to_json() const;  // {"AP":..., ..., "per_category":[...]}
};

// Detections of images that are not in the dataset are an error, as in pycocotools.
Result<CocoResult> evaluate_coco(const CocoDataset& gt, const std::vector<Detection>& dets,
                                 const CocoParams& params = {});

}  // namespace jz::eval
