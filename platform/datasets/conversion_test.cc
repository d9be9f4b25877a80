// Converting a version's annotations on both databases: the job it queues, what the job
// wrote read as hostile input (no link, no odd name), the next version holding the
// converted files beside the old ones, and the version left alone while it runs.
#include "platform/datasets/conversion.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <filesystem>

#include "core/files.h"
#include "platform/datasets/fixture_test.h"
#include "platform/iam/events.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;

class ConversionTest : public JobServicesTest {
 protected:
  void SetUp() override {
    JobServicesTest::SetUp();
    if (HasFatalFailure()) return;
    conversions_ = std::make_unique<Conversions>(
        *db_, clock_, ids_, *jobs_, *outputs_, *versions_,
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()),
        ConversionLimits{.max_files = 10, .max_bytes = 1 << 20});
    put("street", "images/a.png", "a");
    put("street", "annotations/instances.json", "{}");
    registered("street");
    snap("street");
  }

  ConversionRequest request(const char* text) {
    auto r = parse_conversion_request(Json::parse(text));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : ConversionRequest{};
  }

  // The job runs, writes `files` (name -> content; a content "->TARGET" is a link) under
  // /output/converted, and ends.
  Conversion run(const Conversion& c, const std::map<std::string, std::string>& files) {
    EXPECT_TRUE(jobs_->transition(c.job_id, {"queued"}, {.to = "running", .started = true}).ok());
    conversions_->tick();
    EXPECT_EQ(conversions_->get(project_, c.id)->state, "running");
    const std::string out = dir_.str() + "/out-" + c.id;
    for (const auto& [name, content] : files) {
      const fs::path p = fs::path(out) / "converted" / name;
      fs::create_directories(p.parent_path());
      if (content.rfind("->", 0) == 0) {
        fs::create_symlink(content.substr(2), p);
      } else {
        EXPECT_TRUE(write_file(p.string(), content).ok());
      }
    }
    fs::create_directories(out);
    EXPECT_TRUE(outputs_->record(c.job_id, project_, out, "secret").ok());
    EXPECT_TRUE(jobs_
                    ->transition(c.job_id, {"running"},
                                 {.to = "succeeded", .exit_code = 0, .finished = true})
                    .ok());
    conversions_->tick();
    return *conversions_->get(project_, c.id);
  }

  std::unique_ptr<Conversions> conversions_;
};

TEST_P(ConversionTest, AJobConvertsAndTheNextVersionHoldsItsFilesBesideTheOld) {
  auto c = conversions_->start(
      project_, "vision", "street", 0,
      request(R"({"from": "coco", "to": "yolo", "input": "annotations/instances.json"})"),
      "usr_owner", "owner");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto job = jobs_->get(c->job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.datasets, std::vector<std::string>{"street@1"});
  EXPECT_TRUE(job->spec.tools);
  const std::vector<std::string> want = {"/opt/jizhan/bin/jizhan-algo",
                                         "data",
                                         "convert",
                                         "--from",
                                         "coco",
                                         "--to",
                                         "yolo",
                                         "/data/street@1/annotations/instances.json",
                                         "/output/converted"};
  EXPECT_EQ(job->spec.command, want);
  // While it runs, the version stays as it is.
  auto v1 = versions_->get(project_, "street", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_NE(versions_->busy(*v1)->find("being converted"), std::string::npos);
  EXPECT_EQ(versions_->remove(project_, "street", 1).code(), Code::kFailedPrecondition);

  auto done = run(*c, {{"classes.txt", "car\n"}, {"labels/a.txt", "0 0.5 0.5 0.2 0.2\n"}});
  EXPECT_EQ(done.state, "done") << done.message;
  EXPECT_EQ(done.result_version, 2);
  EXPECT_EQ(done.files, 2);
  auto v2 = versions_->get(project_, "street", 2);
  ASSERT_TRUE(v2.ok());
  auto files = versions_->files(*v2, {});
  ASSERT_TRUE(files.ok());
  std::map<std::string, std::string> split_of;
  for (const auto& f : *files) split_of[f.path] = f.split;
  EXPECT_EQ(split_of, (std::map<std::string, std::string>{{"annotations/instances.json", "train"},
                                                          {"images/a.png", "train"},
                                                          {"labels/yolo/classes.txt", "labels"},
                                                          {"labels/yolo/labels/a.txt", "labels"}}));
  auto content = versions_->file_path(*v2, "labels/yolo/labels/a.txt");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*read_file(*content), "0 0.5 0.5 0.2 0.2\n");
  EXPECT_TRUE(versions_->busy(*v1)->empty());
}

TEST_P(ConversionTest, WhatAHostileJobWritesMakesNoVersion) {
  const char* body = R"({"from": "coco", "to": "voc", "input": "annotations/instances.json",
                         "output": "voc"})";
  // A link to a file of the server's.
  const std::string secret = dir_.str() + "/server-secret";
  ASSERT_TRUE(write_file(secret, "key").ok());
  auto c = conversions_->start(project_, "vision", "street", 1, request(body), "u", "owner");
  ASSERT_TRUE(c.ok());
  auto linked = run(*c, {{"a.xml", "<annotation/>"}, {"b.xml", "->" + secret}});
  EXPECT_EQ(linked.state, "failed");
  EXPECT_NE(linked.message.find("'b.xml', which is not a plain file"), std::string::npos)
      << linked.message;
  // Too many files.
  c = conversions_->start(project_, "vision", "street", 1, request(body), "u", "owner");
  ASSERT_TRUE(c.ok());
  std::map<std::string, std::string> many;
  for (int i = 0; i < 11; ++i) many["f" + std::to_string(i) + ".xml"] = "x";
  auto flood = run(*c, many);
  EXPECT_EQ(flood.state, "failed");
  EXPECT_NE(flood.message.find("more than 10 files"), std::string::npos) << flood.message;
  // Nothing at all.
  c = conversions_->start(project_, "vision", "street", 1, request(body), "u", "owner");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(run(*c, {}).state, "failed");
  EXPECT_EQ(versions_->list(project_, "street")->size(), 1u) << "no version was made";
  auto list = conversions_->list(project_, "street");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
}

TEST_P(ConversionTest, BadRequestsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"from": "csv", "to": "yolo", "input": "a"})", "field 'from'"},
      {R"({"from": "coco", "to": "coco", "input": "a"})", "the same format"},
      {R"({"from": "coco", "to": "voc"})", "field 'input'"},
      {R"({"from": "coco", "to": "voc", "input": "../etc/passwd"})", "field 'input'"},
      {R"({"from": "coco", "to": "voc", "input": "a", "output": "/abs"})", "field 'output'"},
      {R"({"from": "coco", "to": "voc", "input": "a", "extra": 1})", "extra"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_conversion_request(Json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << text << " -> " << r.status().message();
  }
  auto missing =
      conversions_->start(project_, "vision", "street", 1,
                          request(R"({"from": "voc", "to": "coco", "input": "voc"})"), "u", "o");
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("has no file or folder 'voc'"), std::string::npos);
  EXPECT_EQ(request(R"({"from": "voc", "to": "json", "input": "x"})").output, "labels/json");
}

JZ_ON_BOTH_DATABASES(ConversionTest);

}  // namespace
}  // namespace jz::datasets
