// Labelling (mission G4; docs/DATA.md "Labelling"): tasks over a dataset version, split into
// jobs that annotators draw and reviewers accept or send back, exported as a new version.
//
// A data owner makes a task over version N of a dataset: its classes, the shapes allowed
// (boxes, polygons), attributes with their allowed values, and who annotates and reviews.
// The version's images are dealt into jobs of `job_size` images, the jobs to the
// annotators in turn, each with a reviewer. A job goes
//
//   annotating --submit--> review --accept--> accepted
//                             \--rework--> rework --submit--> review ...
//
// An annotator sees and draws only the images of the jobs given to them, and only while
// the job is theirs to work on (annotating, rework); a reviewer sees a job's images in
// every state and may correct shapes while it is in review. Each image keeps its shapes
// now and as the annotator last submitted them, so the task's statistics say, per
// annotator, how much was done, how fast, how often it came back, and how far the
// reviewers agreed with it (shapes the reviewer kept: same class, IoU >= 0.5).
//
// Exporting writes the shapes into the task's version as annotation files (COCO with
// polygons and attributes, or one image JSON per image) and makes version N+1 of them;
// only when every job is accepted. Deleting a task deletes its jobs and shapes.
//
// Thread-safety: every method from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/datasets/versions.h"
#include "store/database.h"

namespace jz::datasets {

struct LabelAttribute {
  std::string name;
  std::vector<std::string> values;  // the allowed values; the first is the default
};

struct LabelSpec {
  std::vector<std::string> classes;
  std::vector<std::string> shapes = {"box"};  // box, polygon
  std::vector<LabelAttribute> attributes;
  Json to_json() const;
};
// From a request body; errors name the field.
Result<LabelSpec> parse_label_spec(const Json& j);

struct Person {
  std::string user_id, username;
};

struct TaskRequest {
  std::string name;
  int64_t number = 0;  // the version (0: the newest)
  LabelSpec spec;
  int64_t job_size = 50;
  std::vector<Person> annotators, reviewers;  // jobs dealt in turn
};

struct LabelTask {
  std::string id, project_id, dataset_id, dataset, name;
  int64_t number = 0;
  LabelSpec spec;
  std::string state;  // open | exported
  int64_t exported_version = 0;
  int64_t images = 0;
  Json jobs = Json::object();  // state -> jobs
  std::string created_by;
  int64_t created_at_ms = 0;
};

struct LabelJob {
  std::string id, task_id;
  int64_t seq = 0;  // 1, 2, ... in the task
  std::vector<std::string> files;
  Person annotator, reviewer;
  std::string state;  // annotating | review | rework | accepted
  std::string note;   // the reviewer's, when sent back
  int64_t reworks = 0;
  int64_t opened = 0, shapes = 0;  // images with shapes saved; shapes now
  int64_t work_ms = 0;             // from first open to each submission, summed
  std::optional<int64_t> started_at_ms, submitted_at_ms, accepted_at_ms;
};

struct ImageLabels {
  std::string path;
  int width = 0, height = 0;  // 0: never opened
  Json shapes = Json::array();
  Json submitted;      // the annotator's shapes as last submitted (null before)
  std::string source;  // human | model
  std::string updated_by;
  int64_t updated_at_ms = 0;
};

// Shapes as the tool sends them, checked against the spec and the image's size:
// [{"type": "box", "label", "x", "y", "width", "height", "attributes": {}},
//  {"type": "polygon", "label", "points": [x1, y1, ...], "attributes": {}}].
Result<Json> check_shapes(const LabelSpec& spec, const Json& shapes, int width, int height);

class Labelling {
 public:
  Labelling(store::Database& db, Clock& clock, IdGenerator& ids, DatasetVersions& versions);

  Result<LabelTask> create(const std::string& project_id, const std::string& dataset,
                           const TaskRequest& r, const std::string& actor);
  // The project's tasks, newest first (at most 200).
  Result<std::vector<LabelTask>> list(const std::string& project_id);
  Result<LabelTask> get(const std::string& project_id, const std::string& id);
  Result<std::vector<LabelJob>> jobs(const LabelTask& t);
  Result<LabelJob> job(const LabelTask& t, const std::string& job_id);
  // Jobs given to `user_id` to annotate or review, in the project's open tasks.
  Result<std::vector<std::pair<LabelTask, LabelJob>>> work_of(const std::string& project_id,
                                                              const std::string& user_id);
  Status assign(const LabelTask& t, const std::string& job_id, const std::optional<Person>& a,
                const std::optional<Person>& r);
  Status remove(const std::string& project_id, const std::string& id);

  // The images of a job with their shapes.
  Result<std::vector<ImageLabels>> labels(const LabelTask& t, const LabelJob& j);
  // Saves one image's shapes (`width` x `height`: the image as the tool read it). The
  // annotator while the job is theirs, the reviewer while it is in review.
  Status save(const LabelTask& t, const std::string& job_id, const std::string& path, int width,
              int height, const Json& shapes, const Person& actor,
              const std::string& source = "human");
  // The annotator hands the job to review: every image must have been opened.
  Status submit(const LabelTask& t, const std::string& job_id, const Person& actor);
  // The reviewer accepts the job or sends it back with a note.
  Status review(const LabelTask& t, const std::string& job_id, bool accept, const std::string& note,
                const Person& actor);
  // Per annotator: jobs, images, shapes, accepted, reworks, work time, images an hour,
  // agreement with the reviewers (kept shapes / max(submitted, final) over accepted images).
  Result<Json> statistics(const LabelTask& t);
  // Version N+1 with the annotations; `format` coco | image-json.
  Result<Version> export_version(const LabelTask& t, const std::string& format,
                                 const std::string& actor);

 private:
  Result<LabelJob> job_locked(store::Conn& conn, const LabelTask& t, const std::string& job_id);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  DatasetVersions& versions_;
};

}  // namespace jz::datasets
