// The algorithm store end to end on a real server and the real CLI (docs/STORE.md):
// face_detect is evaluated, listed with its report, sold as two seats; two customer
// installs activate, a third is refused; tampered licences, swapped packages, answers
// replayed for another machine and installs copied to another machine are each refused
// with their own message; a revoked code renews nothing; an offline request is answered.
// Every seat of the project and another tenant try what they must not do.
#include <gtest/gtest.h>
#include <httplib.h>

#include <opencv2/imgcodecs.hpp>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"
#include "tests/support/synthetic_faces.h"

namespace jz {
namespace {

const char* kCountTemplate = R"(name: faces
task: counting
predictions: {id: sample}
annotations: {id: image}
variables:
  - name: faces
    prediction: result.algorithm_data.target_count@num
    annotation: faces@num
    rule: {type: numeric, abs: 0}
)";

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* u : {"seller", "dev", "viewer", "owner", "buyer", "outsider"})
      users_.emplace(u, p_.user(u));
    p_.project("lab", "vision",
               {{"seller", "project-admin"},
                {"dev", "project-developer"},
                {"viewer", "project-viewer"},
                {"owner", "data-owner"}});
    p_.project("acme", "shop", {{"buyer", "project-admin"}});
    p_.project("rival", "other", {{"outsider", "project-admin"}});
    config_ = path("cli-config");
  }
  Api& as(const std::string& u) { return users_.at(u); }
  std::string path(const std::string& name) const { return p_.dir.str() + "/" + name; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(p_.server->port()); }

  SubprocessResult jizhan(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), testing::jizhan_binary());
    env.emplace("JIZHAN_CONFIG_DIR", config_);
    env.emplace("TMPDIR", p_.dir.str());
    env.emplace("JIZHAN_SERVER", url());
    auto r = run_subprocess(
        {.argv = args, .env = env, .cwd = p_.dir.str(), .timeout = std::chrono::seconds(300)});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SubprocessResult{};
  }
  std::string ok(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    auto r = jizhan(std::move(args), std::move(env));
    EXPECT_EQ(r.exit_code, 0) << shown << "\n" << r.out << r.err;
    return r.out;
  }
  // The command fails and its message says `why`.
  void refused(std::vector<std::string> args, const std::string& why,
               std::map<std::string, std::string> env = {}) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    auto r = jizhan(std::move(args), std::move(env));
    EXPECT_NE(r.exit_code, 0) << shown << "\n" << r.out;
    EXPECT_NE(r.err.find(why), std::string::npos) << shown << "\n" << r.err;
  }
  std::string raw(const std::string& user, const std::string& method, const std::string& u,
                  const std::string& body, int want) {
    httplib::Client c("127.0.0.1", p_.server->port());
    c.set_read_timeout(60, 0);
    httplib::Headers h = {{"Authorization", "Bearer " + as(user).token()}};
    auto r = c.Post(u, h, body, "application/octet-stream");
    EXPECT_TRUE(r) << u;
    if (!r) return "";
    EXPECT_EQ(r->status, want) << method << " " << u << ": " << r->body;
    return r->body;
  }
  // A client command for the install folder `dir`.
  std::vector<std::string> client(std::vector<std::string> args, const std::string& dir) {
    args.insert(args.begin(), "client");
    args.push_back("--dir");
    args.push_back(path(dir));
    return args;
  }

  Platform p_;
  std::string config_;
  std::map<std::string, Api> users_;
};

TEST_F(Store, FaceDetectIsListedSoldActivatedRefusedAndRevoked) {
  ASSERT_TRUE(p_.server);
  // The seller has the platform make the project's publisher key; the developers sign
  // face_detect with it.
  const std::map<std::string, std::string> seller = {{"JIZHAN_TOKEN", as("seller").token()}};
  const std::map<std::string, std::string> dev = {{"JIZHAN_TOKEN", as("dev").token()}};
  ok({"store", "publisher", "set", "vision", "--out", path("vendor.key")}, seller);
  fs::create_directories(path("face_detect"));
  fs::copy(JZ_FACE_DETECT_DIR, path("face_detect"),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  ok({"algo", "pack", path("face_detect"), "--key", path("vendor.key"), "--out",
      path("face_detect.jzpkg")});
  Json a = Json::parse(raw("dev", "POST", "/api/v1/projects/vision/algorithms",
                           *read_file(path("face_detect.jzpkg")), 201));
  for (int i = 0; i < 1800 && a.value("state", "") == "checking"; ++i) {
    std::this_thread::sleep_for(100ms);
    a = as("dev").call("GET", "/api/v1/projects/vision/algorithms/face_detect/1.0.0");
  }
  ASSERT_EQ(a["state"], "ready") << a.dump(2);

  // Its report: a counting suite on still images the developers never see.
  fs::create_directories(path("stills"));
  std::string truth;
  for (int i = 0; i < 4; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "s%02d.png", i);
    cv::imwrite(path("stills/") + name,
                testing::faces_image(320, 240, {{90, 120, 100}, {230, 110, 80}}));
    truth += Json{{"image", name}, {"faces", 2}}.dump() + "\n";
  }
  auto tar = run_subprocess({.argv = {"tar", "-czf", path("stills.tgz"), "-C", path("stills"),
                                      "s00.png", "s01.png", "s02.png", "s03.png"}});
  ASSERT_TRUE(tar.ok() && tar->success());
  httplib::Client hc("127.0.0.1", p_.server->port());
  hc.set_read_timeout(60, 0);
  auto up = hc.Post("/api/v1/projects/vision/datasets/stills/archive?security_level=internal",
                    {{"Authorization", "Bearer " + as("owner").token()}},
                    *read_file(path("stills.tgz")), "application/octet-stream");
  ASSERT_TRUE(up && up->status == 201) << (up ? up->body : "no answer");
  as("owner").call("POST", "/api/v1/projects/vision/suites",
                   {{"name", "faces"},
                    {"dataset", "stills"},
                    {"template", kCountTemplate},
                    {"annotations", {{"file", "truth.jsonl"}, {"content", truth}}},
                    {"thresholds", {"accuracy >= 0.5"}}});
  Json e = as("dev").call("POST", "/api/v1/projects/vision/evaluations",
                          {{"suite", "faces"}, {"algorithm", "face_detect"}, {"version", "1.0.0"}});
  const std::string eval_id = e["id"];
  for (int i = 0; i < 2400; ++i) {
    e = as("dev").call("GET", "/api/v1/projects/vision/evaluations/" + eval_id);
    const std::string s = e.value("state", "");
    if (s == "passed" || s == "failed" || s == "error") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(e["state"], "passed") << e.dump(2);

  // The listing: the developers write it and list 1.0.0 with its report.
  ASSERT_TRUE(
      write_file(path("listing.json"), Json{{"title", "Face detection"},
                                            {"description", "Finds faces in images and video"},
                                            {"details",
                                             {{"inputs", {"image", "video", "rtsp"}},
                                              {"hardware", {{"gpu_memory_mib", 0}}},
                                              {"tags", {"faces", "security"}}}},
                                            {"tiers",
                                             {{{"name", "basic"},
                                               {"channels", 2},
                                               {"qps", 25},
                                               {"term_days", 365},
                                               {"price", "1200 CNY/year"}}}},
                                            {"visibility", "customers"},
                                            {"customers", {"acme"}}}
                                           .dump())
          .ok());
  ok({"store", "listing", "put", "vision", "face_detect", "--file", path("listing.json")}, dev);
  ok({"store", "listing", "version", "vision", "face_detect", "1.0.0", "--evaluation", eval_id,
      "--notes", "first release"},
     dev);
  // The customer's workspace sees it with the report's metrics; another tenant does not.
  Json front = as("buyer").call("GET", "/api/v1/store/listings?q=face");
  ASSERT_EQ(front["items"].size(), 1u) << front.dump(2);
  const Json report = front["items"][0]["versions"][0]["reports"][0];
  EXPECT_EQ(report["evaluation"], eval_id);
  EXPECT_EQ(report["suite"], "faces");
  EXPECT_TRUE(report["metrics"].contains("accuracy")) << report.dump(2);
  EXPECT_EQ(as("outsider").call("GET", "/api/v1/store/listings")["items"].size(), 0u);
  int status = 0;
  as("outsider").call("GET", "/api/v1/store/listings/vision/face_detect", nullptr, &status);
  EXPECT_EQ(status, 404);

  // Who may sell: the project admin only; nobody from another tenant.
  const Json order_body = {
      {"listing", "face_detect"}, {"tier", "basic"}, {"customer", "Acme"}, {"seats", 2}};
  for (const char* who : {"dev", "viewer", "owner", "buyer", "outsider"}) {
    // Members are refused; to other tenants the project does not exist.
    const int want = std::string(who) == "buyer" || std::string(who) == "outsider" ? 404 : 403;
    as(who).call("POST", "/api/v1/projects/vision/orders", order_body, &status);
    EXPECT_EQ(status, want) << who;
    as(who).call("GET", "/api/v1/projects/vision/orders", nullptr, &status);
    EXPECT_EQ(status, want) << who;
    as(who).call("PUT", "/api/v1/projects/vision/store/publisher", Json::object(), &status);
    EXPECT_EQ(status, want) << who;
  }
  // Two seats, one code.
  const Json order =
      Json::parse(ok({"store", "order", "vision", "face_detect", "--tier", "basic", "--customer",
                      "Acme", "--seats", "2", "--one-code", "-o", "json"},
                     seller));
  ASSERT_EQ(order["codes"].size(), 1u);
  const std::string code = order["codes"][0]["code"];
  const std::string code_id = order["codes"][0]["id"];
  // Nobody reads the code from the audit trail.
  EXPECT_EQ(p_.admin().text("/api/v1/audit?page_size=1000").find(code), std::string::npos);

  // Two customer installs activate over loopback; a third is refused.
  EXPECT_NE(ok(client({"activate", code, "--server", url()}, "c1")).find("installed face_detect"),
            std::string::npos);
  ok(client({"activate", code, "--server", url()}, "c2"));
  refused(client({"activate", code, "--server", url()}, "c3"), "in use on all its 2 machine(s)");
  const Json listed = Json::parse(ok(client({"list", "-o", "json"}, "c1")));
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(listed["items"][0]["state"], "ok");
  EXPECT_EQ(listed["items"][0]["channels"], 2);
  // Activating again on the same machine renews, it takes no seat.
  EXPECT_NE(ok(client({"renew"}, "c1")).find("renewed face_detect"), std::string::npos);
  Json acts = as("seller").call("GET", "/api/v1/projects/vision/codes/" + code_id + "/activations");
  EXPECT_EQ(acts.size(), 2u) << acts.dump(2);
  as("outsider")
      .call("GET", "/api/v1/projects/vision/codes/" + code_id + "/activations", nullptr, &status);
  EXPECT_EQ(status, 404);

  // Tampering. An edited licence:
  const std::string lic_file = [&] {
    for (const auto& f : fs::directory_iterator(path("c1/licences"))) {
      if (f.path().extension() == ".json") return f.path().string();
    }
    return std::string();
  }();
  ASSERT_FALSE(lic_file.empty());
  const Json rec = Json::parse(*read_file(lic_file));
  const std::string c1_licence = rec["licence"].dump(2);
  ASSERT_TRUE(write_file(path("c1.jzlic"), c1_licence).ok());
  std::string edited = c1_licence;
  const size_t at = edited.find("\\\"channels\\\":2");
  ASSERT_NE(at, std::string::npos) << edited;
  edited.replace(at, 14, "\\\"channels\\\":9");
  ASSERT_TRUE(write_file(path("edited.jzlic"), edited).ok());
  refused(client({"install", "--licence", path("edited.jzlic"), "--package",
                  path("face_detect.jzpkg"), "--code", code},
                 "c4"),
          "it was changed after it was issued");
  // c1's answer replayed on another install (another machine):
  refused(client({"install", "--licence", path("c1.jzlic"), "--package", path("face_detect.jzpkg"),
                  "--code", code},
                 "c4"),
          "an answer meant for another machine");
  // A package swapped for another one of the same publisher:
  fs::create_directories(path("other_algo"));
  fs::copy_file(JZ_COLOR_BLOBS, path("other_algo/color_blobs.so"));
  ASSERT_TRUE(write_file(path("other_algo/manifest.json"), R"({"library":"color_blobs.so"})").ok());
  ok({"algo", "pack", path("other_algo"), "--key", path("vendor.key"), "--out",
      path("other.jzpkg")});
  refused(client({"install", "--licence", path("c1.jzlic"), "--package", path("other.jzpkg"),
                  "--code", code},
                 "c1"),
          "the package is color_blobs, the licence is for face_detect");
  // ... and the installed package replaced after its download:
  fs::copy_file(path("other.jzpkg"), path("c2/algorithms/face_detect/package.jzpkg"),
                fs::copy_options::overwrite_existing);
  EXPECT_NE(ok(client({"list"}, "c2")).find("package changed since it was installed"),
            std::string::npos);
  // An install copied to another machine:
  ASSERT_TRUE(write_file(path("other-machine-id"), "0123456789abcdef0123456789abcdef\n").ok());
  fs::copy(path("c1"), path("c1-copy"), fs::copy_options::recursive);
  EXPECT_NE(ok(client({"list"}, "c1-copy"), {{"JIZHAN_MACHINE_ID_FILE", path("other-machine-id")}})
                .find("copied from another machine"),
            std::string::npos);

  // Revoked: the next renewal fails with the seller's reason.
  for (const char* who : {"dev", "buyer", "outsider"}) {
    as(who).call("POST", "/api/v1/projects/vision/codes/" + code_id + "/revoke", {{"reason", "x"}},
                 &status);
    EXPECT_TRUE(status == 403 || status == 404) << who << " " << status;
  }
  ok({"store", "revoke", "vision", code_id, "--reason", "contract ended"}, seller);
  refused(client({"renew"}, "c1"), "contract ended");

  // Offline: a request file answered by the seller, installed without the network.
  const Json second = as("seller").call(
      "POST", "/api/v1/projects/vision/orders",
      {{"listing", "face_detect"}, {"tier", "basic"}, {"customer", "Acme"}, {"seats", 1}});
  const std::string code2 = second["codes"][0]["code"];
  ok(client({"activate", code2, "--offline", path("request.json")}, "c5"));
  as("outsider")
      .call("POST", "/api/v1/projects/other/store/offline-activations",
            {{"request", *read_file(path("request.json"))}}, &status);
  EXPECT_EQ(status, 404) << "another seller cannot answer it";
  ok({"store", "activate-offline", "vision", path("request.json"), "--out", path("offline.jzlic")},
     seller);
  ok(client({"install", "--licence", path("offline.jzlic"), "--package", path("face_detect.jzpkg"),
             "--code", code2},
            "c5"));
  EXPECT_EQ(Json::parse(ok(client({"list", "-o", "json"}, "c5")))["items"][0]["state"], "ok");
}

}  // namespace
}  // namespace jz
