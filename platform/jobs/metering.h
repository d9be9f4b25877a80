// Metering: what jobs held, and for how long, from the job history. Every admission's
// event records what it allocated (GPUs in milli-GPU, shares by their charge; GPU memory;
// CPU; memory; the pool), and the allocation lasts until the job leaves admitted,
// starting and running. Usage is the integral of allocations over time, kept exact as
// integers (milli-GPU x milliseconds, ...), so a project's total is the sum of its jobs'
// and of its days', whatever restarts happened between; hours and costs are derived at the
// end. Prices are per pool.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "store/database.h"

namespace jz::jobs {

// Prices per hour of each resource, per pool ("*": every pool without its own).
struct Rates {
  double gpu_hour = 0, gpu_memory_gib_hour = 0, cpu_core_hour = 0, memory_gib_hour = 0;
};
struct Prices {
  std::string currency;
  std::map<std::string, Rates> by_pool;
  const Rates* rates(const std::string& pool) const;
};
// "default: gpu=2.5, gpu_memory=0, cpu=0.04, memory=0.005; big: gpu=4": per pool, the
// price of a GPU-hour, a GPU-memory-GiB-hour, a core-hour and a memory-GiB-hour ("*" for
// every other pool); "" for none. invalid_argument naming what is wrong otherwise.
Result<Prices> parse_prices(const std::string& text, const std::string& currency);

struct UsageTotals {
  // Exact integrals: milli-GPU x ms, MiB x ms, milli-core x ms, MiB x ms.
  int64_t gpu_milli_ms = 0, gpu_memory_mib_ms = 0, cpu_milli_ms = 0, memory_mib_ms = 0;
  double cost = 0;
  UsageTotals& operator+=(const UsageTotals& o);
  bool operator==(const UsageTotals& o) const = default;
  // gpu_hours, gpu_memory_gib_hours, cpu_core_hours, memory_gib_hours, cost.
  Json to_json() const;
};

struct UsageRow {
  std::map<std::string, std::string> key;  // the grouping: job, user, project, workspace, day, pool
  UsageTotals totals;
};

struct UsageQuery {
  int64_t from_ms = 0, to_ms = 0;  // [from, to)
  // Any of job, user, project, workspace, day (UTC), pool; none: one total row.
  std::vector<std::string> by;
  std::set<std::string> project_ids;  // only these; empty: none
  std::string user;                   // only this user's jobs, when set
};

// The grouping dimensions a query may name.
const std::vector<std::string>& usage_dimensions();

class Metering {
 public:
  Metering(store::Database& db, Clock& clock, Prices prices)
      : db_(db), clock_(clock), prices_(std::move(prices)) {}
  // Rows in key order, and the total of them all.
  struct Report {
    std::vector<UsageRow> rows;
    UsageTotals total;
  };
  Result<Report> usage(const UsageQuery& q) const;
  const Prices& prices() const { return prices_; }

 private:
  store::Database& db_;
  Clock& clock_;
  Prices prices_;
};

// Rows as CSV: the key columns, then gpu_hours, gpu_memory_gib_hours, cpu_core_hours,
// memory_gib_hours, cost.
std::string usage_csv(const std::vector<std::string>& by, const std::vector<UsageRow>& rows);

}  // namespace jz::jobs
