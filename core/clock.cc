#include "core/clock.h"

#include <ctime>
#include <thread>

namespace jz {

int64_t Clock::now_unix_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
}

Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

void SystemClock::sleep_for(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

FakeClock::FakeClock(WallTime start) : wall_(start) {}

Clock::WallTime FakeClock::now() const {
  std::lock_guard lock(mu_);
  return wall_;
}

Clock::SteadyTime FakeClock::steady_now() const {
  std::lock_guard lock(mu_);
  return SteadyTime(elapsed_);
}

void FakeClock::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  elapsed_ += d;
}

void FakeClock::set(WallTime t) {
  std::lock_guard lock(mu_);
  wall_ = t;
}

std::string format_rfc3339(Clock::WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace jz
