// The hash-chained audit trail on SQLite and PostgreSQL: tampering done directly in
// the database is found and named.
#include "platform/iam/audit.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/test_database.h"

namespace jz::iam {
namespace {

class AuditTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    log_ = std::make_unique<AuditLog>(*db_, clock_, ids_);
    for (int i = 1; i <= 20; ++i) {
      AuditRecord r;
      r.user = i % 2 ? "alice" : "bob";
      r.verb = i % 3 ? "create" : "delete";
      r.resource_type = "settings";
      r.resource_name = "k" + std::to_string(i);
      r.project = i <= 10 ? "p1" : "p2";
      r.response_status = 200;
      clock_.advance(std::chrono::seconds(1));
      auto a = log_->append(r);
      ASSERT_TRUE(a.ok()) << a.status().to_string();
      EXPECT_EQ(a->seq, i);
    }
  }

  void sql(const std::string& statement) {
    ASSERT_TRUE(db_->with_conn([&](store::Conn& c) { return c.exec_script(statement); }).ok())
        << statement;
  }

  AuditVerdict verify() {
    auto v = log_->verify();
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.value_or(AuditVerdict{});
  }

  testing::TempDir dir_;
  FakeClock clock_;
  SeededRandom rng_{3};
  IdGenerator ids_{clock_, rng_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_P(AuditTest, IntactChainVerifies) {
  auto v = verify();
  EXPECT_TRUE(v.intact) << v.reason;
  EXPECT_EQ(v.records, 20);
}

TEST_P(AuditTest, AsyncAppendsFromManyThreadsFormOneChain) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        AuditRecord r;
        r.user = "t" + std::to_string(t);
        r.verb = "create";
        log_->append_async(r);
      }
    });
  }
  for (auto& th : threads) th.join();
  log_->flush();
  auto v = verify();
  EXPECT_TRUE(v.intact) << v.reason;
  EXPECT_EQ(v.records, 220);
  EXPECT_EQ(log_->query({.user = "t3", .limit = 1000})->size(), 50u);
}

TEST_P(AuditTest, ChangedFieldIsFound) {
  sql("UPDATE audit SET user_name = 'mallory' WHERE seq = 5");
  auto v = verify();
  ASSERT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad->seq, 5);
  EXPECT_NE(v.reason.find("does not match its hash"), std::string::npos);
  EXPECT_EQ(v.records, 4);
}

TEST_P(AuditTest, ChangedFieldWithRecomputedHashIsFoundAtTheNextRecord) {
  auto rows = log_->query({.after_seq = 4, .limit = 1});
  ASSERT_TRUE(rows.ok());
  AuditRecord r = rows->at(0);
  r.verb = "read";
  std::string forged = AuditLog::compute_hash(r);
  sql("UPDATE audit SET verb = 'read', hash = '" + forged + "' WHERE seq = 5");
  auto v = verify();
  ASSERT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad->seq, 6);
  EXPECT_NE(v.reason.find("previous-hash"), std::string::npos);
}

TEST_P(AuditTest, DeletedRecordIsFound) {
  sql("DELETE FROM audit WHERE seq = 7");
  auto v = verify();
  ASSERT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad->seq, 8);
  EXPECT_NE(v.reason.find("sequence jumps from 6 to 8"), std::string::npos) << v.reason;
}

TEST_P(AuditTest, ReorderedRecordsAreFound) {
  sql("UPDATE audit SET seq = -1 WHERE seq = 3;"
      "UPDATE audit SET seq = 3 WHERE seq = 4;"
      "UPDATE audit SET seq = 4 WHERE seq = -1;");
  auto v = verify();
  ASSERT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad->seq, 3);
  EXPECT_NE(v.reason.find("previous-hash"), std::string::npos);
}

TEST_P(AuditTest, QueryFiltersAndPages) {
  auto alice = log_->query({.user = "alice", .limit = 100});
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->size(), 10u);
  auto p2_deletes = log_->query({.verb = "delete", .project = "p2", .limit = 100});
  EXPECT_EQ(p2_deletes->size(), 3u);  // seq 12, 15 and 18
  auto page1 = log_->query({.limit = 8});
  auto page2 = log_->query({.after_seq = page1->back().seq, .limit = 8});
  EXPECT_EQ(page2->front().seq, 9);
  const int64_t start = clock_.now_unix_ms() - 20000;
  auto window = log_->query({.since_ms = start + 5000, .until_ms = start + 8000, .limit = 100});
  EXPECT_EQ(window->size(), 3u);
  EXPECT_FALSE(log_->query({.limit = 0}).ok());
}

INSTANTIATE_TEST_SUITE_P(Dialects, AuditTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

TEST(AuditSummaryTest, SecretsNeverReachTheTrail) {
  std::string s = AuditLog::summarize_body(
      R"({"username":"alice","password":"hunter2-hunter2","api_token":"jzt_x","n":3,"cfg":{"a":1}})");
  EXPECT_EQ(s.find("hunter2"), std::string::npos) << s;
  EXPECT_EQ(s.find("jzt_x"), std::string::npos) << s;
  EXPECT_NE(s.find("\"username\":\"alice\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"cfg\":\"{...}\""), std::string::npos) << s;
  EXPECT_EQ(AuditLog::summarize_body("not json"), R"({"_invalid_json_bytes":8})");
  EXPECT_EQ(AuditLog::summarize_body(""), "{}");
}

}  // namespace
}  // namespace jz::iam
