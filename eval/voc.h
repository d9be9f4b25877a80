// Pascal VOC average precision for one class: detections in score order (stable), each
// matched greedily to the unmatched ground-truth box of its image with the highest IoU;
// AP by 11-point interpolation (VOC2007) and by all points (VOC2010 on).
//
// The two conventions that differ between toolkits are explicit options: the VOC
// devkit's "+1 pixel" box sizes (boxes as inclusive pixel indices) and whether an IoU
// equal to the threshold counts (>=, the devkit's) or not (>).
#pragma once

#include <string>
#include <vector>

namespace jz::eval {

struct VocBox {
  std::string image;
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double score = 0;  // detections only
};

struct VocOptions {
  double iou_threshold = 0.5;
  bool plus_one_pixel = true;       // width = x2 - x1 + 1, as the VOC devkit
  bool inclusive_threshold = true;  // IoU >= threshold is a match (false: >)
};

struct VocResult {
  double ap_11_point = 0;
  double ap_all_points = 0;
  int64_t ground_truth = 0, true_positives = 0, false_positives = 0;
  std::vector<double> precision, recall;  // after each detection, in score order
};

double voc_iou(const VocBox& a, const VocBox& b, bool plus_one_pixel);
VocResult evaluate_voc(const std::vector<VocBox>& ground_truth,
                       const std::vector<VocBox>& detections, const VocOptions& options = {});

}  // namespace jz::eval
