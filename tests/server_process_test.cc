// End-to-end tests of the `jizhan` binary as a user runs it: start-up errors, graceful
// shutdown, crash durability on SQLite and PostgreSQL, and the config documentation.
#include "tests/support/server_process.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/subprocess.h"
#include "store/database.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {
namespace {

SubprocessResult run_jizhan(std::vector<std::string> args,
                            std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), jizhan_binary());
  auto r = run_subprocess({.argv = args, .env = env, .timeout = std::chrono::seconds(30)});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : SubprocessResult{};
}

// A bad start exits non-zero with exactly one line on stderr that contains `needle`.
void expect_one_line_error(const SubprocessResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out) << "the server started instead of failing";
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(StartupErrorTest, UnknownKeyInConfigFile) {
  TempDir dir;
  std::string cfg = dir.str() + "/jizhan.yaml";
  std::ofstream(cfg) << "server:\n  listen: 127.0.0.1:0\n  thread: 4\n";
  auto r = run_jizhan({"server", "--config", cfg, "--data-dir", dir.str() + "/d"});
  expect_one_line_error(r, "unknown config key 'server.thread'");
  EXPECT_NE(r.err.find("did you mean 'server.threads'"), std::string::npos);
  EXPECT_NE(r.err.find("line 3"), std::string::npos);
}

TEST(StartupErrorTest, WrongTypeInEnvironment) {
  TempDir dir;
  auto r = run_jizhan({"server", "--data-dir", dir.str()}, {{"JIZHAN_SERVER_THREADS", "lots"}});
  expect_one_line_error(r, "JIZHAN_SERVER_THREADS: config key 'server.threads' must be an integer");
}

TEST(StartupErrorTest, WrongTypeInFile) {
  TempDir dir;
  std::string cfg = dir.str() + "/jizhan.yaml";
  std::ofstream(cfg) << "log:\n  access: sometimes\n";
  auto r = run_jizhan({"server", "--config", cfg, "--data-dir", dir.str() + "/d"});
  expect_one_line_error(r, "config key 'log.access' must be true or false, got 'sometimes'");
}

TEST(StartupErrorTest, PortInUse) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  TempDir dir;
  auto r = run_jizhan({"server", "--listen", "127.0.0.1:" + port, "--data-dir", dir.str()});
  close(fd);
  expect_one_line_error(r, "cannot listen on 127.0.0.1:" + port);
  EXPECT_NE(r.err.find("--listen"), std::string::npos);
}

TEST(StartupErrorTest, SecondServerOnTheSamePortIsRefused) {
  TempDir dir;
  auto first = ServerProcess::start(dir.str() + "/a");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  auto r = run_jizhan({"server", "--listen", "127.0.0.1:" + std::to_string((*first)->port()),
                       "--data-dir", dir.str() + "/b"});
  expect_one_line_error(r, "cannot listen on");
}

TEST(StartupErrorTest, UnwritableDataDir) {
  TempDir dir;
  std::string file = dir.str() + "/a-file";
  std::ofstream(file) << "x";
  auto r = run_jizhan({"server", "--data-dir", file + "/data", "--listen", "127.0.0.1:0"});
  expect_one_line_error(r, "data directory '" + file + "/data' (server.data_dir)");
  EXPECT_NE(r.err.find("--data-dir"), std::string::npos);
}

TEST(StartupErrorTest, BadDatabaseUrl) {
  TempDir dir;
  auto r = run_jizhan({"server", "--db", "mysql://root:pw@localhost/x", "--data-dir", dir.str(),
                       "--listen", "127.0.0.1:0"});
  expect_one_line_error(r, "config key 'store.url' (flag --db)");
  EXPECT_NE(r.err.find("unsupported scheme 'mysql'"), std::string::npos);
  EXPECT_EQ(r.err.find(":pw@"), std::string::npos) << "password leaked: " << r.err;
}

TEST(StartupErrorTest, UnreachablePostgres) {
  TempDir dir;
  auto r = run_jizhan({"server", "--db",
                       "postgres://jz:hunter2@127.0.0.1:" + std::to_string(free_port()) + "/jz",
                       "--data-dir", dir.str(), "--listen", "127.0.0.1:0"});
  expect_one_line_error(r, "cannot connect to PostgreSQL");
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos);
}

TEST(StartupErrorTest, BadListenAddress) {
  TempDir dir;
  auto r = run_jizhan({"server", "--listen", "localhost", "--data-dir", dir.str()});
  expect_one_line_error(r, "config key 'server.listen' (flag --listen)");
}

TEST(ServerProcessTest, SigtermExitsZeroAndLogsJson) {
  TempDir dir;
  // With the admin password given, nothing but log lines reaches the output.
  auto s = ServerProcess::start(dir.str() + "/d", {"--log-format", "json"},
                                {{"JIZHAN_ADMIN_PASSWORD", "admin-password-123"}});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  (*s)->signal(SIGTERM);
  auto r = (*s)->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 0) << (*s)->log();
  std::istringstream lines((*s)->log());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(json::parse(line).ok()) << line;
    ++n;
  }
  EXPECT_GE(n, 3);
  EXPECT_NE((*s)->log().find("stopped cleanly"), std::string::npos);
}

TEST(ServerProcessTest, SigtermLetsARequestInFlightFinishThenExitsZero) {
  TempDir dir;
  auto s = ServerProcess::start(dir.str() + "/d");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  httplib::Client c("127.0.0.1", (*s)->port());
  c.set_bearer_token_auth((*s)->token());
  c.set_read_timeout(20, 0);
  const std::string payload = R"({"value":"sent slowly"})";
  std::atomic<bool> signalled{false};
  // The body trickles in; SIGTERM arrives after the first bytes, mid-request.
  auto r = c.Put(
      "/api/v1/settings/in-flight", payload.size(),
      [&](size_t offset, size_t length, httplib::DataSink& sink) {
        if (offset > 0 && !signalled.exchange(true)) (*s)->signal(SIGTERM);
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        sink.write(payload.data() + offset, std::min<size_t>(length, 3));
        return true;
      },
      "application/json");
  ASSERT_TRUE(signalled.load());
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  auto exit = (*s)->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0) << (*s)->log();
  // And the write was kept.
  auto again = ServerProcess::start(dir.str() + "/d");
  ASSERT_TRUE(again.ok());
  httplib::Client c2("127.0.0.1", (*again)->port());
  c2.set_bearer_token_auth((*again)->token());
  auto g = c2.Get("/api/v1/settings/in-flight");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
}

TEST(ServerProcessTest, FirstStartCreatesAdminWithAPrintedPassword) {
  TempDir dir;
  auto s = ServerProcess::start(dir.str() + "/d");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::string password;
  std::ifstream(dir.str() + "/d/initial-admin-password") >> password;
  ASSERT_EQ(password.size(), 20u);
  EXPECT_NE((*s)->log().find("Initial password of user 'admin': " + password), std::string::npos)
      << (*s)->log();
  httplib::Client c("127.0.0.1", (*s)->port());
  auto login =
      c.Post("/api/v1/auth/login", R"({"username":"admin","password":")" + password + R"("})",
             "application/json");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200) << login->body;
  // Restarted, it creates nothing and prints no password.
  (*s)->signal(SIGTERM);
  (*s)->wait();
  auto again = ServerProcess::start(dir.str() + "/d");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->log().find("Initial password"), std::string::npos);
}

TEST(ServerProcessTest, AdminPasswordFromTheEnvironment) {
  TempDir dir;
  auto r = run_jizhan({"server", "--data-dir", dir.str() + "/weak", "--listen", "127.0.0.1:0"},
                      {{"JIZHAN_ADMIN_PASSWORD", "short"}});
  expect_one_line_error(r, "JIZHAN_ADMIN_PASSWORD: field 'password' must be at least 12");
}

TEST(ServerProcessTest, AdminTokenFileIsPrivateAndStable) {
  TempDir dir;
  std::string data = dir.str() + "/d";
  std::string first;
  {
    auto s = ServerProcess::start(data);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    first = (*s)->token();
    EXPECT_EQ(first.size(), 68u);
    EXPECT_EQ(first.rfind("jzt_", 0), 0u);
    (*s)->signal(SIGTERM);
    (*s)->wait();
  }
  struct stat st {};
  ASSERT_EQ(stat((data + "/admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = ServerProcess::start(data);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->token(), first);
}

// Kills the server with SIGKILL while four clients are in the middle of 1,000 writes;
// after a restart on the same store every acknowledged write must be there.
void burst_then_crash(const std::string& data_dir, const std::vector<std::string>& extra) {
  auto s = ServerProcess::start(data_dir, extra);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const std::string token = (*s)->token();
  const int port = (*s)->port();

  constexpr int kWrites = 1000;
  std::mt19937 rng(std::random_device{}());
  const int kill_after = 200 + static_cast<int>(rng() % 500);  // somewhere in the middle
  std::atomic<int> next{0}, acked_count{0}, failed_after_kill{0};
  std::atomic<bool> killed{false};
  std::mutex mu;
  std::set<int> acked;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_bearer_token_auth(token);
      c.set_read_timeout(5, 0);
      for (;;) {
        int i = next++;
        if (i >= kWrites) return;
        char key[32];
        std::snprintf(key, sizeof key, "burst-%04d", i);
        auto r = c.Put(std::string("/api/v1/settings/") + key,
                       R"({"value":{"n":)" + std::to_string(i) + "}}", "application/json");
        if (r && r->status == 200) {
          std::lock_guard lock(mu);
          acked.insert(i);
          if (++acked_count == kill_after) {
            (*s)->signal(SIGKILL);
            killed = true;
          }
        } else if (killed) {
          ++failed_after_kill;
          if (failed_after_kill > 20) return;  // the server is gone
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  auto r = (*s)->wait();
  ASSERT_EQ(r.signal, SIGKILL) << "the server was not killed mid-burst";
  ASSERT_TRUE(killed.load());
  EXPECT_LT(acked.size(), static_cast<size_t>(kWrites)) << "the kill came after the burst";
  EXPECT_GE(acked.size(), static_cast<size_t>(kill_after));

  auto restarted = ServerProcess::start(data_dir, extra);
  ASSERT_TRUE(restarted.ok()) << restarted.status().to_string();
  httplib::Client c("127.0.0.1", (*restarted)->port());
  c.set_bearer_token_auth((*restarted)->token());
  int missing = 0;
  for (int i : acked) {
    char key[32];
    std::snprintf(key, sizeof key, "burst-%04d", i);
    auto g = c.Get(std::string("/api/v1/settings/") + key);
    if (!g || g->status != 200) {
      ++missing;
      continue;
    }
    auto j = json::parse(g->body);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ((*j)["value"]["n"], i);
  }
  EXPECT_EQ(missing, 0) << "acknowledged writes lost: " << missing << " of " << acked.size();
  std::cout << "acknowledged " << acked.size()
            << " writes before SIGKILL; all present after restart\n";
}

TEST(DurabilityTest, SigkillDuringBurstLosesNoAcknowledgedWriteSqlite) {
  TempDir dir;
  burst_then_crash(dir.str() + "/d", {});
}

TEST(DurabilityTest, SigkillDuringBurstLosesNoAcknowledgedWritePostgres) {
  auto* pg = shared_postgres();
  ASSERT_NE(pg, nullptr) << "PostgreSQL must be startable for this test";
  ASSERT_TRUE(pg->create_database("durability").ok());
  TempDir dir;
  burst_then_crash(dir.str() + "/d", {"--db", pg->url("durability")});
}

TEST(ServerProcessTest, PostgresStoreServesAndReportsReady) {
  auto* pg = shared_postgres();
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->create_database("ready").ok());
  TempDir dir;
  auto s = ServerProcess::start(dir.str() + "/d", {"--db", pg->url("ready")});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  httplib::Client c("127.0.0.1", (*s)->port());
  auto r = c.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("postgres"), std::string::npos);
}

TEST(ServerProcessTest, ReadinessFollowsPostgresOutageAndRecovery) {
  // A server of its own, since this test stops it.
  auto pg = PostgresServer::start();
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  TempDir dir;
  auto s = ServerProcess::start(dir.str() + "/d", {"--db", (*pg)->url()});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  httplib::Client c("127.0.0.1", (*s)->port());
  c.set_bearer_token_auth((*s)->token());
  ASSERT_EQ(c.Put("/api/v1/settings/before", R"({"value":1})", "application/json")->status, 200);

  (*pg)->stop();
  // Readiness is measured every second (so /readyz answers from memory under any load).
  auto down = c.Get("/readyz");
  for (int i = 0; i < 40 && down && down->status == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    down = c.Get("/readyz");
  }
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_NE(down->body.find("\"code\":\"unavailable\""), std::string::npos) << down->body;
  auto write = c.Put("/api/v1/settings/during", R"({"value":2})", "application/json");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 503) << write->body;
  EXPECT_EQ(c.Get("/healthz")->status, 200) << "liveness does not depend on the store";

  ASSERT_TRUE((*pg)->restart().ok());
  // The pool replaces its broken connections as they are used.
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = c.Get("/readyz")->status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200);
  // Every pooled connection works again, not just the one readiness used: concurrent
  // requests take different connections from the pool.
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      httplib::Client ct("127.0.0.1", (*s)->port());
      ct.set_bearer_token_auth((*s)->token());
      for (int i = 0; i < 10; ++i) {
        auto r = ct.Get("/api/v1/settings/before");
        if (!r || r->status != 200) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Writes through a real server, then tampers with the audit table directly and asks
// `jizhan audit verify` (offline) to find it.
void audit_verify_finds_tampering(const std::vector<std::string>& store_flags,
                                  const std::string& db_url) {
  TempDir dir;
  const std::string data = dir.str() + "/d";
  {
    auto s = ServerProcess::start(data, store_flags);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    httplib::Client c("127.0.0.1", (*s)->port());
    c.set_bearer_token_auth((*s)->token());
    for (int i = 0; i < 6; ++i) {
      ASSERT_EQ(
          c.Put("/api/v1/settings/k" + std::to_string(i), R"({"value":1})", "application/json")
              ->status,
          200);
    }
    (*s)->signal(SIGTERM);  // records are written after responses; a clean stop keeps them
    ASSERT_EQ((*s)->wait().exit_code, 0);
  }
  std::vector<std::string> verify = {"audit", "verify", "--data-dir", data};
  verify.insert(verify.end(), store_flags.begin(), store_flags.end());
  auto ok = run_jizhan(verify);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("audit chain intact: 6 records"), std::string::npos) << ok.out;

  store::DatabaseOptions opts;
  opts.url = *store::parse_database_url(db_url);
  auto db = store::Database::open(opts);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  auto tamper = [&](const std::string& sql) {
    ASSERT_TRUE((*db)->with_conn([&](store::Conn& c) { return c.exec_script(sql); }).ok());
  };
  tamper("UPDATE audit SET resource_name = 'innocent' WHERE seq = 4");
  auto changed = run_jizhan(verify);
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.out.find("BROKEN at record seq 4"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("was changed"), std::string::npos) << changed.out;

  tamper("DELETE FROM audit WHERE seq = 4");
  auto deleted = run_jizhan(verify);
  EXPECT_EQ(deleted.exit_code, 1);
  EXPECT_NE(deleted.out.find("BROKEN at record seq 5"), std::string::npos) << deleted.out;

  tamper("UPDATE audit SET seq = 4 WHERE seq = 5");  // close the gap: now out of order
  tamper(
      "UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
      "UPDATE audit SET seq = 3 WHERE seq = -1");
  auto reordered = run_jizhan(verify);
  EXPECT_EQ(reordered.exit_code, 1);
  EXPECT_NE(reordered.out.find("BROKEN at record seq 2"), std::string::npos) << reordered.out;
}

TEST(AuditVerifyTest, FindsTamperingOnSqlite) {
  TempDir dir;
  const std::string url = "sqlite:" + dir.str() + "/audit.db";
  audit_verify_finds_tampering({"--db", url}, url);
}

TEST(AuditVerifyTest, FindsTamperingOnPostgres) {
  auto* pg = shared_postgres();
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->create_database("audit_verify").ok());
  audit_verify_finds_tampering({"--db", pg->url("audit_verify")}, pg->url("audit_verify"));
}

TEST(AuditVerifyTest, MissingDatabaseIsAClearError) {
  TempDir dir;
  auto r = run_jizhan({"audit", "verify", "--data-dir", dir.str() + "/nothing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no database at"), std::string::npos) << r.err;
}

// Retention: the server archives old records on start; `audit archive` does it
// offline; verify re-reads the files and names a changed one.
TEST(AuditVerifyTest, RetentionArchivesOldRecordsAndVerifyReadsTheFiles) {
  TempDir dir;
  const std::string data = dir.str() + "/data";
  auto put_settings = [&](ServerProcess& s, int from, int to) {
    httplib::Client c("127.0.0.1", s.port());
    c.set_bearer_token_auth(s.token());
    for (int i = from; i < to; ++i) {
      ASSERT_EQ(
          c.Put("/api/v1/settings/k" + std::to_string(i), R"({"value":1})", "application/json")
              ->status,
          200);
    }
  };
  {
    auto s = ServerProcess::start(data);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    put_settings(**s, 0, 5);
    (*s)->signal(SIGTERM);
    ASSERT_EQ((*s)->wait().exit_code, 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  // A server with a one-second retention moves those 5 records out at start.
  {
    auto s = ServerProcess::start(data, {"--set", "audit.retention=1s"});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    bool archived = false;
    for (int i = 0; i < 250 && !archived; ++i) {
      archived = (*s)->log().find("audit retention: archived records 1..5") != std::string::npos;
      if (!archived) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(archived) << (*s)->log();
    put_settings(**s, 5, 8);
    (*s)->signal(SIGTERM);
    ASSERT_EQ((*s)->wait().exit_code, 0);
  }
  const std::string file = data + "/audit-archive/audit-000000000001-000000000005.jsonl";
  ASSERT_TRUE(std::filesystem::exists(file));
  auto ok = run_jizhan({"audit", "verify", "--data-dir", data});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("in 1 archive file(s)"), std::string::npos) << ok.out;

  // Offline archiving with a bad age is a usage error; a good one moves the rest.
  auto bad_age = run_jizhan({"audit", "archive", "--older-than", "soon", "--data-dir", data});
  EXPECT_EQ(bad_age.exit_code, 2);
  EXPECT_NE(bad_age.err.find("not a duration"), std::string::npos) << bad_age.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto moved = run_jizhan({"audit", "archive", "--older-than", "1s", "--data-dir", data,
                           "--out-dir", dir.str() + "/cold"});
  EXPECT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_NE(moved.out.find("archived records 6.."), std::string::npos) << moved.out;
  ok = run_jizhan({"audit", "verify", "--data-dir", data});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("in 2 archive file(s)"), std::string::npos) << ok.out;

  // A changed archive file is named; --skip-archive-files checks only the checkpoints.
  std::string text;
  {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const auto at = text.find("\"resource_name\":\"k3\"");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 20, "\"resource_name\":\"k9\"");
  std::ofstream(file, std::ios::trunc) << text;
  auto broken = run_jizhan({"audit", "verify", "--data-dir", data});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find(file), std::string::npos) << broken.out;
  auto skipped = run_jizhan({"audit", "verify", "--data-dir", data, "--skip-archive-files"});
  EXPECT_EQ(skipped.exit_code, 0) << skipped.out;
  EXPECT_NE(skipped.out.find("files not read"), std::string::npos) << skipped.out;
  // A bad retention value is a one-line start-up error.
  auto bad = run_jizhan({"server", "--data-dir", data, "--set", "audit.retention=forever"});
  expect_one_line_error(bad, "config key 'audit.retention'");
}

TEST(DocsTest, ConfigDocListsEveryKey) {
  auto r = run_jizhan({"config", "keys", "--markdown"});
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream in(source_dir() + "/docs/CONFIG.md");
  ASSERT_TRUE(in) << "docs/CONFIG.md is missing";
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(r.out), std::string::npos)
      << "docs/CONFIG.md is out of date: paste the output of `jizhan config keys --markdown`";
}

TEST(DocsTest, TemplateDocHoldsTheSchema) {
  auto r = run_jizhan({"eval", "schema"});
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream in(source_dir() + "/docs/TEMPLATES.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(r.out), std::string::npos)
      << "docs/TEMPLATES.md is out of date: paste the output of `jizhan eval schema`";
}

TEST(CliTest, HelpOnEveryCommand) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"},
                                                         {"server", "--help"},
                                                         {"version", "--help"},
                                                         {"config", "--help"},
                                                         {"config", "keys", "--help"},
                                                         {"config", "check", "--help"},
                                                         {"audit", "archive", "--help"},
                                                         {"route", "query", "--help"},
                                                         {"eval", "run", "--help"},
                                                         {"eval", "diff-csv", "--help"},
                                                         {"eval", "schema", "--help"}}) {
    auto r = run_jizhan(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << args[0];
  }
  auto v = run_jizhan({"version"});
  EXPECT_EQ(v.out.rfind("jizhan 0.", 0), 0u) << v.out;
  auto bad = run_jizhan({"serve"});
  EXPECT_NE(bad.exit_code, 0);
}

TEST(CliTest, RouteQueryOnJsonJsonLinesAndXml) {
  TempDir dir;
  const std::string json = dir.str() + "/out.json";
  std::ofstream(json) << R"({"people":[{"age":"34","name":"Li"},{"age":27,"name":"Wang"}]})";
  auto r = run_jizhan({"route", "query", "people[*].age@num", json, "--compact"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[34.0,27]\n");
  auto p =
      run_jizhan({"route", "query", "--paths", "$.people[?@.name=='Wang']", json, "--compact"});
  EXPECT_EQ(p.out, "[\"$['people'][1]\"]\n") << p.err;

  const std::string lines = dir.str() + "/out.jsonl";
  std::ofstream(lines) << "{\"a\":1}\n{\"a\":[2,3]}\n{}\n";
  auto l = run_jizhan({"route", "query", "$..*", lines});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(l.out, "[1]\n[[2,3],2,3]\n[]\n");

  const std::string xml = dir.str() + "/ann.xml";
  std::ofstream(xml) << "<annotation><object><name>dog</name></object></annotation>";
  auto x = run_jizhan(
      {"route", "query", "annotation.object[0].name", xml, "--xml-array", "object", "--compact"});
  EXPECT_EQ(x.out, "[\"dog\"]\n") << x.err;
  auto xp = run_jizhan({"route", "query", "xpath://object/name", xml, "--compact"});
  EXPECT_EQ(xp.out, "[\"dog\"]\n") << xp.err;

  // Errors: one line naming what and where.
  auto bad_path = run_jizhan({"route", "query", "people[0.age", json});
  expect_one_line_error(bad_path, "at character 9");
  auto bad_value = run_jizhan({"route", "query", "people[*].name@int", json});
  expect_one_line_error(bad_value, "$['people'][0]['name']: @int expects an integer");
  std::ofstream(dir.str() + "/broken.json") << "{\n\"a\": [1,\n}";
  auto bad_doc = run_jizhan({"route", "query", "a", dir.str() + "/broken.json"});
  expect_one_line_error(bad_doc, "broken.json: JSON at line 3");
}

TEST(CliTest, EvalRunAndDiffCsv) {
  TempDir dir;
  const std::string data = source_dir() + "/tests/data";
  auto r = run_jizhan({"eval", "run", "--template", data + "/eval/seed-age/template.yaml",
                       "--predictions", data + "/eval/seed-age/predictions", "--annotations",
                       data + "/eval/seed-age/annotations.jsonl", "--out", dir.str() + "/out"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("age: accuracy 0.4000 (2/5, numeric |p-a| <= 3)"), std::string::npos)
      << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/out/report.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/out/samples.csv"));

  auto coco = run_jizhan({"eval", "run", "-t", "builtin:coco-detection", "-p",
                          data + "/detection-metrics/coco-sample/detections.json", "-a",
                          data + "/detection-metrics/coco-sample/ground_truth.json", "-o",
                          dir.str() + "/coco"});
  EXPECT_EQ(coco.exit_code, 0) << coco.err;
  EXPECT_NE(coco.out.find("AP = 0.5036"), std::string::npos) << coco.out;

  const std::string bad = dir.str() + "/bad.yaml";
  std::ofstream(bad) << "task: attributes\nvariables:\n  - name: age\n    path: people[0.age\n";
  auto bad_run = run_jizhan(
      {"eval", "run", "-t", bad, "-p", dir.str(), "-a", dir.str(), "-o", dir.str() + "/x"});
  expect_one_line_error(bad_run, "bad.yaml:4:11: variables[0].path");

  const std::string a = dir.str() + "/a.csv", b = dir.str() + "/b.csv", c = dir.str() + "/c.csv";
  std::ofstream(a) << "id,label,score\n1,cat,0.50\n2,dog,0.75\n";
  std::ofstream(b) << "id,label,score\n2,dog,0.75\n1,cat,0.50\n";
  std::ofstream(c) << "id,label,score\n1,cat,0.52\n2,dog,0.75\n";
  auto same = run_jizhan({"eval", "diff-csv", "--submitted", a, "--rerun", b, "--key", "id"});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("verdict: identical"), std::string::npos);
  auto close = run_jizhan({"eval", "diff-csv", "--submitted", a, "--rerun", c, "--key", "id",
                           "--tolerance", "score=0.05"});
  EXPECT_EQ(close.exit_code, 3) << close.out;
  auto modified = run_jizhan({"eval", "diff-csv", "--submitted", a, "--rerun", c, "--key", "id"});
  EXPECT_EQ(modified.exit_code, 4) << modified.out;
  EXPECT_NE(modified.out.find("row id=1 column 'score'"), std::string::npos) << modified.out;
  auto bad_tol = run_jizhan(
      {"eval", "diff-csv", "--submitted", a, "--rerun", c, "--key", "id", "--tolerance", "score"});
  EXPECT_EQ(bad_tol.exit_code, 2);
}

TEST(CliTest, ConfigCheckShowsSourcesAndRedactsSecrets) {
  auto r = run_jizhan(
      {"config", "check", "--listen", "127.0.0.1:9999", "--db", "postgres://u:secretpw@h:5432/d"},
      {{"JIZHAN_LOG_LEVEL", "debug"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("server.listen = 127.0.0.1:9999  (flag --listen)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("log.level = debug  (environment variable JIZHAN_LOG_LEVEL)"),
            std::string::npos);
  EXPECT_EQ(r.out.find("secretpw"), std::string::npos);
}

}  // namespace
}  // namespace jz::testing
