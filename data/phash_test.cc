#include "data/phash.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/synthetic_scenes.h"

namespace jz::data {
namespace {

std::string bytes_of(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

TEST(Phash, OnePictureHashesAlikeHoweverItIsStoredAndTwoPicturesDoNot) {
  const cv::Mat a = testing::scene(1);
  const uint64_t h = phash(a);
  EXPECT_EQ(phash(a), h) << "deterministic";
  // The same picture as PNG (lossless; the decoder's own grey conversion rounds a little
  // differently), as JPEG (decoded at an eighth), grey, and larger.
  EXPECT_LE(hamming(*phash_encoded(bytes_of(testing::encode(a, ".png", 95))), h), 2);
  EXPECT_LE(hamming(*phash_encoded(bytes_of(testing::encode(a, ".jpg", 90))), h), 4);
  EXPECT_LE(
      hamming(*phash_encoded(bytes_of(testing::encode(testing::resized(a, 3.0), ".jpg", 90))), h),
      6);
  cv::Mat grey;
  cv::cvtColor(a, grey, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(phash(grey), h);
  // Unrelated pictures are about half their bits apart.
  int total = 0;
  for (uint64_t s = 2; s < 22; ++s) {
    const int d = hamming(phash(testing::scene(s)), h);
    EXPECT_GT(d, 12) << "seed " << s;
    total += d;
  }
  EXPECT_GT(total / 20, 24);
  // A one-pixel image and a flat one hash without trouble.
  EXPECT_EQ(phash(cv::Mat(1, 1, CV_8UC1, cv::Scalar(7))),
            phash(cv::Mat(1, 1, CV_8UC1, cv::Scalar(7))));
  phash(cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)));
}

TEST(Phash, WhatIsNotAnImageIsNamed) {
  auto empty = phash_encoded("", "a/b.jpg");
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("a/b.jpg: empty file"), std::string::npos);
  auto text = phash_encoded("hello, world", "notes.png");
  EXPECT_NE(text.status().message().find("notes.png: not an image"), std::string::npos);
  // A JPEG cut short still decodes what it has, or is refused: never a crash.
  const std::string jpeg = bytes_of(testing::encode(testing::scene(3), ".jpg", 90));
  (void)phash_encoded(jpeg.substr(0, jpeg.size() / 3), "cut.jpg");
  EXPECT_EQ(phash_file("/nonexistent/x.jpg").status().code(), Code::kNotFound);
}

TEST(Phash, HexRoundTrips) {
  for (uint64_t h : {uint64_t{0}, ~uint64_t{0}, uint64_t{0x0123456789abcdef}}) {
    EXPECT_EQ(*parse_hash_hex(hash_hex(h)), h);
  }
  EXPECT_EQ(hash_hex(0x0123456789abcdef), "0123456789abcdef");
  EXPECT_EQ(*parse_hash_hex("0123456789ABCDEF"), 0x0123456789abcdefu);
  EXPECT_NE(parse_hash_hex("0123").status().message().find("16 hex digits"), std::string::npos);
  EXPECT_NE(parse_hash_hex("0123456789abcdeg").status().message().find("'g'"), std::string::npos);
}

}  // namespace
}  // namespace jz::data
