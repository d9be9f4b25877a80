// The local executor with real bubblewrap sandboxes, cgroups (where this machine lets us
// create them) and supervisors: exit codes, what a sandbox can and cannot reach, killing
// a whole process tree, OOM kills, and jobs that outlive the executor object.
#include "exec/executor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "logs/store.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz::exec {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<LocalExecutor> make(const std::string& dir) {
  // The sandbox user runs bubblewrap and must pass through the folders above its own.
  std::filesystem::permissions(dir, std::filesystem::perms(0711));
  LocalExecutorOptions o;
  o.jobs_dir = dir + "/jobs";
  o.shim_binary = JZ_SHIM_BINARY;
  o.cgroup_name = "jizhan-test";
  auto e = LocalExecutor::create(o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? std::move(*e) : nullptr;
}

JobStatus wait_exit(Executor& e, const std::string& id, std::chrono::milliseconds limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  JobStatus st;
  while (std::chrono::steady_clock::now() < until) {
    st = e.poll(id);
    if (st.phase == JobStatus::Phase::kExited || st.phase == JobStatus::Phase::kLost) return st;
    std::this_thread::sleep_for(20ms);
  }
  return st;
}

std::string log_of(Executor& e, const std::string& id) {
  auto r = logs::read_log_text(e.job_dir(id) + "/logs");
  return r.ok() ? *r : "";
}

LaunchSpec shell(const std::string& id, const std::string& script) {
  LaunchSpec s;
  s.job_id = id;
  s.command = {"/bin/bash", "-c", script};
  return s;
}

TEST(LocalExecutor, RunsACommandInASandboxAndRecordsHowItEnded) {
  testing::TempDir dir;
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  EXPECT_GE(e->machine().cpu_milli, 1000);
  EXPECT_GT(e->machine().memory_mib, 0);
  ASSERT_TRUE(e->launch(shell("ok",
                              "echo hello from $JIZHAN_JOB_ID; echo oops >&2; "
                              "echo result > /output/r.txt; exit 3"))
                  .ok());
  JobStatus st = wait_exit(*e, "ok");
  ASSERT_EQ(st.phase, JobStatus::Phase::kExited) << st.message;
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(log_of(*e, "ok"), "hello from ok\noops\n");
  EXPECT_EQ(*read_file(e->job_dir("ok") + "/output/r.txt"), "result\n");
  EXPECT_FALSE(e->launch(shell("ok", "true")).ok()) << "a job id runs once";
}

TEST(LocalExecutor, TheSandboxReachesOnlyWhatItIsGiven) {
  testing::TempDir dir;
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  const std::string data = dir.str() + "/dataset";
  std::filesystem::create_directories(data);
  ASSERT_TRUE(write_file(data + "/a.txt", "pixels").ok());
  ASSERT_TRUE(write_file(dir.str() + "/secret.db", "platform data").ok());
  testing::LoopbackListener outside;
  const std::string connect =
      "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(outside.port()) + " && echo connected";

  LaunchSpec s = shell("closed",
                       "cat /data/set/a.txt; echo; "
                       "(echo x > /data/set/a.txt) 2>/dev/null && echo wrote-dataset; "
                       "cat " +
                           dir.str() + "/secret.db 2>/dev/null && echo read-host; " + connect +
                           " 2>/dev/null; echo pid $$; true");
  s.read_only = {{data, "/data/set"}};
  ASSERT_TRUE(e->launch(s).ok());
  JobStatus st = wait_exit(*e, "closed");
  ASSERT_EQ(st.phase, JobStatus::Phase::kExited) << st.message;
  const std::string log = log_of(*e, "closed");
  EXPECT_NE(log.find("pixels"), std::string::npos) << log;
  EXPECT_EQ(log.find("wrote-dataset"), std::string::npos) << log;
  EXPECT_EQ(log.find("read-host"), std::string::npos) << log;
  EXPECT_EQ(log.find("connected"), std::string::npos) << log;
  EXPECT_NE(log.find("pid "), std::string::npos) << log;
  EXPECT_EQ(*read_file(data + "/a.txt"), "pixels");

  LaunchSpec open = shell("open", connect);
  open.network = Network::kEgress;
  ASSERT_TRUE(e->launch(open).ok());
  st = wait_exit(*e, "open");
  EXPECT_EQ(st.exit_code, 0) << log_of(*e, "open");
  EXPECT_NE(log_of(*e, "open").find("connected"), std::string::npos);
}

TEST(LocalExecutor, TerminateEndsTheWholeProcessTreeWithinTheGracePeriod) {
  testing::TempDir dir;
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  // Children in the background, one in a session of its own, all ignoring SIGTERM.
  ASSERT_TRUE(e->launch(shell("tree",
                              "trap '' TERM; sleep 86401 & setsid sleep 86401 & "
                              "(trap '' TERM; sleep 86401) & echo started; wait"))
                  .ok());
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (log_of(*e, "tree").find("started") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(e->poll("tree").phase, JobStatus::Phase::kRunning);
  const auto t0 = std::chrono::steady_clock::now();
  e->terminate("tree", 1s);
  JobStatus st = wait_exit(*e, "tree");
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(st.phase, JobStatus::Phase::kExited);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_LT(took, 5s);
  EXPECT_GE(took, 900ms) << "SIGKILL waits for the grace period";
  // Nothing of the job is left: no process in the machine runs its `sleep 86401` (a
  // duration no other test uses: tests run side by side, and one sleeps 1000).
  auto ps = run_subprocess({.argv = {"pgrep", "-f", "^sleep 86401$"}});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "") << "left behind: " << ps->out;
  e->release("tree");
}

TEST(LocalExecutor, MemoryLimitKillsAreReportedAsOom) {
  testing::TempDir dir;
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  if (e->machine().cgroups == "none") GTEST_SKIP() << "no writable cgroups on this machine";
  LaunchSpec s = shell("oom", "head -c 400M /dev/zero | tail > /dev/null");
  s.memory_mib = 64;
  ASSERT_TRUE(e->launch(s).ok());
  JobStatus st = wait_exit(*e, "oom", 60s);
  ASSERT_EQ(st.phase, JobStatus::Phase::kExited) << st.message << log_of(*e, "oom");
  EXPECT_NE(st.exit_code, 0);
  EXPECT_TRUE(st.oom_killed) << "exit " << st.exit_code << " signal " << st.signal;
  e->release("oom");
}

// Issue 17, item 14: a job whose child was OOM-killed left its cgroup folders behind: a
// process still in a group when the job ends (one the kernel is still tearing down, or a
// stray) makes rmdir fail, and the folder stayed for good.
TEST(LocalExecutor, ReleaseRemovesGroupsThatStillHoldAProcess) {
  testing::TempDir dir;
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  if (e->machine().cgroups == "none") GTEST_SKIP() << "no cgroups here";
  LaunchSpec s = shell("stray", "true");
  s.memory_mib = 64;
  s.max_pids = 16;
  ASSERT_TRUE(e->launch(s).ok());
  ASSERT_EQ(wait_exit(*e, "stray").phase, JobStatus::Phase::kExited);
  auto spec = json::parse(*read_file(e->job_dir("stray") + "/spec.json"));
  ASSERT_TRUE(spec.ok());
  ASSERT_FALSE((*spec)["cgroups"].empty());
  // A process left in the job's groups.
  auto child = Child::spawn({.argv = {"/bin/sleep", "100"}});
  ASSERT_TRUE(child.ok());
  for (const auto& g : (*spec)["cgroups"]) {
    std::ofstream procs(g.get<std::string>() + "/cgroup.procs");
    procs << child->pid() << std::flush;
    ASSERT_TRUE(procs) << g;
  }
  e->release("stray");
  for (const auto& g : (*spec)["cgroups"]) {
    EXPECT_FALSE(std::filesystem::exists(g.get<std::string>())) << g << " left behind";
  }
}

TEST(LocalExecutor, JobsOutliveTheExecutorAndAreFoundAgain) {
  testing::TempDir dir;
  {
    auto e = make(dir.str());
    ASSERT_TRUE(e);
    ASSERT_TRUE(e->launch(shell("later", "sleep 1; exit 5")).ok());
    ASSERT_TRUE(e->launch(shell("killed", "sleep 1000")).ok());
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (e->poll("killed").phase != JobStatus::Phase::kRunning &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
  }
  auto e = make(dir.str());
  ASSERT_TRUE(e);
  EXPECT_NE(e->poll("later").phase, JobStatus::Phase::kLost);
  JobStatus st = wait_exit(*e, "later");
  EXPECT_EQ(st.phase, JobStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 5);
  // A supervisor that dies (the machine's OOM killer, an operator) takes its sandbox
  // with it and the job is lost, with a reason.
  auto shim = read_file(e->job_dir("killed") + "/shim.json");
  ASSERT_TRUE(shim.ok());
  const int pid = static_cast<int>(Json::parse(*shim)["pid"].get<int64_t>());
  ::kill(pid, SIGKILL);
  st = wait_exit(*e, "killed");
  EXPECT_EQ(st.phase, JobStatus::Phase::kLost);
  EXPECT_NE(st.message.find("supervisor"), std::string::npos) << st.message;
  EXPECT_EQ(e->poll("never").phase, JobStatus::Phase::kLost);
}

}  // namespace
}  // namespace jz::exec
