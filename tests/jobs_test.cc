// The job service end to end over HTTP, against the real `jizhan server` with its local
// executor (real bubblewrap sandboxes, cgroups where the machine has them): quotas under
// load (replayed from the event log), what a job on a secret dataset cannot reach, a
// server SIGKILLed while jobs run, cancel of a whole process tree, and an idle dev
// environment stopped and resumed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/platform_fixture.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(Jobs, TwoHundredJobsInThreeProjectsNeverExceedTheirQuotas) {
  Platform p;
  ASSERT_TRUE(p.server);
  for (const char* u : {"alice", "bob", "carol", "dave", "erin"}) p.user(u);
  // Different limits: jobs at once, CPU cores, memory.
  p.project("lab", "pa", {{"alice", "project-developer"}, {"bob", "project-developer"}},
            {{"concurrent_jobs", 2}});
  p.project("lab", "pb", {{"carol", "project-developer"}}, {{"cpu_cores", 0.5}});
  p.project("lab", "pc", {{"dave", "project-developer"}, {"erin", "project-developer"}},
            {{"concurrent_jobs", 4}, {"memory_mib", 256}});
  std::map<std::string, Api> users;
  for (const char* u : {"alice", "bob", "carol", "dave", "erin"}) users.emplace(u, p.user(u));
  struct Submitted {
    std::string project, id;
    int64_t cpu_milli, memory_mib;
  };
  std::vector<Submitted> all;
  const std::vector<std::pair<std::string, std::string>> who = {
      {"pa", "alice"}, {"pa", "bob"}, {"pb", "carol"}, {"pc", "dave"}, {"pc", "erin"}};
  for (int i = 0; i < 200; ++i) {
    const auto& [project, user] = who[i % who.size()];
    const double cpu = 0.1 + 0.05 * (i % 3);
    const int64_t mem = 48 + 16 * (i % 4);
    const bool fails = i % 10 == 7;
    Json body = job(
        "j" + std::to_string(i),
        {"sh", "-c", std::string("sleep 0.0") + std::to_string(i % 5) + (fails ? "; exit 3" : "")},
        cpu, mem);
    Json j = users.at(user).call("POST", "/api/v1/projects/" + project + "/jobs", body);
    ASSERT_TRUE(j.is_object() && j.contains("id")) << j.dump();
    all.push_back({project, j["id"].get<std::string>(), std::llround(cpu * 1000), mem});
  }
  Api admin = p.admin();
  int succeeded = 0, failed = 0;
  for (const auto& s : all) {
    auto done = wait_states(admin, s.project, {s.id}, kTerminal);
    const Json& j = done[s.id];
    if (j["state"] == "succeeded") ++succeeded;
    if (j["state"] == "failed") {
      ++failed;
      EXPECT_EQ(j["exit_code"], 3);
    }
  }
  EXPECT_EQ(succeeded, 180);
  EXPECT_EQ(failed, 20);

  // Replay every job's changes of state in the platform's order and check each moment.
  std::map<std::string, const Submitted*> by_id;
  for (const auto& s : all) by_id[s.id] = &s;
  struct Event {
    int64_t seq;
    std::string project, job, from, to;
  };
  std::vector<Event> events;
  for (const char* project : {"pa", "pb", "pc"}) {
    std::string after = "0";
    for (;;) {
      Json page =
          admin.call("GET", std::string("/api/v1/projects/") + project + "/events?after=" + after);
      for (const auto& e : page["items"]) {
        if (e["resource_type"] != "job") continue;
        const std::string m = e["message"].get<std::string>();
        const auto arrow = m.find(" -> ");
        const auto colon = m.find(':', arrow);
        events.push_back({e["seq"].get<int64_t>(), project, e["resource_name"], m.substr(0, arrow),
                          m.substr(arrow + 4, colon == std::string::npos ? std::string::npos
                                                                         : colon - arrow - 4)});
      }
      if (page["next_page_token"].is_null()) break;
      after = page["next_page_token"].get<std::string>();
    }
  }
  std::sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  auto holds = [](const std::string& s) {
    return s == "admitted" || s == "starting" || s == "running";
  };
  std::map<std::string, int64_t> jobs_now, cpu_now, mem_now, most_jobs, most_cpu, most_mem;
  for (const auto& e : events) {
    const Submitted* s = by_id.at(e.job);
    const int sign = holds(e.to) && !holds(e.from) ? 1 : (!holds(e.to) && holds(e.from) ? -1 : 0);
    jobs_now[e.project] += sign;
    cpu_now[e.project] += sign * s->cpu_milli;
    mem_now[e.project] += sign * s->memory_mib;
    most_jobs[e.project] = std::max(most_jobs[e.project], jobs_now[e.project]);
    most_cpu[e.project] = std::max(most_cpu[e.project], cpu_now[e.project]);
    most_mem[e.project] = std::max(most_mem[e.project], mem_now[e.project]);
    ASSERT_LE(jobs_now["pa"], 2) << "seq " << e.seq;
    ASSERT_LE(cpu_now["pb"], 500) << "seq " << e.seq;
    ASSERT_LE(jobs_now["pc"], 4) << "seq " << e.seq;
    ASSERT_LE(mem_now["pc"], 256) << "seq " << e.seq;
  }
  EXPECT_EQ(events.size(), 200u * 5) << "queued, admitted, starting, running, ended per job";
  for (const char* project : {"pa", "pb", "pc"}) EXPECT_EQ(jobs_now[project], 0) << project;
  // The limits were reached, so the checks above could have failed.
  EXPECT_EQ(most_jobs["pa"], 2);
  EXPECT_GE(most_cpu["pb"], 400);
  EXPECT_GE(most_jobs["pc"], 3);
}

TEST(Jobs, AJobOnASecretDatasetReachesNothingOutsideItsSandbox) {
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  for (const char* d : {"secret", "open", "other"}) {
    fs::create_directories(data_root.path() / d);
    ASSERT_TRUE(write_file(data_root.str() + "/" + d + "/file.txt", std::string(d) + "-data").ok());
  }
  Platform p({"--set", "datasets.roots=" + data_root.str()});
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.user("dev");
  p.project("lab", "vault", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  p.project("lab", "public", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  p.project("lab", "elsewhere", {{"olga", "data-owner"}});
  Api olga = p.user("olga");
  Api dev = p.user("dev");
  Api admin = p.admin();
  auto dataset = [&](const std::string& project, const std::string& name,
                     const std::string& level) {
    olga.call("POST", "/api/v1/projects/" + project + "/datasets",
              {{"name", name}, {"path", data_root.str() + "/" + name}, {"security_level", level}});
  };
  dataset("vault", "secret", "secret");
  dataset("public", "open", "open");
  dataset("elsewhere", "other", "open");
  // A developer may not register datasets, nor list a dataset's files; a data owner may.
  int status = 0;
  dev.call("POST", "/api/v1/projects/vault/datasets",
           {{"name", "mine"}, {"path", data_root.str() + "/open"}, {"security_level", "open"}},
           &status);
  EXPECT_EQ(status, 403);
  dev.call("GET", "/api/v1/projects/vault/datasets/secret/files", nullptr, &status);
  EXPECT_EQ(status, 403);
  EXPECT_EQ(olga.text("/api/v1/projects/vault/datasets/secret/files/file.txt"), "secret-data");
  // Outside the configured roots, or the platform's own folder: refused.
  olga.call("POST", "/api/v1/projects/vault/datasets",
            {{"name", "etc"}, {"path", "/etc"}, {"security_level", "open"}}, &status);
  EXPECT_EQ(status, 403);
  admin.call("POST", "/api/v1/projects/vault/datasets",
             {{"name", "platform"}, {"path", p.data}, {"security_level", "open"}}, &status);
  EXPECT_EQ(status, 403);
  // A job may only name datasets of its own project.
  dev.call("POST", "/api/v1/projects/vault/jobs",
           {{"name", "x"}, {"command", {"true"}}, {"datasets", {"other"}}}, &status);
  EXPECT_EQ(status, 400);

  testing::LoopbackListener outside;
  const std::string tries =
      "cat /data/"
      "$D/file.txt; echo; "
      "(exec 3<>/dev/tcp/127.0.0.1/" +
      std::to_string(outside.port()) +
      ") 2>/dev/null && echo NET-OK || echo NET-BLOCKED; "
      "(echo x >> /data/$D/file.txt) 2>/dev/null && echo WRITE-OK || echo WRITE-BLOCKED; "
      "cat " +
      data_root.str() +
      "/other/file.txt 2>/dev/null && echo OTHER-OK || echo OTHER-BLOCKED; "
      "cat " +
      p.data +
      "/jizhan.db > /dev/null 2>&1 && echo DB-OK || echo DB-BLOCKED; "
      "ls " +
      p.data +
      " > /dev/null 2>&1 && echo DATADIR-OK || echo DATADIR-BLOCKED; "
      "cat /proc/1/cmdline > /dev/null; true";
  auto run = [&](const std::string& project, const std::string& dataset_name) {
    Json body = {{"name", "probe"},
                 {"command", {"bash", "-c", "D=" + dataset_name + "; " + tries}},
                 {"datasets", {dataset_name}}};
    Json j = dev.call("POST", "/api/v1/projects/" + project + "/jobs", body);
    const std::string id = j["id"].get<std::string>();
    auto done = wait_states(dev, project, {id}, kTerminal);
    EXPECT_EQ(done[id]["state"], "succeeded") << done[id].dump();
    return dev.text("/api/v1/projects/" + project + "/jobs/" + id + "/logs");
  };
  // The secret level's log policy lets the probe's verdicts through and nothing else.
  olga.call("PUT", "/api/v1/projects/vault/log-policies/secret",
            {{"mode", "whitelist"},
             {"rules", {{{"name", "probe"}, {"pattern", "^(secret-data|[A-Z]+-(OK|BLOCKED))$"}}}}});
  const std::string secret = run("vault", "secret");
  EXPECT_NE(secret.find("secret-data"), std::string::npos) << secret;
  for (const char* blocked :
       {"NET-BLOCKED", "WRITE-BLOCKED", "OTHER-BLOCKED", "DB-BLOCKED", "DATADIR-BLOCKED"}) {
    EXPECT_NE(secret.find(blocked), std::string::npos) << blocked << " missing in:\n" << secret;
  }
  EXPECT_EQ(outside.accepted(), 0);
  EXPECT_EQ(*read_file(data_root.str() + "/secret/file.txt"), "secret-data");

  // The same connection from a job on an open dataset, once the project may reach the
  // network (a platform admin's decision), succeeds.
  dev.call("PUT", "/api/v1/projects/public/job-settings", {{"allow_egress", true}}, &status);
  EXPECT_EQ(status, 403) << "a developer cannot open the network";
  admin.call("PUT", "/api/v1/projects/public/job-settings", {{"allow_egress", true}});
  const std::string open = run("public", "open");
  EXPECT_NE(open.find("NET-OK"), std::string::npos) << open;
  EXPECT_NE(open.find("WRITE-BLOCKED"), std::string::npos) << open;
  EXPECT_EQ(outside.accepted(), 1);
}

// A dataset from an uploaded archive: unpacked safely into the platform's folder, mounted
// like any other; a hostile archive is refused and leaves nothing behind.
TEST(Jobs, DatasetsFromUploadedArchivesAreUnpackedSafely) {
  testing::TempDir src;
  fs::create_directories(src.path() / "set" / "sub");
  ASSERT_TRUE(write_file(src.str() + "/set/a.txt", "alpha\n").ok());
  ASSERT_TRUE(write_file(src.str() + "/set/sub/b.txt", "beta\n").ok());
  auto tar = run_subprocess({.argv = {"tar", "-C", src.str() + "/set", "-czf",
                                      src.str() + "/set.tar.gz", "a.txt", "sub"}});
  ASSERT_TRUE(tar.ok() && tar->success());
  // Hostile: a name that climbs out, and a symlink to the platform's database.
  auto evil = run_subprocess(
      {.argv = {"/usr/bin/python3", "-c",
                "import io,tarfile,sys\n"
                "t=tarfile.open(sys.argv[1],'w:gz')\n"
                "i=tarfile.TarInfo('../../escaped.txt'); d=b'out'; i.size=len(d)\n"
                "t.addfile(i, io.BytesIO(d))\n"
                "l=tarfile.TarInfo('db'); l.type=tarfile.SYMTYPE; l.linkname='/etc/shadow'\n"
                "t.addfile(l); t.close()\n",
                src.str() + "/evil.tar.gz"}});
  ASSERT_TRUE(evil.ok() && evil->success()) << (evil.ok() ? evil->err : "");
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.user("dev");
  p.project("lab", "up", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  Api olga = p.user("olga");
  Api dev = p.user("dev");
  httplib::Client c("127.0.0.1", p.server->port());
  auto upload = [&](const std::string& who_token, const std::string& name,
                    const std::string& file) {
    auto body = read_file(file);
    auto r = c.Post("/api/v1/projects/up/datasets/" + name + "/archive?security_level=secret",
                    {{"Authorization", "Bearer " + who_token}}, *body, "application/gzip");
    return r ? r->status : 0;
  };
  // (tokens: log in again to read them)
  auto token_of = [&](const std::string& name) {
    auto r = c.Post("/api/v1/auth/login",
                    json::dump(Json{{"username", name}, {"password", "password-" + name}}),
                    "application/json");
    return Json::parse(r->body)["token"].get<std::string>();
  };
  EXPECT_EQ(upload(token_of("dev"), "mine", src.str() + "/set.tar.gz"), 403);
  EXPECT_EQ(upload(token_of("olga"), "evil", src.str() + "/evil.tar.gz"), 400);
  int status = 0;
  olga.call("GET", "/api/v1/projects/up/datasets/evil", nullptr, &status);
  EXPECT_EQ(status, 404);
  EXPECT_FALSE(fs::exists(p.data + "/escaped.txt"));
  EXPECT_FALSE(fs::exists(p.data + "/datasets/escaped.txt"));
  ASSERT_EQ(upload(token_of("olga"), "labels", src.str() + "/set.tar.gz"), 201);
  olga.call("PUT", "/api/v1/projects/up/log-policies/secret",
            {{"mode", "whitelist"}, {"rules", {{{"name", "words"}, {"pattern", "^[a-z]+$"}}}}});
  Json j = dev.call("POST", "/api/v1/projects/up/jobs",
                    {{"name", "read"},
                     {"command", {"sh", "-c", "cat /data/labels/a.txt /data/labels/sub/b.txt"}},
                     {"datasets", {"labels"}}});
  auto done = wait_states(dev, "up", {j["id"]}, kTerminal);
  EXPECT_EQ(done[j["id"]]["state"], "succeeded");
  EXPECT_EQ(dev.text("/api/v1/projects/up/jobs/" + j["id"].get<std::string>() + "/logs"),
            "alpha\nbeta\n");
  const Json d = olga.call("GET", "/api/v1/projects/up/datasets/labels");
  const std::string path = d["path"];
  EXPECT_TRUE(fs::exists(path + "/sub/b.txt"));
  olga.call("DELETE", "/api/v1/projects/up/datasets/labels", nullptr, &status);
  EXPECT_EQ(status, 204);
  EXPECT_FALSE(fs::exists(path)) << "an uploaded dataset's files go with it";
}

// Where no sandbox can start, the server still serves the API, says why in its log, and
// refuses job submissions with that reason instead of queueing jobs that never run.
TEST(Jobs, WithoutBubblewrapJobsAreRefusedWithTheReason) {
  Platform p({"--set", "exec.bwrap=/nonexistent/bwrap"});
  ASSERT_TRUE(p.server);
  p.project("lab", "nobwrap", {});
  Api admin = p.admin();
  int status = 0;
  Json e = admin.call("POST", "/api/v1/projects/nobwrap/jobs", job("x", {"true"}), &status);
  EXPECT_EQ(status, 503);
  const std::string message = e["error"]["message"];
  EXPECT_NE(message.find("bubblewrap"), std::string::npos) << message;
  EXPECT_NE(p.server->log().find("jobs cannot run on this machine"), std::string::npos);
}

TEST(Jobs, AServerKilledWhileTwentyJobsRunAdoptsThemAfterARestart) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.project("lab", "runs", {});
  Api admin = p.admin();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    Json j = admin.call(
        "POST", "/api/v1/projects/runs/jobs",
        // The first runs long enough to be surely running when its supervisor is killed.
        job("r" + std::to_string(i),
            {"sh", "-c", std::string("echo start; sleep ") + (i == 0 ? "60" : "5") + "; echo end"},
            0.05, 32));
    ids.push_back(j["id"].get<std::string>());
  }
  wait_states(admin, "runs", ids, {"running"});
  p.server->signal(SIGKILL);
  p.server->wait();
  // While the server is down, one job's supervisor dies (an operator, the OOM killer):
  // it cannot be adopted and must be reported lost, not run again.
  auto shim = read_file(p.data + "/jobs/" + ids[0] + "-1/shim.json");
  ASSERT_TRUE(shim.ok());
  ::kill(static_cast<int>(Json::parse(*shim)["pid"].get<int64_t>()), SIGKILL);
  std::this_thread::sleep_for(200ms);
  p.start();
  ASSERT_TRUE(p.server);
  Api again = p.admin();
  auto done = wait_states(again, "runs", ids, kTerminal);
  EXPECT_EQ(done[ids[0]]["state"], "lost") << done[ids[0]].dump();
  EXPECT_NE(json::string_or(done[ids[0]], "message").find("supervisor"), std::string::npos);
  for (size_t i = 1; i < ids.size(); ++i) {
    const Json& j = done[ids[i]];
    EXPECT_EQ(j["state"], "succeeded") << j.dump();
    EXPECT_EQ(j["attempt"], 1) << "none runs twice";
    EXPECT_EQ(again.text("/api/v1/projects/runs/jobs/" + ids[i] + "/logs"), "start\nend\n");
  }
  EXPECT_NE(p.server->log().find("adopted job"), std::string::npos);
}

TEST(Jobs, CancelEndsTheWholeProcessTreeWithinTheGracePeriod) {
  Platform p({"--set", "jobs.grace_period_s=2"});
  ASSERT_TRUE(p.server);
  p.project("lab", "stop", {});
  Api admin = p.admin();
  Json j = admin.call(
      "POST", "/api/v1/projects/stop/jobs",
      job("tree", {"bash", "-c",
                   "trap '' TERM; sleep 4321 & setsid sleep 4321 & (trap '' TERM; sleep 4321) & "
                   "echo started; wait"}));
  const std::string id = j["id"].get<std::string>();
  wait_states(admin, "stop", {id}, {"running"});
  const auto t0 = std::chrono::steady_clock::now();
  Json c = admin.call("POST", "/api/v1/projects/stop/jobs/" + id + "/cancel");
  EXPECT_EQ(c["cancel_requested"], true);
  auto done = wait_states(admin, "stop", {id}, kTerminal);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(done[id]["state"], "cancelled");
  EXPECT_LT(took, 5s);
  auto ps = run_subprocess({.argv = {"pgrep", "-f", "^sleep 4321$"}});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "") << "processes left behind";
  int status = 0;
  admin.call("POST", "/api/v1/projects/stop/jobs/" + id + "/cancel", nullptr, &status);
  EXPECT_EQ(status, 412) << "an ended job cannot be cancelled";
}

// Preemption on one (virtual) GPU: a higher-priority job of the same project preempts
// the running one with the grace period; the victim is requeued (its restart policy
// allows it) and runs again after. Runtime limits, OOM kills and restarts on failure.
TEST(Jobs, PreemptionRequeuesRuntimeLimitsOomAndRestartsOnFailure) {
  Platform p({"--set", "exec.virtual_gpus=1", "--set", "jobs.grace_period_s=1"});
  ASSERT_TRUE(p.server);
  p.project("lab", "gpu", {});
  Api admin = p.admin();
  Json low = job("low", {"sh", "-c", "echo run $JIZHAN_ATTEMPT; sleep 3; echo done"});
  low["resources"]["gpus"] = 1;
  low["restart_policy"] = "on_failure";
  low["max_restarts"] = 2;
  Json l = admin.call("POST", "/api/v1/projects/gpu/jobs", low);
  const std::string lid = l["id"];
  wait_states(admin, "gpu", {lid}, {"running"});
  for (int i = 0; i < 200 && admin.text("/api/v1/projects/gpu/jobs/" + lid + "/logs").empty();
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  Json high = job("high", {"sh", "-c", "echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"});
  high["resources"]["gpus"] = 1;
  high["priority"] = 10;
  Json h = admin.call("POST", "/api/v1/projects/gpu/jobs", high);
  const std::string hid = h["id"];
  auto done = wait_states(admin, "gpu", {hid}, kTerminal);
  EXPECT_EQ(done[hid]["state"], "succeeded");
  EXPECT_EQ(admin.text("/api/v1/projects/gpu/jobs/" + hid + "/logs"),
            "CUDA_VISIBLE_DEVICES=GPU-virtual-0\n");
  done = wait_states(admin, "gpu", {lid}, {"succeeded"});
  EXPECT_EQ(done[lid]["attempt"], 2);
  std::vector<std::string> path;
  const Json history = admin.call("GET", "/api/v1/projects/gpu/jobs/" + lid + "/events");
  for (const auto& e : history["items"]) {
    path.push_back(e["to"].get<std::string>() + "/" + e["reason"].get<std::string>());
  }
  const std::vector<std::string> expected = {
      "queued/Queued",       "admitted/Admitted",  "starting/Starting", "running/Running",
      "preempted/Preempted", "queued/Requeued",    "admitted/Admitted", "starting/Starting",
      "running/Running",     "succeeded/Succeeded"};
  EXPECT_EQ(path, expected);
  EXPECT_EQ(admin.text("/api/v1/projects/gpu/jobs/" + lid + "/logs?attempt=1"), "run 1\n");
  EXPECT_EQ(admin.text("/api/v1/projects/gpu/jobs/" + lid + "/logs"), "run 2\ndone\n");

  // A runtime limit ends the job: failed, DeadlineExceeded.
  Json slow = job("slow", {"sleep", "600"});
  slow["runtime_limit_s"] = 1;
  Json s = admin.call("POST", "/api/v1/projects/gpu/jobs", slow);
  done = wait_states(admin, "gpu", {s["id"]}, kTerminal, 30s);
  EXPECT_EQ(done[s["id"]]["state"], "failed");
  EXPECT_EQ(done[s["id"]]["reason"], "DeadlineExceeded");
  // A failing job restarts up to its limit, then stays failed.
  Json flaky = job("flaky", {"sh", "-c", "echo try $JIZHAN_ATTEMPT; exit 9"});
  flaky["restart_policy"] = "on_failure";
  flaky["max_restarts"] = 2;
  Json f = admin.call("POST", "/api/v1/projects/gpu/jobs", flaky);
  const std::string fid = f["id"];
  for (int i = 0; i < 200; ++i) {
    Json now = admin.call("GET", "/api/v1/projects/gpu/jobs/" + fid);
    if (now["state"] == "failed" && now["attempt"] == 3) break;
    std::this_thread::sleep_for(50ms);
  }
  Json last = admin.call("GET", "/api/v1/projects/gpu/jobs/" + fid);
  EXPECT_EQ(last["state"], "failed");
  EXPECT_EQ(last["attempt"], 3);
  EXPECT_EQ(last["exit_code"], 9);
  // Beyond its memory limit: reported as an OOM kill (where cgroups limit memory).
  Json nodes = admin.call("GET", "/api/v1/nodes");
  if (nodes["items"][0]["cgroups"] != "none") {
    Json hungry = job("hungry", {"sh", "-c", "head -c 400M /dev/zero | tail > /dev/null"}, 0.1, 64);
    Json g = admin.call("POST", "/api/v1/projects/gpu/jobs", hungry);
    done = wait_states(admin, "gpu", {g["id"]}, kTerminal, 60s);
    EXPECT_EQ(done[g["id"]]["state"], "failed");
    EXPECT_EQ(done[g["id"]]["reason"], "OOMKilled") << done[g["id"]].dump();
  }
}

// GPUs found through NVML (its C ABI faked here: two 80 GB devices) are handed to jobs by
// UUID; a GPU share also gets its limits for the vGPU interposer.
TEST(Jobs, GpusFromNvmlAreHandedOverByUuid) {
  Platform p({"--set", std::string("exec.nvml_library=") + JZ_FAKE_NVML},
             {{"FAKE_NVML_GPUS", "2"}});
  ASSERT_TRUE(p.server);
  p.project("lab", "gpus", {});
  Api admin = p.admin();
  Json nodes = admin.call("GET", "/api/v1/nodes");
  ASSERT_EQ(nodes["items"].size(), 1u);
  EXPECT_EQ(nodes["items"][0]["gpu_source"], "nvml");
  ASSERT_EQ(nodes["items"][0]["gpus"].size(), 2u);
  EXPECT_EQ(nodes["items"][0]["gpus"][1]["uuid"], "GPU-fake-0000-1");
  EXPECT_EQ(nodes["items"][0]["gpus"][1]["memory_mib"], 81559);
  const std::string show =
      "echo $CUDA_VISIBLE_DEVICES ${JIZHAN_VGPU_MEMORY_MIB:-} ${JIZHAN_VGPU_CORES_PERCENT:-}; "
      "sleep 1";
  std::vector<std::string> ids;
  for (const char* gpus : {"1", "1", "0.5"}) {
    Json body = job(std::string("g") + gpus, {"sh", "-c", show});
    body["resources"]["gpus"] = std::stod(gpus);
    ids.push_back(admin.call("POST", "/api/v1/projects/gpus/jobs", body)["id"]);
  }
  auto done = wait_states(admin, "gpus", ids, kTerminal);
  std::set<std::string> whole;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(done[ids[i]]["state"], "succeeded");
    whole.insert(admin.text("/api/v1/projects/gpus/jobs/" + ids[i] + "/logs"));
  }
  EXPECT_EQ(whole, (std::set<std::string>{"GPU-fake-0000-0\n", "GPU-fake-0000-1\n"}))
      << "each whole GPU to one job at a time";
  const std::string share = admin.text("/api/v1/projects/gpus/jobs/" + ids[2] + "/logs");
  EXPECT_TRUE(share == "GPU-fake-0000-0 40779 50\n" || share == "GPU-fake-0000-1 40779 50\n")
      << share;
}

TEST(Jobs, AnIdleDevEnvironmentIsStoppedItsGpuReleasedAndItResumes) {
  if (::geteuid() != 0) GTEST_SKIP() << "the proxy joins the sandbox's network namespace (root)";
  Platform p({"--set", "exec.virtual_gpus=1"});
  ASSERT_TRUE(p.server);
  p.user("outsider");
  p.project("lab", "dev", {});
  Api admin = p.admin();
  Api outsider = p.user("outsider");
  admin.call("PUT", "/api/v1/projects/dev/job-settings", {{"devenv_idle_s", 2}});
  Json env = {{"name", "notebook"},
              {"kind", "devenv"},
              {"command",
               {"sh", "-c",
                "[ -f /job/index.html ] || echo hello > /job/index.html; echo up >> /job/starts; "
                "exec python3 -m http.server --bind 127.0.0.1 \"$JIZHAN_PORT\""}},
              {"resources", {{"gpus", 1}, {"cpu", 0.2}, {"memory_mib", 256}}}};
  Json j = admin.call("POST", "/api/v1/projects/dev/jobs", env);
  const std::string id = j["id"].get<std::string>();
  wait_states(admin, "dev", {id}, {"running"});
  // Through the platform, authenticated: the page served inside the sandbox.
  std::string page;
  int status = 0;
  for (int i = 0; i < 100 && page != "hello\n"; ++i) {
    page = admin.text("/devenvs/" + id + "/index.html", &status);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(page, "hello\n") << status;
  outsider.text("/devenvs/" + id + "/index.html", &status);
  EXPECT_EQ(status, 404) << "not a member";
  httplib::Client anonymous("127.0.0.1", p.server->port());
  auto r = anonymous.Get("/devenvs/" + id + "/index.html");
  EXPECT_EQ(r ? r->status : 0, 401);
  // The GPU is taken: another GPU job waits.
  Json gpu_job = job("needs-gpu", {"true"});
  gpu_job["resources"]["gpus"] = 1;
  Json g = admin.call("POST", "/api/v1/projects/dev/jobs", gpu_job);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(admin.call("GET", "/api/v1/projects/dev/jobs/" + g["id"].get<std::string>())["state"],
            "queued");
  // No traffic for 2 s: stopped, with an event, and the GPU goes to the waiting job.
  auto done = wait_states(admin, "dev", {id}, kTerminal, 30s);
  EXPECT_EQ(done[id]["state"], "cancelled");
  EXPECT_EQ(done[id]["reason"], "Idle");
  wait_states(admin, "dev", {g["id"].get<std::string>()}, {"succeeded"});
  // Resumed: its folder was kept.
  admin.call("POST", "/api/v1/projects/dev/jobs/" + id + "/retry");
  wait_states(admin, "dev", {id}, {"running"});
  page.clear();
  for (int i = 0; i < 100 && page != "hello\n"; ++i) {
    page = admin.text("/devenvs/" + id + "/index.html", &status);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(page, "hello\n");
  EXPECT_EQ(*read_file(p.data + "/jobs/" + id + "/work/starts"), "up\nup\n");
  admin.call("POST", "/api/v1/projects/dev/jobs/" + id + "/cancel");
  wait_states(admin, "dev", {id}, kTerminal);
}

}  // namespace
}  // namespace jz
