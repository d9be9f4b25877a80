// Distinct synthetic photographs for the data platform's tests and benchmarks: a lit
// gradient, overlapping shapes, lines and a little sensor noise, all drawn from a seed, so
// that two seeds make two unrelated pictures and one seed always the same one. And the
// edits that make a near-duplicate of a picture (resize, re-encode, crop, brightness).
#pragma once

#include <algorithm>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

namespace jz::testing {

inline cv::Mat scene(uint64_t seed, int width = 640, int height = 480) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto colour = [&] { return cv::Scalar(uni(0, 255), uni(0, 255), uni(0, 255)); };
  cv::Mat img(height, width, CV_8UC3);
  const cv::Scalar a = colour(), b = colour();
  const double angle = uni(0, 6.2832), ca = std::cos(angle), sa = std::sin(angle);
  for (int y = 0; y < height; ++y) {
    auto* row = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const double t = std::clamp(
          0.5 + ((x - width / 2.0) * ca + (y - height / 2.0) * sa) / std::max(width, height), 0.0,
          1.0);
      for (int c = 0; c < 3; ++c) row[x][c] = cv::saturate_cast<uint8_t>(a[c] * (1 - t) + b[c] * t);
    }
  }
  const int shapes = 6 + static_cast<int>(rng() % 8);
  const double s = std::min(width, height);
  for (int i = 0; i < shapes; ++i) {
    const cv::Point c(static_cast<int>(uni(0, width)), static_cast<int>(uni(0, height)));
    switch (rng() % 3) {
      case 0:
        cv::circle(img, c, static_cast<int>(uni(0.05, 0.3) * s), colour(), cv::FILLED, cv::LINE_AA);
        break;
      case 1:
        cv::rectangle(img, c,
                      c + cv::Point(static_cast<int>(uni(-0.4, 0.4) * s),
                                    static_cast<int>(uni(-0.4, 0.4) * s)),
                      colour(), cv::FILLED, cv::LINE_AA);
        break;
      default:
        cv::ellipse(
            img, c,
            cv::Size(static_cast<int>(uni(0.05, 0.35) * s), static_cast<int>(uni(0.03, 0.2) * s)),
            uni(0, 180), 0, 360, colour(), cv::FILLED, cv::LINE_AA);
    }
  }
  for (int i = 0; i < 5; ++i) {
    cv::line(img, {static_cast<int>(uni(0, width)), static_cast<int>(uni(0, height))},
             {static_cast<int>(uni(0, width)), static_cast<int>(uni(0, height))}, colour(),
             1 + static_cast<int>(rng() % 6), cv::LINE_AA);
  }
  cv::Mat noise(img.size(), CV_8UC3);
  cv::theRNG().state = seed | 1;
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(6));
  cv::Mat noisy;
  cv::add(img, noise, noisy, cv::noArray(), CV_8UC3);
  return noisy;
}

inline std::vector<uint8_t> encode(const cv::Mat& img, const std::string& ext, int jpeg_quality) {
  std::vector<uint8_t> out;
  cv::imencode(ext, img, out, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  return out;
}

// The edits of a near-duplicate.
inline cv::Mat resized(const cv::Mat& img, double f) {
  cv::Mat out;
  cv::resize(img, out, cv::Size(), f, f, cv::INTER_AREA);
  return out;
}
// `fraction` of the width and height cut off, half on each side.
inline cv::Mat cropped(const cv::Mat& img, double fraction) {
  const int dx = static_cast<int>(img.cols * fraction / 2),
            dy = static_cast<int>(img.rows * fraction / 2);
  return img(cv::Rect(dx, dy, img.cols - 2 * dx, img.rows - 2 * dy)).clone();
}
inline cv::Mat brightened(const cv::Mat& img, double factor) {
  cv::Mat out;
  img.convertTo(out, -1, factor, 0);
  return out;
}

}  // namespace jz::testing
