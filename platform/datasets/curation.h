// Curation of a dataset version (mission G2, G3; docs/DATA.md "Curation and review"):
// near-duplicates and poor images found by a job, removed only by a person.
//
// A data owner starts a curation of version N with thresholds (near-duplicate radius,
// sharpness, exposure, size, BRISQUE). It runs as a job of the project, like any other
// (quotas, its sandbox, no network for internal or secret data, its log filtered by the
// data's level): `jizhan-algo data curate /data/NAME@N --out /output/curation.json`. When
// the job ends, the report is read here: each file's perceptual hash (with its algorithm
// and version) and quality measures are kept per content (SHA-256), and the proposals go
// to the review queue: the duplicates of each group (the group's kept image beside them)
// and the images that fail a threshold, each with its reason. A person confirms or rejects
// each; applying the curation makes version N+1 without the confirmed ones (version N is
// untouched: nothing is ever deleted without that confirmation).
//
// Developers see a curation's counts; its paths, proposals and decisions are the data
// owners' (the API checks who calls).
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/datasets/job_watch.h"
#include "platform/datasets/versions.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "store/database.h"

namespace jz::datasets {

struct CurationOptions {
  int radius = 10;
  double min_sharpness = 20, min_brightness = 40, max_brightness = 215;
  int min_width = 64, min_height = 64;
  bool brisque = false;
  double max_brisque = 60;
  Json to_json() const;
};
// From a request body (absent fields keep those of `base`: the dataset's thresholds, or the
// built-in ones); errors name the field.
Result<CurationOptions> parse_curation_options(const Json& body, const CurationOptions& base = {});

// A dataset's own thresholds, which its curations start from.
struct CurationDefaults {
  CurationOptions options;
  std::string updated_by;  // "" while the built-in ones apply
  int64_t updated_at_ms = 0;
};

struct Curation {
  std::string id, project_id, dataset_id, dataset;
  int64_t number = 0;  // the version curated
  std::string job_id;
  std::string state;  // queued | running | review | applied | failed | cancelled
  std::string message;
  CurationOptions options;
  // images, flagged, groups, proposals, pending, confirmed, rejected, algorithm
  Json summary = Json::object();
  int64_t applied_version = 0;  // the version applying it made (0: not applied)
  std::string created_by;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
};

struct Proposal {
  std::string path;
  std::string kind;      // duplicate | quality
  std::string reason;    // "exact duplicate of a.jpg", "blurry: sharpness 3.1, under 20.0; ..."
  std::string keep;      // a duplicate's group's kept image ("" for quality)
  int distance = 0;      // bits from the kept image's hash
  std::string decision;  // pending | confirmed | rejected
  std::string decided_by;
  std::optional<int64_t> decided_at_ms;
};

// What a check measured of one content (kept per project and SHA-256).
struct ImageFacts {
  std::string algorithm, phash;
  int64_t width = 0, height = 0;
  double sharpness = 0, brightness = 0;
  std::string problems;  // what it fails, as the check said ("blurry: ...; small: ..."; "": none)
  Json to_json() const;
};

class CurationService {
 public:
  CurationService(store::Database& db, Clock& clock, IdGenerator& ids, jobs::JobStore& jobs,
                  jobs::Outputs& outputs, DatasetVersions& versions,
                  std::shared_ptr<spdlog::logger> logger,
                  std::chrono::milliseconds tick = std::chrono::milliseconds(500));
  ~CurationService();

  // Queues the curation job of version `number` (0: the newest).
  Result<Curation> start(const std::string& project_id, const std::string& project,
                         const std::string& dataset, int64_t number, const CurationOptions& o,
                         const std::string& user_id, const std::string& username);
  Result<Curation> get(const std::string& project_id, const std::string& id);
  // The dataset's thresholds (the built-in ones until someone sets them).
  Result<CurationDefaults> defaults(const std::string& project_id, const std::string& dataset);
  Result<CurationDefaults> set_defaults(const std::string& project_id, const std::string& dataset,
                                        const CurationOptions& o, const std::string& actor);
  // The dataset's curations, newest first (at most 100).
  Result<std::vector<Curation>> list(const std::string& project_id, const std::string& dataset);
  // The facts of these contents (SHA-256s) the project's checks measured; contents never
  // checked are absent.
  Result<std::map<std::string, ImageFacts>> facts(const std::string& project_id,
                                                  const std::set<std::string>& shas);
  // The duplicate groups the newest check of version `number` found (one in review or
  // applied): each path of a group -> the group's kept image (the kept one -> itself).
  Result<std::map<std::string, std::string>> duplicate_groups(const std::string& project_id,
                                                              const std::string& dataset,
                                                              int64_t number);
  // Its proposals by path; `decision` "" for all.
  Result<std::vector<Proposal>> proposals(const Curation& c, const std::string& decision = "");
  // Confirms or rejects proposals (path -> "confirmed" | "rejected" | "pending"), while the
  // curation is in review.
  Status decide(const std::string& project_id, const std::string& id,
                const std::map<std::string, std::string>& decisions, const std::string& actor);
  // Makes the version without the confirmed proposals; the curation is then applied.
  Result<Version> apply(const std::string& project_id, const std::string& id,
                        const std::string& actor);

  // Reads the reports of curation jobs that ended (the thread calls it; tests may too).
  void tick();
  Status start_thread();
  void stop();
  void wake();

 private:
  Status ingest(Curation& c, const std::string& report_path);
  Status finish(const Curation& c, const std::string& state, const std::string& message);
  Status refresh_summary(store::Conn& conn, const std::string& id);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  jobs::JobStore& jobs_;
  jobs::Outputs& outputs_;
  DatasetVersions& versions_;
  std::shared_ptr<spdlog::logger> logger_;
  Ticker ticker_;
};

}  // namespace jz::datasets
