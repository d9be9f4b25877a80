// Decoding untrusted image bytes. OpenCV's imdecode/imread pick a decoder by the content,
// whatever the file is called, and the system OpenCV carries decoders we never meant to
// expose: DICOM (GDCM asserts and aborts the process on a damaged file), Radiance HDR,
// Sun raster, PFM, JPEG 2000, OpenEXR, some of which also write the bytes to a
// temporary file first. Everything that decodes a file a user, a client or a job gave us
// goes through decode_image: it accepts the formats the platform documents (JPEG, PNG, BMP,
// WebP, TIFF, and PNM for algorithms' input folders) by their signatures, refuses anything else
// before OpenCV sees it, and turns OpenCV's exceptions into errors.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz::data {

enum class ImageFormat { kJpeg, kPng, kBmp, kWebp, kTiff, kPnm };

// The format whose signature the bytes start with, or nullopt. Also nullopt for bytes that
// carry the DICOM signature ("DICM" at offset 128), whichever signature they start with:
// OpenCV tries DICOM when the decoder the first bytes name turns the file down.
std::optional<ImageFormat> image_format(std::string_view bytes);
const char* image_format_name(ImageFormat f);

// The most pixels decode_image decodes: 2^28 (16,384 x 16,384). A header may promise any size
// (a 153-byte JPEG can promise 65,304 x 9,728, which OpenCV allocates in full, 1.9 GB in
// colour); OpenCV's own limit is 2^30.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// The width and height the file's header gives, read without decoding (JPEG: its frame
// header; PNG: IHDR; BMP: the DIB header; WebP: the VP8, VP8L or VP8X header; TIFF: the
// first image's ImageWidth and ImageLength; PNM: its text header). nullopt when the header
// is cut short or does not say.
std::optional<cv::Size> image_size(std::string_view bytes);

// Decodes bytes of one of those formats with imdecode's `flags` (cv::IMREAD_*).
// invalid_argument naming `what` when the bytes are empty, of another format or damaged, or
// when their header gives no size or more than kMaxImagePixels (JPEGs decoded reduced,
// IMREAD_REDUCED_*, count their reduced size).
Result<cv::Mat> decode_image(std::string_view bytes, int flags, std::string_view what = "image");
// Reads and decodes a file (not_found / permission errors as read_file gives them).
Result<cv::Mat> read_image(const std::string& path, int flags);

}  // namespace jz::data
