// Unattended training (issue 25, E2) end to end on a fake clock: the training watch
// (platform/training/watch.h) sees a job's run and log, and its stall, NaN loss, milestone,
// progress and completion events go through the alert rules to a project's mailbox on a
// real SMTP server with STARTTLS and AUTH (SQLite and PostgreSQL).
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <limits>

#include "core/clock.h"
#include "core/hash.h"
#include "core/id.h"
#include "core/random.h"
#include "logs/store.h"
#include "platform/alerts/alerts.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "platform/training/watch.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_database.h"
#include "training/store.h"

namespace jz {
namespace {

using alerts::AlertOptions;
using alerts::AlertService;
using alerts::SecretBox;

class TrainingWatchMail : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    ASSERT_TRUE(tenancy_->create_workspace("lab", "").ok());
    project_["vision"] = tenancy_->create_project("lab", "vision", "", "")->id;
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
  }

  std::unique_ptr<AlertService> make_service(const std::string& ca_file) {
    AlertOptions o;
    o.ca_file = ca_file;
    o.allow_private_networks = true;
    o.console_url = "http://console.example";
    return std::make_unique<AlertService>(
        *db_, clock_, ids_, *tenancy_, SecretBox::with_key("k"), o,
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }

  void run() {
    ASSERT_TRUE(service_->evaluate_once().ok());
    service_->deliver_once();
  }

  testing::TempDir dir_;
  FakeClock clock_;
  SeededRandom rng_{7};
  IdGenerator ids_{clock_, rng_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<AlertService> service_;
  std::map<std::string, std::string> project_;
};

// Unattended training (issue 25, E2): the training watch sees a job's run and log on a
// fake clock, and its stall, NaN loss, milestone, progress and completion each reach the
// project's mailbox through a real SMTP server.
TEST_P(TrainingWatchMail, StallsNaNMilestonesProgressAndCompletionReachAMailbox) {
  testing::SmtpServer smtp;
  service_ = make_service(smtp.ca());
  ASSERT_TRUE(service_->evaluate_once().ok());
  ASSERT_TRUE(service_
                  ->create_receiver("project", project_["vision"],
                                    {{"name", "mail"},
                                     {"channel", "email"},
                                     {"config",
                                      {{"smtp_url", smtp.url()},
                                       {"from", "jizhan@example.com"},
                                       {"to", {"team@example.com"}},
                                       {"username", "alerts"}}},
                                     {"secret", "mail-secret"},
                                     {"rules",
                                      {"training_stalled", "training_nan", "training_milestone",
                                       "training_progress", "training_completed"}}},
                                    "admin")
                  .ok());
  training::RunService runs(*db_, clock_, ids_,
                            training::RunOptions{.dir = dir_.str() + "/training"});
  const std::string job = "job_01TRAINWATCH00000000000000";
  const std::string run_dir = dir_.str() + "/job/metrics", log_dir = dir_.str() + "/job/logs";
  ASSERT_TRUE(runs.job_started(project_["vision"], job, "owner-id", run_dir).ok());
  auto writer = training::RunWriter::open(run_dir);
  ASSERT_TRUE(writer.ok());
  auto log = logs::LogWriter::open(log_dir);
  ASSERT_TRUE(log.ok());
  auto settings = training::parse_watch_settings({{"stalled_minutes", 10},
                                                  {"milestones", {"val/acc >= 0.9"}},
                                                  {"progress_every_percent", 50}});
  ASSERT_TRUE(settings.ok());
  training::TrainingWatch watch(runs, *events_, clock_);
  watch.watch({.job_id = job,
               .project = "vision",
               .project_id = project_["vision"],
               .name = "resnet",
               .run_dir = run_dir,
               .log_dir = log_dir,
               .settings = *settings,
               .started_ms = clock_.now_unix_ms()});
  int64_t step = 0;
  auto point = [&](const std::string& tag, double v) {
    ASSERT_TRUE((*writer)->append(tag, {step++, clock_.now_unix_ms() * 1000, v}).ok());
    ASSERT_TRUE((*writer)->flush().ok());
  };
  auto mails = [&] {
    std::vector<std::string> out;
    for (const auto& m : smtp.log()) {
      auto text = testing::mail_body(m["data"]);
      out.push_back(text.ok() ? *text : "");
    }
    return out;
  };
  auto tick = [&](int64_t seconds) {
    clock_.advance(std::chrono::seconds(seconds));
    watch.check();
    run();
  };
  // Training goes well: nothing to say. Then the log says epoch 5/10 (50 %).
  point("train/loss", 0.9);
  point("val/acc", 0.5);
  tick(60);
  EXPECT_TRUE(mails().empty());
  ASSERT_TRUE((*log)->append(clock_.now_unix_ms() * 1000, 0, "Epoch 5/10").ok());
  ASSERT_TRUE((*log)->flush().ok());
  tick(60);
  ASSERT_EQ(mails().size(), 1u);
  EXPECT_NE(mails()[0].find("resnet is 50 % done (5 of 10), about 2 min left"), std::string::npos)
      << mails()[0];
  ASSERT_TRUE(watch.progress(job));
  EXPECT_EQ(watch.progress(job)->source, "log");
  // The milestone, once.
  point("val/acc", 0.93);
  tick(60);
  point("val/acc", 0.95);
  tick(60);
  ASSERT_EQ(mails().size(), 2u);
  EXPECT_NE(mails()[1].find("val/acc >= 0.9 reached at step"), std::string::npos) << mails()[1];
  // The loss diverges.
  point("train/loss", std::numeric_limits<double>::quiet_NaN());
  tick(60);
  ASSERT_EQ(mails().size(), 3u);
  EXPECT_NE(mails()[2].find("train/loss is NaN"), std::string::npos) << mails()[2];
  // Ten quiet minutes: stalled (said once, not every look).
  tick(300);
  EXPECT_EQ(mails().size(), 3u);
  tick(300);
  tick(120);
  ASSERT_EQ(mails().size(), 4u);
  EXPECT_NE(mails()[3].find("has logged no metric and no line for 10 min"), std::string::npos)
      << mails()[3];
  // It moves again, and finishes: the final metrics.
  point("train/loss", 0.05);
  point("val/acc", 0.97);
  tick(60);
  watch.ended(job, true);
  run();
  ASSERT_EQ(mails().size(), 5u);
  EXPECT_NE(mails()[4].find("resnet finished training"), std::string::npos) << mails()[4];
  EXPECT_NE(mails()[4].find("train/loss 0.05"), std::string::npos) << mails()[4];
  EXPECT_NE(mails()[4].find("val/acc 0.97"), std::string::npos) << mails()[4];
  EXPECT_FALSE(watch.progress(job)) << "forgotten once ended";
}

INSTANTIATE_TEST_SUITE_P(Dialects, TrainingWatchMail,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz
