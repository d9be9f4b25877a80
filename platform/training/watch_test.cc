// The training watch's parsers: progress in log lines, milestones, the monitor settings.
#include "platform/training/watch.h"

#include <gtest/gtest.h>

namespace jz::training {
namespace {

TEST(TrainingWatch, ProgressIsReadFromCommonLogLines) {
  struct Case {
    const char* line;
    int64_t done, total;
    bool epoch;
  };
  const std::vector<Case> found = {
      {" 45%|####5     | 450/1000 [00:10<00:12, 44.2it/s]", 450, 1000, false},  // tqdm
      {"Epoch 3/100", 3, 100, true},                                            // Keras
      {"120/500 [=====>........................] - ETA: 1:23 - loss: 0.31", 120, 500, false},
      {"epoch [7/20] loss=0.12", 7, 20, true},
      {"step 120 / 500, lr 0.001", 120, 500, false},
      {"Iter: 300/1000", 300, 1000, false},
      {"Epoch 2/10 batch 30/40", 2, 10, true},  // the epoch counts, not the batch
  };
  for (const auto& c : found) {
    auto p = progress_of_line(c.line);
    ASSERT_TRUE(p) << c.line;
    EXPECT_EQ(p->done, c.done) << c.line;
    EXPECT_EQ(p->total, c.total) << c.line;
    EXPECT_EQ(p->epoch, c.epoch) << c.line;
  }
  for (const char* none : {"saved to runs/2024/01/model.pt", "ratio 3/4 of the data",
                           "12/31/2024 started", "epoch 5/3", "loss 0.5", ""}) {
    EXPECT_FALSE(progress_of_line(none)) << none;
  }
}

TEST(TrainingWatch, MilestonesAndSettingsAreCheckedWithTheirForm) {
  auto m = parse_milestone("val/acc >= 0.9");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->tag, "val/acc");
  EXPECT_EQ(m->op, ">=");
  EXPECT_EQ(m->value, 0.9);
  EXPECT_EQ(parse_milestone("loss<0.01")->op, "<");
  for (const char* bad : {"val/acc", ">= 0.9", "val/acc => 0.9", "val/acc >= x", "a b >= 1"}) {
    auto e = parse_milestone(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.status().message().find("TAG OP NUMBER"), std::string::npos);
  }
  auto s = parse_watch_settings(
      {{"stalled_minutes", 10}, {"milestones", {"val/acc >= 0.9"}}, {"nan", false}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stalled_s, 600);
  EXPECT_FALSE(s->nan);
  EXPECT_EQ(s->progress_percent, 25);
  EXPECT_EQ(parse_watch_settings(s->to_json())->to_json(), s->to_json());
  EXPECT_FALSE(parse_watch_settings({{"stalled", 10}}).ok());
  EXPECT_FALSE(parse_watch_settings({{"progress_every_percent", 101}}).ok());
  EXPECT_TRUE(parse_watch_settings(nullptr).ok());
}

}  // namespace
}  // namespace jz::training
