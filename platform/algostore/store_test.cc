// The algorithm store on both databases: listings bound to packages signed by the
// publisher key, orders and their codes, activations counted against seats (50 at once on a
// 10-seat code), renewals, revocation, terms, offline requests, downloads and usage.
#include "platform/algostore/store.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/files.h"
#include "core/random.h"
#include "platform/iam/events.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "sdk/licence.h"
#include "sdk/package.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace jz::algostore {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    store::DatabaseOptions used;
    auto db = testing::open_test_database(GetParam(), dir_, &used);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(*db);
    events_ = std::make_unique<iam::EventLog>(*db_, clock_, ids_);
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, clock_, ids_);
    jobs_ = std::make_unique<jobs::JobStore>(*db_, clock_, ids_, *events_);
    datasets_ = std::make_unique<jobs::Datasets>(*db_, clock_, ids_, jobs::DatasetPolicy{"", ""});
    outputs_ = std::make_unique<jobs::Outputs>(*db_, clock_, ids_);
    ASSERT_TRUE(tenancy_->create_workspace("ws", "").ok());
    ASSERT_TRUE(tenancy_->create_project("ws", "vision", "", "").ok());
    ASSERT_TRUE(tenancy_->create_project("ws", "other", "", "").ok());
    project_ = tenancy_->project("vision")->id;
    other_ = tenancy_->project("other")->id;
    auto logger =
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
    tests_ = std::make_unique<autotest::AutotestService>(
        *db_, clock_, ids_, *jobs_, *datasets_, *outputs_,
        autotest::AutotestOptions{.dir = dir_.str() + "/autotest"}, logger);
    store_ = std::make_unique<AlgorithmStore>(*db_, clock_, ids_, *tests_,
                                              alerts::SecretBox::with_key(std::string(32, 'k')),
                                              StoreOptions{.licence_days = 30}, logger);
    publisher_ = sdk::generate_signing_key("acme-vision");
  }

  // Packs color_blobs (1.0.0) signed by `key`, uploads it, and marks it ready as
  // its conformance checks would.
  void upload(const std::string& version, const sdk::SigningKey& key) {
    // A folder per upload: pack loads the library, which must not be overwritten in place.
    const std::string d = dir_.str() + "/pkg-" + version + "-" + std::to_string(++uploads_);
    fs::create_directories(d);
    fs::copy_file(JZ_COLOR_BLOBS, d + "/color_blobs.so");
    ASSERT_TRUE(write_file(d + "/manifest.json", Json{{"library", "color_blobs.so"}}.dump()).ok());
    auto packed = sdk::pack({.dir = d, .out = d + ".jzpkg", .key = key});
    ASSERT_TRUE(packed.ok()) << packed.status().message();
    auto a = tests_->upload_algorithm(project_, *read_file(d + ".jzpkg"), "dev");
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(db_->with_conn([](store::Conn& c) {
                     return c.exec("UPDATE autotest_algorithms SET state = 'ready'").status();
                   })
                    .ok());
  }

  // A listing of color_blobs 1.0.0 with two tiers.
  void list_it() {
    ASSERT_TRUE(
        store_->set_publisher(project_, sdk::signing_key_json(publisher_).dump(), "admin").ok());
    upload("1.0.0", publisher_);
    auto l = store_->put_listing(
        project_, "vision", tenancy_->workspace("ws")->id, "color_blobs",
        {{"title", "Colour blobs"},
         {"description", "Finds coloured blobs"},
         {"details", {{"tags", {"demo", "blobs"}}, {"inputs", {"image", "video"}}}},
         {"tiers",
          {{{"name", "basic"}, {"channels", 2}, {"qps", 10}, {"term_days", 365}, {"price", "1"}},
           {{"name", "pro"}, {"channels", 16}, {"term_days", 30}}}},
         {"visibility", "public"}},
        "dev");
    ASSERT_TRUE(l.ok()) << l.status().message();
    auto v = store_->add_version(project_, "color_blobs", {{"version", "1.0.0"}}, "dev");
    ASSERT_TRUE(v.ok()) << v.status().message();
  }

  Order order(int64_t seats, const std::string& per, const std::string& tier = "basic") {
    auto o = store_->create_order(
        project_, "color_blobs",
        {{"tier", tier}, {"customer", "Acme Retail"}, {"seats", seats}, {"codes_per", per}},
        "admin");
    EXPECT_TRUE(o.ok()) << o.status().message();
    return o.ok() ? *o : Order{};
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
  std::unique_ptr<autotest::AutotestService> tests_;
  std::unique_ptr<AlgorithmStore> store_;
  sdk::SigningKey publisher_;
  std::string project_, other_;
  int uploads_ = 0;
};

TEST_P(StoreTest, AVersionIsAReadyPackageSignedByThePublisherKey) {
  auto no_key = store_->put_listing(project_, "vision", "w", "color_blobs",
                                    {{"title", "x"}, {"tiers", {{{"name", "t"}}}}}, "dev");
  ASSERT_TRUE(no_key.ok()) << no_key.status().message();
  // No publisher key yet.
  auto v = store_->add_version(project_, "color_blobs", {{"version", "1.0.0"}}, "dev");
  EXPECT_EQ(v.status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(store_->set_publisher(project_, sdk::signing_key_json(publisher_).dump(), "a").ok());
  // No package yet.
  v = store_->add_version(project_, "color_blobs", {{"version", "1.0.0"}}, "dev");
  EXPECT_NE(v.status().message().find("upload it first"), std::string::npos)
      << v.status().message();
  // A package signed by someone else.
  upload("1.0.0", sdk::generate_signing_key("someone"));
  v = store_->add_version(project_, "color_blobs", {{"version", "1.0.0"}}, "dev");
  EXPECT_NE(v.status().message().find("not by the project's publisher key"), std::string::npos)
      << v.status().message();
  // The publisher's own.
  ASSERT_TRUE(tests_->delete_algorithm(project_, "color_blobs", "1.0.0").ok());
  upload("1.0.0", publisher_);
  v = store_->add_version(
      project_, "color_blobs",
      {{"version", "1.0.0"}, {"notes", "faster"}, {"evaluations", Json::array()}}, "dev");
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->versions.size(), 1u);
  EXPECT_EQ(v->versions[0]["version"], "1.0.0");
  EXPECT_EQ(v->versions[0]["notes"], "faster");
  EXPECT_EQ(
      store_->add_version(project_, "color_blobs", {{"version", "1.0.0"}}, "dev").status().code(),
      Code::kAlreadyExists);
  // An evaluation that is not the project's is refused.
  v = store_->add_version(project_, "color_blobs",
                          {{"version", "1.0.0"}, {"evaluations", {"eval_NOPE"}}}, "dev");
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  // Bad input names its field and changes nothing.
  auto bad = store_->put_listing(project_, "vision", "w", "color_blobs",
                                 {{"tiers", {{{"name", "t"}, {"channels", -1}}}}}, "dev");
  EXPECT_NE(bad.status().message().find("channels"), std::string::npos) << bad.status().message();
  bad = store_->put_listing(project_, "vision", "w", "color_blobs", {{"visibility", "customers"}},
                            "dev");
  EXPECT_NE(bad.status().message().find("customers"), std::string::npos) << bad.status().message();
  EXPECT_EQ(store_->listing(project_, "color_blobs")->tiers[0].name, "t");
  // Other projects do not see it.
  EXPECT_EQ(store_->listing(other_, "color_blobs").status().code(), Code::kNotFound);
}

TEST_P(StoreTest, SeatsRenewalsRevocationAndTerms) {
  list_it();
  // One code for two machines.
  Order o = order(2, "order");
  ASSERT_EQ(o.codes.size(), 1u);
  const std::string code = o.codes[0]["code"];
  const std::string code_id = o.codes[0]["id"];
  auto a1 = store_->activate(code, "aaaa-1111-aaaa-1111");
  ASSERT_TRUE(a1.ok()) << a1.status().message();
  EXPECT_FALSE(a1->renewed);
  EXPECT_EQ(a1->version, "1.0.0");
  // The licence: signed by the publisher key, for this machine and the tier's limits.
  sdk::SignedDocument doc;
  auto lic = sdk::parse_licence(a1->licence_text, &doc);
  ASSERT_TRUE(lic.ok()) << lic.status().message();
  EXPECT_TRUE(sdk::licence_signed_by(doc, publisher_.pub));
  EXPECT_EQ(lic->machine, "aaaa-1111-aaaa-1111");
  EXPECT_EQ(lic->channels, 2);
  EXPECT_EQ(lic->qps, 10);
  EXPECT_EQ(lic->customer, "Acme Retail");
  EXPECT_EQ(lic->activation_sha256, sha256_hex(*sdk::normalize_activation_code(code)));
  EXPECT_EQ(lic->valid_until - lic->valid_from, std::chrono::hours(24 * 30));
  sdk::LicenceUse use{.algorithm = "color_blobs",
                      .version = "1.0.0",
                      .machine = "aaaa-1111-aaaa-1111",
                      .now = clock_.now(),
                      .channels = 2};
  EXPECT_TRUE(sdk::check_licence(*lic, use).ok());
  // The same response replayed on another machine: refused on the fingerprint.
  use.machine = "bbbb-2222-bbbb-2222";
  EXPECT_NE(sdk::check_licence(*lic, use).message().find("machine"), std::string::npos);

  // Lower case, no dashes: the same code. Second machine; third refused.
  std::string sloppy;
  for (char ch : code) {
    if (ch != '-') sloppy += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  ASSERT_TRUE(store_->activate(sloppy, "bbbb-2222-bbbb-2222").ok());
  auto third = store_->activate(code, "cccc-3333-cccc-3333");
  EXPECT_EQ(third.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(third.status().message().find("all its 2 machine(s)"), std::string::npos)
      << third.status().message();
  // The first machine again: a renewal of the same licence, later.
  clock_.advance(std::chrono::hours(24 * 20));
  auto again = store_->activate(code, "aaaa-1111-aaaa-1111");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->renewed);
  EXPECT_EQ(again->licence.id, a1->licence.id);
  EXPECT_GT(again->licence.valid_until, a1->licence.valid_until);
  auto acts = store_->activations(project_, code_id);
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ(acts->size(), 2u);
  EXPECT_EQ(store_->activations(other_, code_id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->order(project_, o.id)->codes[0]["used"], 2);

  // Downloads: the package the token names, for an hour.
  auto path = store_->download_path(again->download);
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(sha256_file(*path).value(), again->sha256);
  EXPECT_EQ(store_->download_path(std::string(48, '0')).status().code(), Code::kNotFound);

  // Revoked: no renewal, no download, the reason shown.
  EXPECT_EQ(store_->revoke_code(other_, code_id, "x", "admin").code(), Code::kNotFound);
  ASSERT_TRUE(store_->revoke_code(project_, code_id, "unpaid invoice", "admin").ok());
  auto revoked = store_->activate(code, "aaaa-1111-aaaa-1111");
  EXPECT_EQ(revoked.status().code(), Code::kPermissionDenied);
  EXPECT_NE(revoked.status().message().find("unpaid invoice"), std::string::npos);
  EXPECT_EQ(store_->download_path(again->download).status().code(), Code::kNotFound);

  // Codes per seat, on the 30-day tier: past the term nothing activates.
  Order pro = order(2, "seat", "pro");
  ASSERT_EQ(pro.codes.size(), 2u);
  EXPECT_EQ(pro.codes[0]["seats"], 1);
  const std::string c1 = pro.codes[0]["code"];
  auto p1 = store_->activate(c1, "dddd-4444-dddd-4444");
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->licence.channels, 16);
  EXPECT_EQ(store_->activate(c1, "eeee-5555-eeee-5555").status().code(), Code::kFailedPrecondition);
  clock_.advance(std::chrono::hours(24 * 31));
  auto late = store_->activate(c1, "dddd-4444-dddd-4444");
  EXPECT_NE(late.status().message().find("term ended"), std::string::npos)
      << late.status().message();

  // Codes that are not codes, and fingerprints that are not fingerprints.
  EXPECT_EQ(store_->activate("ABCD-EFGH", "aaaa-1111").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->activate(sdk::new_activation_code(), "aaaa-1111-aaaa-1111").status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->activate(c1, "../../etc").status().code(), Code::kInvalidArgument);
}

TEST_P(StoreTest, FiftySimultaneousActivationsOfATenSeatCodeGiveTen) {
  list_it();
  Order o = order(10, "order");
  const std::string code = o.codes[0]["code"];
  std::atomic<int> ok{0}, full{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      char fp[32];
      std::snprintf(fp, sizeof fp, "%04x-0000-0000-%04x", i, i);
      auto a = store_->activate(code, fp);
      if (a.ok()) {
        ++ok;
      } else if (a.status().code() == Code::kFailedPrecondition) {
        ++full;
      } else {
        ++other;
        ADD_FAILURE() << a.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(full.load(), 40);
  EXPECT_EQ(other.load(), 0);
  auto acts = store_->activations(project_, o.codes[0]["id"]);
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ(acts->size(), 10u);
}

TEST_P(StoreTest, OfflineRequestsAndUsageReports) {
  list_it();
  Order o = order(1, "seat");
  const std::string code = o.codes[0]["code"];
  const sdk::SigningKey install = sdk::generate_signing_key("client");
  const std::string fp = sdk::client_fingerprint("abcdef", install.pub);
  const std::string request = sdk::make_activation_request(install, code, fp, clock_.now());
  // Another project's seller cannot answer it; a changed request is refused.
  EXPECT_EQ(store_->offline_licence(other_, request).status().code(), Code::kNotFound);
  std::string edited = request;
  edited.replace(edited.find(fp), fp.size(), "ffff-ffff-ffff-ffff");
  auto bad = store_->offline_licence(project_, edited);
  EXPECT_NE(bad.status().message().find("changed after"), std::string::npos)
      << bad.status().message();
  auto a = store_->offline_licence(project_, request);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->licence.machine, fp);

  // Usage: this machine with this licence only; a report sent twice is kept once.
  Json report = {{"code", code},
                 {"fingerprint", fp},
                 {"licence", a->licence.id},
                 {"reports",
                  {{{"id", "r1"},
                    {"from", format_rfc3339(clock_.now())},
                    {"to", format_rfc3339(clock_.now() + std::chrono::minutes(1))},
                    {"frames", 600},
                    {"channels", 2},
                    {"algorithm", "color_blobs"}}}}};
  EXPECT_EQ(*store_->report_usage(report), 1);
  EXPECT_EQ(*store_->report_usage(report), 0);
  Json wrong = report;
  wrong["fingerprint"] = "0000-0000-0000-0000";
  EXPECT_EQ(store_->report_usage(wrong).status().code(), Code::kPermissionDenied);
  wrong = report;
  wrong["licence"] = "L-000000000000";
  EXPECT_EQ(store_->report_usage(wrong).status().code(), Code::kPermissionDenied);
  auto acts = store_->activations(project_, o.codes[0]["id"]);
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ((*acts)[0]["usage"]["frames"], 600);
  EXPECT_EQ((*acts)[0]["usage"]["reports"], 1);

  // The store front: visible listings with a version, searched.
  auto all = [](const Listing&) { return true; };
  EXPECT_EQ(store_->store_front(all, "", "")->size(), 1u);
  EXPECT_EQ(store_->store_front(all, "BLOBS", "")->size(), 1u);
  EXPECT_EQ(store_->store_front(all, "", "demo")->size(), 1u);
  EXPECT_EQ(store_->store_front(all, "faces", "")->size(), 0u);
  EXPECT_EQ(store_->store_front([](const Listing&) { return false; }, "", "")->size(), 0u);
  // A listing with orders stays.
  EXPECT_EQ(store_->delete_listing(project_, "color_blobs").code(), Code::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Dialects, StoreTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::algostore
