#include "store/database.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace jz::store {

std::string_view dialect_name(Dialect d) { return d == Dialect::kSqlite ? "sqlite" : "postgres"; }

const std::string& Row::text(size_t i) const {
  static const std::string kEmpty;
  const auto& c = cols.at(i);
  return c ? *c : kEmpty;
}

int64_t Row::integer(size_t i) const {
  const auto& c = cols.at(i);
  return c && !c->empty() ? std::stoll(*c) : 0;
}

size_t Row::index_of(std::string_view column) const {
  if (names) {
    for (size_t i = 0; i < names->size(); ++i) {
      if ((*names)[i] == column) return i;
    }
  }
  std::string have;
  for (const auto& n : names ? *names : std::vector<std::string>{}) {
    have += (have.empty() ? "" : ", ") + n;
  }
  throw std::out_of_range("the query selected no column '" + std::string(column) +
                          "' (it has: " + have + ")");
}

namespace {
// Hides a password in anything that looks like a URL, well-formed or not, since bad
// URLs end up in error messages: the span from the first ':' that does not start
// "://" to the last '@' becomes "***". It may hide more than the password (a port
// before an '@' in the options); it never shows the password.
std::string redact_url(std::string_view url) {
  auto at = url.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  size_t colon = url.find(':');
  while (colon != std::string_view::npos && url.substr(colon, 3) == "://") {
    colon = url.find(':', colon + 3);
  }
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

constexpr std::string_view kUrlForms =
    "use sqlite:PATH (for example sqlite:./jizhan-data/jizhan.db) or "
    "postgres://USER:PASSWORD@HOST:PORT/DATABASE";
}  // namespace

Result<DatabaseUrl> parse_database_url(std::string_view url) {
  DatabaseUrl out;
  out.redacted = redact_url(url);
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("database URL '" + out.redacted + "' " + why + ": " +
                                    std::string(kUrlForms));
  };
  if (url.empty()) return bad("is empty");
  if (url.rfind("sqlite:", 0) == 0) {
    std::string_view path = url.substr(7);
    if (path.rfind("//", 0) == 0) path.remove_prefix(2);
    if (path.empty()) return bad("names no file");
    if (path.find('?') != std::string_view::npos)
      return bad("has options, which SQLite URLs do not take");
    out.dialect = Dialect::kSqlite;
    out.sqlite_path = std::string(path);
    return out;
  }
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
    std::string_view rest = url.substr(url.find("://") + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    auto at = authority.rfind('@');
    std::string_view hostport = at == std::string_view::npos ? authority : authority.substr(at + 1);
    if (hostport.empty() && rest.find("host=") == std::string_view::npos) {
      return bad("names no host");
    }
    if (!hostport.empty() && hostport.front() != '[') {
      auto colon = hostport.rfind(':');
      if (colon != std::string_view::npos) {
        std::string_view port = hostport.substr(colon + 1);
        bool digits = !port.empty() && port.size() <= 5;
        for (char c : port) digits = digits && c >= '0' && c <= '9';
        if (!digits || std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0) {
          return bad("has an invalid port '" + std::string(port) + "'");
        }
      }
    }
    out.dialect = Dialect::kPostgres;
    out.pg_conninfo = std::string(url);
    return out;
  }
  auto colon = url.find(':');
  if (colon < 16) {  // npos is larger
    return bad("has an unsupported scheme '" + std::string(url.substr(0, colon)) + "'");
  }
  return bad("has no scheme");
}

// Connections are lent out and returned. When a returned connection turns out broken
// (the PostgreSQL server restarted or failed over), every connection opened before it
// is presumed broken too: the pool's generation moves on, and each older connection is
// replaced the next time it is lent, before it can fail a request. Where the server is
// still unreachable, acquire() says so and keeps the old connection for a later try.
class Database::Pool {
 public:
  Pool(const DatabaseOptions& options) : options_(options) {}

  Result<std::unique_ptr<Conn>> open() {
    return options_.url.dialect == Dialect::kSqlite ? open_sqlite_conn(options_)
                                                    : open_postgres_conn(options_);
  }

  Status fill() {
    for (int i = 0; i < options_.pool_size; ++i) {
      auto c = open();
      if (!c.ok()) return c.status();
      idle_.push_back({std::move(c).value(), 0});
    }
    return {};
  }

  Result<std::unique_ptr<Conn>> acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, options_.busy_timeout, [&] { return !idle_.empty(); })) {
      return Status::unavailable("all " + std::to_string(options_.pool_size) +
                                 " database connections stayed busy for " +
                                 std::to_string(options_.busy_timeout.count()) +
                                 " ms; raise store.pool_size or reduce load");
    }
    Entry e = std::move(idle_.back());
    idle_.pop_back();
    const uint64_t current = generation_;
    if (e.generation < current) {
      lock.unlock();
      auto fresh = open();
      lock.lock();
      if (!fresh.ok()) {
        idle_.push_back(std::move(e));
        cv_.notify_one();
        return fresh.status();
      }
      e = {std::move(fresh).value(), current};
    }
    lent_[e.conn.get()] = e.generation;
    return std::move(e.conn);
  }

  void release(std::unique_ptr<Conn> c) {
    {
      std::lock_guard lock(mu_);
      auto it = lent_.find(c.get());
      uint64_t generation = it == lent_.end() ? 0 : it->second;
      if (it != lent_.end()) lent_.erase(it);
      if (!c->healthy() && generation >= generation_) generation_ = generation + 1;
      idle_.push_back({std::move(c), generation});
    }
    cv_.notify_one();
  }

 private:
  struct Entry {
    std::unique_ptr<Conn> conn;
    uint64_t generation;
  };
  const DatabaseOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> idle_;
  std::unordered_map<const Conn*, uint64_t> lent_;
  uint64_t generation_ = 0;
};

Database::Database(DatabaseOptions options) : options_(std::move(options)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options) {
  if (options.pool_size < 1) return Status::invalid_argument("store.pool_size must be at least 1");
  std::unique_ptr<Database> db(new Database(options));
  db->pool_ = std::make_unique<Pool>(db->options_);
  JZ_RETURN_IF_ERROR(db->pool_->fill());
  if (options.apply_migrations) JZ_RETURN_IF_ERROR(db->apply_migrations());
  return db;
}

Status Database::with_conn(const std::function<Status(Conn&)>& fn) {
  JZ_ASSIGN_OR_RETURN(auto conn, pool_->acquire());
  Status s = fn(*conn);
  pool_->release(std::move(conn));
  return s;
}

bool Database::WriteQueue::enter(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_++;
  if (cv_.wait_for(lock, timeout, [&] { return serving_ == ticket; })) return true;
  abandoned_.push_back(ticket);
  skip_abandoned();
  return false;
}

void Database::WriteQueue::leave() {
  std::lock_guard<std::mutex> lock(mu_);
  ++serving_;
  skip_abandoned();
  cv_.notify_all();
}

void Database::WriteQueue::skip_abandoned() {
  for (auto it = std::find(abandoned_.begin(), abandoned_.end(), serving_); it != abandoned_.end();
       it = std::find(abandoned_.begin(), abandoned_.end(), serving_)) {
    abandoned_.erase(it);
    ++serving_;
    cv_.notify_all();
  }
}

Status Database::transact(const std::function<Status(Conn&)>& fn) {
  const bool sqlite = dialect() == Dialect::kSqlite;
  if (sqlite && !sqlite_writes_.enter(options_.busy_timeout)) {
    return Status::unavailable("the database stayed busy with other writes for " +
                               std::to_string(options_.busy_timeout.count()) +
                               " ms (store.busy_timeout_ms); retry");
  }
  struct Leave {
    WriteQueue* q;
    ~Leave() {
      if (q) q->leave();
    }
  } leave{sqlite ? &sqlite_writes_ : nullptr};
  JZ_ASSIGN_OR_RETURN(auto conn, pool_->acquire());
  auto begin = conn->exec(sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begin.ok()) {
    pool_->release(std::move(conn));
    return begin.status();
  }
  Status s = fn(*conn);
  if (s.ok()) {
    auto commit = conn->exec("COMMIT");
    if (!commit.ok()) {
      (void)conn->exec("ROLLBACK");
      s = commit.status();
    }
  } else {
    (void)conn->exec("ROLLBACK");
  }
  pool_->release(std::move(conn));
  return s;
}

Status Database::ping() {
  return with_conn([](Conn& c) { return c.query("SELECT 1").status(); });
}

Result<int64_t> Database::schema_version() {
  int64_t v = 0;
  JZ_RETURN_IF_ERROR(with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, c.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations"));
    v = rows.at(0).integer("version");
    return {};
  }));
  return v;
}

Status Database::apply_migrations() {
  const bool sqlite = dialect() == Dialect::kSqlite;
  JZ_RETURN_IF_ERROR(with_conn([](Conn& c) {
    return c.exec_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)");
  }));
  const auto& all = migrations();
  const int64_t newest_known = all.empty() ? 0 : all.back().version;
  for (const auto& m : all) {
    Status s = transact([&](Conn& c) -> Status {
      if (!sqlite) {
        // Two servers starting against one PostgreSQL take turns here.
        JZ_RETURN_IF_ERROR(c.query("SELECT pg_advisory_xact_lock(7321001)").status());
      }
      JZ_ASSIGN_OR_RETURN(
          auto rows, c.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations"));
      int64_t current = rows.at(0).integer("version");
      if (current > newest_known) {
        return Status::failed_precondition(
            "the database schema is at version " + std::to_string(current) +
            ", newer than this jizhan knows (" + std::to_string(newest_known) +
            "): run a newer jizhan against it");
      }
      if (current >= m.version) return {};
      std::string_view sql = sqlite || m.postgres_sql.empty() ? m.sqlite_sql : m.postgres_sql;
      Status applied = c.exec_script(sql);
      if (!applied.ok()) {
        return applied.with_context("migration " + std::to_string(m.version) + " (" +
                                    std::string(m.name) + ")");
      }
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
      return c
          .exec("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                {m.version, std::string(m.name), int64_t{ms}})
          .status();
    });
    JZ_RETURN_IF_ERROR(s);
  }
  return {};
}

}  // namespace jz::store
