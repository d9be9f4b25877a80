// Converting a version's annotations between formats on the platform (mission G1;
// docs/DATA.md "Annotation formats"): the data owner's data never leaves the platform, so
// the conversion runs where it lives, as a job, and its result is the next version.
//
// A data owner names the annotations in version N (`input`: a COCO .json file, or a folder
// of VOC .xml, YOLO labels or image JSON), their format and the one wanted. A job of the
// project (its quota, its sandbox, no network for internal or secret data) runs
// `jizhan-algo data convert --from F --to T /data/NAME@N/INPUT /output/converted`; when it
// ends, the files it wrote are read as hostile input (regular files only, never through a
// link, names checked, bounded count and size) and version N+1 is version N plus them
// under `output` (split "labels"). Version N is untouched.
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

struct ConversionRequest {
  std::string from, to;  // coco | voc | yolo | json
  std::string input;     // in the version: the COCO file, or the folder of the others
  std::string images;    // from yolo: the images' folder in the version ("": INPUT/images)
  std::string output;    // the folder of the new version's files ("": labels/TO)
  std::string message;
  Json to_json() const;
};
// From a request body; errors name the field.
Result<ConversionRequest> parse_conversion_request(const Json& body);

struct Conversion {
  std::string id, project_id, dataset_id, dataset;
  int64_t number = 0;  // the version converted
  std::string job_id;
  std::string state;  // queued | running | done | failed | cancelled
  std::string message;
  ConversionRequest request;
  int64_t result_version = 0;  // done: the version made
  int64_t files = 0;           // done: files written
  std::string created_by;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
};

struct ConversionLimits {
  int64_t max_files = 200'000;
  int64_t max_bytes = int64_t{1} << 30;
};

class Conversions {
 public:
  Conversions(store::Database& db, Clock& clock, IdGenerator& ids, jobs::JobStore& jobs,
              jobs::Outputs& outputs, DatasetVersions& versions,
              std::shared_ptr<spdlog::logger> logger, ConversionLimits limits = {},
              std::chrono::milliseconds tick = std::chrono::milliseconds(500));
  ~Conversions();

  // Queues the job over version `number` (0: the newest), whose `input` must be there.
  Result<Conversion> start(const std::string& project_id, const std::string& project,
                           const std::string& dataset, int64_t number, const ConversionRequest& r,
                           const std::string& user_id, const std::string& username);
  // The dataset's conversions, newest first (at most 100).
  Result<std::vector<Conversion>> list(const std::string& project_id, const std::string& dataset);
  Result<Conversion> get(const std::string& project_id, const std::string& id);

  // Reads what the jobs that ended wrote (the thread calls it; tests may too).
  void tick();
  void start_thread() {
    ticker_.start([this] { tick(); });
  }
  void stop() { ticker_.stop(); }
  void wake() { ticker_.wake(); }

 private:
  Status ingest(const Conversion& c, const std::string& dir);
  Status finish(const Conversion& c, const std::string& state, const std::string& message,
                int64_t version, int64_t files);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  jobs::JobStore& jobs_;
  jobs::Outputs& outputs_;
  DatasetVersions& versions_;
  std::shared_ptr<spdlog::logger> logger_;
  ConversionLimits limits_;
  Ticker ticker_;
};

}  // namespace jz::datasets
