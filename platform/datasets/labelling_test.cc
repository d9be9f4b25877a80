// Labelling on both databases: jobs dealt to annotators, who may draw what and when, review
// and rework, statistics, and the export as a new version that COCO tools read back.
#include "platform/datasets/labelling.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "core/random.h"
#include "data/formats.h"
#include "platform/datasets/fixture_test.h"
#include "platform/iam/tenancy.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;

class LabellingTest : public DatasetServicesTest {
 protected:
  void SetUp() override {
    DatasetServicesTest::SetUp();
    if (HasFatalFailure()) return;
    labelling_ = std::make_unique<Labelling>(*db_, clock_, ids_, *versions_);
    for (const char* f : {"a.png", "b.jpg", "c.png", "night/d.png", "e.png"}) {
      put("street", f, std::string("img ") + f);
    }
    put("street", "readme.txt", "not an image");
    registered("street");
    snap("street");
  }

  TaskRequest request() {
    TaskRequest r;
    r.name = "cars";
    r.spec = *parse_label_spec(Json::parse(
        R"({"classes": ["car", "person"], "shapes": ["box", "polygon"],
            "attributes": [{"name": "occluded", "values": ["no", "yes"]}]})"));
    r.job_size = 2;
    r.annotators = {ann_, bob_};
    r.reviewers = {rev_};
    return r;
  }

  static Json box(const char* label, double x, double y, double w, double h) {
    return {{"type", "box"}, {"label", label}, {"x", x}, {"y", y}, {"width", w}, {"height", h}};
  }

  std::unique_ptr<Labelling> labelling_;
  const Person ann_{"usr_ann", "ann"}, bob_{"usr_bob", "bob"}, rev_{"usr_rev", "rev"},
      eve_{"usr_eve", "eve"};
};

TEST_P(LabellingTest, TwoAnnotatorsAndAReviewerLabelReviewAndExportAVersion) {
  auto t = labelling_->create(project_, "street", request(), "owner");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->images, 5) << "images only, the text file is not one";
  EXPECT_EQ(t->number, 1);
  auto jobs = labelling_->jobs(*t);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 3u) << "5 images in jobs of 2";
  EXPECT_EQ((*jobs)[0].files, (std::vector<std::string>{"a.png", "b.jpg"}));
  EXPECT_EQ((*jobs)[0].annotator.username, "ann");
  EXPECT_EQ((*jobs)[1].annotator.username, "bob");
  EXPECT_EQ((*jobs)[2].annotator.username, "ann") << "dealt in turn";
  const std::string j1 = (*jobs)[0].id, j2 = (*jobs)[1].id, j3 = (*jobs)[2].id;

  // Who may draw: the annotator of the job, not another annotator, not the reviewer yet.
  EXPECT_TRUE(
      labelling_->save(*t, j1, "a.png", 100, 80, Json::array({box("car", 10, 10, 20, 20)}), ann_)
          .ok());
  EXPECT_EQ(labelling_->save(*t, j1, "b.jpg", 100, 80, Json::array(), bob_).code(),
            Code::kPermissionDenied);
  EXPECT_EQ(labelling_->save(*t, j1, "b.jpg", 100, 80, Json::array(), rev_).code(),
            Code::kPermissionDenied);
  EXPECT_EQ(labelling_->save(*t, j1, "c.png", 100, 80, Json::array(), ann_).code(), Code::kNotFound)
      << "an image of another job";
  // Shapes are checked against the task and the image.
  auto bad =
      labelling_->save(*t, j1, "b.jpg", 100, 80,
                       Json::array({box("car", 1, 1, 5, 5), box("truck", 1, 1, 5, 5)}), ann_);
  EXPECT_NE(bad.message().find("shapes[1].label 'truck' is not a class"), std::string::npos)
      << bad.message();
  bad = labelling_->save(*t, j1, "b.jpg", 100, 80, Json::array({box("car", 90, 1, 50, 5)}), ann_);
  EXPECT_NE(bad.message().find("inside the 100x80 image"), std::string::npos) << bad.message();
  Json occluded = box("person", 1, 1, 5, 5);
  occluded["attributes"] = {{"occluded", "maybe"}};
  bad = labelling_->save(*t, j1, "b.jpg", 100, 80, Json::array({occluded}), ann_);
  EXPECT_NE(bad.message().find("attributes.occluded must be one of no, yes"), std::string::npos)
      << bad.message();

  // A job is submitted once every image was looked at.
  auto early = labelling_->submit(*t, j1, ann_);
  EXPECT_EQ(early.code(), Code::kFailedPrecondition);
  EXPECT_NE(early.message().find("1 of the 2 images of job 1 were never opened"), std::string::npos)
      << early.message();
  clock_.advance(std::chrono::minutes(10));
  Json poly = {{"type", "polygon"}, {"label", "person"}, {"points", {40, 10, 60, 10, 50, 40}}};
  ASSERT_TRUE(labelling_->save(*t, j1, "b.jpg", 100, 80, Json::array({poly}), ann_).ok());
  ASSERT_TRUE(labelling_->submit(*t, j1, ann_).ok());
  EXPECT_EQ(labelling_->save(*t, j1, "a.png", 100, 80, Json::array(), ann_).code(),
            Code::kPermissionDenied)
      << "a submitted job is the reviewer's";

  // Bob labels job 2; the reviewer moves one of his boxes and sends it back.
  ASSERT_TRUE(labelling_
                  ->save(*t, j2, "c.png", 100, 80,
                         Json::array({box("car", 0, 0, 50, 50), box("car", 60, 60, 10, 10)}), bob_)
                  .ok());
  ASSERT_TRUE(labelling_->save(*t, j2, "e.png", 100, 80, Json::array(), bob_).ok());
  clock_.advance(std::chrono::minutes(20));
  ASSERT_TRUE(labelling_->submit(*t, j2, bob_).ok());
  EXPECT_EQ(labelling_->review(*t, j2, false, "", rev_).code(), Code::kInvalidArgument)
      << "a rework says what to fix";
  EXPECT_EQ(labelling_->review(*t, j2, true, "", ann_).code(), Code::kPermissionDenied);
  ASSERT_TRUE(labelling_->review(*t, j2, false, "the small car is a person", rev_).ok());
  clock_.advance(std::chrono::minutes(30));  // waiting for the rework is not work
  ASSERT_TRUE(labelling_
                  ->save(*t, j2, "c.png", 100, 80,
                         Json::array({box("car", 0, 0, 50, 50), box("person", 60, 60, 10, 10)}),
                         bob_)
                  .ok());
  ASSERT_TRUE(labelling_->submit(*t, j2, bob_).ok());
  // The reviewer corrects one of Ann's shapes (a car far from where she drew it) and accepts.
  ASSERT_TRUE(labelling_
                  ->save(*t, j1, "a.png", 100, 80,
                         Json::array({box("car", 60, 40, 20, 20), box("person", 1, 1, 5, 5)}), rev_)
                  .ok());
  ASSERT_TRUE(labelling_->review(*t, j1, true, "", rev_).ok());
  ASSERT_TRUE(labelling_->review(*t, j2, true, "", rev_).ok());

  // The version stays while it is being labelled.
  auto busy = versions_->remove(project_, "street", 1);
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition);
  EXPECT_NE(busy.message().find("is being labelled (task cars)"), std::string::npos)
      << busy.message();
  // Not exported while a job is open.
  auto early_export = labelling_->export_version(*t, "coco", "owner");
  EXPECT_EQ(early_export.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(early_export.status().message().find("1 of the 3 jobs"), std::string::npos);
  ASSERT_TRUE(labelling_->save(*t, j3, "night/d.png", 64, 48, Json::array(), ann_).ok());
  ASSERT_TRUE(labelling_->submit(*t, j3, ann_).ok());
  ASSERT_TRUE(labelling_->review(*t, j3, true, "", rev_).ok());

  // Statistics: Ann's two jobs, 3 images, 2 shapes submitted, of which the reviewer kept the
  // polygon only (her car moved, a person added: 1 of max(2, 3) shapes); Bob's one job,
  // reworked once, both of his final shapes kept.
  auto stats = labelling_->statistics(*t);
  ASSERT_TRUE(stats.ok());
  const Json& rows = (*stats)["annotators"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["annotator"], "ann");
  EXPECT_EQ(rows[0]["jobs"], 2);
  EXPECT_EQ(rows[0]["accepted"], 2);
  EXPECT_EQ(rows[0]["images"], 3);
  EXPECT_EQ(rows[0]["shapes"], 2);
  EXPECT_EQ(rows[0]["reworks"], 0);
  EXPECT_NEAR(rows[0]["agreement"].get<double>(), 1.0 / 3.0, 1e-9);
  EXPECT_EQ(rows[0]["work_seconds"], 600) << "first save to submission";
  EXPECT_EQ(rows[1]["annotator"], "bob");
  EXPECT_EQ(rows[1]["reworks"], 1);
  EXPECT_EQ(rows[1]["shapes"], 2);
  EXPECT_DOUBLE_EQ(rows[1]["agreement"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["images_per_hour"].get<double>(), 6.0) << "2 images in 20 min";

  // The export: version 2 = version 1 + the COCO file, which reads back box for box.
  auto v = labelling_->export_version(*t, "coco", "owner");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->number, 2);
  EXPECT_EQ(v->files, 7);
  EXPECT_EQ(v->added, 1);
  auto path = versions_->file_path(*v, "labels/cars/coco.json");
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  auto coco = data::read_coco(*read_file(*path), "coco.json");
  ASSERT_TRUE(coco.ok()) << coco.status().to_string();
  EXPECT_EQ(coco->categories, (std::vector<std::string>{"car", "person"}));
  ASSERT_EQ(coco->images.size(), 5u);
  EXPECT_EQ(coco->images[0].file, "a.png");
  ASSERT_EQ(coco->images[0].boxes.size(), 2u);
  EXPECT_EQ(coco->images[0].boxes[0], (data::Box{"car", 60, 40, 20, 20, {}, {{"occluded", "no"}}}));
  EXPECT_EQ(coco->images[1].boxes[0].polygon, (std::vector<double>{40, 10, 60, 10, 50, 40}));
  EXPECT_EQ(coco->images[1].boxes[0].width, 20);
  EXPECT_EQ(coco->images[4].file, "night/d.png");
  EXPECT_EQ(coco->images[4].width, 64);
  auto after = labelling_->get(project_, t->id);
  EXPECT_EQ(after->state, "exported");
  EXPECT_EQ(after->exported_version, 2);
  EXPECT_EQ(labelling_->save(*after, j1, "a.png", 100, 80, Json::array(), rev_).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(labelling_->export_version(*after, "coco", "owner").status().code(),
            Code::kFailedPrecondition)
      << "exported once";
  EXPECT_TRUE(versions_->remove(project_, "street", 1).ok()) << "the task is done with it";
}

TEST_P(LabellingTest, BadTasksAreRefusedAndWorkIsOnlyOnesOwn) {
  auto r = request();
  r.name = "Bad Name";
  EXPECT_EQ(labelling_->create(project_, "street", r, "owner").status().code(),
            Code::kInvalidArgument);
  r = request();
  r.reviewers.clear();
  EXPECT_NE(labelling_->create(project_, "street", r, "owner").status().message().find("reviewers"),
            std::string::npos);
  r = request();
  r.number = 9;
  EXPECT_EQ(labelling_->create(project_, "street", r, "owner").status().code(), Code::kNotFound);
  EXPECT_NE(parse_label_spec(Json::parse(R"({"classes": ["a", "a"]})"))
                .status()
                .message()
                .find("class 'a' is listed twice"),
            std::string::npos);
  EXPECT_NE(parse_label_spec(Json::parse(R"({"classes": ["a"], "shapes": ["mask"]})"))
                .status()
                .message()
                .find("box, polygon or both"),
            std::string::npos);
  ASSERT_TRUE(labelling_->create(project_, "street", request(), "owner").ok());
  EXPECT_EQ(labelling_->create(project_, "street", request(), "owner").status().code(),
            Code::kAlreadyExists);

  // A box-only task refuses polygons; work_of lists only one's own jobs in their turn.
  r = request();
  r.name = "boxes";
  r.spec.shapes = {"box"};
  r.annotators = {eve_};
  auto t = labelling_->create(project_, "street", r, "owner");
  ASSERT_TRUE(t.ok());
  auto js = labelling_->jobs(*t);
  Json poly = {{"type", "polygon"}, {"label", "car"}, {"points", {1, 1, 9, 1, 5, 9}}};
  EXPECT_NE(labelling_->save(*t, (*js)[0].id, "a.png", 10, 10, Json::array({poly}), eve_)
                .message()
                .find("must be one of the task's shapes (box)"),
            std::string::npos);
  auto eve = labelling_->work_of(project_, eve_.user_id);
  ASSERT_TRUE(eve.ok());
  EXPECT_EQ(eve->size(), 3u);
  auto rev = labelling_->work_of(project_, rev_.user_id);
  EXPECT_TRUE(rev->empty()) << "nothing to review yet";
  // Reassigning hands the job over.
  ASSERT_TRUE(labelling_->assign(*t, (*js)[0].id, ann_, std::nullopt).ok());
  EXPECT_EQ(labelling_->work_of(project_, eve_.user_id)->size(), 2u);
  EXPECT_EQ(labelling_->save(*t, (*js)[0].id, "a.png", 10, 10, Json::array(), eve_).code(),
            Code::kPermissionDenied);
  // Deleting the task deletes its jobs and shapes.
  ASSERT_TRUE(labelling_->save(*t, (*js)[0].id, "a.png", 10, 10, Json::array(), ann_).ok());
  ASSERT_TRUE(labelling_->remove(project_, t->id).ok());
  EXPECT_EQ(labelling_->get(project_, t->id).status().code(), Code::kNotFound);
  EXPECT_EQ(labelling_->list(project_)->size(), 1u);
}

JZ_ON_BOTH_DATABASES(LabellingTest);

}  // namespace
}  // namespace jz::datasets
