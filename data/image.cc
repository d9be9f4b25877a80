#include "data/image.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>

#include "core/files.h"

namespace jz::data {
namespace {

bool starts(std::string_view b, std::string_view sig) { return b.substr(0, sig.size()) == sig; }

constexpr std::string_view kSupported = "JPEG, PNG, BMP, WebP, TIFF or PNM";

}  // namespace

std::optional<ImageFormat> image_format(std::string_view b) {
  using namespace std::literals;
  // The one decoder OpenCV looks for beyond the first bytes: keep it out whatever comes first.
  if (b.size() >= 132 && b.substr(128, 4) == "DICM") return std::nullopt;
  if (starts(b, "\xFF\xD8\xFF"sv)) return ImageFormat::kJpeg;
  if (starts(b, "\x89PNG\r\n\x1A\n"sv)) return ImageFormat::kPng;
  if (starts(b, "BM"sv)) return ImageFormat::kBmp;
  if (b.size() >= 16 && starts(b, "RIFF"sv) && b.substr(8, 4) == "WEBP" &&
      b.substr(12, 3) == "VP8") {
    return ImageFormat::kWebp;
  }
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' &&
      std::isspace(static_cast<unsigned char>(b[2]))) {
    return ImageFormat::kPnm;  // PBM, PGM, PPM
  }
  if (starts(b, "II*\0"sv) || starts(b, "MM\0*"sv)) return ImageFormat::kTiff;  // not BigTIFF
  return std::nullopt;
}

namespace {

uint32_t le(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}
uint32_t be(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::optional<cv::Size> sized(int64_t w, int64_t h) {
  if (w <= 0 || h <= 0 || w > INT32_MAX || h > INT32_MAX) return std::nullopt;
  return cv::Size(static_cast<int>(w), static_cast<int>(h));
}

// Markers from the start of image to the first frame header (SOF0-15 but DHT, JPG, DAC).
std::optional<cv::Size> jpeg_size(std::string_view b) {
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xFF) {  // stray bytes: libjpeg skips them too
      ++at;
      continue;
    }
    const auto m = static_cast<unsigned char>(b[at + 1]);
    if (m == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {  // FF00 is data, not a marker;
                                                               // TEM and RSTn have no length
      at += 2;
      continue;
    }
    if (m == 0xD9 || m == 0xDA) return std::nullopt;  // end of image, or a scan before a frame
    const uint32_t length = be(b, at + 2, 2);
    if (length < 2) return std::nullopt;
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (at + 9 > b.size()) return std::nullopt;
      return sized(be(b, at + 7, 2), be(b, at + 5, 2));  // precision, height, width
    }
    at += 2 + length;
  }
  return std::nullopt;
}

std::optional<cv::Size> bmp_size(std::string_view b) {
  if (b.size() < 26) return std::nullopt;
  const uint32_t header = le(b, 14, 4);
  if (header == 12) return sized(le(b, 18, 2), le(b, 20, 2));  // OS/2 core header
  const auto height = static_cast<int32_t>(le(b, 22, 4));      // negative: top-down
  return sized(static_cast<int32_t>(le(b, 18, 4)), height == INT32_MIN ? 0 : std::abs(height));
}

std::optional<cv::Size> webp_size(std::string_view b) {
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8X" && b.size() >= 30) return sized(le(b, 24, 3) + 1, le(b, 27, 3) + 1);
  if (chunk == "VP8L" && b.size() >= 25 && static_cast<unsigned char>(b[20]) == 0x2F) {
    const uint32_t bits = le(b, 21, 4);
    return sized((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (chunk == "VP8 " && b.size() >= 30 && b.substr(23, 3) == "\x9D\x01\x2A") {
    return sized(le(b, 26, 2) & 0x3FFF, le(b, 28, 2) & 0x3FFF);
  }
  return std::nullopt;
}

// The first image file directory's ImageWidth (256) and ImageLength (257).
std::optional<cv::Size> tiff_size(std::string_view b) {
  const bool little = b[0] == 'I';
  auto num = [&](size_t at, int n) { return little ? le(b, at, n) : be(b, at, n); };
  if (b.size() < 8) return std::nullopt;
  const size_t ifd = num(4, 4);
  if (ifd + 2 > b.size()) return std::nullopt;
  const uint32_t entries = num(ifd, 2);
  int64_t width = 0, height = 0;
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + (size_t{12} * i);
    if (e + 12 > b.size()) return std::nullopt;
    const uint32_t tag = num(e, 2), type = num(e + 2, 2);
    if (tag != 256 && tag != 257) continue;
    if (type != 3 && type != 4) return std::nullopt;  // SHORT or LONG
    const int64_t v = type == 3 ? num(e + 8, 2) : num(e + 8, 4);
    (tag == 256 ? width : height) = v;
  }
  return sized(width, height);
}

// "P6 640 480 255", with comments from '#' to the end of a line between the fields.
std::optional<cv::Size> pnm_size(std::string_view b) {
  size_t at = 2;
  int64_t v[2] = {0, 0};
  for (int64_t& n : v) {
    while (at < b.size() && (std::isspace(static_cast<unsigned char>(b[at])) || b[at] == '#')) {
      if (b[at] == '#') {
        while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
      } else {
        ++at;
      }
    }
    const size_t first = at;
    while (at < b.size() && std::isdigit(static_cast<unsigned char>(b[at])) && n <= INT32_MAX) {
      n = (n * 10) + (b[at++] - '0');
    }
    if (at == first) return std::nullopt;
  }
  return sized(v[0], v[1]);
}

// How much imdecode shrinks a JPEG while decoding it (IMREAD_REDUCED_*: libjpeg's scaling).
int64_t reduction(int flags) {
  if (flags < 0) return 1;  // IMREAD_UNCHANGED
  if ((flags & cv::IMREAD_REDUCED_GRAYSCALE_8) != 0) return 8;
  if ((flags & cv::IMREAD_REDUCED_GRAYSCALE_4) != 0) return 4;
  if ((flags & cv::IMREAD_REDUCED_GRAYSCALE_2) != 0) return 2;
  return 1;
}

}  // namespace

std::optional<cv::Size> image_size(std::string_view b) {
  const auto format = image_format(b);
  if (!format) return std::nullopt;
  switch (*format) {
    case ImageFormat::kJpeg:
      return jpeg_size(b);
    case ImageFormat::kPng:
      if (b.size() < 24 || b.substr(12, 4) != "IHDR") return std::nullopt;
      return sized(be(b, 16, 4), be(b, 20, 4));
    case ImageFormat::kBmp:
      return bmp_size(b);
    case ImageFormat::kWebp:
      return webp_size(b);
    case ImageFormat::kTiff:
      return tiff_size(b);
    case ImageFormat::kPnm:
      return pnm_size(b);
  }
  return std::nullopt;
}

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kPnm:
      return "PNM";
  }
  return "image";
}

Result<cv::Mat> decode_image(std::string_view bytes, int flags, std::string_view what) {
  const std::string name(what);
  if (bytes.empty()) return Status::invalid_argument(name + ": empty file, not an image");
  const auto format = image_format(bytes);
  if (!format) {
    return Status::invalid_argument(name + ": not an image of a format we decode (" +
                                    std::string(kSupported) +
                                    "; the file's first bytes name none of them)");
  }
  if (bytes.size() > static_cast<size_t>(INT32_MAX) - 2) {
    return Status::invalid_argument(name + ": over 2 GiB, too large to decode as one image");
  }
  if (const auto size = image_size(bytes)) {
    const int64_t r = *format == ImageFormat::kJpeg ? reduction(flags) : 1;
    const int64_t pixels = ((size->width + r - 1) / r) * ((size->height + r - 1) / r);
    if (pixels > kMaxImagePixels) {
      return Status::invalid_argument(
          name + ": its " + image_format_name(*format) + " header gives " +
          std::to_string(size->width) + "x" + std::to_string(size->height) + " pixels" +
          (r > 1 ? " (1/" + std::to_string(r) + " of that a side decoded)" : "") + ", over the " +
          std::to_string(kMaxImagePixels) + " we decode; split or shrink the image");
    }
  }  // a size the header does not give is left to the decoder (OpenCV's limit is 2^30)
  // OpenCV's JPEG reader suspends when the bytes run out mid-image, ignores that, and copies
  // a scanline buffer libjpeg never filled into the rest of the image: uninitialised heap
  // memory (another request's pixels, in a server) in the picture, and a different hash each
  // time (fuzz_phash found it). Ending the bytes with an end-of-image marker makes libjpeg
  // stop at the marker and decode the missing blocks as flat, the same every time.
  std::string whole;
  if (*format == ImageFormat::kJpeg && !bytes.ends_with("\xFF\xD9")) {
    whole.reserve(bytes.size() + 2);
    whole.append(bytes).append("\xFF\xD9");
    bytes = whole;
  }
  cv::Mat img;
  try {
    const cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U,
                      const_cast<char*>(bytes.data()));  // imdecode only reads it
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    return Status::invalid_argument(name + ": damaged " + image_format_name(*format) + " image (" +
                                    e.err + ")");
  }
  if (img.empty()) {
    return Status::invalid_argument(name + ": damaged " + image_format_name(*format) +
                                    " image: it does not decode");
  }
  return img;
}

Result<cv::Mat> read_image(const std::string& path, int flags) {
  JZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  return decode_image(bytes, flags, path);
}

}  // namespace jz::data
