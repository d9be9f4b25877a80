#include "platform/jobs/metering.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/csv.h"

namespace jz::jobs {

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr double kHourMs = 3'600'000.0;

bool active(const std::string& state) {
  return state == "admitted" || state == "starting" || state == "running";
}

std::string day_of(int64_t ms) {
  const std::time_t s = ms / 1000;
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

struct Allocation {
  int64_t gpu_milli = 0, gpu_memory_mib = 0, cpu_milli = 0, memory_mib = 0;
  std::string pool;
};

}  // namespace

const Rates* Prices::rates(const std::string& pool) const {
  if (auto it = by_pool.find(pool); it != by_pool.end()) return &it->second;
  if (auto it = by_pool.find("*"); it != by_pool.end()) return &it->second;
  return nullptr;
}

Result<Prices> parse_prices(const std::string& text, const std::string& currency) {
  Prices p;
  p.currency = currency;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(';', at);
    if (end == std::string::npos) end = text.size();
    const std::string part = trim(text.substr(at, end - at));
    at = end + 1;
    if (part.empty()) continue;
    const size_t colon = part.find(':');
    const std::string pool = colon == std::string::npos ? "" : trim(part.substr(0, colon));
    const bool name_ok =
        !pool.empty() && pool.size() <= 64 &&
        (pool == "*" || std::all_of(pool.begin(), pool.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         }));
    if (!name_ok) {
      return Status::invalid_argument(
          "'" + part.substr(0, 64) +
          "' is not POOL: RESOURCE=PRICE, ... (pools are lower-case names or *), e.g. "
          "default: gpu=2.5, cpu=0.04");
    }
    if (p.by_pool.count(pool)) return Status::invalid_argument("pool " + pool + " is priced twice");
    Rates r;
    std::string rest = part.substr(colon + 1);
    size_t i = 0;
    while (i <= rest.size()) {
      size_t comma = rest.find(',', i);
      if (comma == std::string::npos) comma = rest.size();
      const std::string kv = trim(rest.substr(i, comma - i));
      i = comma + 1;
      if (kv.empty()) {
        if (comma == rest.size()) break;
        return Status::invalid_argument("pool " + pool + ": an empty price between commas");
      }
      const size_t eq = kv.find('=');
      const std::string name = trim(kv.substr(0, eq));
      const std::string value = eq == std::string::npos ? "" : trim(kv.substr(eq + 1));
      char* stop = nullptr;
      double v = -1;
      bool whole = false;
      if (!value.empty()) {
        v = std::strtod(value.c_str(), &stop);
        whole = stop != nullptr && *stop == '\0';
      }
      if (!whole || !std::isfinite(v) || v < 0 || v > 1e9) {
        return Status::invalid_argument("pool " + pool + ": '" + kv.substr(0, 64) +
                                        "' is not RESOURCE=PRICE with a price from 0 to 1e9");
      }
      if (name == "gpu") {
        r.gpu_hour = v;
      } else if (name == "gpu_memory") {
        r.gpu_memory_gib_hour = v;
      } else if (name == "cpu") {
        r.cpu_core_hour = v;
      } else if (name == "memory") {
        r.memory_gib_hour = v;
      } else {
        return Status::invalid_argument("pool " + pool + ": unknown resource '" +
                                        name.substr(0, 32) +
                                        "' (gpu, gpu_memory, cpu or memory, per hour; memories "
                                        "per GiB)");
      }
    }
    p.by_pool[pool] = r;
  }
  return p;
}

UsageTotals& UsageTotals::operator+=(const UsageTotals& o) {
  gpu_milli_ms += o.gpu_milli_ms;
  gpu_memory_mib_ms += o.gpu_memory_mib_ms;
  cpu_milli_ms += o.cpu_milli_ms;
  memory_mib_ms += o.memory_mib_ms;
  cost += o.cost;
  return *this;
}

Json UsageTotals::to_json() const {
  return {{"gpu_hours", static_cast<double>(gpu_milli_ms) / 1000 / kHourMs},
          {"gpu_memory_gib_hours", static_cast<double>(gpu_memory_mib_ms) / 1024 / kHourMs},
          {"cpu_core_hours", static_cast<double>(cpu_milli_ms) / 1000 / kHourMs},
          {"memory_gib_hours", static_cast<double>(memory_mib_ms) / 1024 / kHourMs},
          {"cost", std::round(cost * 1e6) / 1e6}};
}

const std::vector<std::string>& usage_dimensions() {
  static const std::vector<std::string> kDims = {"job",       "user", "project",
                                                 "workspace", "day",  "pool"};
  return kDims;
}

Result<Metering::Report> Metering::usage(const UsageQuery& q) const {
  Report report;
  if (q.project_ids.empty() || q.to_ms <= q.from_ms) return report;
  for (const auto& d : q.by) {
    if (std::find(usage_dimensions().begin(), usage_dimensions().end(), d) ==
        usage_dimensions().end()) {
      return Status::invalid_argument(
          "usage is grouped by job, user, project, workspace, day or "
          "pool, not '" +
          d + "'");
    }
  }
  std::string in;
  store::Params params;
  for (const auto& id : q.project_ids) {
    in += in.empty() ? "?" : ", ?";
    params.push_back(id);
  }
  params.push_back(q.to_ms);
  std::string sql =
      "SELECT e.job_id, e.time_ms, e.from_state, e.to_state, e.allocation, j.project, "
      "j.username, w.name AS workspace FROM job_events e JOIN jobs j ON j.id = e.job_id "
      "JOIN projects p ON p.id = j.project_id JOIN workspaces w ON w.id = p.workspace_id "
      "WHERE j.project_id IN (" +
      in + ") AND j.created_at_ms < ?";
  if (!q.user.empty()) {
    sql += " AND j.username = ?";
    params.push_back(q.user);
  }
  sql += " ORDER BY e.job_id, e.seq";
  std::vector<store::Row> rows;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(rows, c.query(sql, params));
    return Status::ok_status();
  }));
  const int64_t now = clock_.now_unix_ms();
  const bool by_day = std::find(q.by.begin(), q.by.end(), "day") != q.by.end();
  std::map<std::map<std::string, std::string>, UsageTotals> groups;
  // One interval of one job's allocation, clipped to the query and cut at midnights (UTC)
  // when grouped by day.
  auto add = [&](const store::Row& r, const Allocation& a, int64_t start, int64_t end) {
    start = std::max(start, q.from_ms);
    end = std::min(end, q.to_ms);
    while (start < end) {
      const int64_t cut = by_day ? std::min(end, (start / kDayMs + 1) * kDayMs) : end;
      const int64_t ms = cut - start;
      std::map<std::string, std::string> key;
      for (const auto& d : q.by) {
        if (d == "job") key[d] = r.text("job_id");
        if (d == "user") key[d] = r.text("username");
        if (d == "project") key[d] = r.text("project");
        if (d == "workspace") key[d] = r.text("workspace");
        if (d == "day") key[d] = day_of(start);
        if (d == "pool") key[d] = a.pool;
      }
      UsageTotals t;
      t.gpu_milli_ms = a.gpu_milli * ms;
      t.gpu_memory_mib_ms = a.gpu_memory_mib * ms;
      t.cpu_milli_ms = a.cpu_milli * ms;
      t.memory_mib_ms = a.memory_mib * ms;
      if (const Rates* rates = prices_.rates(a.pool)) {
        t.cost =
            static_cast<double>(t.gpu_milli_ms) / 1000 / kHourMs * rates->gpu_hour +
            static_cast<double>(t.gpu_memory_mib_ms) / 1024 / kHourMs * rates->gpu_memory_gib_hour +
            static_cast<double>(t.cpu_milli_ms) / 1000 / kHourMs * rates->cpu_core_hour +
            static_cast<double>(t.memory_mib_ms) / 1024 / kHourMs * rates->memory_gib_hour;
      }
      groups[key] += t;
      start = cut;
    }
  };
  std::string job;
  std::optional<Allocation> held;
  int64_t since = 0;
  const store::Row* last = nullptr;
  auto close_job = [&]() {
    if (held && last) add(*last, *held, since, now);  // still holding it
    held.reset();
  };
  for (const auto& r : rows) {
    if (r.text("job_id") != job) {
      close_job();
      job = r.text("job_id");
    }
    last = &r;
    const int64_t t = r.integer("time_ms");
    const std::string to = r.text("to_state");
    if (held && !active(to)) {
      add(r, *held, since, t);
      held.reset();
    }
    if (to == "admitted" && !r.text("allocation").empty()) {
      const Json a = Json::parse(r.text("allocation"), nullptr, false);
      if (a.is_object()) {
        held = Allocation{a.value("gpu_milli", int64_t{0}), a.value("gpu_memory_mib", int64_t{0}),
                          a.value("cpu_milli", int64_t{0}), a.value("memory_mib", int64_t{0}),
                          a.value("pool", std::string("default"))};
        since = t;
      }
    }
  }
  close_job();
  for (auto& [key, totals] : groups) {
    report.total += totals;
    report.rows.push_back({key, totals});
  }
  return report;
}

std::string usage_csv(const std::vector<std::string>& by, const std::vector<UsageRow>& rows) {
  std::vector<std::string> header = by;
  for (const char* c :
       {"gpu_hours", "gpu_memory_gib_hours", "cpu_core_hours", "memory_gib_hours", "cost"}) {
    header.emplace_back(c);
  }
  std::string out = csv_line(header);
  for (const auto& r : rows) {
    std::vector<std::string> cells;
    for (const auto& d : by) {
      auto it = r.key.find(d);
      cells.push_back(it == r.key.end() ? "" : it->second);
    }
    const Json t = r.totals.to_json();
    for (const char* c :
         {"gpu_hours", "gpu_memory_gib_hours", "cpu_core_hours", "memory_gib_hours", "cost"}) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.6f", t[c].get<double>());
      cells.emplace_back(buf);
    }
    out += csv_line(cells);
  }
  return out;
}

}  // namespace jz::jobs
