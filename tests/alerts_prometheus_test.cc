// Jizhan with a site's own Prometheus and Alertmanager (Debian's): a rule Jizhan exports
// fires in Prometheus, goes through Alertmanager to Jizhan's webhook receiver, and reaches
// the project's email receiver through a real SMTP server with STARTTLS and AUTH.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "core/hash.h"
#include "core/id.h"
#include "core/json.h"
#include "core/random.h"
#include "platform/iam/events.h"
#include "store/database.h"
#include "tests/support/http_send.h"
#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

namespace fs = std::filesystem;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    a.sin_port = 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

std::optional<Child> spawn(std::vector<std::string> argv, const fs::path& log) {
  SubprocessOptions o;
  o.argv = std::move(argv);
  o.output_file = log.string();
  auto c = Child::spawn(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  if (!c.ok()) return std::nullopt;
  return std::move(*c);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(AlertsPrometheus, AnExportedRuleFiresInPrometheusThroughAlertmanagerToTheProjectsEmail) {
  for (const char* bin :
       {"/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager", "/usr/bin/promtool"}) {
    if (!fs::exists(bin)) GTEST_SKIP() << bin << " is missing (scripts/install-deps)";
  }
  testing::TempDir dir;
  const fs::path& d = dir.path();
  // The SMTP server: STARTTLS and AUTH, with a certificate for 127.0.0.1 Jizhan trusts.
  auto made = run_subprocess(
      {.argv = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout",
                (d / "key.pem").string(), "-out", (d / "cert.pem").string()},
       .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(made.ok() && made->success());
  auto smtp = spawn({"/usr/bin/python3", testing::source_dir() + "/tests/support/smtp_server.py",
                     "--port-file", (d / "smtp-port").string(), "--log", (d / "mail").string(),
                     "--cert", (d / "cert.pem").string(), "--key", (d / "key.pem").string(),
                     "--user", "alerts", "--password", "mail-secret"},
                    d / "smtp.log");
  for (int i = 0; i < 400 && !fs::exists(d / "smtp-port"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  int smtp_port = 0;
  std::ifstream(d / "smtp-port") >> smtp_port;
  ASSERT_GT(smtp_port, 0) << read_file(d / "smtp.log");

  const std::string data = (d / "data").string();
  auto server = testing::ServerProcess::start(
      data, {"--set", "alerts.allow_private_networks=true", "--set", "alerts.tick_ms=100", "--set",
             "alerts.ca_file=" + (d / "cert.pem").string(), "--set", "jobs.enabled=false", "--set",
             "monitoring.agent=false"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const int port = (*server)->port();
  const std::string token = (*server)->token();
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(token);
  auto call = [&](const std::string& method, const std::string& path, const Json& body) {
    auto r = testing::send(c, method, path, body.is_null() ? "" : body.dump());
    EXPECT_TRUE(r && r->status < 300) << method << " " << path << ": " << (r ? r->body : "");
    return r ? Json::parse(r->body, nullptr, false) : Json();
  };
  call("POST", "/api/v1/workspaces", {{"name", "lab"}});
  call("POST", "/api/v1/workspaces/lab/projects", {{"name", "vision"}});
  // The project's email receiver takes this rule only (not Jizhan's own job_failed).
  call("POST", "/api/v1/projects/vision/receivers",
       {{"name", "mail"},
        {"channel", "email"},
        {"config",
         {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(smtp_port)},
          {"from", "jizhan@example.com"},
          {"to", {"vision-team@example.com"}},
          {"username", "alerts"}}},
        {"secret", "mail-secret"},
        {"rules", {"failed_jobs_seen"}}});
  call("POST", "/api/v1/alerting/custom-rules",
       {{"name", "failed_jobs_seen"},
        {"expr", "jizhan_alert_events_total{reason=\"Failed\"} > 0"},
        {"severity", "critical"},
        {"annotations", {{"summary", "project {{ $labels.project }} has failed jobs"}}}});
  auto rules = testing::send(c, "GET", "/api/v1/alerting/prometheus-rules", "");
  ASSERT_TRUE(rules && rules->status == 200);
  std::ofstream(d / "rules.yml") << rules->body;
  auto checked =
      run_subprocess({.argv = {"/usr/bin/promtool", "check", "rules", (d / "rules.yml").string()},
                      .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(checked.ok() && checked->success()) << checked->out << checked->err << rules->body;

  // A failed job's event, as the runner writes it.
  {
    store::DatabaseOptions o;
    o.url = *store::parse_database_url("sqlite:" + data + "/jizhan.db");
    auto db = store::Database::open(o);
    ASSERT_TRUE(db.ok());
    IdGenerator ids(Clock::system(), SecureRandom::instance());
    iam::EventLog events(**db, Clock::system(), ids);
    iam::Event e;
    e.project = "vision";
    e.resource_type = "job";
    e.resource_name = "job-1";
    e.type = "state";
    e.reason = "Failed";
    e.message = "running -> failed (exit code 1)";
    e.actor = "system";
    ASSERT_TRUE(events.append(e).ok());
  }

  // Alertmanager: everything to Jizhan's webhook receiver, with the token.
  const int am_port = free_port(), prom_port = free_port();
  std::ofstream(d / "alertmanager.yml")
      << "route:\n  receiver: jizhan\n  group_wait: 1s\n  group_interval: 1s\n"
         "  repeat_interval: 1h\nreceivers:\n  - name: jizhan\n    webhook_configs:\n"
         "      - url: http://127.0.0.1:"
      << port << "/api/v1/alerting/alertmanager\n        send_resolved: true\n"
      << "        http_config:\n          authorization:\n            credentials: " << token
      << "\n";
  auto am = spawn(
      {"/usr/bin/prometheus-alertmanager", "--config.file=" + (d / "alertmanager.yml").string(),
       "--storage.path=" + (d / "am").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address="},
      d / "alertmanager.log");
  // Prometheus: scrapes Jizhan's /metrics (with the token), evaluates the exported rules.
  std::ofstream(d / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - "
      << (d / "rules.yml").string()
      << "\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:"
      << am_port << "']\nscrape_configs:\n  - job_name: jizhan\n    authorization:\n"
      << "      credentials: " << token
      << "\n    static_configs:\n      - targets: ['127.0.0.1:" << port << "']\n";
  auto prom = spawn({"/usr/bin/prometheus", "--config.file=" + (d / "prometheus.yml").string(),
                     "--storage.tsdb.path=" + (d / "prom").string(),
                     "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                    d / "prometheus.log");
  ASSERT_TRUE(am && prom);

  std::string mail;
  for (int i = 0; i < 1200 && mail.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    mail = read_file(d / "mail");
  }
  auto peek = [](int p, const std::string& path) {
    httplib::Client h("127.0.0.1", p);
    auto r = h.Get(path);
    return r ? r->body.substr(0, 3000) : std::string("(no answer)");
  };
  ASSERT_FALSE(mail.empty()) << "no mail in 60 s\n--- targets\n"
                             << peek(prom_port, "/api/v1/targets") << "\n--- prometheus alerts\n"
                             << peek(prom_port, "/api/v1/alerts") << "\n--- alertmanager alerts\n"
                             << peek(am_port, "/api/v2/alerts") << "\n--- history\n"
                             << call("GET", "/api/v1/projects/vision/notifications", Json()).dump()
                             << "\n--- prometheus\n"
                             << read_file(d / "prometheus.log").substr(0, 4000)
                             << "\n--- alertmanager\n"
                             << read_file(d / "alertmanager.log").substr(0, 4000)
                             << "\n--- jizhan\n"
                             << (*server)->log().substr(0, 4000);
  const Json m = Json::parse(mail.substr(0, mail.find('\n')));
  EXPECT_EQ(m["to"], Json({"vision-team@example.com"}));
  EXPECT_EQ(m["user"], "alerts");
  auto decoded = testing::mail_body(m["data"]);
  ASSERT_TRUE(decoded.ok());
  EXPECT_NE(decoded->find("[FIRING] [critical] project vision has failed jobs"), std::string::npos)
      << *decoded;
  // The project's delivery history shows it (the worker records the answer after the mail
  // server has the message, so wait for that); the project's alerts list it as firing.
  Json history;
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    history = call("GET", "/api/v1/projects/vision/notifications", Json());
    for (const auto& n : history["items"]) {
      seen = seen || (n["rule"] == "failed_jobs_seen" && n["state"] == "delivered");
    }
  }
  EXPECT_TRUE(seen) << history.dump();
  const Json active = call("GET", "/api/v1/projects/vision/alerts", Json());
  ASSERT_TRUE(active.is_array() && !active.empty()) << active.dump();
  EXPECT_EQ(active[0]["rule"], "failed_jobs_seen");
  EXPECT_EQ(active[0]["state"], "firing");
  prom->signal(SIGTERM);
  am->signal(SIGTERM);
  (*server)->signal(SIGTERM);
  (*server)->wait();
}

}  // namespace
}  // namespace jz
