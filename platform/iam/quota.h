// Project quotas (mission B4): GPUs in whole-GPU equivalents (fractions allowed, kept
// as thousandths), GPU memory, concurrent jobs, CPU cores (fractions allowed), memory,
// a per-user GPU limit inside the project, and storage. An absent limit is unlimited. Stored
// and validated here; the scheduler enforces them. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "store/database.h"

namespace jz::iam {

struct Quota {
  std::optional<int64_t> gpus_milli;
  std::optional<int64_t> gpu_memory_mib;
  std::optional<int64_t> concurrent_jobs;
  std::optional<int64_t> cpu_milli;
  std::optional<int64_t> memory_mib;
  std::optional<int64_t> per_user_gpus_milli;
  // Disk a project's job outputs, work folders, logs and uploaded datasets may take; the
  // job runner stops its jobs past it (reason StorageQuotaExceeded).
  std::optional<int64_t> storage_mib;
  // The clusters its jobs may run on (names from the cluster registry, "local" for this
  // machine); empty: any.
  std::vector<std::string> clusters;

  // {"gpus": 2.5, "gpu_memory_mib": ..., ..., "per_user_gpus": 1, "clusters": ["a"]};
  // null = unlimited (clusters: null or [] = any).
  Json to_json() const;
  // Parses and validates a PUT body; every message names its field. Unknown fields are
  // errors too, so a misspelt limit is not silently ignored.
  static Result<Quota> from_json(const Json& body);
};

// Current use of a project, for "a quota may not go below what is in use". Until the
// job service exists (issue 7) nothing is in use.
struct QuotaUse {
  int64_t gpus_milli = 0;
  int64_t concurrent_jobs = 0;
};

class Quotas {
 public:
  Quotas(store::Database& db, Clock& clock) : db_(db), clock_(clock) {}
  // The project's quota; all unlimited when none was set.
  Result<Quota> get(const std::string& project_id);
  // Replaces the quota; refuses limits below `use`.
  Status set(const std::string& project_id, const Quota& q, const QuotaUse& use = {});

 private:
  store::Database& db_;
  Clock& clock_;
};

}  // namespace jz::iam
