// The automatic test service end to end on a real server (docs/AUTOTEST.md): data owners
// make suites on data the developers never see, developers upload packages and evaluate
// them as `eval` jobs in sandboxes, and the report equals an offline `jizhan algo run` +
// `jizhan eval run` over the same data to the last digit. A hostile algorithm tries every
// way to get a secret suite's images out; crashes and hangs are counted, not fatal; the
// CLI's exit codes make it a CI step.
#include <gtest/gtest.h>
#include <httplib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"
#include "tests/support/synthetic_faces.h"

namespace jz {
namespace {

// A color_blobs detection suite: boxes and colour names, COCO's metric.
const char* kBlobsTemplate = R"(name: blobs
task: detection
predictions: {id: sample}
annotations: {id: image}
detection:
  objects:
    prediction: result.algorithm_data.target_info[*]
    annotation: boxes[*]
  box: {prediction: '@box', annotation: '@box'}
  label: {prediction: name, annotation: label}
  score: {prediction: confidence@num}
  metric: coco
)";

// Counting faces a frame.
const char* kCountTemplate = R"(name: faces
task: counting
predictions: {id: sample}
annotations: {id: frame}
variables:
  - name: faces
    prediction: result.algorithm_data.target_count@num
    annotation: faces@num
    rule: {type: numeric, abs: 0}
)";

class Autotest : public ::testing::Test {
 protected:
  Autotest() { config_ = p_.dir.str() + "/cli-config"; }
  void SetUp() override {
    for (const char* u : {"owner", "dev", "viewer", "padmin", "outsider"})
      users_.emplace(u, p_.user(u));
    p_.project("lab", "vision",
               {{"owner", "data-owner"},
                {"dev", "project-developer"},
                {"viewer", "project-viewer"},
                {"padmin", "project-admin"}});
    p_.project("rival", "other", {{"outsider", "project-admin"}});
  }
  Api& as(const std::string& u) { return users_.at(u); }
  std::string path(const std::string& name) const { return p_.dir.str() + "/" + name; }

  // `jizhan ARGS` as a user runs it.
  SubprocessResult jizhan(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), testing::jizhan_binary());
    env.emplace("JIZHAN_CONFIG_DIR", config_);
    env.emplace("TMPDIR", p_.dir.str());
    auto r = run_subprocess(
        {.argv = args, .env = env, .cwd = p_.dir.str(), .timeout = std::chrono::seconds(300)});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SubprocessResult{};
  }
  void ok(std::vector<std::string> args) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    auto r = jizhan(std::move(args));
    ASSERT_EQ(r.exit_code, 0) << shown << "\n" << r.out << r.err;
  }
  // A signed package of `library` (the build's example), named as its describe() says.
  std::string pack(const std::string& library, const std::string& folder_name,
                   const std::string& from_folder = "") {
    if (!fs::exists(path("vendor.key")))
      ok({"license", "keygen", "--name", "acme-vision", "--out", path("vendor")});
    const fs::path dir = path(folder_name);
    fs::create_directories(dir);
    if (!from_folder.empty()) {
      fs::copy(from_folder, dir,
               fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    } else {
      fs::copy_file(library, dir / fs::path(library).filename(),
                    fs::copy_options::overwrite_existing);
      EXPECT_TRUE(write_file((dir / "manifest.json").string(),
                             Json{{"library", fs::path(library).filename().string()}}.dump())
                      .ok());
    }
    const std::string out = path(folder_name + ".jzpkg");
    ok({"algo", "pack", dir.string(), "--key", path("vendor.key"), "--out", out});
    return out;
  }
  // A dataset uploaded as a tar.gz of `folder`'s files.
  void upload_dataset(const std::string& name, const std::string& folder,
                      const std::string& level) {
    std::vector<std::string> argv = {"tar", "-czf", path(name + ".tgz"), "-C", folder};
    for (const auto& e : fs::directory_iterator(folder))
      argv.push_back(e.path().filename().string());
    auto t = run_subprocess({.argv = argv});
    ASSERT_TRUE(t.ok() && t->success()) << (t.ok() ? t->err : t.status().message());
    raw("owner", "POST",
        "/api/v1/projects/vision/datasets/" + name + "/archive?security_level=" + level,
        *read_file(path(name + ".tgz")), 201);
  }
  // A request with a raw body; expects `want` (0: any) and returns the body.
  std::string raw(const std::string& user, const std::string& method, const std::string& url,
                  const std::string& body, int want, int* got = nullptr) {
    httplib::Client c("127.0.0.1", p_.server->port());
    c.set_read_timeout(60, 0);
    httplib::Headers h = {{"Authorization", "Bearer " + as(user).token()}};
    auto r = method == "POST" ? c.Post(url, h, body, "application/octet-stream")
                              : testing::send(c, method, url, body, h);
    EXPECT_TRUE(r) << url;
    if (!r) return "";
    if (got) *got = r->status;
    if (want) {
      EXPECT_EQ(r->status, want) << method << " " << url << ": " << r->body;
    }
    return r->body;
  }
  // Uploads a package as `user` and waits for its checks.
  Json upload(const std::string& user, const std::string& pkg) {
    Json a =
        Json::parse(raw(user, "POST", "/api/v1/projects/vision/algorithms", *read_file(pkg), 201));
    const std::string url = "/api/v1/projects/vision/algorithms/" + a["name"].get<std::string>() +
                            "/" + a["version"].get<std::string>();
    for (int i = 0; i < 1800 && a.value("state", "") == "checking"; ++i) {
      std::this_thread::sleep_for(100ms);
      a = as(user).call("GET", url);
    }
    EXPECT_EQ(a["state"], "ready") << a.dump(2);
    return a;
  }
  Json wait_evaluation(const std::string& user, const std::string& id,
                       std::chrono::seconds limit = 240s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    Json e;
    while (std::chrono::steady_clock::now() < until) {
      e = as(user).call("GET", "/api/v1/projects/vision/evaluations/" + id);
      const std::string s = e.value("state", "");
      if (s == "passed" || s == "failed" || s == "error" || s == "cancelled") return e;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "evaluation " << id << " did not end: " << e.dump(2);
    return e;
  }

  Platform p_;
  std::string config_;
  std::map<std::string, Api> users_;
};

// Images of solid rectangles; the annotations name each one (and a yellow one color_blobs
// is not asked to find, so the scores are not all 1).
void blob_images(const std::string& dir, Json& annotations, int n) {
  fs::create_directories(dir);
  const std::vector<std::pair<std::string, cv::Scalar>> colours = {{"red", {0, 0, 255}},
                                                                   {"green", {0, 255, 0}},
                                                                   {"blue", {255, 0, 0}},
                                                                   {"yellow", {0, 255, 255}}};
  for (int i = 0; i < n; ++i) {
    cv::Mat img(120, 160, CV_8UC3, cv::Scalar(90, 90, 90));
    Json boxes = Json::array();
    for (int k = 0; k < 3; ++k) {
      const auto& [label, bgr] = colours[static_cast<size_t>((i + k) % 4)];
      const int x = 5 + k * 50, y = 10 + (i * 7 + k * 13) % 60, w = 20 + (i + k) % 15,
                h = 15 + (i * k) % 20;
      cv::rectangle(img, cv::Rect(x, y, w, h), bgr, cv::FILLED);
      boxes.push_back({{"label", label}, {"x", x}, {"y", y}, {"width", w}, {"height", h}});
    }
    char name[32];
    std::snprintf(name, sizeof name, "img-%02d.png", i);
    cv::imwrite(dir + "/" + name, img);
    annotations.push_back({{"image", name}, {"boxes", boxes}});
  }
}

std::string jsonl(const Json& lines) {
  std::string out;
  for (const auto& l : lines) out += l.dump() + "\n";
  return out;
}

TEST_F(Autotest, ASecretSuiteScoresColorBlobsAsOfflineAndDevelopersSeeNoSample) {
  ASSERT_TRUE(p_.server);
  Json truth = Json::array();
  blob_images(path("blobs"), truth, 12);
  upload_dataset("blobs", path("blobs"), "secret");
  Json suite =
      as("owner").call("POST", "/api/v1/projects/vision/suites",
                       {{"name", "blobs"},
                        {"dataset", "blobs"},
                        {"template", kBlobsTemplate},
                        {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}},
                        {"thresholds", {"mAP >= 0.5", "p99_latency_ms <= 5000", "errors == 0"}}});
  EXPECT_EQ(suite["version"], 1);
  EXPECT_EQ(suite["level"], "secret");
  // Only data owners make suites; a developer reads them, the template included.
  int status = 0;
  as("dev").call("POST", "/api/v1/projects/vision/suites",
                 {{"name", "mine"},
                  {"dataset", "blobs"},
                  {"template", kBlobsTemplate},
                  {"annotations", {{"file", "t.jsonl"}, {"content", "{}"}}}},
                 &status);
  EXPECT_EQ(status, 403);
  EXPECT_EQ(as("dev").call("GET", "/api/v1/projects/vision/suites/blobs")["template"],
            kBlobsTemplate);

  const std::string pkg = pack(JZ_COLOR_BLOBS, "color_blobs");
  const Json algo = upload("dev", pkg);
  EXPECT_EQ(algo["publisher"], "acme-vision");
  EXPECT_GE(algo["checks"].size(), 10u);
  // The same bytes again are the same upload; other bytes under the same version are not.
  raw("dev", "POST", "/api/v1/projects/vision/algorithms", *read_file(pkg), 201);
  raw("dev", "POST", "/api/v1/projects/vision/algorithms", "not a package", 400);
  // A job may not name an algorithm: only the service runs them.
  as("dev").call("POST", "/api/v1/projects/vision/jobs",
                 {{"name", "sneak"},
                  {"command", {"true"}},
                  {"algorithm", {{"name", "color_blobs"}, {"version", "1.0.0"}}}},
                 &status);
  EXPECT_EQ(status, 422);

  Json e = as("dev").call("POST", "/api/v1/projects/vision/evaluations",
                          {{"suite", "blobs"}, {"algorithm", "color_blobs"}, {"version", "1.0.0"}});
  ASSERT_TRUE(e.contains("id")) << e.dump();
  const std::string id = e["id"];
  e = wait_evaluation("dev", id);
  ASSERT_EQ(e["state"], "passed") << e.dump(2);
  const Json job =
      as("dev").call("GET", "/api/v1/projects/vision/jobs/" + e["job_id"].get<std::string>());
  EXPECT_EQ(job["kind"], "eval");
  EXPECT_EQ(job["state"], "succeeded");

  // The data owner sees the whole report; it equals the offline commands' to the last digit.
  const Json full = as("owner").call("GET", "/api/v1/projects/vision/evaluations/" + id);
  EXPECT_TRUE(full["full"].get<bool>());
  ok({"algo", "run", "--package", pkg, "--trust", path("vendor.pub"), "--input", path("blobs"),
      "--out", path("offline.jsonl")});
  ASSERT_TRUE(write_file(path("blobs.yaml"), kBlobsTemplate).ok());
  ASSERT_TRUE(write_file(path("truth.jsonl"), jsonl(truth)).ok());
  ok({"eval", "run", "--template", path("blobs.yaml"), "--predictions", path("offline.jsonl"),
      "--annotations", path("truth.jsonl"), "--out", path("offline-report")});
  const Json offline = Json::parse(*read_file(path("offline-report/report.json")));
  EXPECT_EQ(full["result"]["metrics"], offline["metrics"]);
  EXPECT_EQ(full["result"]["samples"], offline["samples"]);
  const double ap = offline["metrics"]["AP"].get<double>();
  EXPECT_GT(ap, 0.5);
  EXPECT_LT(ap, 1.0);  // the yellow boxes are not found
  EXPECT_EQ(full["result"]["errors"]["count"], 0);
  EXPECT_EQ(full["result"]["errors"]["frames"], 12);
  for (const char* k :
       {"fps", "p50_latency_ms", "p90_latency_ms", "p99_latency_ms", "peak_rss_mib"}) {
    EXPECT_TRUE(full["result"]["performance"].contains(k)) << k;
  }
  EXPECT_GT(full["result"]["performance"]["peak_rss_mib"].get<double>(), 1.0);
  for (const auto& t : full["result"]["thresholds"])
    EXPECT_TRUE(t["passed"].get<bool>()) << t.dump();
  // Its files are the data owners': the full report names the inputs.
  const Json files = Json::parse(
      as("owner").text("/api/v1/projects/vision/evaluations/" + id + "/files/report.json"));
  EXPECT_EQ(files["metrics"], offline["metrics"]);
  EXPECT_TRUE(files["inputs"]["annotations"].contains("sha256")) << files.dump();
  as("dev").text("/api/v1/projects/vision/evaluations/" + id + "/files/report.json", &status);
  EXPECT_EQ(status, 403);

  // Everyone else in the project sees metrics and counts only: no file name, no id.
  for (const char* who : {"dev", "viewer", "padmin"}) {
    const Json seen = as(who).call("GET", "/api/v1/projects/vision/evaluations/" + id);
    const std::string text = seen.dump();
    EXPECT_FALSE(seen["full"].get<bool>()) << who;
    EXPECT_EQ(text.find("img-"), std::string::npos) << who << ": " << text;
    EXPECT_FALSE(seen["result"].contains("worst_samples")) << who;
    for (const auto& [k, v] : offline["samples"].items()) {
      if (v.is_number_integer()) {
        EXPECT_EQ(seen["result"]["samples"][k], v) << who << " " << k;
      }
    }
    EXPECT_NEAR(seen["result"]["metrics"]["AP"].get<double>(), ap, 1e-4);
    const std::string html =
        as(who).text("/api/v1/projects/vision/evaluations/" + id + "/report", &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(html.find("img-"), std::string::npos) << who;
    const std::string list = as(who).text("/api/v1/projects/vision/evaluations?suite=blobs");
    EXPECT_EQ(list.find("img-"), std::string::npos) << who;
  }
  EXPECT_NE(
      as("owner").text("/api/v1/projects/vision/evaluations/" + id + "/report").find("sha256"),
      std::string::npos);
  // Another tenant sees nothing of it.
  as("outsider").call("GET", "/api/v1/projects/vision/evaluations/" + id, nullptr, &status);
  EXPECT_EQ(status, 404);
  as("outsider").call("GET", "/api/v1/projects/vision/suites", nullptr, &status);
  EXPECT_EQ(status, 404);
  // A viewer evaluates nothing.
  as("viewer").call("POST", "/api/v1/projects/vision/evaluations",
                    {{"suite", "blobs"}, {"algorithm", "color_blobs"}, {"version", "1.0.0"}},
                    &status);
  EXPECT_EQ(status, 403);

  // A new version of the suite (a stricter threshold) fails the same algorithm.
  Json v2 = as("owner").call("PATCH", "/api/v1/projects/vision/suites/blobs",
                             {{"thresholds", {"mAP >= 0.99"}}});
  EXPECT_EQ(v2["version"], 2);
  const Json again = wait_evaluation(
      "dev", as("dev").call(
                 "POST", "/api/v1/projects/vision/evaluations",
                 {{"suite", "blobs"}, {"algorithm", "color_blobs"}, {"version", "1.0.0"}})["id"]);
  EXPECT_EQ(again["state"], "failed");
  EXPECT_EQ(again["suite_version"], 2);
  EXPECT_NE(again["message"].get<std::string>().find("mAP >= 0.99 failed"), std::string::npos);
}

// An algorithm that crashes on one frame and hangs on another: the run ends, the report
// counts both, the other frames are scored.
TEST_F(Autotest, CrashesAndHangsAreCountedAndTheRunEnds) {
  ASSERT_TRUE(p_.server);
  fs::create_directories(path("frames"));
  Json truth = Json::array();
  for (int i = 0; i < 6; ++i) {
    cv::imwrite(path("frames/f" + std::to_string(i) + ".png"),
                cv::Mat(40, 40, CV_8UC3, cv::Scalar(i, i, i)));
    truth.push_back({{"frame", "f" + std::to_string(i) + ".png"}, {"faces", 0}});
  }
  upload_dataset("frames", path("frames"), "open");
  as("owner").call("POST", "/api/v1/projects/vision/suites",
                   {{"name", "faults"},
                    {"dataset", "frames"},
                    {"template", kCountTemplate},
                    {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}},
                    {"frame_timeout_s", 2},
                    {"thresholds", {"errors <= 1"}}});
  const std::string pkg = pack(JZ_FAULTY, "faulty");
  upload("dev", pkg);
  const Json e = wait_evaluation(
      "dev", as("dev").call("POST", "/api/v1/projects/vision/evaluations",
                            {{"suite", "faults"},
                             {"algorithm", "faulty"},
                             {"version", "1.0.0"},
                             {"config", {{"crash_on", {1}}, {"hang_on", {3}}}}})["id"]);
  ASSERT_EQ(e["state"], "failed") << e.dump(2);  // errors <= 1 does not hold: two errors
  const Json& r = e["result"];
  EXPECT_EQ(r["errors"]["count"], 2);
  EXPECT_EQ(r["errors"]["frames"], 6);
  EXPECT_EQ(r["errors"]["by_kind"]["crashed"], 1) << r["errors"].dump();
  EXPECT_EQ(r["errors"]["by_kind"]["timed_out"], 1) << r["errors"].dump();
  EXPECT_EQ(r["metrics"]["variables"]["faces"]["judgements"], 6);
  EXPECT_EQ(r["metrics"]["variables"]["faces"]["correct"], 4);  // the two failed frames count wrong
}

// face_detect on a video: samples are frame numbers; the report equals the offline one.
TEST_F(Autotest, FaceDetectOnAVideoScoresAsOffline) {
  ASSERT_TRUE(p_.server);
  fs::create_directories(path("stills"));
  Json truth = Json::array();
  for (int i = 0; i < 8; ++i) {
    std::vector<testing::FaceSpot> faces = {{90, 120, 100}};
    if (i % 2 == 0) faces.push_back({230, 110, 80});
    char name[32];
    std::snprintf(name, sizeof name, "s%02d.png", i);
    cv::imwrite(path("stills/") + name, testing::faces_image(320, 240, faces));
    truth.push_back(
        {{"frame", std::to_string(i)}, {"faces", i % 3 == 0 ? 1 : static_cast<int>(faces.size())}});
  }
  fs::create_directories(path("video"));
  auto ff = run_subprocess(
      {.argv = {"ffmpeg", "-loglevel", "error", "-y", "-framerate", "4", "-i",
                path("stills/s%02d.png"), "-c:v", "mpeg4", "-q:v", "2", path("video/faces.mp4")},
       .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(ff.ok() && ff->exit_code == 0) << (ff.ok() ? ff->err : ff.status().message());
  upload_dataset("clips", path("video"), "internal");
  as("owner").call("POST", "/api/v1/projects/vision/suites",
                   {{"name", "faces"},
                    {"dataset", "clips"},
                    {"input", "faces.mp4"},
                    {"template", kCountTemplate},
                    {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}},
                    {"thresholds", {"accuracy >= 0.5"}}});
  const std::string pkg = pack("", "face_detect", JZ_FACE_DETECT_DIR);
  upload("dev", pkg);
  const Json e = wait_evaluation(
      "dev", as("dev").call(
                 "POST", "/api/v1/projects/vision/evaluations",
                 {{"suite", "faces"}, {"algorithm", "face_detect"}, {"version", "1.0.0"}})["id"]);
  ASSERT_TRUE(e["state"] == "passed" || e["state"] == "failed") << e.dump(2);
  const Json full =
      as("owner").call("GET", "/api/v1/projects/vision/evaluations/" + e["id"].get<std::string>());
  ok({"algo", "run", "--package", pkg, "--trust", path("vendor.pub"), "--input",
      path("video/faces.mp4"), "--out", path("faces.jsonl")});
  ASSERT_TRUE(write_file(path("faces.yaml"), kCountTemplate).ok());
  ASSERT_TRUE(write_file(path("faces-truth.jsonl"), jsonl(truth)).ok());
  ok({"eval", "run", "--template", path("faces.yaml"), "--predictions", path("faces.jsonl"),
      "--annotations", path("faces-truth.jsonl"), "--out", path("faces-report")});
  const Json offline = Json::parse(*read_file(path("faces-report/report.json")));
  EXPECT_EQ(full["result"]["metrics"], offline["metrics"]);
  EXPECT_EQ(full["result"]["metrics"]["variables"]["faces"]["judgements"], 8);
  // Frames 0 and 6 are annotated with one face where two are drawn: never all correct.
  EXPECT_LE(full["result"]["metrics"]["variables"]["faces"]["correct"], 6);
  EXPECT_EQ(full["result"]["errors"]["frames"], 8);
}

// A hostile algorithm writes each image's pixels into its results (a label, model data)
// and its log. None of it reaches a developer: not the evaluation, its report or HTML, the
// job's log, outputs or metrics, nor any other seat of the project.
TEST_F(Autotest, AHostileAlgorithmGetsNoSecretSampleOut) {
  ASSERT_TRUE(p_.server);
  fs::create_directories(path("secret"));
  Json truth = Json::array();
  std::vector<std::string> hexes;
  for (int i = 0; i < 4; ++i) {
    cv::Mat img(32, 32, CV_8UC3);
    cv::randu(img, cv::Scalar(0, 0, 0), cv::Scalar(255, 255, 255));
    const std::string name = "patient-" + std::to_string(1000 + i) + ".png";
    cv::imwrite(path("secret/" + name), img);
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (int x = 0; x < 24; ++x) {
      hex += kHex[img.data[x] >> 4];
      hex += kHex[img.data[x] & 15];
    }
    hexes.push_back(hex);
    truth.push_back({{"frame", name}, {"faces", 0}});
  }
  upload_dataset("scans", path("secret"), "secret");
  const char* kLabels = R"(name: labels
task: classification
predictions: {id: sample}
annotations: {id: frame}
variables:
  - name: label
    prediction: result.algorithm_data.target_info[0].name@str
    annotation: label@str
    rule: {type: exact}
)";
  for (auto& t : truth) t["label"] = "none";
  as("owner").call("POST", "/api/v1/projects/vision/suites",
                   {{"name", "scans"},
                    {"dataset", "scans"},
                    {"template", kLabels},
                    {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}}});
  upload("dev", pack(JZ_FAULTY, "faulty"));
  const Json e =
      wait_evaluation("dev", as("dev").call("POST", "/api/v1/projects/vision/evaluations",
                                            {{"suite", "scans"},
                                             {"algorithm", "faulty"},
                                             {"version", "1.0.0"},
                                             {"config", {{"echo_pixels", true}}}})["id"]);
  ASSERT_EQ(e["state"], "passed") << e.dump(2);
  const std::string id = e["id"], job = e["job_id"];
  // The data owner sees what the algorithm answered (the leak is in its outputs).
  const std::string owners =
      as("owner").call("GET", "/api/v1/projects/vision/evaluations/" + id).dump();
  EXPECT_NE(owners.find(hexes[0].substr(0, 24)), std::string::npos) << owners;
  const std::vector<std::string> ways = {
      "/api/v1/projects/vision/evaluations/" + id,
      "/api/v1/projects/vision/evaluations/" + id + "/report",
      "/api/v1/projects/vision/evaluations",
      "/api/v1/projects/vision/jobs/" + job,
      "/api/v1/projects/vision/jobs/" + job + "/logs",
      "/api/v1/projects/vision/jobs/" + job + "/outputs",
      "/api/v1/projects/vision/jobs/" + job + "/outputs/files",
      "/api/v1/projects/vision/jobs/" + job + "/outputs/files/results.jsonl",
      "/api/v1/projects/vision/runs",
      "/api/v1/projects/vision/runs/" + job,
      "/api/v1/projects/vision/events",
  };
  for (const char* who : {"dev", "viewer", "padmin", "outsider"}) {
    for (const auto& url : ways) {
      int status = 0;
      const std::string body = as(who).text(url, &status);
      for (const auto& hex : hexes) {
        EXPECT_EQ(body.find(hex.substr(0, 16)), std::string::npos)
            << who << " " << url << ": " << body;
      }
      EXPECT_EQ(body.find("patient-"), std::string::npos) << who << " " << url << ": " << body;
    }
  }
  int status = 0;
  as("dev").text("/api/v1/projects/vision/jobs/" + job + "/outputs/files", &status);
  EXPECT_EQ(status, 403);
}

// The CLI as a CI step: exit 0 when every threshold passes, 1 when one fails, 2 on an error;
// a JUnit file on request.
TEST_F(Autotest, SubmitWaitsAndExitsByTheVerdict) {
  ASSERT_TRUE(p_.server);
  Json truth = Json::array();
  blob_images(path("ci"), truth, 4);
  upload_dataset("ci", path("ci"), "internal");
  as("owner").call("POST", "/api/v1/projects/vision/suites",
                   {{"name", "ci"},
                    {"dataset", "ci"},
                    {"template", kBlobsTemplate},
                    {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}},
                    {"thresholds", {"mAP >= 0.5"}}});
  const std::string pkg = pack(JZ_COLOR_BLOBS, "color_blobs");
  const std::map<std::string, std::string> env = {
      {"JIZHAN_SERVER", "http://127.0.0.1:" + std::to_string(p_.server->port())},
      {"JIZHAN_TOKEN", as("dev").token()}};
  auto r =
      jizhan({"autotest", "submit", "vision/ci", pkg, "--wait", "--junit", path("junit.xml")}, env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("mAP >= 0.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99_latency_ms"), std::string::npos) << r.out;
  const std::string junit = *read_file(path("junit.xml"));
  EXPECT_NE(junit.find("<testcase classname=\"ci\" name=\"mAP &gt;= 0.5\"/>"), std::string::npos)
      << junit;
  as("owner").call("PATCH", "/api/v1/projects/vision/suites/ci",
                   {{"thresholds", {"mAP >= 0.999"}}});
  r = jizhan({"autotest", "submit", "vision/ci", "color_blobs@1.0.0", "--wait", "--junit",
              path("junit.xml")},
             env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(read_file(path("junit.xml"))->find("<failure"), std::string::npos);
  r = jizhan({"autotest", "submit", "vision/nosuch", "color_blobs@1.0.0", "--wait"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no suite 'nosuch'"), std::string::npos) << r.err;
}

// A competition on a real server, three teams, as they work: each runs its package offline
// over the final split's images, turns the results into the competition's CSV and submits
// it with the CLI; beta edits a value first, gamma writes its numbers differently. The
// organiser ends the competition; the platform runs the top packages again and signs a
// verdict for each, which the CLI checks offline; a changed verdict fails.
TEST_F(Autotest, ACompetitionReRunsTheTopTeamsAndSignsVerdictsTheCliChecks) {
  ASSERT_TRUE(p_.server);
  for (const char* u : {"dev2", "dev3"}) {
    users_.emplace(u, p_.user(u));
    p_.admin().call("POST", "/api/v1/projects/vision/members",
                    {{"username", u}, {"role", "project-developer"}});
  }
  Json pub = Json::array(), hid = Json::array();
  blob_images(path("pub"), pub, 3);
  blob_images(path("hid"), hid, 5);
  upload_dataset("pub", path("pub"), "open");
  upload_dataset("hid", path("hid"), "internal");
  const char* kCount = R"(name: count
task: counting
predictions: {id: sample}
annotations: {id: image}
variables:
  - name: n
    prediction: result.algorithm_data.target_count@num
    annotation: n@num
    rule: {type: numeric, abs: 0}
)";
  // Annotated: the red, green and blue boxes (color_blobs finds them), not the yellow ones.
  auto counts = [](const Json& truth) {
    Json out = Json::array();
    for (const auto& t : truth) {
      int n = 0;
      for (const auto& b : t["boxes"]) n += b["label"] != "yellow";
      out.push_back({{"image", t["image"]}, {"n", n}});
    }
    return out;
  };
  // The final split's annotator counted one box more on img-04 than color_blobs finds there.
  Json final_truth = counts(hid);
  for (auto& t : final_truth) {
    if (t["image"] == "img-04.png") t["n"] = t["n"].get<int>() + 1;
  }
  for (auto [name, dataset, truth] : {std::tuple{"cup-public", "pub", counts(pub)},
                                      std::tuple{"cup-final", "hid", final_truth}}) {
    as("owner").call("POST", "/api/v1/projects/vision/suites",
                     {{"name", name},
                      {"dataset", dataset},
                      {"template", kCount},
                      {"annotations", {{"file", "truth.jsonl"}, {"content", jsonl(truth)}}}});
  }
  upload("dev", pack(JZ_COLOR_BLOBS, "color_blobs"));
  const auto now = std::chrono::system_clock::now();
  as("owner").call("POST", "/api/v1/projects/vision/competitions",
                   {{"name", "cup"},
                    {"public_suite", "cup-public"},
                    {"hidden_suite", "cup-final"},
                    {"rank_by", "accuracy"},
                    {"opens_at", format_rfc3339(now - std::chrono::minutes(1))},
                    {"closes_at", format_rfc3339(now + std::chrono::hours(1))},
                    {"daily_limit", 2},
                    {"columns", {{{"name", "n"}, {"path", "result.algorithm_data.target_count"}}}},
                    {"tolerances", {{"n", 0.5}}},
                    {"teams", {{"alpha", {"dev"}}, {"beta", {"dev2"}}, {"gamma", {"dev3"}}}}});
  // Each team's results on the final split, made offline, as the competition's CSV.
  ok({"algo", "run", "--package", path("color_blobs.jzpkg"), "--trust", path("vendor.pub"),
      "--input", path("hid"), "--out", path("hid.jsonl")});
  ok({"autotest", "csv", path("hid.jsonl"), "--column", "n=result.algorithm_data.target_count",
      "--out", path("alpha.csv")});
  const std::string honest = *read_file(path("alpha.csv"));
  std::string edited = honest, reworded = honest;
  // beta claims one more box on img-04 than its algorithm found (as the annotations say);
  // gamma writes 3 as 3.0.
  const size_t at = edited.find("img-04.png,") + 11;
  edited[at] = static_cast<char>(edited[at] + 1);
  for (size_t i = 0; (i = reworded.find(",3\n", i)) != std::string::npos; i += 5)
    reworded.replace(i, 3, ",3.0\n");
  ASSERT_NE(reworded, honest);
  ASSERT_TRUE(write_file(path("beta.csv"), edited).ok());
  ASSERT_TRUE(write_file(path("gamma.csv"), reworded).ok());
  auto env_of = [&](const std::string& user) {
    return std::map<std::string, std::string>{
        {"JIZHAN_SERVER", "http://127.0.0.1:" + std::to_string(p_.server->port())},
        {"JIZHAN_TOKEN", as(user).token()}};
  };
  for (auto [user, file] : {std::pair{"dev", "alpha.csv"}, std::pair{"dev2", "beta.csv"},
                            std::pair{"dev3", "gamma.csv"}}) {
    auto r = jizhan({"autotest", "compete", "vision/cup", "--split", "hidden", "--csv", path(file),
                     "--package", "color_blobs@1.0.0"},
                    env_of(user));
    EXPECT_EQ(r.exit_code, 0) << user << ": " << r.out << r.err;
  }
  // alpha's second goes through, its third of the day does not.
  EXPECT_EQ(jizhan({"autotest", "compete", "vision/cup", "--split", "hidden", "--csv",
                    path("alpha.csv"), "--package", "color_blobs@1.0.0"},
                   env_of("dev"))
                .exit_code,
            0);
  auto third = jizhan({"autotest", "compete", "vision/cup", "--split", "hidden", "--csv",
                       path("alpha.csv"), "--package", "color_blobs@1.0.0"},
                      env_of("dev"));
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_NE(third.err.find("team alpha has made its 2 submissions of the day"), std::string::npos)
      << third.err;
  // The final board waits for the close.
  auto early = jizhan({"autotest", "board", "vision/cup", "--split", "hidden"}, env_of("dev"));
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("shown when the competition closes"), std::string::npos) << early.err;
  int status = 0;
  as("dev").call("PATCH", "/api/v1/projects/vision/competitions/cup", {{"daily_limit", 9}},
                 &status);
  EXPECT_EQ(status, 403);  // teams do not change the rules

  // The organiser ends it now; the platform runs the three packages again.
  as("owner").call("PATCH", "/api/v1/projects/vision/competitions/cup",
                   {{"closes_at", format_rfc3339(std::chrono::system_clock::now())}});
  Json board;
  const auto until = std::chrono::steady_clock::now() + 240s;
  while (std::chrono::steady_clock::now() < until) {
    board = as("viewer").call("GET", "/api/v1/projects/vision/competitions/cup/board?split=hidden",
                              nullptr, &status);
    bool done = status == 200 && board["items"].size() == 3;
    for (const auto& row : board.value("items", Json::array()))
      done = done && row["verdict"].is_string() && row["verdict"] != "re-running";
    if (done) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(board["items"].size(), 3u) << board.dump(2);
  EXPECT_EQ(board["items"][0]["team"], "beta") << board.dump(2);  // the edited CSV scored best
  EXPECT_EQ(board["items"][0]["verdict"], "modified");
  EXPECT_EQ(board["items"][1]["team"], "alpha");  // alpha and gamma tie; alpha submitted first
  EXPECT_EQ(board["items"][1]["verdict"], "identical");
  EXPECT_EQ(board["items"][2]["team"], "gamma");
  EXPECT_EQ(board["items"][2]["verdict"], "within tolerance");

  // The signed verdicts, checked offline with the platform's key.
  auto saved =
      jizhan({"autotest", "verdicts", "vision/cup", "--out", path("verdicts")}, env_of("viewer"));
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  for (auto [team, verdict] : {std::pair{"alpha", "identical"}, std::pair{"beta", "modified"},
                               std::pair{"gamma", "within tolerance"}}) {
    auto r = jizhan({"autotest", "verify-verdict", path("verdicts/" + std::string(team) + ".json"),
                     "--key", path("verdicts/verdict-key.pub")});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(std::string("team ") + team), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string(": ") + verdict + "\n"), std::string::npos) << r.out;
  }
  Json doc = Json::parse(*read_file(path("verdicts/beta.json")));
  std::string payload = doc["payload"];
  payload.replace(payload.find("\"modified\""), 10, "\"identical\"");
  doc["payload"] = payload;
  ASSERT_TRUE(write_file(path("verdicts/beta.json"), doc.dump()).ok());
  auto forged = jizhan({"autotest", "verify-verdict", path("verdicts/beta.json"), "--key",
                        path("verdicts/verdict-key.pub")});
  EXPECT_EQ(forged.exit_code, 1) << forged.out;
  EXPECT_NE(forged.err.find("does not verify"), std::string::npos) << forged.err;
}

}  // namespace
}  // namespace jz
