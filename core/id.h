// Sortable unique ids (ULID layout): 48 bits of Unix milliseconds then 80 random
// bits, written as 26 Crockford base-32 characters. Ids from one generator sort in
// creation order, also within one millisecond (the random part is incremented), so
// they make good primary keys and pagination cursors.
//
// IdGenerator is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/random.h"

namespace jz {

class IdGenerator {
 public:
  IdGenerator(Clock& clock, Random& rng) : clock_(clock), rng_(rng) {}

  // A new id, optionally with a type prefix ("job_01J...").
  std::string next(std::string_view prefix = "");

 private:
  Clock& clock_;
  Random& rng_;
  std::mutex mu_;
  int64_t last_ms_ = -1;
  std::array<uint8_t, 10> last_random_{};
};

// True when `s` is 26 Crockford base-32 characters whose first is 0-7.
bool is_valid_id_body(std::string_view s);
// The millisecond timestamp encoded in an id body, or -1 when invalid.
int64_t id_timestamp_ms(std::string_view body);

}  // namespace jz
