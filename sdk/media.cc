#include "sdk/media.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

#include "data/image.h"

namespace jz::sdk {
namespace fs = std::filesystem;
namespace {

bool image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  for (const char* x :
       {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm"}) {
    if (e == x) return true;
  }
  return false;
}

void read_image(const std::string& path, int64_t index, Frame& out) {
  out = Frame{};
  out.index = index;
  out.source = path;
  auto img = data::read_image(path, cv::IMREAD_COLOR);
  if (!img.ok()) {
    out.error = "cannot decode " + img.status().message();
    return;
  }
  out.bgr = std::move(*img);
}

class Images final : public FrameSource {
 public:
  Images(std::vector<std::string> files, int64_t max, bool folder)
      : files_(std::move(files)), max_(max), folder_(folder) {}
  bool next(Frame& out) override {
    if (i_ >= files_.size() || (max_ > 0 && static_cast<int64_t>(i_) >= max_)) return false;
    read_image(files_[i_], static_cast<int64_t>(i_), out);
    ++i_;
    return true;
  }
  const char* kind() const override { return folder_ ? "folder" : "image"; }

 private:
  std::vector<std::string> files_;
  size_t i_ = 0;
  int64_t max_;
  bool folder_;
};

class Video final : public FrameSource {
 public:
  Video(std::unique_ptr<cv::VideoCapture> cap, const InputOptions& o, bool stream)
      : cap_(std::move(cap)), o_(o), stream_(stream) {}
  bool next(Frame& out) override {
    if (o_.max_frames > 0 && emitted_ >= o_.max_frames) return false;
    for (;;) {
      if (!cap_->grab()) return false;  // end of file, or the stream ended or timed out
      int64_t index = read_++;
      double ms = cap_->get(cv::CAP_PROP_POS_MSEC);
      int64_t ts = ms > 0 ? static_cast<int64_t>(ms * 1000) : 0;
      if (o_.fps > 0) {
        // Keep a frame when it is at least 1/fps after the last kept one (by the stream's
        // clock when it has one, else by frame count at its nominal rate).
        if (ts == 0) {
          double native = cap_->get(cv::CAP_PROP_FPS);
          ts = native > 0 ? static_cast<int64_t>(index * 1e6 / native) : 0;
        }
        // Frames are kept on a schedule of one per 1/fps, so the average rate is the one
        // asked for (a 25 fps stream at --fps 10 keeps 10 a second, not every third).
        const int64_t gap = static_cast<int64_t>(1e6 / o_.fps);
        if (emitted_ > 0 && ts < next_due_ - gap / 100) continue;
        next_due_ = emitted_ == 0 || ts - next_due_ > gap ? ts + gap : next_due_ + gap;
      }
      out = Frame{};
      out.index = index;
      out.timestamp_us = ts;
      out.source = o_.input;
      const int w = static_cast<int>(cap_->get(cv::CAP_PROP_FRAME_WIDTH));
      const int h = static_cast<int>(cap_->get(cv::CAP_PROP_FRAME_HEIGHT));
      if (buffer_ && w > 0 && h > 0 && size_t(w) * h * 3 <= buffer_bytes_) {
        out.bgr = cv::Mat(h, w, CV_8UC3, buffer_);  // retrieve() writes in place when it fits
      }
      if (!cap_->retrieve(out.bgr) || out.bgr.empty()) {
        out.error = "cannot decode frame " + std::to_string(index);
      }
      ++emitted_;
      return true;
    }
  }
  const char* kind() const override { return stream_ ? "stream" : "video"; }

 private:
  std::unique_ptr<cv::VideoCapture> cap_;
  InputOptions o_;
  bool stream_;
  int64_t read_ = 0, emitted_ = 0, next_due_ = 0;
};

}  // namespace

jz_frame Frame::view() const {
  jz_frame f{};
  f.struct_size = sizeof f;
  f.width = bgr.cols;
  f.height = bgr.rows;
  f.stride = static_cast<int32_t>(bgr.step[0]);
  f.format = JZ_PIXEL_BGR24;
  f.data = bgr.data;
  f.timestamp_us = timestamp_us;
  f.frame_index = index;
  f.source_id = source.c_str();
  return f;
}

bool is_stream_url(const std::string& input) {
  for (const char* s :
       {"rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://", "srt://"}) {
    if (input.rfind(s, 0) == 0) return true;
  }
  return false;
}

Result<std::unique_ptr<FrameSource>> FrameSource::open(const InputOptions& o) {
  if (o.fps < 0) return Status::invalid_argument("--fps must be 0 (every frame) or more");
  const bool stream = is_stream_url(o.input);
  std::error_code ec;
  if (!stream) {
    const fs::path p(o.input);
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_regular_file() && image_extension(e.path())) files.push_back(e.path().string());
      }
      if (ec) return Status::failed_precondition("cannot list " + o.input + ": " + ec.message());
      if (files.empty()) {
        return Status::not_found(o.input + " holds no images (.jpg .png .bmp .tif .webp .pnm)");
      }
      std::sort(files.begin(), files.end());
      return std::unique_ptr<FrameSource>(new Images(std::move(files), o.max_frames, true));
    }
    if (!fs::exists(p, ec)) {
      return Status::not_found(o.input +
                               " does not exist (give an image, a folder of images, a "
                               "video file or a stream URL)");
    }
    if (image_extension(p)) {
      return std::unique_ptr<FrameSource>(new Images({o.input}, o.max_frames, false));
    }
  }
  auto cap = std::make_unique<cv::VideoCapture>();
  const std::vector<int> params = {
      cv::CAP_PROP_OPEN_TIMEOUT_MSEC, static_cast<int>(o.open_timeout.count()),
      cv::CAP_PROP_READ_TIMEOUT_MSEC, static_cast<int>(o.read_timeout.count())};
  bool opened = false;
  try {
    opened = cap->open(o.input, cv::CAP_FFMPEG, params);
  } catch (const cv::Exception& e) {
    return Status::unavailable("cannot open " + o.input + ": " + e.what());
  }
  if (!opened) {
    return stream
               ? Status::unavailable("cannot open stream " + o.input +
                                     " (nothing serving there, or not a video stream)")
               : Status::invalid_argument("cannot decode " + o.input + " as an image or a video");
  }
  return std::unique_ptr<FrameSource>(new Video(std::move(cap), o, stream));
}

}  // namespace jz::sdk
