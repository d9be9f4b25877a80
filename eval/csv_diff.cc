#include "eval/csv_diff.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace jz::eval {
namespace {

std::optional<double> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (*end || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

Result<CsvDiff> diff_csv(const Csv& a, const Csv& b, const std::string& key,
                         const std::map<std::string, double>& tolerance) {
  CsvDiff d;
  auto column = [&](const Csv& c, const char* which) -> Result<size_t> {
    for (size_t i = 0; i < c.header.size(); ++i) {
      if (c.header[i] == key) return i;
    }
    return Status::invalid_argument(std::string("the ") + which + " CSV has no column '" + key +
                                    "' (--key)");
  };
  for (const auto& [c, which] : {std::pair{&a, "submitted"}, std::pair{&b, "rerun"}}) {
    std::set<std::string> names;
    for (const auto& h : c->header) {
      if (!names.insert(h).second) {
        return Status::invalid_argument(std::string("the ") + which + " CSV has the column '" + h +
                                        "' twice: name every column once");
      }
    }
  }
  JZ_ASSIGN_OR_RETURN(size_t ka, column(a, "submitted"));
  JZ_ASSIGN_OR_RETURN(size_t kb, column(b, "rerun"));
  for (const auto& [col, tol] : tolerance) {
    bool found = false;
    for (const auto& h : a.header) found = found || h == col;
    if (!found) {
      return Status::invalid_argument("--tolerance names column '" + col +
                                      "', which the submitted CSV does not have");
    }
  }
  auto note = [&](std::string line, bool outside) {
    ++d.differences;
    d.outside_tolerance += outside;
    if (d.lines.size() < 1000) d.lines.push_back(std::move(line));
  };
  std::map<std::string, size_t> col_b;
  for (size_t i = 0; i < b.header.size(); ++i) col_b[b.header[i]] = i;
  std::set<std::string> cols_a(a.header.begin(), a.header.end());
  for (const auto& h : a.header) {
    if (!col_b.count(h)) note("column '" + h + "' is only in the submitted CSV", true);
  }
  for (const auto& h : b.header) {
    if (!cols_a.count(h)) note("column '" + h + "' is only in the rerun CSV", true);
  }
  auto index = [&](const Csv& c, size_t k, const char* which,
                   std::map<std::string, size_t>& out) -> Status {
    for (size_t r = 0; r < c.rows.size(); ++r) {
      auto [it, fresh] = out.emplace(c.rows[r][k], r);
      if (!fresh) {
        return Status::invalid_argument(std::string("the ") + which + " CSV has the key '" +
                                        c.rows[r][k] + "' twice (lines " +
                                        std::to_string(c.row_lines[it->second]) + " and " +
                                        std::to_string(c.row_lines[r]) + ")");
      }
    }
    return {};
  };
  std::map<std::string, size_t> rows_a, rows_b;
  JZ_RETURN_IF_ERROR(index(a, ka, "submitted", rows_a));
  JZ_RETURN_IF_ERROR(index(b, kb, "rerun", rows_b));
  for (const auto& [k, ra] : rows_a) {
    auto rb = rows_b.find(k);
    if (rb == rows_b.end()) {
      note("row " + key + "=" + k + " is only in the submitted CSV", true);
      continue;
    }
    ++d.rows_compared;
    for (size_t i = 0; i < a.header.size(); ++i) {
      if (i == ka) continue;
      auto cb = col_b.find(a.header[i]);
      if (cb == col_b.end()) continue;
      const std::string& va = a.rows[ra][i];
      const std::string& vb = b.rows[rb->second][cb->second];
      if (va == vb) continue;
      const std::string where = "row " + key + "=" + k + " column '" + a.header[i] + "': '" + va +
                                "' submitted, '" + vb + "' rerun";
      auto na = number(va), nb = number(vb);
      auto tol = tolerance.find(a.header[i]);
      if (na && nb) {
        const double diff = std::fabs(*na - *nb);
        const double allowed = tol == tolerance.end() ? 0 : tol->second;
        if (diff <= allowed) {
          std::ostringstream o;
          o << where << " (difference " << diff << ", within " << allowed << ")";
          note(o.str(), false);
          continue;
        }
        std::ostringstream o;
        o << where << " (difference " << diff << ", allowed " << allowed << ")";
        note(o.str(), true);
        continue;
      }
      note(where, true);
    }
  }
  for (const auto& [k, rb] : rows_b) {
    if (!rows_a.count(k)) note("row " + key + "=" + k + " is only in the rerun CSV", true);
  }
  d.verdict = d.differences == 0         ? "identical"
              : d.outside_tolerance == 0 ? "within tolerance"
                                         : "modified";
  return d;
}

Result<CsvDiff> diff_csv_files(const std::string& submitted, const std::string& rerun,
                               const std::string& key,
                               const std::map<std::string, double>& tolerance) {
  auto load = [](const std::string& p) -> Result<Csv> {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Status::not_found("cannot read " + p + ": " + errno_message(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_csv(ss.str(), p);
  };
  JZ_ASSIGN_OR_RETURN(Csv a, load(submitted));
  JZ_ASSIGN_OR_RETURN(Csv b, load(rerun));
  return diff_csv(a, b, key, tolerance);
}

}  // namespace jz::eval
