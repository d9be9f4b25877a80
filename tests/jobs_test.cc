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

#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "core/text.h"
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
  const auto events = job_events(admin, {"pa", "pb", "pc"});
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
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.user("dev");
  p.project("lab", "vault", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  p.project("lab", "public", {{"olga", "data-owner"}, {"dev", "project-developer"}});
  p.project("lab", "elsewhere", {{"olga", "data-owner"}});
  Api olga = p.user("olga");
  Api dev = p.user("dev");
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
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
  // A job may only name datasets of its own project (well-formed, but refused).
  dev.call("POST", "/api/v1/projects/vault/jobs",
           {{"name", "x"}, {"command", {"true"}}, {"datasets", {"other"}}}, &status);
  EXPECT_EQ(status, 422);

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

// Issue 17, item 5: a dataset path was checked at registration and mounted by name later:
// replacing the folder with a symlink to another project's job folder let a job read that
// project's /output (model weights). Datasets are now opened without symlinks at each
// start and compared with the folder registered, and each project's jobs run as a user of
// their own, so one project's jobs cannot read another's files even then.
TEST(Jobs, ADatasetSwappedAfterRegistrationIsNeverMounted) {
  if (::geteuid() != 0) GTEST_SKIP() << "per-project users need the server to run as root";
  testing::TempDir root;
  fs::permissions(root.path(), fs::perms(0755));
  fs::create_directories(root.path() / "d");
  fs::permissions(root.path() / "d", fs::perms(0755));
  ASSERT_TRUE(write_file(root.str() + "/d/x.txt", "fine\n", 0644).ok());
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.project("lab", "alpha", {});
  p.project("rivals", "beta", {{"olga", "data-owner"}});
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces/rivals/dataset-roots", {{"path", root.str()}});
  Api olga = p.user("olga");
  int status = 0;
  olga.call("POST", "/api/v1/projects/beta/datasets",
            {{"name", "d"}, {"path", root.str() + "/d"}, {"security_level", "internal"}}, &status);
  ASSERT_EQ(status, 201);
  // Project alpha trains a model: its weights in its job's /output.
  Json a = admin.call("POST", "/api/v1/projects/alpha/jobs",
                      job("train", {"sh", "-c", "echo WEIGHTS-OF-ALPHA > /output/w.bin; id -u"}));
  auto done = wait_states(admin, "alpha", {a["id"]}, kTerminal);
  ASSERT_EQ(done[a["id"]]["state"], "succeeded") << done[a["id"]].dump();
  const std::string alpha_out = p.data + "/jobs/" + a["id"].get<std::string>() + "-1/output";
  ASSERT_TRUE(fs::exists(alpha_out + "/w.bin"));
  auto read_d = [&](const std::string& name) {
    Json b = admin.call("POST", "/api/v1/projects/beta/jobs", [&] {
      Json j = job(name, {"sh", "-c", "id -u; cat /data/d/w.bin 2>/dev/null; cat /data/d/x.txt"});
      j["datasets"] = {"d"};
      return j;
    }());
    auto ended = wait_states(admin, "beta", {b["id"]}, kTerminal);
    return std::make_pair(ended[b["id"]], admin.text("/api/v1/projects/beta/jobs/" +
                                                     b["id"].get<std::string>() + "/logs"));
  };
  auto [first, first_log] = read_d("before");
  EXPECT_EQ(first["state"], "succeeded") << first.dump();
  EXPECT_NE(first_log.find("fine"), std::string::npos) << first_log;
  // Each project's jobs run as their own user.
  const std::string alpha_uid =
      admin.text("/api/v1/projects/alpha/jobs/" + a["id"].get<std::string>() + "/logs");
  const std::string beta_uid = first_log.substr(0, first_log.find('\n') + 1);
  EXPECT_NE(alpha_uid, beta_uid);
  EXPECT_NE(alpha_uid, "0\n");
  struct stat st;
  ASSERT_EQ(::stat(alpha_out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(std::to_string(st.st_uid) + "\n", alpha_uid);
  // The data owner swaps the folder for a symlink to alpha's outputs.
  fs::rename(root.path() / "d", root.path() / "d.old");
  fs::create_directory_symlink(alpha_out, root.path() / "d");
  auto [swapped, swapped_log] = read_d("swapped");
  EXPECT_EQ(swapped_log.find("WEIGHTS-OF-ALPHA"), std::string::npos) << swapped_log;
  EXPECT_EQ(swapped["state"], "failed") << swapped.dump();
  EXPECT_NE(swapped["message"].get<std::string>().find("register it again"), std::string::npos)
      << swapped.dump();
  // ... or for another folder: not the one registered either.
  fs::remove(root.path() / "d");
  fs::create_directories(root.path() / "d");
  fs::permissions(root.path() / "d", fs::perms(0755));
  auto [replaced, replaced_log] = read_d("replaced");
  EXPECT_EQ(replaced["state"], "failed") << replaced.dump();
  EXPECT_NE(replaced["message"].get<std::string>().find("replaced by another folder"),
            std::string::npos)
      << replaced.dump();
  // Put back, it mounts again.
  fs::remove(root.path() / "d");
  fs::rename(root.path() / "d.old", root.path() / "d");
  auto [back, back_log] = read_d("back");
  EXPECT_EQ(back["state"], "succeeded") << back.dump();
}

// The quota API shows what the project's jobs hold now against each limit (the
// console's usage bars), and gives it back when they end.
TEST(Jobs, TheQuotaShowsWhatRunningJobsHold) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.project("lab", "usage", {}, {{"concurrent_jobs", 3}, {"cpu_cores", 4}, {"memory_mib", 2048}});
  Api admin = p.admin();
  Json a = admin.call("POST", "/api/v1/projects/usage/jobs", job("a", {"sleep", "60"}, 0.5, 128));
  Json b = admin.call("POST", "/api/v1/projects/usage/jobs", job("b", {"sleep", "60"}, 0.25, 64));
  wait_states(admin, "usage", {a["id"], b["id"]}, {"running"}, 60s);
  Json usage;
  for (int i = 0; i < 100; ++i) {  // the runner publishes it at its next tick
    usage = admin.call("GET", "/api/v1/projects/usage/quota")["usage"];
    if (usage.value("concurrent_jobs", 0) == 2) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(usage["concurrent_jobs"], 2) << usage.dump();
  EXPECT_DOUBLE_EQ(usage["cpu_cores"].get<double>(), 0.75) << usage.dump();
  EXPECT_EQ(usage["memory_mib"], 192) << usage.dump();
  EXPECT_EQ(usage["gpus"], 0) << usage.dump();
  EXPECT_EQ(usage["pending_jobs"], 0) << usage.dump();
  for (const Json& j : {a, b}) {
    admin.call("POST", "/api/v1/projects/usage/jobs/" + j["id"].get<std::string>() + "/cancel",
               Json::object());
  }
  wait_states(admin, "usage", {a["id"], b["id"]}, kTerminal, 60s);
  for (int i = 0; i < 100; ++i) {
    usage = admin.call("GET", "/api/v1/projects/usage/quota")["usage"];
    if (usage.value("concurrent_jobs", 1) == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(usage["concurrent_jobs"], 0) << usage.dump();
  EXPECT_EQ(usage["memory_mib"], 0) << usage.dump();
}

// The scheduling view (issue 19): who holds each GPU and how much, the queue in order with
// reasons, quota use; what each seat may see of it (another tenant, a viewer, a developer,
// someone in no project); and the "what if" simulator, for platform admins only.
TEST(Jobs, TheSchedulingViewShowsWhoHoldsEachGpuAndHidesOtherTenants) {
  Platform p({"--set", "exec.virtual_gpus=2"});
  ASSERT_TRUE(p.server);
  Api alice = p.user("alice"), vera = p.user("vera"), bob = p.user("bob"),
      mallory = p.user("mallory");
  p.project("wsa", "sched-a", {{"alice", "project-developer"}, {"vera", "project-viewer"}},
            {{"gpus", 1}});
  p.project("wsb", "sched-b", {{"bob", "project-developer"}});
  Api admin = p.admin();
  auto gpu_job = [](const std::string& name) {
    Json j = job(name, {"sleep", "60"});
    j["resources"]["gpus"] = 1;
    return j;
  };
  const std::string holder =
      alice.call("POST", "/api/v1/projects/sched-a/jobs", gpu_job("holder"))["id"];
  const std::string theirs =
      bob.call("POST", "/api/v1/projects/sched-b/jobs", gpu_job("theirs"))["id"];
  wait_states(admin, "sched-a", {holder}, {"running"});
  wait_states(admin, "sched-b", {theirs}, {"running"});
  const std::string waiter =
      alice.call("POST", "/api/v1/projects/sched-a/jobs", gpu_job("waiter"))["id"];
  const std::string second =
      bob.call("POST", "/api/v1/projects/sched-b/jobs", gpu_job("second"))["id"];

  // The admin sees everything, once both pending jobs have a reason.
  Json view;
  for (int i = 0; i < 200; ++i) {
    view = admin.call("GET", "/api/v1/scheduler");
    if (view["queue"].size() == 2 && !view["queue"][1]["reason"].get<std::string>().empty()) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(view["nodes"].size(), 1u) << view.dump();
  const Json& gpus = view["nodes"][0]["gpus"];
  ASSERT_EQ(gpus.size(), 2u) << view.dump();
  std::map<std::string, Json> by_job;
  for (const Json& g : gpus) {
    ASSERT_EQ(g["holders"].size(), 1u) << g.dump();
    EXPECT_EQ(g["cores_used_percent"], 100);
    EXPECT_TRUE(g["virtual"].get<bool>());
    by_job[g["holders"][0]["job"]] = g["holders"][0];
  }
  ASSERT_TRUE(by_job.count(holder) && by_job.count(theirs)) << view.dump();
  EXPECT_EQ(by_job[holder]["user"], "alice");
  EXPECT_EQ(by_job[holder]["name"], "holder");
  EXPECT_TRUE(by_job[holder]["whole"].get<bool>());
  EXPECT_EQ(view["gpus_allocated"], 2);
  std::set<std::string> queued;
  for (const Json& q : view["queue"]) {
    queued.insert(q["job"].get<std::string>());
    EXPECT_FALSE(q["reason"].get<std::string>().empty()) << q.dump();
  }
  EXPECT_EQ(queued, (std::set<std::string>{waiter, second}));
  for (const Json& q : view["queue"]) {
    if (q["job"] == waiter) {
      EXPECT_NE(q["reason"].get<std::string>().find("sched-a"), std::string::npos) << q.dump();
    }
  }
  Json quota_a;
  for (const Json& pj : view["projects"]) {
    if (pj["project"] == "sched-a") quota_a = pj;
  }
  EXPECT_EQ(quota_a["gpus_used"], 1) << view.dump();
  EXPECT_EQ(quota_a["gpus_quota"], 1) << view.dump();
  EXPECT_EQ(quota_a["pending_jobs"], 1) << view.dump();
  // The quota's usage: GPU memory held (a whole GPU's) and GPUs per user.
  Json usage = alice.call("GET", "/api/v1/projects/sched-a/quota")["usage"];
  EXPECT_EQ(usage["gpu_memory_mib"], by_job[holder].value("memory_mib", -1)) << usage.dump();
  EXPECT_GT(usage["gpu_memory_mib"].get<int>(), 0) << usage.dump();
  EXPECT_EQ(usage["per_user_gpus"], (Json{{"alice", 1}})) << usage.dump();

  // Each seat sees its own projects' jobs; another tenant's only as an amount held.
  struct Seat {
    const char* who;
    Api* api;
    std::string own_job, own_project, foreign_job, foreign_project, foreign_user;
  };
  for (const Seat& seat :
       {Seat{"alice (developer)", &alice, holder, "sched-a", theirs, "sched-b", "bob"},
        Seat{"vera (viewer)", &vera, holder, "sched-a", theirs, "sched-b", "bob"},
        Seat{"bob (another tenant)", &bob, theirs, "sched-b", holder, "sched-a", "alice"},
        Seat{"mallory (no project)", &mallory, "", "", holder, "sched-a", "alice"}}) {
    SCOPED_TRACE(seat.who);
    Json v = seat.api->call("GET", "/api/v1/scheduler");
    const std::string text = v.dump();
    EXPECT_EQ(text.find(seat.foreign_job), std::string::npos) << text;
    EXPECT_EQ(text.find(seat.foreign_project), std::string::npos) << text;
    EXPECT_EQ(text.find("\"" + seat.foreign_user + "\""), std::string::npos) << text;
    int hidden = 0, own = 0;
    for (const Json& g : v["nodes"][0]["gpus"]) {
      for (const Json& h : g["holders"]) {
        if (h.value("hidden", false)) {
          ++hidden;
          EXPECT_FALSE(h.contains("job") || h.contains("user") || h.contains("name")) << h.dump();
          EXPECT_TRUE(h["whole"].get<bool>());
        } else {
          ++own;
          EXPECT_EQ(h["job"], seat.own_job);
        }
      }
    }
    EXPECT_EQ(hidden + own, 2);
    EXPECT_EQ(own, seat.own_job.empty() ? 0 : 1);
    EXPECT_EQ(v["queue_length"], 2);
    EXPECT_EQ(v["queue"].size(), seat.own_job.empty() ? 0u : 1u) << text;
    EXPECT_EQ(v["projects"].size(), seat.own_job.empty() ? 0u : 1u) << text;
    if (!seat.own_job.empty()) {
      EXPECT_EQ(v["queue"][0]["project"], seat.own_project);
      EXPECT_GE(v["queue"][0]["position"].get<int>(), 1);
    }
    // The simulator and the cluster's quotas are for platform admins.
    int status = 0;
    seat.api->call("GET", "/api/v1/scheduler/cluster", nullptr, &status);
    EXPECT_EQ(status, 403);
    seat.api->call("POST", "/api/v1/scheduler/simulate",
                   {{"workload", "submit_s,user,project,gpus,duration_s,priority\n"},
                    {"workload_format", "csv"}},
                   &status);
    EXPECT_EQ(status, 403);
  }

  // Each one's own jobs across projects (the console's overview), and no one else's.
  auto mine = [](Api& api) {
    std::set<std::string> ids;
    Json page = api.call("GET", "/api/v1/jobs?active=true");
    for (const Json& j : page["items"]) ids.insert(j["id"]);
    return ids;
  };
  EXPECT_EQ(mine(alice), (std::set<std::string>{holder, waiter}));
  EXPECT_EQ(mine(bob), (std::set<std::string>{theirs, second}));
  EXPECT_TRUE(mine(mallory).empty());
  EXPECT_TRUE(mine(vera).empty()) << "a viewer's list holds only the viewer's own jobs";

  // What if: the current cluster (2 GPUs, sched-a's quota of 1) with a trace.
  Json cluster = admin.call("GET", "/api/v1/scheduler/cluster");
  const std::string yaml = cluster["yaml"];
  EXPECT_NE(yaml.find("gpus_per_node: 2"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("{name: sched-a, nominal_gpus: 1, borrowing_limit_gpus: 0}"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("{name: sched-b, nominal_gpus: 2, borrowing_limit_gpus: 0}"),
            std::string::npos)
      << yaml;
  Json report = admin.call("POST", "/api/v1/scheduler/simulate",
                           {{"workload",
                             "submit_s,user,project,gpus,duration_s,priority\n"
                             "0,alice,sched-a,1,3600,0\n"
                             "0,alice,sched-a,1,3600,0\n"
                             "0,bob,sched-b,1,7200,0\n"
                             "7200,alice,sched-a,1,60,0\n"},
                            {"workload_format", "csv"}});
  // sched-a's second job waits for its first (quota 1): both of its hours hold 1 GPU, and
  // bob's job the other: 2 of 2 GPUs for 2 hours (the last submission ends the run).
  EXPECT_EQ(report["summary"]["jobs"], 4) << report.dump();
  EXPECT_EQ(report["summary"]["classes"]["job"]["wait_p90_s"], 3600) << report.dump();
  EXPECT_EQ(report["series"]["default"]["allocated"], Json::array({1.0, 1.0})) << report.dump();
  EXPECT_EQ(report["cluster"], yaml);
  int status = 0;
  Json bad =
      admin.call("POST", "/api/v1/scheduler/simulate",
                 {{"workload", "submit_s,user\n0,alice\n"}, {"workload_format", "csv"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(bad.dump().find("workload"), std::string::npos) << bad.dump();
  // Taken out of the project, alice no longer sees her jobs there.
  admin.call("DELETE", "/api/v1/projects/sched-a/members/alice");
  EXPECT_TRUE(mine(alice).empty());
  for (const auto& [api, project, id] :
       {std::tuple{&admin, "sched-a", holder}, std::tuple{&admin, "sched-a", waiter},
        std::tuple{&bob, "sched-b", theirs}, std::tuple{&bob, "sched-b", second}}) {
    api->call("POST", std::string("/api/v1/projects/") + project + "/jobs/" + id + "/cancel",
              Json::object());
  }
}

// Fair share remembers who used the GPUs lately across a restart (issue 20): each project's
// decayed usage is written to the store (every 30 s and at stop) and read back at start.
TEST(Jobs, FairShareUsageSurvivesARestart) {
  Platform p({"--set", "exec.virtual_gpus=1"});
  ASSERT_TRUE(p.server);
  p.project("lab", "fair", {});
  Api admin = p.admin();
  Json j = job("used", {"sleep", "2"});
  j["resources"]["gpus"] = 1;
  const std::string id = admin.call("POST", "/api/v1/projects/fair/jobs", j)["id"];
  wait_states(admin, "fair", {id}, {"succeeded"});
  auto recent = [](Api& api) {
    const Json view = api.call("GET", "/api/v1/scheduler");
    for (const Json& pj : view["projects"]) {
      if (pj["project"] == "fair") return pj.value("recent_gpu_hours", -1.0);
    }
    return -1.0;
  };
  const double before = recent(admin);
  EXPECT_GE(before, 0.0005) << "about 2 s of one GPU";  // 2 s = 0.00056 GPU-hours
  p.server->signal(SIGTERM);
  p.server->wait();
  p.start();
  ASSERT_TRUE(p.server);
  Api again = p.admin();
  const double after = recent(again);
  EXPECT_GT(after, 0.8 * before) << "forgotten at restart";
  EXPECT_LE(after, before) << "it only decays";
}

// Issue 17, item 9: no storage limits: an open job wrote 300 MB to /output and 200 MB of
// log in 20 s. A project's storage quota now covers outputs, work folders, logs and
// uploaded datasets; its running jobs stop past it, new ones do not start, uploads that
// would pass it are refused, and the quota API shows what is used.
TEST(Jobs, AStorageQuotaStopsTheProjectsJobsAndUploads) {
  Platform p({"--set", "jobs.storage_check_s=1"});
  ASSERT_TRUE(p.server);
  p.project("lab", "disk", {}, {{"storage_mib", 20}});
  Api admin = p.admin();
  // 4 MiB a step to /output and a log line a step, for a minute at most.
  Json filler = job("fill",
                    {"sh", "-c",
                     "for i in $(seq 1 60); do head -c 4194304 /dev/urandom > "
                     "/output/part$i; echo wrote part $i; sleep 0.2; done"},
                    0.2, 128);
  Json f = admin.call("POST", "/api/v1/projects/disk/jobs", filler);
  auto done = wait_states(admin, "disk", {f["id"]}, kTerminal, 60s);
  EXPECT_EQ(done[f["id"]]["state"], "failed") << done[f["id"]].dump();
  EXPECT_EQ(done[f["id"]]["reason"], "StorageQuotaExceeded") << done[f["id"]].dump();
  EXPECT_NE(done[f["id"]]["message"].get<std::string>().find("of its 20 MiB storage quota"),
            std::string::npos)
      << done[f["id"]].dump();
  const std::string log =
      admin.text("/api/v1/projects/disk/jobs/" + f["id"].get<std::string>() + "/logs");
  EXPECT_EQ(log.find("wrote part 60"), std::string::npos) << "stopped long before the end";
  Json quota = admin.call("GET", "/api/v1/projects/disk/quota");
  EXPECT_EQ(quota["storage_mib"], 20);
  EXPECT_GT(quota["usage"]["storage_mib"].get<double>(), 20.0) << quota.dump();
  // The GET body can be PUT back (usage is read-only and ignored).
  int status = 0;
  admin.call("PUT", "/api/v1/projects/disk/quota", quota, &status);
  EXPECT_EQ(status, 200);
  // Over the quota, a new job does not start.
  Json next = admin.call("POST", "/api/v1/projects/disk/jobs", job("next", {"true"}));
  done = wait_states(admin, "disk", {next["id"]}, kTerminal, 60s);
  EXPECT_EQ(done[next["id"]]["state"], "failed");
  EXPECT_EQ(done[next["id"]]["reason"], "StorageQuotaExceeded") << done[next["id"]].dump();
  // Nor does an upload.
  testing::TempDir src;
  ASSERT_TRUE(write_file(src.str() + "/a.txt", "alpha\n").ok());
  auto tar =
      run_subprocess({.argv = {"tar", "-C", src.str(), "-czf", src.str() + "/a.tar.gz", "a.txt"}});
  ASSERT_TRUE(tar.ok() && tar->success());
  httplib::Client c("127.0.0.1", p.server->port());
  auto up = c.Post("/api/v1/projects/disk/datasets/more/archive",
                   {{"Authorization", "Bearer " + p.server->token()}},
                   *read_file(src.str() + "/a.tar.gz"), "application/gzip");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 429) << up->body;
  EXPECT_NE(up->body.find("storage quota"), std::string::npos) << up->body;
  // More room: the upload counts what it unpacks to.
  admin.call("PUT", "/api/v1/projects/disk/quota", {{"storage_mib", 200}});
  up = c.Post("/api/v1/projects/disk/datasets/more/archive",
              {{"Authorization", "Bearer " + p.server->token()}},
              *read_file(src.str() + "/a.tar.gz"), "application/gzip");
  EXPECT_EQ(up->status, 201) << up->body;
  Json ok = admin.call("POST", "/api/v1/projects/disk/jobs", job("fits", {"true"}));
  done = wait_states(admin, "disk", {ok["id"]}, kTerminal, 60s);
  EXPECT_EQ(done[ok["id"]]["state"], "succeeded") << done[ok["id"]].dump();
}

// Peak resident memory of a process (VmHWM), in MiB.
int64_t peak_rss_mib(int pid) {
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!status.ok()) return -1;
  auto at = status->find("VmHWM:");
  if (at == std::string::npos) return -1;
  // "VmHWM:   123456 kB"
  const size_t digits = status->find_first_of("0123456789", at);
  if (digits == std::string::npos) return -1;
  const size_t end = status->find_first_not_of("0123456789", digits);
  const auto kib = parse_int64(std::string_view(*status).substr(digits, end - digits));
  return kib ? *kib / 1024 : -1;
}

// Issue 17, item 7: each archive entry became a string in memory (a 1.5 MB upload took the
// server from 0.3 to 2.4 GB), with no bound on how far an archive may expand.
TEST(Jobs, UploadedArchivesStreamToDiskWithinTheirBounds) {
  testing::TempDir src;
  // 300 MB of zeros in one entry: a few hundred KB compressed.
  auto tar =
      run_subprocess({.argv = {"/usr/bin/python3", "-c",
                               "import io,tarfile,sys\n"
                               "class Zeros(io.RawIOBase):\n"
                               "  def __init__(s, n): s.n = n\n"
                               "  def readable(s): return True\n"
                               "  def readinto(s, b):\n"
                               "    k = min(len(b), s.n); b[:k] = bytes(k); s.n -= k; return k\n"
                               "t = tarfile.open(sys.argv[1], 'w:gz', compresslevel=1)\n"
                               "i = tarfile.TarInfo('zeros.bin'); i.size = 300 << 20\n"
                               "t.addfile(i, io.BufferedReader(Zeros(i.size)))\n"
                               "t.close()\n",
                               src.str() + "/bomb.tar.gz"}});
  ASSERT_TRUE(tar.ok() && tar->success()) << (tar.ok() ? tar->err : "");
  const auto archive = read_file(src.str() + "/bomb.tar.gz");
  ASSERT_TRUE(archive.ok());
  ASSERT_LT(archive->size(), 2u << 20);
  for (const bool bounded : {true, false}) {
    Platform p({"--set", std::string("datasets.upload_max_ratio=") + (bounded ? "100" : "0")});
    ASSERT_TRUE(p.server);
    p.project("lab", "up", {});
    const int64_t before = peak_rss_mib(p.server->pid());
    httplib::Client c("127.0.0.1", p.server->port());
    c.set_read_timeout(120, 0);
    auto r =
        c.Post("/api/v1/projects/up/datasets/zeros/archive",
               {{"Authorization", "Bearer " + p.server->token()}}, *archive, "application/gzip");
    ASSERT_TRUE(r);
    if (bounded) {
      // At most 100 times the archive (a small archive counts as 1 MiB): refused, and
      // nothing kept.
      EXPECT_EQ(r->status, 400) << r->body;
      EXPECT_NE(r->body.find("datasets.upload_max_ratio"), std::string::npos) << r->body;
      int status = 0;
      p.admin().call("GET", "/api/v1/projects/up/datasets/zeros", nullptr, &status);
      EXPECT_EQ(status, 404);
    } else {
      ASSERT_EQ(r->status, 201) << r->body;
      Json d = p.admin().call("GET", "/api/v1/projects/up/datasets/zeros");
      EXPECT_EQ(fs::file_size(d["path"].get<std::string>() + "/zeros.bin"), 300u << 20);
      // Unpacked through a 64 KiB buffer: the server grew by far less than the data.
      const int64_t after = peak_rss_mib(p.server->pid());
      EXPECT_LT(after - before, 100) << before << " MiB before, " << after << " after";
    }
    // Nothing of the refused or finished upload is left in a temporary folder.
    if (!fs::exists(p.data + "/datasets")) continue;
    for (const auto& e : fs::recursive_directory_iterator(p.data + "/datasets")) {
      EXPECT_EQ(e.path().filename().string().rfind(".upload-", 0), std::string::npos) << e.path();
    }
  }
}

// Issue 17, item 8: concurrent uploads under one name raced, and the loser's cleanup
// deleted the winner's files (19,811 of 20,000 left).
TEST(Jobs, ConcurrentUploadsOfOneNameLeaveTheWinnersFilesWhole) {
  testing::TempDir src;
  auto tar = run_subprocess(
      {.argv = {"/usr/bin/python3", "-c",
                "import io,tarfile,sys\n"
                "t = tarfile.open(sys.argv[1], 'w:gz')\n"
                "for i in range(5000):\n"
                "  d = b'%d\\n' % i; f = tarfile.TarInfo('f/%05d.txt' % i); f.size = len(d)\n"
                "  t.addfile(f, io.BytesIO(d))\n"
                "t.close()\n",
                src.str() + "/many.tar.gz"}});
  ASSERT_TRUE(tar.ok() && tar->success()) << (tar.ok() ? tar->err : "");
  const auto archive = read_file(src.str() + "/many.tar.gz");
  ASSERT_TRUE(archive.ok());
  Platform p({"--set", "server.threads=16"});
  ASSERT_TRUE(p.server);
  p.project("lab", "up", {});
  std::vector<int> codes(8, 0);
  std::vector<std::thread> uploads;
  for (size_t i = 0; i < codes.size(); ++i) {
    uploads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", p.server->port());
      c.set_read_timeout(120, 0);
      auto r =
          c.Post("/api/v1/projects/up/datasets/race/archive",
                 {{"Authorization", "Bearer " + p.server->token()}}, *archive, "application/gzip");
      codes[i] = r ? r->status : 0;
    });
  }
  for (auto& t : uploads) t.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 201), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 409), static_cast<long>(codes.size()) - 1);
  Json d = p.admin().call("GET", "/api/v1/projects/up/datasets/race");
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(d["path"].get<std::string>())) {
    files += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files, 5000u);
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
  EXPECT_EQ(status, 409) << "an ended job cannot be cancelled: a conflict with its state";
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
  // The preemption names the job it made room for by the platform's id, not the engine's
  // number for it.
  for (const auto& e : history["items"]) {
    if (e["reason"] != "Preempted") continue;
    const std::string message = e.value("message", "");
    EXPECT_NE(message.find("preempted for job " + hid), std::string::npos) << message;
  }
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

// Issue 17, item 4: jobs had no process limit (5,000 threads in a 256 MiB job; a bigger
// one could take every PID of the machine). And item 14: a job whose child was OOM-killed
// left its cgroup folders behind.
TEST(Jobs, AJobIsHeldToItsProcessLimitAndLeavesNoCgroupBehind) {
  Platform p({"--set", "jobs.max_pids=64"});
  ASSERT_TRUE(p.server);
  p.project("lab", "forks", {});
  Api admin = p.admin();
  Json nodes = admin.call("GET", "/api/v1/nodes");
  // 500 threads and processes asked for, at most 64 had at once.
  Json bomb =
      job("bomb",
          {"python3", "-c",
           "import threading, time\n"
           "threading.stack_size(65536)\n"
           "ts = []\n"
           "for i in range(500):\n"
           "    t = threading.Thread(target=time.sleep, args=(3,)); t.start(); ts.append(t)\n"
           "print('started', len(ts))\n"},
          0.2, 256);
  Json b = admin.call("POST", "/api/v1/projects/forks/jobs", bomb);
  auto done = wait_states(admin, "forks", {b["id"]}, kTerminal, 60s);
  const std::string log =
      admin.text("/api/v1/projects/forks/jobs/" + b["id"].get<std::string>() + "/logs");
  EXPECT_EQ(log.find("started 500"), std::string::npos) << log;
  EXPECT_EQ(done[b["id"]]["state"], "failed") << done[b["id"]].dump();
  if (nodes["items"][0]["cgroups"] != "none") {
    EXPECT_EQ(done[b["id"]]["reason"], "PidsLimit") << done[b["id"]].dump();
    EXPECT_NE(done[b["id"]]["message"].get<std::string>().find("jobs.max_pids"), std::string::npos)
        << done[b["id"]].dump();
  }
  // Below the limit a job runs as before.
  Json fine =
      job("fine", {"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; echo ok"});
  Json f = admin.call("POST", "/api/v1/projects/forks/jobs", fine);
  done = wait_states(admin, "forks", {f["id"]}, kTerminal, 60s);
  EXPECT_EQ(done[f["id"]]["state"], "succeeded") << done[f["id"]].dump();
  EXPECT_EQ(done[f["id"]]["message"], "") << done[f["id"]].dump();
  if (nodes["items"][0]["cgroups"] != "none") {
    // A job that meets the limit and succeeds anyway is told so.
    Json tolerant = job("tolerant",
                        {"python3", "-c",
                         "import threading, time\n"
                         "n = 0\n"
                         "try:\n"
                         "    for i in range(100):\n"
                         "        threading.Thread(target=time.sleep, args=(1,)).start(); n += 1\n"
                         "except RuntimeError:\n"
                         "    pass\n"
                         "print('started', n)\n"},
                        0.2, 256);
    Json t = admin.call("POST", "/api/v1/projects/forks/jobs", tolerant);
    done = wait_states(admin, "forks", {t["id"]}, kTerminal, 60s);
    EXPECT_EQ(done[t["id"]]["state"], "succeeded") << done[t["id"]].dump();
    EXPECT_NE(done[t["id"]]["message"].get<std::string>().find("refused at its limit of 64"),
              std::string::npos)
        << done[t["id"]].dump();
  }

  if (nodes["items"][0]["cgroups"] == "none") GTEST_SKIP() << "no cgroups here";
  // A child OOM-killed, the job goes on and ends: its groups go with it.
  Json child =
      job("child-oom", {"sh", "-c", "(head -c 400M /dev/zero | tail > /dev/null); echo survived"},
          0.1, 64);
  Json c = admin.call("POST", "/api/v1/projects/forks/jobs", child);
  const std::string run = c["id"].get<std::string>() + "-1";
  done = wait_states(admin, "forks", {c["id"]}, kTerminal, 60s);
  const std::string survived =
      admin.text("/api/v1/projects/forks/jobs/" + c["id"].get<std::string>() + "/logs");
  EXPECT_NE(survived.find("survived\n"), std::string::npos) << survived;
  auto spec = json::parse(*read_file(p.data + "/jobs/" + run + "/spec.json"));
  ASSERT_TRUE(spec.ok());
  ASSERT_FALSE((*spec)["cgroups"].empty());
  // Other jobs' polls retry a group the kernel was still emptying.
  Json later = admin.call("POST", "/api/v1/projects/forks/jobs", job("later", {"sleep", "1"}));
  wait_states(admin, "forks", {later["id"]}, kTerminal, 60s);
  for (const auto& g : (*spec)["cgroups"]) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = !fs::exists(g.get<std::string>());
      if (!gone) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(gone) << g.get<std::string>() << " left behind";
  }
}

// Issue 17, item 14: bubblewrap's arguments (host paths, environment values) were visible
// in ps on the machine and in the job's own /proc/1/cmdline.
TEST(Jobs, TheSandboxsArgumentsShowNeitherHostPathsNorEnvironmentValues) {
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  fs::create_directories(data_root.path() / "d");
  fs::permissions(data_root.path() / "d", fs::perms(0755));
  Platform p;
  ASSERT_TRUE(p.server);
  p.project("lab", "args", {});
  Api admin = p.admin();
  admin.call("POST", "/api/v1/projects/args/datasets",
             {{"name", "d"}, {"path", data_root.str() + "/d"}, {"security_level", "open"}});
  const std::string value = "v4lue-" + std::to_string(::getpid());
  Json j = job("show", {"sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $TOKEN; sleep 2"});
  j["env"] = {{"TOKEN", value}};
  j["datasets"] = {"d"};
  Json made = admin.call("POST", "/api/v1/projects/args/jobs", j);
  const std::string id = made["id"];
  wait_states(admin, "args", {id}, {"running", "succeeded", "failed"});
  // Every process on the machine, while the job runs.
  std::string seen;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto cmd = read_file(e.path().string() + "/cmdline");
    if (cmd.ok() && cmd->find(value) != std::string::npos) seen += e.path().string() + " ";
  }
  EXPECT_EQ(seen, "") << "the environment value is on a command line";
  auto done = wait_states(admin, "args", {id}, kTerminal);
  EXPECT_EQ(done[id]["state"], "succeeded") << done[id].dump();
  const std::string log = admin.text("/api/v1/projects/args/jobs/" + id + "/logs");
  EXPECT_NE(log.find(value), std::string::npos) << "the job has its environment: " << log;
  const std::string first_line = log.substr(0, log.find('\n'));
  EXPECT_EQ(first_line.find(value), std::string::npos) << first_line;
  EXPECT_EQ(first_line.find(data_root.str()), std::string::npos) << first_line;
  EXPECT_EQ(first_line.find(p.data), std::string::npos) << first_line;
  EXPECT_NE(first_line.find("tr"), std::string::npos) << "the command itself stays: " << first_line;
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
  p.project("lab", "dev", {}, {{"gpus", 1}});
  Api admin = p.admin();
  Api outsider = p.user("outsider");
  admin.call("PUT", "/api/v1/projects/dev/job-settings",
             {{"devenv_idle_s", 2}, {"queued_alert_s", 1}});
  Json env = {{"name", "notebook"},
              {"kind", "devenv"},
              {"strip_prefix", true},
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
  // The job says when it stops if left alone: within the idle limit from now (2 s), and
  // each request through the proxy pushes it back.
  auto idle_at = [&] {
    Json got = admin.call("GET", "/api/v1/projects/dev/jobs/" + id);
    return json::string_or(got, "idle_stop_at");
  };
  std::string first = idle_at();
  for (int i = 0; i < 50 && first.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    first = idle_at();
  }
  ASSERT_FALSE(first.empty()) << "a running dev environment says when it idles out";
  auto micros = [](const std::string& t) -> int64_t {
    auto w = parse_rfc3339(t);
    return w.ok() ? std::chrono::duration_cast<std::chrono::microseconds>(w->time_since_epoch())
                        .count()
                  : 0;
  };
  const int64_t first_us = micros(first);
  ASSERT_GT(first_us, 0) << first;
  const int64_t now_us = Clock::system().now_unix_ms() * 1000;
  EXPECT_GT(first_us, now_us - 1'000'000);
  EXPECT_LE(first_us, now_us + 2'000'000);
  std::this_thread::sleep_for(300ms);
  admin.text("/devenvs/" + id + "/index.html", &status);
  std::string later = first;
  for (int i = 0; i < 50 && later == first; ++i) {
    std::this_thread::sleep_for(20ms);
    later = idle_at();
  }
  EXPECT_GT(micros(later), first_us) << first << " then " << later;
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
  // Its owner was warned before it stopped; the job that waited past the project's
  // queued_alert_s (1 s) was reported once, with the scheduler's reason.
  std::vector<std::string> soon, waited, quota;
  const Json evs = admin.call("GET", "/api/v1/projects/dev/events?page_size=1000");
  for (const auto& e : evs["items"]) {
    if (e["reason"] == "IdleSoon") soon.push_back(json::string_or(e, "resource_name"));
    if (e["reason"] == "QuotaNearlyUsed") quota.push_back(json::string_or(e, "message"));
    if (e["reason"] == "QueuedTooLong") {
      waited.push_back(json::string_or(e, "resource_name"));
      EXPECT_NE(json::string_or(e, "message").find("the scheduler says: "), std::string::npos)
          << e.dump();
    }
  }
  EXPECT_EQ(soon, std::vector<std::string>{id});
  EXPECT_EQ(waited, std::vector<std::string>{g["id"].get<std::string>()});
  // The project's one GPU taken: told (again when the waiting job takes it, if the check
  // saw it free between).
  ASSERT_GE(quota.size(), 1u);
  EXPECT_NE(quota[0].find("hold 1.0 of its 1.0 GPUs (100%)"), std::string::npos) << quota[0];
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

// Issue 17, item 1: a devenv on a secret dataset served /data over HTTP, and any project
// member (a viewer, a project-scoped token) downloaded the raw files through the proxy.
TEST(Jobs, DevEnvironmentsMountOpenDataOnlyAndOnlyTheirOwnerReachesThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "the proxy joins the sandbox's network namespace (root)";
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  for (const char* d : {"secret", "sample"}) {
    fs::create_directories(data_root.path() / d);
    fs::permissions(data_root.path() / d, fs::perms(0755));
    ASSERT_TRUE(
        write_file(data_root.str() + "/" + d + "/file.txt", std::string(d) + "-bytes", 0644).ok());
  }
  Platform p;
  ASSERT_TRUE(p.server);
  for (const char* u : {"olga", "dev", "dev2", "viewer", "padm"}) p.user(u);
  p.project("lab", "env",
            {{"olga", "data-owner"},
             {"dev", "project-developer"},
             {"dev2", "project-developer"},
             {"viewer", "project-viewer"},
             {"padm", "project-admin"}});
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  Api olga = p.user("olga"), dev = p.user("dev"), dev2 = p.user("dev2"), viewer = p.user("viewer"),
      padm = p.user("padm");
  olga.call(
      "POST", "/api/v1/projects/env/datasets",
      {{"name", "secret"}, {"path", data_root.str() + "/secret"}, {"security_level", "secret"}});
  olga.call(
      "POST", "/api/v1/projects/env/datasets",
      {{"name", "sample"}, {"path", data_root.str() + "/sample"}, {"security_level", "open"}});
  auto env = [](const std::string& dataset) {
    return Json{
        {"name", "notebook"},
        {"kind", "devenv"},
        {"strip_prefix", true},
        {"datasets", {dataset}},
        {"command",
         {"sh", "-c", "cd /data && exec python3 -m http.server --bind 127.0.0.1 \"$JIZHAN_PORT\""}},
        {"resources", {{"cpu", 0.2}, {"memory_mib", 256}}}};
  };
  int status = 0;
  Json refused = dev.call("POST", "/api/v1/projects/env/jobs", env("secret"), &status);
  EXPECT_EQ(status, 403) << refused.dump();
  EXPECT_NE(refused.dump().find("open datasets only"), std::string::npos) << refused.dump();
  Json j = dev.call("POST", "/api/v1/projects/env/jobs", env("sample"), &status);
  ASSERT_EQ(status, 201) << j.dump();
  const std::string id = j["id"].get<std::string>();
  wait_states(dev, "env", {id}, {"running"});
  const std::string url = "/devenvs/" + id + "/sample/file.txt";
  std::string page;
  for (int i = 0; i < 100 && page != "sample-bytes"; ++i) {
    page = dev.text(url, &status);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(page, "sample-bytes") << "its owner reaches it";
  // Other members see the job, not its inside.
  for (Api* a : {&dev2, &viewer}) {
    const std::string body = a->text(url, &status);
    EXPECT_EQ(status, 403) << body;
    EXPECT_EQ(body.find("sample-bytes"), std::string::npos);
  }
  Json scoped = viewer.call("POST", "/api/v1/tokens", {{"name", "ci"}, {"project", "env"}});
  Api viewer_scoped(p.server->port(), scoped["token"].get<std::string>());
  viewer_scoped.text(url, &status);
  EXPECT_EQ(status, 403);
  // A project admin may, and is audited.
  EXPECT_EQ(padm.text(url, &status), "sample-bytes");
  EXPECT_EQ(status, 200);
  std::string audit;
  for (int i = 0; i < 100 && audit.find("\"proxy\"") == std::string::npos; ++i) {
    audit = admin.text("/api/v1/audit?format=jsonl");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(audit.find("\"proxy\""), std::string::npos) << audit;
  EXPECT_NE(audit.find(id), std::string::npos);
  dev.call("POST", "/api/v1/projects/env/jobs/" + id + "/cancel");
  wait_states(dev, "env", {id}, kTerminal);
}

}  // namespace
}  // namespace jz
