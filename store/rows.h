// Typed reads: rows bound to struct fields by column name, one query helper for "all
// rows", one for "exactly one row or not_found", and keyset pages.
//
//   const store::RowMap<Workspace> kWorkspace{{"id", &Workspace::id},
//                                             {"name", &Workspace::name},
//                                             {"created_at_ms", &Workspace::created_at_ms}};
//   JZ_ASSIGN_OR_RETURN(auto w, store::query_one(conn, kWorkspace,
//       "SELECT " + kWorkspace.columns() + " FROM workspaces WHERE name = ?", {name},
//       "no workspace 'x'"));
//
// A field whose column the query did not select throws std::out_of_range naming it (a bug
// in the repository, answered 500 by the API), never a silent default.
#pragma once

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/text.h"
#include "store/database.h"

namespace jz::store {

template <class T>
class RowMap {
 public:
  using Field = std::variant<std::string T::*, int64_t T::*, int T::*, bool T::*, double T::*,
                             std::optional<std::string> T::*, std::optional<int64_t> T::*>;

  RowMap(std::initializer_list<std::pair<const char*, Field>> fields) : fields_(fields) {}

  // The fields' columns, comma-separated, for a SELECT list; `prefix` qualifies each
  // ("p." gives "p.id, p.name").
  std::string columns(std::string_view prefix = "") const {
    std::string out;
    for (const auto& [column, field] : fields_) {
      if (!out.empty()) out += ", ";
      out += std::string(prefix) + column;
    }
    return out;
  }

  // Fills the mapped fields of `out` from the row; fields not mapped keep their values.
  void read(const Row& row, T& out) const {
    for (const auto& [column, field] : fields_) {
      const size_t i = row.index_of(column);
      std::visit(
          [&](auto member) {
            using M = std::remove_reference_t<decltype(out.*member)>;
            if constexpr (std::is_same_v<M, std::string>) {
              out.*member = row.text(i);
            } else if constexpr (std::is_same_v<M, std::optional<std::string>>) {
              out.*member = row.cols.at(i);
            } else if constexpr (std::is_same_v<M, std::optional<int64_t>>) {
              out.*member = row.is_null(i) ? std::nullopt : std::optional<int64_t>(row.integer(i));
            } else if constexpr (std::is_same_v<M, double>) {
              out.*member = row.is_null(i) ? 0.0 : std::stod(row.text(i));
            } else if constexpr (std::is_same_v<M, bool>) {
              const std::string& t = row.text(i);
              out.*member = t == "1" || t == "t" || t == "true";
            } else {
              out.*member = static_cast<M>(row.integer(i));
            }
          },
          field);
    }
  }

  T operator()(const Row& row) const {
    T out{};
    read(row, out);
    return out;
  }

 private:
  std::vector<std::pair<const char*, Field>> fields_;
};

template <class T>
Result<std::vector<T>> query_all(Conn& c, const RowMap<T>& map, std::string_view sql,
                                 const Params& params = {}) {
  JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
  std::vector<T> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(map(r));
  return out;
}

// The one row the query selects; not_found(`missing`) when there is none.
template <class T>
Result<T> query_one(Conn& c, const RowMap<T>& map, std::string_view sql, const Params& params,
                    const std::string& missing) {
  JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
  if (rows.empty()) return Status::not_found(missing);
  return map(rows.front());
}

// A keyset page: the rows whose key sorts after `after` ("" for the first page), at most
// `limit` of them, in key order. Stable while rows are inserted or deleted: a row is on
// exactly one page unless it is inserted behind the reader.
struct PageSpec {
  std::string after;
  int limit = 100;
};

// A "?, ?, ?" list for an IN clause of n values (n > 0), the values appended to `params`.
inline std::string in_list(const std::vector<std::string>& values, Params& params) {
  std::string out;
  for (const auto& v : values) {
    out += out.empty() ? "?" : ", ?";
    params.emplace_back(v);
  }
  return out;
}

template <class T>
struct Page {
  std::vector<T> items;
  std::string next_after;  // the key to pass as `after` for the next page; "" at the end
};

// Runs `sql_where` (a SELECT that ends in a WHERE clause, e.g. "SELECT ... FROM t WHERE
// project_id = ?") with "AND key > ? ORDER BY key LIMIT limit+1" appended. `key` is a
// unique column; `key_of` reads it back from an item. An integer key (`integer_key`) is
// compared as a number; its `after` is its decimal text.
template <class T>
Result<Page<T>> query_page(Conn& c, const RowMap<T>& map, std::string sql_where, Params params,
                           std::string_view key, const std::function<std::string(const T&)>& key_of,
                           const PageSpec& page, bool integer_key = false) {
  const int limit = std::max(1, page.limit);
  if (!page.after.empty()) {
    sql_where += " AND " + std::string(key) + " > ?";
    if (integer_key) {
      const std::optional<int64_t> n = parse_int64(page.after);
      if (!n) return Status::invalid_argument("page_token: not a position in this list");
      params.emplace_back(*n);
    } else {
      params.emplace_back(page.after);
    }
  }
  sql_where += " ORDER BY " + std::string(key) + " LIMIT " + std::to_string(limit + 1);
  JZ_ASSIGN_OR_RETURN(auto items, query_all(c, map, sql_where, params));
  Page<T> out;
  if (static_cast<int>(items.size()) > limit) {
    items.resize(limit);
    out.next_after = key_of(items.back());
  }
  out.items = std::move(items);
  return out;
}

}  // namespace jz::store
