// Dataset versions on both databases: snapshots of a real folder (content-addressed, so a
// version stores only what changed), splits by folder and by share, tags, versions made
// from versions, immutability, garbage collection, quotas, and what must not happen: a
// link out of the dataset followed, a path out of a version served, bytes shared between
// projects.
#include "platform/datasets/versions.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "core/random.h"
#include "platform/datasets/fixture_test.h"
#include "platform/iam/tenancy.h"

namespace jz::datasets {
namespace {

namespace fs = std::filesystem;

class VersionsTest : public DatasetServicesTest {
 protected:
  void SetUp() override {
    DatasetServicesTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(tenancy_->create_project("ws", "other", "", "").ok());
    other_ = tenancy_->project("other")->id;
  }

  std::map<std::string, VersionFile> files(const Version& v) {
    auto all = versions_->files(v, {});
    EXPECT_TRUE(all.ok()) << all.status().to_string();
    std::map<std::string, VersionFile> out;
    if (all.ok())
      for (auto& f : *all) out[f.path] = f;
    return out;
  }

  std::string other_;
};

TEST_P(VersionsTest, ASnapshotStoresEachContentOnceAndALaterOneOnlyWhatChanged) {
  registered("faces");
  put("faces", "train/cats/a.jpg", std::string(1000, 'a'));
  put("faces", "train/dogs/b.jpg", std::string(2000, 'b'));
  put("faces", "val/c.jpg", std::string(1000, 'a'));  // the same bytes as a.jpg
  put("faces", "test/d.jpg", std::string(300, 'd'));
  put("faces", "loose.jpg", std::string(400, 'e'));
  SnapshotRequest r;
  r.message = "first import";
  r.tags = {"raw"};
  r.tag_by_folder = true;
  const Version v1 = snap("faces", r);
  EXPECT_EQ(v1.number, 1);
  EXPECT_EQ(v1.files, 5);
  EXPECT_EQ(v1.bytes, 4700);
  EXPECT_EQ(v1.new_bytes, 3700) << "a.jpg and c.jpg are one stored file";
  EXPECT_EQ(v1.added, 5);
  EXPECT_EQ(v1.splits, (Json{{"train", 3}, {"val", 1}, {"test", 1}}));
  EXPECT_EQ(v1.tags, (Json{{"raw", 5}, {"train", 2}, {"val", 1}, {"test", 1}}));
  auto f1 = files(v1);
  ASSERT_EQ(f1.size(), 5u);
  EXPECT_EQ(f1["val/c.jpg"].sha256, f1["train/cats/a.jpg"].sha256);
  EXPECT_EQ(f1["loose.jpg"].split, "train");
  EXPECT_EQ(f1["loose.jpg"].tags, std::vector<std::string>{"raw"});
  // The version's folder holds the very bytes.
  auto path = versions_->file_path(v1, "train/dogs/b.jpg");
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  EXPECT_EQ(*read_file(*path), std::string(2000, 'b'));

  // Changes in the folder: one file edited, one deleted, one added.
  put("faces", "train/dogs/b.jpg", std::string(2000, 'B'));
  fs::remove(folder("faces") + "/test/d.jpg");
  put("faces", "val/new.jpg", std::string(500, 'n'));
  const Version v2 = snap("faces", {.message = "week 2"});
  EXPECT_EQ(v2.number, 2);
  EXPECT_EQ(v2.parent, 1);
  EXPECT_EQ(v2.files, 5);
  EXPECT_EQ(v2.added, 1);
  EXPECT_EQ(v2.removed, 1);
  EXPECT_EQ(v2.changed, 1);
  EXPECT_EQ(v2.new_bytes, 2500) << "only the edited and the added file are stored";
  auto f2 = files(v2);
  EXPECT_EQ(f2["train/cats/a.jpg"].tags, (std::vector<std::string>{"raw", "train"}))
      << "an unchanged file keeps its tags";
  EXPECT_EQ(f2["val/new.jpg"].tags, std::vector<std::string>{}) << "this request gave none";
  // Version 1 is as it was: its files, its bytes.
  EXPECT_EQ(*read_file(*versions_->file_path(v1, "train/dogs/b.jpg")), std::string(2000, 'b'));
  EXPECT_TRUE(versions_->file_path(v1, "test/d.jpg").ok());
  EXPECT_FALSE(versions_->file_path(v2, "test/d.jpg").ok());
  // What a job naming "faces@1" mounts: version 1's folder, at the dataset's level.
  auto mounted = datasets_->get(project_, "faces@1");
  ASSERT_TRUE(mounted.ok()) << mounted.status().to_string();
  EXPECT_EQ(mounted->path, versions_->tree(v1));
  EXPECT_EQ(mounted->name, "faces@1");
  EXPECT_EQ(mounted->security_level, "secret");
  for (const std::string bad : {"faces@9", "faces@0", "faces@x", "faces@", "@1", "nope@1"}) {
    EXPECT_EQ(datasets_->get(project_, bad).status().code(), Code::kNotFound) << bad;
  }
  auto list = versions_->list(project_, "faces");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].number, 2) << "newest first";
  EXPECT_EQ((*list)[0].message, "week 2");
  EXPECT_EQ(versions_->get(project_, "faces", 0)->number, 2);
  EXPECT_EQ(versions_->get(project_, "faces", 9).status().code(), Code::kNotFound);

  // Filters.
  auto val = versions_->files(v2, {.split = "val"});
  ASSERT_TRUE(val.ok());
  ASSERT_EQ(val->size(), 2u);
  EXPECT_EQ((*val)[0].path, "val/c.jpg");
  auto cats = versions_->files(v2, {.prefix = "train/cats/"});
  ASSERT_EQ(cats->size(), 1u);
  auto page = versions_->files(v2, {.after = "train/cats/a.jpg", .limit = 2});
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].path, "train/dogs/b.jpg");
}

TEST_P(VersionsTest, SharesSplitNewFilesByPathTheSameWayEveryTime) {
  registered("many");
  for (int i = 0; i < 1000; ++i) put("many", "img" + std::to_string(i) + ".png", std::to_string(i));
  SnapshotRequest r;
  r.split_ratios = {{"train", 0.8}, {"val", 0.1}, {"test", 0.1}};
  const Version v = snap("many", r);
  EXPECT_NEAR(v.splits["train"].get<double>(), 800, 50);
  EXPECT_NEAR(v.splits["val"].get<double>(), 100, 30);
  EXPECT_NEAR(v.splits["test"].get<double>(), 100, 30);
  // Another dataset with the same names splits them the same way.
  registered("again");
  for (int i = 0; i < 1000; ++i)
    put("again", "img" + std::to_string(i) + ".png", "x" + std::to_string(i));
  const Version w = snap("again", r);
  EXPECT_EQ(w.splits, v.splits);
}

TEST_P(VersionsTest, DerivedVersionsRemoveRetagAndResplitWithoutTouchingTheirBase) {
  registered("d");
  put("d", "a.jpg", "aaa");
  put("d", "b.jpg", "bbb");
  put("d", "c.jpg", "ccc");
  const Version v1 = snap("d");
  Changes ch;
  ch.message = "review: 1 duplicate removed";
  ch.remove = {"b.jpg"};
  ch.set_split = {{"c.jpg", "test"}};
  ch.add_tags = {{"a.jpg", {"keep", "important"}}};
  auto v2 = versions_->derive(project_, "d", 1, ch, "reviewer");
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ(v2->number, 2);
  EXPECT_EQ(v2->parent, 1);
  EXPECT_EQ(v2->files, 2);
  EXPECT_EQ(v2->removed, 1);
  EXPECT_EQ(v2->new_bytes, 0);
  EXPECT_EQ(v2->created_by, "reviewer");
  auto f = files(*v2);
  EXPECT_EQ(f["a.jpg"].tags, (std::vector<std::string>{"important", "keep"}));
  EXPECT_EQ(f["c.jpg"].split, "test");
  EXPECT_EQ(files(v1).size(), 3u);
  // A later snapshot keeps what the review decided for files that did not change, and
  // brings back the removed file only because it is still in the folder.
  const Version v3 = snap("d");
  EXPECT_EQ(files(v3)["c.jpg"].split, "test");
  EXPECT_EQ(files(v3)["a.jpg"].tags, (std::vector<std::string>{"important", "keep"}));
  // Errors name what was wrong, and make nothing.
  Changes bad;
  bad.remove = {"nope.jpg"};
  auto e = versions_->derive(project_, "d", 1, bad, "x");
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("'nope.jpg' is not a file of version 1"), std::string::npos);
  Changes bad_tag;
  bad_tag.add_tags = {{"a.jpg", {"../x"}}};
  EXPECT_EQ(versions_->derive(project_, "d", 1, bad_tag, "x").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(versions_->derive(project_, "d", 7, ch, "x").status().code(), Code::kNotFound);
  EXPECT_EQ(versions_->list(project_, "d")->size(), 3u);
}

TEST_P(VersionsTest, RemovingVersionsFreesOnlyWhatNoOtherVersionHolds) {
  registered("d");
  put("d", "a.jpg", std::string(4096, 'a'));
  const Version v1 = snap("d");
  put("d", "b.jpg", std::string(4096, 'b'));
  const Version v2 = snap("d");
  const std::string a = files(v2)["a.jpg"].sha256, b = files(v2)["b.jpg"].sha256;
  const std::string blobs = store_dir() + "/blobs/" + project_;
  ASSERT_TRUE(versions_->remove(project_, "d", 2).ok());
  EXPECT_TRUE(fs::exists(blobs + "/" + a.substr(0, 2) + "/" + a)) << "version 1 holds a.jpg";
  EXPECT_FALSE(fs::exists(blobs + "/" + b.substr(0, 2) + "/" + b));
  EXPECT_FALSE(fs::exists(versions_->tree(v2)));
  EXPECT_TRUE(versions_->file_path(v1, "a.jpg").ok());
  // A deleted dataset's versions go with it; their files at the next collection.
  ASSERT_TRUE(datasets_->remove(project_, "d").ok());
  ASSERT_TRUE(versions_->collect_garbage(project_).ok());
  EXPECT_FALSE(fs::exists(blobs + "/" + a.substr(0, 2) + "/" + a));
  EXPECT_FALSE(fs::exists(versions_->tree(v1)));
  EXPECT_EQ(*versions_->stored_bytes(project_), 0);
  // The folder itself (a registered dataset is its owner's) is untouched.
  EXPECT_TRUE(fs::exists(folder("d") + "/a.jpg"));
}

TEST_P(VersionsTest, NoLinkOutNoPathOutAndNoBytesSharedBetweenProjects) {
  registered("d");
  put("d", "a.jpg", "picture");
  const std::string secret = dir_.str() + "/outside-secret.txt";
  ASSERT_TRUE(write_file(secret, "the server's secret").ok());
  fs::create_symlink(secret, folder("d") + "/link.jpg");
  fs::create_directory_symlink(dir_.str(), folder("d") + "/up");
  const Version v = snap("d");
  EXPECT_EQ(v.files, 1) << "links are not part of a version";
  for (const std::string p : {"link.jpg", "../../outside-secret.txt", "up/outside-secret.txt",
                              "/etc/passwd", "../1/a.jpg", ""}) {
    EXPECT_EQ(versions_->file_path(v, p).status().code(), Code::kNotFound) << p;
  }
  // The same bytes in another project are stored for that project, counted to it.
  registered("theirs", other_);
  put("theirs", "copy.jpg", "picture");
  const Version w = snap("theirs", {}, other_);
  EXPECT_EQ(w.new_bytes, 7) << "another project's copy must not make this one free";
  EXPECT_EQ(v.new_bytes, 7);
  // Another project cannot name this project's dataset, nor its versions for a job.
  EXPECT_EQ(versions_->get(other_, "d", 1).status().code(), Code::kNotFound);
  EXPECT_EQ(datasets_->get(other_, "d@1").status().code(), Code::kNotFound);
  EXPECT_EQ(versions_->snapshot(other_, "d", {}, "x").status().code(), Code::kNotFound);
}

TEST_P(VersionsTest, AVersionOverTheStorageQuotaIsRefusedAndLeavesNothing) {
  registered("d");
  put("d", "a.jpg", std::string(5000, 'a'));
  put("d", "b.jpg", std::string(5000, 'b'));
  auto v = versions_->snapshot(project_, "d", {}, "owner", 6000);
  EXPECT_EQ(v.status().code(), Code::kResourceExhausted);
  EXPECT_NE(v.status().message().find("storage quota"), std::string::npos);
  EXPECT_EQ(*versions_->stored_bytes(project_), 0);
  EXPECT_TRUE(versions_->list(project_, "d")->empty());
  EXPECT_TRUE(versions_->snapshot(project_, "d", {}, "owner", 20000).ok());
}

TEST(SnapshotRequest, ParsesAndSaysWhatIsWrong) {
  auto ok = parse_snapshot_request(Json::parse(
      R"({"message":"m","splits":{"train":0.7,"val":0.3},"tags":["raw"],"tag_by_folder":true})"));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->split_ratios.size(), 2u);
  EXPECT_TRUE(ok->tag_by_folder);
  auto msg = [](const char* body) {
    return parse_snapshot_request(Json::parse(body)).status().message();
  };
  EXPECT_NE(msg(R"({"splits":{"train":0.7}})").find("sum to 0.7, not 1"), std::string::npos);
  EXPECT_NE(msg(R"({"splits":{"../x":1}})").find("split '../x'"), std::string::npos);
  EXPECT_NE(msg(R"({"splits":{"a":-1,"b":2}})").find("in (0, 1]"), std::string::npos);
  EXPECT_NE(msg(R"({"tags":[1]})").find("strings"), std::string::npos);
  EXPECT_NE(msg(R"({"tag":["x"]})").find("unknown field 'tag'"), std::string::npos);
  EXPECT_NE(msg(R"({"tag_by_folder":"yes"})").find("true or false"), std::string::npos);
  EXPECT_NE(msg("[]").find("JSON object"), std::string::npos);
}

JZ_ON_BOTH_DATABASES(VersionsTest);

}  // namespace
}  // namespace jz::datasets
