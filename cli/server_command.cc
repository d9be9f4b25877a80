#include "cli/server_command.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "api/server.h"
#include "cli/server_config.h"
#include "core/version.h"
#include "platform/iam/audit.h"
#include "platform/iam/bootstrap.h"

namespace jz::cli {
namespace {

int fail(const Status& s, int code) {
  std::cerr << "jizhan server: error: " << s.message() << std::endl;
  return code;
}

std::string display_url(const std::string& host, int port) {
  std::string h = host == "0.0.0.0" ? "127.0.0.1" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port);
}

}  // namespace

int run_server(const ConfigSources& sources) {
  // Block the shutdown signals before any thread starts, so only sigtimedwait below
  // sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = load_config(server_schema(), sources);
  if (!config.ok()) return fail(config.status(), 2);
  auto settings = server_settings(*config);
  if (!settings.ok()) return fail(settings.status(), 2);

  Status dir = prepare_data_dir(settings->data_dir);
  if (!dir.ok()) return fail(dir, 1);

  auto logger = make_logger(settings->log);

  auto db = store::Database::open(settings->db);
  if (!db.ok()) return fail(db.status(), 1);

  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::Accounts accounts(**db, Clock::system(), ids);
  std::optional<std::string> admin_password;
  if (const char* p = std::getenv("JIZHAN_ADMIN_PASSWORD"); p && *p) admin_password = p;
  auto boot = iam::bootstrap_admin(accounts, Clock::system(), settings->data_dir, admin_password,
                                   settings->auth.hash_cost, settings->bootstrap_token_ttl);
  if (!boot.ok()) return fail(boot.status(), 1);
  iam::Authenticator auth(accounts, Clock::system(), settings->auth);
  std::optional<iam::AuditLog> audit;
  if (settings->audit_enabled) audit.emplace(**db, Clock::system(), ids);

  api::ApiServer server(settings->http, **db, auth, audit ? &*audit : nullptr, logger);
  Status bound = server.bind();
  if (!bound.ok()) return fail(bound, 1);

  const std::string url = display_url(settings->http.host, server.port());
  logger->info("jizhan {} ({}) listening on {} (store: {}, data dir: {})", version(),
               git_revision(), url, settings->db.url.redacted, settings->data_dir);
  if (boot->created) {
    logger->info(
        "first start: created user 'admin' (platform-admin) and an API token for it in "
        "{}/admin-token (mode 0600)",
        settings->data_dir);
    if (boot->password_generated) {
      // Printed once, on stdout rather than in the log; the file keeps it for later.
      std::string password;
      std::ifstream(settings->data_dir + "/initial-admin-password") >> password;
      std::cout << "\n  Initial password of user 'admin': " << password << "\n  (also in "
                << settings->data_dir
                << "/initial-admin-password, mode 0600; change it after logging in)\n\n"
                << std::flush;
    }
  }

  std::promise<Status> done;
  auto finished = done.get_future();
  std::thread serving([&] { done.set_value(server.run()); });

  int exit_code = 0;
  for (;;) {
    timespec tick{0, 200'000'000L};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      logger->info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server.stop();
      if (finished.wait_for(settings->shutdown_timeout) != std::future_status::ready) {
        logger->error("requests still in flight after {} s (server.shutdown_timeout_s); exiting",
                      settings->shutdown_timeout.count());
        logger->flush();
        _exit(1);
      }
      break;
    }
    if (finished.wait_for(std::chrono::seconds(0)) == std::future_status::ready) break;
  }
  serving.join();
  Status result = finished.get();
  if (!result.ok()) {
    logger->error("{}", result.message());
    exit_code = 1;
  } else {
    logger->info("stopped cleanly");
  }
  logger->flush();
  return exit_code;
}

int run_audit_verify(const ConfigSources& sources) {
  auto config = load_config(server_schema(), sources);
  if (!config.ok()) return fail(config.status(), 2);
  auto settings = server_settings(*config);
  if (!settings.ok()) return fail(settings.status(), 2);
  if (settings->db.url.dialect == store::Dialect::kSqlite &&
      !std::filesystem::exists(settings->db.url.sqlite_path)) {
    std::cerr << "jizhan audit verify: error: no database at '" << settings->db.url.sqlite_path
              << "': give the server's --data-dir or --db" << std::endl;
    return 2;
  }
  settings->db.pool_size = 1;
  settings->db.apply_migrations = false;  // verification only reads
  auto db = store::Database::open(settings->db);
  if (!db.ok()) return fail(db.status(), 1);
  IdGenerator ids(Clock::system(), SecureRandom::instance());
  iam::AuditLog audit(**db, Clock::system(), ids);
  auto v = audit.verify();
  if (!v.ok()) {
    std::cerr << "jizhan audit verify: error: " << v.status().message() << std::endl;
    return 1;
  }
  if (v->intact) {
    std::cout << "audit chain intact: " << v->records << " records" << std::endl;
    return 0;
  }
  const iam::AuditRecord& bad = *v->first_bad;
  std::cout << "audit chain BROKEN at record seq " << bad.seq << " (id " << bad.id << ", "
            << format_rfc3339(Clock::WallTime(std::chrono::milliseconds(bad.time_ms))) << ", user '"
            << bad.user << "', verb " << bad.verb << "): " << v->reason << "; " << v->records
            << " records before it verify" << std::endl;
  return 1;
}

}  // namespace jz::cli
