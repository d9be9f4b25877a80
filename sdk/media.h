// Frames from images, folders of images, video files and live streams (RTSP, HTTP, UDP,
// TCP, RTMP), decoded with OpenCV (FFmpeg underneath) into BGR pixels.
#pragma once

#include <chrono>
#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "core/status.h"
#include "jizhan/algo.h"

namespace jz::sdk {

struct InputOptions {
  std::string input;       // a file, a folder or a URL
  double fps = 0;          // video and streams: at most this many frames per second; 0: all
  int64_t max_frames = 0;  // stop after this many frames; 0: at the end (a stream: never)
  std::chrono::milliseconds open_timeout{15000};
  std::chrono::milliseconds read_timeout{15000};
};

struct Frame {
  cv::Mat bgr;  // empty when the frame could not be decoded (see `error`)
  int64_t index = 0;
  int64_t timestamp_us = 0;
  std::string source;  // file path or URL
  std::string error;   // why this frame could not be decoded; the source goes on

  // The ABI view of the pixels (valid while `bgr` lives).
  jz_frame view() const;
};

class FrameSource {
 public:
  // Errors: nothing at that path, a folder without images, a URL or video that cannot be
  // opened (with FFmpeg's reason where there is one).
  static Result<std::unique_ptr<FrameSource>> open(const InputOptions& options);
  virtual ~FrameSource() = default;
  // The next frame; false at the end. A frame that cannot be decoded comes back with
  // `error` set (its index used), so the caller reports it and carries on.
  virtual bool next(Frame& out) = 0;
  virtual const char* kind() const = 0;  // "image", "folder", "video" or "stream"
  // Video and streams: decode frames into this buffer when they fit (e.g. the isolated
  // host's shared memory, so that frames reach the algorithm without a copy). The frame is
  // valid until the next call of next().
  void decode_into(uint8_t* buffer, size_t bytes) {
    buffer_ = buffer;
    buffer_bytes_ = bytes;
  }

 protected:
  uint8_t* buffer_ = nullptr;
  size_t buffer_bytes_ = 0;
};

// True for rtsp:// http:// https:// udp:// tcp:// rtmp:// srt:// URLs.
bool is_stream_url(const std::string& input);

}  // namespace jz::sdk
