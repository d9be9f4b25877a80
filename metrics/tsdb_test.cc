// The embedded time-series store: exact averages, minima and maxima over any step from the
// tier that holds the range, rings that forget what they cannot hold, series found by
// labels, a bounded number of series, and everything back after a restart.
#include "metrics/tsdb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace jz::metrics {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'800'000'000'000;  // a whole hour, in ms

TsdbOptions small(const std::string& dir) {
  TsdbOptions o;
  o.dir = dir;
  o.tiers = {{1s, 60s}, {10s, 600s}, {60s, 3600s}};
  o.max_series = 3;
  return o;
}

TEST(Tsdb, RangesAggregateExactlyFromTheTierThatHoldsThem) {
  testing::TempDir dir;
  auto db = Tsdb::open(small(dir.str()));
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  auto id = (*db)->series("DCGM_FI_DEV_GPU_UTIL", {{"gpu", "0"}, {"Hostname", "n1"}});
  ASSERT_TRUE(id.ok());
  // 300 s of one sample a second: value = second % 10.
  std::vector<Tsdb::Sample> batch;
  batch.reserve(300);
  for (int64_t s = 0; s < 300; ++s) batch.push_back({*id, kT0 + s * 1000, double(s % 10)});
  (*db)->append(batch);
  // The last 60 s at 1 s from the raw ring: every sample as it was.
  auto raw = (*db)->range(*id, kT0 + 250'000, kT0 + 259'000, 1000, Aggregation::kAvg);
  ASSERT_EQ(raw.size(), 10u);
  for (size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(raw[i].t_ms, kT0 + 250'000 + int64_t(i) * 1000);
    EXPECT_EQ(raw[i].value, double(i));
  }
  // All 300 s at 30 s: older than the raw ring holds, so from the 10 s tier; each step
  // averages 0..9 three times (4.5), with min 0 and max 9.
  auto avg = (*db)->range(*id, kT0, kT0 + 299'000, 30'000, Aggregation::kAvg);
  ASSERT_EQ(avg.size(), 10u);
  for (const auto& p : avg) EXPECT_DOUBLE_EQ(p.value, 4.5);
  auto mx = (*db)->range(*id, kT0, kT0 + 299'000, 30'000, Aggregation::kMax);
  auto mn = (*db)->range(*id, kT0, kT0 + 299'000, 30'000, Aggregation::kMin);
  EXPECT_EQ(mx[3].value, 9);
  EXPECT_EQ(mn[3].value, 0);
  // At 60 s from the 60 s tier: the same exact average.
  auto minute = (*db)->range(*id, kT0, kT0 + 299'000, 60'000, Aggregation::kAvg);
  ASSERT_EQ(minute.size(), 5u);
  EXPECT_DOUBLE_EQ(minute[0].value, 4.5);
  // Steps without samples are left out, not zero.
  auto gap = (*db)->range(*id, kT0 + 300'000, kT0 + 400'000, 10'000, Aggregation::kAvg);
  EXPECT_TRUE(gap.empty());
  // Non-finite values and negative times are dropped.
  (*db)->append(*id, kT0 + 299'500, std::nan(""));
  EXPECT_EQ((*db)->range(*id, kT0 + 299'000, kT0 + 299'000, 1000, Aggregation::kAvg)[0].value, 9);
}

TEST(Tsdb, RingsForgetWhatTheyCannotHoldAndOldSamplesDoNotOverwriteNew) {
  testing::TempDir dir;
  auto db = Tsdb::open(small(dir.str()));
  ASSERT_TRUE(db.ok());
  auto id = (*db)->series("m", {});
  ASSERT_TRUE(id.ok());
  // Two hours at one sample every 10 s: the 60 s tier keeps the last hour only.
  for (int64_t s = 0; s < 7200; s += 10) (*db)->append(*id, kT0 + s * 1000, double(s));
  auto first_hour = (*db)->range(*id, kT0, kT0 + 3'599'000, 60'000, Aggregation::kMax);
  EXPECT_TRUE(first_hour.empty()) << "the first hour was overwritten by the second";
  auto second = (*db)->range(*id, kT0 + 3'600'000, kT0 + 7'199'000, 60'000, Aggregation::kMax);
  ASSERT_EQ(second.size(), 60u);
  EXPECT_EQ(second.back().value, 7190);
  // A late sample from the overwritten hour changes nothing.
  (*db)->append(*id, kT0 + 5'000, 1e9);
  EXPECT_EQ((*db)->range(*id, kT0 + 3'600'000, kT0 + 3'659'000, 60'000, Aggregation::kMax)[0].value,
            3650);
}

TEST(Tsdb, SeriesAreFoundByLabelsBoundedInNumberAndKeptAcrossARestart) {
  testing::TempDir dir;
  {
    auto db = Tsdb::open(small(dir.str()));
    ASSERT_TRUE(db.ok());
    auto a = (*db)->series("util", {{"gpu", "0"}, {"project", "vision"}});
    auto b = (*db)->series("util", {{"gpu", "1"}, {"project", "vision"}});
    auto c = (*db)->series("util", {{"gpu", "2"}, {"project", "other"}});
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(*(*db)->series("util", {{"project", "vision"}, {"gpu", "0"}}), *a);
    auto d = (*db)->series("util", {{"gpu", "3"}});
    EXPECT_EQ(d.status().code(), Code::kResourceExhausted);
    EXPECT_NE(d.status().message().find("monitoring.max_series"), std::string::npos);
    EXPECT_EQ((*db)->find("util", {{"project", "vision"}}).size(), 2u);
    EXPECT_EQ((*db)->find("util", {}).size(), 3u);
    EXPECT_TRUE((*db)->find("other", {}).empty());
    (*db)->append(*a, kT0, 42);
    (*db)->append(*c, kT0 - int64_t{40} * 24 * 3600 * 1000, 1);  // 40 days ago
  }
  auto db = Tsdb::open(small(dir.str()));
  ASSERT_TRUE(db.ok());
  auto found = (*db)->find("util", {{"gpu", "0"}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ((*db)->range(found[0].id, kT0, kT0, 1000, Aggregation::kAvg)[0].value, 42);
  // Series not written for forget_after go, and free their place.
  auto opts = small(dir.str());
  (*db)->append(found[0].id, kT0, 42);
  for (const auto& s : (*db)->find("util", {})) {
    if (s.labels.at("gpu") == "1") (*db)->append(s.id, kT0, 1);
  }
  EXPECT_EQ((*db)->compact(kT0 + 1000), 1u);
  EXPECT_EQ((*db)->size(), 2u);
  EXPECT_TRUE((*db)->series("util", {{"gpu", "3"}}).ok());
  // Another layout of tiers starts the store again rather than misreading it.
  opts.tiers = {{2s, 60s}};
  auto other = Tsdb::open(opts);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->size(), 0u);
  EXPECT_EQ(parse_aggregation("p99").status().code(), Code::kInvalidArgument);
}

TEST(Tsdb, TiersAreParsedOrRefusedWithTheReason) {
  auto t = parse_tiers("1s:1h, 10s:24h,1m:30d");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[1].step, 10s);
  EXPECT_EQ((*t)[2].keep, std::chrono::hours(24 * 30));
  for (const char* bad :
       {"", "1s", "1s:", "x:1h", "1s:1h,1s:2h", "10s:15s", "0s:1h", "1y:2y", "1s:1h,,10s:1d"}) {
    auto r = parse_tiers(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_NE(parse_tiers("10s:15s").status().message().find("whole number of steps"),
            std::string::npos);
}

}  // namespace
}  // namespace jz::metrics
