// COCO detection metrics against pycocotools' numbers for the sample in
// tests/data/detection-metrics (EXPECTED.md there), to 1e-6.
#include "eval/coco.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace jz::eval {
namespace {

std::string load(const std::string& rel) {
  std::ifstream in(std::string(JZ_TEST_DATA) + "/detection-metrics/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Coco, MatchesPycocotoolsOnTheSample) {
  auto gt = read_coco_dataset(load("coco-sample/ground_truth.json"));
  ASSERT_TRUE(gt.ok()) << gt.status().message();
  auto dets = read_coco_detections(load("coco-sample/detections.json"));
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  EXPECT_EQ(gt->image_ids.size(), 100u);
  EXPECT_EQ(gt->annotations.size(), 830u);
  EXPECT_EQ(dets->size(), 734u);
  auto r = evaluate_coco(*gt, *dets);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::array<double, 12> expected = {0.503647, 0.696973, 0.571667, 0.593252,
                                           0.557991, 0.489363, 0.386813, 0.593680,
                                           0.595353, 0.654764, 0.603130, 0.553744};
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(r->stats[i], expected[i], 1e-6) << CocoResult::stat_names()[i];
  }
  Json j = r->to_json();
  EXPECT_NEAR(j["AP50"].get<double>(), 0.696973, 1e-6);
  EXPECT_EQ(j["per_category"].size(), 80u);
}

std::string dataset(const std::string& anns, const std::string& images = "[{\"id\":1}]") {
  return R"({"images":)" + images +
         R"(,"categories":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"annotations":)" + anns + "}";
}

TEST(Coco, PerfectDetectionsScoreOneAndMissingCategoriesMinusOne) {
  auto gt = read_coco_dataset(
      dataset(R"([{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,50,50],"area":2500}])"));
  ASSERT_TRUE(gt.ok());
  auto dets =
      read_coco_detections(R"([{"image_id":1,"category_id":1,"bbox":[0,0,50,50],"score":0.9}])");
  auto r = evaluate_coco(*gt, *dets);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->stats[0], 1.0);
  EXPECT_DOUBLE_EQ(r->stats[4], 1.0);   // medium: 2500 is in [32^2, 96^2]
  EXPECT_DOUBLE_EQ(r->stats[3], -1.0);  // no small ground truth: -1, as COCO gives
  EXPECT_DOUBLE_EQ(r->stats[5], -1.0);
  EXPECT_DOUBLE_EQ(r->categories[1].ap, -1.0);  // category 2 has no ground truth
}

TEST(Coco, CrowdRegionsAbsorbDetectionsWithoutCounting) {
  // One real box and a crowd region; a detection inside the crowd is neither a true
  // nor a false positive.
  auto gt = read_coco_dataset(dataset(
      R"([{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,40,40],"area":1600},
          {"id":2,"image_id":1,"category_id":1,"bbox":[100,100,200,200],"area":40000,"iscrowd":1}])"));
  auto dets =
      read_coco_detections(R"([{"image_id":1,"category_id":1,"bbox":[0,0,40,40],"score":0.5},
          {"image_id":1,"category_id":1,"bbox":[120,120,50,50],"score":0.9},
          {"image_id":1,"category_id":1,"bbox":[150,150,50,50],"score":0.8}])");
  auto r = evaluate_coco(*gt, *dets);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->stats[1], 1.0) << "crowd matches are ignored, so precision stays 1";
}

TEST(Coco, BadInputNamesTheField) {
  auto bad =
      read_coco_dataset(dataset(R"([{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,5]}])"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("annotations[0]: field 'bbox'"), std::string::npos);
  auto gt = read_coco_dataset(dataset("[]"));
  auto stray =
      read_coco_detections(R"([{"image_id":9,"category_id":1,"bbox":[0,0,1,1],"score":1}])");
  auto r = evaluate_coco(*gt, *stray);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("image 9"), std::string::npos);
  auto no_score = read_coco_detections(R"([{"image_id":1,"category_id":1,"bbox":[0,0,1,1]}])");
  ASSERT_FALSE(no_score.ok());
  EXPECT_NE(no_score.status().message().find("'score'"), std::string::npos);
}

}  // namespace
}  // namespace jz::eval
