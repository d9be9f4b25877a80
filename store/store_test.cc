// One suite, two databases: every test runs on a temporary SQLite file and on a real
// PostgreSQL server started by the test binary (tests/support/postgres_server.h).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/clock.h"
#include "store/database.h"
#include "store/settings.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace jz::store {
std::string rewrite_placeholders(std::string_view sql);

namespace {

class StoreTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_, &options_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
  }

  testing::TempDir dir_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  FakeClock clock_;
};

TEST_P(StoreTest, MigrationsApplyOnceAndRecordVersion) {
  auto v = db_->schema_version();
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, migrations().back().version);
  db_.reset();
  auto again = Database::open(options_);  // re-applying is a no-op
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  int64_t rows = 0;
  ASSERT_TRUE((*again)
                  ->with_conn([&](Conn& c) -> Status {
                    JZ_ASSIGN_OR_RETURN(auto r, c.query("SELECT COUNT(*) FROM schema_migrations"));
                    rows = r[0].integer(0);
                    return {};
                  })
                  .ok());
  EXPECT_EQ(rows, static_cast<int64_t>(migrations().size()));
}

TEST_P(StoreTest, RefusesASchemaNewerThanTheBinary) {
  ASSERT_TRUE(
      db_->with_conn([](Conn& c) {
           return c
               .exec(
                   "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                   {int64_t{9999}, std::string("future"), int64_t{0}})
               .status();
         })
          .ok());
  db_.reset();
  auto again = Database::open(options_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("version 9999"), std::string::npos);
}

TEST_P(StoreTest, ParametersRoundTripAllTypes) {
  ASSERT_TRUE(db_->with_conn([](Conn& c) {
                   return c.exec_script(
                       "CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, n TEXT)");
                 })
                  .ok());
  std::string tricky = "quote ' \"double\" ? question\nnewline \xE4\xB8\xAD";
  ASSERT_TRUE(db_->transact([&](Conn& c) {
                   return c
                       .exec("INSERT INTO t VALUES (?, ?, ?, ?)",
                             {int64_t{-9007199254740993}, 0.5, tricky, std::monostate{}})
                       .status();
                 })
                  .ok());
  ASSERT_TRUE(db_->with_conn([&](Conn& c) -> Status {
                   JZ_ASSIGN_OR_RETURN(auto rows,
                                       c.query("SELECT i, d, s, n FROM t WHERE s = ?", {tricky}));
                   EXPECT_EQ(rows.size(), 1u);
                   EXPECT_EQ(rows[0].integer(0), -9007199254740993);
                   EXPECT_DOUBLE_EQ(std::stod(rows[0].text(1)), 0.5);
                   EXPECT_EQ(rows[0].text(2), tricky);
                   EXPECT_TRUE(rows[0].is_null(3));
                   return {};
                 })
                  .ok());
}

TEST_P(StoreTest, FailedTransactionRollsBackEverything) {
  store::SettingsRepo repo(*db_, clock_);
  ASSERT_TRUE(repo.put("a", "1").ok());
  Status s = db_->transact([](Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("UPDATE settings SET value = '2' WHERE key = 'a'").status());
    return Status::invalid_argument("caller changed its mind");
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(repo.get("a")->value_json, "1");
}

TEST_P(StoreTest, UniqueViolationIsAlreadyExists) {
  Status s = db_->transact([](Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("INSERT INTO settings VALUES ('k', '1', 1, 0)").status());
    return c.exec("INSERT INTO settings VALUES ('k', '2', 1, 0)").status();
  });
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.to_string();
}

TEST_P(StoreTest, SyntaxErrorIsInternalWithMessage) {
  Status s = db_->with_conn([](Conn& c) { return c.query("SELEKT 1").status(); });
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_FALSE(s.message().empty());
}

TEST_P(StoreTest, SettingsCrud) {
  SettingsRepo repo(*db_, clock_);
  auto a = repo.put("ui.banner", "\"hello\"");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->revision, 1);
  EXPECT_EQ(a->updated_at_ms, clock_.now_unix_ms());
  clock_.advance(std::chrono::seconds(1));
  auto b = repo.put("ui.banner", "\"bye\"");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->revision, 2);
  EXPECT_EQ(repo.get("ui.banner")->value_json, "\"bye\"");
  EXPECT_EQ(repo.get("nope").status().code(), Code::kNotFound);
  EXPECT_TRUE(repo.remove("ui.banner").ok());
  EXPECT_EQ(repo.remove("ui.banner").code(), Code::kNotFound);
  EXPECT_EQ(repo.put("Bad Key", "1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(repo.put("k", std::string(SettingsRepo::kMaxValueBytes + 1, '1')).status().code(),
            Code::kInvalidArgument);
}

TEST_P(StoreTest, SettingsPaginateInKeyOrder) {
  SettingsRepo repo(*db_, clock_);
  for (int i = 0; i < 25; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%02d", i);
    ASSERT_TRUE(repo.put(key, std::to_string(i)).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = repo.list(token, 10);
    ASSERT_TRUE(page.ok());
    for (auto& s : page->items) seen.push_back(s.key);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_FALSE(repo.list("", 0).ok());
}

TEST_P(StoreTest, ConcurrentWritersAllLand) {
  SettingsRepo repo(*db_, clock_);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!repo.put("w" + std::to_string(t) + "-" + std::to_string(i), "1").ok()) ++failures;
        if (!repo.put("shared", std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(repo.list("", 1000)->items.size(), 201u);
  EXPECT_EQ(repo.get("shared")->revision, 200);
}

TEST_P(StoreTest, ContendedWritersAreServedFairlyWithinTheBusyTimeout) {
  // 16 writers each hold the write lock ~3 ms, 40 times; the busy timeout (1.5 s) is
  // far above 16 x (3 ms + a commit), so a queue of blocked writers serves everyone. SQLite's own
  // busy handler polls with growing sleeps and let some writers starve past the timeout.
  DatabaseOptions opts = options_;
  opts.busy_timeout = std::chrono::milliseconds(1500);
  opts.pool_size = 16;
  db_.reset();
  auto db = Database::open(opts);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  db_ = std::move(db).value();
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        Status s = db_->transact([&](Conn& c) -> Status {
          JZ_RETURN_IF_ERROR(c.exec("INSERT INTO settings VALUES (?, '1', 1, 0)",
                                    {"c" + std::to_string(t) + "-" + std::to_string(i)})
                                 .status());
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
          return {};
        });
        if (!s.ok()) {
          ++failures;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = s.to_string();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
}

TEST_P(StoreTest, PingAnswers) { EXPECT_TRUE(db_->ping().ok()); }

INSTANTIATE_TEST_SUITE_P(Dialects, StoreTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres),
                         [](const auto& info) { return std::string(dialect_name(info.param)); });

TEST(DatabaseUrlTest, AcceptedForms) {
  auto a = parse_database_url("sqlite:./data/j.db");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->sqlite_path, "./data/j.db");
  EXPECT_EQ(parse_database_url("sqlite:///abs/j.db")->sqlite_path, "/abs/j.db");
  auto p = parse_database_url("postgres://u:secret@db.example:5432/jz?sslmode=require");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->dialect, Dialect::kPostgres);
  EXPECT_EQ(p->redacted, "postgres://u:***@db.example:5432/jz?sslmode=require");
}

TEST(DatabaseUrlTest, RejectionsExplainTheFormsAndHidePasswords) {
  for (const char* bad :
       {"mysql://x/y", "", "sqlite:", "postgres://", "just-a-path", "postgres/u1:pw@db:5432/x",
        "postgres:pw@x://y", "postgres://u:pw@h:99999/db", "postgres://u:pw@h:abc/db"}) {
    auto r = parse_database_url(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("use sqlite:PATH"), std::string::npos) << bad;
    EXPECT_EQ(r.status().message().find("pw@"), std::string::npos) << r.status().message();
  }
}

TEST(DatabaseTest, UnreachablePostgresIsUnavailableWithoutPassword) {
  DatabaseOptions opts;
  opts.url = *parse_database_url(
      "postgres://u:topsecret@127.0.0.1:" + std::to_string(testing::free_port()) + "/db");
  opts.connect_timeout = std::chrono::seconds(2);
  auto db = Database::open(opts);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kUnavailable);
  EXPECT_EQ(db.status().message().find("topsecret"), std::string::npos);
}

TEST(DatabaseTest, UnwritableSqlitePathIsUnavailable) {
  testing::TempDir dir;
  DatabaseOptions opts;
  opts.url = *parse_database_url("sqlite:" + dir.str() + "/missing-folder/j.db");
  auto db = Database::open(opts);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("missing-folder"), std::string::npos);
}

TEST(PlaceholderTest, RewritesOutsideQuotesOnly) {
  EXPECT_EQ(rewrite_placeholders("SELECT ? , '?', \"a?\" , ?"), "SELECT $1 , '?', \"a?\" , $2");
}

}  // namespace
}  // namespace jz::store
