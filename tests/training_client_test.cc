// The C++ training client (clients/cpp/jizhan.h) against a job's real metrics channel (a
// Unix socket served by exec/metrics_channel.h), and offline to a file.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>

#include "clients/cpp/jizhan.h"
#include "core/files.h"
#include "exec/metrics_channel.h"
#include "tests/support/temp_dir.h"
#include "training/records.h"
#include "training/store.h"

namespace jz {
namespace {

TEST(CppTrainingClient, LogsThroughAJobsSocketInOrderWithNaNAndTheRest) {
  testing::TempDir dir;
  const std::string sock = dir.str() + "/metrics.sock";
  auto channel = exec::MetricsChannel::open(sock, dir.str() + "/metrics",
                                            exec::MetricsBounds::for_level("open"), nullptr);
  ASSERT_TRUE(channel.ok()) << channel.status().message();
  (*channel)->start();
  ::setenv("JIZHAN_METRICS_SOCKET", sock.c_str(), 1);
  {
    jizhan::Run run = jizhan::Run::init();
    ASSERT_TRUE(run.ok());
    run.config({{"lr", 0.01}, {"batch_size", int64_t{64}}, {"model", std::string("tiny \"net\"")}});
    for (int step = 0; step < 1000; ++step) {
      run.log({{"train/loss", 1.0 / (step + 1)}, {"train/acc", step / 1000.0}}, step);
    }
    run.log({{"train/loss", std::nan("")}});  // step 1000
    run.note("half way\nthere");
    run.progress(1000, 1000);
    run.finish();
  }
  ::unsetenv("JIZHAN_METRICS_SOCKET");
  (*channel)->stop();
  const std::string d = dir.str() + "/metrics";
  auto loss = training::read_series(d, "train/loss", {.points = 0});
  ASSERT_TRUE(loss.ok()) << loss.status().message();
  ASSERT_EQ(loss->total, 1001);
  EXPECT_EQ(loss->points[9].value, 0.1);
  EXPECT_EQ(loss->points[1000].step, 1000);
  EXPECT_TRUE(std::isnan(loss->points[1000].value));
  EXPECT_GT(loss->points[5].wall_us, 1'600'000'000'000'000) << "the client's clock";
  auto records = read_file(d + "/records.jsonl");
  ASSERT_TRUE(records.ok());
  auto parsed = training::parse_lines(*records);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 4u) << *records;
  EXPECT_EQ((*parsed)[0].config["model"], "tiny \"net\"");
  EXPECT_EQ((*parsed)[0].config["batch_size"], 64);
  EXPECT_EQ((*parsed)[1].text, "half way there") << "(the channel makes a note one line)";
  EXPECT_EQ((*parsed)[2].done, 1000);
  EXPECT_EQ((*parsed)[3].kind, training::Record::Kind::kFinish);
  EXPECT_EQ((*channel)->stats()["dropped"].size(), 0u) << (*channel)->stats().dump();
}

TEST(CppTrainingClient, WritesAnOfflineFileTheUploadReads) {
  testing::TempDir dir;
  const std::string file = dir.str() + "/run.jsonl";
  {
    jizhan::Run run = jizhan::Run::offline(file);
    for (int step = 0; step < 100; ++step) run.log({{"loss", 0.5}});
  }
  auto text = read_file(file);
  ASSERT_TRUE(text.ok());
  auto parsed = training::parse_lines(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << *text;
  int64_t points = 0;
  for (const auto& r : *parsed) {
    training::for_each_point(r, [&](const std::string&, int64_t step, int64_t, double) {
      EXPECT_EQ(step, points);
      ++points;
    });
  }
  EXPECT_EQ(points, 100);
  EXPECT_EQ(parsed->back().kind, training::Record::Kind::kFinish);
  // Nowhere to go: nothing happens, nothing blocks.
  jizhan::Run none = jizhan::Run::init();
  EXPECT_FALSE(none.ok());
  none.log({{"loss", 1}});
  none.finish();
}

}  // namespace
}  // namespace jz
