// Lifecycle rules on both databases: the dry run lists exactly what apply does; keep
// protects; files age from when their content first appeared; archived versions leave the
// store and come back byte for byte; deletion takes what was derived from a version with
// it; every change is in the audit trail; the automatic run comes once per interval.
#include "platform/datasets/lifecycle.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/files.h"
#include "core/hash.h"
#include "core/random.h"
#include "platform/datasets/fixture_test.h"
#include "platform/datasets/labelling.h"
#include "platform/iam/tenancy.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

class LifecycleTest : public DatasetServicesTest {
 protected:
  void SetUp() override {
    DatasetServicesTest::SetUp();
    if (HasFatalFailure()) return;
    audit_ = std::make_unique<iam::AuditLog>(*db_, clock_, ids_);
    lifecycle_ = std::make_unique<Lifecycle>(*db_, clock_, *versions_, audit_.get(), nullptr);
    for (const char* f : {"background/b1.png", "background/b2.png", "important/i1.png",
                          "street/s1.png", "street/x.png"}) {
      put(f);
    }
    registered("street");
    snapshot();  // v1: every file above, aged 80 days by the end
    clock_.advance(hours(24 * 40));
    put("street/s2.png");
    fs::remove(folder("street") + "/street/x.png");
    snapshot();  // v2, aged 40 days
    clock_.advance(hours(24 * 40));
    put("background/b3.png");
    snapshot();  // v3, new
  }

  VersionOptions version_options() const override {
    return {.dir = store_dir(), .archive_dir = dir_.str() + "/cold"};
  }
  void put(const std::string& path) { DatasetServicesTest::put("street", path, "image " + path); }
  void snapshot() { snap("street", {.tag_by_folder = true}); }
  LifecyclePolicy policy(const char* text) {
    auto p = parse_lifecycle_policy(Json::parse(text));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? *p : LifecyclePolicy{};
  }
  std::vector<std::string> paths(int64_t number) {
    std::vector<std::string> out;
    auto v = versions_->get(project_, "street", number);
    if (!v.ok()) return out;
    auto files = versions_->files(*v, {});
    if (!files.ok()) return out;
    for (const auto& f : *files) out.push_back(f.path);
    return out;
  }
  std::vector<iam::AuditRecord> lifecycle_records() {
    audit_->flush();
    std::vector<iam::AuditRecord> out;
    auto all = audit_->query({.resource_type = "dataset_version"});
    if (all.ok()) out = *all;
    return out;
  }

  std::unique_ptr<iam::AuditLog> audit_;
  std::unique_ptr<Lifecycle> lifecycle_;
};

constexpr const char* kRules = R"({"rules": [
    {"action": "keep", "tag": "important"},
    {"action": "delete", "tag": "background", "after_days": 30},
    {"action": "delete", "split": "train", "after_days": 60},
    {"action": "archive", "after_days": 30, "keep_newest": 2},
    {"action": "delete", "after_days": 365}]})";

TEST_P(LifecycleTest, TheDryRunListsWhatApplyDoesKeepProtectsAndEveryChangeIsAudited) {
  ASSERT_TRUE(lifecycle_->set_policy(project_, "street", policy(kRules), "owner").ok());
  auto plan = lifecycle_->plan(project_, "street");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->newest, 3);
  // b1, b2 by the background rule (80 days old); s1 by the train rule; b3 is new, s2 is 40
  // days old; i1 would match the train rule but the keep rule comes first.
  std::vector<std::pair<std::string, int>> files;
  for (const auto& f : plan->files) files.emplace_back(f.path, f.rule);
  EXPECT_EQ(files, (std::vector<std::pair<std::string, int>>{
                       {"background/b1.png", 2}, {"background/b2.png", 2}, {"street/s1.png", 3}}));
  EXPECT_EQ(plan->files.at(0).age_days, 80);
  EXPECT_EQ(plan->files_kept, 1);
  // v2 is among the newest two; v1 is archived by rule 4 (rule 5 is never reached).
  ASSERT_EQ(plan->versions.size(), 1u);
  EXPECT_EQ(plan->versions[0].number, 1);
  EXPECT_EQ(plan->versions[0].action, "archive");
  EXPECT_EQ(plan->versions[0].rule, 4);
  // The dry run changed nothing.
  EXPECT_EQ(versions_->list(project_, "street")->size(), 3u);
  EXPECT_TRUE(lifecycle_records().empty());

  auto applied = lifecycle_->apply(project_, "street", "owner");
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_EQ(applied->files.size(), plan->files.size());
  EXPECT_EQ(applied->new_version, 4);
  EXPECT_EQ(paths(4),
            (std::vector<std::string>{"background/b3.png", "important/i1.png", "street/s2.png"}));
  EXPECT_EQ(paths(3).size(), 6u) << "the version the rules looked at is untouched";
  EXPECT_TRUE(versions_->get(project_, "street", 1)->archived_at_ms.has_value());
  auto p = lifecycle_->policy(project_, "street");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->last_result.value("archived", -1), 1);
  EXPECT_EQ(p->last_result.value("new_version", -1), 4);

  auto records = lifecycle_records();
  ASSERT_EQ(records.size(), 2u);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : records) {
    EXPECT_EQ(r.user, "owner");
    EXPECT_EQ(r.project, "vision");
    EXPECT_EQ(r.workspace, "ws");
    seen.emplace(r.verb, r.resource_name);
  }
  EXPECT_EQ(seen, (std::set<std::pair<std::string, std::string>>{
                      {"lifecycle_delete_files", "street@4"}, {"lifecycle_archive", "street@1"}}));

  // Planning again at once: no file is old enough any more; v2 is now the third newest, so
  // rule 4 archives it; v1 is archived already.
  auto again = lifecycle_->plan(project_, "street");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->files.empty());
  ASSERT_EQ(again->versions.size(), 1u);
  EXPECT_EQ(again->versions[0].number, 2);
  EXPECT_EQ(again->versions[0].action, "archive");
}

TEST_P(LifecycleTest, AnArchivedVersionLeavesTheStoreAndComesBackByteForByte) {
  const auto v1 = *versions_->get(project_, "street", 1);
  auto before = versions_->file_path(v1, "street/x.png");
  ASSERT_TRUE(before.ok());
  const std::string x_sha = *sha256_file(*before);
  const std::string active_x =
      dir_.str() + "/store/blobs/" + project_ + "/" + x_sha.substr(0, 2) + "/" + x_sha;
  const std::string cold_x =
      dir_.str() + "/cold/blobs/" + project_ + "/" + x_sha.substr(0, 2) + "/" + x_sha;
  ASSERT_TRUE(fs::exists(active_x));

  EXPECT_EQ(versions_->archive(project_, "street", 3).status().code(), Code::kFailedPrecondition)
      << "the newest version is never archived";
  auto a = versions_->archive(project_, "street", 1);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  // x.png was held by v1 alone: it left the store for the archive; the others stay too.
  EXPECT_FALSE(fs::exists(active_x));
  EXPECT_TRUE(fs::exists(cold_x));
  EXPECT_FALSE(fs::exists(versions_->tree(v1)));
  EXPECT_EQ(paths(1).size(), 5u) << "an archived version still lists its files";
  EXPECT_EQ(versions_->file_path(*a, "street/x.png").status().code(), Code::kFailedPrecondition);
  auto mounted = datasets_->get(project_, "street@1");
  EXPECT_EQ(mounted.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(mounted.status().message().find("archived"), std::string::npos);
  EXPECT_TRUE(datasets_->get(project_, "street@2").ok());

  // A damaged archive copy is found, and the version stays archived.
  ::chmod(cold_x.c_str(), 0644);
  ASSERT_TRUE(write_file(cold_x, "something else").ok());
  auto bad = versions_->restore(project_, "street", 1);
  EXPECT_EQ(bad.status().code(), Code::kInternal);
  EXPECT_NE(bad.status().message().find("street/x.png"), std::string::npos);
  EXPECT_TRUE(versions_->get(project_, "street", 1)->archived_at_ms.has_value());

  ASSERT_TRUE(write_file(cold_x, "image street/x.png").ok());
  EXPECT_EQ(versions_->restore(project_, "street", 1, /*quota_left=*/3).status().code(),
            Code::kResourceExhausted)
      << "restoring stores x.png again, which the quota must allow";
  auto r = versions_->restore(project_, "street", 1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->archived_at_ms.has_value());
  auto path = versions_->file_path(*r, "street/x.png");
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  EXPECT_EQ(*read_file(*path), "image street/x.png");
  EXPECT_TRUE(datasets_->get(project_, "street@1").ok());
  EXPECT_FALSE(fs::exists(cold_x)) << "no archived version holds it any more";
}

TEST_P(LifecycleTest, DeletionTakesWhatWasDerivedAndABusyVersionIsLeftAlone) {
  const auto v1 = *versions_->get(project_, "street", 1);
  const std::string x_sha = *sha256_file(*versions_->file_path(v1, "street/x.png"));
  const std::string s1_sha = *sha256_file(*versions_->file_path(v1, "street/s1.png"));
  for (const auto& sha : {x_sha, s1_sha}) {
    ASSERT_TRUE(db_->with_conn([&](store::Conn& c) {
                     return c
                         .exec(
                             "INSERT INTO dataset_facts (project_id, sha256, algorithm, phash, "
                             "width, height, sharpness, brightness, problems, measured_at_ms) "
                             "VALUES (?, ?, 'phash-dct/1', '00', 1, 1, 1, 1, '[]', 0)",
                             {project_, sha})
                         .status();
                   })
                    .ok());
  }
  Labelling labelling(*db_, clock_, ids_, *versions_);
  TaskRequest t;
  t.name = "old";
  t.number = 1;
  t.spec = *parse_label_spec(Json::parse(R"({"classes": ["car"], "shapes": ["box"]})"));
  t.annotators = {{"usr_ann", "ann"}};
  t.reviewers = {{"usr_rev", "rev"}};
  auto task = labelling.create(project_, "street", t, "owner");
  ASSERT_TRUE(task.ok()) << task.status().to_string();

  ASSERT_TRUE(lifecycle_
                  ->set_policy(project_, "street",
                               policy(R"({"rules": [{"action": "delete", "after_days": 60}]})"),
                               "owner")
                  .ok());
  auto plan = lifecycle_->plan(project_, "street");
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->versions.size(), 1u);
  EXPECT_EQ(plan->versions[0].action, "busy");
  EXPECT_NE(plan->versions[0].reason.find("being labelled (task old)"), std::string::npos);
  ASSERT_TRUE(lifecycle_->apply(project_, "street", "owner").ok());
  EXPECT_TRUE(versions_->get(project_, "street", 1).ok()) << "a busy version stays";

  // The task ends (exported tasks are kept while their version is): now the rule deletes
  // v1, and with it the task, and the facts of x.png, which no version holds any more.
  ASSERT_TRUE(db_->with_conn([&](store::Conn& c) {
                   return c.exec("UPDATE label_tasks SET state = 'exported'").status();
                 })
                  .ok());
  auto applied = lifecycle_->apply(project_, "street", "owner");
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->versions.size(), 1u);
  EXPECT_EQ(applied->versions[0].action, "delete");
  EXPECT_EQ(versions_->get(project_, "street", 1).status().code(), Code::kNotFound);
  EXPECT_EQ(labelling.get(project_, task->id).status().code(), Code::kNotFound);
  auto facts = db_->with_conn([&](store::Conn& c) -> Status {
    auto rows = c.query("SELECT sha256 FROM dataset_facts WHERE project_id = ?", {project_});
    if (!rows.ok()) return rows.status();
    std::set<std::string> left;
    for (const auto& row : *rows) left.insert(row.text(0));
    EXPECT_EQ(left, std::set<std::string>{s1_sha}) << "s1.png is still in v2 and v3";
    return {};
  });
  EXPECT_TRUE(facts.ok());
}

TEST_P(LifecycleTest, TheAutomaticRunComesOncePerIntervalAsLifecycle) {
  auto p = policy(R"({"rules": [{"action": "delete", "tag": "background", "after_days": 30}],
                      "automatic": true})");
  ASSERT_TRUE(lifecycle_->set_policy(project_, "street", p, "owner").ok());
  EXPECT_EQ(*lifecycle_->run_due(hours(24)), 1);
  EXPECT_EQ(*lifecycle_->run_due(hours(24)), 0) << "it ran less than a day ago";
  clock_.advance(hours(25));
  EXPECT_EQ(*lifecycle_->run_due(hours(24)), 1);
  auto records = lifecycle_records();
  ASSERT_EQ(records.size(), 1u) << "the second run had nothing to do";
  EXPECT_EQ(records[0].user, "lifecycle");
  EXPECT_EQ(paths(4), (std::vector<std::string>{"background/b3.png", "important/i1.png",
                                                "street/s1.png", "street/s2.png"}));
  // A policy that is not automatic never runs by itself.
  p.automatic = false;
  ASSERT_TRUE(lifecycle_->set_policy(project_, "street", p, "owner").ok());
  clock_.advance(hours(25));
  EXPECT_EQ(*lifecycle_->run_due(hours(24)), 0);
}

TEST(LifecyclePolicy, MalformedRulesNameTheRuleAndTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"rules": [{"action": "shred"}]})", "rule 1: field 'action'"},
      {R"({"rules": [{"action": "keep"}, {"action": "delete", "after_days": -1}]})",
       "rule 2: field 'after_days'"},
      {R"({"rules": [{"action": "archive", "tag": "old"}]})", "rule 1: files are not archived"},
      {R"({"rules": [{"action": "delete", "tag": "a b"}]})", "rule 1: field 'tag'"},
      // The names a version may carry (versions.cc), no laxer: none starts with '.' or '-'.
      {R"({"rules": [{"action": "delete", "tag": "-rf"}]})",
       "rule 1: field 'tag': tag '-rf' must be 1-64 letters"},
      {R"({"rules": [{"action": "keep", "split": ".hidden"}]})", "rule 1: field 'split'"},
      {R"({"rules": [{"action": "delete", "split": "val", "keep_newest": 2}]})",
       "rule 1: 'version' and 'keep_newest'"},
      {R"({"rules": [{"action": "delete", "days": 3}]})", "rule 1: unknown field 'days'"},
      {R"({"rules": {}})", "field 'rules'"},
      {R"({"rules": [], "automatic": "yes"})", "field 'automatic'"},
  };
  for (const auto& [text, want] : cases) {
    auto p = parse_lifecycle_policy(Json::parse(text));
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(p.status().message().find(want), std::string::npos)
        << text << " -> " << p.status().message();
  }
  auto ok = parse_lifecycle_policy(Json::parse(kRules));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->rules.size(), 5u);
  // What to_json writes reads back the same.
  Json rules = Json::array();
  for (const auto& r : ok->rules) rules.push_back(r.to_json());
  auto back = parse_lifecycle_policy(Json{{"rules", rules}});
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  for (size_t i = 0; i < rules.size(); ++i) EXPECT_EQ(back->rules[i].to_json(), rules[i]);
}

JZ_ON_BOTH_DATABASES(LifecycleTest);

}  // namespace
}  // namespace jz::datasets
