// Alerts: every channel's payload and signature checked by a real receiver on loopback
// with its own code (tests/support/alert_receiver.py, Python's hmac); the outbox on
// SQLite and a real PostgreSQL: tenancy of receivers, rule settings, retries with backoff
// that never hold up other receivers, rate limits, and evaluation that repeats nothing.
#include "platform/alerts/alerts.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/hash.h"
#include "core/subprocess.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_database.h"

namespace jz::alerts {
namespace {

namespace fs = std::filesystem;

// The Python receiver: started on a free port, its log read back as JSON lines.
class PyReceiver {
 public:
  explicit PyReceiver(const std::string& secret, int max_skew = 0) {
    SubprocessOptions o;
    o.argv = {"/usr/bin/python3",
              std::string(JZ_SOURCE_DIR) + "/tests/support/alert_receiver.py",
              "--port-file",
              (dir_.path() / "port").string(),
              "--log",
              (dir_.path() / "log").string(),
              "--secret",
              secret,
              "--max-skew",
              std::to_string(max_skew)};
    auto c = Child::spawn(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    child_.emplace(std::move(*c));
    for (int i = 0; i < 200 && !fs::exists(dir_.path() / "port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::ifstream(dir_.path() / "port") >> port_;
    EXPECT_GT(port_, 0) << "the receiver did not start";
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Json> log() const { return testing::read_json_lines(dir_.path() / "log"); }

 private:
  testing::TempDir dir_;
  std::optional<Child> child_;
  int port_ = 0;
};

Message sample() {
  Message m;
  m.severity = "warning";
  m.title = "A job failed: job job_1 in project vision";
  m.text = "running -> failed (exit code 3)";
  m.link = "http://console.example/projects/vision/jobs/job_1";
  m.receiver = "team";
  m.group_key = "evt:1:job_failed";
  m.alerts = Json::array({{{"status", "firing"},
                           {"labels", {{"alertname", "job_failed"}, {"project", "vision"}}},
                           {"annotations", {{"summary", m.title}}}}});
  return m;
}

int64_t real_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Answer send_sample(const std::string& channel, const std::string& url, const std::string& secret) {
  auto out = build_request(channel, Json{{"url", url}}, secret, sample(), real_now_ms());
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  SendOptions o;
  o.allow_private = true;
  return send(channel, *out, o);
}

TEST(Channels, EachPayloadAndSignatureIsAcceptedByTheReceiversOwnCheck) {
  PyReceiver rx("s3cret", 300);
  for (const std::string ch : {"webhook", "slack", "dingtalk", "wecom", "feishu"}) {
    const Answer a = send_sample(ch, rx.url("/" + ch + (ch == "dingtalk" ? "?access_token=t" : "")),
                                 ch == "slack" || ch == "wecom" ? "" : "s3cret");
    EXPECT_TRUE(a.ok) << ch << ": " << a.code << " " << a.detail;
  }
  const auto log = rx.log();
  ASSERT_EQ(log.size(), 5u);
  std::map<std::string, Json> by;
  for (const auto& l : log) by[l["channel"]] = l;
  EXPECT_EQ(by["webhook"]["signature"], "ok");
  EXPECT_EQ(by["webhook"]["body"]["version"], "4");
  EXPECT_EQ(by["webhook"]["body"]["alerts"][0]["labels"]["alertname"], "job_failed");
  EXPECT_EQ(by["webhook"]["body"]["status"], "firing");
  EXPECT_EQ(by["dingtalk"]["signature"], "ok");
  EXPECT_EQ(by["dingtalk"]["body"]["msgtype"], "markdown");
  EXPECT_NE(by["dingtalk"]["body"]["markdown"]["text"].get<std::string>().find("job_1"),
            std::string::npos);
  EXPECT_EQ(by["feishu"]["signature"], "ok");
  EXPECT_EQ(by["feishu"]["body"]["msg_type"], "text");
  EXPECT_NE(by["slack"]["body"]["text"].get<std::string>().find("[FIRING] [warning]"),
            std::string::npos);
  EXPECT_NE(by["wecom"]["body"]["markdown"]["content"].get<std::string>().find(sample().link),
            std::string::npos);
}

TEST(Channels, AWrongSecretIsRefusedByTheReceiver) {
  PyReceiver rx("right", 300);
  EXPECT_FALSE(send_sample("webhook", rx.url("/webhook"), "wrong").ok);
  EXPECT_FALSE(send_sample("feishu", rx.url("/feishu"), "wrong").ok);  // 200 with code 19021
  auto dt = send_sample("dingtalk", rx.url("/dingtalk?access_token=t"), "wrong");
  const auto log = rx.log();
  ASSERT_EQ(log.size(), 3u);
  for (const auto& l : log) EXPECT_EQ(l["signature"], "bad") << l.dump();
  (void)dt;
}

TEST(Channels, PrivateAddressesAreRefusedUnlessAllowed) {
  PyReceiver rx("");
  auto out =
      build_request("webhook", Json{{"url", rx.url("/webhook")}}, "", sample(), real_now_ms());
  ASSERT_TRUE(out.ok());
  const Answer a = send("webhook", *out, SendOptions{});
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.detail.find("private network"), std::string::npos) << a.detail;
  // A name that resolves to loopback is refused as well (checked where it connects).
  out->url = "http://localhost:1/webhook";
  EXPECT_NE(send("webhook", *out, SendOptions{}).detail.find("private network"), std::string::npos);
  EXPECT_TRUE(rx.log().empty());
}

TEST(Channels, EmailGoesThroughARealSmtpServerWithStartTlsAndAuth) {
  testing::SmtpServer smtp;
  const Json config = {{"smtp_url", smtp.url()},
                       {"from", "jizhan@example.com"},
                       {"to", {"team@example.com", "lead@example.com"}},
                       {"username", "alerts"}};
  SendOptions o;
  o.allow_private = true;
  o.ca_file = smtp.ca();
  auto out = build_request("email", config, "mail-secret", sample(), real_now_ms());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const Answer a = send("email", *out, o);
  ASSERT_TRUE(a.ok) << a.code << " " << a.detail;
  const auto log = smtp.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["user"], "alerts");
  EXPECT_EQ(log[0]["from"], "jizhan@example.com");
  EXPECT_EQ(log[0]["to"], Json({"team@example.com", "lead@example.com"}));
  const std::string data = log[0]["data"];
  EXPECT_NE(data.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(data.find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
  // The body is base64: the link is in it once decoded.
  auto text = testing::mail_body(data);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find(sample().link), std::string::npos) << *text;
  EXPECT_NE(text->find("[FIRING] [warning] A job failed"), std::string::npos) << *text;

  // A wrong password: the server refuses; no TLS trust: nothing is sent.
  auto wrong = build_request("email", config, "not-it", sample(), real_now_ms());
  EXPECT_FALSE(send("email", *wrong, o).ok);
  SendOptions untrusted = o;
  untrusted.ca_file.clear();
  EXPECT_FALSE(send("email", *out, untrusted).ok);
  EXPECT_EQ(smtp.log().size(), 1u);
}

TEST(Channels, ConfigurationErrorsNameTheField) {
  EXPECT_NE(check_config("pager", Json::object(), false).message().find("channel"),
            std::string::npos);
  EXPECT_NE(check_config("webhook", Json::object(), false).message().find("config.url"),
            std::string::npos);
  EXPECT_NE(
      check_config("slack", Json{{"url", "file:///etc/passwd"}}, false).message().find("http"),
      std::string::npos);
  EXPECT_NE(check_config("email", Json{{"smtp_url", "smtp://h"}, {"from", "a@b"}}, false)
                .message()
                .find("config.to"),
            std::string::npos);
  EXPECT_TRUE(check_config("email",
                           Json{{"smtp_url", "smtp://h:25"}, {"from", "a@b"}, {"to", {"c@d"}}},
                           false)
                  .ok());
}

TEST(Secrets, SealedValuesOpenOnlyUnderTheirKeyAndUnaltered) {
  testing::TempDir dir;
  auto box = SecretBox::open_or_create((dir.path() / "key").string());
  ASSERT_TRUE(box.ok());
  EXPECT_EQ(fs::status(dir.path() / "key").permissions() & fs::perms::group_all, fs::perms::none);
  const std::string sealed = box->seal("hunter2");
  EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
  EXPECT_EQ(*box->open(sealed), "hunter2");
  auto again = SecretBox::open_or_create((dir.path() / "key").string());
  EXPECT_EQ(*again->open(sealed), "hunter2");
  EXPECT_FALSE(SecretBox::with_key("other").open(sealed).ok());
  std::string altered = sealed;
  altered[altered.size() - 3] = altered[altered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box->open(altered).ok());
}

class AlertServiceTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    ASSERT_TRUE(tenancy_->create_workspace("lab", "").ok());
    ASSERT_TRUE(tenancy_->create_workspace("rival", "").ok());
    project_["vision"] = tenancy_->create_project("lab", "vision", "", "")->id;
    project_["theirs"] = tenancy_->create_project("rival", "theirs", "", "")->id;
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
    service_ = make_service();
    ASSERT_TRUE(service_->evaluate_once().ok());  // the cursor starts at the newest event
  }

  std::unique_ptr<AlertService> make_service(const std::string& ca_file = "") {
    AlertOptions o;
    o.ca_file = ca_file;
    o.allow_private_networks = true;
    o.console_url = "http://console.example";
    o.backoff_base = std::chrono::seconds(5);
    o.max_attempts = 6;
    return std::make_unique<AlertService>(
        *db_, clock_, ids_, *tenancy_, SecretBox::with_key("k"), o,
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }

  void job_event(const std::string& project, const std::string& job, const std::string& reason) {
    iam::Event e;
    e.project = project;
    e.resource_type = "job";
    e.resource_name = job;
    e.type = "state";
    e.reason = reason;
    e.message = "running -> failed (exit code 3)";
    e.actor = "system";
    ASSERT_TRUE(events_->append(e).ok());
  }

  Receiver receiver(const std::string& project, const std::string& name, const std::string& url,
                    const Json& extra = Json::object()) {
    Json body = {{"name", name}, {"channel", "webhook"}, {"config", {{"url", url}}}};
    body.update(extra);
    auto r = project.empty()
                 ? service_->create_receiver("platform", "", body, "admin")
                 : service_->create_receiver("project", project_[project], body, "admin");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : Receiver{};
  }

  std::vector<Notification> history(const std::string& project) {
    auto page = project.empty() ? service_->notifications("platform", "", {"", 1000})
                                : service_->notifications("project", project_[project], {"", 1000});
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<Notification>{};
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

TEST_P(AlertServiceTest, AProjectsAlertReachesOnlyReceiversWhoseScopeHoldsIt) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/vision"));
  receiver("theirs", "team", rx.url("/webhook/theirs"));
  receiver("", "ops", rx.url("/webhook/ops"), {{"rules", {"gpu_unhealthy", "job_lost"}}});
  receiver("", "all", rx.url("/webhook/all"), {{"min_severity", "critical"}});
  // Routed by label matchers: the lost jobs of the project only.
  receiver("vision", "lost", rx.url("/webhook/lost"), {{"matchers", "reason=~\"Lost|Preempted\""}});
  job_event("vision", "job_a", "Failed");
  job_event("vision", "job_b", "Lost");
  job_event("vision", "job_c", "Running");  // no rule
  run();
  std::map<std::string, int> got;
  for (const auto& l : rx.log()) ++got[l["path"]];
  EXPECT_EQ(got["/webhook/vision"], 2);
  EXPECT_EQ(got["/webhook/theirs"], 0);
  EXPECT_EQ(got["/webhook/ops"], 1);  // job_lost only
  EXPECT_EQ(got["/webhook/all"], 1);  // critical only: the lost job
  EXPECT_EQ(got["/webhook/lost"], 1);
  auto lost = service_->receiver("project", project_["vision"], "lost");
  EXPECT_EQ(lost->to_json()["matchers"],
            Json::array({{{"label", "reason"}, {"op", "=~"}, {"value", "Lost|Preempted"}}}));
  // [] clears them.
  auto cleared = service_->update_receiver("project", project_["vision"], "lost",
                                           {{"matchers", Json::array()}});
  ASSERT_TRUE(cleared.ok());
  EXPECT_TRUE(cleared->matchers.empty());
  EXPECT_EQ(history("vision").size(), 3u);  // team's two, lost's one
  EXPECT_TRUE(history("theirs").empty());
  for (const auto& n : history("vision")) EXPECT_EQ(n.state, "delivered") << n.last_answer;
  const auto log = rx.log();
  for (const auto& l : log) {
    if (l["path"] != "/webhook/vision") continue;
    EXPECT_EQ(l["body"]["alerts"][0]["labels"]["project"], "vision");
    EXPECT_EQ(l["body"]["commonLabels"]["resource_type"], "job");
  }
}

TEST_P(AlertServiceTest, RuleSettingsOfAProjectOverrideThePlatformsAndTheDefaults) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/v"));
  receiver("theirs", "team", rx.url("/webhook/t"));
  ASSERT_TRUE(
      service_->set_rule("platform", "", "job_succeeded", {{"enabled", false}}, "admin").ok());
  auto set = service_->set_rule("project", project_["vision"], "job_succeeded",
                                {{"enabled", true}, {"severity", "warning"}}, "alice");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->set_by, "project");
  job_event("vision", "job_a", "Succeeded");
  job_event("theirs", "job_b", "Succeeded");
  run();
  ASSERT_EQ(history("vision").size(), 1u);
  EXPECT_EQ(history("vision")[0].severity, "warning");
  EXPECT_TRUE(history("theirs").empty());  // the platform turned it off
  auto rules = service_->rules("project", project_["theirs"]);
  ASSERT_TRUE(rules.ok());
  for (const auto& r : *rules) {
    if (r.rule == "job_succeeded") {
      EXPECT_EQ(r.set_by, "platform");
    }
  }
  EXPECT_EQ(service_->set_rule("project", project_["vision"], "nope", {{"enabled", true}}, "a")
                .status()
                .code(),
            Code::kNotFound);
  EXPECT_EQ(
      service_->set_rule("project", project_["vision"], "job_failed", {{"severity", "loud"}}, "a")
          .status()
          .code(),
      Code::kInvalidArgument);
}

TEST_P(AlertServiceTest, AFailingReceiverRetriesWithBackoffAndHoldsUpNoOther) {
  PyReceiver rx("");
  receiver("vision", "flaky", rx.url("/flaky/webhook"));
  receiver("vision", "good", rx.url("/webhook/good"));
  for (int i = 0; i < 3; ++i) job_event("vision", "job_" + std::to_string(i), "Failed");
  run();
  int good = 0;
  for (const auto& l : rx.log()) good += l["path"] == "/webhook/good" && l["status"] == 200;
  EXPECT_EQ(good, 3);  // all at once, whatever the other receiver does
  // The flaky one failed its first attempt and waits 2.5-5 s; nothing is sent before.
  service_->deliver_once();
  int flaky_tries = 0;
  for (const auto& l : rx.log()) flaky_tries += l["path"] == "/flaky/webhook";
  EXPECT_EQ(flaky_tries, 1);
  for (int i = 0; i < 20; ++i) {
    clock_.advance(std::chrono::seconds(60));
    service_->deliver_once();
  }
  std::map<std::string, int> delivered;  // per alert
  for (const auto& l : rx.log()) {
    if (l["path"] == "/flaky/webhook" && l["status"] == 200) {
      ++delivered[l["body"]["alerts"][0]["labels"]["resource"]];
    }
  }
  EXPECT_EQ(delivered.size(), 3u);
  for (const auto& [job, n] : delivered) EXPECT_EQ(n, 1) << job;
  for (const auto& n : history("vision")) {
    EXPECT_EQ(n.state, "delivered");
    if (n.receiver_name == "flaky") {
      EXPECT_EQ(n.attempts, 2);
    }
  }
}

TEST_P(AlertServiceTest, AReceiverThatNeverAnswersGivesUpAfterMaxAttempts) {
  receiver("vision", "dead", "http://127.0.0.1:1/webhook");
  job_event("vision", "job_a", "Failed");
  run();
  int64_t last_next = 0;
  for (int i = 0; i < 10; ++i) {
    clock_.advance(std::chrono::minutes(30));
    service_->deliver_once();
    const auto h = history("vision");
    ASSERT_EQ(h.size(), 1u);
    if (h[0].state == "pending") {
      EXPECT_GT(h[0].next_attempt_ms, last_next);
      last_next = h[0].next_attempt_ms;
    }
  }
  const auto h = history("vision");
  EXPECT_EQ(h[0].state, "failed");
  EXPECT_EQ(h[0].attempts, 6);
  EXPECT_NE(h[0].last_answer.find("onnect"), std::string::npos) << h[0].last_answer;
}

TEST_P(AlertServiceTest, EvaluationRepeatsNothingAcrossRestartsAndSkipsHistoryAtFirstStart) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/v"));
  job_event("vision", "job_a", "Failed");
  ASSERT_TRUE(service_->evaluate_once().ok());
  // Another server (a restart) starts from the stored cursor: nothing twice.
  auto other = make_service();
  ASSERT_TRUE(other->evaluate_once().ok());
  job_event("vision", "job_b", "Failed");
  ASSERT_TRUE(other->evaluate_once().ok());
  ASSERT_TRUE(service_->evaluate_once().ok());
  EXPECT_EQ(history("vision").size(), 2u);
  // The cursor moved back by hand (a crash between insert and cursor cannot happen, they
  // share a transaction; this is the worst case): the keys refuse doubles.
  ASSERT_TRUE(db_->transact([](store::Conn& c) {
                   return c.exec("UPDATE alert_cursors SET seq = 0").status();
                 })
                  .ok());
  ASSERT_TRUE(service_->evaluate_once().ok());
  EXPECT_EQ(history("vision").size(), 2u);
}

TEST_P(AlertServiceTest, AReceiverSendsAtMostItsRatePerMinute) {
  PyReceiver rx("");
  receiver("vision", "robot", rx.url("/webhook/r"), {{"rate_per_minute", 3}});
  for (int i = 0; i < 5; ++i) job_event("vision", "job_" + std::to_string(i), "Failed");
  run();
  EXPECT_EQ(rx.log().size(), 3u);
  service_->deliver_once();
  EXPECT_EQ(rx.log().size(), 3u);
  clock_.advance(std::chrono::seconds(61));
  service_->deliver_once();
  EXPECT_EQ(rx.log().size(), 5u);
}

TEST_P(AlertServiceTest, ReceiversKeepTheirSecretAndRefuseBadInput) {
  const std::string p = project_["vision"];
  auto r = service_->create_receiver("project", p,
                                     {{"name", "ding"},
                                      {"channel", "dingtalk"},
                                      {"config", {{"url", "https://oapi.example/robot"}}},
                                      {"secret", "SECabc"}},
                                     "alice");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->rate_per_minute, 20);  // DingTalk's limit
  const std::string shown = r->to_json().dump();
  EXPECT_EQ(shown.find("SECabc"), std::string::npos);
  EXPECT_EQ(shown.find(r->secret_sealed), std::string::npos);
  EXPECT_TRUE(r->to_json()["has_secret"].get<bool>());
  auto u = service_->update_receiver("project", p, "ding", {{"min_severity", "critical"}});
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->to_json()["has_secret"].get<bool>());
  EXPECT_EQ(
      service_
          ->create_receiver(
              "project", p,
              {{"name", "ding"}, {"channel", "slack"}, {"config", {{"url", "https://h"}}}}, "a")
          .status()
          .code(),
      Code::kAlreadyExists);
  for (const Json& bad :
       {Json{{"name", "Bad Name"}, {"channel", "slack"}, {"config", {{"url", "https://h"}}}},
        Json{{"name", "x"}, {"channel", "pager"}, {"config", Json::object()}},
        Json{{"name", "x"}, {"channel", "slack"}, {"config", {{"url", "ftp://h"}}}},
        Json{{"name", "x"},
             {"channel", "slack"},
             {"config", {{"url", "https://h"}}},
             {"rules", {"no pe"}}},
        Json{{"name", "x"},
             {"channel", "slack"},
             {"config", {{"url", "https://h"}}},
             {"colour", 1}}}) {
    EXPECT_EQ(service_->create_receiver("project", p, bad, "a").status().code(),
              Code::kInvalidArgument)
        << bad.dump();
  }
  // Another project does not see it.
  EXPECT_EQ(service_->receiver("project", project_["theirs"], "ding").status().code(),
            Code::kNotFound);
  EXPECT_TRUE(service_->delete_receiver("project", p, "ding").ok());
  EXPECT_EQ(service_->receiver("project", p, "ding").status().code(), Code::kNotFound);
}

TEST_P(AlertServiceTest, ACustomRuleFiresAfterItsForSeesOnlyItsScopeAndResolves) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/v"));
  receiver("theirs", "team", rx.url("/webhook/t"));
  const int64_t t0 = clock_.now_unix_ms();
  // GPU memory of a job in each project, nearly full, over the next 20 minutes.
  promql::MemorySource full;
  for (const char* p : {"vision", "theirs"}) {
    std::vector<promql::Point> used, limit;
    for (int i = 0; i <= 40; ++i) {
      used.push_back({t0 + int64_t{30000} * i, 95});
      limit.push_back({t0 + int64_t{30000} * i, 100});
    }
    full.add("jizhan_job_gpu_memory_used_mib", {{"job", std::string("job-") + p}, {"project", p}},
             used);
    full.add("jizhan_job_gpu_memory_limit_mib", {{"job", std::string("job-") + p}, {"project", p}},
             limit);
  }
  service_->attach_metrics(&full);
  // The built-in rule over the same series is another test's.
  ASSERT_TRUE(
      service_->set_rule("platform", "", "gpu_share_memory_high", {{"enabled", false}}, "a").ok());
  auto rule = service_->create_custom_rule(
      "project", project_["vision"],
      {{"name", "gpu-memory-high"},
       {"expr", "jizhan_job_gpu_memory_used_mib / jizhan_job_gpu_memory_limit_mib * 100 > 90"},
       {"for", "5m"},
       {"severity", "critical"},
       {"labels", {{"team", "cv"}}},
       {"annotations",
        {{"summary", "job {{ $labels.job }} uses {{ $value }}% of its GPU memory"}}}},
      "alice");
  ASSERT_TRUE(rule.ok()) << rule.status().to_string();
  // What would fire now, in this project only.
  auto now = service_->preview("project", project_["vision"], rule->expr);
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ((*now)[0].labels.at("job"), "job-vision");
  ASSERT_TRUE(service_->evaluate_rules().ok());
  auto active = service_->active("project", project_["vision"]);
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].state, "pending");
  service_->deliver_once();
  EXPECT_TRUE(rx.log().empty());  // not for 5 minutes yet
  clock_.advance(std::chrono::minutes(5));
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  auto log = rx.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["path"], "/webhook/v");
  const Json& a = log[0]["body"]["alerts"][0];
  EXPECT_EQ(a["labels"]["alertname"], "gpu-memory-high");
  EXPECT_EQ(a["labels"]["project"], "vision");
  EXPECT_EQ(a["labels"]["team"], "cv");
  EXPECT_EQ(a["labels"]["severity"], "critical");
  EXPECT_EQ(a["annotations"]["summary"], "job job-vision uses 95% of its GPU memory");
  EXPECT_EQ(log[0]["body"]["status"], "firing");
  // Still firing: nothing new. Then the series go quiet: resolved, once.
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  EXPECT_EQ(rx.log().size(), 1u);
  promql::MemorySource empty;
  service_->attach_metrics(&empty);
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  log = rx.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["body"]["status"], "resolved");
  EXPECT_TRUE(service_->active("project", project_["vision"])->empty());
  // Bad rules are refused with the reason.
  for (const Json& bad :
       {Json{{"name", "x"}, {"expr", "1 + 1"}}, Json{{"name", "x"}, {"expr", "rate(m)"}},
        Json{{"name", "x"}, {"expr", "m"}, {"labels", {{"project", "theirs"}}}},
        Json{{"name", "x"}, {"expr", "m"}, {"for", "soon"}},
        Json{{"name", "job_failed"}, {"expr", "m"}}}) {
    EXPECT_EQ(service_->create_custom_rule("project", project_["vision"], bad, "a").status().code(),
              Code::kInvalidArgument)
        << bad.dump();
  }
}

TEST_P(AlertServiceTest, ExportedRulesPassPromtoolWithTheScopeInEveryExpression) {
  if (!fs::exists("/usr/bin/promtool")) GTEST_SKIP() << "no promtool";
  ASSERT_TRUE(service_
                  ->create_custom_rule("project", project_["vision"],
                                       {{"name", "slow-steps"},
                                        {"expr", "avg_over_time(jizhan_job_gpu_util[10m]) < 5"},
                                        {"for", "15m"},
                                        {"annotations", {{"summary", "{{ $labels.job }} idles"}}}},
                                       "alice")
                  .ok());
  ASSERT_TRUE(
      service_->set_rule("project", project_["vision"], "job_succeeded", {{"enabled", false}}, "a")
          .ok());
  auto text = service_->export_rules("project", project_["vision"]);
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  // (JSON-quoted in the YAML)
  EXPECT_NE(text->find(R"(avg_over_time(jizhan_job_gpu_util{project=\"vision\"}[10m]) < 5)"),
            std::string::npos)
      << *text;
  EXPECT_NE(
      text->find(
          R"(rate(jizhan_alert_events_total{project=\"vision\", reason=~\"OOMKilled\"}[5m]) > 0)"),
      std::string::npos)
      << *text;
  EXPECT_EQ(text->find("job_succeeded"), std::string::npos);  // off here
  testing::TempDir dir;
  const std::string path = (dir.path() / "rules.yml").string();
  std::ofstream(path) << *text;
  auto r = run_subprocess(
      {.argv = {"/usr/bin/promtool", "check", "rules", path}, .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->success()) << r->out << r->err << *text;
  auto platform = service_->export_rules("platform", "");
  std::ofstream(path) << *platform;
  r = run_subprocess(
      {.argv = {"/usr/bin/promtool", "check", "rules", path}, .timeout = std::chrono::seconds(60)});
  EXPECT_TRUE(r->success()) << r->out << r->err << *platform;
}

TEST_P(AlertServiceTest, ASilenceHoldsBackMatchingAlertsOfItsScopeUntilItEnds) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/v"));
  receiver("theirs", "team", rx.url("/webhook/t"));
  auto si =
      service_->create_silence("project", project_["vision"],
                               {{"matchers", "alertname=\"job_failed\", resource=~\"job_a.*\""},
                                {"duration", "1h"},
                                {"comment", "known bad dataset"}},
                               "alice");
  ASSERT_TRUE(si.ok()) << si.status().to_string();
  job_event("vision", "job_a1", "Failed");  // silenced
  job_event("vision", "job_b1", "Failed");  // another job: sent
  job_event("vision", "job_a2", "Lost");    // another rule: sent
  job_event("theirs", "job_a3", "Failed");  // another project: sent
  run();
  std::map<std::string, int> got;
  for (const auto& l : rx.log())
    ++got[l["body"]["alerts"][0]["labels"]["resource"].get<std::string>()];
  EXPECT_EQ(got.count("job_a1"), 0u);
  EXPECT_EQ(got["job_b1"], 1);
  EXPECT_EQ(got["job_a2"], 1);
  EXPECT_EQ(got["job_a3"], 1);
  int silenced = 0;
  for (const auto& n : history("vision")) silenced += n.state == "silenced";
  EXPECT_EQ(silenced, 1);
  // Ended (by hand, or by time): the next one is sent.
  ASSERT_TRUE(service_->expire_silence("project", project_["vision"], si->id).ok());
  EXPECT_EQ(service_->expire_silence("project", project_["vision"], si->id).code(),
            Code::kNotFound);
  EXPECT_EQ(service_->expire_silence("project", project_["theirs"], si->id).code(),
            Code::kNotFound);
  job_event("vision", "job_a4", "Failed");
  run();
  got.clear();
  for (const auto& l : rx.log())
    ++got[l["body"]["alerts"][0]["labels"]["resource"].get<std::string>()];
  EXPECT_EQ(got["job_a4"], 1);
  // One that ends by its time.
  ASSERT_TRUE(
      service_
          ->create_silence(
              "platform", "",
              {{"matchers", "alertname=\"job_lost\""}, {"duration", "10m"}, {"comment", "c"}},
              "root")
          .ok());
  job_event("vision", "job_c1", "Lost");
  run();
  clock_.advance(std::chrono::minutes(11));
  job_event("vision", "job_c2", "Lost");
  run();
  got.clear();
  for (const auto& l : rx.log())
    ++got[l["body"]["alerts"][0]["labels"]["resource"].get<std::string>()];
  EXPECT_EQ(got.count("job_c1"), 0u);
  EXPECT_EQ(got["job_c2"], 1);
  for (const Json& bad :
       {Json{{"matchers", "alertname=x"}, {"duration", "1h"}, {"comment", "c"}},
        Json{{"matchers", Json::array()}, {"duration", "1h"}, {"comment", "c"}},
        Json{{"matchers", "a=\"b\""}, {"duration", "1h"}},
        Json{{"matchers", "a=\"b\""}, {"ends_at", "2000-01-01T00:00:00Z"}, {"comment", "c"}}}) {
    EXPECT_EQ(service_->create_silence("project", project_["vision"], bad, "a").status().code(),
              Code::kInvalidArgument)
        << bad.dump();
  }
}

TEST_P(AlertServiceTest, BuiltInMetricRulesReachTheSeriesProjectWithItsSetting) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/vision"));
  receiver("theirs", "team", rx.url("/webhook/theirs"));
  receiver("", "ops", rx.url("/webhook/ops"), {{"rules", {"node_disk_full"}}});
  const int64_t t0 = clock_.now_unix_ms();
  promql::MemorySource m;
  auto flat = [&](double v) {
    std::vector<promql::Point> pts;
    for (int i = 0; i <= 40; ++i) pts.push_back({t0 + int64_t{30000} * i, v});
    return pts;
  };
  for (const char* p : {"vision", "theirs"}) {
    const promql::Labels l = {{"job", std::string("job-") + p}, {"project", p}};
    m.add("jizhan_job_gpu_memory_used_mib", l, flat(3900));
    m.add("jizhan_job_gpu_memory_limit_mib", l, flat(4096));
  }
  m.add("jizhan_node_filesystem_avail_bytes", {{"Hostname", "n1"}, {"path", "/data"}}, flat(5));
  m.add("jizhan_node_filesystem_size_bytes", {{"Hostname", "n1"}, {"path", "/data"}}, flat(100));
  service_->attach_metrics(&m);
  // Their project turned the rule off; ours made it critical.
  ASSERT_TRUE(service_
                  ->set_rule("project", project_["theirs"], "gpu_share_memory_high",
                             {{"enabled", false}}, "a")
                  .ok());
  ASSERT_TRUE(service_
                  ->set_rule("project", project_["vision"], "gpu_share_memory_high",
                             {{"severity", "critical"}}, "a")
                  .ok());
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  EXPECT_TRUE(rx.log().empty());  // pending: 1 minute for the share, 5 for the disk
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  auto log = rx.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["path"], "/webhook/vision");
  EXPECT_EQ(log[0]["body"]["alerts"][0]["labels"]["alertname"], "gpu_share_memory_high");
  EXPECT_EQ(log[0]["body"]["alerts"][0]["labels"]["severity"], "critical");
  EXPECT_EQ(service_->active("project", project_["vision"])->size(), 1u);
  EXPECT_TRUE(service_->active("project", project_["theirs"])->empty());
  clock_.advance(std::chrono::minutes(4));
  ASSERT_TRUE(service_->evaluate_rules().ok());
  service_->deliver_once();
  log = rx.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["path"], "/webhook/ops");
  EXPECT_EQ(log[1]["body"]["alerts"][0]["labels"]["alertname"], "node_disk_full");
  EXPECT_EQ(log[1]["body"]["alerts"][0]["labels"]["path"], "/data");
  // Exported with their expressions, scoped to the project.
  auto yaml = service_->export_rules("project", project_["vision"]);
  ASSERT_TRUE(yaml.ok());
  EXPECT_NE(yaml->find(R"(jizhan_job_gpu_memory_used_mib{project=\"vision\"} / )"
                       R"(jizhan_job_gpu_memory_limit_mib{project=\"vision\"} > 0.9)"),
            std::string::npos)
      << *yaml;
  // A node's disk is the platform's: not a project's rule.
  EXPECT_EQ(yaml->find("node_disk_full"), std::string::npos) << *yaml;
  const auto rules = service_->rules("project", project_["vision"]);
  ASSERT_TRUE(rules.ok());
  for (const auto& r : *rules) EXPECT_NE(r.rule, "node_disk_full");
  EXPECT_EQ(
      service_->set_rule("project", project_["vision"], "node_disk_full", {{"enabled", false}}, "a")
          .status()
          .code(),
      Code::kNotFound);
  auto platform = service_->export_rules("platform", "");
  EXPECT_NE(platform->find("node_disk_full"), std::string::npos);
}

TEST_P(AlertServiceTest, ANodeDownHoldsBackItsOtherAlertsUntilItIsBack) {
  PyReceiver rx("");
  receiver("", "ops", rx.url("/webhook/ops"));
  const int64_t t0 = clock_.now_unix_ms();
  auto source = [&](double n1_up) {
    auto m = std::make_unique<promql::MemorySource>();
    auto flat = [&](double v) {
      std::vector<promql::Point> pts;
      for (int i = 0; i <= 60; ++i) pts.push_back({t0 + int64_t{30000} * i, v});
      return pts;
    };
    m->add("jizhan_node_up", {{"Hostname", "n1"}}, flat(n1_up));
    m->add("jizhan_node_up", {{"Hostname", "n2"}}, flat(1));
    for (const char* h : {"n1", "n2"}) {
      m->add("DCGM_FI_DEV_GPU_TEMP", {{"Hostname", h}, {"gpu", "0"}}, flat(95));
    }
    return m;
  };
  auto down = source(0), up = source(1);
  service_->attach_metrics(down.get());
  ASSERT_TRUE(service_
                  ->create_custom_rule(
                      "platform", "",
                      {{"name", "hot"}, {"expr", "DCGM_FI_DEV_GPU_TEMP > 90"}, {"for", "2m"}}, "a")
                  .ok());
  auto tick = [&](std::chrono::seconds step) {
    clock_.advance(step);
    ASSERT_TRUE(service_->evaluate_rules().ok());
    run();
  };
  auto sent = [&] {
    std::vector<std::string> out;
    for (const auto& l : rx.log()) {
      const Json& a = l["body"]["alerts"][0];
      out.push_back(a["labels"]["alertname"].get<std::string>() + ":" +
                    a["labels"].value("Hostname", "") + ":" + a["status"].get<std::string>());
    }
    return out;
  };
  tick(std::chrono::seconds(0));
  tick(std::chrono::minutes(1));  // n1's agent silent for a minute: node_down
  EXPECT_EQ(sent(), std::vector<std::string>{"node_down:n1:firing"});
  tick(std::chrono::minutes(1));  // both GPUs hot for 2 minutes: n1's is held back
  EXPECT_EQ(sent(), (std::vector<std::string>{"node_down:n1:firing", "hot:n2:firing"}));
  // An event about the node is held back too.
  iam::Event e;
  e.resource_type = "node";
  e.resource_name = "n1";
  e.type = "updated";
  e.reason = "GpuUnhealthy";
  e.message = "GPU 0 of node n1 is out of service: XID 79";
  e.actor = "system";
  ASSERT_TRUE(events_->append(e).ok());
  run();
  EXPECT_EQ(sent().size(), 2u);
  int inhibited = 0;
  for (const auto& n : history("")) {
    if (n.state != "inhibited") continue;
    ++inhibited;
    EXPECT_NE(n.last_answer.find("node n1 is down"), std::string::npos) << n.last_answer;
  }
  EXPECT_EQ(inhibited, 2);  // hot on n1, gpu_unhealthy of n1
  // Back: the end of node_down is told, and the node's alerts go out again.
  service_->attach_metrics(up.get());
  tick(std::chrono::seconds(30));
  ASSERT_TRUE(events_->append(e).ok());
  run();
  const auto got = sent();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2], "node_down:n1:resolved");
  EXPECT_EQ(got[3], "gpu_unhealthy:n1:firing");
}

TEST_P(AlertServiceTest, AnInhibitionRuleHoldsBackTargetsSharingItsLabelsWhileTheSourceFires) {
  PyReceiver rx("");
  receiver("vision", "team", rx.url("/webhook/v"));
  receiver("theirs", "team", rx.url("/webhook/t"));
  auto rule =
      service_->create_inhibition("project", project_["vision"],
                                  {{"source", "alertname=\"LossDiverged\""},
                                   {"target", "severity=\"warning\""},
                                   {"equal", {"run"}},
                                   {"comment", "a diverged run's other warnings are noise"}},
                                  "pam");
  ASSERT_TRUE(rule.ok()) << rule.status().to_string();
  auto alert = [](const std::string& name, const std::string& run, const std::string& sev) {
    return Json{{"labels", {{"alertname", name}, {"run", run}, {"severity", sev}}},
                {"annotations", {{"summary", name + " in run " + run}}}};
  };
  ASSERT_TRUE(
      service_->ingest("project", project_["vision"], alert("LossDiverged", "7", "critical")).ok());
  for (const auto& run : {"7", "8"}) {
    ASSERT_TRUE(
        service_->ingest("project", project_["vision"], alert("SlowSteps", run, "warning")).ok());
  }
  // Another project's alerts are not its business.
  ASSERT_TRUE(
      service_->ingest("project", project_["theirs"], alert("LossDiverged", "7", "critical")).ok());
  ASSERT_TRUE(
      service_->ingest("project", project_["theirs"], alert("SlowSteps", "7", "warning")).ok());
  service_->deliver_once();
  std::multiset<std::string> got;
  for (const auto& l : rx.log()) {
    got.insert(l["path"].get<std::string>() + " " +
               l["body"]["alerts"][0]["annotations"]["summary"].get<std::string>());
  }
  EXPECT_EQ(got, (std::multiset<std::string>{
                     "/webhook/v LossDiverged in run 7", "/webhook/v SlowSteps in run 8",
                     "/webhook/t LossDiverged in run 7", "/webhook/t SlowSteps in run 7"}));
  bool held = false;
  for (const auto& n : history("vision")) {
    if (n.title == "SlowSteps in run 7") {
      held = n.state == "inhibited" &&
             n.last_answer == "held back by an inhibition rule: LossDiverged fires";
    }
  }
  EXPECT_TRUE(held);
  // Listed, removed; and refused when it says too little.
  auto list = service_->inhibitions("project", project_["vision"]);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).to_json()["equal"], Json::array({"run"}));
  EXPECT_TRUE(service_->inhibitions("project", project_["theirs"])->empty());
  EXPECT_EQ(service_->delete_inhibition("project", project_["theirs"], rule->id).code(),
            Code::kNotFound);
  EXPECT_TRUE(service_->delete_inhibition("project", project_["vision"], rule->id).ok());
  for (const Json& bad :
       {Json{{"source", "a=\"b\""}, {"target", "c=\"d\""}},
        Json{{"source", "a=\"b\""}, {"target", "nonsense"}, {"comment", "x"}},
        Json{{"source", "a=\"b\""}, {"target", "c=\"d\""}, {"equal", {"a b"}}, {"comment", "x"}},
        Json{{"source", "a=\"b\""}, {"target", "c=\"d\""}, {"comment", "x"}, {"when", 1}}}) {
    EXPECT_EQ(service_->create_inhibition("project", project_["vision"], bad, "a").status().code(),
              Code::kInvalidArgument)
        << bad.dump();
  }
}

TEST_P(AlertServiceTest, GroupsWaitGoOutTogetherAndRepeatWhileFiringOnAFakeClock) {
  PyReceiver rx("");
  receiver("vision", "grouped", rx.url("/webhook/g"),
           {{"group_by", {"alertname"}},
            {"group_wait", "30s"},
            {"group_interval", "5m"},
            {"repeat_interval", "1h"}});
  auto messages = [&] {
    std::vector<Json> out;
    for (const auto& l : rx.log()) out.push_back(l["body"]);
    return out;
  };
  // Three failures at once wait group_wait, then go out in one message.
  for (const char* j : {"job_a", "job_b", "job_c"}) job_event("vision", j, "Failed");
  run();
  clock_.advance(std::chrono::seconds(29));
  run();
  EXPECT_TRUE(rx.log().empty());
  clock_.advance(std::chrono::seconds(1));
  run();
  auto got = messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["alerts"].size(), 3u);
  EXPECT_EQ(got[0]["groupLabels"], Json({{"alertname", "job_failed"}}));
  EXPECT_EQ(got[0]["commonLabels"]["project"], "vision");
  EXPECT_FALSE(got[0]["commonLabels"].contains("resource"));
  EXPECT_EQ(history("vision")[0].title, "3 alerts: alertname=job_failed");
  // A fourth, a minute later, waits for group_interval after that message; events are
  // said once, so it goes alone.
  clock_.advance(std::chrono::minutes(1));
  job_event("vision", "job_d", "Failed");
  run();
  clock_.advance(std::chrono::minutes(3));
  run();
  EXPECT_EQ(messages().size(), 1u);
  clock_.advance(std::chrono::minutes(1));
  run();
  got = messages();
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[1]["alerts"].size(), 1u);
  EXPECT_EQ(got[1]["alerts"][0]["labels"]["resource"], "job_d");
  clock_.advance(std::chrono::hours(2));
  run();
  EXPECT_EQ(messages().size(), 2u);  // events never repeat

  // A rule's alert repeats while it fires, then its end goes out once.
  const int64_t t0 = clock_.now_unix_ms();
  promql::MemorySource idle;
  std::vector<promql::Point> pts;
  for (int i = 0; i <= 400; ++i) pts.push_back({t0 + int64_t{30000} * i, 1});
  idle.add("jizhan_job_gpu_util", {{"job", "job-x"}, {"project", "vision"}}, pts);
  service_->attach_metrics(&idle);
  ASSERT_TRUE(service_
                  ->create_custom_rule("project", project_["vision"],
                                       {{"name", "idle"},
                                        {"expr", "jizhan_job_gpu_util < 5"},
                                        {"for", "0s"},
                                        {"severity", "warning"}},
                                       "alice")
                  .ok());
  auto tick = [&](std::chrono::seconds step) {
    clock_.advance(step);
    ASSERT_TRUE(service_->evaluate_rules().ok());
    run();
  };
  tick(std::chrono::seconds(0));
  tick(std::chrono::seconds(30));
  got = messages();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2]["status"], "firing");
  EXPECT_EQ(got[2]["groupLabels"], Json({{"alertname", "idle"}}));
  for (int i = 0; i < 5; ++i) tick(std::chrono::minutes(10));  // 50 minutes: quiet
  EXPECT_EQ(messages().size(), 3u);
  tick(std::chrono::minutes(10));  // an hour after the last message: again
  got = messages();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3]["alerts"][0]["labels"]["job"], "job-x");
  EXPECT_EQ(got[3]["status"], "firing");
  promql::MemorySource none;
  service_->attach_metrics(&none);
  tick(std::chrono::minutes(1));  // resolved, told after group_interval
  EXPECT_EQ(messages().size(), 4u);
  tick(std::chrono::minutes(4));
  got = messages();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4]["status"], "resolved");
  EXPECT_EQ(got[4]["alerts"][0]["status"], "resolved");
  tick(std::chrono::hours(3));
  EXPECT_EQ(messages().size(), 5u);

  // A silenced alert is recorded as silenced and joins no group.
  ASSERT_TRUE(service_
                  ->create_silence("project", project_["vision"],
                                   {{"matchers", "alertname=\"job_failed\""},
                                    {"duration", "1h"},
                                    {"comment", "maintenance"}},
                                   "alice")
                  .ok());
  job_event("vision", "job_e", "Failed");
  run();
  clock_.advance(std::chrono::minutes(10));
  run();
  EXPECT_EQ(messages().size(), 5u);
  EXPECT_EQ(history("vision")[0].state, "silenced");
  // Bad grouping is refused with the reason.
  for (const Json& bad : {Json{{"group_by", "alertname"}}, Json{{"group_by", {"a b"}}},
                          Json{{"group_by", {"...", "job"}}}, Json{{"group_wait", "2h"}},
                          Json{{"repeat_interval", "10s"}}, Json{{"group_interval", "soon"}},
                          Json{{"language", "fr"}}, Json{{"matchers", "not a matcher"}},
                          Json{{"matchers", {{{"label", "a"}, {"op", "<"}, {"value", "1"}}}}}}) {
    Json body = {{"name", "bad"}, {"channel", "webhook"}, {"config", {{"url", "http://h"}}}};
    body.update(bad);
    EXPECT_EQ(service_->create_receiver("project", project_["vision"], body, "a").status().code(),
              Code::kInvalidArgument)
        << bad.dump();
  }
}

TEST_P(AlertServiceTest, AReceiverInChineseGetsChineseWordsWithTheConsoleLink) {
  PyReceiver rx("");
  receiver("vision", "zh", rx.url("/slack/zh"), {{"channel", "slack"}, {"language", "zh-CN"}});
  receiver("vision", "en", rx.url("/slack/en"), {{"channel", "slack"}});
  job_event("vision", "job_a", "OOMKilled");
  run();
  std::map<std::string, std::string> text;
  for (const auto& l : rx.log()) text[l["path"]] = l["body"]["text"].get<std::string>();
  ASSERT_EQ(text.size(), 2u);
  EXPECT_NE(text["/slack/zh"].find("[告警] [警告] 作业内存不足被终止：作业 job_a（项目 vision）"),
            std::string::npos)
      << text["/slack/zh"];
  EXPECT_NE(text["/slack/zh"].find("原因：OOMKilled"), std::string::npos) << text["/slack/zh"];
  EXPECT_NE(text["/slack/en"].find("[FIRING] [warning] A job was killed for running out of memory: "
                                   "job job_a in project vision"),
            std::string::npos)
      << text["/slack/en"];
  for (const auto& [path, t] : text) {
    EXPECT_NE(t.find("http://console.example/projects/vision/jobs/job_a"), std::string::npos)
        << path;
  }
  // A receiver's own wording, with the alert's labels and annotations.
  receiver("vision", "own", rx.url("/slack/own"),
           {{"channel", "slack"},
            {"templates",
             {{"title", "{{ $labels.project }}/{{ $labels.resource }}: {{ $status }}"},
              {"text",
               "{{ $count }} alert(s), reason {{ $labels.reason }}; runbook "
               "https://wiki.example/{{ $labels.alertname }}"}}}});
  job_event("vision", "job_b", "Lost");
  run();
  std::string own;
  for (const auto& l : rx.log()) {
    if (l["path"] == "/slack/own") own = l["body"]["text"].get<std::string>();
  }
  EXPECT_NE(own.find("[FIRING] [critical] vision/job_b: FIRING\n1 alert(s), reason Lost; runbook "
                     "https://wiki.example/job_lost"),
            std::string::npos)
      << own;
  for (const Json& bad : {Json{{"title", "{{ $nope }}"}}, Json{{"subject", "x"}}, Json("x"),
                          Json{{"text", Json(3)}}}) {
    Json body = {{"name", "bad"},
                 {"channel", "slack"},
                 {"config", {{"url", "http://h"}}},
                 {"templates", bad}};
    auto r = service_->create_receiver("project", project_["vision"], body, "a");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad.dump();
  }
  EXPECT_NE(service_
                ->create_receiver("project", project_["vision"],
                                  {{"name", "bad"},
                                   {"channel", "slack"},
                                   {"config", {{"url", "http://h"}}},
                                   {"templates", {{"title", "{{ $nope }}"}}}},
                                  "a")
                .status()
                .message()
                .find("$labels.NAME"),
            std::string::npos);
  auto zh = service_->receiver("project", project_["vision"], "zh");
  EXPECT_EQ(zh->to_json()["language"], "zh-CN");
  EXPECT_EQ(zh->to_json()["group_by"], Json::array());
}

TEST_P(AlertServiceTest, AJobsOwnerHearsOfTheirOwnJobsOnlyAndChoosesWhich) {
  PyReceiver rx("");
  // Two jobs of the project, one of Ann's, one of Bob's.
  int64_t seq = 0;
  for (const auto& job_user : std::vector<std::pair<std::string, std::string>>{
           {"job_a", "usr_ann"}, {"job_b", "usr_bob"}}) {
    // Named copies: a lambda may not capture structured bindings before C++20's DR
    // (clang 14 refuses).
    const std::string job = job_user.first, user = job_user.second;
    ++seq;
    ASSERT_TRUE(db_->transact([&](store::Conn& c) {
                     return c
                         .exec(
                             "INSERT INTO jobs (id, seq, queue_seq, project_id, project, "
                             "user_id, username, name, kind, spec, state, reason, message, "
                             "exit_code, attempt, placement, cancel_requested, created_at_ms, "
                             "started_at_ms, finished_at_ms, updated_at_ms) VALUES (?, ?, ?, "
                             "?, 'vision', ?, ?, 'j', 'train', '{}', 'running', '', '', NULL, "
                             "1, '[]', 0, 0, NULL, NULL, 0)",
                             {job, seq, seq, project_["vision"], user, user.substr(4)})
                         .status();
                   })
                    .ok());
  }
  ASSERT_TRUE(service_
                  ->create_receiver("user", "usr_ann",
                                    {{"name", "mine"},
                                     {"channel", "webhook"},
                                     {"config", {{"url", rx.url("/webhook/ann")}}}},
                                    "ann")
                  .ok());
  // The project's receivers hear of no failure; the owners still do, of their own jobs.
  ASSERT_TRUE(
      service_->set_rule("project", project_["vision"], "job_failed", {{"enabled", false}}, "a")
          .ok());
  job_event("vision", "job_a", "Failed");
  job_event("vision", "job_b", "OOMKilled");
  job_event("vision", "job_a", "Succeeded");
  job_event("vision", "job_a", "GpuUnhealthy");  // not a rule one follows
  run();
  auto ann = service_->inbox("usr_ann", {"", 100}, false);
  ASSERT_TRUE(ann.ok()) << ann.status().to_string();
  ASSERT_EQ(ann->items.size(), 2u);
  EXPECT_EQ(ann->items[0].rule, "job_succeeded");  // newest first
  EXPECT_EQ(ann->items[1].rule, "job_failed");
  EXPECT_EQ(ann->items[1].link, "/projects/vision/jobs/job_a");
  EXPECT_EQ(ann->items[1].labels["resource"], "job_a");
  EXPECT_EQ(*service_->unread("usr_ann"), 2);
  auto bob = service_->inbox("usr_bob", {"", 100}, false);
  ASSERT_EQ(bob->items.size(), 1u);
  EXPECT_EQ(bob->items[0].rule, "job_oom_killed");
  std::map<std::string, int> got;
  for (const auto& l : rx.log()) ++got[l["body"]["alerts"][0]["labels"]["alertname"]];
  EXPECT_EQ(got, (std::map<std::string, int>{{"job_failed", 1}, {"job_succeeded", 1}}));
  // Ann stops following finished jobs.
  ASSERT_TRUE(service_->subscribe("usr_ann", "job_succeeded", false).ok());
  job_event("vision", "job_a", "Succeeded");
  run();
  EXPECT_EQ(service_->inbox("usr_ann", {"", 100}, false)->items.size(), 2u);
  EXPECT_EQ(rx.log().size(), 2u);
  const auto subs = service_->subscriptions("usr_ann");
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(subs->size(), 12u);  // the job rules, the training ones among them
  for (const auto& sub : *subs) EXPECT_EQ(sub.subscribed, sub.rule != "job_succeeded") << sub.rule;
  EXPECT_EQ(service_->subscribe("usr_ann", "gpu_unhealthy", true).status().code(), Code::kNotFound);
  // Nobody marks or reads another's: Bob's id marks nothing for Ann.
  EXPECT_EQ(*service_->mark_read("usr_ann", {bob->items[0].id}, false), 0);
  EXPECT_EQ(*service_->unread("usr_bob"), 1);
  EXPECT_EQ(*service_->mark_read("usr_ann", {ann->items[1].id}, false), 1);
  EXPECT_EQ(service_->inbox("usr_ann", {"", 100}, true)->items.size(), 1u);
  EXPECT_EQ(*service_->mark_read("usr_ann", {}, true), 1);
  EXPECT_EQ(*service_->unread("usr_ann"), 0);
  EXPECT_EQ(service_->mark_read("usr_ann", {}, false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(service_->receiver("user", "usr_bob", "mine").status().code(), Code::kNotFound);
  // Ann's receiver's history is hers: two deliveries; the project has no receivers.
  EXPECT_EQ(service_->notifications("user", "usr_ann", {"", 100})->items.size(), 2u);
  EXPECT_TRUE(service_->notifications("user", "usr_bob", {"", 100})->items.empty());
  EXPECT_TRUE(history("vision").empty());
}

INSTANTIATE_TEST_SUITE_P(Dialects, AlertServiceTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::alerts
