#include "cli/server_command.h"

#include <signal.h>
#include <unistd.h>

#include <future>
#include <iostream>
#include <thread>

#include "api/server.h"
#include "cli/server_config.h"
#include "core/version.h"

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

  bool created = false;
  auto token = admin_token(*settings, created);
  if (!token.ok()) return fail(token.status(), 1);
  settings->http.admin_token = *token;

  api::ApiServer server(settings->http, **db, logger);
  Status bound = server.bind();
  if (!bound.ok()) return fail(bound, 1);

  const std::string url = display_url(settings->http.host, server.port());
  logger->info("jizhan {} ({}) listening on {} (store: {}, data dir: {})", version(),
               git_revision(), url, settings->db.url.redacted, settings->data_dir);
  if (created) {
    logger->info(
        "created the admin token in {}/admin-token (mode 0600); send it as "
        "'Authorization: Bearer TOKEN'",
        settings->data_dir);
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

}  // namespace jz::cli
