// Clock: the only way Jizhan code reads time, so tests can run on a FakeClock.
//
// `now()` is wall time (for records and ids); `steady_now()` is monotonic (for
// durations and deadlines). SystemClock is stateless and thread-safe. FakeClock is
// thread-safe; its sleep_for advances fake time instead of blocking.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual WallTime now() const = 0;
  virtual SteadyTime steady_now() const = 0;
  virtual void sleep_for(std::chrono::nanoseconds d) = 0;

  // Milliseconds since the Unix epoch of now().
  int64_t now_unix_ms() const;

  // The process-wide real clock.
  static Clock& system();
};

class SystemClock final : public Clock {
 public:
  WallTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
  void sleep_for(std::chrono::nanoseconds d) override;
};

class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless told otherwise.
  explicit FakeClock(WallTime start = WallTime(std::chrono::seconds(1767225600)));

  WallTime now() const override;
  SteadyTime steady_now() const override;
  void sleep_for(std::chrono::nanoseconds d) override { advance(d); }

  void advance(std::chrono::nanoseconds d);
  void set(WallTime t);

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  std::chrono::nanoseconds elapsed_{0};
};

// RFC 3339 UTC with milliseconds: "2026-11-26T18:08:42.123Z".
std::string format_rfc3339(Clock::WallTime t);
// Parses RFC 3339 date-times: "2026-11-26T18:08:42Z", with optional fractional
// seconds (kept to the millisecond) and a "Z" or "+08:00" offset; 't'/'z' and a space
// for 'T' are accepted as RFC 3339 allows. Errors say what was expected.
Result<Clock::WallTime> parse_rfc3339(std::string_view text);
// Parses a duration: a positive integer with a unit, "90s", "15m", "12h", "30d", "2w";
// several may be joined ("1h30m"). Errors name the text and the units.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The inverse, in whole seconds and the largest units: 3h, 1d12h, 90 s as "1m30s", "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace jz
