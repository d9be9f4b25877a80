#include "data/quality.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/quality/qualitybrisque.hpp>

#include "data/image.h"

namespace jz::data {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Whether the file ends as its format must: a JPEG with its end-of-image marker, a PNG with
// its IEND chunk. Other formats are not checked.
bool ends_whole(std::string_view b) {
  auto u = [&](size_t i) { return static_cast<unsigned char>(b[i]); };
  const auto format = image_format(b);
  if (format == ImageFormat::kJpeg) {
    size_t end = b.size();
    while (end > 2 && (u(end - 1) == 0 || u(end - 1) == '\n' || u(end - 1) == '\r')) --end;
    return end >= 2 && u(end - 2) == 0xFF && u(end - 1) == 0xD9;
  }
  if (format == ImageFormat::kPng) {
    const size_t iend = b.rfind("IEND");  // then its 4-byte checksum
    return iend != std::string_view::npos && iend + 8 == b.size();
  }
  return true;
}

}  // namespace

Result<QualityReport> assess_quality(std::string_view bytes, const QualityOptions& o) {
  QualityReport r;
  const QualityThresholds& t = o.thresholds;
  auto decoded = decode_image(bytes, cv::IMREAD_COLOR);
  if (!decoded.ok()) {
    r.corrupt = true;
    r.problems.push_back(
        "corrupt: the file does not decode as an image of a format we read (JPEG, PNG, BMP, "
        "WebP, TIFF or PNM)");
    return r;
  }
  const cv::Mat img = std::move(*decoded);
  if (!ends_whole(bytes)) {
    r.corrupt = true;
    r.problems.push_back("corrupt: the file is cut short (no end marker); the rest decodes grey");
  }
  r.width = img.cols;
  r.height = img.rows;
  if (r.width < t.min_width || r.height < t.min_height) {
    r.problems.push_back("small: " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                         ", under " + std::to_string(t.min_width) + "x" +
                         std::to_string(t.min_height));
  }
  cv::Mat grey, scaled, lap;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  const double f = 512.0 / std::max(grey.cols, grey.rows);
  if (f < 1) {
    cv::resize(grey, scaled, cv::Size(), f, f, cv::INTER_AREA);
  } else {
    scaled = grey;
  }
  cv::Laplacian(scaled, lap, CV_64F);
  cv::Scalar mean, dev;
  cv::meanStdDev(lap, mean, dev);
  r.sharpness = dev[0] * dev[0];
  r.brightness = cv::mean(grey)[0];
  const double n = static_cast<double>(grey.total());
  r.dark = cv::countNonZero(grey <= 5) / n;
  r.bright = cv::countNonZero(grey >= 250) / n;
  if (r.sharpness < t.min_sharpness) {
    r.problems.push_back("blurry: sharpness " + fixed(r.sharpness, 1) + ", under " +
                         fixed(t.min_sharpness, 1));
  }
  if (r.brightness < t.min_brightness || r.dark > t.max_dark) {
    r.problems.push_back("dark: mean " + fixed(r.brightness, 1) + " (at least " +
                         fixed(t.min_brightness, 0) + "), " + fixed(r.dark * 100, 1) +
                         "% of pixels black (at most " + fixed(t.max_dark * 100, 0) + "%)");
  }
  if (r.brightness > t.max_brightness || r.bright > t.max_bright) {
    r.problems.push_back("overexposed: mean " + fixed(r.brightness, 1) + " (at most " +
                         fixed(t.max_brightness, 0) + "), " + fixed(r.bright * 100, 1) +
                         "% of pixels white (at most " + fixed(t.max_bright * 100, 0) + "%)");
  }
  if (o.brisque) {
    const std::string model = o.brisque_models + "/brisque_model_live.yml";
    const std::string range = o.brisque_models + "/brisque_range_live.yml";
    std::error_code ec;
    for (const auto& file : {model, range}) {
      if (!std::filesystem::exists(file, ec)) {
        return Status::failed_precondition("BRISQUE needs " + file +
                                           " (Debian's opencv-data package has it; or run without "
                                           "BRISQUE)");
      }
    }
    cv::Mat small;
    const double g = 512.0 / std::max(img.cols, img.rows);
    if (g < 1) {
      cv::resize(img, small, cv::Size(), g, g, cv::INTER_AREA);
    } else {
      small = img;
    }
    r.brisque = cv::quality::QualityBRISQUE::compute(small, model, range)[0];
    if (r.brisque > t.max_brisque) {
      r.problems.push_back("poor quality: BRISQUE " + fixed(r.brisque, 1) + ", over " +
                           fixed(t.max_brisque, 1));
    }
  }
  return r;
}

}  // namespace jz::data
