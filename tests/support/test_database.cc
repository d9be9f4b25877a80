#include "tests/support/test_database.h"

#include <unistd.h>

#include <atomic>

#include "tests/support/postgres_server.h"

namespace jz::testing {

Result<std::unique_ptr<store::Database>> open_test_database(store::Dialect dialect,
                                                            const TempDir& dir,
                                                            store::DatabaseOptions* used) {
  store::DatabaseOptions opts;
  opts.pool_size = 4;
  if (dialect == store::Dialect::kSqlite) {
    JZ_ASSIGN_OR_RETURN(opts.url, store::parse_database_url("sqlite:" + dir.str() + "/jizhan.db"));
  } else {
    auto* pg = shared_postgres();
    if (!pg) return Status::unavailable("PostgreSQL could not be started for this test");
    static std::atomic<int> n{0};
    std::string db = "t" + std::to_string(getpid()) + "_" + std::to_string(n++);
    JZ_RETURN_IF_ERROR(pg->create_database(db));
    JZ_ASSIGN_OR_RETURN(opts.url, store::parse_database_url(pg->url(db)));
  }
  if (used) *used = opts;
  return store::Database::open(opts);
}

}  // namespace jz::testing
