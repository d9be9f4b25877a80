// The SQLite connection: WAL, foreign keys, busy timeout, a per-connection cache of
// prepared statements.
#include <sqlite3.h>

#include <cctype>
#include <unordered_map>

#include "store/database.h"

namespace jz::store {
namespace {

// SQLite keeps a column's name as written; PostgreSQL folds unquoted names to lower case.
std::string lower_name(const char* name) {
  std::string out = name ? name : "";
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::already_exists(std::move(msg));
      }
      return Status::failed_precondition(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::unavailable(msg + " (the database stayed locked; retry)");
    case SQLITE_FULL:
      return Status::resource_exhausted(msg + " (the disk is full)");
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return Status::unavailable(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

class SqliteConn final : public Conn {
 public:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  ~SqliteConn() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) override {
    std::vector<Row> rows;
    JZ_RETURN_IF_ERROR(run(sql, params, &rows));
    return rows;
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    JZ_RETURN_IF_ERROR(run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

  Status exec_script(std::string_view sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return sqlite_error(nullptr, rc, msg);
    }
    return {};
  }

 private:
  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "preparing SQL");
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }

  Status run(std::string_view sql, const Params& params, std::vector<Row>* rows) {
    JZ_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepare(sql));
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
      return Status::internal("SQL expects " + std::to_string(sqlite3_bind_parameter_count(stmt)) +
                              " parameters, got " + std::to_string(params.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i) + 1;
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              return sqlite3_bind_null(stmt, idx);
            } else if constexpr (std::is_same_v<T, int64_t>) {
              return sqlite3_bind_int64(stmt, idx, v);
            } else if constexpr (std::is_same_v<T, double>) {
              return sqlite3_bind_double(stmt, idx, v);
            } else {
              return sqlite3_bind_text64(stmt, idx, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
            }
          },
          params[i]);
      if (rc != SQLITE_OK) return sqlite_error(db_, rc, "binding parameter");
    }
    const int ncols = sqlite3_column_count(stmt);
    ColumnNames names;
    if (rows) {
      auto n = std::make_shared<std::vector<std::string>>();
      for (int c = 0; c < ncols; ++c) n->push_back(lower_name(sqlite3_column_name(stmt, c)));
      names = std::move(n);
    }
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return sqlite_error(db_, rc, "running SQL");
      if (!rows) continue;
      Row row;
      row.names = names;
      row.cols.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.cols.emplace_back();
        } else {
          auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.cols.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
        }
      }
      rows->push_back(std::move(row));
    }
    return {};
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

Result<std::unique_ptr<Conn>> open_sqlite_conn(const DatabaseOptions& options) {
  const std::string& path = options.url.sqlite_path;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::unavailable("cannot open SQLite database '" + path +
                                   "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
                                   "; check that the folder exists and is writable");
    sqlite3_close_v2(db);
    return s;
  }
  auto conn = std::make_unique<SqliteConn>(db);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += options.sqlite_synchronous_full ? "FULL;" : "NORMAL;";
  Status s = conn->exec_script(pragmas);
  if (!s.ok()) {
    return Status::unavailable("cannot use SQLite database '" + path + "': " + s.message() +
                               "; check that the file and its folder are writable");
  }
  return std::unique_ptr<Conn>(std::move(conn));
}

}  // namespace jz::store
