#include "data/dedup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "core/hash.h"
#include "data/hamming_index.h"
#include "data/phash.h"
#include "tests/support/synthetic_scenes.h"

namespace jz::data {
namespace {

// Near-duplicates planted among distinct pictures are found, per kind of edit, with
// precision and recall of at least 0.95 (the acceptance), at the default radius.
TEST(Dedup, PlantedNearDuplicatesAreFoundPerEditWithPrecisionAndRecallOver95Percent) {
  constexpr int kPictures = 400, kPlanted = 80, kRadius = 10;
  struct Item {
    int picture;
    std::string edit;  // "" for an original
  };
  std::vector<Item> items;
  std::vector<ImageRecord> records;
  std::vector<size_t> original_of;  // by picture
  auto add = [&](int picture, const std::string& edit, const std::vector<uint8_t>& bytes,
                 const cv::Mat& img) {
    const std::string b(bytes.begin(), bytes.end());
    auto h = phash_encoded(b, edit);
    ASSERT_TRUE(h.ok()) << h.status().message();
    items.push_back({picture, edit});
    records.push_back({std::to_string(picture) + "/" + (edit.empty() ? "original" : edit), *h,
                       sha256_hex(b), static_cast<int64_t>(img.total())});
  };
  const std::vector<std::string> edits = {"resized 50%", "re-encoded at quality 60", "cropped 5%",
                                          "brightness +10%", "brightness -10%"};
  for (int p = 0; p < kPictures; ++p) {
    const cv::Mat img = testing::scene(1000 + static_cast<uint64_t>(p));
    original_of.push_back(records.size());
    add(p, "", testing::encode(img, ".jpg", 92), img);
    if (p >= kPlanted) continue;
    const cv::Mat copies[] = {testing::resized(img, 0.5), img, testing::cropped(img, 0.05),
                              testing::brightened(img, 1.1), testing::brightened(img, 0.9)};
    for (size_t e = 0; e < edits.size(); ++e) {
      add(p, edits[e], testing::encode(copies[e], ".jpg", e == 1 ? 60 : 92), copies[e]);
    }
  }
  // Pairs within the radius, per edit: right when both are the same picture.
  MultiIndex index;
  for (const auto& r : records) index.add(r.phash);
  std::map<std::string, int> found_right, found_wrong, planted, recalled;
  std::map<std::string, std::vector<int>> distances;
  std::vector<HashMatch> near;
  for (size_t i = 0; i < records.size(); ++i) {
    index.search(records[i].phash, kRadius, near);
    const std::string& edit = items[i].edit;
    bool found_original = false;
    for (const auto& m : near) {
      if (m.id == i) continue;
      const bool same = items[m.id].picture == items[i].picture;
      (same ? found_right : found_wrong)[edit.empty() ? "originals" : edit]++;
      found_original = found_original || (same && items[m.id].edit.empty());
    }
    if (!edit.empty()) {
      planted[edit]++;
      recalled[edit] += found_original;
      distances[edit].push_back(hamming(
          records[i].phash, records[original_of[static_cast<size_t>(items[i].picture)]].phash));
    }
  }
  for (const auto& edit : edits) {
    const double recall = static_cast<double>(recalled[edit]) / planted[edit];
    const int all = found_right[edit] + found_wrong[edit];
    const double precision = all ? static_cast<double>(found_right[edit]) / all : 1.0;
    auto& d = distances[edit];
    std::sort(d.begin(), d.end());
    std::printf(
        "%-26s recall %.3f (%d of %d), precision %.3f (%d of %d pairs); bits from the "
        "original: median %d, 95th percentile %d, max %d\n",
        edit.c_str(), recall, recalled[edit], planted[edit], precision, found_right[edit], all,
        d[d.size() / 2], d[d.size() * 95 / 100], d.back());
    EXPECT_GE(recall, 0.95) << edit;
    EXPECT_GE(precision, 0.95) << edit;
  }
  const int wrong_originals = found_wrong["originals"];
  std::printf("originals: %d pairs of different pictures within %d bits\n", wrong_originals,
              kRadius);
  EXPECT_LE(wrong_originals, kPictures / 20);

  // The groups for review: each planted picture with its five copies, the original kept.
  const auto groups = group_duplicates(records, kRadius);
  int whole = 0;
  for (const auto& g : groups) {
    std::set<int> pictures;
    for (size_t m : g.members) pictures.insert(items[m].picture);
    EXPECT_FALSE(g.exact);
    if (pictures.size() == 1 && g.members.size() == 6) {
      ++whole;
      EXPECT_TRUE(items[g.members[0]].edit.empty() || items[g.members[0]].edit[0] == 'b')
          << "the largest is kept: " << records[g.members[0]].name;
    }
  }
  EXPECT_GE(whole, kPlanted * 95 / 100);
}

TEST(Dedup, TheSameBytesAreAnExactGroupAndTheLargestIsKept) {
  std::vector<ImageRecord> r = {{"a.jpg", 0x1111, "s1", 100},
                                {"b.jpg", 0x1111, "s1", 100},
                                {"c.jpg", 0xF0F0F0F0F0F0F0F0, "s2", 400},
                                {"d.jpg", 0xF0F0F0F0F0F0F0F1, "s3", 900},
                                {"e.jpg", 0x0F0F0F0F0F0F0F0F, "s4", 900}};
  const auto groups = group_duplicates(r, 2);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_TRUE(groups[0].exact || groups[1].exact);
  for (const auto& g : groups) {
    if (g.exact) {
      EXPECT_EQ(g.members, (std::vector<size_t>{0, 1}));
      EXPECT_EQ(g.max_distance, 0);
    } else {
      EXPECT_EQ(g.members, (std::vector<size_t>{3, 2})) << "d is larger";
      EXPECT_EQ(g.max_distance, 1);
    }
  }
  EXPECT_TRUE(group_duplicates(r, 0).size() == 1) << "radius 0: equal hashes only";
  EXPECT_TRUE(group_duplicates({}, 8).empty());
}

}  // namespace
}  // namespace jz::data
