// The metrics channel's bounds, fed directly (the socket is tested end to end in
// tests/training_e2e_test.cc).
#include "exec/metrics_channel.h"

#include <gtest/gtest.h>

#include "core/files.h"
#include "logs/filter.h"
#include "logs/policy.h"
#include "tests/support/temp_dir.h"
#include "training/store.h"

namespace jz::exec {
namespace {

std::string log_line(const std::string& tag, int64_t step, double v) {
  return "{\"kind\":\"log\",\"step\":" + std::to_string(step) + ",\"time\":1000,\"values\":{\"" +
         tag + "\":" + std::to_string(v) + "}}\n";
}

TEST(MetricsChannel, OpenLevelKeepsWhatComesAndCountsWhatIsInvalid) {
  testing::TempDir dir;
  auto c = MetricsChannel::open(dir.str() + "/m.sock", dir.str() + "/metrics",
                                MetricsBounds::for_level("open"), nullptr);
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::string lines;
  for (int i = 0; i < 500; ++i) lines += log_line("any name/at all", i, 0.123456789);
  lines += "{\"kind\":\"config\",\"values\":{\"model\":\"resnet\"}}\nnot json\n";
  lines += "{\"kind\":\"note\",\"text\":\"hello\"}\n";
  // Split anywhere: lines are whole when handled.
  (*c)->feed(7, lines.substr(0, 1001), 5);
  (*c)->feed(7, lines.substr(1001), 6);
  (*c)->stop();
  auto s = training::read_series(dir.str() + "/metrics", "any name/at all", {.points = 0});
  ASSERT_FALSE(s.ok()) << "a tag the records refuse (a space) is invalid";
  const Json st = (*c)->stats();
  EXPECT_EQ(st["dropped"]["invalid"], 501) << st.dump();
  EXPECT_EQ(st["records"], 2);
  auto records = read_file(dir.str() + "/metrics/records.jsonl");
  ASSERT_TRUE(records.ok());
  EXPECT_NE(records->find("resnet"), std::string::npos);
  EXPECT_NE(records->find("hello"), std::string::npos);
  auto stats = read_file(dir.str() + "/metrics/stats.json");
  ASSERT_TRUE(stats.ok());
}

TEST(MetricsChannel, SecretLevelPassesBoundedNumbersOnly) {
  testing::TempDir dir;
  auto filter = logs::LogFilter::compile(logs::default_policy("secret"));
  ASSERT_TRUE(filter.ok());
  auto c = MetricsChannel::open(dir.str() + "/m.sock", dir.str() + "/metrics",
                                MetricsBounds::for_level("secret"), std::move(*filter));
  ASSERT_TRUE(c.ok());
  int64_t t = 1'000'000'000;
  // 1,000 points at once: the burst (200) passes, the rest is over the rate.
  std::string burst;
  for (int i = 0; i < 1000; ++i) burst += log_line("train/loss", i, 1.0 / 3);
  (*c)->feed(1, burst, t);
  // Ten seconds later, 20 a second have come back: 200 more.
  t += 10'000'000;
  std::string later;
  for (int i = 1000; i < 1400; ++i) later += log_line("train/loss", i, 0.5);
  (*c)->feed(1, later, t);
  // Names from the vocabulary only; text never; steps never back nor leaping.
  t += 100'000'000;
  (*c)->feed(1,
             log_line("val/acc", 5, 0.987654321) + log_line("secretbytes", 1, 1) +
                 log_line("val/acc", 4, 1) + log_line("val/acc", 5 + (int64_t{1} << 21), 1) +
                 "{\"kind\":\"note\",\"text\":\"the file starts with 89504e47\"}\n"
                 "{\"kind\":\"note\",\"text\":\"epoch 3 loss=0.5\"}\n"
                 "{\"kind\":\"config\",\"values\":{\"lr\":0.000123456,\"model\":\"resnet\","
                 "\"seed\":\"text\",\"payload\":12345678}}\n",
             t);
  (*c)->stop();
  const std::string d = dir.str() + "/metrics";
  EXPECT_EQ(*training::read_tags(d), (std::vector<std::string>{"train/loss", "val/acc"}));
  auto loss = training::read_series(d, "train/loss", {.points = 0});
  ASSERT_TRUE(loss.ok());
  EXPECT_EQ(loss->total, 400);
  EXPECT_EQ(loss->points[0].value, 0.3333) << "four significant digits";
  EXPECT_EQ(loss->points[0].wall_us, 1'000'000'000) << "the receiver's clock, not the client's";
  auto acc = training::read_series(d, "val/acc", {.points = 0});
  ASSERT_TRUE(acc.ok());
  ASSERT_EQ(acc->total, 1);
  EXPECT_EQ(acc->points[0].value, 0.9877);
  const Json st = (*c)->stats();
  EXPECT_EQ(st["dropped"]["rate"], 1000) << st.dump();
  EXPECT_EQ(st["dropped"]["tag not in the vocabulary"], 1) << st.dump();
  EXPECT_EQ(st["dropped"]["step"], 2) << st.dump();
  EXPECT_EQ(st["dropped"]["note withheld"], 1) << st.dump();
  EXPECT_EQ(st["dropped"]["config text"], 1) << st.dump();
  EXPECT_EQ(st["dropped"]["config name not in the vocabulary"], 2) << st.dump();
  auto records = read_file(d + "/records.jsonl");
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->find("89504e47"), std::string::npos);
  EXPECT_EQ(records->find("resnet"), std::string::npos);
  EXPECT_EQ(records->find("12345678"), std::string::npos);
  EXPECT_NE(records->find("epoch 3 loss=0.5"), std::string::npos) << *records;
  EXPECT_NE(records->find("0.0001235"), std::string::npos) << *records;
}

TEST(MetricsChannel, ThirtyThreeTagsAreOneTooMany) {
  testing::TempDir dir;
  MetricsBounds b = MetricsBounds::for_level("secret");
  b.vocabulary = false;
  b.points_per_second = 0;
  auto c = MetricsChannel::open(dir.str() + "/m.sock", dir.str() + "/metrics", b, nullptr);
  ASSERT_TRUE(c.ok());
  std::string lines;
  for (int i = 0; i < 33; ++i) lines += log_line("t" + std::to_string(i), 1, 1);
  lines += log_line(std::string(33, 'x'), 1, 1);
  (*c)->feed(1, lines, 1);
  (*c)->stop();
  EXPECT_EQ(training::read_tags(dir.str() + "/metrics")->size(), 32u);
  EXPECT_EQ((*c)->stats()["dropped"]["too many tags"], 1);
  EXPECT_EQ((*c)->stats()["dropped"]["tag too long"], 1);
}

}  // namespace
}  // namespace jz::exec
