#include "data/image.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <string>

#include "data/phash.h"
#include "data/quality.h"
#include "tests/support/synthetic_scenes.h"

namespace jz::data {
namespace {

std::string bytes_of(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

bool refused_unread(const Result<cv::Mat>& r) {
  return !r.ok() && r.status().code() == Code::kInvalidArgument &&
         r.status().message().find("not an image of a format we decode") != std::string::npos;
}

TEST(Image, EveryFormatWeDocumentDecodesAndIsNamed) {
  const cv::Mat a = testing::scene(4, 96, 64);
  const std::pair<const char*, ImageFormat> cases[] = {
      {".jpg", ImageFormat::kJpeg},  {".png", ImageFormat::kPng},   {".bmp", ImageFormat::kBmp},
      {".webp", ImageFormat::kWebp}, {".tiff", ImageFormat::kTiff}, {".ppm", ImageFormat::kPnm}};
  for (const auto& [ext, format] : cases) {
    const std::string bytes = bytes_of(testing::encode(a, ext, 90));
    EXPECT_EQ(image_format(bytes), format) << ext;
    EXPECT_EQ(image_size(bytes), cv::Size(96, 64)) << ext;
    auto img = decode_image(bytes, cv::IMREAD_COLOR, ext);
    ASSERT_TRUE(img.ok()) << ext << ": " << img.status().message();
    EXPECT_EQ(img->cols, 96) << ext;
    EXPECT_EQ(img->rows, 64) << ext;
  }
}

// Found by fuzz_phash in CI: bytes with "DICM" at offset 128 reached OpenCV's DICOM decoder,
// where GDCM asserts on a damaged file and aborts the whole process (a job hashing a
// dataset, or `jizhan-algo serve` given the bytes by any client).
TEST(Image, TheDicomDecoderIsNeverReached) {
  std::string crash(69, '$');
  crash += std::string(
      "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\xd8\xb7\xa7\0z\xa8"
      "e\x8dZ\x16,Y\xb7\x83\x0c\xd0\xaft\xc6\x04s\x10"
      "fn`\xcfL\xef\0\0\0\0IDICMB`\x82",
      66);
  ASSERT_EQ(crash.size(), 135u);
  ASSERT_EQ(crash.substr(128, 4), "DICM");
  EXPECT_TRUE(refused_unread(decode_image(crash, cv::IMREAD_GRAYSCALE)));
  // A DICOM preamble, and a PNG signature with "DICM" where DICOM keeps it.
  std::string dicom(128, '\0');
  dicom += "DICM";
  dicom += std::string(64, '\x02');
  EXPECT_TRUE(refused_unread(decode_image(dicom, cv::IMREAD_COLOR)));
  std::string png = bytes_of(testing::encode(testing::scene(5, 32, 32), ".png", 90));
  ASSERT_GT(png.size(), 200u);
  png.replace(128, 4, "DICM");
  EXPECT_TRUE(refused_unread(decode_image(png, cv::IMREAD_COLOR)));
  // Each way in refuses it with a message, none aborts.
  auto h = phash_encoded(crash, "upload.png");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("upload.png: not an image"), std::string::npos);
  auto q = assess_quality(dicom, QualityOptions{});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->corrupt);
}

TEST(Image, OtherFormatsOpenCvKnowsAreRefusedBeforeItSeesThem) {
  using namespace std::literals;
  for (const std::string_view head : {
           "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n"sv,  // Radiance HDR
           "\x59\xa6\x6a\x95\0\0\0\x02\0\0\0\x02"sv,               // Sun raster
           "Pf\n2 2\n-1.0\n"sv,                                    // PFM
           "\x76\x2f\x31\x01\x02\0\0\0"sv,                         // OpenEXR
           "\0\0\0\x0cjP  \r\n\x87\n"sv,                           // JPEG 2000
           "II+\0\x08\0\0\0"sv,                                    // BigTIFF
           "GIF89a\x02\0\x02\0"sv,                                 // GIF
           "RIFF\x10\0\0\0WAVEfmt "sv,                             // RIFF, not WebP
       }) {
    std::string bytes(head);
    bytes.resize(256, '\x01');
    EXPECT_FALSE(image_format(bytes).has_value()) << bytes.substr(0, 8);
    EXPECT_TRUE(refused_unread(decode_image(bytes, cv::IMREAD_COLOR))) << bytes.substr(0, 8);
  }
}

// Also found by fuzz_phash: a JPEG whose bytes end before its first block decoded to
// whatever was in a buffer libjpeg never filled (uninitialised memory), so the same file
// hashed differently from one call to the next. Blocks the file lacks are flat grey now.
TEST(Image, AJpegCutShortDecodesTheSameEveryTimeWithNothingOfTheHeap) {
  const std::string jpeg = bytes_of(testing::encode(testing::scene(7, 64, 48), ".jpg", 90));
  const size_t sos = jpeg.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  const size_t header =
      static_cast<unsigned char>(jpeg[sos + 2]) * 256 + static_cast<unsigned char>(jpeg[sos + 3]);
  const std::string cut = jpeg.substr(0, sos + 2 + header);  // the scan's header, no data
  for (const int flags : {cv::IMREAD_GRAYSCALE, cv::IMREAD_COLOR}) {
    auto img = decode_image(cut, flags, "cut.jpg");
    ASSERT_TRUE(img.ok()) << img.status().message();
    ASSERT_EQ(img->cols, 64);
    // libjpeg decodes the first block row from zero bits, then leaves the blocks it has no
    // data for flat.
    double lo = 0, hi = 0;
    cv::minMaxLoc(img->rowRange(16, img->rows).reshape(1), &lo, &hi);
    EXPECT_EQ(lo, 128) << "flags " << flags;
    EXPECT_EQ(hi, 128) << "flags " << flags;
  }
  // A file cut inside its data decodes what it holds, the same each time.
  const std::string half = jpeg.substr(0, jpeg.size() * 2 / 3);
  const auto a = decode_image(half, cv::IMREAD_GRAYSCALE),
             b = decode_image(half, cv::IMREAD_GRAYSCALE);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cv::norm(*a, *b, cv::NORM_INF), 0);
  EXPECT_EQ(*phash_encoded(half), *phash_encoded(half));
}

TEST(Image, HeadersGiveTheSizeWithoutDecoding) {
  using namespace std::literals;
  // Big-endian TIFF: one directory, ImageWidth as SHORT, ImageLength as LONG.
  const std::string tiff =
      "MM\0*\0\0\0\x08\0\x02"
      "\x01\x00\0\x03\0\0\0\x01\x01\x2c\0\0"
      "\x01\x01\0\x04\0\0\0\x01\0\0\x00\xc8"s;
  EXPECT_EQ(image_size(tiff), cv::Size(300, 200));
  EXPECT_EQ(image_size("P5\n# made by hand\n 640\t480\n255\n"s), cv::Size(640, 480));
  EXPECT_EQ(image_size("P5 640"s), std::nullopt);
  // A top-down BMP (negative height) and an OS/2 one.
  std::string bmp = bytes_of(testing::encode(testing::scene(8, 40, 30), ".bmp", 90));
  const int32_t top_down = -30;
  bmp.replace(22, 4, reinterpret_cast<const char*>(&top_down), 4);
  EXPECT_EQ(image_size(bmp), cv::Size(40, 30));
  // JPEG: stray bytes and fill bytes before the frame header are skipped as libjpeg does.
  const std::string jpeg = bytes_of(testing::encode(testing::scene(8, 40, 30), ".jpg", 90));
  const size_t dqt = jpeg.find("\xFF\xDB");
  ASSERT_NE(dqt, std::string::npos);
  const std::string odd =
      jpeg.substr(0, 2) + "\xFF\xFF"s + jpeg.substr(2, dqt - 2) + "\x12\x34"s + jpeg.substr(dqt);
  EXPECT_EQ(image_size(odd), cv::Size(40, 30));
  EXPECT_EQ(decode_image(odd, cv::IMREAD_COLOR)->size(), cv::Size(40, 30));
  EXPECT_EQ(image_size(jpeg.substr(0, 6)), std::nullopt);
  EXPECT_EQ(image_size("not an image"), std::nullopt);
}

// The JPEG fuzz_phash found promised 65,304 x 9,728 pixels in 153 bytes: OpenCV allocated
// all of them (1.9 GB in colour) before finding the data missing.
TEST(Image, AHeaderPromisingMoreThanWeDecodeIsRefusedBeforeDecoding) {
  std::string jpeg = bytes_of(testing::encode(testing::scene(9, 64, 48), ".jpg", 90));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 4, std::string("\x26\x00\xFF\x18", 4));  // 9,728 high, 65,304 wide
  ASSERT_EQ(image_size(jpeg), cv::Size(65304, 9728));
  auto full = decode_image(jpeg, cv::IMREAD_COLOR, "bomb.jpg");
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("bomb.jpg: its JPEG header gives 65304x9728 pixels"),
            std::string::npos)
      << full.status().message();
  // Decoded at an eighth a side it is 8,163 x 1,216: allowed (what the hash decodes).
  auto reduced = decode_image(jpeg, cv::IMREAD_REDUCED_GRAYSCALE_8, "bomb.jpg");
  ASSERT_TRUE(reduced.ok()) << reduced.status().message();
  EXPECT_EQ(reduced->size(), cv::Size(8163, 1216));
  // PNG, where OpenCV does not shrink while decoding.
  std::string png = bytes_of(testing::encode(testing::scene(9, 64, 48), ".png", 90));
  png.replace(16, 8, std::string("\0\x01\x86\xa0\0\x01\x86\xa0", 8));  // 100,000 a side
  auto big = decode_image(png, cv::IMREAD_REDUCED_GRAYSCALE_8, "big.png");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("100000x100000 pixels, over the 268435456"),
            std::string::npos)
      << big.status().message();
}

TEST(Image, DamagedAndEmptyFilesAreNamed) {
  auto empty = decode_image("", cv::IMREAD_COLOR, "a/b.jpg");
  EXPECT_NE(empty.status().message().find("a/b.jpg: empty file"), std::string::npos);
  std::string jpeg = bytes_of(testing::encode(testing::scene(6), ".jpg", 90));
  jpeg.resize(40);
  auto cut = decode_image(jpeg, cv::IMREAD_COLOR, "cut.jpg");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("cut.jpg: damaged JPEG image"), std::string::npos)
      << cut.status().message();
  EXPECT_EQ(read_image("/nonexistent/x.jpg", cv::IMREAD_COLOR).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace jz::data
