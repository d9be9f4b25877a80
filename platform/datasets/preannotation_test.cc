// Pre-annotation on both databases: the job it queues (the uploaded package over the task's
// version), its results read as hostile input (only the task's images, only its classes,
// boxes cut to the image), images a person saved left alone, and the annotator still made
// to open every image.
#include "platform/datasets/preannotation.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>

#include "core/files.h"
#include "platform/datasets/fixture_test.h"
#include "platform/iam/events.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;

class PreAnnotationTest : public JobServicesTest {
 protected:
  void SetUp() override {
    JobServicesTest::SetUp();
    if (HasFatalFailure()) return;
    labelling_ = std::make_unique<Labelling>(*db_, clock_, ids_, *versions_);
    pre_ = std::make_unique<PreAnnotations>(
        *db_, clock_, ids_, *jobs_, *outputs_, *labelling_,
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    for (const char* f : {"a.png", "b.png", "c.png", "d.png"}) put("street", f, f);
    put("street", "readme.txt", "not an image");
    registered("street");
    snap("street");
    TaskRequest r;
    r.name = "cars";
    r.spec = *parse_label_spec(Json::parse(R"({"classes": ["car", "person"]})"));
    r.job_size = 2;
    r.annotators = {ann_};
    r.reviewers = {rev_};
    auto t = labelling_->create(project_, "street", r, "owner");
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    task_ = *t;
  }

  PreAnnotationRequest request(const char* extra = "{}") {
    Json body = Json::parse(extra);
    body["algorithm"] = "detector";
    body["version"] = "1.0.0";
    auto r = parse_pre_annotation_request(body, task_.spec);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : PreAnnotationRequest{};
  }

  // The job runs and ends with `results` as its /output/results.jsonl.
  PreAnnotation run(const PreAnnotation& p, const std::string& results) {
    EXPECT_TRUE(jobs_->transition(p.job_id, {"queued"}, {.to = "running", .started = true}).ok());
    pre_->tick();
    EXPECT_EQ(pre_->get(task_, p.id)->state, "running");
    const std::string out = dir_.str() + "/out-" + p.id;
    fs::create_directories(out);
    EXPECT_TRUE(write_file(out + "/results.jsonl", results).ok());
    EXPECT_TRUE(outputs_->record(p.job_id, project_, out, "secret").ok());
    EXPECT_TRUE(jobs_
                    ->transition(p.job_id, {"running"},
                                 {.to = "succeeded", .exit_code = 0, .finished = true})
                    .ok());
    pre_->tick();
    return *pre_->get(task_, p.id);
  }

  static std::string line(const std::string& sample, const Json& objects, int w = 100, int h = 80) {
    return json::dump(Json{{"frame", 0},
                           {"sample", sample},
                           {"width", w},
                           {"height", h},
                           {"result", {{"model_data", {{"objects", objects}}}}}}) +
           "\n";
  }
  static Json object(const char* name, double confidence, double x, double y, double w, double h) {
    return {{"name", name}, {"confidence", confidence}, {"x", x}, {"y", y}, {"width", w},
            {"height", h}};
  }

  std::map<std::string, ImageLabels> labels() {
    std::map<std::string, ImageLabels> out;
    auto jobs = labelling_->jobs(task_);
    EXPECT_TRUE(jobs.ok());
    for (const auto& j : *jobs) {
      auto ls = labelling_->labels(task_, j);
      EXPECT_TRUE(ls.ok());
      for (auto& l : *ls) out[l.path] = l;
    }
    return out;
  }

  std::unique_ptr<Labelling> labelling_;
  std::unique_ptr<PreAnnotations> pre_;
  LabelTask task_;
  const Person ann_{"usr_ann", "ann"}, rev_{"usr_rev", "rev"};
};

TEST_P(PreAnnotationTest, AnAlgorithmsBoxesBecomeFirstShapesThatPeopleThenOwn) {
  auto p = pre_->start(task_, "vision", request(R"({"classes": {"truck": "car"}})"), "usr_owner",
                       "owner");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->state, "queued");
  // The job: the project's uploaded package over the task's version, as any job of the
  // project (its sandbox, its quota).
  auto job = jobs_->get(p->job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.datasets, std::vector<std::string>{"street@1"});
  EXPECT_EQ(job->spec.algorithm_name, "detector");
  EXPECT_EQ(job->spec.algorithm_version, "1.0.0");
  const auto& cmd = job->spec.command;
  EXPECT_NE(std::find(cmd.begin(), cmd.end(), "/data/street@1"), cmd.end());

  // A person already drew b.png: it stays theirs.
  auto jobs = labelling_->jobs(task_);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  const std::string j1 = jobs->at(0).id;  // a.png, b.png
  ASSERT_TRUE(labelling_->save(task_, j1, "b.png", 100, 80, Json::array(), ann_).ok());

  const std::string results =
      line("a.png",
           Json::array({object("car", 0.9, 10, 10, 20, 20), object("person", 0.3, 1, 1, 5, 5),
                        object("truck", 0.8, 90, 70, 30, 30), object("dog", 0.99, 1, 1, 5, 5),
                        object("car", 0.9, 200, 200, 5, 5)})) +
      line("b.png", Json::array({object("car", 0.9, 10, 10, 20, 20)})) +
      R"({"frame": 2, "sample": "c.png", "error": {"code": "internal", "message": "crashed"}})"
      "\n" +
      line("../../etc/passwd", Json::array({object("car", 0.9, 1, 1, 5, 5)})) +
      line("readme.txt", Json::array({object("car", 0.9, 1, 1, 5, 5)})) + "{not json\n" +
      line("d.png", Json::array());
  auto done = run(*p, results);
  EXPECT_EQ(done.state, "done") << done.message;
  EXPECT_EQ(done.summary["frames"], 7);
  EXPECT_EQ(done.summary["images"], 2) << done.summary << " (a.png and d.png)";
  EXPECT_EQ(done.summary["shapes"], 2);
  EXPECT_EQ(done.summary["touched"], 1);
  EXPECT_EQ(done.summary["errors"], 2) << "c.png's error and the line that is not JSON";
  EXPECT_EQ(done.summary["not_in_task"], 2);
  EXPECT_EQ(done.summary["dropped"], (Json{{"under min_confidence", 1},
                                           {"not a class of the task", 1},
                                           {"outside the image or under a pixel", 1}}));

  auto l = labels();
  EXPECT_EQ(l["a.png"].source, "model");
  EXPECT_EQ(l["a.png"].updated_by, "model:detector 1.0.0");
  EXPECT_EQ(l["a.png"].width, 0) << "not opened: its annotator must still look at it";
  ASSERT_EQ(l["a.png"].shapes.size(), 2u);
  EXPECT_EQ(l["a.png"].shapes[0]["label"], "car");
  EXPECT_EQ(l["a.png"].shapes[1]["label"], "car") << "the truck, mapped to car";
  EXPECT_EQ(l["a.png"].shapes[1]["width"], 10) << "cut to the 100x80 image";
  EXPECT_EQ(l["a.png"].shapes[1]["height"], 10);
  EXPECT_EQ(l["b.png"].source, "human");
  EXPECT_TRUE(l["b.png"].shapes.empty());
  // Job 1 cannot be submitted on the model's word: a.png was never opened.
  EXPECT_EQ(labelling_->submit(task_, j1, ann_).code(), Code::kFailedPrecondition);

  // Opening a.png (saving the model's shapes unchanged) leaves them the model's, but a
  // person has looked: a second run leaves a.png alone and replaces d.png's (unopened).
  ASSERT_TRUE(labelling_->save(task_, j1, "a.png", 100, 80, l["a.png"].shapes, ann_).ok());
  l = labels();
  EXPECT_EQ(l["a.png"].source, "model");
  EXPECT_EQ(l["a.png"].width, 100);
  auto again =
      pre_->start(task_, "vision", request(R"({"min_confidence": 0.2})"), "usr_owner", "owner");
  ASSERT_TRUE(again.ok());
  auto second = run(*again, line("a.png", Json::array({object("person", 0.3, 1, 1, 5, 5)})) +
                                line("d.png", Json::array({object("person", 0.3, 1, 1, 5, 5)})));
  EXPECT_EQ(second.summary["images"], 1);
  EXPECT_EQ(second.summary["touched"], 1);
  l = labels();
  EXPECT_EQ(l["a.png"].shapes.size(), 2u);
  ASSERT_EQ(l["d.png"].shapes.size(), 1u);
  EXPECT_EQ(l["d.png"].shapes[0]["label"], "person");
  // Correcting makes them the annotator's.
  ASSERT_TRUE(
      labelling_->save(task_, j1, "a.png", 100, 80, Json::array({l["a.png"].shapes[0]}), ann_)
          .ok());
  l = labels();
  EXPECT_EQ(l["a.png"].source, "human");
  EXPECT_EQ(l["a.png"].updated_by, "ann");
  EXPECT_EQ(l["a.png"].shapes.size(), 1u);
  auto list = pre_->list(task_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at(0).id, again->id) << "newest first";
}

TEST_P(PreAnnotationTest, AFailedJobSaysSoAndAnExportedTaskTakesNone) {
  auto p = pre_->start(task_, "vision", request(), "usr_owner", "owner");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(jobs_->transition(p->job_id, {"queued"}, {.to = "running", .started = true}).ok());
  ASSERT_TRUE(
      jobs_->transition(p->job_id, {"running"}, {.to = "failed", .exit_code = 1, .finished = true})
          .ok());
  pre_->tick();
  auto failed = pre_->get(task_, p->id);
  EXPECT_EQ(failed->state, "failed");
  EXPECT_NE(failed->message.find("its log says why"), std::string::npos) << failed->message;
  EXPECT_TRUE(labels()["a.png"].shapes.empty());

  LabelTask exported = task_;
  exported.state = "exported";
  EXPECT_EQ(pre_->start(exported, "vision", request(), "usr_owner", "owner").status().code(),
            Code::kFailedPrecondition);
}

TEST(PreAnnotationRequest, MalformedRequestsNameTheField) {
  const LabelSpec spec = *parse_label_spec(Json::parse(R"({"classes": ["car"]})"));
  const std::pair<const char*, const char*> cases[] = {
      {R"({"version": "1"})", "field 'algorithm'"},
      {R"({"algorithm": "a", "version": ""})", "field 'version'"},
      {R"({"algorithm": "a", "version": "1", "min_confidence": 2})", "field 'min_confidence'"},
      {R"({"algorithm": "a", "version": "1", "from": "raw"})", "field 'from'"},
      {R"({"algorithm": "a", "version": "1", "classes": {"truck": "lorry"}})",
       "maps 'truck' to \"lorry\", which is not a class"},
      {R"({"algorithm": "a", "version": "1", "gpus": -1})", "field 'gpus'"},
      {R"({"algorithm": "a", "version": "1", "extra": 1})", "extra"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_pre_annotation_request(Json::parse(text), spec);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << text << " -> " << r.status().message();
  }
  // A task of polygons gets the boxes as four-cornered polygons.
  const LabelSpec polygons =
      *parse_label_spec(Json::parse(R"({"classes": ["car"], "shapes": ["polygon"]})"));
  std::map<std::string, int64_t> dropped;
  auto shapes = boxes_of(Json::parse(R"({"width": 50, "height": 40, "result": {"model_data":
      {"objects": [{"name": "car", "x": 1, "y": 2, "width": 10, "height": 5}]}}})"),
                         PreAnnotationRequest{}, polygons, dropped);
  ASSERT_TRUE(shapes.ok()) << shapes.status().to_string();
  ASSERT_EQ(shapes->size(), 1u);
  EXPECT_EQ((*shapes)[0]["points"], (Json{1, 2, 11, 2, 11, 7, 1, 7}));
  EXPECT_FALSE(
      boxes_of(Json::parse(R"({"result": {}})"), PreAnnotationRequest{}, polygons, dropped).ok())
      << "no image size";
}

JZ_ON_BOTH_DATABASES(PreAnnotationTest);

}  // namespace
}  // namespace jz::datasets
