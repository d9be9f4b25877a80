// `jizhan algo` and `jizhan license` end to end, as a user runs them: real processes,
// real packages, real ffmpeg serving a live stream on loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/json_lines.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/server_process.h"
#include "tests/support/synthetic_faces.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {
namespace {
namespace fs = std::filesystem;

class AlgoCli : public ::testing::Test {
 protected:
  // Runs `jizhan ARGS` with its own config folder (trusted keys, licences).
  SubprocessResult jizhan(std::vector<std::string> args, int timeout_s = 60,
                          std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), jizhan_binary());
    env.emplace("JIZHAN_CONFIG_DIR", config_);
    env.emplace("TMPDIR", dir_.str());
    auto r = run_subprocess(
        {.argv = args, .env = env, .cwd = dir_.str(), .timeout = std::chrono::seconds(timeout_s)});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SubprocessResult{};
  }
  std::string ok(std::vector<std::string> args) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    auto r = jizhan(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << shown << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  // The face_detect folder the build made, copied so a test may change its manifest.
  std::string face_detect_folder(bool licence_required) {
    const fs::path to = dir_.path() / (licence_required ? "fd-licensed" : "fd");
    fs::copy(JZ_FACE_DETECT_DIR, to, fs::copy_options::recursive);
    if (licence_required) {
      Json m = Json::parse(*read_file((to / "manifest.json").string()));
      m["licence"]["required"] = true;
      EXPECT_TRUE(write_file((to / "manifest.json").string(), m.dump()).ok());
    }
    return to.string();
  }
  // A signed face_detect package, made with the vendor key.
  std::string face_detect_package(bool licence_required = false) {
    if (!fs::exists(path("vendor.key")))
      ok({"license", "keygen", "--name", "acme-vision", "--out", "vendor"});
    std::string out = path(licence_required ? "fd-licensed.jzpkg" : "fd.jzpkg");
    ok({"algo", "pack", face_detect_folder(licence_required), "--key", "vendor.key", "--out", out});
    return out;
  }
  void write_faces(const std::string& file, int scale = 1) {
    cv::imwrite(file, faces_image(320 * scale, 240 * scale,
                                  {{90 * scale, 120 * scale, 100 * scale},
                                   {230 * scale, 110 * scale, 80 * scale}}));
  }

  TempDir dir_;
  std::string config_ = dir_.str() + "/config";
};

// Under AddressSanitizer a segfault first prints a symbolised report, which on a loaded
// machine can outlast the 1 s deadline, so the crash would be counted as a time-out. The
// crash is deliberate here: let the kernel end the host at once, as it does in production.
std::map<std::string, std::string> without_sanitizer_segv_handler() {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return {{"ASAN_OPTIONS",
           std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "handle_segv=0"}};
}

TEST_F(AlgoCli, RunSurvivesASegfaultAndAnEndlessLoop) {
  fs::create_directories(dir_.path() / "frames");
  for (int i = 0; i < 10; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "frame%02d.png", i);
    cv::imwrite((dir_.path() / "frames" / name).string(), faces_image(64, 48, {}));
  }
  auto r = jizhan(
      {"algo", "run", "--package", JZ_FAULTY, "--input", path("frames"), "--out", path("out.jsonl"),
       "--config", R"({"crash_on":[3],"hang_on":[5]})", "--timeout", "1s"},
      60, without_sanitizer_segv_handler());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(*read_file(path("out.jsonl")));
  ASSERT_EQ(lines.size(), 10u);
  int results = 0, errors = 0;
  for (const auto& l : lines) {
    if (l.contains("result")) {
      ++results;
      EXPECT_EQ(l["result"]["model_data"]["frame"], l["frame"]);
    } else {
      ++errors;
      const int64_t f = l["frame"];
      EXPECT_TRUE(f == 3 || f == 5) << l.dump();
      EXPECT_EQ(l["error"]["code"], f == 3 ? "unavailable" : "deadline_exceeded") << l.dump();
    }
  }
  EXPECT_EQ(results, 8);
  EXPECT_EQ(errors, 2);
  EXPECT_NE(r.err.find("10 frames from folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("8 results, 2 errors (1 crashed, 1 timed out)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restarted 2 times"), std::string::npos) << r.err;
}

TEST_F(AlgoCli, RunRefusesWhatItCannotRun) {
  auto r = jizhan({"algo", "run", "--package", path("none.jzpkg"), "--input", "x", "--out", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = jizhan({"algo", "run", "--package", JZ_FAULTY, "--input", path("missing.png"), "--out", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.png does not exist"), std::string::npos) << r.err;
  std::ofstream(path("notes.txt")) << "not a video";
  r = jizhan({"algo", "run", "--package", JZ_FAULTY, "--input", path("notes.txt"), "--out", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("as an image or a video"), std::string::npos) << r.err;
  r = jizhan({"algo", "run", "--package", JZ_FAULTY, "--input", path("notes.txt"), "--out", "-",
              "--config", "[1]"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--config must be a JSON object"), std::string::npos) << r.err;
  r = jizhan({"algo", "run", "--package", JZ_FAULTY, "--input",
              "tcp://127.0.0.1:" + std::to_string(free_port()), "--out", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open stream"), std::string::npos) << r.err;
}

TEST_F(AlgoCli, FaceDetectPackageFindsFacesInAnImageAndAVideo) {
  const std::string pkg = face_detect_package();
  // Signed by a key the user has not trusted yet.
  auto v = jizhan({"algo", "verify", pkg});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("not a trusted key"), std::string::npos) << v.err;
  EXPECT_NE(ok({"algo", "verify", pkg, "--trust", "vendor.pub"}).find("face_detect 1.0.0, intact"),
            std::string::npos);
  Json info = Json::parse(ok({"algo", "inspect", pkg, "-o", "json"}));
  EXPECT_EQ(info["manifest"]["name"], "face_detect");
  EXPECT_EQ(info["manifest"]["models"].size(), 2u);
  EXPECT_FALSE(info["trusted"].get<bool>());
  auto untrusted = jizhan({"algo", "run", "--package", pkg, "--input", "x.png", "--out", "-"});
  EXPECT_EQ(untrusted.exit_code, 1);

  // Trusted through the config folder from here on.
  fs::create_directories(config_ + "/trusted-keys");
  fs::copy_file(path("vendor.pub"), config_ + "/trusted-keys/acme.pub");
  write_faces(path("faces.png"));
  auto out =
      lines_of(ok({"algo", "run", "--package", pkg, "--input", path("faces.png"), "--out", "-"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["result"]["algorithm_data"]["target_count"], 2) << out[0].dump();
  EXPECT_EQ(out[0]["result"]["model_data"]["faces"].size(), 2u);
  EXPECT_TRUE(out[0]["result"]["algorithm_data"]["is_alert"].get<bool>());
  // A region of interest over the left half keeps one face; the raw model output keeps both.
  out = lines_of(ok({"algo", "run", "--package", pkg, "--input", path("faces.png"), "--out", "-",
                     "--args", R"j({"roi":"POLYGON((0 0,0.5 0,0.5 1,0 1,0 0))"})j"}));
  EXPECT_EQ(out[0]["result"]["algorithm_data"]["target_count"], 1);
  EXPECT_EQ(out[0]["result"]["model_data"]["faces"].size(), 2u);
  // Bad per-call arguments are that frame's invalid_argument error.
  out = lines_of(ok({"algo", "run", "--package", pkg, "--input", path("faces.png"), "--out", "-",
                     "--args", R"j({"roi":"POLYGON((0 0, 1 1"})j"}));
  EXPECT_EQ(out[0]["error"]["code"], "invalid_argument") << out[0].dump();

  // A video file: 2 s at 10 fps, analysed at 5 frames per second.
  auto ff = run_subprocess(
      {.argv = {"ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", path("faces.png"), "-t",
                "2", "-r", "10", "-c:v", "mpeg4", "-q:v", "2", path("faces.mp4")},
       .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(ff.ok() && ff->exit_code == 0) << (ff.ok() ? ff->err : ff.status().message());
  auto r = jizhan({"algo", "run", "--package", pkg, "--input", path("faces.mp4"), "--out",
                   path("video.jsonl"), "--fps", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = lines_of(*read_file(path("video.jsonl")));
  ASSERT_EQ(out.size(), 10u) << r.err;
  EXPECT_EQ(out[1]["frame"], 2);
  for (const auto& l : out) EXPECT_EQ(l["result"]["algorithm_data"]["target_count"], 2) << l.dump();
}

TEST_F(AlgoCli, ALiveStreamServedByFfmpegIsAnalysed) {
  const std::string pkg = face_detect_package();
  write_faces(path("faces.png"), 2);
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/live.ts";
  auto ffmpeg = Child::spawn({.argv = {"ffmpeg", "-loglevel",  "quiet",   "-re",
                                       "-loop",  "1",          "-i",      path("faces.png"),
                                       "-t",     "30",         "-r",      "25",
                                       "-c:v",   "mpeg2video", "-q:v",    "2",
                                       "-f",     "mpegts",     "-listen", "1",
                                       url},
                              .new_process_group = true});
  ASSERT_TRUE(ffmpeg.ok()) << ffmpeg.status().message();
  // ffmpeg listens once it has read its input; until then the connection is refused.
  SubprocessResult r;
  for (int attempt = 0; attempt < 40; ++attempt) {
    r = jizhan({"algo", "run", "--package", pkg, "--trust", path("vendor.pub"), "--input", url,
                "--out", path("live.jsonl"), "--max-frames", "8", "--fps", "10"});
    if (r.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ffmpeg->signal(SIGKILL);
  ffmpeg->wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("8 frames from stream " + url), std::string::npos) << r.err;
  auto out = lines_of(*read_file(path("live.jsonl")));
  ASSERT_EQ(out.size(), 8u);
  for (const auto& l : out) EXPECT_EQ(l["result"]["algorithm_data"]["target_count"], 2) << l.dump();
  // 25 fps analysed at 10: about 2.5 stream frames per analysed frame.
  EXPECT_GE(out.back()["frame"].get<int64_t>(), 14);
  EXPECT_LE(out.back()["frame"].get<int64_t>(), 21);
}

TEST_F(AlgoCli, LicencesAreRequiredCheckedAndExplained) {
  const std::string pkg = face_detect_package(/*licence_required=*/true);
  write_faces(path("faces.png"));
  const std::string fingerprint = [&] {
    std::string f = ok({"license", "fingerprint"});
    return f.substr(0, f.find('\n'));
  }();
  auto run = [&] {
    return jizhan({"algo", "run", "--package", pkg, "--trust", "vendor.pub", "--input",
                   path("faces.png"), "--out", "-"});
  };
  auto r = run();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no licence for face_detect is installed"), std::string::npos) << r.err;

  // Issues a licence, activates it (without checking it against the package, so that the
  // host's own refusal is what the test sees), runs, and removes it again.
  int n = 0;
  auto attempt = [&](std::vector<std::string> extra, const std::string& edit_from = "",
                     const std::string& edit_to = "") {
    const std::string file = path("l" + std::to_string(++n) + ".jzlic");
    std::vector<std::string> args = {"license",    "issue",      "--key",
                                     "vendor.key", "--customer", "Harbour Logistics",
                                     "--out",      file};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string issued = ok(args);
    const std::string code = issued.substr(issued.find("activation code: ") + 17, 19);
    if (!edit_from.empty()) {
      Json env = Json::parse(*read_file(file));
      std::string payload = env["payload"];
      payload.replace(payload.find(edit_from), edit_from.size(), edit_to);
      env["payload"] = payload;
      EXPECT_TRUE(write_file(file, env.dump()).ok());
    }
    ok({"license", "activate", code, "--licence", file});
    auto result = run();
    fs::remove_all(config_ + "/licences");
    return result;
  };
  const struct {
    std::vector<std::string> args;
    std::string edit_from, edit_to;
    const char* needle;
  } refusals[] = {
      {{"--algorithm", "face_detect", "--valid-for", "30d"},
       "\"channels\":0",
       "\"channels\":5",
       "not signed by the package's publisher"},
      {{"--algorithm", "face_detect", "--valid-from", "2020-01-01T00:00:00Z", "--valid-until",
        "2021-01-01T00:00:00Z"},
       "",
       "",
       "expired on 2021-01-01T00:00:00"},
      {{"--algorithm", "face_detect", "--valid-for", "30d", "--machine", "0000-1111-2222-3333"},
       "",
       "",
       "is for machine 0000-1111-2222-3333; this machine is "},
      {{"--algorithm", "color_blobs", "--valid-for", "30d"},
       "",
       "",
       "no licence for face_detect is installed"},
      {{"--algorithm", "face_detect", "--versions", ">=2.0.0", "--valid-for", "30d"},
       "",
       "",
       "versions >=2.0.0, not 1.0.0"},
  };
  for (const auto& c : refusals) {
    r = attempt(c.args, c.edit_from, c.edit_to);
    EXPECT_EQ(r.exit_code, 1) << c.needle;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
  }
  // Another algorithm's licence, installed under this one's name, is still refused as such.
  {
    std::string issued =
        ok({"license", "issue", "--key", "vendor.key", "--customer", "c", "--algorithm",
            "color_blobs", "--valid-for", "30d", "--out", path("other.jzlic")});
    const std::string code = issued.substr(issued.find("activation code: ") + 17, 19);
    ok({"license", "activate", code, "--licence", path("other.jzlic")});
    for (const auto& e : fs::directory_iterator(config_ + "/licences")) {
      if (e.is_regular_file()) {
        fs::rename(e.path(), config_ + "/licences/face_detect--moved.json");
      }
    }
    r = run();
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("is for algorithm 'color_blobs', not 'face_detect'"), std::string::npos)
        << r.err;
    fs::remove_all(config_ + "/licences");
  }
  // Activation with --package checks everything before installing; a typo is caught first.
  std::string issued = ok({"license", "issue", "--key", "vendor.key", "--customer", "c",
                           "--algorithm", "face_detect", "--machine", fingerprint, "--channels",
                           "1", "--valid-for", "30d", "--out", path("good.jzlic")});
  std::string code = issued.substr(issued.find("activation code: ") + 17, 19);
  std::string typo = code;
  typo[0] = typo[0] == 'A' ? 'B' : 'A';
  auto bad = jizhan({"license", "activate", typo, "--licence", path("good.jzlic")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("mistyped"), std::string::npos) << bad.err;
  ok({"license", "activate", code, "--licence", path("good.jzlic"), "--package", pkg, "--trust",
      "vendor.pub"});
  auto shown = ok({"license", "inspect", path("good.jzlic"), "--trust", "vendor.pub"});
  EXPECT_NE(shown.find("valid, by trusted key 'acme-vision'"), std::string::npos) << shown;

  r = run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out)[0]["result"]["algorithm_data"]["target_count"], 2);

  // Over limit: one channel, held by a run reading a live stream; a second run is refused.
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/live.ts";
  auto ffmpeg = Child::spawn(
      {.argv = {"ffmpeg", "-loglevel", "quiet", "-re", "-loop", "1", "-i", path("faces.png"), "-t",
                "60", "-r", "25", "-c:v", "mpeg2video", "-f", "mpegts", "-listen", "1", url},
       .new_process_group = true});
  ASSERT_TRUE(ffmpeg.ok());
  std::optional<Child> holder;
  for (int i = 0; i < 40 && !holder; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto h =
        Child::spawn({.argv = {jizhan_binary(), "algo", "run", "--package", pkg, "--trust",
                               path("vendor.pub"), "--input", url, "--out", path("hold.jsonl")},
                      .env = {{"JIZHAN_CONFIG_DIR", config_}, {"TMPDIR", dir_.str()}},
                      .new_process_group = true});
    ASSERT_TRUE(h.ok());
    // Holding once it writes results; a run that could not connect exits. (A slow start,
    // as under sanitizers, is waited for: ffmpeg serves one connection only.)
    for (int j = 0; j < 600; ++j) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (h->wait_for(std::chrono::milliseconds(0))) break;
      auto text = read_file(path("hold.jsonl"));
      if (text.ok() && !text->empty()) {
        holder.emplace(std::move(*h));
        break;
      }
    }
    if (!holder && !h->wait_for(std::chrono::milliseconds(0))) {
      h->signal(SIGKILL);
      h->wait();
    }
  }
  ASSERT_TRUE(holder.has_value()) << "the first run never started reading the stream";
  r = run();
  holder->signal(SIGKILL);
  holder->wait();
  ffmpeg->signal(SIGKILL);
  ffmpeg->wait();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("allows 1 channel on this machine and 1 are in use by other runs; 1 "
                       "requested (over limit)"),
            std::string::npos)
      << r.err;
  // The channel is free again once the holder is gone.
  EXPECT_EQ(run().exit_code, 0);
  // Serving with more instances than the licence's channels is refused before it starts.
  r = jizhan({"algo", "serve", "--package", pkg, "--trust", "vendor.pub", "--http",
              "127.0.0.1:" + std::to_string(free_port()), "--instances", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("allows 1 channel; 2 requested (over limit)"), std::string::npos) << r.err;
}

TEST_F(AlgoCli, BothExamplesPassTheConformanceCheck) {
  auto r = jizhan({"algo", "check", JZ_COLOR_BLOBS});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all 10 checks passed"), std::string::npos) << r.out;
  const std::string pkg = face_detect_package();
  write_faces(path("faces.png"));
  r = jizhan(
      {"algo", "check", pkg, "--trust", "vendor.pub", "--input", path("faces.png"), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json report = Json::parse(r.out);
  EXPECT_TRUE(report["passed"].get<bool>());
  ASSERT_EQ(report["checks"].size(), 10u);
  EXPECT_EQ(report["checks"][1]["detail"], "3 sample frames (1 given, 2 synthetic)");
}

// Issue 17, item 6: `jizhan algo run|check|serve` loaded a package's library in a child
// with the caller's rights: a hostile library read the admin token, the database and the
// CLI credentials, called the API, left a setsid grandchild running, and wrote into
// `algo check -o json`'s output. Now each runs in a sandbox unless --no-sandbox.
TEST_F(AlgoCli, AHostileLibraryReachesNothingOfTheCallersAndLeavesNothingBehind) {
  fs::create_directories(dir_.path() / "frames");
  cv::imwrite((dir_.path() / "frames" / "f.png").string(), faces_image(32, 24, {}));
  const std::string secret = path("jizhan-data/admin-token");
  fs::create_directories(dir_.path() / "jizhan-data");
  ASSERT_TRUE(write_file(secret, "jzt_secret\n", 0644).ok());
  testing::LoopbackListener api;
  const std::string daemon = "jz-daemon-" + std::to_string(::getpid());
  const Json hostile = {{"read", {secret, config_ + "/credentials.json"}},
                        {"env", {"JIZHAN_TOKEN"}},
                        {"connect_port", api.port()},
                        {"print", "HOSTILE-OUTPUT"},
                        {"daemon", daemon}};
  fs::create_directories(config_);
  ASSERT_TRUE(write_file(config_ + "/credentials.json", "{\"token\":\"jzt_x\"}\n", 0600).ok());
  auto daemons = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator("/proc")) {
      auto cmd = read_file(e.path().string() + "/cmdline");
      if (cmd.ok() && cmd->rfind(daemon, 0) == 0) ++n;
    }
    return n;
  };
  const std::map<std::string, std::string> env = {{"JIZHAN_TOKEN", "jzt_from_env"}};
  for (const bool sandboxed : {true, false}) {
    std::vector<std::string> args = {
        "algo",         "run",   "--package", JZ_FAULTY,  "--input",
        path("frames"), "--out", "-",         "--config", json::dump(Json{{"hostile", hostile}})};
    if (!sandboxed) args.push_back("--no-sandbox");
    auto r = jizhan(args, 60, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 1u) << "only results on stdout: " << r.out;
    const Json h = lines[0]["result"]["model_data"]["hostile"];
    // What it printed went to stderr, marked and escaped, never into the output.
    EXPECT_EQ(r.out.find("HOSTILE-OUTPUT"), std::string::npos);
    EXPECT_NE(r.err.find("algorithm: HOSTILE-OUTPUT"), std::string::npos) << r.err;
    if (sandboxed) {
      EXPECT_FALSE(h["read"][secret].get<bool>()) << h.dump();
      EXPECT_FALSE(h["read"][config_ + "/credentials.json"].get<bool>()) << h.dump();
      EXPECT_FALSE(h["env"]["JIZHAN_TOKEN"].get<bool>()) << h.dump();
      EXPECT_FALSE(h["connected"].get<bool>()) << h.dump();
      EXPECT_EQ(api.accepted(), 0);
      EXPECT_EQ(daemons(), 0) << "a setsid grandchild outlived the command";
    } else {
      // The same library without the sandbox: everything works (so the test can fail).
      EXPECT_TRUE(h["read"][secret].get<bool>()) << h.dump();
      EXPECT_TRUE(h["env"]["JIZHAN_TOKEN"].get<bool>()) << h.dump();
      EXPECT_TRUE(h["connected"].get<bool>()) << h.dump();
      // The setsid grandchild may still be starting when the command returns (it once
      // was not in /proc yet on a loaded machine): give it a moment.
      int seen = daemons();
      for (int i = 0; i < 100 && seen < 1; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        seen = daemons();
      }
      EXPECT_GE(seen, 1);
      for (const auto& e : fs::directory_iterator("/proc")) {
        auto cmd = read_file(e.path().string() + "/cmdline");
        if (cmd.ok() && cmd->rfind(daemon, 0) == 0) ::kill(std::stoi(e.path().filename()), SIGKILL);
      }
    }
  }
  // The conformance checker's JSON stays JSON, whatever the library prints.
  auto check = jizhan({"algo", "check", JZ_FAULTY, "-o", "json", "--config",
                       json::dump(Json{{"hostile", {{"print", "{\"passed\":true}"}}}})});
  Json report = Json::parse(check.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << check.out;
  EXPECT_EQ(check.out.find("HOSTILE"), std::string::npos);
}

TEST_F(AlgoCli, TheConformanceCheckCatchesLeaksCrashesAndNondeterminism) {
  auto failed = [&](const std::string& config) {
    auto r = jizhan({"algo", "check", JZ_FAULTY, "--config", config});
    EXPECT_EQ(r.exit_code, 1) << config;
    std::string fails;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind("FAIL", 0) == 0) fails += l + "\n";
    }
    return fails;
  };
  EXPECT_EQ(jizhan({"algo", "check", JZ_FAULTY}).exit_code, 0);
  std::string f = failed(R"({"leak_per_instance_mb":2})");
  EXPECT_NE(f.find("lifecycle"), std::string::npos) << f;
  EXPECT_NE(f.find("bound 32"), std::string::npos) << f;
  f = failed(R"({"nondeterministic":true})");
  EXPECT_NE(f.find("repeatable    frame 0 gave a different output"), std::string::npos) << f;
  EXPECT_NE(f.find("threads"), std::string::npos) << f;
  f = failed(R"({"crash_on":[0]})");
  EXPECT_NE(f.find("the algorithm crashed (SIG"), std::string::npos) << f;
  f = failed(R"({"bad_json_on":[0]})");
  EXPECT_NE(f.find("output"), std::string::npos) << f;
}

// Polls http://127.0.0.1:PORT/healthz until it answers.
bool wait_healthy(int port) {
  for (int i = 0; i < 100; ++i) {
    auto r = run_subprocess(
        {.argv = {"curl", "-sf", "http://127.0.0.1:" + std::to_string(port) + "/healthz"},
         .timeout = std::chrono::seconds(5)});
    if (r.ok() && r->exit_code == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST_F(AlgoCli, ServedFaceDetectAnswersARealGrpcClientAndCurl) {
  const std::string pkg = face_detect_package();
  write_faces(path("faces.png"));
  const std::string token = "s3cret-token-of-some-length";
  ASSERT_TRUE(write_file(path("token"), token + "\n", 0600).ok());
  auto refused = jizhan({"algo", "serve", "--package", pkg, "--trust", "vendor.pub", "--http",
                         "0.0.0.0:" + std::to_string(free_port())});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("needs a token"), std::string::npos) << refused.err;

  const int grpc_port = free_port(), http_port = free_port();
  auto server =
      Child::spawn({.argv = {jizhan_binary(), "algo", "serve", "--package", pkg, "--trust",
                             path("vendor.pub"), "--grpc", "127.0.0.1:" + std::to_string(grpc_port),
                             "--http", "127.0.0.1:" + std::to_string(http_port), "--instances", "2",
                             "--token-file", path("token")},
                    .env = {{"JIZHAN_CONFIG_DIR", config_}, {"TMPDIR", dir_.str()}},
                    .new_process_group = true});
  ASSERT_TRUE(server.ok()) << server.status().message();
  ASSERT_TRUE(wait_healthy(http_port));

  // Python stubs from the repository's proto, with Debian's protoc.
  fs::create_directories(path("stubs"));
  auto protoc =
      run_subprocess({.argv = {"protoc", "-I", std::string(JZ_SOURCE_DIR) + "/proto",
                               "--python_out", path("stubs"), "jizhan/algo/v1/algo.proto"},
                      .timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(protoc.ok() && protoc->exit_code == 0) << (protoc.ok() ? protoc->err : "");
  auto client = [&](const std::string& tok) {
    std::vector<std::string> argv = {
        "/usr/bin/python3", std::string(JZ_SOURCE_DIR) + "/tests/grpc_client.py", path("stubs"),
        "127.0.0.1:" + std::to_string(grpc_port), path("faces.png")};
    if (!tok.empty()) argv.push_back(tok);
    auto r = run_subprocess({.argv = argv, .timeout = std::chrono::seconds(60)});
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().message());
    return r.ok() && r->exit_code == 0 ? Json::parse(r->out) : Json();
  };
  Json g = client(token);
  EXPECT_EQ(g["describe"]["name"], "face_detect") << g.dump();
  EXPECT_EQ(g["describe"]["instances"], 2);
  EXPECT_EQ(g["encoded"]["result"]["algorithm_data"]["target_count"], 2) << g.dump();
  EXPECT_EQ(g["encoded"]["frame_index"], 7);
  EXPECT_EQ(g["raw"]["algorithm_data"]["target_count"], 0);
  EXPECT_EQ(g["bad_image"]["code"], "INVALID_ARGUMENT");
  ASSERT_EQ(g["stream"].size(), 5u) << g.dump();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(g["stream"][i]["frame_index"], i);
    if (i == 2) {
      EXPECT_EQ(g["stream"][i]["error"], "invalid_argument")
          << "a bad frame does not end the stream";
    } else {
      EXPECT_EQ(g["stream"][i]["target_count"], 2);
    }
  }
  EXPECT_EQ(client("")["describe_error"], "UNAUTHENTICATED");
  EXPECT_EQ(client("wrong-token-of-the-same-len")["describe_error"], "UNAUTHENTICATED");

  auto curl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"curl", "-s", "-w", "\n%{http_code}"});
    auto r = run_subprocess({.argv = args, .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(r.ok());
    const std::string out = r.ok() ? r->out : "";
    const size_t nl = out.rfind('\n');
    return std::pair{std::stoi(out.substr(nl + 1)), out.substr(0, nl)};
  };
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port);
  auto [code, body] =
      curl({"-X", "POST", "-H", "Content-Type: image/png", "-H", "Authorization: Bearer " + token,
            "--data-binary", "@" + path("faces.png"), url + "/v1/process"});
  EXPECT_EQ(code, 200) << body;
  EXPECT_EQ(Json::parse(body)["algorithm_data"]["target_count"], 2) << body;
  std::tie(code, body) =
      curl({"-X", "POST", "-H", "Content-Type: image/png", "-H", "Authorization: Bearer " + token,
            "--data-binary", "@" + path("faces.png"),
            url + "/v1/process?args=%7B%22alert_count%22%3A3%7D"});
  EXPECT_FALSE(Json::parse(body)["algorithm_data"]["is_alert"].get<bool>()) << body;
  std::tie(code, body) = curl({"-X", "POST", "-H", "Content-Type: image/png", "--data-binary",
                               "@" + path("faces.png"), url + "/v1/process"});
  EXPECT_EQ(code, 401) << body;
  std::tie(code, body) =
      curl({"-X", "POST", "-H", "Authorization: Bearer " + token, "-H", "Content-Type: image/png",
            "--data-binary", "junk", url + "/v1/process"});
  EXPECT_EQ(code, 400);
  EXPECT_NE(body.find("not an image of a format we decode"), std::string::npos) << body;
  // Bytes that would reach OpenCV's DICOM decoder, which aborts the process on a damaged
  // file: refused like any other unknown format, and the server serves on.
  std::string dicom(128, '\0');
  dicom += "DICM";
  dicom += std::string(64, '\x02');
  ASSERT_TRUE(write_file(path("dicom.bin"), dicom).ok());
  std::tie(code, body) = curl({"-X", "POST", "-H", "Authorization: Bearer " + token, "-H",
                               "Content-Type: application/octet-stream", "--data-binary",
                               "@" + path("dicom.bin"), url + "/v1/process"});
  EXPECT_EQ(code, 400) << body;
  std::tie(code, body) = curl({"-H", "Authorization: Bearer " + token, url + "/v1/describe"});
  EXPECT_EQ(code, 200);
  EXPECT_EQ(Json::parse(body)["manifest"]["name"], "face_detect");
  std::tie(code, body) = curl({url + "/healthz"});
  EXPECT_EQ(code, 200) << "health needs no token";

  server->signal(SIGTERM);
  auto done = server->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(done.has_value()) << "SIGTERM stops the server";
  EXPECT_EQ(done->exit_code, 0);
}

TEST_F(AlgoCli, HelpExplainsEveryCommand) {
  for (auto cmd : std::vector<std::vector<std::string>>{{"algo", "--help"},
                                                        {"algo", "run", "--help"},
                                                        {"algo", "pack", "--help"},
                                                        {"license", "issue", "--help"},
                                                        {"license", "activate", "--help"}}) {
    auto r = jizhan(cmd);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_GT(r.out.size(), 200u) << cmd[0];
  }
}

}  // namespace
}  // namespace jz::testing
