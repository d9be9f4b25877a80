// Pre-annotation of a labelling task (mission G4; docs/DATA.md "Pre-annotation"): an
// algorithm the project uploaded (a `.jzpkg` that passed its checks) runs as a job over the
// task's version, and its boxes become the task's first shapes, for people to correct.
//
// The job is one of the project's like any other (quotas, its sandbox, no network for
// internal or secret data, its log filtered by the data's level): `jizhan-algo algo run
// --package /algorithm/package.jzpkg --input /data/NAME@N --out /output/results.jsonl`.
// When it ends, its results are read here as hostile input: each line's `sample` must be
// an image of the task; the objects under `model_data` (or `algorithm_data`) become boxes
// when their name maps to one of the task's classes (`classes`: NAME -> CLASS; by default
// a name that is a class is that class) and their confidence reaches `min_confidence`;
// boxes are cut to the image and checked as a person's shapes are. An image gets them
// only while no person has opened or saved it (a re-run replaces model shapes nobody has
// looked at); it stays "not opened", so its annotator must still look at it before
// submitting. Opening it keeps the shapes the model's (`source` model) until a person
// changes them.
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/datasets/job_watch.h"
#include "platform/datasets/labelling.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "store/database.h"

namespace jz::datasets {

struct PreAnnotationRequest {
  std::string algorithm, version;  // an uploaded package that passed its checks
  double min_confidence = 0.5;
  std::string from = "model_data";             // model_data | algorithm_data
  std::map<std::string, std::string> classes;  // the algorithm's name -> the task's class
  int64_t gpus = 0;
  Json to_json() const;  // what the job was asked (not the algorithm)
};
// From a request body; errors name the field. `spec`: the task's, for the class map.
Result<PreAnnotationRequest> parse_pre_annotation_request(const Json& body, const LabelSpec& spec);

// What a job's results give, from one results line: the boxes of the task's classes, cut
// to the image and checked (`dropped`: objects left out and why, counted by reason).
Result<Json> boxes_of(const Json& line, const PreAnnotationRequest& r, const LabelSpec& spec,
                      std::map<std::string, int64_t>& dropped);

struct PreAnnotation {
  std::string id, project_id, task_id;
  std::string job_id;
  std::string state;  // queued | running | done | failed | cancelled
  std::string message;
  PreAnnotationRequest request;
  // frames, images (given shapes), shapes, touched (images people had saved: left alone),
  // not_in_task, errors (frames the algorithm failed on), dropped {reason: objects}
  Json summary = Json::object();
  std::string created_by;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
};

class PreAnnotations {
 public:
  PreAnnotations(store::Database& db, Clock& clock, IdGenerator& ids, jobs::JobStore& jobs,
                 jobs::Outputs& outputs, Labelling& labelling,
                 std::shared_ptr<spdlog::logger> logger,
                 std::chrono::milliseconds tick = std::chrono::milliseconds(500));
  ~PreAnnotations();

  // Queues the job. The caller has checked that the algorithm is the project's and ready.
  Result<PreAnnotation> start(const LabelTask& t, const std::string& project,
                              const PreAnnotationRequest& r, const std::string& user_id,
                              const std::string& username);
  // The task's pre-annotations, newest first (at most 100).
  Result<std::vector<PreAnnotation>> list(const LabelTask& t);
  Result<PreAnnotation> get(const LabelTask& t, const std::string& id);

  // Reads the results of jobs that ended (the thread calls it; tests may too).
  void tick();
  void start_thread();
  void stop();
  void wake();

 private:
  Status ingest(const PreAnnotation& p, const std::string& results_path);
  Status finish(const PreAnnotation& p, const std::string& state, const std::string& message,
                const Json& summary);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  jobs::JobStore& jobs_;
  jobs::Outputs& outputs_;
  Labelling& labelling_;
  std::shared_ptr<spdlog::logger> logger_;
  Ticker ticker_;
};

}  // namespace jz::datasets
