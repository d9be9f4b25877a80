// Training runs end to end: the Python client (clients/python/jizhan) logs a run to a real
// server over HTTP with a token and offline to a file; the API gives back its curves,
// configuration, notes and progress; nobody but the run's owner logs to it, and another
// tenant does not see it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

Result<SubprocessResult> python(const std::string& script, std::map<std::string, std::string> env) {
  env["PYTHONPATH"] = testing::source_dir() + "/clients/python";
  env["PATH"] = "/usr/bin:/bin";
  SubprocessOptions o;
  o.argv = {"/usr/bin/python3", "-c", script};
  o.timeout = std::chrono::seconds(120);
  o.env = std::move(env);
  return run_subprocess(o);
}

const char* kTraining = R"(
import math, jizhan
run = jizhan.init(name="exp-1", config={"lr": 0.01, "model": {"depth": 4}})
for step in range(300):
    loss = 2.0 * math.exp(-step / 60.0)
    run.log({"train/loss": loss, "train/acc": 1.0 - loss / 2.0}, step=step)
    if step % 100 == 0:
        run.progress(step, 300)
run.log({"train/loss": float("nan")}, step=300)
run.note("learning rate halved at step 200")
run.finish()
print("sent", run.errors, run.dropped)
)";

TEST(TrainingRuns, ThePythonClientLogsARunAndTheApiGivesItsCurvesBack) {
  Platform p;
  ASSERT_TRUE(p.server);
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces", {{"name", "lab"}});
  admin.call("POST", "/api/v1/workspaces/lab/projects", {{"name", "vision"}});
  admin.call("POST", "/api/v1/workspaces", {{"name", "rival"}});
  for (const char* u : {"ann", "bob", "viewer", "outsider"}) p.user(u);
  admin.call("POST", "/api/v1/projects/vision/members",
             {{"username", "ann"}, {"role", "project-developer"}});
  admin.call("POST", "/api/v1/projects/vision/members",
             {{"username", "bob"}, {"role", "project-developer"}});
  admin.call("POST", "/api/v1/projects/vision/members",
             {{"username", "viewer"}, {"role", "project-viewer"}});
  admin.call("POST", "/api/v1/workspaces/rival/members",
             {{"username", "outsider"}, {"role", "workspace-admin"}});
  Api ann = p.user("ann"), bob = p.user("bob"), viewer = p.user("viewer"),
      outsider = p.user("outsider");
  const std::string url = "http://127.0.0.1:" + std::to_string(p.server->port());

  auto out =
      python(kTraining,
             {{"JIZHAN_URL", url}, {"JIZHAN_TOKEN", ann.token()}, {"JIZHAN_PROJECT", "vision"}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_TRUE(out->success()) << out->out << out->err;
  EXPECT_NE(out->out.find("sent [] 0"), std::string::npos) << out->out << out->err;

  const Json run = viewer.call("GET", "/api/v1/projects/vision/runs/exp-1");
  EXPECT_EQ(run["owner"], "ann");
  EXPECT_EQ(run["state"], "finished");
  EXPECT_EQ(run["points"], 601);
  EXPECT_EQ(run["config"]["lr"], 0.01);
  EXPECT_EQ(run["config"]["model.depth"], 4);
  EXPECT_EQ(run["progress"]["done"], 200);
  EXPECT_EQ(run["progress"]["total"], 300);
  EXPECT_EQ(run["tags"], Json({"train/loss", "train/acc"}));  // in the order first logged
  ASSERT_EQ(run["notes"].size(), 1u);
  EXPECT_EQ(run["notes"][0]["text"], "learning rate halved at step 200");
  EXPECT_EQ(run["last"]["train/loss"]["value"], "NaN");

  // Every point, then a reduced curve that keeps the ends.
  const Json all =
      viewer.call("GET", "/api/v1/projects/vision/runs/exp-1/series?tag=train/loss&points=1000");
  ASSERT_EQ(all["points"].size(), 301u) << all.dump().substr(0, 500);
  EXPECT_FALSE(all["reduced"].get<bool>());
  EXPECT_DOUBLE_EQ(all["points"][0]["value"].get<double>(), 2.0);
  EXPECT_EQ(all["points"][300]["value"], "NaN");
  const Json some = viewer.call(
      "GET", "/api/v1/projects/vision/runs/exp-1/series?tag=train/acc&points=20&from=100&to=199");
  EXPECT_EQ(some["in_range"], 100);
  EXPECT_TRUE(some["reduced"].get<bool>());
  EXPECT_LE(some["points"].size(), 20u);
  EXPECT_EQ(some["points"][0]["step"], 100);
  EXPECT_EQ(some["points"].back()["step"], 199);
  int status = 0;
  viewer.call("GET", "/api/v1/projects/vision/runs/exp-1/series?tag=train/loss&x=epoch", nullptr,
              &status);
  EXPECT_EQ(status, 400);

  // A run continued by name is the same run; a finished one takes nothing more.
  auto again =
      python("import jizhan\nrun = jizhan.init(name='exp-1')\nrun.log({'x': 1})\n",
             {{"JIZHAN_URL", url}, {"JIZHAN_TOKEN", ann.token()}, {"JIZHAN_PROJECT", "vision"}});
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->err.find("has finished"), std::string::npos) << again->out << again->err;

  // Only the owner logs to a run; a viewer starts none; another tenant sees nothing.
  const Json started = bob.call("POST", "/api/v1/projects/vision/runs", {{"name", "bobs"}});
  EXPECT_EQ(started["name"], "bobs");
  const Json records = {{"records", {{{"kind", "log"}, {"step", 1}, {"values", {{"x", 1}}}}}}};
  ann.call("POST", "/api/v1/projects/vision/runs/bobs/records", records, &status);
  EXPECT_EQ(status, 403);
  viewer.call("POST", "/api/v1/projects/vision/runs", {{"name", "mine"}}, &status);
  EXPECT_EQ(status, 403);
  outsider.call("GET", "/api/v1/projects/vision/runs", nullptr, &status);
  EXPECT_EQ(status, 404);
  outsider.call("GET", "/api/v1/projects/vision/runs/exp-1/series?tag=train/loss", nullptr,
                &status);
  EXPECT_EQ(status, 404);
  // Bad records are refused whole, naming the record; nothing of the call is stored.
  const Json bad = {{"records",
                     {{{"kind", "log"}, {"step", 2}, {"values", {{"x", 2}}}},
                      {{"kind", "log"}, {"step", 3}, {"values", {{"bad tag", 1}}}}}}};
  const Json refused = bob.call("POST", "/api/v1/projects/vision/runs/bobs/records", bad, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(refused.dump().find("records[1]"), std::string::npos) << refused.dump();
  EXPECT_EQ(bob.call("GET", "/api/v1/projects/vision/runs/bobs")["points"], 0);

  // Offline: records to a file; the API takes the file's lines as they are.
  const std::string file = p.dir.str() + "/offline.jsonl";
  auto offline = python(kTraining, {{"JIZHAN_OFFLINE", file}});
  ASSERT_TRUE(offline.ok() && offline->success()) << offline->err;
  std::ifstream in(file);
  const std::string lines((std::istreambuf_iterator<char>(in)), {});
  bob.call("POST", "/api/v1/projects/vision/runs", {{"name", "uploaded"}});
  httplib::Client c("127.0.0.1", p.server->port());
  auto r = c.Post("/api/v1/projects/vision/runs/uploaded/records",
                  {{"Authorization", "Bearer " + bob.token()}}, lines, "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const Json compared = viewer.call(
      "GET",
      "/api/v1/projects/vision/series?runs=exp-1,uploaded&tag=train/loss&grid=true&points=10"
      "&from=0&to=299");
  ASSERT_EQ(compared["series"].size(), 2u);
  for (const auto& s : compared["series"]) {
    ASSERT_EQ(s["points"].size(), 10u) << s.dump();
    EXPECT_DOUBLE_EQ(s["points"][3]["x"].get<double>(), 89.7);
  }
  // The same numbers logged twice: the same buckets at the same x positions.
  for (size_t i = 0; i < 10; ++i) {
    const Json& a = compared["series"][0]["points"][i];
    const Json& b = compared["series"][1]["points"][i];
    for (const char* k : {"x", "step", "value", "min", "max", "count"}) EXPECT_EQ(a[k], b[k]) << k;
  }
  const Json list = viewer.call("GET", "/api/v1/projects/vision/runs");
  EXPECT_EQ(list["items"].size(), 3u);
}

// The job of the next test: ten epochs a third of a second apart, each logged through the
// client and printed (the log line's time is when the job logged it), then every way out
// the bounds of the secret level close.
const char* kSecretJob = R"(
import time, jizhan
run = jizhan.init()
run.config(lr=0.001, model="resnet-with-a-secret-name")
for epoch in range(10):
    run.log({"train/loss": 1.0 / (epoch + 1), "val/acc": epoch / 10.0}, step=epoch)
    print("epoch %d" % epoch, flush=True)
    time.sleep(0.33)
run.note("the data starts with 89504e470d0a1a0a")
for i in range(40):
    run.log({"leak_%02d" % i: i}, step=10)
for i in range(3000):
    run.log({"train/acc": (i * 7919) % 256}, step=100 + i)
run.progress(10, 10)
run.finish()
print("training finished", flush=True)
)";

TEST(TrainingRuns, ASecretJobsCurvesArriveWithinASecondAndOnlyTheirBoundsGetOut) {
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  fs::create_directories(data_root.path() / "faces");
  fs::permissions(data_root.path() / "faces", fs::perms(0755));
  ASSERT_TRUE(write_file(data_root.str() + "/faces/a.bin", "secret bytes", 0644).ok());
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.user("dev");
  p.project("lab", "vault", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  Api olga = p.user("olga"), dev = p.user("dev");
  p.admin().call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  olga.call(
      "POST", "/api/v1/projects/vault/datasets",
      {{"name", "faces"}, {"path", data_root.str() + "/faces"}, {"security_level", "secret"}});
  Json body = job("train", {"/usr/bin/python3", "-c", kSecretJob}, 0.5, 256);
  body["datasets"] = {"faces"};
  const Json submitted = dev.call("POST", "/api/v1/projects/vault/jobs", body);
  ASSERT_TRUE(submitted.contains("id")) << submitted.dump();
  const std::string id = submitted["id"];
  const std::string series = "/api/v1/projects/vault/runs/" + id + "/series?points=100000&tag=";

  // Watch the job's log and its curve: each epoch's point must be visible within a second
  // of its log line.
  std::map<int64_t, int64_t> logged_ms, seen_ms;
  const auto start = std::chrono::steady_clock::now();
  while (seen_ms.size() < 10 && std::chrono::steady_clock::now() - start < 90s) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    int status = 0;
    const Json s = dev.call("GET", series + "val/acc", nullptr, &status);
    if (status == 200) {
      for (const auto& pt : s["points"]) seen_ms.emplace(pt["step"].get<int64_t>(), now_ms);
    }
    Json logs = dev.call("GET", "/api/v1/projects/vault/jobs/" + id + "/logs?format=json");
    if (!logs.is_object()) logs = Json::object();
    for (const auto& rec : logs.value("items", Json::array())) {
      const std::string text = rec.value("text", "");
      auto at = parse_rfc3339(rec.value("time", ""));
      if (text.rfind("epoch ", 0) == 0 && at.ok()) {
        logged_ms.emplace(
            std::stoll(text.substr(6)),
            std::chrono::duration_cast<std::chrono::milliseconds>(at->time_since_epoch()).count());
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(seen_ms.size(), 10u) << dev.call("GET", "/api/v1/projects/vault/jobs/" + id).dump();
  int64_t worst = 0;
  for (const auto& [epoch, at] : logged_ms) {
    ASSERT_TRUE(seen_ms.count(epoch));
    worst = std::max(worst, seen_ms[epoch] - at);
    EXPECT_LT(seen_ms[epoch] - at, 1000)
        << "epoch " << epoch << " took " << seen_ms[epoch] - at << " ms to be seen";
  }
  EXPECT_GE(logged_ms.size(), 5u) << "the log's times are the reference";
  std::cout << "from log line to curve: at most " << worst << " ms over " << logged_ms.size()
            << " epochs\n";
  auto done = wait_states(dev, "vault", {id}, kTerminal);
  ASSERT_EQ(done[id]["state"], "succeeded") << done[id].dump();

  // What got out: numbers within the bounds, no text.
  Json run = dev.call("GET", "/api/v1/projects/vault/runs/" + id);
  ASSERT_TRUE(run.contains("channel")) << run.dump();
  EXPECT_EQ(run["state"], "finished");
  EXPECT_EQ(run["job_id"], id);
  EXPECT_EQ(run["owner"], "dev");
  EXPECT_EQ(run["config"], Json({{"lr", 0.001}})) << "no string, no name outside the list";
  EXPECT_EQ(run["notes"].size(), 0u) << run["notes"].dump();
  EXPECT_EQ(run["tags"], Json({"train/loss", "val/acc", "train/acc"})) << "no free names";
  EXPECT_EQ(run["progress"]["done"], 10);
  Json dropped = run["channel"]["dropped"];
  EXPECT_EQ(dropped["tag not in the vocabulary"], 40) << run["channel"].dump();
  EXPECT_EQ(dropped["config name not in the vocabulary"], 1) << run["channel"].dump();
  EXPECT_EQ(dropped["note withheld"], 1) << run["channel"].dump();
  const Json acc = dev.call("GET", series + "train/acc");
  const int64_t passed = acc["total"];
  EXPECT_GT(dropped.value("rate", 0), 2000) << run["channel"].dump();
  // At most the burst and 20 a second for as long as the job ran (the 20 epoch points
  // before took some of the burst).
  EXPECT_LE(passed, 200 + 20 * 5) << "points over the rate got out";
  EXPECT_EQ(passed + dropped.value("rate", 0), 3000) << run["channel"].dump();
  // A failed job on secret data: no line of its log goes into its message (notifications
  // reach chat rooms and mailboxes outside the platform).
  Json failing = job("fails", {"sh", "-c", "echo epoch 1; exit 1"});
  failing["datasets"] = {"faces"};
  const std::string fid = dev.call("POST", "/api/v1/projects/vault/jobs", failing)["id"];
  auto fdone = wait_states(dev, "vault", {fid}, kTerminal);
  ASSERT_EQ(fdone[fid]["state"], "failed");
  EXPECT_EQ(fdone[fid].value("message", "").find("its log ends"), std::string::npos)
      << fdone[fid].dump();
  // Nobody logs to a job's run from outside it.
  int status = 0;
  dev.call("POST", "/api/v1/projects/vault/runs/" + id + "/records",
           {{"records", {{{"kind", "log"}, {"step", 1}, {"values", {{"loss", 1}}}}}}}, &status);
  EXPECT_EQ(status, 409);
}

// An error exit tells why without a visit: the job's message (and its Failed event, which
// the job_failed rule sends its owner) ends with the last lines of its filtered log.
TEST(TrainingRuns, AFailedJobSaysTheLastLinesOfItsLog) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("ann");
  p.project("lab", "vision", {{"ann", "project-developer"}});
  Api ann = p.user("ann");
  const Json submitted = ann.call(
      "POST", "/api/v1/projects/vision/jobs",
      job("broken", {"sh", "-c", "echo loading data; echo 'ValueError: bad shape' >&2; exit 2"}));
  const std::string id = submitted.value("id", "");
  ASSERT_FALSE(id.empty()) << submitted.dump();
  auto done = wait_states(ann, "vision", {id}, kTerminal);
  ASSERT_EQ(done[id]["state"], "failed");
  const std::string message = done[id].value("message", "");
  EXPECT_NE(message.find("its log ends: loading data | ValueError: bad shape"), std::string::npos)
      << message;
  const Json events = ann.call("GET", "/api/v1/projects/vision/jobs/" + id + "/events");
  EXPECT_NE(events.dump().find("ValueError: bad shape"), std::string::npos) << events.dump();
}

// A real training loop: a two-layer network learns XOR-like classes from synthetic data on
// the CPU (Debian's python3-torch), logging loss and accuracy every step.
const char* kTorchJob = R"(
import torch, jizhan
torch.manual_seed(0)
x = torch.randn(512, 2)
y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.05)
run = jizhan.init()
run.config(lr=0.05, batch_size=512, epochs=300)
for step in range(300):
    opt.zero_grad()
    out = model(x)
    loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward()
    opt.step()
    acc = (out.argmax(1) == y).float().mean().item()
    run.log({"train/loss": loss.item(), "train/acc": acc}, step=step)
    if step % 30 == 0:
        run.progress(step, 300)
run.finish()
print("training finished: loss %.3f acc %.3f" % (loss.item(), acc), flush=True)
)";

TEST(TrainingRuns, ATorchTrainingLoopsCurvesReachTheApiAndATensorBoardFile) {
  if (!fs::exists("/usr/lib/python3/dist-packages/torch")) {
    GTEST_SKIP() << "python3-torch is missing (scripts/install-deps)";
  }
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("ann");
  p.project("lab", "vision", {{"ann", "project-developer"}});
  Api ann = p.user("ann");
  const Json submitted = ann.call("POST", "/api/v1/projects/vision/jobs",
                                  job("xor", {"/usr/bin/python3", "-c", kTorchJob}, 1, 1024));
  const std::string id = submitted.value("id", "");
  ASSERT_FALSE(id.empty()) << submitted.dump();
  auto done = wait_states(ann, "vision", {id}, kTerminal, 300s);
  ASSERT_EQ(done[id]["state"], "succeeded")
      << done[id].dump() << ann.text("/api/v1/projects/vision/jobs/" + id + "/logs");
  const Json run = ann.call("GET", "/api/v1/projects/vision/runs/" + id);
  EXPECT_EQ(run["points"], 600) << run.dump();
  EXPECT_EQ(run["config"]["batch_size"], 512);
  const Json loss =
      ann.call("GET", "/api/v1/projects/vision/runs/" + id + "/series?tag=train/loss&points=1000");
  ASSERT_EQ(loss["points"].size(), 300u);
  const double first = loss["points"][0]["value"], last = loss["points"][299]["value"];
  EXPECT_LT(last, first / 3) << "the model learned";
  const Json acc =
      ann.call("GET", "/api/v1/projects/vision/runs/" + id + "/series?tag=train/acc&points=1000");
  EXPECT_GT(acc["points"][299]["value"].get<double>(), 0.85);

  // The CLI writes the run as an event file; another reader (protobuf's, with message
  // definitions of its own) finds the same curves.
  testing::TempDir tb;
  std::map<std::string, std::string> env = {
      {"JIZHAN_SERVER", "http://127.0.0.1:" + std::to_string(p.server->port())},
      {"JIZHAN_TOKEN", ann.token()},
      {"JIZHAN_CONFIG_DIR", tb.str() + "/config"}};
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), testing::jizhan_binary());
    return run_subprocess({.argv = args, .env = env, .timeout = std::chrono::seconds(60)});
  };
  auto exported = cli({"metrics", "export-tb", "vision", id, "--out", tb.str() + "/logs"});
  ASSERT_TRUE(exported.ok() && exported->success()) << exported->out << exported->err;
  auto checked = run_subprocess(
      {.argv = {"/usr/bin/python3", testing::source_dir() + "/tests/support/tfevents_check.py",
                tb.str() + "/logs"},
       .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(checked.ok() && checked->success()) << checked->out << checked->err;
  const Json tf = Json::parse(checked->out);
  EXPECT_EQ(tf["file_version"], "brain.Event:2");
  EXPECT_EQ(tf["events"], 601);
  ASSERT_EQ(tf["tags"]["train/loss"].size(), 300u);
  for (size_t i = 0; i < 300; i += 37) {
    EXPECT_EQ(tf["tags"]["train/loss"][i][0], i);
    EXPECT_FLOAT_EQ(tf["tags"]["train/loss"][i][2].get<float>(),
                    static_cast<float>(loss["points"][i]["value"].get<double>()));
  }
  // And back: the event file imported into a run of ann's is the same curve.
  auto imported = cli({"metrics", "import", "vision", tb.str() + "/logs", "--run", "xor-again"});
  ASSERT_TRUE(imported.ok() && imported->success()) << imported->out << imported->err;
  EXPECT_NE(imported->out.find("imported 600 scalars of 2 tags"), std::string::npos)
      << imported->out;
  const Json again = ann.call("GET",
                              "/api/v1/projects/vision/runs/xor-again/series?tag=train/"
                              "loss&points=1000");
  ASSERT_EQ(again["points"].size(), 300u);
  EXPECT_FLOAT_EQ(again["points"][299]["value"].get<float>(), static_cast<float>(last));
  auto listed = cli({"metrics", "runs", "vision"});
  ASSERT_TRUE(listed.ok() && listed->success());
  EXPECT_NE(listed->out.find("xor-again"), std::string::npos) << listed->out;
  EXPECT_NE(listed->out.find(id), std::string::npos) << listed->out;
}

}  // namespace
}  // namespace jz
