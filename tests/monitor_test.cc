// The node agent against real jobs: the local executor starts a job in its sandbox and
// control groups with the platform's labels; the agent (the real binary, with the fake
// NVML reporting the job's processes on a GPU) attributes their GPU memory to the job,
// user, project and workspace, with the job's CPU and memory from its group. A hostile
// job cannot rewrite the labels that decide whom its use is charged to.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "exec/executor.h"
#include "gpu/node.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The host pids whose cgroup puts them in `run` (under the executor's `name`).
std::vector<int64_t> pids_of(const std::string& name, const std::string& run) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) continue;
    const int64_t pid = std::stoll(n);
    if (gpu::run_of_pid(pid, name) == run) out.push_back(pid);
  }
  return out;
}

TEST(NodeAgent, AttributesARealJobsGpuUseToItsLabelsWhichTheJobCannotRewrite) {
  testing::TempDir dir;
  fs::permissions(dir.path(), fs::perms(0711));
  exec::LocalExecutorOptions o;
  o.jobs_dir = dir.str() + "/jobs";
  o.shim_binary = JZ_SHIM_BINARY;
  o.cgroup_name = "jizhan-monitor-test";
  auto e = exec::LocalExecutor::create(o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  if ((*e)->machine().cgroups == "none") GTEST_SKIP() << "no cgroups to attribute by here";
  exec::LaunchSpec spec;
  spec.job_id = "job_x-1";
  spec.memory_mib = 256;
  spec.labels = {{"job", "job_x"}, {"project", "vision"}, {"workspace", "lab"},
                 {"user", "ann"},  {"run", "job_x-1"},    {"gpu_memory_limit_mib", "4096"}};
  // The job tries every way to its labels it might think of, then waits.
  spec.command = {"/bin/sh", "-c",
                  "for p in /job/../labels.json /labels.json /output/../labels.json; do "
                  "echo '{\"project\":\"other\"}' > $p 2>/dev/null; done; exec sleep 30"};
  ASSERT_TRUE((*e)->launch(spec).ok());
  std::vector<int64_t> pids;
  for (int i = 0; i < 200 && pids.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    if ((*e)->poll(spec.job_id).phase != exec::JobStatus::Phase::kRunning) continue;
    pids = pids_of(o.cgroup_name, spec.job_id);
  }
  ASSERT_FALSE(pids.empty()) << "no process of the job found in its control group";
  std::this_thread::sleep_for(300ms);  // the job's writes are done (it sleeps by now)

  const std::string scenario = dir.str() + "/scenario";
  std::string text = "gpu uuid=GPU-aa used_mib=3000\n";
  for (int64_t p : pids)
    text += "process gpu=0 pid=" + std::to_string(p) + " used_mib=1000 sm=40\n";
  text += "process gpu=0 pid=999999 used_mib=7 sm=1\n";  // no job's
  ASSERT_TRUE(write_file(scenario, text).ok());
  SubprocessOptions so;
  so.argv = {JZ_AGENT_BINARY, "--once",      "--json",     "--nvml-library", JZ_FAKE_NVML,
             "--cgroup-name", o.cgroup_name, "--jobs-dir", o.jobs_dir};
  so.env = {{"FAKE_NVML_SCENARIO", scenario}};
  so.timeout = 30s;
  auto r = run_subprocess(so);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->exit_code, 0) << r->err;
  Json sample = Json::parse(r->out);
  int64_t attributed = 0;
  for (const auto& p : sample["processes"]) {
    if (p["run"] == spec.job_id) attributed += p["used_mib"].get<int64_t>();
    if (p["pid"] == 999999) {
      EXPECT_EQ(p["run"], "");
    }
  }
  EXPECT_EQ(attributed, 1000 * static_cast<int64_t>(pids.size()));
  bool found = false;
  for (const auto& j : sample["jobs"]) {
    if (j["run"] != spec.job_id) continue;
    found = true;
    EXPECT_EQ(j["labels"]["project"], "vision") << "the job rewrote its labels: " << j.dump();
    EXPECT_EQ(j["labels"]["user"], "ann");
    EXPECT_EQ(j["labels"]["workspace"], "lab");
    EXPECT_GT(j["memory_bytes"].get<int64_t>(), 0);
    EXPECT_EQ(j["memory_limit_bytes"], int64_t{256} << 20);
  }
  EXPECT_TRUE(found) << sample["jobs"].dump();
  EXPECT_EQ(Json::parse(*read_file(o.jobs_dir + "/job_x-1/labels.json"))["project"], "vision");

  // The Prometheus form names the job with its project, workspace and user.
  so.argv = {JZ_AGENT_BINARY, "--once",     "--nvml-library", JZ_FAKE_NVML, "--cgroup-name",
             o.cgroup_name,   "--jobs-dir", o.jobs_dir,       "--hostname", "node-1"};
  r = run_subprocess(so);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find(R"(Hostname="node-1",job="job_x",project="vision",workspace="lab",)"
                        R"(user="ann",run="job_x-1"} )" +
                        std::to_string(1000 * pids.size())),
            std::string::npos)
      << r->out;
  (*e)->terminate(spec.job_id, 1s);
  for (int i = 0; i < 100 && (*e)->poll(spec.job_id).phase != exec::JobStatus::Phase::kExited;
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  (*e)->release(spec.job_id);
}

}  // namespace
}  // namespace jz
