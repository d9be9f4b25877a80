// What training code sends about a run (the Python and C++ clients, `jizhan metrics
// upload`, the HTTP API): records, one JSON object each (docs/TRAINING.md).
//
//   {"kind":"log","step":120,"time":1733450000.25,"values":{"loss":0.31,"acc":0.9}}
//   {"kind":"points","tag":"loss","steps":[1,2,3],"values":[0.9,0.7,0.6],"times":[...]}
//   {"kind":"config","values":{"lr":0.001,"model":"resnet18"}}
//   {"kind":"note","text":"switched to cosine schedule"}
//   {"kind":"progress","done":3,"total":100}
//   {"kind":"finish"}
//
// `time` (seconds since the epoch) is optional (the receiver's clock); values are numbers
// or the strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers). "points"
// carries many points of one tag in columns (`times` optional, else all three arrays of
// one length, at most 100,000): what clients send in bulk, a third of the bytes.
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
inline constexpr size_t kMaxColumnPoints = 100000;

struct Record {
  enum class Kind { kLog, kPoints, kConfig, kNote, kProgress, kFinish };
  Kind kind = Kind::kLog;
  int64_t step = 0;
  int64_t wall_us = 0;                                 // 0: when received
  std::vector<std::pair<std::string, double>> values;  // log
  std::string tag;                                     // points
  std::vector<int64_t> steps, walls_us;                // points (walls_us: empty or one each)
  std::vector<double> column;                          // points: the values
  Json config;                                         // config: an object of scalars
  std::string text;                                    // note
  int64_t done = 0, total = 0;                         // progress
};

// Each point of a log or points record: f(tag, step, wall_us (0: none), value).
template <class F>
void for_each_point(const Record& r, F&& f) {
  if (r.kind == Record::Kind::kLog) {
    for (const auto& [tag, v] : r.values) f(tag, r.step, r.wall_us, v);
  } else if (r.kind == Record::Kind::kPoints) {
    for (size_t i = 0; i < r.steps.size(); ++i) {
      f(r.tag, r.steps[i], r.walls_us.empty() ? 0 : r.walls_us[i], r.column[i]);
    }
  }
}

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
