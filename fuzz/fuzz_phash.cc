// Fuzz target: hash texts and images of any bytes. A parsed hash prints back to the same
// value; an image either hashes or is refused with a message, and hashes the same twice.
// Whatever decodes has the size its header gives (data/image.h reads headers to refuse
// images too large to decode; a size it misreads would let one through).
#include <cstddef>
#include <cstdint>
#include <opencv2/imgcodecs.hpp>
#include <string_view>

#include "data/image.h"
#include "data/phash.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto h = jz::data::parse_hash_hex(text); h.ok()) {
    auto again = jz::data::parse_hash_hex(jz::data::hash_hex(*h));
    if (!again.ok() || *again != *h) __builtin_trap();
  }
  if (size > 1 << 20) return 0;
  auto h = jz::data::phash_encoded(text, "input");
  if (!h.ok()) {
    if (h.status().message().empty()) __builtin_trap();
  } else {
    auto again = jz::data::phash_encoded(text, "input");
    if (!again.ok() || *again != *h) __builtin_trap();
  }
  auto img =
      jz::data::decode_image(text, cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION, "input");
  if (img.ok()) {
    const auto header = jz::data::image_size(text);
    if (header && *header != img->size()) __builtin_trap();
  }
  return 0;
}
