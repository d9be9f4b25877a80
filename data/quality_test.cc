#include "data/quality.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "tests/support/synthetic_scenes.h"

namespace jz::data {
namespace {

std::string jpeg(const cv::Mat& img) {
  const auto b = testing::encode(img, ".jpg", 92);
  return {b.begin(), b.end()};
}

bool has(const QualityReport& r, const std::string& prefix) {
  for (const auto& p : r.problems) {
    if (p.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// Each check flags the pictures made to fail it, and only those, on 20 pictures each.
TEST(Quality, EachCheckFlagsWhatIsWrongAndPassesTheRest) {
  QualityOptions o;
  o.brisque = true;
  int brisque_ordered = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const cv::Mat good = testing::scene(seed);
    auto ok = assess_quality(jpeg(good), o);
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    EXPECT_TRUE(ok->problems.empty()) << "seed " << seed << ": " << ok->problems[0];
    EXPECT_EQ(ok->width, 640);
    cv::Mat blurred;
    cv::GaussianBlur(good, blurred, cv::Size(0, 0), 4);
    auto b = assess_quality(jpeg(blurred), o);
    EXPECT_TRUE(has(*b, "blurry: sharpness")) << seed << " " << b->sharpness;
    EXPECT_LT(b->sharpness, ok->sharpness / 10);
    auto dark = assess_quality(jpeg(testing::brightened(good, 0.15)), o);
    EXPECT_TRUE(has(*dark, "dark: mean")) << seed << " " << dark->brightness;
    cv::Mat washed;
    good.convertTo(washed, -1, 1.0, 200);
    auto over = assess_quality(jpeg(washed), o);
    EXPECT_TRUE(has(*over, "overexposed: mean")) << seed << " " << over->brightness;
    EXPECT_FALSE(has(*over, "dark"));
    // BRISQUE rates a blurred or noisy copy worse than the picture.
    cv::Mat noise(good.size(), CV_8UC3), noisy;
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(40));
    cv::add(good, noise, noisy, cv::noArray(), CV_8UC3);
    auto n = assess_quality(jpeg(noisy), o);
    brisque_ordered += b->brisque > ok->brisque && n->brisque > ok->brisque;
  }
  EXPECT_GE(brisque_ordered, 18);
  auto tiny = assess_quality(jpeg(testing::scene(1, 40, 30)), o);
  EXPECT_TRUE(has(*tiny, "small: 40x30, under 64x64"));
}

TEST(Quality, ACorruptOrCutFileIsCorrupt) {
  const std::string whole = jpeg(testing::scene(5));
  QualityOptions o;
  auto cut = assess_quality(std::string_view(whole).substr(0, whole.size() / 2), o);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->corrupt);
  EXPECT_TRUE(has(*cut, "corrupt: the file is cut short"));
  EXPECT_FALSE(assess_quality(whole, o)->corrupt);
  const auto png = testing::encode(testing::scene(5), ".png", 0);
  const std::string p(png.begin(), png.end());
  EXPECT_FALSE(assess_quality(p, o)->corrupt);
  EXPECT_TRUE(assess_quality(p.substr(0, p.size() - 12), o)->corrupt);
  auto junk = assess_quality("not an image", o);
  EXPECT_TRUE(junk->corrupt);
  EXPECT_TRUE(has(*junk, "corrupt: the file does not decode"));
  EXPECT_TRUE(assess_quality("", o)->corrupt);
  // BRISQUE without its models says what is missing.
  o.brisque = true;
  o.brisque_models = "/nonexistent";
  auto s = assess_quality(whole, o);
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("opencv-data"), std::string::npos);
}

}  // namespace
}  // namespace jz::data
