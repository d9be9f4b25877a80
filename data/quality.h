// Image quality checks (mission G2: low-quality removal with human review): blur, exposure,
// resolution, corruption and BRISQUE, each against a threshold a dataset may set. A failed
// check is a proposal for a person to confirm, never a deletion.
//
//   sharpness    variance of the Laplacian of the grey image scaled to 512 pixels on its long
//                side (lower is blurrier; a defocused photo is far below a sharp one)
//   brightness   mean grey level, 0-255; dark / bright: the share of pixels at most 5 / at
//                least 250 (clipped shadows and highlights)
//   size         width and height
//   corruption   the file does not decode, or a JPEG or PNG lacks its end marker (cut short:
//                decoders fill the rest with grey and say nothing)
//   BRISQUE      OpenCV's no-reference quality score (0 best, about 100 worst), with the
//                models Debian's opencv-data ships; optional (about 30 ms an image)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::data {

struct QualityThresholds {
  double min_sharpness = 20;
  double min_brightness = 40, max_brightness = 215;
  double max_dark = 0.4, max_bright = 0.4;
  int min_width = 64, min_height = 64;
  double max_brisque = 60;  // used when BRISQUE is computed
};

struct QualityReport {
  int width = 0, height = 0;
  double sharpness = 0, brightness = 0, dark = 0, bright = 0;
  double brisque = -1;  // -1: not computed
  bool corrupt = false;
  std::vector<std::string> problems;  // each says what and by how much; empty: passes
};

struct QualityOptions {
  QualityThresholds thresholds;
  bool brisque = false;
  std::string brisque_models = "/usr/share/opencv4/quality";  // brisque_{model,range}_live.yml
};

// Checks one encoded image. Only a BRISQUE model that cannot be loaded is an error (saying
// which file is missing and which package has it); an image that does not decode is a
// report with `corrupt` set.
Result<QualityReport> assess_quality(std::string_view bytes, const QualityOptions& options);

}  // namespace jz::data
