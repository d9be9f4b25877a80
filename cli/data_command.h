// `jizhan data ...`: the data platform's tools on a local folder of images (docs/DATA.md),
// run in jizhan-algo (they decode images with OpenCV).
//
//   jizhan data hash FILE...           each image's perceptual hash (data/phash.h)
//   jizhan data dedup DIR [--radius N] exact and near-duplicate groups, for review
//   jizhan data convert --from F --to G IN OUT   annotations between COCO, VOC, YOLO, JSON
//   jizhan data quality DIR [--brisque]          blur, exposure, size, corruption checks
//   jizhan data curate DIR --out FILE            both, as one report (the platform's
//                                                curation job: platform/datasets/curation.h)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "data/quality.h"

namespace jz::cli {

class DataCommands {
 public:
  explicit DataCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  int hash();
  int dedup();
  int convert();
  int quality();
  int curate();

  std::function<int()> action_;
  std::vector<std::string> files_;
  std::string dir_, output_ = "table", from_, to_, in_, out_, images_;
  int radius_ = 10;
  data::QualityOptions quality_;
};

}  // namespace jz::cli
