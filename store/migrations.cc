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
      {2, "iam_users_tokens",
       "CREATE TABLE users ("
       "  id TEXT PRIMARY KEY,"
       "  username TEXT NOT NULL UNIQUE,"
       "  display_name TEXT NOT NULL,"
       "  email TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  platform_role TEXT NOT NULL,"
       "  password_hash TEXT NOT NULL,"
       "  failed_logins BIGINT NOT NULL,"
       "  locked_until_ms BIGINT NOT NULL,"
       "  created_at_ms BIGINT NOT NULL,"
       "  updated_at_ms BIGINT NOT NULL"
       ");"
       "CREATE TABLE tokens ("
       "  id TEXT PRIMARY KEY,"
       "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       "  kind TEXT NOT NULL,"
       "  name TEXT NOT NULL,"
       "  project TEXT NOT NULL,"
       "  secret_hash TEXT NOT NULL UNIQUE,"
       "  expires_at_ms BIGINT NOT NULL,"
       "  revoked_at_ms BIGINT,"
       "  created_at_ms BIGINT NOT NULL"
       ");"
       "CREATE INDEX tokens_user ON tokens (user_id);",
       ""},
  };
  return kAll;
}

}  // namespace jz::store
