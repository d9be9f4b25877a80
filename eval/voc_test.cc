// Pascal VOC AP against the reference values of tests/data/detection-metrics/voc-case-1.
#include "eval/voc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jz::eval {
namespace {

// Lines "class [score] x y w h", files in name order.
std::vector<VocBox> load(const std::string& dir, bool with_score) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(
           std::string(JZ_TEST_DATA) + "/detection-metrics/voc-case-1/" + dir)) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<VocBox> out;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string cls;
    double score = 0, x, y, w, h;
    while (in >> cls) {
      if (with_score) in >> score;
      in >> x >> y >> w >> h;
      out.push_back({f.stem().string(), x, y, x + w, y + h, score});
    }
  }
  return out;
}

TEST(Voc, MatchesTheReferenceValues) {
  const auto gts = load("gts", false);
  const auto dets = load("dets", true);
  ASSERT_EQ(gts.size(), 15u);
  ASSERT_EQ(dets.size(), 24u);
  struct Case {
    double iou, ap11, ap_all;
  };
  for (const Case& c :
       {Case{0.10, 0.3333333333, 0.3371980676}, Case{0.30, 0.2683982683, 0.2456866804},
        Case{0.50, 0.0303030303, 0.0222222222}, Case{0.75, 0.0, 0.0}}) {
    VocOptions o;
    o.iou_threshold = c.iou;
    auto r = evaluate_voc(gts, dets, o);
    EXPECT_NEAR(r.ap_11_point, c.ap11, 1e-9) << "IoU " << c.iou;
    EXPECT_NEAR(r.ap_all_points, c.ap_all, 1e-9) << "IoU " << c.iou;
  }
}

TEST(Voc, ConventionsAreOptions) {
  VocBox a{"i", 0, 0, 9, 9}, b{"i", 5, 0, 14, 9};
  EXPECT_DOUBLE_EQ(voc_iou(a, b, true), 50.0 / 150.0);   // 10x10 boxes, 5x10 overlap
  EXPECT_DOUBLE_EQ(voc_iou(a, b, false), 36.0 / 126.0);  // 9x9 boxes, 4x9 overlap
  // IoU exactly at the threshold: a match with >=, not with >.
  VocBox g{"i", 0, 0, 10, 10}, d{"i", 0, 0, 10, 5, 1.0};
  VocOptions o;
  o.plus_one_pixel = false;
  o.iou_threshold = 0.5;
  EXPECT_EQ(evaluate_voc({g}, {d}, o).true_positives, 1);
  o.inclusive_threshold = false;
  EXPECT_EQ(evaluate_voc({g}, {d}, o).true_positives, 0);
}

}  // namespace
}  // namespace jz::eval
