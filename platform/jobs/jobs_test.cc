// The job store and datasets on SQLite and on a real PostgreSQL server: states and their
// history, refused transitions that change nothing, retry, listing; dataset
// registration rules and file access that never leaves the dataset.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/clock.h"
#include "core/files.h"
#include "core/hash.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/metering.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "platform/jobs/uploads.h"
#include "tests/support/test_database.h"

namespace jz::jobs {
namespace {

namespace fs = std::filesystem;

class JobsTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    for (const char* w : {"lab", "rival"}) {
      auto made = tenancy_->create_workspace(w, "");
      ASSERT_TRUE(made.ok());
      workspace_[w] = made->id;
    }
    for (const char* p : {"vision", "other"}) {
      auto made = tenancy_->create_project("lab", p, "", "");
      ASSERT_TRUE(made.ok());
      project_[p] = made->id;
    }
    auto theirs = tenancy_->create_project("rival", "theirs", "", "");
    ASSERT_TRUE(theirs.ok());
    project_["theirs"] = theirs->id;
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
    store_ = std::make_unique<JobStore>(*db_, clock_, ids_, *events_);
  }

  JobRequest request(const std::string& name) {
    auto r = parse_job_request(Json{{"name", name}, {"command", {"true"}}});
    EXPECT_TRUE(r.ok());
    return *r;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  SeededRandom rng_{11};
  IdGenerator ids_{clock_, rng_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<JobStore> store_;
  std::map<std::string, std::string> project_, workspace_;
};

TEST_P(JobsTest, StateChangesAreRecordedWithTheirHistoryAndEvents) {
  auto j = store_->create(project_["vision"], "vision", "u1", "alice", request("train"), "alice");
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  EXPECT_EQ(j->state, "queued");
  EXPECT_EQ(j->attempt, 1);
  ASSERT_TRUE(store_->transition(j->id, {"queued"}, {.to = "admitted", .reason = "Admitted"}).ok());
  ASSERT_TRUE(
      store_->transition(j->id, {"admitted"}, {.to = "starting", .reason = "Starting"}).ok());
  ASSERT_TRUE(
      store_
          ->transition(j->id, {"starting"}, {.to = "running", .reason = "Running", .started = true})
          .ok());
  // From the wrong state: refused, and nothing changes.
  Status wrong = store_->transition(j->id, {"queued"}, {.to = "admitted", .reason = "Admitted"});
  EXPECT_EQ(wrong.code(), Code::kFailedPrecondition) << wrong.to_string();
  ASSERT_TRUE(
      store_
          ->transition(j->id, {"running"},
                       {.to = "failed", .reason = "Failed", .exit_code = 3, .finished = true})
          .ok());
  auto got = store_->get(j->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "failed");
  EXPECT_EQ(got->exit_code, 3);
  EXPECT_TRUE(got->started_at_ms && got->finished_at_ms);
  auto h = store_->history(j->id);
  ASSERT_TRUE(h.ok());
  std::vector<std::string> path;
  for (const auto& e : h->items) path.push_back(e.from + ">" + e.to);
  EXPECT_EQ(path, (std::vector<std::string>{">queued", "queued>admitted", "admitted>starting",
                                            "starting>running", "running>failed"}));
  EXPECT_EQ(h->items.back().exit_code, 3);
  EXPECT_EQ(h->next_after, "");
  auto evs = events_->list("vision", 0, 100);
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->size(), 5u);
  EXPECT_EQ(evs->back().message, "running -> failed (exit code 3)");
  EXPECT_EQ(evs->back().reason, "Failed");
  // Cancelling an ended job is refused; retrying it starts attempt 2 at the back of the queue.
  EXPECT_EQ(store_->request_cancel(project_["vision"], j->id, "alice").code(),
            Code::kFailedPrecondition);
  auto later = store_->create(project_["vision"], "vision", "u1", "alice", request("b"), "alice");
  ASSERT_TRUE(later.ok());
  auto again = store_->retry(project_["vision"], j->id, "alice");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->state, "queued");
  EXPECT_EQ(again->attempt, 2);
  EXPECT_FALSE(again->exit_code.has_value());
  EXPECT_GT(again->queue_seq, later->queue_seq);
  EXPECT_EQ(again->run_id(), j->id + "-2");
  auto queued = store_->in_states({"queued"});
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].id, later->id) << "queue order";
  EXPECT_EQ(store_->retry(project_["vision"], j->id, "alice").status().code(),
            Code::kFailedPrecondition)
      << "only ended jobs are retried";
}

TEST_P(JobsTest, JobsOfAnotherProjectLookMissingAndListsFilterAndPage) {
  auto mine = store_->create(project_["vision"], "vision", "u1", "alice", request("a"), "alice");
  auto theirs = store_->create(project_["other"], "other", "u2", "bob", request("b"), "bob");
  ASSERT_TRUE(mine.ok() && theirs.ok());
  EXPECT_EQ(store_->get_in(project_["vision"], theirs->id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->request_cancel(project_["vision"], theirs->id, "alice").code(),
            Code::kNotFound);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store_->create(project_["vision"], "vision", "u3", "carol", request("c"), "carol").ok());
  }
  auto carol = store_->list(project_["vision"], {.user = "carol"});
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->size(), 5u);
  auto page1 = store_->list(project_["vision"], {.limit = 4});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 4u);
  auto page2 = store_->list(project_["vision"], {.before_seq = page1->back().seq, .limit = 4});
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ(page2->back().id, mine->id) << "newest first, the oldest last";
  ASSERT_TRUE(store_->request_cancel(project_["vision"], mine->id, "alice").ok());
  auto wanted = store_->cancel_requested();
  ASSERT_TRUE(wanted.ok());
  EXPECT_EQ(*wanted, std::vector<std::string>{mine->id});
}

TEST_P(JobsTest, SettingsHaveDefaultsAndAreStoredPerProject) {
  auto s = store_->settings(project_["vision"]);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->allow_egress);
  EXPECT_EQ(s->devenv_idle_s, 3600);
  ASSERT_TRUE(store_->set_settings(project_["vision"], {true, 60, 10}).ok());
  EXPECT_TRUE(store_->settings(project_["vision"])->allow_egress);
  EXPECT_EQ(store_->settings(project_["vision"])->devenv_idle_s, 60);
  EXPECT_FALSE(store_->settings(project_["other"])->allow_egress);
}

TEST_P(JobsTest, LogPoliciesDefaultPerLevelAreStoredPerProjectAndRecorded) {
  auto p = store_->log_policy(project_["vision"], "secret");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_FALSE(p->edited);
  EXPECT_EQ(p->policy.mode, logs::LogPolicy::Mode::kWhitelist);
  logs::LogPolicy mine;
  mine.mode = logs::LogPolicy::Mode::kBlacklist;
  mine.rules = {{"ids", "ID[0-9]{6}", true, false}};
  mine.keep_raw = true;
  ASSERT_TRUE(store_->set_log_policy(project_["vision"], "vision", "secret", mine, "olga").ok());
  p = store_->log_policy(project_["vision"], "secret");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->edited);
  EXPECT_EQ(p->updated_by, "olga");
  EXPECT_EQ(p->policy.to_json(), mine.to_json());
  // Another project and another level keep their built-in policies.
  EXPECT_FALSE(store_->log_policy(project_["other"], "secret")->edited);
  EXPECT_FALSE(store_->log_policy(project_["vision"], "internal")->edited);
  ASSERT_TRUE(store_->reset_log_policy(project_["vision"], "vision", "secret", "olga").ok());
  EXPECT_FALSE(store_->log_policy(project_["vision"], "secret")->edited);
  // Both changes are in the project's events, with who made them.
  auto evs = events_->list("vision", 0, 100);
  ASSERT_TRUE(evs.ok());
  std::vector<std::string> reasons;
  for (const auto& e : *evs) {
    if (e.resource_type == "log_policy") {
      reasons.push_back(e.reason);
      EXPECT_EQ(e.actor, "olga");
      EXPECT_EQ(e.resource_name, "secret");
    }
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"LogPolicyChanged", "LogPolicyReset"}));
}

// Issue 20: an upload's offset is its file's length, it is its uploader's alone, and one
// left unfinished goes with its bytes after its time.
TEST_P(JobsTest, UploadsAreTheirUploadersAndUnfinishedOnesExpire) {
  fs::create_directories(dir_.str() + "/platform");
  Datasets ds(*db_, clock_, ids_, {dir_.str() + "/platform", dir_.str() + "/platform/up"});
  const std::string parts = dir_.str() + "/platform/up/.partial";
  Uploads uploads(*db_, clock_, ids_, ds, parts, std::chrono::hours(24));
  const std::string p = project_["vision"];
  auto u = uploads.create(p, "big", 10, "secret", "usr_a", "alice", std::nullopt, 1 << 20);
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(uploads.create(p, "big", 10, "secret", "usr_a", "alice", std::nullopt, 1 << 20)->id,
            u->id)
      << "announced again: the same upload";
  EXPECT_EQ(uploads.create(p, "big", 11, "secret", "usr_a", "alice", std::nullopt, 1 << 20)
                .status()
                .code(),
            Code::kAlreadyExists);
  EXPECT_EQ(uploads.create(p, "x", 10, "secret", "usr_a", "alice", 5, 1 << 20).status().code(),
            Code::kResourceExhausted)
      << "past the storage quota";
  EXPECT_EQ(uploads.create(p, "y", 2 << 20, "open", "usr_a", "alice", std::nullopt, 1 << 20)
                .status()
                .code(),
            Code::kResourceExhausted)
      << "past datasets.upload_max_bytes";
  auto chunk = uploads.append(p, u->id, "usr_a", 0, "hello", "", std::nullopt);
  ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
  EXPECT_EQ(chunk->offset, 5);
  EXPECT_EQ(uploads.get(p, u->id, "usr_b").status().code(), Code::kNotFound) << "another user";
  EXPECT_EQ(uploads.get(project_["other"], u->id, "usr_a").status().code(), Code::kNotFound);
  EXPECT_EQ(uploads.append(p, u->id, "usr_a", 3, "xx", "", std::nullopt).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(uploads.append(p, u->id, "usr_a", 5, "world!", "", std::nullopt).status().code(),
            Code::kInvalidArgument)
      << "past the announced size";
  EXPECT_EQ(uploads.get(p, u->id, "usr_a")->offset, 5);
  EXPECT_TRUE(fs::exists(parts + "/" + u->id));
  // A day later, the next upload's start drops it and its bytes.
  clock_.advance(std::chrono::hours(25));
  ASSERT_TRUE(uploads.create(p, "other", 10, "open", "usr_b", "bob", std::nullopt, 1 << 20).ok());
  EXPECT_EQ(uploads.get(p, u->id, "usr_a").status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(parts + "/" + u->id));
}

TEST(CgiHead, StatusFieldsAndTheBodyOffsetAreRead) {
  auto h = parse_cgi_head("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody");
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->status, 404);
  ASSERT_EQ(h->headers.size(), 1u);
  EXPECT_EQ(h->headers[0].second, "text/plain");
  EXPECT_EQ(h->body_offset, 51u);
  auto lf = parse_cgi_head("Content-Type: a/b\n\nrest");
  ASSERT_TRUE(lf.ok());
  EXPECT_EQ(lf->status, 200);
  EXPECT_EQ(lf->body_offset, 19u);
  for (const char* bad : {"no end\r\n", "Status: 99x\r\n\r\n", ": v\r\n\r\n", "A: b\rc\r\n\r\n",
                          "Status: 700\r\n\r\n"}) {
    EXPECT_FALSE(parse_cgi_head(bad).ok()) << bad;
  }
}

TEST_P(JobsTest, HeldOutputsAreReleasedOnlyByAnotherReviewerAndExpireWithTheirBytes) {
  Outputs outputs(*db_, clock_, ids_, {.retention = std::chrono::hours(48), .max_files = 2});
  const std::string p = project_["vision"];
  const std::string dir = dir_.str() + "/out";
  fs::create_directories(dir + "/sub");
  ASSERT_TRUE(write_file(dir + "/model.bin", "weights").ok());
  ASSERT_TRUE(write_file(dir + "/sub/b.txt", "b").ok());
  ASSERT_TRUE(write_file(dir + "/sub/c.txt", "c").ok());
  fs::create_symlink("/etc/passwd", dir + "/link");
  auto o = outputs.record("job_a", p, dir, "secret");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->state, "held");
  EXPECT_EQ(o->files, 2);
  EXPECT_TRUE(o->truncated) << "three files, max_files 2";
  EXPECT_NE(o->skipped.find("1 symbolic link"), std::string::npos) << o->skipped;
  EXPECT_EQ(outputs.get(project_["other"], "job_a").status().code(), Code::kNotFound);
  auto files = outputs.files("job_a", {.after = "", .limit = 10});
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->items.size(), 2u);
  EXPECT_EQ(files->items[0].path, "model.bin");
  EXPECT_EQ(files->items[0].sha256, sha256_hex("weights"));
  // Only recorded regular files open, and never through a link.
  auto fd = outputs.open_file(*o, "model.bin");
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(fd->second, 7);
  ::close(fd->first);
  EXPECT_EQ(outputs.open_file(*o, "link").status().code(), Code::kNotFound);
  EXPECT_EQ(outputs.open_file(*o, "../out/model.bin").status().code(), Code::kNotFound);
  fs::remove(dir + "/model.bin");
  fs::create_symlink("/etc/passwd", dir + "/model.bin");  // swapped after the record
  EXPECT_EQ(outputs.open_file(*o, "model.bin").status().code(), Code::kNotFound);

  EXPECT_EQ(outputs.request(p, "job_a", "usr_d", "dev", "").status().code(),
            Code::kInvalidArgument);
  auto r = outputs.request(p, "job_a", "usr_d", "dev", "the model");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(outputs.request(p, "job_a", "usr_d", "dev", "again").status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(outputs.decide(p, r->id, "usr_d", "dev", true, "").status().code(),
            Code::kPermissionDenied)
      << "nobody reviews their own request";
  EXPECT_EQ(outputs.decide(project_["other"], r->id, "usr_o", "olga", true, "").status().code(),
            Code::kNotFound);
  auto refused = outputs.decide(p, r->id, "usr_o", "olga", false, "no");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(outputs.get(p, "job_a")->state, "held");
  auto r2 = outputs.request(p, "job_a", "usr_d", "dev", "blurred");
  ASSERT_TRUE(r2.ok());
  // A new attempt's outputs supersede the pending request.
  ASSERT_TRUE(outputs.record("job_a", p, dir, "secret").ok());
  EXPECT_EQ(outputs.release(p, r2->id)->state, "superseded");
  auto r3 = outputs.request(p, "job_a", "usr_d", "dev", "final");
  ASSERT_TRUE(r3.ok());
  ASSERT_TRUE(outputs.decide(p, r3->id, "usr_o", "olga", true, "ok").ok());
  EXPECT_EQ(outputs.get(p, "job_a")->state, "released");
  EXPECT_EQ(outputs.request(p, "job_a", "usr_d", "dev", "more").status().code(),
            Code::kFailedPrecondition);
  auto queue = outputs.releases(p, "", "job_a", {.after = "", .limit = 10});
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(queue->items.size(), 3u);

  auto open = outputs.record("job_b", p, dir, "open");
  EXPECT_EQ(open->state, "open");
  // Past the retention period the bytes go, the listing stays.
  clock_.advance(std::chrono::hours(49));
  auto gone = outputs.expire();
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, 2);
  EXPECT_EQ(outputs.get(p, "job_a")->state, "expired");
  EXPECT_FALSE(fs::exists(dir + "/sub/b.txt"));
  EXPECT_EQ(outputs.files("job_a", {.after = "", .limit = 10})->items.size(), 2u);
}

TEST_P(JobsTest, DatasetsAreRegisteredOnlyFromAllowedReadableFolders) {
  const std::string root = dir_.str() + "/data", inside = root + "/coco";
  fs::create_directories(inside + "/images");
  ASSERT_TRUE(write_file(inside + "/images/1.jpg", "jpeg").ok());
  fs::permissions(root, fs::perms(0755));
  fs::permissions(inside, fs::perms(0755));
  fs::create_directories(dir_.str() + "/outside");
  fs::permissions(dir_.str() + "/outside", fs::perms(0755));
  ASSERT_TRUE(write_file(dir_.str() + "/outside/secret.txt", "not yours").ok());
  fs::create_symlink(dir_.str() + "/outside", root + "/escape");
  fs::create_symlink(dir_.str() + "/outside/secret.txt", inside + "/link.txt");
  Datasets ds(*db_, clock_, ids_, {dir_.str() + "/platform"});
  fs::create_directories(dir_.str() + "/platform");
  ASSERT_TRUE(ds.add_root(workspace_["lab"], root, "admin").ok());
  const std::string p = project_["vision"];
  auto code = [&](const std::string& name, const std::string& path, const std::string& level,
                  bool admin = false) {
    return ds.create(p, workspace_["lab"], name, path, level, "olga", admin).status().code();
  };
  EXPECT_EQ(code("coco", "data/coco", "open"), Code::kInvalidArgument) << "relative";
  EXPECT_EQ(code("coco", root + "/missing", "open"), Code::kInvalidArgument);
  EXPECT_EQ(code("coco", inside, "top"), Code::kInvalidArgument) << "unknown level";
  EXPECT_EQ(code("Coco", inside, "open"), Code::kInvalidArgument) << "not a DNS label";
  EXPECT_EQ(code("out", dir_.str() + "/outside", "open"), Code::kPermissionDenied);
  EXPECT_EQ(code("esc", root + "/escape", "open"), Code::kPermissionDenied)
      << "a symlink out of the root is judged by where it leads";
  EXPECT_EQ(code("plat", dir_.str() + "/platform", "open", true), Code::kPermissionDenied)
      << "not even an admin registers the platform's own folder";
  EXPECT_EQ(code("all", "/", "open", true), Code::kPermissionDenied) << "it holds the data folder";
  EXPECT_EQ(code("out", dir_.str() + "/outside", "open", true), Code::kOk) << "admins may";
  fs::permissions(inside, fs::perms(0700));
  EXPECT_EQ(code("coco", inside, "secret"), Code::kFailedPrecondition) << "unreadable by jobs";
  fs::permissions(inside, fs::perms(0755));
  auto d = ds.create(p, workspace_["lab"], "coco", inside, "secret", "olga", false);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(code("coco", inside, "secret"), Code::kAlreadyExists);
  EXPECT_TRUE(ds.get(project_["other"], "coco").status().code() == Code::kNotFound);
  auto files = ds.files(*d);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  // Issue 17, item 14: a symlink was listed by its target's path, not its own name.
  std::set<std::string> names;
  for (const auto& f : *files) names.insert(f.path);
  EXPECT_EQ(names, (std::set<std::string>{"images/1.jpg", "link.txt"}));
  EXPECT_TRUE(ds.file_path(*d, "images/1.jpg").ok());
  EXPECT_EQ(ds.file_path(*d, "../escape/secret.txt").status().code(), Code::kNotFound);
  EXPECT_EQ(ds.file_path(*d, "link.txt").status().code(), Code::kNotFound)
      << "a symlink out of the dataset is not followed";
  EXPECT_EQ(ds.file_path(*d, "images").status().code(), Code::kNotFound);
  ASSERT_TRUE(ds.remove(p, "coco").ok());
  EXPECT_EQ(ds.remove(p, "coco").code(), Code::kNotFound);
}

// Issue 17, item 2: roots were shared by every tenant and registration checked neither
// ownership nor existing registrations, so another tenant's data owner registered a
// secret folder (or the whole root) as open and read it.
TEST_P(JobsTest, DatasetRootsBelongToOneWorkspaceAndDataToOneProject) {
  const std::string shared = dir_.str() + "/shared", root = shared + "/data",
                    rival_root = dir_.str() + "/rival";
  for (const auto& d : {root + "/secret/x", root + "/open", rival_root}) fs::create_directories(d);
  for (const auto& d :
       {shared, root, root + "/secret", root + "/secret/x", root + "/open", rival_root}) {
    fs::permissions(d, fs::perms(0755));
  }
  fs::create_symlink(root + "/secret", rival_root + "/link");
  Datasets ds(*db_, clock_, ids_, {dir_.str() + "/platform"});
  const std::string lab = workspace_["lab"], rival = workspace_["rival"];
  ASSERT_TRUE(ds.add_root(lab, root, "admin").ok());
  EXPECT_EQ(ds.add_root(rival, root + "/secret", "admin").status().code(),
            Code::kFailedPrecondition)
      << "a folder inside another workspace's root";
  EXPECT_EQ(ds.add_root(rival, shared, "admin").status().code(), Code::kFailedPrecondition)
      << "a folder above another workspace's root";
  EXPECT_EQ(ds.add_root(lab, root, "admin").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(ds.add_root(rival, rival_root + "/link", "admin").status().code(),
            Code::kFailedPrecondition)
      << "judged by where the symlink leads";
  ASSERT_TRUE(ds.add_root(rival, rival_root, "admin").ok());
  auto secret =
      ds.create(project_["vision"], lab, "vault", root + "/secret", "secret", "olga", false);
  ASSERT_TRUE(secret.ok()) << secret.status().to_string();
  auto create = [&](const std::string& project, const std::string& ws, const std::string& path,
                    const std::string& level, bool admin = false) {
    static int n = 0;
    return ds
        .create(project_[project], ws, "d" + std::to_string(++n), path, level, "mallory", admin)
        .status();
  };
  // Another tenant's data owner: not under their workspace's roots.
  Status s = create("theirs", rival, root + "/secret", "open");
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.to_string();
  EXPECT_EQ(create("theirs", rival, rival_root + "/link", "open").code(), Code::kPermissionDenied)
      << "a symlink inside one's own root to another's data";
  // Another project of the same workspace: never inside or above a registered dataset.
  EXPECT_EQ(create("other", lab, root + "/secret/x", "open").code(), Code::kPermissionDenied);
  s = create("other", lab, root, "secret");
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.to_string();
  EXPECT_EQ(s.message().find("vault"), std::string::npos) << "names nothing of the other project";
  // Not even a platform admin registers one project's data in another.
  EXPECT_EQ(create("theirs", rival, root + "/secret", "secret", true).code(),
            Code::kPermissionDenied);
  // The same project: the same data never gets a lower level by registering it again.
  EXPECT_EQ(create("vision", lab, root + "/secret", "open").code(), Code::kPermissionDenied);
  EXPECT_EQ(create("vision", lab, root + "/secret/x", "internal").code(), Code::kPermissionDenied);
  EXPECT_EQ(create("vision", lab, root, "open").code(), Code::kPermissionDenied) << "above it";
  EXPECT_EQ(create("vision", lab, root + "/secret/x", "secret").code(), Code::kOk);
  EXPECT_EQ(create("vision", lab, root + "/open", "open").code(), Code::kOk);
  EXPECT_EQ(ds.get(project_["vision"], "vault")->security_level, "secret");
  // Roots are listed per workspace and can be taken away; datasets stay.
  EXPECT_EQ(ds.roots(lab)->items.size(), 1u);
  EXPECT_EQ(ds.roots(rival)->items.at(0).path, fs::canonical(rival_root).string());
  EXPECT_EQ(ds.remove_root(rival, root).code(), Code::kNotFound);
  ASSERT_TRUE(ds.remove_root(lab, fs::canonical(root).string()).ok());
  EXPECT_TRUE(ds.get(project_["vision"], "vault").ok());
  EXPECT_EQ(create("vision", lab, root + "/open", "open").code(), Code::kPermissionDenied)
      << "no root any more";
}

// Metering from the job history, on a fake clock and through a restart: each job's usage
// is the integral of what its admissions allocated until it left admitted, starting and
// running; a project's total is the sum of its jobs' and of its days'; costs follow the
// pool's prices; a job still running counts until now.
TEST_P(JobsTest, UsageIsTheExactIntegralOfAllocationsThroughRestarts) {
  const int64_t t0 = clock_.now_unix_ms();  // 2026-01-01T00:00:00Z
  constexpr int64_t h = 3'600'000;
  auto at = [&](int64_t ms) { clock_.set(Clock::WallTime(std::chrono::milliseconds(t0 + ms))); };
  auto move = [&](const std::string& id, const std::string& from, const std::string& to,
                  std::optional<Json> allocation = std::nullopt) {
    Transition t{.to = to, .reason = "Test"};
    t.allocation = std::move(allocation);
    t.requeue = to == "queued";
    ASSERT_TRUE(store_->transition(id, {from}, t).ok()) << from << " -> " << to;
  };
  const Json a_alloc = {{"gpu_milli", 2000},
                        {"gpu_memory_mib", 163840},
                        {"cpu_milli", 4000},
                        {"memory_mib", 8192},
                        {"pool", "default"}};
  const Json b_alloc = {{"gpu_milli", 500},
                        {"gpu_memory_mib", 40960},
                        {"cpu_milli", 1000},
                        {"memory_mib", 2048},
                        {"pool", "default"}};
  auto a = store_->create(project_["vision"], "vision", "u1", "alice", request("a"), "alice");
  auto b = store_->create(project_["vision"], "vision", "u2", "bob", request("b"), "bob");
  auto c = store_->create(project_["other"], "other", "u2", "bob", request("c"), "bob");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  at(1 * h);
  move(b->id, "queued", "admitted", b_alloc);
  move(b->id, "admitted", "starting");
  move(b->id, "starting", "running");
  at(2 * h);
  move(c->id, "queued", "admitted", b_alloc);
  at(2 * h + h / 2);
  move(c->id, "admitted", "cancelled");
  at(3 * h);
  move(b->id, "running", "preempted");
  move(b->id, "preempted", "queued");
  // The server restarts: a new store over the same database.
  store_ = std::make_unique<JobStore>(*db_, clock_, ids_, *events_);
  at(5 * h);
  move(b->id, "queued", "admitted", b_alloc);
  move(b->id, "admitted", "running");
  at(22 * h);
  move(a->id, "queued", "admitted", a_alloc);
  at(22 * h + 60'000);
  move(a->id, "admitted", "running");
  at(26 * h);
  move(a->id, "running", "succeeded");
  at(30 * h);  // now: b still runs

  auto prices = parse_prices("default: gpu=2, cpu=0.1", "CNY");
  ASSERT_TRUE(prices.ok()) << prices.status().to_string();
  Metering m(*db_, clock_, *prices);
  UsageQuery q{
      .from_ms = t0, .to_ms = t0 + 48 * h, .by = {"job"}, .project_ids = {project_["vision"]}};
  auto jobs = m.usage(q);
  ASSERT_TRUE(jobs.ok()) << jobs.status().to_string();
  ASSERT_EQ(jobs->rows.size(), 2u);
  std::map<std::string, UsageTotals> by_job;
  for (const auto& r : jobs->rows) by_job[r.key.at("job")] = r.totals;
  EXPECT_EQ(by_job[a->id].gpu_milli_ms, h * 2000 * 4);
  EXPECT_EQ(by_job[a->id].gpu_memory_mib_ms, h * 163840 * 4);
  EXPECT_EQ(by_job[a->id].cpu_milli_ms, h * 4000 * 4);
  EXPECT_EQ(by_job[a->id].memory_mib_ms, h * 8192 * 4);
  EXPECT_EQ(by_job[b->id].gpu_milli_ms, h * 500 * 27) << "2 h, preempted, then 25 h to now";
  EXPECT_NEAR(by_job[a->id].cost, 2 * 4 * 2 + 4 * 4 * 0.1, 1e-9);
  EXPECT_NEAR(by_job[b->id].cost, 0.5 * 27 * 2 + 1 * 27 * 0.1, 1e-9);
  EXPECT_NEAR(jobs->total.to_json()["gpu_hours"].get<double>(), 8 + 13.5, 1e-9);

  // The project's total is the sum of its jobs'; its days' sum to it too.
  q.by = {"project"};
  auto project = m.usage(q);
  ASSERT_TRUE(project.ok());
  ASSERT_EQ(project->rows.size(), 1u);
  EXPECT_EQ(project->rows[0].totals.gpu_milli_ms,
            by_job[a->id].gpu_milli_ms + by_job[b->id].gpu_milli_ms);
  EXPECT_EQ(project->rows[0].totals.memory_mib_ms,
            by_job[a->id].memory_mib_ms + by_job[b->id].memory_mib_ms);
  q.by = {"project", "day"};
  auto days = m.usage(q);
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->rows.size(), 2u);
  EXPECT_EQ(days->rows[0].key.at("day"), "2026-01-01");
  EXPECT_EQ(days->rows[0].totals.gpu_milli_ms, h * 2000 * 2 + h * 500 * (2 + 19));
  EXPECT_EQ(days->rows[1].key.at("day"), "2026-01-02");
  EXPECT_EQ(days->rows[1].totals.gpu_milli_ms, h * 2000 * 2 + h * 500 * 6);
  EXPECT_EQ(days->total, project->total);
  // By user and workspace, with the other project: bob's cancelled half hour counts.
  q.by = {"workspace", "user"};
  q.project_ids.insert(project_["other"]);
  auto users = m.usage(q);
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->rows.size(), 2u);
  EXPECT_EQ(users->rows[1].key.at("user"), "bob");
  EXPECT_EQ(users->rows[1].totals.gpu_milli_ms, h * 500 * 27 + 500 * h / 2);
  // A window cuts intervals; another user's filter; nothing outside.
  auto window = m.usage({.from_ms = t0 + 2 * h,
                         .to_ms = t0 + 6 * h,
                         .by = {},
                         .project_ids = {project_["vision"]},
                         .user = "bob"});
  ASSERT_TRUE(window.ok());
  EXPECT_EQ(window->total.gpu_milli_ms, h * 500 * (1 + 1));
  EXPECT_EQ(
      m.usage(
           {.from_ms = t0, .to_ms = t0 + h, .by = {"flavour"}, .project_ids = {project_["vision"]}})
          .status()
          .code(),
      Code::kInvalidArgument);
  const std::string csv = usage_csv({"job"}, jobs->rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "job,gpu_hours,gpu_memory_gib_hours,cpu_core_hours,memory_gib_hours,cost");
  EXPECT_NE(csv.find(a->id + ",8.000000,640.000000,16.000000,32.000000,17.600000"),
            std::string::npos)
      << csv;
}

TEST(Prices, AreParsedPerPoolOrRefusedWithTheReason) {
  auto p = parse_prices("default: gpu=2.5, cpu=0.04; *: gpu=1; big_pool: memory=0.01", "CNY");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->rates("default")->gpu_hour, 2.5);
  EXPECT_EQ(p->rates("elsewhere")->gpu_hour, 1);
  EXPECT_EQ(p->rates("big_pool")->memory_gib_hour, 0.01);
  EXPECT_TRUE(parse_prices("", "CNY").ok());
  EXPECT_EQ(parse_prices("", "CNY")->rates("default"), nullptr);
  for (const char* bad :
       {"gpu=1", "default: gpu", "default: gpu=-1", "default: fans=1", "Default: gpu=1",
        "a: gpu=1; a: cpu=1", "a: gpu=1,,cpu=2", "a: gpu=nan"}) {
    EXPECT_EQ(parse_prices(bad, "CNY").status().code(), Code::kInvalidArgument) << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(Dialects, JobsTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::jobs
