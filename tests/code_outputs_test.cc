// Project code and job outputs end to end against a real server: code pushed with git
// over the platform (tokens as passwords) runs in a job at the commit it names, which the
// job records; what the job wrote to /output is listed; outputs of a job on secret data
// stay held (names and sizes only, no downloads) until a data owner approves a release,
// a refused release leaves them held, jobs of the project may read held outputs (and
// their own outputs are held in turn), and nobody outside the project sees any of it.
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

// git in `dir` with no configuration of this machine's user and no prompts.
SubprocessResult git(const std::string& dir, std::vector<std::string> args) {
  SubprocessOptions o;
  o.argv = {"git", "-C", dir};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = {{"GIT_TERMINAL_PROMPT", "0"},
           {"GIT_CONFIG_NOSYSTEM", "1"},
           {"GIT_CONFIG_GLOBAL", "/dev/null"},
           {"GIT_AUTHOR_NAME", "Dev"},
           {"GIT_AUTHOR_EMAIL", "dev@example.com"},
           {"GIT_COMMITTER_NAME", "Dev"},
           {"GIT_COMMITTER_EMAIL", "dev@example.com"}};
  o.timeout = std::chrono::seconds(60);
  auto r = run_subprocess(o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : SubprocessResult{};
}

std::string url(int port, const std::string& token, const std::string& project) {
  return "http://user:" + token + "@127.0.0.1:" + std::to_string(port) + "/git/" + project;
}

std::string commit(const std::string& dir, const std::string& script, const std::string& msg) {
  EXPECT_TRUE(write_file(dir + "/train.sh", script).ok());
  EXPECT_EQ(git(dir, {"add", "train.sh"}).exit_code, 0);
  EXPECT_EQ(git(dir, {"commit", "-q", "-m", msg}).exit_code, 0);
  std::string id = git(dir, {"rev-parse", "HEAD"}).out;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

// A folder "faces" with one file, for a secret dataset; jobs' users may read it.
void make_faces(const testing::TempDir& root) {
  fs::permissions(root.path(), fs::perms(0755));
  fs::create_directories(root.path() / "faces");
  ASSERT_TRUE(write_file(root.str() + "/faces/file.txt", "secret-faces").ok());
}

TEST(CodeAndOutputs, CodeAtACommitRunsAndHeldOutputsLeaveOnlyWhenADataOwnerApproves) {
  testing::TempDir data_root;
  ASSERT_NO_FATAL_FAILURE(make_faces(data_root));
  Platform p;
  ASSERT_TRUE(p.server);
  const int port = p.server->port();
  for (const char* u : {"olga", "dev", "viewer", "lead", "stranger"}) p.user(u);
  p.project("lab", "vision",
            {{"olga", "data-owner"},
             {"dev", "project-developer"},
             {"viewer", "project-viewer"},
             {"lead", "project-admin"}});
  p.project("other", "elsewhere", {{"stranger", "project-developer"}});
  Api olga = p.user("olga"), dev = p.user("dev"), viewer = p.user("viewer"), lead = p.user("lead"),
      stranger = p.user("stranger"), admin = p.admin();
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  olga.call(
      "POST", "/api/v1/projects/vision/datasets",
      {{"name", "faces"}, {"path", data_root.str() + "/faces"}, {"security_level", "secret"}});

  // Two commits pushed by a developer with their token.
  testing::TempDir work;
  const std::string src = work.str() + "/src";
  fs::create_directories(src);
  ASSERT_EQ(git(src, {"init", "-q", "-b", "main"}).exit_code, 0);
  const std::string v1 =
      commit(src,
             "cat /data/faces/file.txt > /output/model.bin\n"
             "mkdir -p /output/report && echo \"version 1 at $JIZHAN_CODE_COMMIT\" > "
             "/output/report/summary.txt\n",
             "v1");
  const std::string v2 = commit(src, "echo version 2\n", "v2");
  auto pushed = git(src, {"push", "-q", url(port, dev.token(), "vision"), "main"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  Json code = dev.call("GET", "/api/v1/projects/vision/code");
  EXPECT_EQ(code["clone_path"], "/git/vision");
  ASSERT_EQ(code["commits"].size(), 2u) << code.dump();
  EXPECT_EQ(code["commits"][0]["id"], v2);
  EXPECT_EQ(code["branches"][0]["commit"], v2);

  // A viewer reads but does not push; outsiders, no token and a wrong token get nothing.
  EXPECT_EQ(git(src, {"ls-remote", url(port, viewer.token(), "vision")}).exit_code, 0);
  auto viewer_push = git(src, {"push", "-q", url(port, viewer.token(), "vision"), "main:side"});
  EXPECT_NE(viewer_push.exit_code, 0);
  EXPECT_NE(viewer_push.err.find("403"), std::string::npos) << viewer_push.err;
  EXPECT_NE(git(src, {"ls-remote", url(port, stranger.token(), "vision")}).exit_code, 0);
  EXPECT_NE(git(src, {"ls-remote", url(port, "jzt_wrong", "vision")}).exit_code, 0);
  EXPECT_NE(
      git(src, {"ls-remote", "http://127.0.0.1:" + std::to_string(port) + "/git/vision"}).exit_code,
      0);
  {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/git/vision/info/refs?service=git-upload-pack");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Basic", 0), 0u);
    // The console's cookie is no way in.
    auto login = c.Post("/api/v1/auth/login",
                        json::dump(Json{{"username", "dev"}, {"password", "password-dev"}}),
                        "application/json");
    ASSERT_TRUE(login);
    std::string cookie;
    for (const auto& [k, v] : login->headers)
      if (k == "Set-Cookie") cookie = v.substr(0, v.find(';'));
    auto with_cookie = c.Get("/git/vision/info/refs?service=git-upload-pack", {{"Cookie", cookie}});
    ASSERT_TRUE(with_cookie);
    EXPECT_EQ(with_cookie->status, 401);
  }
  EXPECT_EQ(stranger.text("/api/v1/projects/vision/code").find("clone_path"), std::string::npos);

  // A job at the first commit, on secret data.
  int status = 0;
  Json bad = dev.call("POST", "/api/v1/projects/vision/jobs",
                      {{"name", "x"}, {"command", {"true"}}, {"code", "no-such-branch"}}, &status);
  EXPECT_EQ(status, 422) << bad.dump();
  EXPECT_NE(bad.dump().find("main"), std::string::npos) << "names the branches there are";
  Json spec = job("train", {"sh", "/code/train.sh"});
  spec["code"] = v1;
  spec["datasets"] = {"faces"};
  Json a = dev.call("POST", "/api/v1/projects/vision/jobs", spec);
  const std::string a_id = a["id"];
  auto ended = wait_states(dev, "vision", {a_id}, kTerminal);
  ASSERT_EQ(ended[a_id]["state"], "succeeded") << ended[a_id].dump();
  EXPECT_EQ(ended[a_id]["spec"]["code"]["commit"], v1) << "the job records its commit";

  // Held: names and sizes only, no bytes, for everyone but the data owners.
  const std::string out = "/api/v1/projects/vision/jobs/" + a_id + "/outputs";
  Json o = dev.call("GET", out);
  EXPECT_EQ(o["state"], "held");
  EXPECT_EQ(o["level"], "secret");
  EXPECT_EQ(o["files"], 2);
  EXPECT_EQ(o["downloadable"], false);
  Json listed = dev.call("GET", out + "/files");
  const Json& items = listed["items"];
  ASSERT_EQ(items.size(), 2u) << listed.dump();
  EXPECT_EQ(items[0]["path"], "model.bin");
  EXPECT_EQ(items[0]["size"], 12);
  EXPECT_FALSE(items[0].contains("sha256")) << "held outputs show names and sizes only";
  EXPECT_EQ(items[1]["path"], "report/summary.txt");
  for (Api* who : {&dev, &viewer, &lead}) {
    who->text(out + "/files/model.bin", &status);
    EXPECT_EQ(status, 403);
  }
  stranger.text(out + "/files/model.bin", &status);
  EXPECT_EQ(status, 404);
  stranger.text(out, &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(olga.text(out + "/files/model.bin", &status), "secret-faces") << "the reviewer reads";
  EXPECT_EQ(status, 200);
  EXPECT_EQ(olga.text(out + "/files/report/summary.txt"), "version 1 at " + v1 + "\n")
      << "the job ran the code of the commit it names";
  olga.text(out + "/files/..%2F..%2Fspec.json", &status);
  EXPECT_EQ(status, 404);

  // A job of the project reads the held outputs; what it writes is held in turn. A dev
  // environment, which people reach interactively, may not mount them.
  Json b_spec = job("derive", {"sh", "-c", "cp /inputs/" + a_id + "/model.bin /output/copy.bin"});
  b_spec["inputs"] = {a_id};
  Json b = dev.call("POST", "/api/v1/projects/vision/jobs", b_spec);
  const std::string b_id = b["id"];
  ended = wait_states(dev, "vision", {b_id}, kTerminal);
  ASSERT_EQ(ended[b_id]["state"], "succeeded") << ended[b_id].dump();
  Json bo = dev.call("GET", "/api/v1/projects/vision/jobs/" + b_id + "/outputs");
  EXPECT_EQ(bo["state"], "held");
  EXPECT_EQ(bo["level"], "secret");
  Json env = job("env", {"sleep", "60"});
  env["kind"] = "devenv";
  env["inputs"] = {a_id};
  dev.call("POST", "/api/v1/projects/vision/jobs", env, &status);
  EXPECT_EQ(status, 409);
  Json other_input = job("x", {"true"});
  other_input["inputs"] = {a_id};
  stranger.call("POST", "/api/v1/projects/elsewhere/jobs", other_input, &status);
  EXPECT_EQ(status, 422) << "another project's job is no input";

  // A release: asked by a developer, refused, asked again, approved by a data owner.
  Json r1 = dev.call("POST", out + "/release", {{"reason", "the trained model for the demo"}});
  EXPECT_EQ(r1["state"], "pending");
  dev.call("POST", out + "/release", {{"reason", "again"}}, &status);
  EXPECT_EQ(status, 409);
  viewer.call("POST", out + "/release", {{"reason", "mine"}}, &status);
  EXPECT_EQ(status, 403);
  const std::string rel = "/api/v1/projects/vision/releases/" + r1["id"].get<std::string>();
  for (Api* who : {&dev, &lead, &viewer}) {
    who->call("POST", rel + "/approve", Json::object(), &status);
    EXPECT_EQ(status, 403) << "only data owners review";
  }
  stranger.call("POST", rel + "/approve", Json::object(), &status);
  EXPECT_EQ(status, 404);
  Json queue = olga.call("GET", "/api/v1/projects/vision/releases?state=pending");
  const Json& pending = queue["items"];
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["requester"], "dev");
  Json refused = olga.call("POST", rel + "/refuse", {{"comment", "it memorises faces"}});
  EXPECT_EQ(refused["state"], "refused");
  EXPECT_EQ(refused["reviewer"], "olga");
  olga.call("POST", rel + "/approve", Json::object(), &status);
  EXPECT_EQ(status, 409) << "a decided request stays decided";
  EXPECT_EQ(dev.call("GET", out)["state"], "held") << "a refused release stays held";
  dev.text(out + "/files/model.bin", &status);
  EXPECT_EQ(status, 403);

  Json r2 = dev.call("POST", out + "/release", {{"reason", "blurred now"}});
  Json approved = olga.call(
      "POST", "/api/v1/projects/vision/releases/" + r2["id"].get<std::string>() + "/approve",
      {{"comment", "fine"}});
  EXPECT_EQ(approved["state"], "approved");
  o = dev.call("GET", out);
  EXPECT_EQ(o["state"], "released");
  EXPECT_EQ(o["downloadable"], true);
  EXPECT_EQ(o["release"]["id"], r2["id"]);
  EXPECT_EQ(dev.text(out + "/files/model.bin", &status), "secret-faces");
  EXPECT_EQ(status, 200);
  listed = dev.call("GET", out + "/files");
  EXPECT_EQ(listed["items"][0]["sha256"], sha256_hex("secret-faces"));
  EXPECT_EQ(dev.call("GET", "/api/v1/projects/vision/jobs/" + b_id + "/outputs")["state"], "held")
      << "a derived job's outputs need their own release";

  // The events tell the project what happened.
  Json events = olga.call("GET", "/api/v1/projects/vision/events");
  std::string reasons;
  for (const auto& e : events["items"]) reasons += e["reason"].get<std::string>() + " ";
  for (const char* r : {"CodePushed", "ReleaseRequested", "ReleaseRefused", "ReleaseApproved"})
    EXPECT_NE(reasons.find(r), std::string::npos) << r << " in " << reasons;

  // The second commit runs when named by its branch.
  Json latest = job("latest", {"sh", "/code/train.sh"});
  latest["code"] = "main";
  Json c = dev.call("POST", "/api/v1/projects/vision/jobs", latest);
  ended = wait_states(dev, "vision", {c["id"]}, kTerminal);
  EXPECT_EQ(ended[c["id"]]["spec"]["code"]["commit"], v2);
  EXPECT_NE(dev.text("/api/v1/projects/vision/jobs/" + c["id"].get<std::string>() + "/logs")
                .find("version 2"),
            std::string::npos);
}

}  // namespace
}  // namespace jz

namespace jz {
namespace {

// A dev environment works on the repository at /code.git with no network: it clones,
// commits and pushes there. What it leaves in the repository (a hook here) runs only in
// the platform's git sandbox, which sees nothing of the server.
TEST(CodeAndOutputs, ADevEnvironmentPushesThroughItsMountAndItsHooksReachNothing) {
  Platform p;
  ASSERT_TRUE(p.server);
  const int port = p.server->port();
  p.user("dev");
  p.project("lab", "vision", {{"dev", "project-developer"}});
  Api dev = p.user("dev");
  testing::TempDir work;
  const std::string src = work.str() + "/src";
  fs::create_directories(src);
  ASSERT_EQ(git(src, {"init", "-q", "-b", "main"}).exit_code, 0);
  commit(src, "echo hi\n", "first");
  ASSERT_EQ(git(src, {"push", "-q", url(port, dev.token(), "vision"), "main"}).exit_code, 0);

  // The hook would leave a file in the server's data folder if it ran outside.
  const std::string canary = p.data + "/hook-ran";
  const std::string script =
      "set -e; git clone -q /code.git /job/c; cd /job/c; echo env > env.txt; git add env.txt;"
      "git -c user.name=Env -c user.email=env@example.com commit -q -m 'from the env';"
      "git push -q origin HEAD:from-env;"
      "printf '#!/bin/sh\\necho the hook ran >&2\\necho hooked > " +
      canary +
      "\\nexit 0\\n' > /code.git/hooks/pre-receive; chmod +x /code.git/hooks/pre-receive;"
      "sleep 120";
  Json env = job("env", {"sh", "-c", script});
  env["kind"] = "devenv";
  Json e = dev.call("POST", "/api/v1/projects/vision/jobs", env);
  EXPECT_EQ(e["spec"]["code_write"], true) << "its owner may push";
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    Json code = dev.call("GET", "/api/v1/projects/vision/code");
    for (const auto& b : code["branches"]) seen = seen || b["name"] == "from-env";
    if (!seen) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(seen) << "the environment's push reached the project's repository";
  Json log = dev.call("GET", "/api/v1/projects/vision/code?ref=from-env");
  EXPECT_EQ(log["commits"][0]["subject"], "from the env");

  // A push over HTTP now runs the environment's hook, in the sandbox only.
  std::this_thread::sleep_for(500ms);
  commit(src, "echo two\n", "second");
  auto pushed = git(src, {"push", "-q", url(port, dev.token(), "vision"), "main"});
  EXPECT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_NE(pushed.err.find("the hook ran"), std::string::npos) << pushed.err;
  EXPECT_FALSE(fs::exists(canary)) << "a hook written by a job reached the server's folder";
  dev.call("POST", "/api/v1/projects/vision/jobs/" + e["id"].get<std::string>() + "/cancel");
}

}  // namespace
}  // namespace jz

namespace jz {
namespace {

// An environment description: packages the node must have (a missing one is refused,
// named), a venv made on first use in the project's volume, which later jobs find; a job
// on secret data sees the volume read-only, so nothing it read lands where a dev
// environment would show it.
TEST(CodeAndOutputs, AnEnvironmentNamesPackagesAndAVenvInTheProjectVolume) {
  testing::TempDir data_root;
  ASSERT_NO_FATAL_FAILURE(make_faces(data_root));
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("dev");
  p.project("lab", "vision", {{"dev", "project-developer"}});
  Api admin = p.admin(), dev = p.user("dev");
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  admin.call(
      "POST", "/api/v1/projects/vision/datasets",
      {{"name", "faces"}, {"path", data_root.str() + "/faces"}, {"security_level", "secret"}});
  auto run = [&](const Json& spec) {
    Json j = dev.call("POST", "/api/v1/projects/vision/jobs", spec);
    const std::string id = j["id"];
    return wait_states(dev, "vision", {id}, kTerminal)[id];
  };
  auto output = [&](const Json& j, const std::string& file) {
    return dev.text("/api/v1/projects/vision/jobs/" + j["id"].get<std::string>() +
                    "/outputs/files/" + file);
  };

  int status = 0;
  Json missing = job("x", {"true"});
  missing["environment"] = {{"packages", {"python3", "no-such-package-zz"}}};
  Json refused = dev.call("POST", "/api/v1/projects/vision/jobs", missing, &status);
  EXPECT_EQ(status, 422);
  EXPECT_NE(refused.dump().find("no-such-package-zz"), std::string::npos) << refused.dump();
  EXPECT_EQ(refused.dump().find("python3 "), std::string::npos) << "only the missing one";

  Json first = job("first", {"sh", "-c",
                             "python -c 'import sys; print(sys.prefix)' > /output/prefix.txt && "
                             "echo kept > /project/notes.txt"});
  first["environment"] = {{"packages", {"python3"}}, {"venv", "tools"}};
  first["resources"]["memory_mib"] = 256;
  first["resources"]["cpu"] = 1;  // the venv is made once, in a few seconds of a core
  Json a = run(first);
  ASSERT_EQ(a["state"], "succeeded")
      << a.dump()
      << dev.text("/api/v1/projects/vision/jobs/" + a["id"].get<std::string>() + "/logs");
  EXPECT_EQ(output(a, "prefix.txt"), "/project/venvs/tools\n");

  Json second = job("second", {"sh", "-c",
                               "cp /project/notes.txt /output/notes.txt && test -x "
                               "/project/venvs/tools/bin/python"});
  Json b = run(second);
  ASSERT_EQ(b["state"], "succeeded") << b.dump();
  EXPECT_EQ(output(b, "notes.txt"), "kept\n") << "the volume stays between jobs";

  // On secret data the volume is read-only: no writing, no new venv.
  Json leak = job("leak", {"sh", "-c", "cat /data/faces/file.txt > /project/leak.txt"});
  leak["datasets"] = {"faces"};
  EXPECT_EQ(run(leak)["state"], "failed");
  Json venv = job("venv", {"true"});
  venv["datasets"] = {"faces"};
  venv["environment"] = {{"venv", "fresh"}};
  Json v = run(venv);
  EXPECT_EQ(v["state"], "failed");
  EXPECT_EQ(v["exit_code"], 127);
  Json look = job("look", {"sh", "-c", "ls /project > /output/listing.txt"});
  Json l = run(look);
  EXPECT_EQ(output(l, "listing.txt"), "notes.txt\nvenvs\n");
}

// Whoever sees a job ended finds its outputs: they are recorded before the end is, however
// long hashing them takes (a large file keeps the runner at it for a while).
TEST(CodeAndOutputs, AJobSeenToHaveEndedHasItsOutputsRecorded) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("dev");
  p.project("lab", "vision", {{"dev", "project-developer"}});
  Api dev = p.user("dev");
  Json spec = job("big", {"sh", "-c", "head -c 268435456 /dev/zero > /output/big.bin"});
  Json made = dev.call("POST", "/api/v1/projects/vision/jobs", spec);
  const std::string path = "/api/v1/projects/vision/jobs/" + made["id"].get<std::string>();
  const auto until = std::chrono::steady_clock::now() + 120s;
  Json j;
  while (std::chrono::steady_clock::now() < until) {
    j = dev.call("GET", path);
    if (kTerminal.count(json::string_or(j, "state"))) break;
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(j["state"], "succeeded") << j.dump();
  int status = 0;
  Json outputs = dev.call("GET", path + "/outputs", {}, &status);
  ASSERT_EQ(status, 200) << outputs.dump();
  EXPECT_EQ(outputs["bytes"], 268435456) << outputs.dump();
}

}  // namespace
}  // namespace jz
