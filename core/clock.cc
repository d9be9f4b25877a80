#include "core/clock.h"

#include <algorithm>
#include <ctime>
#include <thread>
#include <utility>

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

namespace {

// Reads exactly `n` digits at `pos`; false when they are not there.
bool read_digits(std::string_view t, size_t& pos, int n, int& out) {
  if (pos + n > t.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    char c = t[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

Result<Clock::WallTime> parse_rfc3339(std::string_view t) {
  auto bad = [&](std::string_view what) {
    return Status::invalid_argument("'" + std::string(t.substr(0, 64)) +
                                    "' is not an RFC 3339 time (" + std::string(what) +
                                    "); write e.g. 2026-11-26T18:00:00Z");
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!read_digits(t, pos, 4, year) || pos >= t.size() || t[pos++] != '-' ||
      !read_digits(t, pos, 2, month) || pos >= t.size() || t[pos++] != '-' ||
      !read_digits(t, pos, 2, day)) {
    return bad("expected a date YYYY-MM-DD");
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > kDays[month - 1] + (month == 2 && is_leap(year))) {
    return bad("day out of range");
  }
  if (pos >= t.size() || (t[pos] != 'T' && t[pos] != 't' && t[pos] != ' ')) {
    return bad("expected 'T' and a time after the date");
  }
  ++pos;
  if (!read_digits(t, pos, 2, hour) || pos >= t.size() || t[pos++] != ':' ||
      !read_digits(t, pos, 2, minute) || pos >= t.size() || t[pos++] != ':' ||
      !read_digits(t, pos, 2, second)) {
    return bad("expected a time HH:MM:SS");
  }
  // 60 is a leap second; it is read as the second after :59.
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
  int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      millis += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad("expected digits after '.'");
  }
  int64_t offset_min = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    const int sign = t[pos++] == '+' ? 1 : -1;
    int oh, om;
    if (!read_digits(t, pos, 2, oh) || pos >= t.size() || t[pos++] != ':' ||
        !read_digits(t, pos, 2, om) || oh > 23 || om > 59) {
      return bad("expected an offset +HH:MM");
    }
    offset_min = int64_t{sign} * (oh * 60 + om);
  } else {
    return bad("expected 'Z' or an offset like +08:00 after the time");
  }
  if (pos != t.size()) return bad("unexpected text after the offset");
  // The clock counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11.
  if (year < 1678 || year > 2261) return bad("year out of range: 1678 to 2261");
  const int64_t secs = days_from_civil(year, month, day) * 86400 + int64_t{hour} * 3600 +
                       int64_t{minute} * 60 + second - offset_min * 60;
  return Clock::WallTime(std::chrono::milliseconds(secs * 1000 + millis));
}

Result<std::chrono::milliseconds> parse_duration(std::string_view t) {
  auto bad = [&]() {
    return Status::invalid_argument(
        "'" + std::string(t.substr(0, 64)) +
        "' is not a duration; write a number with a unit s, m, h, d or w, e.g. 90s, 12h, 30d");
  };
  if (t.empty()) return bad();
  int64_t total_ms = 0;
  size_t pos = 0;
  while (pos < t.size()) {
    int64_t n = 0;
    size_t start = pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (n > 1'000'000'000) return bad();  // far beyond any sensible duration
      n = n * 10 + (t[pos] - '0');
      ++pos;
    }
    if (pos == start || pos >= t.size()) return bad();
    int64_t unit_ms;
    switch (t[pos++]) {
      case 's':
        unit_ms = 1000;
        break;
      case 'm':
        unit_ms = 60'000;
        break;
      case 'h':
        unit_ms = 3'600'000;
        break;
      case 'd':
        unit_ms = 86'400'000;
        break;
      case 'w':
        unit_ms = 7 * 86'400'000LL;
        break;
      default:
        return bad();
    }
    total_ms += n * unit_ms;
    if (total_ms > 100LL * 366 * 86'400'000) return bad();
  }
  if (total_ms == 0) return bad();
  return std::chrono::milliseconds(total_ms);
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t s = std::max<int64_t>(0, d.count() / 1000);
  if (s == 0) return "0s";
  std::string out;
  for (auto [unit, secs] : {std::pair{'d', int64_t{86'400}}, std::pair{'h', int64_t{3'600}},
                            std::pair{'m', int64_t{60}}, std::pair{'s', int64_t{1}}}) {
    if (s >= secs) {
      out += std::to_string(s / secs) + unit;
      s %= secs;
    }
  }
  return out;
}

}  // namespace jz
