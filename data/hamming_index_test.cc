#include "data/hamming_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "data/phash.h"

namespace jz::data {
namespace {

std::vector<std::pair<uint32_t, int>> sorted(const std::vector<HashMatch>& v) {
  std::vector<std::pair<uint32_t, int>> out;
  for (const auto& m : v) out.push_back({m.id, m.distance});
  std::sort(out.begin(), out.end());
  return out;
}

// Both indexes answer exactly what a scan of every hash answers, at every radius, on hashes
// that cluster (near-duplicates of a few hundred pictures) as real ones do.
TEST(HammingIndex, EveryRadiusFindsExactlyWhatAScanFinds) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> hashes;
  MultiIndex mih;
  BkTree bk;
  for (int i = 0; i < 20000; ++i) {
    uint64_t h = rng();
    if (i > 300 && rng() % 2) {  // a near copy of an earlier hash
      h = hashes[rng() % 300];
      for (int f = static_cast<int>(rng() % 12); f > 0; --f) h ^= uint64_t{1} << (rng() % 64);
    }
    hashes.push_back(h);
    EXPECT_EQ(mih.add(h), static_cast<uint32_t>(i));
    bk.add(h);
  }
  std::vector<HashMatch> want, got;
  for (int q = 0; q < 300; ++q) {
    uint64_t query = q % 3 ? hashes[rng() % hashes.size()] : rng();
    if (q % 5 == 0) query ^= uint64_t{1} << (rng() % 64);
    for (int radius : {0, 1, 3, 4, 7, 8, 10, 12, 15, 16, 24, 64}) {
      linear_search(hashes, query, radius, want);
      mih.search(query, radius, got);
      ASSERT_EQ(sorted(got), sorted(want)) << "multi-index, radius " << radius;
      if (radius <= 16) {
        bk.search(query, radius, got);
        ASSERT_EQ(sorted(got), sorted(want)) << "BK-tree, radius " << radius;
      }
    }
  }
  mih.search(0, -1, got);
  EXPECT_TRUE(got.empty());
  MultiIndex none;
  none.search(0, 8, got);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace jz::data
