// Every schema change, in order. Never edit a released migration: add a new one.
// SQL here is the common subset of SQLite and PostgreSQL unless a migration gives a
// separate PostgreSQL text. Times are Unix milliseconds in BIGINT columns.
#include "store/database.h"

namespace jz::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kAll = {
      {1, "settings",
       "CREATE TABLE settings ("
       "  key TEXT PRIMARY KEY,"
       "  value TEXT NOT NULL,"
       "  revision BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL"
       ");",
       ""},
  };
  return kAll;
}

}  // namespace jz::store
