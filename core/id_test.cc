#include "core/id.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace jz {
namespace {

TEST(IdTest, SortsByCreationWithinAndAcrossMilliseconds) {
  FakeClock clock;
  SeededRandom rng(42);
  IdGenerator gen(clock, rng);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 == 0) clock.advance(std::chrono::milliseconds(1));
    ids.push_back(gen.next());
  }
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]) << i;
  for (const auto& id : ids) EXPECT_TRUE(is_valid_id_body(id)) << id;
  EXPECT_EQ(id_timestamp_ms(ids.front()), 1767225600001);
}

TEST(IdTest, ClockSteppingBackKeepsOrder) {
  FakeClock clock;
  SeededRandom rng(1);
  IdGenerator gen(clock, rng);
  auto a = gen.next();
  clock.set(clock.now() - std::chrono::seconds(10));
  auto b = gen.next();
  EXPECT_LT(a, b);
}

TEST(IdTest, PrefixAndValidation) {
  IdGenerator gen(Clock::system(), SecureRandom::instance());
  auto id = gen.next("job_");
  EXPECT_EQ(id.rfind("job_", 0), 0u);
  EXPECT_TRUE(is_valid_id_body(id.substr(4)));
  EXPECT_FALSE(is_valid_id_body("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));  // > 128 bits
  EXPECT_FALSE(is_valid_id_body("01J0000000000000000000000I"));  // I is not Crockford
  EXPECT_EQ(id_timestamp_ms("bad"), -1);
}

TEST(IdTest, UniqueAcrossThreads) {
  IdGenerator gen(Clock::system(), SecureRandom::instance());
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) per[t].push_back(gen.next());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (auto& v : per) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 20000u);
}

}  // namespace
}  // namespace jz
