// The hash-chained audit trail on SQLite and PostgreSQL: tampering done directly in
// the database is found and named.
#include "platform/iam/audit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

// Records 1..20 are one second apart from 2026-01-01T00:00:01Z.
int64_t at_seconds(int64_t s) { return 1767225600000 + s * 1000; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_P(AuditTest, ArchiveMovesAVerifiedPrefixAndTheChainGoesOn) {
  const std::string adir = dir_.str() + "/archive";
  // Records older than second 8.5: 1..8.
  auto a = log_->archive(at_seconds(8) + 500, adir);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->first_seq, 1);
  EXPECT_EQ((*a)->last_seq, 8);
  EXPECT_EQ((*a)->records, 8);
  const std::string text = read_file((*a)->file);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 8);
  EXPECT_NE(text.find("\"resource_name\":\"k8\""), std::string::npos);
  // The store keeps 9..20; the whole chain still verifies, files included.
  AuditQuery q;
  q.limit = 1000;
  auto live = log_->query(q);
  ASSERT_EQ(live->size(), 12u);
  EXPECT_EQ(live->front().seq, 9);
  auto v = verify();
  EXPECT_TRUE(v.intact) << v.reason;
  EXPECT_EQ(v.records, 12);
  EXPECT_EQ(v.archived_records, 8);
  EXPECT_EQ(v.archives, 1);
  // Nothing old enough: nothing happens.
  auto none = log_->archive(at_seconds(5), adir);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // Archive everything; new records continue the chain from the checkpoint.
  auto all = log_->archive(at_seconds(1000), adir);
  ASSERT_TRUE(all.ok() && all->has_value()) << all.status().to_string();
  EXPECT_EQ((*all)->first_seq, 9);
  EXPECT_EQ((*all)->last_seq, 20);
  AuditRecord r;
  r.verb = "create";
  auto next = log_->append(r);
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_EQ(next->seq, 21);
  EXPECT_EQ(next->prev_hash, (*all)->last_hash);
  v = verify();
  EXPECT_TRUE(v.intact) << v.reason;
  EXPECT_EQ(v.records, 1);
  EXPECT_EQ(v.archived_records, 20);
  EXPECT_EQ(v.archives, 2);
}

TEST_P(AuditTest, ChangedOrMissingArchiveFileIsFound) {
  const std::string adir = dir_.str() + "/archive";
  auto a = log_->archive(at_seconds(10) + 500, adir);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().to_string();
  const std::string file = (*a)->file;
  std::string text = read_file(file);
  // Change one user name inside the file.
  auto at = text.find("\"user\":\"bob\"");
  ASSERT_NE(at, std::string::npos);
  std::string changed = text;
  changed.replace(at, 12, "\"user\":\"eve\"");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << changed;
  auto v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_NE(v.reason.find(file), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("was changed"), std::string::npos) << v.reason;
  ASSERT_TRUE(v.first_bad.has_value());
  EXPECT_EQ(v.first_bad->user, "eve");
  // Gone: reported too; without the files the rest of the chain verifies.
  std::filesystem::remove(file);
  v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_NE(v.reason.find("cannot be read"), std::string::npos) << v.reason;
  auto without = log_->verify(false);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(without->intact) << without->reason;
  EXPECT_EQ(without->records, 10);
}

TEST_P(AuditTest, DeletedCheckpointIsFound) {
  auto a = log_->archive(at_seconds(10) + 500, dir_.str() + "/archive");
  ASSERT_TRUE(a.ok() && a->has_value());
  sql("DELETE FROM audit_archives");
  auto v = verify();
  EXPECT_FALSE(v.intact);
  ASSERT_TRUE(v.first_bad.has_value());
  EXPECT_EQ(v.first_bad->seq, 11);
  EXPECT_NE(v.reason.find("sequence jumps"), std::string::npos) << v.reason;
}

TEST_P(AuditTest, BrokenChainIsNotArchived) {
  sql("UPDATE audit SET user_name = 'mallory' WHERE seq = 4");
  const std::string adir = dir_.str() + "/archive";
  auto a = log_->archive(at_seconds(10) + 500, adir);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("seq 4"), std::string::npos) << a.status().message();
  EXPECT_FALSE(std::filesystem::exists(adir) && !std::filesystem::is_empty(adir));
  AuditQuery q;
  q.limit = 1000;
  EXPECT_EQ(log_->query(q)->size(), 20u) << "nothing is deleted";
  // A break after the archived prefix does not stop archiving the good part.
  sql("UPDATE audit SET user_name = 'bob' WHERE seq = 4");  // as it was
  sql("UPDATE audit SET user_name = 'mallory' WHERE seq = 15");
  EXPECT_TRUE(log_->verify()->first_bad.has_value());
  auto ok = log_->archive(at_seconds(10) + 500, adir);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ((*ok)->last_seq, 10);
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
