#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

namespace jz::testing {
namespace {

std::string find_bindir() {
  namespace fs = std::filesystem;
  std::string best;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(e.path() / "bin" / "initdb")) {
      std::string candidate = (e.path() / "bin").string();
      if (candidate > best) best = candidate;
    }
  }
  return best;
}

// argv prefix that drops root privileges to the postgres user.
std::vector<std::string> as_postgres_user() {
  if (geteuid() != 0) return {};
  return {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
  std::unique_ptr<PostgresServer> pg(new PostgresServer());
  pg->bindir_ = find_bindir();
  if (pg->bindir_.empty()) {
    return Status::failed_precondition(
        "PostgreSQL server binaries not found under /usr/lib/postgresql: run "
        "scripts/install-deps (Debian package postgresql)");
  }
  pg->dir_ = std::make_unique<TempDir>("jz-pg");
  const std::string root = pg->dir_->str();
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (!pw) return Status::failed_precondition("system user 'postgres' is missing");
    if (chown(root.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status::internal("cannot hand " + root + " to user postgres");
    }
  }
  const std::string data = root + "/data";
  auto init = run_subprocess(
      {.argv = cat(as_postgres_user(), {pg->bindir_ + "/initdb", "-D", data, "-U", "jizhan", "-A",
                                        "trust", "-E", "UTF8", "--locale=C", "--no-sync"}),
       .env = {{"LC_ALL", "C"}},
       .timeout = std::chrono::seconds(120)});
  if (!init.ok()) return init.status();
  if (!init->success()) return Status::internal("initdb failed: " + init->err + init->out);

  JZ_RETURN_IF_ERROR(pg->launch(/*pick_port=*/true));
  JZ_RETURN_IF_ERROR(pg->create_database("jizhan"));
  return pg;
}

Status PostgresServer::launch(bool pick_port) {
  const std::string root = dir_->str();
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (pick_port) port_ = free_port();
    auto child = Child::spawn(
        {.argv = cat(as_postgres_user(),
                     {bindir_ + "/postgres", "-D", root + "/data", "-p", std::to_string(port_),
                      "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                      "-c", "shared_buffers=32MB"}),
         .env = {{"LC_ALL", "C"}},
         .output_file = root + "/server.log"});
    if (!child.ok()) return child.status();
    server_ = std::make_unique<Child>(std::move(child).value());
    // Ready when pg_isready says so, or failed when the process has exited.
    for (int i = 0; i < 300; ++i) {
      auto ready = run_subprocess({.argv = {bindir_ + "/pg_isready", "-h", "127.0.0.1", "-p",
                                            std::to_string(port_), "-q"}});
      if (ready.ok() && ready->success()) return {};
      if (!server_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    server_.reset();  // port taken or slow start: try again
  }
  return Status::unavailable("PostgreSQL did not start; see the log in " + root + "/server.log");
}

void PostgresServer::stop() {
  if (!server_) return;
  server_->signal(SIGINT);  // fast shutdown
  if (!server_->wait_for(std::chrono::seconds(30))) server_->signal(SIGKILL);
  server_->wait();
  server_.reset();
}

Status PostgresServer::restart() {
  stop();
  return launch(/*pick_port=*/false);
}

PostgresServer::~PostgresServer() { stop(); }

std::string PostgresServer::url(const std::string& db) const {
  return "postgres://jizhan@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

Status PostgresServer::create_database(const std::string& db) {
  auto r = run_subprocess({.argv = {bindir_ + "/createdb", "-h", "127.0.0.1", "-p",
                                    std::to_string(port_), "-U", "jizhan", db}});
  if (!r.ok()) return r.status();
  if (!r->success() && r->err.find("already exists") == std::string::npos) {
    return Status::internal("createdb " + db + " failed: " + r->err);
  }
  return {};
}

PostgresServer* shared_postgres() {
  static std::unique_ptr<PostgresServer> server = [] {
    auto s = PostgresServer::start();
    if (!s.ok()) {
      std::cerr << "cannot start PostgreSQL for tests: " << s.status().to_string() << "\n";
      return std::unique_ptr<PostgresServer>();
    }
    return std::move(s).value();
  }();
  return server.get();
}

}  // namespace jz::testing
