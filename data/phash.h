// Perceptual hashes of images (mission G2: near-duplicate removal). A hash is 64 bits from
// the lowest frequencies of the image's discrete cosine transform: the picture's coarse
// structure, which resizing, re-encoding, small crops and brightness changes leave nearly
// alone; near-duplicates are hashes a few bits apart (Hamming distance). Hashes are stored
// with the algorithm's name and version (kPhashAlgorithm, kPhashVersion): a hash is only
// compared with hashes of the same algorithm and version.
//
// The hash: the grey image reduced to 32x32 (area averaging), its 2-D DCT-II, the 8x8
// lowest frequencies; bit i (row-major, i = 8y + x) is set when coefficient i is above the
// median of the 63 non-constant ones (the constant term's bit is whether it is above that
// median too, so the hash says nothing of the image's mean). JPEG files are decoded at an
// eighth of their size (libjpeg's DCT scaling) when that leaves at least 64 pixels a side:
// the hash needs only 32x32, and a 1080p frame decodes about ten times faster.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz::data {

inline constexpr char kPhashAlgorithm[] = "dct64";
inline constexpr int kPhashVersion = 1;

// The hash of an image (grey or BGR, 8-bit; any size of at least 1x1).
uint64_t phash(const cv::Mat& image);
// The hash of an encoded image (JPEG, PNG, BMP, WebP, TIFF, ...); invalid_argument naming
// `what` when it cannot be decoded.
Result<uint64_t> phash_encoded(std::string_view bytes, const std::string& what = "image");
// The hash of an image file.
Result<uint64_t> phash_file(const std::string& path);

inline int hamming(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

// 16 lower-case hex digits, and back (exactly 16 hex digits, else invalid_argument).
std::string hash_hex(uint64_t h);
Result<uint64_t> parse_hash_hex(std::string_view text);

}  // namespace jz::data
