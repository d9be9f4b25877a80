// TensorBoard event files: what `jizhan metrics export-tb` writes and `jizhan metrics
// import` reads (docs/TRAINING.md, "TensorBoard").
//
// A file is a sequence of TFRecords: u64 length (little-endian), u32 masked CRC-32C of the
// length's 8 bytes, the data, u32 masked CRC-32C of the data. Each record's data is an
// `Event` protocol buffer: wall_time (1, double), step (2, int64), file_version (3,
// string: "brain.Event:2" in the first event), summary (5, Summary). A Summary holds
// repeated Value (1): tag (1, string), simple_value (2, float), metadata (9), tensor (8,
// TensorProto: dtype 1, tensor_content 4, float_val 5, double_val 6, int_val 7, int64_val
// 10). We write scalars as simple_value; we read simple_value and one-element float,
// double and integer tensors (what tf.summary.scalar writes under the "scalars" plugin).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::training {

// CRC-32C (Castagnoli, reflected, as iSCSI and TFRecord use it; RFC 3720, B.4).
uint32_t crc32c(std::string_view data, uint32_t crc = 0);
// TFRecord's masking: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(std::string_view data);

// Appends framed events to `out`.
class EventWriter {
 public:
  explicit EventWriter(std::string& out) : out_(out) {}
  void file_version(double wall_s);
  void scalar(double wall_s, int64_t step, const std::string& tag, float value);

 private:
  void record(const std::string& event);
  std::string& out_;
};

// events.out.tfevents.SECONDS.HOST, the name TensorBoard looks for.
std::string event_file_name(int64_t wall_s, const std::string& host);

struct TbScalar {
  std::string tag;
  int64_t step = 0;
  double wall_s = 0;
  double value = 0;
};

struct TbFile {
  std::string file_version;
  std::vector<TbScalar> scalars;
  int64_t events = 0;
  int64_t other_values = 0;  // summary values that are not scalars (images, histograms, ...)
  bool truncated = false;    // the last record was cut (a writer still writing)
};

// The event file of the run store in DIR: every point of every tag as a scalar event, in
// the order of their wall times (then steps), after the file_version event; values as
// float32 (simple_value). resource_exhausted past `max_points`.
Result<std::string> run_event_file(const std::string& dir, int64_t max_points);

// The scalars of an event file. A record whose CRC does not match, or a malformed event,
// is an invalid_argument naming its offset; a last record cut short ends the file.
Result<TbFile> read_event_file(std::string_view bytes);

}  // namespace jz::training
