// The setting every dataset service test starts from, on SQLite and on PostgreSQL (the
// test's parameter): workspace "ws" with project "vision", datasets registered from folders
// under a temporary directory, and the versions service over a store there. Tests only.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/files.h"
#include "core/id.h"
#include "core/random.h"
#include "platform/datasets/versions.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace jz::datasets {

class DatasetServicesTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(*db);
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    datasets_ = std::make_unique<jobs::Datasets>(*db_, clock_, ids_, jobs::DatasetPolicy{"", ""});
    versions_ =
        std::make_unique<DatasetVersions>(*db_, clock_, ids_, *datasets_, version_options());
    ASSERT_TRUE(tenancy_->create_workspace("ws", "").ok());
    ASSERT_TRUE(tenancy_->create_project("ws", "vision", "", "").ok());
    project_ = tenancy_->project("vision")->id;
    ws_ = tenancy_->project("vision")->workspace_id;
  }

  virtual VersionOptions version_options() const { return {.dir = store_dir()}; }
  std::string store_dir() const { return dir_.str() + "/store"; }
  std::string folder(const std::string& name) const { return dir_.str() + "/data/" + name; }

  // Writes `bytes` to REL in dataset `dataset`'s folder (folders made).
  void put(const std::string& dataset, const std::string& rel, const std::string& bytes) {
    const std::filesystem::path p = std::filesystem::path(folder(dataset)) / rel;
    std::filesystem::create_directories(p.parent_path());
    ASSERT_TRUE(write_file(p.string(), bytes).ok());
  }

  // Registers dataset `name` (secret) over its folder in `project` ("" for vision).
  void registered(const std::string& name, const std::string& project = "") {
    std::filesystem::create_directories(folder(name));
    auto d = datasets_->create(project.empty() ? project_ : project, ws_, name, folder(name),
                               "secret", "owner", true);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
  }

  Version snap(const std::string& name, SnapshotRequest r = {}, const std::string& project = "") {
    auto v = versions_->snapshot(project.empty() ? project_ : project, name, r, "owner");
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? *v : Version{};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  FakeClock clock_;
  IdGenerator ids_{clock_, SecureRandom::instance()};
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<jobs::Datasets> datasets_;
  std::unique_ptr<DatasetVersions> versions_;
  std::string project_, ws_;
};

// The same, with what services that run their work as jobs need: the job store and the
// jobs' outputs.
class JobServicesTest : public DatasetServicesTest {
 protected:
  void SetUp() override {
    DatasetServicesTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
    jobs_ = std::make_unique<jobs::JobStore>(*db_, clock_, ids_, *events_);
    outputs_ = std::make_unique<jobs::Outputs>(*db_, clock_, ids_);
  }

  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<jobs::JobStore> jobs_;
  std::unique_ptr<jobs::Outputs> outputs_;
};

// Runs SUITE on both databases, each test named after its dialect.
#define JZ_ON_BOTH_DATABASES(SUITE)                                                           \
  INSTANTIATE_TEST_SUITE_P(                                                                   \
      Dialects, SUITE, ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres), \
      [](const auto& info) { return std::string(store::dialect_name(info.param)); })

}  // namespace jz::datasets
