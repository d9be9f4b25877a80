// One relational store over SQLite (the embedded default) and PostgreSQL (for
// scale-out), behind the same small interface.
//
// SQL is written once with '?' placeholders in the common subset of both dialects;
// the PostgreSQL connection rewrites them to $1..$n. Results come back as text
// columns (NULL is an empty optional). Connections are pooled; every call takes one
// from the pool for its duration, so a Database may be used from many threads at once.
// transact() runs a function inside a transaction and commits only when it returns OK
// (on SQLite, this process's writers take turns in arrival order, waiting at most the
// busy timeout);
// a committed transaction is durable when transact() returns (SQLite: WAL with
// synchronous=FULL by default; PostgreSQL: synchronous commit).
//
// Schema changes are migrations compiled into the binary (migrations.cc) and applied
// by open(), each in its own transaction, recorded in table schema_migrations.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace jz::store {

enum class Dialect { kSqlite, kPostgres };
std::string_view dialect_name(Dialect d);

// A bound parameter: NULL, integer, real or text.
using Value = std::variant<std::monostate, int64_t, double, std::string>;
using Params = std::vector<Value>;

// Column names of one result, shared by its rows (lower case, as the SELECT names them:
// "u.username" is "username", "x AS y" is "y").
using ColumnNames = std::shared_ptr<const std::vector<std::string>>;

struct Row {
  std::vector<std::optional<std::string>> cols;
  ColumnNames names;
  bool is_null(size_t i) const { return !cols.at(i).has_value(); }
  const std::string& text(size_t i) const;  // "" for NULL
  int64_t integer(size_t i) const;          // 0 for NULL
  // By column name (prefer these; see store/rows.h to bind whole structs). A name the
  // query did not select throws std::out_of_range naming it and the columns it has.
  size_t index_of(std::string_view column) const;
  bool is_null(std::string_view column) const { return is_null(index_of(column)); }
  const std::string& text(std::string_view column) const { return text(index_of(column)); }
  int64_t integer(std::string_view column) const { return integer(index_of(column)); }
};

class Conn {
 public:
  virtual ~Conn() = default;
  virtual Result<std::vector<Row>> query(std::string_view sql, const Params& params = {}) = 0;
  // Runs a statement; returns the number of rows changed.
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs several ';'-separated statements without parameters (migrations).
  virtual Status exec_script(std::string_view sql) = 0;
  virtual Dialect dialect() const = 0;
  // False once the connection is known to be broken (PostgreSQL server gone); the pool
  // then replaces it.
  virtual bool healthy() const { return true; }
};

// Where the data lives, parsed from --db / store.url.
struct DatabaseUrl {
  Dialect dialect = Dialect::kSqlite;
  std::string sqlite_path;  // kSqlite
  std::string pg_conninfo;  // kPostgres: the URL as libpq takes it
  std::string redacted;     // for messages and logs: the password replaced by ***
};

// Accepts "sqlite:PATH", "sqlite://PATH" (PATH absolute or relative), and
// "postgres://..." / "postgresql://..." URLs. Anything else is invalid_argument with
// a message that shows the accepted forms.
Result<DatabaseUrl> parse_database_url(std::string_view url);

struct DatabaseOptions {
  DatabaseUrl url;
  int pool_size = 8;
  std::chrono::milliseconds busy_timeout{5000};  // SQLite lock waits; pool waits
  std::chrono::seconds connect_timeout{10};      // PostgreSQL
  bool sqlite_synchronous_full = true;           // false: synchronous=NORMAL
  bool apply_migrations = true;
};

class Database {
 public:
  static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options);
  virtual ~Database();

  Dialect dialect() const { return options_.url.dialect; }
  const DatabaseUrl& url() const { return options_.url; }

  // fn runs in one transaction (SQLite: BEGIN IMMEDIATE). Commit when fn returns OK,
  // roll back otherwise, and return fn's status (or the commit's error).
  Status transact(const std::function<Status(Conn&)>& fn);
  // fn runs on a pooled connection in autocommit mode (for reads).
  Status with_conn(const std::function<Status(Conn&)>& fn);

  // Cheap round trip: OK when the database answers.
  Status ping();
  // The highest applied migration version.
  Result<int64_t> schema_version();

 protected:
  explicit Database(DatabaseOptions options);

 private:
  class Pool;
  Status apply_migrations();
  DatabaseOptions options_;
  std::unique_ptr<Pool> pool_;
  // SQLite has one writer at a time. Writers of this process queue here, blocked and in
  // the order they came (tickets: a plain mutex, like SQLite's busy handler, lets some
  // writers starve past the busy timeout under steady contention).
  class WriteQueue {
   public:
    // Waits for this writer's turn at most `timeout`; false (and out of the queue) after.
    bool enter(std::chrono::milliseconds timeout);
    void leave();

   private:
    void skip_abandoned();  // with mu_ held
    std::mutex mu_;
    std::condition_variable cv_;
    uint64_t next_ = 0, serving_ = 0;
    std::vector<uint64_t> abandoned_;
  };
  WriteQueue sqlite_writes_;
  friend class Pool;
};

// Constructors of the per-dialect connections (sqlite.cc, postgres.cc).
Result<std::unique_ptr<Conn>> open_sqlite_conn(const DatabaseOptions& options);
Result<std::unique_ptr<Conn>> open_postgres_conn(const DatabaseOptions& options);

struct Migration {
  int64_t version;
  std::string_view name;
  std::string_view sqlite_sql;
  std::string_view postgres_sql;  // empty: same as sqlite_sql
};
// All migrations in version order.
const std::vector<Migration>& migrations();

}  // namespace jz::store
