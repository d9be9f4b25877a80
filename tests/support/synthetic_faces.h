// Drawn faces that OpenCV's frontal-face Haar cascade finds, for tests and benchmarks of
// face_detect (no photographs of people in the repository). Header-only; needs OpenCV.
#pragma once

#include <opencv2/imgproc.hpp>
#include <vector>

namespace jz::testing {

// Draws a face of height about 1.3 * `size` centred at (cx, cy).
inline void draw_face(cv::Mat& img, int cx, int cy, int size) {
  const double s = size;
  auto pt = [&](double dx, double dy) { return cv::Point(cx + int(dx * s), cy + int(dy * s)); };
  auto axes = [&](double a, double b) { return cv::Size(int(a * s), int(b * s)); };
  cv::ellipse(img, pt(0, 0), axes(0.5, 0.65), 0, 0, 360, cv::Scalar(150, 180, 215), -1);
  cv::ellipse(img, pt(0, -0.45), axes(0.55, 0.3), 0, 180, 360, cv::Scalar(30, 40, 60), -1);
  for (int side : {-1, 1}) {
    cv::Point eye = pt(side * 0.2, -0.1);
    cv::ellipse(img, eye, axes(0.11, 0.06), 0, 0, 360, cv::Scalar(245, 245, 245), -1);
    cv::circle(img, eye, int(s * 0.045), cv::Scalar(40, 30, 30), -1);
    cv::line(img, eye + cv::Point(-int(s * 0.12), -int(s * 0.12)),
             eye + cv::Point(int(s * 0.12), -int(s * 0.13)), cv::Scalar(40, 50, 70),
             std::max(2, size / 25));
  }
  cv::line(img, pt(0, -0.05), pt(-0.05, 0.15), cv::Scalar(110, 140, 175), 2);
  cv::ellipse(img, pt(0, 0.3), axes(0.15, 0.05), 0, 0, 360, cv::Scalar(90, 90, 170), -1);
}

struct FaceSpot {
  int cx, cy, size;
};

// A BGR image of `width` x `height` with the given faces, softened as a camera would.
inline cv::Mat faces_image(int width, int height, const std::vector<FaceSpot>& faces) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(90, 110, 100));
  for (const auto& f : faces) draw_face(img, f.cx, f.cy, f.size);
  cv::GaussianBlur(img, img, {5, 5}, 1.5);
  return img;
}

}  // namespace jz::testing
