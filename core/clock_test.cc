#include "core/clock.h"

#include <gtest/gtest.h>

namespace jz {
namespace {

TEST(ClockTest, FakeClockAdvancesOnlyWhenTold) {
  FakeClock clock;
  auto t0 = clock.now();
  auto s0 = clock.steady_now();
  EXPECT_EQ(clock.now(), t0);
  clock.sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(clock.now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(clock.steady_now() - s0, std::chrono::seconds(5));
  EXPECT_EQ(clock.now_unix_ms(), 1767225605000);
}

TEST(ClockTest, Rfc3339) {
  FakeClock clock;
  clock.advance(std::chrono::milliseconds(1234));
  EXPECT_EQ(format_rfc3339(clock.now()), "2026-01-01T00:00:01.234Z");
}

TEST(ClockTest, SystemClockMovesForward) {
  auto& c = Clock::system();
  auto a = c.steady_now();
  c.sleep_for(std::chrono::milliseconds(2));
  EXPECT_GT(c.steady_now(), a);
}

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
  auto ms = [](std::string_view t) -> int64_t {
    auto r = parse_rfc3339(t);
    EXPECT_TRUE(r.ok()) << t << ": " << r.status().message();
    if (!r.ok()) return -1;
    return std::chrono::duration_cast<std::chrono::milliseconds>(r->time_since_epoch()).count();
  };
  EXPECT_EQ(ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ms("2026-01-01T00:00:00Z"), 1767225600000);
  EXPECT_EQ(ms("2026-01-01T08:00:00+08:00"), 1767225600000);
  EXPECT_EQ(ms("2025-12-31T23:30:00-00:30"), 1767225600000);
  EXPECT_EQ(ms("2026-01-01t00:00:00.5z"), 1767225600500);
  EXPECT_EQ(ms("2026-01-01 00:00:00.123456Z"), 1767225600123);
  EXPECT_EQ(ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(ms("1969-12-31T23:59:59Z"), -1000);
  // Round trip through the formatter.
  const auto t = Clock::WallTime(std::chrono::milliseconds(1795716522123));
  EXPECT_EQ(*parse_rfc3339(format_rfc3339(t)), t);
}

TEST(Rfc3339, RejectsWithAReason) {
  for (const char* bad : {"", "2026", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-01-01",
                          "2026-01-01T24:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00+0800",
                          "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zjunk", "yesterday",
                          // beyond the clock's 64-bit nanoseconds (issue 17, item 14)
                          "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"}) {
    auto r = parse_rfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos) << r.status().message();
  }
}

TEST(Duration, ParsesUnitsAndSums) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*parse_duration("90s"), milliseconds(90'000));
  EXPECT_EQ(*parse_duration("15m"), milliseconds(900'000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parse_duration("30d"), milliseconds(30LL * 86'400'000));
  EXPECT_EQ(*parse_duration("2w"), milliseconds(14LL * 86'400'000));
  for (const char* bad : {"", "5", "h", "0s", "5x", "-5m", "1.5h", "99999999999d", "5m "}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("unit"), std::string::npos);
  }
}

TEST(Duration, FormatsInTheLargestUnitsAndParsesBack) {
  using std::chrono::milliseconds;
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(999)), "0s");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(72LL * 3'600'000)), "3d");
  EXPECT_EQ(format_duration(milliseconds(36LL * 3'600'000 + 5'000)), "1d12h5s");
  for (const char* text : {"45s", "2h", "1d1h1m1s", "10d"}) {
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
  }
}

}  // namespace
}  // namespace jz
