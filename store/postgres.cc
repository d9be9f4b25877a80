// The PostgreSQL connection over libpq: '?' placeholders become $n, SQLSTATEs map to
// jz::Code values, and a lost server surfaces as `unavailable` so the pool replaces
// the connection.
#include <libpq-fe.h>

#include <charconv>

#include "store/database.h"

namespace jz::store {

// Rewrites '?' placeholders to $1..$n, leaving quoted strings and identifiers alone.
std::string rewrite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '?') {
      out += "$" + std::to_string(++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// libpq messages span several lines ("...refused\n\tIs the server running..."); the
// first says what happened, and our messages are one line each.
std::string first_line(const char* s) {
  std::string m = s ? s : "";
  if (auto nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

class PostgresConn final : public Conn {
 public:
  explicit PostgresConn(PGconn* c) : conn_(c) {}
  ~PostgresConn() override { PQfinish(conn_); }
  Dialect dialect() const override { return Dialect::kPostgres; }
  bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) override {
    JZ_ASSIGN_OR_RETURN(ResultPtr res, run(sql, params));
    std::vector<Row> rows;
    const int nrows = PQntuples(res.get()), ncols = PQnfields(res.get());
    rows.reserve(nrows);
    auto names = std::make_shared<std::vector<std::string>>();
    for (int c = 0; c < ncols; ++c) names->push_back(PQfname(res.get(), c));
    for (int r = 0; r < nrows; ++r) {
      Row row;
      row.names = names;
      row.cols.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res.get(), r, c)) {
          row.cols.emplace_back();
        } else {
          row.cols.emplace_back(
              std::string(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c)));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    JZ_ASSIGN_OR_RETURN(ResultPtr res, run(sql, params));
    const char* n = PQcmdTuples(res.get());
    return n && *n ? std::stoll(n) : int64_t{0};
  }

  Status exec_script(std::string_view sql) override {
    ResultPtr res(PQexec(conn_, std::string(sql).c_str()));
    return check(res.get());
  }

 private:
  Status check(PGresult* res) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Status::unavailable("lost the connection to PostgreSQL: " +
                                 first_line(PQerrorMessage(conn_)));
    }
    std::string msg = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string_view code = state ? state : "";
    if (code == "23505") return Status::already_exists(msg);
    if (code.rfind("23", 0) == 0) return Status::failed_precondition(msg);
    if (code == "40001" || code == "40P01" || code.rfind("08", 0) == 0 ||
        code.rfind("57P", 0) == 0 || code == "53300") {
      return Status::unavailable(msg + " (retry)");
    }
    if (code.rfind("53", 0) == 0) return Status::resource_exhausted(msg);
    return Status::internal(msg);
  }

  Result<ResultPtr> run(std::string_view sql, const Params& params) {
    std::string text = rewrite_placeholders(sql);
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              values[i] = nullptr;
            } else if constexpr (std::is_same_v<T, int64_t>) {
              storage[i] = std::to_string(v);
              values[i] = storage[i].c_str();
            } else if constexpr (std::is_same_v<T, double>) {
              char buf[64];
              auto r = std::to_chars(buf, buf + sizeof buf, v);
              storage[i].assign(buf, r.ptr);
              values[i] = storage[i].c_str();
            } else {
              values[i] = v.c_str();
            }
          },
          params[i]);
    }
    ResultPtr res(PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
    JZ_RETURN_IF_ERROR(check(res.get()));
    return res;
  }

  PGconn* conn_;
};

}  // namespace

Result<std::unique_ptr<Conn>> open_postgres_conn(const DatabaseOptions& options) {
  std::string timeout = std::to_string(options.connect_timeout.count());
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* vals[] = {options.url.pg_conninfo.c_str(), timeout.c_str(), "jizhan", nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  if (!c) return Status::resource_exhausted("out of memory connecting to PostgreSQL");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = first_line(PQerrorMessage(c));
    PQfinish(c);
    return Status::unavailable("cannot connect to PostgreSQL at '" + options.url.redacted +
                               "': " + msg + "; check the --db URL and that the server is up");
  }
  auto conn = std::make_unique<PostgresConn>(c);
  JZ_RETURN_IF_ERROR(conn->exec_script("SET client_min_messages = warning"));
  return std::unique_ptr<Conn>(std::move(conn));
}

}  // namespace jz::store
