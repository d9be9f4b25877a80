// Job outputs (mission C1, D3): what a job wrote to /output is kept as its artifacts,
// listed with sizes and SHA-256, downloadable by the project, and removed after the
// retention period. A job that read internal or secret data (a dataset, or the held
// outputs of another job) may carry that data in what it wrote (a trained model can
// memorise its data), so its outputs are *held*: the project sees their names and sizes
// only, jobs of the same project may mount them (fine-tuning continues inside), and they
// leave only when a data owner approves a release request (files, sizes and what the job
// ran are in front of them). A refused request leaves them held. A reviewer never
// approves their own request.
//
// States of a job's outputs: open (no internal or secret input) | held | released |
// expired (the retention period passed: names and sizes stay, bytes are gone).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::jobs {

struct OutputFile {
  std::string path;  // relative to /output
  int64_t size = 0;
  std::string sha256;
};

struct JobOutputs {
  std::string job_id, project_id, dir, level, state;
  int64_t files = 0, bytes = 0;
  bool truncated = false;  // more files than were listed (max_files)
  std::string skipped;     // what was not kept (links, special files), said once
  int64_t recorded_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
};

struct Release {
  std::string id, project_id, job_id, state, reason, requested_by, requester;
  std::optional<std::string> reviewer, comment;
  int64_t created_at_ms = 0;
  std::optional<int64_t> decided_at_ms;
  Json to_json() const;
};

struct OutputsOptions {
  std::chrono::hours retention{24 * 30};  // 0: kept until the job is deleted
  size_t max_files = 10000;
};

class Outputs {
 public:
  Outputs(store::Database& db, Clock& clock, IdGenerator& ids, OutputsOptions options = {})
      : db_(db), clock_(clock), ids_(ids), options_(options) {}

  // Lists, sizes and hashes what is in `dir` (a job's output folder, which the job no
  // longer writes) and stores it as the job's outputs, replacing an earlier attempt's.
  // `level` is the strictest of the job's inputs: internal or secret holds them.
  Result<JobOutputs> record(const std::string& job_id, const std::string& project_id,
                            const std::string& dir, const std::string& level);
  Result<JobOutputs> get(const std::string& project_id, const std::string& job_id);
  // The recorded files by path, one keyset page.
  Result<store::Page<OutputFile>> files(const std::string& job_id, const store::PageSpec& page);
  // An open descriptor of one recorded file, opened without following any symlink below
  // the output folder (a dev environment that runs again may have replaced it); its size.
  Result<std::pair<int, int64_t>> open_file(const JobOutputs& o, const std::string& path);

  // A release request for held outputs (failed_precondition when they are not held,
  // already_exists when one is pending).
  Result<Release> request(const std::string& project_id, const std::string& job_id,
                          const std::string& user_id, const std::string& username,
                          const std::string& reason);
  // Approves or refuses a pending request; approving releases the outputs.
  Result<Release> decide(const std::string& project_id, const std::string& release_id,
                         const std::string& reviewer_id, const std::string& reviewer, bool approve,
                         const std::string& comment);
  Result<Release> release(const std::string& project_id, const std::string& release_id);
  // The project's requests, newest first by id; `state` filters ("" for all); `job` too.
  Result<store::Page<Release>> releases(const std::string& project_id, const std::string& state,
                                        const std::string& job_id, const store::PageSpec& page);
  // Removes the bytes of outputs past their retention; returns how many jobs' went.
  Result<int> expire();

 private:
  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  OutputsOptions options_;
};

// "open" < "internal" < "secret" (as datasets); the stricter of two.
std::string stricter_level(const std::string& a, const std::string& b);

}  // namespace jz::jobs
