// Lifecycle rules of a dataset (mission G3; docs/DATA.md "Lifecycle"): what to keep, archive
// or delete, and after how many days, by tag, split or version.
//
// A dataset has one ordered list of rules. Each rule is either
//   - a file rule (it names a tag, a split, or both): it looks at the files of the newest
//     version, aged from the time their content first appeared at their path in the
//     dataset. `delete` leaves the matching files out of a new version (the versions that
//     hold them keep them until a version rule removes those versions); `keep` protects
//     them from the file rules after it. Files are never archived one by one: archive the
//     versions that hold them.
//   - a version rule (no tag or split): it looks at every version but the newest (a
//     dataset always keeps its newest), aged from its creation, optionally only version
//     `version` and never the newest `keep_newest`. `archive` moves the version's files to
//     the archive store (DatasetVersions::archive; restorable), `delete` deletes it with
//     what was derived from it, `keep` protects it from the version rules after it.
// For each file and each version the first rule that matches decides; a version that is
// being labelled or curated is left alone and the plan says why.
//
// plan() is the dry run: it lists what apply() would do, and apply() does exactly what a
// plan made at that moment lists. Each change apply() makes is a record in the audit trail
// (the user who applied it, or "lifecycle" for the automatic daily run of datasets whose
// rules say `automatic`).
//
// Thread-safety: every method from any thread; one apply at a time per service.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/datasets/versions.h"
#include "platform/iam/audit.h"
#include "store/database.h"

namespace jz::datasets {

struct LifecycleRule {
  std::string action;       // keep | archive | delete
  int64_t after_days = 0;   // only what is older than this many days
  std::string tag, split;   // a file rule when either is set
  int64_t version = 0;      // a version rule for this version only (0: any)
  int64_t keep_newest = 0;  // a version rule never touches the newest this many
  bool file_rule() const { return !tag.empty() || !split.empty(); }
  Json to_json() const;
};

struct LifecyclePolicy {
  std::vector<LifecycleRule> rules;
  bool automatic = false;  // applied once a day without a person
  std::string updated_by;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> last_run_at_ms;
  Json last_result = Json::object();  // what the last apply did (counts)
};

// From a request body {"rules": [...], "automatic": bool}; errors name the rule and field.
Result<LifecyclePolicy> parse_lifecycle_policy(const Json& body);

struct PlannedFile {
  std::string path;
  int64_t bytes = 0;
  int64_t age_days = 0;
  int rule = 0;  // 1-based
};

struct PlannedVersion {
  int64_t number = 0;
  std::string action;  // archive | delete | keep | busy
  int rule = 0;        // 1-based; 0 for busy
  int64_t age_days = 0;
  int64_t bytes = 0;
  std::string reason;
};

struct LifecyclePlan {
  std::string dataset;
  int64_t newest = 0;  // the version the file rules looked at (0: none)
  int64_t at_ms = 0;
  std::vector<PlannedFile> files;  // left out of a new version
  int64_t files_kept = 0;          // files a keep rule protected
  std::vector<PlannedVersion> versions;
  int64_t new_version = 0;  // apply: the version it made (0: none)
  // The plan's counts, and with `paths` its files' paths (data owners only).
  Json to_json(bool paths) const;
};

class Lifecycle {
 public:
  // `audit` may be null (audit.enabled=false).
  Lifecycle(store::Database& db, Clock& clock, DatasetVersions& versions, iam::AuditLog* audit,
            std::shared_ptr<spdlog::logger> logger);
  ~Lifecycle();

  // The dataset's rules (none yet: an empty list).
  Result<LifecyclePolicy> policy(const std::string& project_id, const std::string& dataset);
  Result<LifecyclePolicy> set_policy(const std::string& project_id, const std::string& dataset,
                                     LifecyclePolicy p, const std::string& actor);
  // The dry run.
  Result<LifecyclePlan> plan(const std::string& project_id, const std::string& dataset);
  // Does what plan() lists now, recording each change in the audit trail as `actor`.
  Result<LifecyclePlan> apply(const std::string& project_id, const std::string& dataset,
                              const std::string& actor);
  // Applies the rules of every dataset whose policy is automatic and that has not run for
  // `interval`; returns how many datasets it applied.
  Result<int> run_due(std::chrono::milliseconds interval);
  // run_due(interval) now and every `every` until destroyed.
  void start_thread(std::chrono::milliseconds interval, std::chrono::milliseconds every);

 private:
  Result<LifecyclePlan> plan_locked(const std::string& project_id, const std::string& dataset,
                                    const LifecyclePolicy& p);
  void record(const std::string& actor, const std::string& project_id, const std::string& verb,
              const std::string& name, const Json& summary);

  store::Database& db_;
  Clock& clock_;
  DatasetVersions& versions_;
  iam::AuditLog* audit_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex apply_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace jz::datasets
