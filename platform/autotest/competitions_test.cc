// Competitions on a fake clock: three teams, a submission limit per day, a close time, and a
// team whose results CSV was edited after its algorithm made it. The boards, the re-runs
// (their eval jobs end here as the runner would end them: results in the job's outputs)
// and the signed verdicts are checked, and a changed verdict fails verification.
#include "platform/autotest/competitions.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>

#include "core/files.h"
#include "core/random.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "sdk/package.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace jz::autotest {
namespace {

namespace fs = std::filesystem;

const char* kTemplate = R"(name: counts
task: counting
predictions: {id: sample}
annotations: {id: image}
variables:
  - name: count
    prediction: result.algorithm_data.target_count@num
    annotation: count@num
    rule: {type: numeric, abs: 0}
)";

// What the algorithm answers on the hidden split (the re-run writes it), and the truth.
const std::map<std::string, int> kAnswers = {
    {"h1.png", 1}, {"h2.png", 2}, {"h3.png", 3}, {"h4.png", 0}};
const std::map<std::string, int> kTruth = {
    {"h1.png", 1}, {"h2.png", 2}, {"h3.png", 3}, {"h4.png", 4}};

std::string truth_jsonl(const std::map<std::string, int>& t) {
  std::string out;
  for (const auto& [image, n] : t) out += Json{{"image", image}, {"count", n}}.dump() + "\n";
  return out;
}
std::string csv_of(const std::map<std::string, int>& counts, const std::string& four = "") {
  std::string out = "sample,count\n";
  for (const auto& [s, n] : counts)
    out += s + "," + (s == "h4.png" && !four.empty() ? four : std::to_string(n)) + "\n";
  return out;
}

class Competitions : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(store::Dialect::kSqlite, dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(*db);
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    jobs_ = std::make_unique<jobs::JobStore>(*db_, clock_, ids_, *events_);
    datasets_ = std::make_unique<jobs::Datasets>(*db_, clock_, ids_, jobs::DatasetPolicy{"", ""});
    outputs_ = std::make_unique<jobs::Outputs>(*db_, clock_, ids_);
    ASSERT_TRUE(tenancy_->create_workspace("ws", "").ok());
    ASSERT_TRUE(tenancy_->create_project("ws", "contest", "", "").ok());
    project_ = tenancy_->project("contest")->id;
    const std::string ws = tenancy_->workspace("ws")->id;
    for (const char* d : {"public", "hidden"}) {
      fs::create_directories(dir_.path() / d);
      fs::permissions(dir_.path() / d, fs::perms(0755));
    }
    fs::permissions(dir_.path(), fs::perms(0755));
    ASSERT_TRUE(datasets_->add_root(ws, dir_.str(), "admin").ok());
    for (const char* d : {"public", "hidden"}) {
      ASSERT_TRUE(
          datasets_->create(project_, ws, d, dir_.str() + "/" + d, "secret", "admin", true).ok());
    }
    auto logger =
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
    tests_ =
        std::make_unique<AutotestService>(*db_, clock_, ids_, *jobs_, *datasets_, *outputs_,
                                          AutotestOptions{.dir = dir_.str() + "/autotest"}, logger);
    comps_ = std::make_unique<CompetitionService>(*db_, clock_, ids_, *tests_,
                                                  dir_.str() + "/autotest/competitions", logger);
    ASSERT_TRUE(comps_->open().ok());
    for (auto [name, dataset, truth] :
         {std::tuple{"pub", "public", truth_jsonl({{"p1.png", 1}, {"p2.png", 2}})},
          std::tuple{"hid", "hidden", truth_jsonl(kTruth)}}) {
      auto in = parse_suite_input({{"name", name},
                                   {"dataset", dataset},
                                   {"template", kTemplate},
                                   {"annotations", {{"file", "truth.jsonl"}, {"content", truth}}}},
                                  false);
      ASSERT_TRUE(in.ok()) << in.status().message();
      ASSERT_TRUE(tests_->create_suite(project_, *in, "owner").ok());
    }
    // The teams' package (color_blobs, whatever it is: the re-run's results are written
    // below), uploaded and, as its checks would, made ready.
    fs::create_directories(dir_.path() / "pkg");
    fs::copy_file(JZ_COLOR_BLOBS, dir_.path() / "pkg" / "color_blobs.so");
    ASSERT_TRUE(
        write_file(dir_.str() + "/pkg/manifest.json", R"({"library":"color_blobs.so"})").ok());
    auto packed = sdk::pack({.dir = dir_.str() + "/pkg",
                             .out = dir_.str() + "/c.jzpkg",
                             .key = sdk::generate_signing_key("teams")});
    ASSERT_TRUE(packed.ok()) << packed.status().message();
    auto a = tests_->upload_algorithm(project_, *read_file(dir_.str() + "/c.jzpkg"), "ann");
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(db_->with_conn([](store::Conn& c) {
                     return c.exec("UPDATE autotest_algorithms SET state = 'ready'").status();
                   })
                    .ok());
  }

  Json competition(int64_t close_in_h) {
    const auto at = [&](int64_t h) { return format_rfc3339(clock_.now() + std::chrono::hours(h)); };
    return {{"name", "counting-cup"},
            {"public_suite", "pub"},
            {"hidden_suite", "hid"},
            {"rank_by", "accuracy"},
            {"opens_at", at(0)},
            {"closes_at", at(close_in_h)},
            {"daily_limit", 2},
            {"columns", {{{"name", "count"}, {"path", "result.algorithm_data.target_count"}}}},
            {"tolerances", {{"count", 0.5}}},
            {"teams", {{"alpha", {"ann"}}, {"beta", {"bob"}}, {"gamma", {"cat"}}}}};
  }
  Result<Submission> submit(const std::string& user, const std::string& split,
                            const std::string& csv) {
    return comps_->submit(project_, "counting-cup", "usr_" + user, user, split, "color_blobs",
                          "1.0.0", csv);
  }
  // Ends every queued eval job as the runner would: the algorithm's results in its outputs.
  void end_reruns() {
    auto queued = jobs_->in_states({"queued"});
    ASSERT_TRUE(queued.ok());
    for (const auto& j : *queued) {
      const std::string out = dir_.str() + "/runs/" + j.id;
      fs::create_directories(out);
      std::string lines;
      int frame = 0;
      for (const auto& [s, n] : kAnswers) {
        lines += Json{{"frame", frame++},
                      {"sample", s},
                      {"result", {{"algorithm_data", {{"target_count", n}}}}}}
                     .dump() +
                 "\n";
      }
      ASSERT_TRUE(write_file(out + "/results.jsonl", lines).ok());
      ASSERT_TRUE(write_file(out + "/summary.json", R"({"frames":4,"results":4,"errors":0})").ok());
      ASSERT_TRUE(jobs_
                      ->transition(j.id, {"queued"},
                                   {.to = "succeeded", .reason = "Completed", .exit_code = 0})
                      .ok());
      ASSERT_TRUE(outputs_->record(j.id, project_, out, "secret").ok());
    }
  }

  testing::TempDir dir_;
  FakeClock clock_;
  IdGenerator ids_{clock_, SecureRandom::instance()};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<jobs::JobStore> jobs_;
  std::unique_ptr<jobs::Datasets> datasets_;
  std::unique_ptr<jobs::Outputs> outputs_;
  std::unique_ptr<AutotestService> tests_;
  std::unique_ptr<CompetitionService> comps_;
  std::string project_;
};

TEST_F(Competitions, BoardsLimitsReRunsAndSignedVerdicts) {
  ASSERT_TRUE(comps_->create(project_, "contest", competition(72), "owner").ok());
  // The public board during the competition; ties go to the earlier submission.
  const std::string pub_right = "sample,count\np1.png,1\np2.png,2\n";
  ASSERT_TRUE(submit("ann", "public", pub_right).ok());
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(submit("bob", "public", pub_right).ok());
  ASSERT_TRUE(submit("cat", "public", "sample,count\np1.png,1\np2.png,5\n").ok());
  auto board = comps_->board(project_, "counting-cup", "public", false);
  ASSERT_TRUE(board.ok()) << board.status().message();
  ASSERT_EQ((*board)["items"].size(), 3u);
  EXPECT_EQ((*board)["items"][0]["team"], "alpha");
  EXPECT_EQ((*board)["items"][1]["team"], "beta");
  EXPECT_EQ((*board)["items"][2]["team"], "gamma");
  EXPECT_EQ((*board)["items"][2]["score"], 0.5);
  // Two a day: alpha's third today is refused, tomorrow's is taken.
  ASSERT_TRUE(submit("ann", "hidden", csv_of(kAnswers)).ok());
  auto third = submit("ann", "hidden", csv_of(kAnswers));
  EXPECT_EQ(third.status().code(), Code::kResourceExhausted) << third.status().message();
  EXPECT_NE(third.status().message().find("team alpha has made its 2 submissions"),
            std::string::npos);
  EXPECT_EQ(submit("dan", "public", pub_right).status().code(), Code::kPermissionDenied);
  auto bad = submit("bob", "public", "sample,count\np1.png,1\np1.png,2\n");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sample 'p1.png' twice"), std::string::npos);
  clock_.advance(std::chrono::hours(24));
  // beta edited its CSV: the algorithm says 0 for h4, the file says 4 (a perfect score).
  ASSERT_TRUE(submit("bob", "hidden", csv_of(kAnswers, "4")).ok());
  // gamma's CSV writes the same numbers differently (within tolerance: 3.0 for 3 is equal,
  // 0.4 for 0 within 0.5).
  ASSERT_TRUE(submit("cat", "hidden", csv_of(kAnswers, "0.4")).ok());
  // The hidden board waits for the close, except for the organisers.
  EXPECT_EQ(comps_->board(project_, "counting-cup", "hidden", false).status().code(),
            Code::kFailedPrecondition);
  ASSERT_TRUE(comps_->board(project_, "counting-cup", "hidden", true).ok());
  comps_->tick();  // not due yet: nothing starts
  EXPECT_TRUE(jobs_->in_states({"queued"})->empty());

  clock_.advance(std::chrono::hours(48));  // past the close
  EXPECT_EQ(submit("ann", "hidden", csv_of(kAnswers)).status().code(), Code::kFailedPrecondition);
  comps_->tick();  // closes: the top three are run again
  EXPECT_EQ(comps_->get(project_, "counting-cup")->state, "verifying");
  ASSERT_EQ(jobs_->in_states({"queued"})->size(), 3u);
  end_reruns();
  tests_->tick();  // the evaluations are scored
  comps_->tick();  // and compared
  comps_->tick();
  EXPECT_EQ(comps_->get(project_, "counting-cup")->state, "verified");

  board = comps_->board(project_, "counting-cup", "hidden", false);
  ASSERT_TRUE(board.ok());
  const Json& items = (*board)["items"];
  ASSERT_EQ(items.size(), 3u) << board->dump(2);
  EXPECT_EQ(items[0]["team"], "beta");  // the edited CSV scored best...
  EXPECT_EQ(items[0]["score"], 1.0);
  EXPECT_EQ(items[0]["verdict"], "modified");  // ...and the re-run shows it
  EXPECT_EQ(items[1]["team"], "alpha");
  EXPECT_EQ(items[1]["verdict"], "identical");
  EXPECT_EQ(items[2]["team"], "gamma");
  EXPECT_EQ(items[2]["verdict"], "within tolerance");

  // Each verdict verifies with the platform's key; a changed one does not.
  auto verdicts = comps_->verdicts(project_, "counting-cup");
  ASSERT_TRUE(verdicts.ok());
  ASSERT_EQ(verdicts->size(), 3u);
  auto key = sdk::parse_public_key(comps_->public_key().dump());
  ASSERT_TRUE(key.ok()) << key.status().message();
  for (const auto& v : *verdicts) {
    auto doc = sdk::parse_signed_document(v.document.dump(), "verdict");
    ASSERT_TRUE(doc.ok()) << doc.status().message();
    EXPECT_TRUE(sdk::signature_valid(*doc, *key)) << v.team;
    const Json payload = Json::parse(doc->payload);
    EXPECT_EQ(payload["team"], v.team);
    EXPECT_EQ(payload["kind"], "jizhan.competition.verdict");
    if (v.team == "beta") {
      EXPECT_EQ(payload["verdict"], "modified");
      std::string forged = doc->payload;
      forged.replace(forged.find("\"modified\""), 10, "\"identical\"");
      Json changed = v.document;
      changed["payload"] = forged;
      auto tampered = sdk::parse_signed_document(changed.dump(), "verdict");
      ASSERT_TRUE(tampered.ok());
      EXPECT_FALSE(sdk::signature_valid(*tampered, *key));
    }
  }
}

// An evaluation's performance takes its job's peak GPU memory from the GPU monitor (here a
// stand-in for it), and the redacted view rounds it like every other number.
TEST_F(Competitions, AnEvaluationReportsItsJobsPeakGpuMemory) {
  std::string asked;
  tests_->gpu_memory_of([&asked](const jobs::Job& j) -> std::optional<double> {
    asked = j.id;
    return 2047.6;
  });
  AutotestService::EvaluationRequest r;
  r.suite = "hid";
  r.algorithm = "color_blobs";
  r.version = "1.0.0";
  r.resources = {{"gpus", 1}, {"cpu", 1}, {"memory_mib", 1024}};
  auto e = tests_->evaluate(project_, "contest", r, "usr_ann", "ann");
  ASSERT_TRUE(e.ok()) << e.status().message();
  end_reruns();
  tests_->tick();
  auto done = tests_->evaluation(project_, e->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, "passed") << done->message;
  EXPECT_EQ(asked, e->job_id);
  EXPECT_EQ(done->to_json(true)["result"]["performance"]["gpu_memory_mib"], 2048);
  EXPECT_EQ(done->to_json(false)["result"]["performance"]["gpu_memory_mib"], 2050);  // 3 digits
}

TEST(CompetitionCsv, ResultsToCsvAndBackAgain) {
  const std::vector<CsvColumn> cols = {{"count", "result.algorithm_data.target_count"},
                                       {"label", "result.model_data.label"}};
  auto csv = results_csv(
      "{\"sample\":\"b.png\",\"result\":{\"algorithm_data\":{\"target_count\":2},\"model_data\":{"
      "\"label\":\"a,b\"}}}\n"
      "{\"sample\":\"a.png\",\"error\":{\"code\":\"deadline_exceeded\"}}\n",
      cols);
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  EXPECT_EQ(*csv, "sample,count,label\na.png,,\nb.png,2,\"a,b\"\n");
  auto parsed = parse_csv(*csv, "t.csv");
  ASSERT_TRUE(parsed.ok());
  auto lines = csv_predictions(*parsed, cols);
  ASSERT_TRUE(lines.ok()) << lines.status().message();
  EXPECT_EQ(
      *lines,
      "{\"sample\":\"a.png\"}\n"
      "{\"result\":{\"algorithm_data\":{\"target_count\":2},\"model_data\":{\"label\":\"a,b\"}},"
      "\"sample\":\"b.png\"}\n");
  EXPECT_FALSE(csv_predictions(*parse_csv("id,count\nx,1\n", "t.csv"), cols).ok());
  EXPECT_FALSE(results_csv("not json\n", cols).ok());
}

}  // namespace
}  // namespace jz::autotest
