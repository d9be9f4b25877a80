// Training runs end to end: the Python client (clients/python/jizhan) logs a run to a real
// server over HTTP with a token and offline to a file; the API gives back its curves,
// configuration, notes and progress; nobody but the run's owner logs to it, and another
// tenant does not see it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

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

  auto out = python(kTraining, {{"JIZHAN_URL", url},
                                {"JIZHAN_TOKEN", ann.token()},
                                {"JIZHAN_PROJECT", "vision"}});
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
  EXPECT_EQ(run["tags"], Json({"train/acc", "train/loss"}));  // first seen (a record's in name order)
  ASSERT_EQ(run["notes"].size(), 1u);
  EXPECT_EQ(run["notes"][0]["text"], "learning rate halved at step 200");
  EXPECT_EQ(run["last"]["train/loss"]["value"], "NaN");

  // Every point, then a reduced curve that keeps the ends.
  const Json all = viewer.call("GET",
                               "/api/v1/projects/vision/runs/exp-1/series?tag=train/loss&points=1000");
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
  auto again = python("import jizhan\nrun = jizhan.init(name='exp-1')\nrun.log({'x': 1})\n",
                      {{"JIZHAN_URL", url},
                       {"JIZHAN_TOKEN", ann.token()},
                       {"JIZHAN_PROJECT", "vision"}});
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
      "GET", "/api/v1/projects/vision/series?runs=exp-1,uploaded&tag=train/loss&grid=true&points=10"
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

}  // namespace
}  // namespace jz
