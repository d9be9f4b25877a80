#include "eval/voc.h"

#include <algorithm>
#include <cfloat>
#include <map>
#include <numeric>

namespace jz::eval {

double voc_iou(const VocBox& a, const VocBox& b, bool plus_one) {
  const double one = plus_one ? 1.0 : 0.0;
  const double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1) + one;
  const double ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1) + one;
  if (iw <= 0 || ih <= 0) return 0;
  const double inter = iw * ih;
  const double area_a = (a.x2 - a.x1 + one) * (a.y2 - a.y1 + one);
  const double area_b = (b.x2 - b.x1 + one) * (b.y2 - b.y1 + one);
  return inter / (area_a + area_b - inter);
}

VocResult evaluate_voc(const std::vector<VocBox>& gts, const std::vector<VocBox>& dets,
                       const VocOptions& o) {
  VocResult r;
  r.ground_truth = static_cast<int64_t>(gts.size());
  std::map<std::string, std::vector<size_t>> by_image;
  for (size_t i = 0; i < gts.size(); ++i) by_image[gts[i].image].push_back(i);
  std::vector<uint8_t> used(gts.size(), 0);
  std::vector<size_t> order(dets.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return dets[a].score > dets[b].score; });
  double tp = 0, fp = 0;
  for (size_t idx : order) {
    const VocBox& d = dets[idx];
    double best = DBL_MIN;
    long best_gt = -1;
    auto it = by_image.find(d.image);
    if (it != by_image.end()) {
      for (size_t g : it->second) {
        const double v = voc_iou(d, gts[g], o.plus_one_pixel);
        if (v > best) {
          best = v;
          best_gt = static_cast<long>(g);
        }
      }
    }
    const bool hit =
        best_gt >= 0 && (o.inclusive_threshold ? best >= o.iou_threshold : best > o.iou_threshold);
    if (hit && !used[best_gt]) {
      used[best_gt] = 1;
      ++tp;
    } else {
      ++fp;
    }
    r.recall.push_back(gts.empty() ? 0 : tp / static_cast<double>(gts.size()));
    r.precision.push_back(tp / (tp + fp));
  }
  r.true_positives = static_cast<int64_t>(tp);
  r.false_positives = static_cast<int64_t>(fp);
  if (gts.empty()) return r;

  // All points: the area under the precision envelope at every change of recall.
  std::vector<double> mrec{0}, mpre{0};
  mrec.insert(mrec.end(), r.recall.begin(), r.recall.end());
  mpre.insert(mpre.end(), r.precision.begin(), r.precision.end());
  mrec.push_back(1);
  mpre.push_back(0);
  for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  for (size_t i = 1; i < mrec.size(); ++i) {
    if (mrec[i] != mrec[i - 1]) r.ap_all_points += (mrec[i] - mrec[i - 1]) * mpre[i];
  }
  // 11 points: the best precision at recall >= 0, 0.1, ..., 1. The levels are computed
  // as numpy.linspace(0, 1, 11) computes them (k * 0.1, so 0.6000000000000001), which is
  // what the reference toolkits compare against: a recall of exactly 9/15 is below it.
  double sum = 0;
  for (int k = 0; k <= 10; ++k) {
    const double level = k == 10 ? 1.0 : k * 0.1;
    double best = 0;
    for (size_t i = 0; i < r.recall.size(); ++i) {
      if (r.recall[i] >= level) best = std::max(best, r.precision[i]);
    }
    sum += best;
  }
  r.ap_11_point = sum / 11;
  return r;
}

}  // namespace jz::eval
