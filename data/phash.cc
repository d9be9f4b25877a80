#include "data/phash.h"

#include <algorithm>
#include <array>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "core/files.h"
#include "data/image.h"

namespace jz::data {

uint64_t phash(const cv::Mat& image) {
  cv::Mat grey;
  if (image.channels() == 3) {
    cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, grey, cv::COLOR_BGRA2GRAY);
  } else {
    grey = image;
  }
  cv::Mat small, f, dct;
  cv::resize(grey, small, cv::Size(32, 32), 0, 0,
             grey.cols >= 32 && grey.rows >= 32 ? cv::INTER_AREA : cv::INTER_LINEAR);
  small.convertTo(f, CV_32F);
  cv::dct(f, dct);
  std::array<float, 64> c{};
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x)
      c[(static_cast<size_t>(y) * 8) + static_cast<size_t>(x)] = dct.at<float>(y, x);
  }
  std::array<float, 63> ac{};
  std::copy(c.begin() + 1, c.end(), ac.begin());
  std::nth_element(ac.begin(), ac.begin() + 31, ac.end());
  const float median = ac[31];
  uint64_t h = 0;
  for (size_t i = 0; i < 64; ++i) {
    if (c[i] > median) h |= uint64_t{1} << i;
  }
  return h;
}

Result<uint64_t> phash_encoded(std::string_view bytes, const std::string& what) {
  cv::Mat img;
  if (image_format(bytes) == ImageFormat::kJpeg) {
    auto reduced = decode_image(bytes, cv::IMREAD_REDUCED_GRAYSCALE_8, what);
    if (reduced.ok() && std::min(reduced->cols, reduced->rows) >= 64) img = std::move(*reduced);
  }
  if (img.empty()) {
    JZ_ASSIGN_OR_RETURN(img, decode_image(bytes, cv::IMREAD_GRAYSCALE, what));
  }
  return phash(img);
}

Result<uint64_t> phash_file(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  return phash_encoded(bytes, path);
}

std::string hash_hex(uint64_t h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[h & 15];
    h >>= 4;
  }
  return out;
}

Result<uint64_t> parse_hash_hex(std::string_view text) {
  if (text.size() != 16) {
    return Status::invalid_argument("a hash is 16 hex digits, not " + std::to_string(text.size()) +
                                    " characters");
  }
  uint64_t h = 0;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) return Status::invalid_argument(std::string("'") + c + "' is not a hex digit");
    h = (h << 4) | static_cast<uint64_t>(v);
  }
  return h;
}

}  // namespace jz::data
