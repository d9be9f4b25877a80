// The algorithm store end to end on a real server and the real CLI (docs/STORE.md):
// face_detect is evaluated, listed with its report, sold as two seats; two customer
// installs activate, a third is refused; tampered licences, swapped packages, answers
// replayed for another machine and installs copied to another machine are each refused
// with their own message; each customer's client analyses a live HTTP video stream and
// reports its usage (queued while the store cannot be reached); a revoked code renews
// nothing; an offline request is answered; an expired licence serves through its grace
// period and then stops.
// Every seat of the project and another tenant try what they must not do.
#include <gtest/gtest.h>
#include <httplib.h>

#include <opencv2/imgcodecs.hpp>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/json_lines.h"
#include "tests/support/platform_fixture.h"
#include "tests/support/synthetic_faces.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

using testing::lines_of;

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
  // A live MPEG-TS stream of the two-face still over HTTP, served by ffmpeg to one client
  // for `seconds`; the URL is returned, the process kept until the fixture ends.
  std::string live_stream(int seconds) {
    if (!fs::exists(path("faces.png"))) {
      // At twice the stills' size: the stream's compression keeps both faces findable.
      cv::imwrite(path("faces.png"),
                  testing::faces_image(640, 480, {{180, 240, 200}, {460, 220, 160}}));
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(testing::free_port()) + "/live.ts";
    auto ffmpeg = Child::spawn({.argv = {"ffmpeg",  "-loglevel",
                                         "quiet",   "-re",
                                         "-loop",   "1",
                                         "-i",      path("faces.png"),
                                         "-t",      std::to_string(seconds),
                                         "-r",      "25",
                                         "-c:v",    "mpeg2video",
                                         "-q:v",    "2",
                                         "-f",      "mpegts",
                                         "-listen", "1",
                                         url},
                                .new_process_group = true});
    EXPECT_TRUE(ffmpeg.ok()) << ffmpeg.status().message();
    if (ffmpeg.ok()) streams_.push_back(std::move(*ffmpeg));
    return url;
  }
  void TearDown() override {
    for (auto& c : streams_) {
      c.signal(SIGKILL);
      c.wait();
    }
  }
  // The usage the store holds for each machine a code activated, by fingerprint.
  std::map<std::string, int64_t> frames_reported(const std::string& code_id) {
    std::map<std::string, int64_t> out;
    for (const auto& a :
         as("seller").call("GET", "/api/v1/projects/vision/codes/" + code_id + "/activations")) {
      out[a["fingerprint"]] = a["usage"]["frames"].get<int64_t>();
    }
    return out;
  }
  std::string fingerprint_of(const std::string& dir) {
    std::string f = ok(client({"fingerprint"}, dir));
    return f.substr(0, f.find('\n'));
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
  std::vector<Child> streams_;
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

  // Each customer's client analyses a live HTTP video stream (the client waits for the
  // stream to come up) and reports the frames it analysed to the store.
  const std::string fp1 = fingerprint_of("c1"), fp2 = fingerprint_of("c2");
  for (const char* c : {"c1", "c2"}) {
    const std::string out = ok(
        client({"serve", "--source", "face_detect=" + live_stream(30), "--max-frames", "8", "--fps",
                "10", "--report-interval", "1s", "--out", path(std::string(c) + "-results")},
               c));
    const auto lines = lines_of(*read_file(path(std::string(c) + "-results/face_detect-1.jsonl")));
    ASSERT_EQ(lines.size(), 8u) << c;
    for (const auto& l : lines) {
      EXPECT_EQ(l["result"]["algorithm_data"]["target_count"], 2) << l.dump();
      EXPECT_EQ(l["source"], "face_detect-1");
    }
  }
  EXPECT_EQ(frames_reported(code_id), (std::map<std::string, int64_t>{{fp1, 8}, {fp2, 8}}));
  // Two sources on a two-channel licence run; three are over the licence.
  ok(client({"serve", "--source", "face_detect=" + path("stills"), "--source",
             "face_detect=" + path("stills/s00.png"), "--report-interval", "1s"},
            "c1"));
  refused(client({"serve", "--source", "face_detect=" + path("stills"), "--source",
                  "face_detect=" + path("stills"), "--source", "face_detect=" + path("stills")},
                 "c1"),
          "allows 2 channels; 3 requested (over limit)");
  // An endpoint answers requests with the same licence; its usage is reported while it runs.
  const int port = testing::free_port();
  auto serve = Child::spawn(
      {.argv = {testing::jizhan_binary(), "client", "serve", "--dir", path("c1"), "--endpoint",
                "face_detect=127.0.0.1:" + std::to_string(port), "--report-interval", "1s"},
       .env = {{"TMPDIR", p_.dir.str()}},
       .output_file = path("endpoint.log")});
  ASSERT_TRUE(serve.ok()) << serve.status().message();
  httplib::Client ep("127.0.0.1", port);
  ep.set_read_timeout(60, 0);
  for (int i = 0; i < 600 && !ep.Get("/readyz"); ++i) std::this_thread::sleep_for(100ms);
  const std::string image = *read_file(path("faces.png"));
  for (int i = 0; i < 3; ++i) {
    auto r = ep.Post("/v1/process", image, "image/png");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : *read_file(path("endpoint.log")));
    EXPECT_EQ(Json::parse(r->body)["algorithm_data"]["target_count"], 2) << r->body;
  }
  for (int i = 0; i < 300 && frames_reported(code_id)[fp1] < 16; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(frames_reported(code_id)[fp1], 16) << "reported while it serves";
  serve->signal(SIGTERM);
  EXPECT_EQ(serve->wait().exit_code, 0) << *read_file(path("endpoint.log"));
  // While the store cannot be reached, c2's reports wait in its queue; once it can, they
  // are sent, and a report is never counted twice.
  const std::string install_json = path("c2/algorithms/face_detect/install.json");
  const std::string saved = *read_file(install_json);
  Json cut = Json::parse(saved);
  cut["server"] = "http://127.0.0.1:1";
  ASSERT_TRUE(write_file(install_json, cut.dump(2)).ok());
  auto offline = jizhan(client({"serve", "--source", "face_detect=" + path("stills")}, "c2"));
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_NE(offline.err.find("wait in"), std::string::npos) << offline.err;
  EXPECT_EQ(lines_of(*read_file(path("c2/usage/queue.jsonl"))).size(), 1u);
  EXPECT_EQ(frames_reported(code_id)[fp2], 8);
  ASSERT_TRUE(write_file(install_json, saved).ok());
  ok(client({"serve", "--source", "face_detect=" + path("stills")}, "c2"));
  EXPECT_EQ(frames_reported(code_id), (std::map<std::string, int64_t>{{fp1, 16}, {fp2, 16}}));
  EXPECT_EQ(*read_file(path("c2/usage/queue.jsonl")), "");

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
  refused(client({"serve", "--source", "face_detect=" + path("stills")}, "c1-copy"),
          "this machine is", {{"JIZHAN_MACHINE_ID_FILE", path("other-machine-id")}});
  // ... and c2's swapped package does not run.
  refused(client({"serve", "--source", "face_detect=" + path("stills")}, "c2"),
          "the package changed since it was installed");

  // Revoked: the next renewal fails with the seller's reason.
  for (const char* who : {"dev", "buyer", "outsider"}) {
    as(who).call("POST", "/api/v1/projects/vision/codes/" + code_id + "/revoke", {{"reason", "x"}},
                 &status);
    EXPECT_TRUE(status == 403 || status == 404) << who << " " << status;
  }
  ok({"store", "revoke", "vision", code_id, "--reason", "contract ended"}, seller);
  refused(client({"update"}, "c1"), "contract ended");
  // A serve that tries to renew says why it could not, and serves on within the licence.
  auto serving = jizhan(client(
      {"serve", "--source", "face_detect=" + path("stills"), "--renew-before", "400d"}, "c1"));
  EXPECT_EQ(serving.exit_code, 0) << serving.err;
  EXPECT_NE(serving.err.find("could not be renewed: "), std::string::npos) << serving.err;
  EXPECT_NE(serving.err.find("contract ended"), std::string::npos) << serving.err;

  // 50 machines activate a 10-seat code at once over HTTP: exactly 10 get a licence.
  const Json ten = as("seller").call("POST", "/api/v1/projects/vision/orders",
                                     {{"listing", "face_detect"},
                                      {"tier", "basic"},
                                      {"customer", "Acme"},
                                      {"seats", 10},
                                      {"codes_per", "order"}});
  ASSERT_EQ(ten["codes"].size(), 1u) << ten.dump(2);
  std::vector<int> answers(50);
  std::vector<std::thread> machines;
  for (int i = 0; i < 50; ++i) {
    machines.emplace_back([&, i] {
      char fingerprint[32];
      std::snprintf(fingerprint, sizeof fingerprint, "%04X-0000-0000-%04X", i, 50 - i);
      httplib::Client c("127.0.0.1", p_.server->port());
      c.set_read_timeout(60, 0);
      const Json body = {{"code", ten["codes"][0]["code"]}, {"fingerprint", fingerprint}};
      auto r = c.Post("/api/v1/activate", body.dump(), "application/json");
      answers[i] = r ? r->status : -1;
    });
  }
  for (auto& t : machines) t.join();
  EXPECT_EQ(std::count(answers.begin(), answers.end(), 200), 10);
  EXPECT_EQ(std::count(answers.begin(), answers.end(), 409), 40);
  EXPECT_EQ(as("seller")
                .call("GET", "/api/v1/projects/vision/codes/" +
                                 ten["codes"][0]["id"].get<std::string>() + "/activations")
                .size(),
            10u);

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
  refused(client({"activate", code2, "--licence", path("offline.jzlic")}, "c5"),
          "--licence needs --package");
  ok(client({"activate", code2, "--licence", path("offline.jzlic"), "--package",
             path("face_detect.jzpkg")},
            "c5"));
  EXPECT_EQ(Json::parse(ok(client({"list", "-o", "json"}, "c5")))["items"][0]["state"], "ok");
}

// A licence that ends while its algorithm serves a live stream: the client serves on
// through the grace period, then stops with a message that says what to do; the next start
// is refused. A licence is held to its channels.
TEST_F(Store, AnExpiredLicenceServesThroughItsGracePeriodThenStops) {
  ok({"license", "keygen", "--name", "vendor", "--out", path("vendor")});
  fs::create_directories(path("face_detect"));
  fs::copy(JZ_FACE_DETECT_DIR, path("face_detect"),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  ok({"algo", "pack", path("face_detect"), "--key", path("vendor.key"), "--out",
      path("face_detect.jzpkg")});
  const std::string fp = fingerprint_of("g");
  const std::string issued = ok({"license", "issue", "--key", path("vendor.key"), "--algorithm",
                                 "face_detect", "--customer", "Acme", "--machine", fp, "--channels",
                                 "1", "--valid-for", "15s", "--out", path("short.jzlic")});
  const std::string code = issued.substr(issued.find("activation code: ") + 17, 19);
  ok(client({"install", "--licence", path("short.jzlic"), "--package", path("face_detect.jzpkg"),
             "--code", code},
            "g"));
  refused(client({"serve", "--source", "face_detect=" + live_stream(5), "--source",
                  "face_detect=" + live_stream(5)},
                 "g"),
          "allows 1 channel; 2 requested (over limit)");
  auto r = jizhan(client({"serve", "--source", "face_detect=" + live_stream(60), "--fps", "5",
                          "--grace", "5s", "--out", path("g-results")},
                         "g"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("serving on in its grace period until"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("and its grace period of 5s ended on"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("face_detect stopped. Renew it"), std::string::npos) << r.err;
  EXPECT_GT(lines_of(*read_file(path("g-results/face_detect-1.jsonl"))).size(), 5u);
  // Installed offline: its usage waits for a store to send it to.
  EXPECT_FALSE(lines_of(*read_file(path("g/usage/queue.jsonl"))).empty());
  refused(client({"serve", "--source", "face_detect=" + path("faces.png"), "--grace", "5s"}, "g"),
          "and its grace period of 5s ended on");
  refused(client({"serve", "--source", "face_detect=" + path("faces.png"), "--grace", "0"}, "g"),
          "expired on");
}

}  // namespace
}  // namespace jz
