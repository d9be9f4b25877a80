// What training code sends about a run (the Python and C++ clients, `jizhan metrics
// upload`, the HTTP API): records, one JSON object each (docs/TRAINING.md).
//
//   {"kind":"log","step":120,"time":1733450000.25,"values":{"loss":0.31,"acc":0.9}}
//   {"kind":"config","values":{"lr":0.001,"model":"resnet18"}}
//   {"kind":"note","text":"switched to cosine schedule"}
//   {"kind":"progress","done":3,"total":100}
//   {"kind":"finish"}
//
// `time` (seconds since the epoch) is optional (the receiver's clock); values are numbers
// or the strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::training {

inline constexpr size_t kMaxTagLength = 128;
inline constexpr size_t kMaxValuesPerRecord = 1000;
inline constexpr size_t kMaxConfigKeys = 500;
inline constexpr size_t kMaxNoteLength = 4096;

struct Record {
  enum class Kind { kLog, kConfig, kNote, kProgress, kFinish };
  Kind kind = Kind::kLog;
  int64_t step = 0;
  int64_t wall_us = 0;                                 // 0: when received
  std::vector<std::pair<std::string, double>> values;  // log
  Json config;                                         // config: an object of scalars
  std::string text;                                    // note
  int64_t done = 0, total = 0;                         // progress
};

// Whether `tag` may name a series: 1 to 128 characters of letters, digits and _ . - / :
// ("train/loss", "val/acc@1" is not); invalid_argument saying so otherwise.
Status check_tag(std::string_view tag);

// One record; invalid_argument saying what is wrong and where otherwise.
Result<Record> parse_record(const Json& j);
// Records, one JSON object per line (blank lines skipped); the first error names its line.
Result<std::vector<Record>> parse_lines(std::string_view text);
// A record as one line of JSON (what the clients write), without the newline.
std::string format_record(const Record& r);

// "NaN", "Infinity", "-Infinity" for those; the number otherwise.
Json value_json(double v);

}  // namespace jz::training
