// Training runs: what training code reports about itself (metrics, hyper-parameters, notes,
// progress), kept per project (docs/TRAINING.md). A run's row (name, owner, the job it
// belongs to, configuration, progress, notes) is in the database; its points are in a run
// store (training/store.h): DATA/training/RUN_ID for runs logged over HTTP, the job's
// folder for a job's run (its supervisor writes it: exec/metrics_channel.h), whose other
// records the service reads from that folder's records.jsonl when the run is looked at.
//
// Thread-safety: every method from any thread (writes to one run are serialised).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "store/database.h"
#include "store/rows.h"
#include "training/records.h"
#include "training/store.h"

namespace jz::training {

struct Run {
  std::string id, project_id, name, owner_id, owner, job_id;
  std::string state;  // running, finished
  Json config = Json::object();
  std::optional<int64_t> progress_done, progress_total;
  Json last = Json::object();  // tag -> {step, value, time}: from the store
  int64_t points = 0;          // from the store
  Json channel;                // a job's run: what its metrics channel passed and dropped
  std::string store_dir;       // a job's run: where its supervisor writes
  int64_t records_offset = 0;  // a job's run: what of records.jsonl is taken
  int64_t created_at_ms = 0, updated_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  Json to_json() const;
};

struct Note {
  int64_t time_ms = 0;
  std::string text;
};

struct RunOptions {
  std::string dir;         // where run stores go (DATA/training)
  size_t max_tags = 1000;  // tags per run
  // Records in one ingest call (the HTTP body limit bounds the bytes).
  size_t max_records = 100000;
  size_t max_notes = 1000;  // notes kept per run
};

struct IngestResult {
  int64_t points = 0;  // stored by this call
  size_t tags = 0;     // the run's tags after it
};

class RunService {
 public:
  RunService(store::Database& db, Clock& clock, IdGenerator& ids, RunOptions options);
  ~RunService();

  // A new run of `owner_id` (named `name`, or run-N when empty); already_exists when the
  // project has a run of that name.
  Result<Run> create(const std::string& project_id, const std::string& name,
                     const std::string& owner_id, const std::string& job_id = "");
  Result<Run> get(const std::string& project_id, const std::string& name);
  // The project's runs, newest first (or those of one job).
  Result<store::Page<Run>> list(const std::string& project_id, const store::PageSpec& page,
                                const std::string& job_id = "");
  // Stores what the records say, in order: points into the run's store (the time of a
  // point that has none is now), configuration merged, notes appended, progress and the
  // end kept. A finished run takes nothing more (failed_precondition). Bounds: the tags
  // per run, the notes per run; a record beyond them fails the call before anything of
  // it is stored.
  Result<IngestResult> ingest(const Run& run, const std::vector<Record>& records);
  Result<std::vector<std::string>> tags(const Run& run) const;
  Result<Series> series(const Run& run, const std::string& tag, const SeriesQuery& q) const;
  Result<std::vector<Note>> notes(const Run& run);
  std::string dir_of(const Run& run) const {
    return run.store_dir.empty() ? options_.dir + "/" + run.id : run.store_dir;
  }

  // A job's run (named after the job) starts or starts again (a new attempt writes to a new
  // folder: the run shows the latest attempt's points).
  Status job_started(const std::string& project_id, const std::string& job_id,
                     const std::string& owner_id, const std::string& store_dir);
  // The job ended: what its folder still holds is taken and the run finishes.
  Status job_ended(const std::string& project_id, const std::string& job_id);

 private:
  // A job's run: takes the records its supervisor appended since the last look.
  Status sync(Run& run);
  // Stores configuration, notes, progress and the end of `records` (points aside).
  Status apply(store::Conn& c, const Run& run, const std::vector<Record>& records,
               std::optional<int64_t> records_offset);
  void fill_from_store(Run& run) const;
  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  RunOptions options_;
  std::mutex mu_;       // guards writers_ and serialises ingest
  std::mutex sync_mu_;  // serialises taking a job's records
  std::map<std::string, std::unique_ptr<RunWriter>> writers_;
};

}  // namespace jz::training
