// Curation on both databases: the job it queues, the report read back as hostile input
// (only the version's own files, bounded reasons), the review queue, decisions, and the
// version applying it makes; nothing removed without a confirmation.
#include "platform/datasets/curation.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <filesystem>

#include "core/files.h"
#include "core/random.h"
#include "platform/datasets/fixture_test.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;

class CurationTest : public JobServicesTest {
 protected:
  void SetUp() override {
    JobServicesTest::SetUp();
    if (HasFatalFailure()) return;
    curations_ = std::make_unique<CurationService>(
        *db_, clock_, ids_, *jobs_, *outputs_, *versions_,
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    put("street", "a.png", "aaaa");
    put("street", "b.png", "aaaa");
    put("street", "c.png", "cccc");
    registered("street");
    snap("street");
  }

  // The job ends with `report` as its /output/curation.json (none: no report).
  void job_ends(const Curation& c, const std::string& state,
                const std::optional<std::string>& report) {
    ASSERT_TRUE(jobs_->transition(c.job_id, {"queued"}, {.to = "running", .started = true}).ok());
    curations_->tick();
    EXPECT_EQ(curations_->get(project_, c.id)->state, "running");
    const std::string out = dir_.str() + "/out-" + c.id;
    fs::create_directories(out);
    if (report) {
      ASSERT_TRUE(write_file(out + "/curation.json", *report).ok());
    }
    ASSERT_TRUE(outputs_->record(c.job_id, project_, out, "secret").ok());
    ASSERT_TRUE(
        jobs_
            ->transition(c.job_id, {"running"},
                         {.to = state, .exit_code = state == "succeeded" ? 0 : 1, .finished = true})
            .ok());
    curations_->tick();
  }

  std::unique_ptr<CurationService> curations_;
};

TEST_P(CurationTest, AJobFindsProposalsAPersonDecidesAndANewVersionLeavesOutOnlyTheConfirmed) {
  CurationOptions o;
  o.radius = 6;
  o.min_width = 100;
  auto c = curations_->start(project_, "vision", "street", 0, o, "usr_owner", "owner");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->state, "queued");
  EXPECT_EQ(c->number, 1);
  // The job: the platform's tool on the version, mounted read-only, as any job of the project.
  auto job = jobs_->get(c->job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.datasets, std::vector<std::string>{"street@1"});
  EXPECT_EQ(job->spec.command.at(0), "/opt/jizhan/bin/jizhan-algo");
  EXPECT_TRUE(job->spec.tools) << "the job mounts the platform's programs";
  EXPECT_EQ(job->spec.command.at(3), "/data/street@1");
  EXPECT_NE(std::find(job->spec.command.begin(), job->spec.command.end(), "--min-width"),
            job->spec.command.end());
  EXPECT_EQ(job->username, "owner");

  // The report as a hostile job could write it: paths outside the version, a kept image the
  // version lacks, a huge reason; only the version's own files count.
  Json report = {{"algorithm", "dct64"},
                 {"algorithm_version", 1},
                 {"files",
                  {{{"path", "a.png"},
                    {"phash", "00000000000000ff"},
                    {"width", 640},
                    {"height", 480},
                    {"sharpness", 90.5},
                    {"brightness", 120},
                    {"problems", Json::array()}},
                   {{"path", "b.png"}, {"phash", "00000000000000ff"}, {"problems", Json::array()}},
                   {{"path", "c.png"},
                    {"phash", "ff00000000000000"},
                    {"width", 32},
                    {"height", 32},
                    {"problems", {"small: 32x32, under 100x100", std::string(5000, 'x')}}},
                   {{"path", "../../etc/passwd"}, {"problems", {"corrupt"}}},
                   {{"path", "elsewhere.png"}, {"problems", {"corrupt"}}}}},
                 {"groups",
                  {{{"keep", "a.png"}, {"members", {{{"path", "b.png"}, {"distance", 0}}}}},
                   {{"keep", "ghost.png"}, {"members", {{{"path", "c.png"}, {"distance", 1}}}}}}}};
  job_ends(*c, "succeeded", report.dump());
  auto got = curations_->get(project_, c->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "review") << got->message;
  EXPECT_EQ(got->summary["images"], 3);
  EXPECT_EQ(got->summary["flagged"], 1);
  EXPECT_EQ(got->summary["groups"], 1);
  EXPECT_EQ(got->summary["pending"], 2);
  EXPECT_EQ(got->summary["algorithm"], "dct64/1");
  // What the browser filters by: the version's duplicate groups, each content's measures.
  auto groups = curations_->duplicate_groups(project_, "street", 1);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(*groups, (std::map<std::string, std::string>{{"a.png", "a.png"}, {"b.png", "a.png"}}));
  EXPECT_TRUE(curations_->duplicate_groups(project_, "street", 2)->empty());
  auto v1 = versions_->get(project_, "street", 1);
  ASSERT_TRUE(v1.ok());
  std::map<std::string, std::string> sha_of;
  auto v1_files = versions_->files(*v1, {});
  ASSERT_TRUE(v1_files.ok());
  for (const auto& f : *v1_files) sha_of[f.path] = f.sha256;
  auto facts = curations_->facts(project_, {sha_of["c.png"], "0000"});
  ASSERT_TRUE(facts.ok());
  ASSERT_EQ(facts->size(), 1u) << "a content never checked has none";
  EXPECT_EQ(facts->at(sha_of["c.png"]).width, 32);
  EXPECT_EQ(facts->at(sha_of["c.png"]).problems.rfind("small: 32x32", 0), 0u);
  auto all = curations_->proposals(*got);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].path, "b.png");
  EXPECT_EQ((*all)[0].kind, "duplicate");
  EXPECT_EQ((*all)[0].keep, "a.png");
  EXPECT_EQ((*all)[0].reason, "exact duplicate of a.png");
  EXPECT_EQ((*all)[1].path, "c.png");
  EXPECT_EQ((*all)[1].kind, "quality");
  EXPECT_LE((*all)[1].reason.size(), 500u);
  EXPECT_EQ((*all)[1].reason.rfind("small: 32x32", 0), 0u);
  // The hashes are kept per content, with their algorithm.
  ASSERT_TRUE(db_->with_conn([&](store::Conn& conn) -> Status {
                   JZ_ASSIGN_OR_RETURN(auto rows,
                                       conn.query("SELECT algorithm, phash FROM dataset_facts "
                                                  "WHERE project_id = ? ORDER BY phash",
                                                  {project_}));
                   EXPECT_EQ(rows.size(), 2u) << "a.png and b.png are one content";
                   EXPECT_EQ(rows.at(0).text("algorithm"), "dct64/1");
                   return Status();
                 })
                  .ok());

  // Nothing applies before a confirmation; decisions name real proposals.
  EXPECT_EQ(curations_->apply(project_, c->id, "owner").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(curations_->decide(project_, c->id, {{"a.png", "confirmed"}}, "owner").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(curations_->decide(project_, c->id, {{"b.png", "maybe"}}, "owner").code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(
      curations_
          ->decide(project_, c->id, {{"b.png", "confirmed"}, {"c.png", "rejected"}}, "reviewer")
          .ok());
  EXPECT_EQ(curations_->get(project_, c->id)->summary["confirmed"], 1);
  auto v2 = curations_->apply(project_, c->id, "reviewer");
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ(v2->number, 2);
  EXPECT_EQ(v2->files, 2);
  EXPECT_EQ(v2->removed, 1);
  EXPECT_FALSE(versions_->file_path(*v2, "b.png").ok());
  EXPECT_TRUE(versions_->file_path(*v2, "c.png").ok()) << "rejected: kept";
  EXPECT_TRUE(versions_->file_path(*versions_->get(project_, "street", 1), "b.png").ok())
      << "version 1 is untouched";
  got = curations_->get(project_, c->id);
  EXPECT_EQ(got->state, "applied");
  EXPECT_EQ(got->applied_version, 2);
  EXPECT_EQ(curations_->apply(project_, c->id, "reviewer").status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(curations_->decide(project_, c->id, {{"c.png", "confirmed"}}, "x").code(),
            Code::kFailedPrecondition);
  auto list = curations_->list(project_, "street");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(curations_->get("prj_other", c->id).status().code(), Code::kNotFound);
}

TEST_P(CurationTest, AFailedJobOrAMissingOrForgedReportFailsTheCurationWithTheReason) {
  auto failed = curations_->start(project_, "vision", "street", 1, {}, "u", "owner");
  ASSERT_TRUE(failed.ok());
  job_ends(*failed, "failed", std::nullopt);
  EXPECT_EQ(curations_->get(project_, failed->id)->state, "failed");
  EXPECT_NE(curations_->get(project_, failed->id)->message.find("curation job failed"),
            std::string::npos);
  auto none = curations_->start(project_, "vision", "street", 1, {}, "u", "owner");
  job_ends(*none, "succeeded", std::nullopt);
  EXPECT_NE(curations_->get(project_, none->id)->message.find("left no report"), std::string::npos);
  auto forged = curations_->start(project_, "vision", "street", 1, {}, "u", "owner");
  job_ends(*forged, "succeeded", R"({"files": "all of them"})");
  EXPECT_EQ(curations_->get(project_, forged->id)->state, "failed");
  EXPECT_EQ(curations_->start(project_, "vision", "street", 7, {}, "u", "owner").status().code(),
            Code::kNotFound);
}

TEST(CurationOptions, ParseAndSayWhatIsWrong) {
  auto o = parse_curation_options(Json::parse(R"({"radius": 4, "brisque": true})"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->radius, 4);
  EXPECT_TRUE(o->brisque);
  EXPECT_EQ(o->min_width, 64);
  auto msg = [](const char* body) {
    return parse_curation_options(Json::parse(body)).status().message();
  };
  EXPECT_NE(msg(R"({"radius": 40})").find("'radius' must be a number from 0 to 32"),
            std::string::npos);
  EXPECT_NE(msg(R"({"min_brightness": 200, "max_brightness": 100})").find("above"),
            std::string::npos);
  EXPECT_NE(msg(R"({"brisque": 1})").find("true or false"), std::string::npos);
  EXPECT_FALSE(parse_curation_options(Json::parse(R"({"radius_bits": 4})")).ok());
}

// Thresholds per dataset: a curation starts from the dataset's, a request overrides some.
TEST_P(CurationTest, ADatasetsThresholdsAreWhereItsCurationsStart) {
  auto builtin = curations_->defaults(project_, "street");
  ASSERT_TRUE(builtin.ok()) << builtin.status().to_string();
  EXPECT_TRUE(builtin->updated_by.empty());
  EXPECT_EQ(builtin->options.radius, CurationOptions{}.radius);
  auto mine = parse_curation_options(Json::parse(R"({"radius": 6, "min_width": 100})"));
  ASSERT_TRUE(mine.ok());
  ASSERT_TRUE(curations_->set_defaults(project_, "street", *mine, "owner").ok());
  auto d = curations_->defaults(project_, "street");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->updated_by, "owner");
  EXPECT_EQ(d->options.radius, 6);
  EXPECT_EQ(d->options.min_width, 100);
  EXPECT_EQ(d->options.min_height, CurationOptions{}.min_height);
  // A request names only what it changes.
  auto o = parse_curation_options(Json::parse(R"({"radius": 3})"), d->options);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->radius, 3);
  EXPECT_EQ(o->min_width, 100);
  auto c = curations_->start(project_, "vision", "street", 0, *o, "usr_owner", "owner");
  ASSERT_TRUE(c.ok());
  auto job = jobs_->get(c->job_id);
  ASSERT_TRUE(job.ok());
  const auto& cmd = job->spec.command;
  auto after = [&](const std::string& flag) {
    auto it = std::find(cmd.begin(), cmd.end(), flag);
    return it == cmd.end() || it + 1 == cmd.end() ? std::string() : *(it + 1);
  };
  EXPECT_EQ(after("--radius"), "3");
  EXPECT_EQ(after("--min-width"), "100");
  // Bad thresholds name the field; a dataset that is not there is not found.
  auto bad = parse_curation_options(Json::parse(R"({"min_brightness": 300})"), d->options);
  EXPECT_NE(bad.status().message().find("field 'min_brightness'"), std::string::npos);
  EXPECT_EQ(curations_->set_defaults(project_, "nowhere", *mine, "owner").status().code(),
            Code::kNotFound);
}

JZ_ON_BOTH_DATABASES(CurationTest);

}  // namespace
}  // namespace jz::datasets
