// A real PostgreSQL server for tests: initdb into a temporary folder, started on a
// free loopback port, stopped (fast shutdown) and deleted when the object goes away.
// Uses Debian's postgresql package (/usr/lib/postgresql/<version>/bin). When the
// tests run as root (as CI does), the server runs as the `postgres` system user,
// since PostgreSQL refuses to run as root.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/subprocess.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {

class PostgresServer {
 public:
  static Result<std::unique_ptr<PostgresServer>> start();
  ~PostgresServer();

  int port() const { return port_; }
  // A URL for database `db` (created on demand by create_database).
  std::string url(const std::string& db = "jizhan") const;
  Status create_database(const std::string& db);
  // Stops the server (fast shutdown) and starts it again on the same port and data,
  // for tests of outages.
  void stop();
  Status restart();

 private:
  PostgresServer() = default;
  Status launch(bool pick_port);
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Child> server_;
  std::string bindir_;
  int port_ = 0;
};

// The server shared by all tests of one test binary, started on first use; nullptr
// and a message on stderr when PostgreSQL cannot start here.
PostgresServer* shared_postgres();

}  // namespace jz::testing
