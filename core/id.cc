#include "core/id.h"

namespace jz {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int crockford_value(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCrockford[i] == c) return i;
  }
  return -1;
}
}  // namespace

std::string IdGenerator::next(std::string_view prefix) {
  std::array<uint8_t, 16> bytes{};
  {
    std::lock_guard lock(mu_);
    int64_t ms = clock_.now_unix_ms();
    if (ms <= last_ms_) {
      // Same (or an earlier, if the wall clock stepped back) millisecond: keep the
      // last timestamp and increment the random part so order is preserved.
      ms = last_ms_;
      for (int i = 9; i >= 0; --i) {
        if (++last_random_[i] != 0) break;
        if (i == 0) ++ms;  // 80-bit overflow: borrow the next millisecond.
      }
    } else {
      rng_.fill(last_random_.data(), last_random_.size());
      last_random_[0] &= 0x7f;  // leave head-room so increments rarely overflow
    }
    last_ms_ = ms;
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
    for (int i = 0; i < 10; ++i) bytes[6 + i] = last_random_[i];
  }
  // 128 bits -> 26 base-32 digits, most significant first (the first digit holds 3 bits).
  std::string out(prefix);
  out.reserve(prefix.size() + 26);
  unsigned __int128 v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  char digits[26];
  for (int i = 25; i >= 0; --i) {
    digits[i] = kCrockford[static_cast<int>(v & 31)];
    v >>= 5;
  }
  out.append(digits, 26);
  return out;
}

bool is_valid_id_body(std::string_view s) {
  if (s.size() != 26) return false;
  if (s[0] < '0' || s[0] > '7') return false;
  for (char c : s) {
    if (crockford_value(c) < 0) return false;
  }
  return true;
}

int64_t id_timestamp_ms(std::string_view body) {
  if (!is_valid_id_body(body)) return -1;
  int64_t ms = 0;
  // The first 10 digits hold 50 bits: 2 bits of zero padding at the top (the 128-bit
  // value is written as 130 bits) and then the 48-bit timestamp.
  for (int i = 0; i < 10; ++i) ms = (ms << 5) | crockford_value(body[i]);
  return ms;
}

}  // namespace jz
