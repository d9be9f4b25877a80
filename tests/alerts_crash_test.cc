// Notifications survive a crash: 500 alerts queued for a receiver that fails every other
// request, the server SIGKILLed while it delivers them, started again: every alert is
// delivered at least once and none more than twice.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/random.h"
#include "platform/iam/events.h"
#include "store/database.h"
#include "tests/support/http_send.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

namespace fs = std::filesystem;

// Deliveries that the receiver accepted, per alerted job.
std::map<std::string, int> accepted(const fs::path& log) {
  std::map<std::string, int> out;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    const Json l = Json::parse(line, nullptr, false);
    if (l.is_object() && l["status"] == 200)
      ++out[l["body"]["alerts"][0]["labels"]["resource"].get<std::string>()];
  }
  return out;
}

size_t lines(const fs::path& log) {
  std::ifstream in(log);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(AlertsCrash, EveryQueuedNotificationIsDeliveredAtLeastOnceAndAtMostTwiceAcrossASigkill) {
  testing::TempDir dir;
  const std::string data = (dir.path() / "data").string();
  // The receiver: fails every other request (500), accepts the rest.
  SubprocessOptions ro;
  ro.argv = {"/usr/bin/python3",
             testing::source_dir() + "/tests/support/alert_receiver.py",
             "--port-file",
             (dir.path() / "port").string(),
             "--log",
             (dir.path() / "log").string(),
             "--fail-every",
             "2"};
  auto receiver = Child::spawn(ro);
  ASSERT_TRUE(receiver.ok());
  for (int i = 0; i < 200 && !fs::exists(dir.path() / "port"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  int port = 0;
  std::ifstream(dir.path() / "port") >> port;
  ASSERT_GT(port, 0);

  const std::vector<std::string> flags = {"--set", "alerts.allow_private_networks=true",
                                          "--set", "alerts.tick_ms=50",
                                          "--set", "alerts.backoff_ms=20",
                                          "--set", "jobs.enabled=false",
                                          "--set", "monitoring.agent=false"};
  auto server = testing::ServerProcess::start(data, flags);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  {
    httplib::Client c("127.0.0.1", (*server)->port());
    c.set_bearer_token_auth((*server)->token());
    ASSERT_EQ(testing::send(c, "POST", "/api/v1/workspaces", R"({"name":"lab"})")->status, 201);
    ASSERT_EQ(
        testing::send(c, "POST", "/api/v1/workspaces/lab/projects", R"({"name":"vision"})")->status,
        201);
    const Json rx = {
        {"name", "team"},
        {"channel", "webhook"},
        {"config", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/flaky/webhook"}}},
        {"rate_per_minute", 6000}};
    auto made = testing::send(c, "POST", "/api/v1/projects/vision/receivers", rx.dump());
    ASSERT_EQ(made->status, 201) << made->body;
  }
  // 500 failed jobs' events, written to the server's database as the runner would.
  {
    store::DatabaseOptions o;
    o.url = *store::parse_database_url("sqlite:" + data + "/jizhan.db");
    auto db = store::Database::open(o);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    IdGenerator ids(Clock::system(), SecureRandom::instance());
    iam::EventLog events(**db, Clock::system(), ids);
    for (int i = 0; i < 500; ++i) {
      iam::Event e;
      e.project = "vision";
      e.resource_type = "job";
      e.resource_name = "job-" + std::to_string(i);
      e.type = "state";
      e.reason = "Failed";
      e.message = "running -> failed (exit code 1)";
      e.actor = "system";
      ASSERT_TRUE(events.append(e).ok());
    }
  }
  // Killed while it delivers: some sent, most not.
  const fs::path log = dir.path() / "log";
  for (int i = 0; i < 400 && accepted(log).size() < 60; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  (*server)->signal(SIGKILL);
  (*server)->wait();
  const size_t before = accepted(log).size();
  EXPECT_GE(before, 60u);
  EXPECT_LT(before, 500u) << "all were sent before the kill: the test proves nothing";

  auto again = testing::ServerProcess::start(data, flags);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  for (int i = 0; i < 2400 && accepted(log).size() < 500; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto got = accepted(log);
  EXPECT_EQ(got.size(), 500u);
  int twice = 0;
  for (const auto& [job, n] : got) {
    EXPECT_LE(n, 2) << job;
    twice += n == 2;
  }
  EXPECT_LE(twice, 1) << "one notification is in flight at the kill, at most";
  // The failures were retried: the receiver saw about as many refusals as deliveries.
  EXPECT_GE(lines(log), 2 * got.size() - 2);
  (*again)->signal(SIGTERM);
  (*again)->wait();
}

}  // namespace
}  // namespace jz
