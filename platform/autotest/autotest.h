// The automatic test service (mission F1-F7, docs/AUTOTEST.md): test suites a project's
// data owners keep (a dataset of samples, annotations the algorithms never see, a
// template, pass thresholds; each change a new version), algorithm packages developers
// upload (checked: intact, signed, conformant), and evaluations: a suite version x an
// algorithm version run as an `eval` job (scheduled against the project's quotas like
// any job, in its sandbox, the samples read-only, no network for internal or secret
// data), then scored here with the template against the annotations.
//
// Files under DIR (AutotestOptions::dir):
//   suites/<suite id>/<version>/annotations.<ext>   what the algorithm's results are judged by
//   algorithms/<project id>/<name>/<version>/package.jzpkg
//                                                    mounted read-only at /algorithm
//   evaluations/<evaluation id>/                     report.json, report.html, samples.csv
//
// A background thread checks uploaded packages (`jizhan-algo algo check`, sandboxed) and
// scores evaluations whose job ended; both survive a restart (their state is in the
// database).
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::autotest {

struct Suite {
  std::string id, project_id, name, description;
  int64_t version = 0;
  std::string dataset;  // the samples: a dataset of the project
  std::string input;    // a path inside it ("" the whole folder): a folder, an image, a video
  std::string level;    // the dataset's security level when this version was made
  std::string template_text;
  std::string template_name;
  std::string annotations_file;  // its name as uploaded (its extension says its format)
  int64_t annotations_bytes = 0;
  std::vector<std::string> thresholds;
  int64_t frame_timeout_s = 10;    // per frame, before the algorithm's child is killed
  double fps = 0;                  // video: frames analysed a second (0: every frame)
  int64_t max_frames = 0;          // 0: every frame
  int64_t runtime_limit_s = 3600;  // the evaluation job's
  std::string created_by;
  int64_t created_at_ms = 0, updated_at_ms = 0;
  // The suite as the API shows it; without the template and thresholds for list rows.
  Json to_json(bool full = true) const;
};

// What a data owner gives to make or change a suite (a new version each time).
struct SuiteInput {
  std::string name, description, dataset, input;
  std::string template_text;
  std::string annotations_file;            // a file name: truth.jsonl, instances.json, ...
  std::optional<std::string> annotations;  // the file's content; none: keep the last version's
  std::vector<std::string> thresholds;
  int64_t frame_timeout_s = 10;
  double fps = 0;
  int64_t max_frames = 0;
  int64_t runtime_limit_s = 3600;
};
// From a request body; errors name the field.
Result<SuiteInput> parse_suite_input(const Json& body, bool update);

struct Algorithm {
  std::string id, project_id, name, version;
  std::string publisher, key_id, sha256;
  int64_t size = 0;
  bool licence_required = false;
  std::string state;  // checking | ready | failed
  Json check;         // the conformance checks: [{name, passed, detail, seconds}]
  std::string message;
  std::string uploaded_by;
  int64_t created_at_ms = 0;
  Json to_json() const;
};

struct Evaluation {
  std::string id, project_id, suite_id, suite, algorithm_id, algorithm, algorithm_version;
  int64_t suite_version = 0;
  std::string suite_level;
  std::string job_id;
  // queued | running | scoring | passed | failed (a threshold) | error | cancelled
  std::string state;
  std::string message;
  Json config;  // merged over the package's default config (null: none)
  Json result;  // metrics, performance, errors, thresholds, samples (the full report's)
  std::string owner_id, owner;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  // `full`: the report as its data owners see it; otherwise, for internal and secret
  // suites, the redacted one (report.h).
  Json to_json(bool full) const;
};

struct AutotestOptions {
  std::string dir;            // DATA/autotest
  std::string algo_binary;    // jizhan-algo, for the checks of uploaded packages
  bool check_sandbox = true;  // run the checks in bubblewrap (tests on machines without it: off)
  std::chrono::milliseconds tick{500};
  int64_t max_package_bytes = int64_t{4} << 30;
  int64_t max_annotations_bytes = int64_t{256} << 20;
};

class AutotestService {
 public:
  AutotestService(store::Database& db, Clock& clock, IdGenerator& ids, jobs::JobStore& jobs,
                  jobs::Datasets& datasets, jobs::Outputs& outputs, AutotestOptions options,
                  std::shared_ptr<spdlog::logger> logger);
  ~AutotestService();

  // ---- suites
  Result<Suite> create_suite(const std::string& project_id, const SuiteInput& in,
                             const std::string& actor);
  // A new version: what `in` gives replaces the last version's (annotations kept when
  // `in.annotations` is none).
  Result<Suite> update_suite(const std::string& project_id, const std::string& name,
                             const SuiteInput& in, const std::string& actor);
  // The latest version, or `version` (> 0).
  Result<Suite> suite(const std::string& project_id, const std::string& name, int64_t version = 0);
  Result<store::Page<Suite>> suites(const std::string& project_id, const store::PageSpec& page);
  Result<std::vector<Suite>> suite_versions(const std::string& project_id, const std::string& name);
  Status delete_suite(const std::string& project_id, const std::string& name);

  // ---- algorithms
  // Checks the package (entries, hashes, signature, manifest), keeps it, and queues the
  // conformance checks. already_exists for a name and version uploaded before with other
  // bytes; the same bytes again return the stored one.
  Result<Algorithm> upload_algorithm(const std::string& project_id, std::string_view bytes,
                                     const std::string& actor);
  Result<Algorithm> algorithm(const std::string& project_id, const std::string& name,
                              const std::string& version);
  Result<store::Page<Algorithm>> algorithms(const std::string& project_id,
                                            const store::PageSpec& page);
  Status delete_algorithm(const std::string& project_id, const std::string& name,
                          const std::string& version);
  // Where an uploaded algorithm's package is kept.
  std::string package_path(const Algorithm& a) const {
    return algorithm_dir(a.project_id, a.name, a.version) + "/package.jzpkg";
  }

  // ---- evaluations
  struct EvaluationRequest {
    std::string suite;
    int64_t suite_version = 0;  // 0: the latest
    std::string algorithm, version;
    Json config;     // null: the package's default
    Json resources;  // the job's: {gpus, cpu, memory_mib}; null: 1 CPU, 4 GiB
    std::string priority_class;
  };
  Result<Evaluation> evaluate(const std::string& project_id, const std::string& project,
                              const EvaluationRequest& r, const std::string& user_id,
                              const std::string& username);
  Result<Evaluation> evaluation(const std::string& project_id, const std::string& id);
  struct EvaluationFilter {
    std::string suite, algorithm, owner_id, state;
  };
  Result<store::Page<Evaluation>> evaluations(const std::string& project_id,
                                              const EvaluationFilter& f,
                                              const store::PageSpec& page);
  // The full report's files (data owners): report.json, report.html, samples.csv.
  Result<std::string> report_file(const Evaluation& e, const std::string& name) const;
  // The report as one HTML page: the full one, or made from the redacted view.
  Result<std::string> report_html(const Evaluation& e, bool full) const;
  // Where a suite version's annotations are, and an ended evaluation's results.jsonl.
  std::string annotations_path(const Suite& s) const;
  Result<std::string> results_path(const Evaluation& e);
  // More work for the background thread, each tick (competitions: closing, verdicts).
  void also_tick(std::function<void()> fn) { also_ = std::move(fn); }
  // The GPU memory an ended job held at its peak, in MiB (the GPU monitor's series), or
  // none without a GPU or a monitor: an evaluation's performance.gpu_memory_mib. Call
  // before start().
  void gpu_memory_of(std::function<std::optional<double>(const jobs::Job&)> fn) {
    gpu_memory_ = std::move(fn);
  }

  // Checks and scores what is due now (the thread calls it; tests may call it directly).
  void tick();
  Status start();
  void stop();
  void wake();

 private:
  Status check_algorithm(const Algorithm& a);
  Status score(Evaluation& e);
  Status finish(Evaluation& e, const std::string& state, const std::string& message,
                const Json& result);
  std::string suite_dir(const std::string& suite_id, int64_t version) const;
  std::string algorithm_dir(const std::string& project_id, const std::string& name,
                            const std::string& version) const;
  std::string evaluation_dir(const std::string& id) const;
  Result<Suite> write_suite(const std::string& project_id, const SuiteInput& in,
                            const std::optional<Suite>& last, const std::string& actor);
  void loop();

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  jobs::JobStore& jobs_;
  jobs::Datasets& datasets_;
  jobs::Outputs& outputs_;
  AutotestOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;  // suite versions: one writer at a time
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
  std::function<void()> also_;
  std::function<std::optional<double>(const jobs::Job&)> gpu_memory_;
  std::atomic<bool> busy_{false};  // evaluations or checks under way at the last tick
  std::thread thread_;
};

}  // namespace jz::autotest
