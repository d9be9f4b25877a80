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

}  // namespace
}  // namespace jz
