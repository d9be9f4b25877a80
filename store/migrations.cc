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
      {3, "audit",
       "CREATE TABLE audit ("
       "  seq BIGINT PRIMARY KEY,"
       "  id TEXT NOT NULL UNIQUE,"
       "  time_ms BIGINT NOT NULL,"
       "  user_name TEXT NOT NULL,"
       "  source_ip TEXT NOT NULL,"
       "  user_agent TEXT NOT NULL,"
       "  verb TEXT NOT NULL,"
       "  resource_type TEXT NOT NULL,"
       "  resource_name TEXT NOT NULL,"
       "  workspace TEXT NOT NULL,"
       "  project TEXT NOT NULL,"
       "  request_summary TEXT NOT NULL,"
       "  response_status BIGINT NOT NULL,"
       "  latency_us BIGINT NOT NULL,"
       "  request_id TEXT NOT NULL,"
       "  prev_hash TEXT NOT NULL,"
       "  hash TEXT NOT NULL"
       ");"
       "CREATE INDEX audit_user ON audit (user_name, seq);"
       "CREATE INDEX audit_project ON audit (project, seq);"
       "CREATE INDEX audit_time ON audit (time_ms);",
       ""},
  };
  return kAll;
}

}  // namespace jz::store
