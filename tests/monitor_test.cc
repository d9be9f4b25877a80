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
#include "tests/support/platform_fixture.h"
#include "tests/support/server_process.h"
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

// The server runs the agent (the fake NVML's scenario rewritten as the test goes): a job's
// GPU use reaches its resources (its project's people only), every GPU's series reach the
// dashboard, and a GPU that reports XID 79 or 48 leaves placement, with events.
TEST(GpuMonitoring, JobsSeeTheirGpuUseAndAFailingGpuLeavesPlacement) {
  testing::TempDir sc;
  const std::string scenario = sc.str() + "/scenario";
  const std::string gpus = "gpu uuid=GPU-fake-0000-0 util=10\ngpu uuid=GPU-fake-0000-1 util=20\n";
  ASSERT_TRUE(write_file(scenario, gpus).ok());
  Platform p({"--set", std::string("exec.nvml_library=") + JZ_FAKE_NVML, "--set",
              "monitoring.interval_ms=200", "--set", "monitoring.training_idle_s=1"},
             {{"FAKE_NVML_SCENARIO", scenario}});
  ASSERT_TRUE(p.server);
  for (const char* u : {"dev", "viewer", "stranger", "olga"}) p.user(u);
  p.project("lab", "vision",
            {{"dev", "project-developer"}, {"viewer", "project-viewer"}, {"olga", "data-owner"}});
  p.project("other", "elsewhere", {{"stranger", "project-developer"}});
  Api dev = p.user("dev"), viewer = p.user("viewer"), stranger = p.user("stranger"),
      olga = p.user("olga"), admin = p.admin();
  auto rewrite = [&](const std::string& text) {
    const std::string tmp = scenario + ".new";
    ASSERT_TRUE(write_file(tmp, text).ok());
    fs::rename(tmp, scenario);
  };

  Json a = job("a", {"sh", "-c", "echo $CUDA_VISIBLE_DEVICES; exec sleep 120"});
  a["resources"]["gpus"] = 1;
  const std::string id = dev.call("POST", "/api/v1/projects/vision/jobs", a)["id"];
  const std::string path = "/api/v1/projects/vision/jobs/" + id;
  std::string uuid;
  for (int i = 0; i < 300 && uuid.empty(); ++i) {
    uuid = dev.text(path + "/logs");
    if (uuid.empty()) std::this_thread::sleep_for(50ms);
  }
  while (!uuid.empty() && uuid.back() == '\n') uuid.pop_back();
  ASSERT_EQ(uuid.rfind("GPU-fake-0000-", 0), 0u) << uuid;
  const std::string index = uuid.substr(uuid.size() - 1);
  std::vector<int64_t> pids;
  for (int i = 0; i < 100 && pids.empty(); ++i) {
    pids = pids_of("jizhan", id + "-1");
    if (pids.empty()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(pids.empty());
  rewrite(gpus + "process gpu=" + index + " pid=" + std::to_string(pids[0]) +
          " used_mib=2048 sm=60\nprocess gpu=" + index + " pid=999999 used_mib=5 sm=1\n");

  // The job's resources show its own processes' use, not the stranger process's.
  auto latest = [&](const Json& r, const std::string& metric) -> double {
    for (const auto& s : r["series"]) {
      if (s["metric"] == metric && !s["points"].empty()) return s["points"].back()[1];
    }
    return -1;
  };
  Json res;
  for (int i = 0; i < 200; ++i) {
    res = dev.call("GET", path + "/resources?range=1m&step=1s");
    if (latest(res, "jizhan_job_gpu_memory_used_mib") == 2048) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(latest(res, "jizhan_job_gpu_memory_used_mib"), 2048) << res.dump();
  EXPECT_EQ(latest(res, "jizhan_job_gpu_util"), 60);
  EXPECT_GE(latest(res, "jizhan_job_memory_bytes"), 0);
  // The project's use, by user: the job's, under its user.
  Json proj;
  for (int i = 0; i < 100; ++i) {
    proj = viewer.call("GET", "/api/v1/projects/vision/resources?range=1m&step=1s");
    if (latest(proj, "jizhan_job_gpu_memory_used_mib") == 2048) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(latest(proj, "jizhan_job_gpu_memory_used_mib"), 2048) << proj.dump();
  EXPECT_EQ(proj["series"][0]["labels"]["user"], "dev") << proj.dump();
  int status = 0;
  stranger.call("GET", "/api/v1/projects/vision/resources?range=1m", nullptr, &status);
  EXPECT_EQ(status, 404) << "another tenant sees nothing of the project's use";
  viewer.call("GET", path + "/resources?range=1m", nullptr, &status);
  EXPECT_EQ(status, 200) << "a viewer of the project sees its jobs' resources";
  stranger.call("GET", path + "/resources?range=1m", nullptr, &status);
  EXPECT_EQ(status, 404) << "another tenant's developer sees nothing of them";
  stranger.call("GET", "/api/v1/projects/vision/jobs/" + id + "/resources?range=5y", nullptr,
                &status);
  EXPECT_EQ(status, 404);
  dev.call("GET", path + "/resources?range=1h&step=100ms", nullptr, &status);
  EXPECT_EQ(status, 400) << "a step under a second";

  // A job on secret data: its developer sees its use per minute and rounded, its data
  // owner as it is.
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  fs::create_directories(data_root.path() / "faces");
  ASSERT_TRUE(write_file(data_root.str() + "/faces/f.txt", "secret").ok());
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  admin.call(
      "POST", "/api/v1/projects/vision/datasets",
      {{"name", "faces"}, {"path", data_root.str() + "/faces"}, {"security_level", "secret"}});
  Json secret = job("s", {"sh", "-c", "exec sleep 120"});
  secret["datasets"] = {"faces"};
  const std::string sid = dev.call("POST", "/api/v1/projects/vision/jobs", secret)["id"];
  const std::string spath = "/api/v1/projects/vision/jobs/" + sid + "/resources?range=10m&step=1s";
  Json coarse, fine;
  for (int i = 0; i < 200; ++i) {
    fine = olga.call("GET", spath);
    if (latest(fine, "jizhan_job_memory_bytes") > 0) break;
    std::this_thread::sleep_for(100ms);
  }
  coarse = dev.call("GET", spath);
  EXPECT_EQ(coarse["step_s"], 60) << coarse.dump();
  EXPECT_TRUE(coarse.contains("coarse"));
  for (const auto& sr : coarse["series"]) {
    for (const auto& pt : sr["points"]) {
      if (sr["metric"] == "jizhan_job_memory_bytes") {
        EXPECT_EQ(pt[1].get<double>(), 0.0);
      }
    }
  }
  EXPECT_EQ(fine["step_s"], 1) << "the data's owner sees every second";
  EXPECT_FALSE(fine.contains("coarse"));
  EXPECT_GT(latest(fine, "jizhan_job_memory_bytes"), 0) << fine.dump();
  dev.call("POST", "/api/v1/projects/vision/jobs/" + sid + "/cancel");

  // The dashboard: every GPU's series; /nodes: the live readings.
  Json dash = dev.call("GET", "/api/v1/monitoring/gpus?metric=utilization&range=1m&step=1s");
  ASSERT_EQ(dash["series"].size(), 2u) << dash.dump();
  EXPECT_EQ(dash["series"][1]["labels"]["UUID"], "GPU-fake-0000-1");
  EXPECT_EQ(dash["series"][1]["points"].back()[1], 20);
  dev.call("GET", "/api/v1/monitoring/gpus?metric=fan", nullptr, &status);
  EXPECT_EQ(status, 400);
  Json nodes = dev.call("GET", "/api/v1/nodes");
  EXPECT_EQ(nodes["items"][0]["monitoring"]["agent"], "ok") << nodes.dump();
  EXPECT_EQ(nodes["items"][0]["gpus"][1]["live"]["gpu_util"], 20);

  // A job that holds a GPU and uses none of it: its owner hears of it, once.
  Json idle = job("idle", {"sleep", "120"});
  idle["resources"]["gpus"] = 1;
  const std::string iid = dev.call("POST", "/api/v1/projects/vision/jobs", idle)["id"];
  int told_idle = 0;
  for (int i = 0; i < 300 && told_idle == 0; ++i) {
    Json evs = dev.call("GET", "/api/v1/projects/vision/events");
    for (const auto& e : evs["items"]) {
      if (e["reason"] == "GpuIdle" && e["resource_name"] == iid) ++told_idle;
    }
    if (told_idle == 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(told_idle, 1) << "a job holding an idle GPU raises one GpuIdle event";
  dev.call("POST", "/api/v1/projects/vision/jobs/" + iid + "/cancel");
  wait_states(dev, "vision", {iid}, kTerminal);

  // XID 79 on the job's GPU and 48 on the other: both leave placement; the job hears of it.
  const std::string other = index == "0" ? "1" : "0";
  rewrite(gpus + "xid gpu=" + index + " code=79\nxid gpu=" + other + " code=48\n");
  bool out = false;
  for (int i = 0; i < 200 && !out; ++i) {
    nodes = admin.call("GET", "/api/v1/nodes");
    out = nodes["items"][0]["gpus"][0]["healthy"] == false &&
          nodes["items"][0]["gpus"][1]["healthy"] == false;
    if (!out) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(out) << nodes.dump();
  EXPECT_EQ(nodes["items"][0]["gpus"][std::stoi(index)]["unhealthy_reason"], "XID 79");
  Json events = dev.call("GET", "/api/v1/projects/vision/events");
  bool told = false;
  for (const auto& e : events["items"]) {
    if (e["reason"] == "GpuUnhealthy" && e["resource_name"] == id) told = true;
  }
  EXPECT_TRUE(told) << events.dump();
  Json other_events = stranger.call("GET", "/api/v1/projects/elsewhere/events");
  for (const auto& e : other_events["items"]) EXPECT_NE(e["reason"], "GpuUnhealthy");
  // A new GPU job waits: one GPU is held, the other out of service.
  Json b = job("b", {"true"});
  b["resources"]["gpus"] = 1;
  const std::string bid = dev.call("POST", "/api/v1/projects/vision/jobs", b)["id"];
  std::this_thread::sleep_for(1500ms);
  Json bj = dev.call("GET", "/api/v1/projects/vision/jobs/" + bid);
  EXPECT_EQ(bj["state"], "queued") << bj.dump();
  dev.call("POST", path + "/cancel");
  dev.call("POST", "/api/v1/projects/vision/jobs/" + bid + "/cancel");
}

// The issue's attribution case: two jobs sharing one GPU (half of it each) and one holding
// the other whole. Each job sees its own processes' use against its limit; the project's
// sum by job and by user is the scenario's; metering charges a share half a GPU and the
// project's total is the sum of its jobs'.
TEST(GpuMonitoring, TwoSharesOnOneGpuAndAWholeGpuAreEachAttributedAndMetered) {
  testing::TempDir sc;
  const std::string scenario = sc.str() + "/scenario";
  const std::string gpus =
      "gpu uuid=GPU-fake-0000-0 memory_mib=40000 util=0\n"
      "gpu uuid=GPU-fake-0000-1 memory_mib=40000 util=0\n";
  ASSERT_TRUE(write_file(scenario, gpus).ok());
  Platform p({"--set", std::string("exec.nvml_library=") + JZ_FAKE_NVML, "--set",
              "monitoring.interval_ms=200"},
             {{"FAKE_NVML_SCENARIO", scenario}});
  ASSERT_TRUE(p.server);
  p.user("dev");
  p.user("ann");
  p.project("lab", "vision", {{"dev", "project-developer"}, {"ann", "project-developer"}});
  Api dev = p.user("dev"), ann = p.user("ann");

  // Two halves (dev's and ann's) and a whole GPU (dev's).
  struct Run {
    std::string id, uuid;
    std::vector<int64_t> pids;
    int used_mib, sm;
  };
  std::vector<Run> runs(3);
  const std::vector<std::pair<Api*, double>> asks = {{&dev, 0.5}, {&ann, 0.5}, {&dev, 1}};
  for (size_t i = 0; i < runs.size(); ++i) {
    Json spec =
        job("j" + std::to_string(i), {"sh", "-c", "echo $CUDA_VISIBLE_DEVICES; exec sleep 120"});
    spec["resources"]["gpus"] = asks[i].second;
    runs[i].id = asks[i].first->call("POST", "/api/v1/projects/vision/jobs", spec)["id"];
  }
  for (auto& r : runs) {
    const std::string path = "/api/v1/projects/vision/jobs/" + r.id;
    for (int i = 0; i < 300 && r.uuid.empty(); ++i) {
      r.uuid = dev.text(path + "/logs");
      if (r.uuid.empty()) std::this_thread::sleep_for(50ms);
    }
    while (!r.uuid.empty() && r.uuid.back() == '\n') r.uuid.pop_back();
    ASSERT_EQ(r.uuid.rfind("GPU-fake-0000-", 0), 0u) << r.uuid;
    for (int i = 0; i < 100 && r.pids.empty(); ++i) {
      r.pids = pids_of("jizhan", r.id + "-1");
      if (r.pids.empty()) std::this_thread::sleep_for(50ms);
    }
    ASSERT_FALSE(r.pids.empty());
  }
  ASSERT_EQ(runs[0].uuid, runs[1].uuid) << "the two halves share one GPU";
  ASSERT_NE(runs[0].uuid, runs[2].uuid) << "the whole GPU is the other one";
  runs[0].used_mib = 3000, runs[0].sm = 30;
  runs[1].used_mib = 5000, runs[1].sm = 25;
  runs[2].used_mib = 20000, runs[2].sm = 90;
  std::string text = gpus;
  for (const auto& r : runs) {
    text += "process gpu=" + r.uuid.substr(r.uuid.size() - 1) +
            " pid=" + std::to_string(r.pids[0]) + " used_mib=" + std::to_string(r.used_mib) +
            " sm=" + std::to_string(r.sm) + "\n";
  }
  ASSERT_TRUE(write_file(scenario + ".new", text).ok());
  fs::rename(scenario + ".new", scenario);

  auto latest = [](const Json& res, const std::string& metric, const std::string& key = "",
                   const std::string& value = "") -> double {
    for (const auto& s : res["series"]) {
      if (s["metric"] != metric || s["points"].empty()) continue;
      if (!key.empty() && s["labels"].value(key, "") != value) continue;
      return s["points"].back()[1];
    }
    return -1;
  };
  // Each job: its own use, and its limit.
  for (const auto& r : runs) {
    const std::string path = "/api/v1/projects/vision/jobs/" + r.id + "/resources?range=1m&step=1s";
    Json res;
    for (int i = 0; i < 200; ++i) {
      res = dev.call("GET", path);
      // Both series of the sample (they arrive as separate points: wait for each).
      if (latest(res, "jizhan_job_gpu_memory_used_mib") == r.used_mib &&
          latest(res, "jizhan_job_gpu_util") == r.sm)
        break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(latest(res, "jizhan_job_gpu_memory_used_mib"), r.used_mib) << res.dump();
    EXPECT_EQ(latest(res, "jizhan_job_gpu_util"), r.sm) << res.dump();
    const bool share = &r != &runs[2];
    EXPECT_EQ(res["gpu_limits"]["share"], share) << res.dump();
    EXPECT_EQ(res["gpu_limits"]["memory_mib"], share ? 20000 : 40000) << res.dump();
    EXPECT_EQ(res["gpu_limits"]["cores_percent"], share ? 50 : 100) << res.dump();
  }
  // The project's sums: by job, each job's; by user, dev's two jobs together.
  Json by_job = ann.call("GET", "/api/v1/projects/vision/resources?range=1m&step=1s&by=job");
  for (const auto& r : runs) {
    EXPECT_EQ(latest(by_job, "jizhan_job_gpu_memory_used_mib", "job", r.id), r.used_mib)
        << by_job.dump();
  }
  Json by_user = ann.call("GET", "/api/v1/projects/vision/resources?range=1m&step=1s");
  EXPECT_EQ(latest(by_user, "jizhan_job_gpu_memory_used_mib", "user", "dev"),
            runs[0].used_mib + runs[2].used_mib)
      << by_user.dump();
  EXPECT_EQ(latest(by_user, "jizhan_job_gpu_util", "user", "dev"), runs[0].sm + runs[2].sm);
  EXPECT_EQ(latest(by_user, "jizhan_job_gpu_memory_used_mib", "user", "ann"), runs[1].used_mib);

  // Metering, once they ended: a share is half a GPU for as long as it held it (against
  // its 0.1 core over the same time: GPU-hours 5 times its core-hours, 10 for a whole
  // GPU); the project is the sum of its jobs.
  for (const auto& r : runs) dev.call("POST", "/api/v1/projects/vision/jobs/" + r.id + "/cancel");
  wait_states(dev, "vision", {runs[0].id, runs[1].id, runs[2].id}, kTerminal);
  Json jobs = dev.call("GET", "/api/v1/usage?by=job");
  ASSERT_EQ(jobs["rows"].size(), 3u) << jobs.dump();
  double gpu_sum = 0, cpu_sum = 0;
  for (const auto& row : jobs["rows"]) {
    const bool whole = row["job"] == runs[2].id;
    const double gpu = row["gpu_hours"], cpu = row["cpu_core_hours"];
    EXPECT_GT(cpu, 0);
    EXPECT_NEAR(gpu / cpu, whole ? 10.0 : 5.0, 1e-9) << row.dump();
    EXPECT_NEAR(row["gpu_memory_gib_hours"].get<double>() / cpu,
                (whole ? 40000.0 : 20000.0) / 1024 / 0.1, 1e-6)
        << row.dump();
    gpu_sum += gpu;
    cpu_sum += cpu;
  }
  Json project = dev.call("GET", "/api/v1/usage?by=project");
  ASSERT_EQ(project["rows"].size(), 1u);
  EXPECT_NEAR(project["rows"][0]["gpu_hours"].get<double>(), gpu_sum, 1e-12);
  EXPECT_NEAR(project["rows"][0]["cpu_core_hours"].get<double>(), cpu_sum, 1e-12);
  Json users = dev.call("GET", "/api/v1/usage?by=user");
  ASSERT_EQ(users["rows"].size(), 2u) << users.dump();
  EXPECT_NEAR(
      users["rows"][0]["gpu_hours"].get<double>() + users["rows"][1]["gpu_hours"].get<double>(),
      gpu_sum, 1e-12);
}

// A GPU share runs held to its limits (gpu/vgpu): its sandbox preloads the vGPU library
// from /etc/ld.so.preload with the limits in /etc/jizhan/vgpu.conf, both read-only; a
// program there that asks the (fake) driver for memory sees its share, and cannot take
// more.
TEST(Vgpu, AShareJobRunsHeldToItsLimitsInsideItsSandbox) {
  Platform p({"--set", "exec.virtual_gpus=1", "--set", "exec.virtual_gpu_memory_mib=8192", "--set",
              std::string("exec.cuda_driver=") + JZ_FAKE_CUDA});
  ASSERT_TRUE(p.server);
  p.user("dev");
  p.project("lab", "vision", {{"dev", "project-developer"}});
  Api dev = p.user("dev");
  const std::string script =
      "import ctypes\n"
      "c = ctypes.CDLL('libcuda.so.1')\n"
      "c.cuInit(0)\n"
      "ctx = ctypes.c_void_p()\n"
      "c.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0)\n"
      "c.cuCtxSetCurrent(ctx)\n"
      "f, t = ctypes.c_size_t(), ctypes.c_size_t()\n"
      "c.cuMemGetInfo_v2(ctypes.byref(f), ctypes.byref(t))\n"
      "p = ctypes.c_ulonglong()\n"
      "print('total', t.value)\n"
      "print('over', c.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(t.value + 1)))\n"
      "print('within', c.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(t.value // 2)))\n"
      "print('preloaded', 'libjzvgpu' in open('/proc/self/maps').read())\n"
      "try:\n"
      "    open('/etc/jizhan/vgpu.conf', 'a')\n"
      "    print('writable', True)\n"
      "except OSError:\n"
      "    print('writable', False)\n";
  Json spec = job("share", {"python3", "-c", script});
  spec["resources"]["gpus"] = 0.5;
  const std::string id = dev.call("POST", "/api/v1/projects/vision/jobs", spec)["id"];
  auto done = wait_states(dev, "vision", {id}, kTerminal);
  const std::string log = dev.text("/api/v1/projects/vision/jobs/" + id + "/logs");
  EXPECT_EQ(done[id]["state"], "succeeded") << log;
  EXPECT_NE(log.find("total 4294967296\n"), std::string::npos) << "half of 8 GiB\n" << log;
  EXPECT_NE(log.find("over 2\n"), std::string::npos) << log;
  EXPECT_NE(log.find("within 0\n"), std::string::npos) << log;
  EXPECT_NE(log.find("preloaded True\n"), std::string::npos) << log;
  EXPECT_NE(log.find("writable False\n"), std::string::npos) << log;

  // A whole GPU is not limited: the same program sees the device.
  Json whole = job("whole", {"python3", "-c", script});
  whole["resources"]["gpus"] = 1;
  const std::string wid = dev.call("POST", "/api/v1/projects/vision/jobs", whole)["id"];
  wait_states(dev, "vision", {wid}, kTerminal);
  const std::string wlog = dev.text("/api/v1/projects/vision/jobs/" + wid + "/logs");
  EXPECT_NE(wlog.find("preloaded False\n"), std::string::npos) << wlog;
  EXPECT_NE(wlog.find("total 17179869184\n"), std::string::npos) << wlog;
}

// A real Prometheus (Debian's) scrapes the server's agent (with its token) and the server;
// it holds the scenario's values under dcgm-exporter's names, and the platform's own
// series; promtool finds nothing to fix in the server's /metrics.
TEST(GpuMonitoring, PrometheusScrapesTheAgentAndTheServer) {
  if (::system("command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1") !=
      0) {
    GTEST_SKIP() << "prometheus is not installed (make test installs Debian's)";
  }
  testing::TempDir dir;
  const std::string scenario = dir.str() + "/scenario";
  ASSERT_TRUE(write_file(scenario, "gpu uuid=GPU-fake-0000-0 util=42 temp=51\n").ok());
  Platform p({"--set", std::string("exec.nvml_library=") + JZ_FAKE_NVML, "--set",
              "monitoring.interval_ms=200"},
             {{"FAKE_NVML_SCENARIO", scenario}});
  ASSERT_TRUE(p.server);
  std::string agent_port;
  for (int i = 0; i < 100 && agent_port.empty(); ++i) {
    auto port = read_file(p.data + "/monitor/agent-port");
    if (port.ok()) agent_port = port->substr(0, port->find('\n'));
    if (agent_port.empty()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(agent_port.empty()) << "the server started no agent";
  const int prom_port = testing::free_port();
  ASSERT_TRUE(write_file(dir.str() + "/prometheus.yml",
                         "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                         "scrape_configs:\n"
                         "  - job_name: jizhan-agent\n"
                         "    honor_labels: true\n"
                         "    authorization: {credentials_file: " +
                             p.data +
                             "/monitor/agent-token}\n"
                             "    static_configs: [{targets: ['127.0.0.1:" +
                             agent_port +
                             "']}]\n"
                             "  - job_name: jizhan-server\n"
                             "    static_configs: [{targets: ['127.0.0.1:" +
                             std::to_string(p.server->port()) + "']}]\n")
                  .ok());
  SubprocessOptions so;
  so.argv = {"prometheus", "--config.file=" + dir.str() + "/prometheus.yml",
             "--storage.tsdb.path=" + dir.str() + "/tsdb",
             "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)};
  so.output_file = dir.str() + "/prometheus.log";
  auto prom = Child::spawn(so);
  ASSERT_TRUE(prom.ok()) << prom.status().to_string();
  httplib::Client c("127.0.0.1", prom_port);
  auto value = [&](const std::string& query) -> std::string {
    auto r = c.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
    if (!r || r->status != 200) return "";
    Json j = Json::parse(r->body, nullptr, false);
    if (!j.is_object() || j["data"]["result"].empty()) return "";
    return j["data"]["result"][0]["value"][1].get<std::string>();
  };
  std::string util, total, up;
  for (int i = 0; i < 300 && (util.empty() || total.empty()); ++i) {
    util =
        value(R"(DCGM_FI_DEV_GPU_UTIL{UUID="GPU-fake-0000-0",modelName="NVIDIA H100 80GB HBM3"})");
    total = value(R"(jizhan_gpus{state="total",job="jizhan-server"})");
    if (util.empty() || total.empty()) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(util, "42") << read_file(dir.str() + "/prometheus.log").value_or("");
  EXPECT_EQ(total, "1");
  EXPECT_EQ(value(R"(up{job="jizhan-agent"})"), "1");
  EXPECT_EQ(value(R"(DCGM_FI_DEV_GPU_TEMP{gpu="0"})"), "51");

  // A server reading its charts from this Prometheus answers with the scenario's values.
  Platform reader(
      {"--set", "monitoring.prometheus_url=http://127.0.0.1:" + std::to_string(prom_port)});
  ASSERT_TRUE(reader.server);
  Json charts;
  for (int i = 0; i < 100; ++i) {  // until a scrape lies inside the range's steps
    charts =
        reader.admin().call("GET", "/api/v1/monitoring/gpus?metric=utilization&range=2m&step=2s");
    if (!charts["series"].empty() && !charts["series"][0]["points"].empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(charts["source"], "prometheus");
  ASSERT_EQ(charts["series"].size(), 1u) << charts.dump();
  EXPECT_EQ(charts["series"][0]["labels"]["UUID"], "GPU-fake-0000-0");
  ASSERT_FALSE(charts["series"][0]["points"].empty());
  EXPECT_EQ(charts["series"][0]["points"].back()[1], 42.0);
  Json temps = reader.admin().call(
      "GET", "/api/v1/monitoring/gpus?metric=temperature&range=2m&step=2s&agg=max");
  ASSERT_EQ(temps["series"].size(), 1u);
  EXPECT_EQ(temps["series"][0]["points"].back()[1], 51.0);

  // promtool: the server's exposition as it is.
  auto metrics = httplib::Client("127.0.0.1", p.server->port()).Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  SubprocessOptions check;
  check.argv = {"promtool", "check", "metrics"};
  check.stdin_data = metrics->body;
  check.timeout = 30s;
  auto r = run_subprocess(check);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
}

// Usage from the job history through the API and the CLI: a project's GPU job is metered
// and priced; another tenant sees none of it, asked for it by name or not.
TEST(Metering, UsageReachesThoseWhoSeeTheProjectOnlyAndTheCliPrintsIt) {
  Platform p({"--set", "exec.virtual_gpus=2", "--set", "metering.prices=default: gpu=3, cpu=0.5"});
  ASSERT_TRUE(p.server);
  for (const char* u : {"dev", "stranger"}) p.user(u);
  p.project("lab", "vision", {{"dev", "project-developer"}});
  p.project("other", "elsewhere", {{"stranger", "project-developer"}});
  Api dev = p.user("dev"), stranger = p.user("stranger"), admin = p.admin();
  Json spec = job("metered", {"sleep", "1"}, 1);
  spec["resources"]["gpus"] = 1;
  const std::string id = dev.call("POST", "/api/v1/projects/vision/jobs", spec)["id"];
  EXPECT_EQ(wait_states(dev, "vision", {id}, kTerminal)[id]["state"], "succeeded");

  Json mine = dev.call("GET", "/api/v1/usage?by=project,user");
  ASSERT_EQ(mine["rows"].size(), 1u) << mine.dump();
  const Json& row = mine["rows"][0];
  EXPECT_EQ(row["project"], "vision");
  EXPECT_EQ(row["user"], "dev");
  // About a second of one GPU and one core: 1/3600 GPU-hours, and its price.
  EXPECT_GT(row["gpu_hours"].get<double>(), 0.8 / 3600);
  EXPECT_LT(row["gpu_hours"].get<double>(), 30.0 / 3600);
  EXPECT_NEAR(row["cost"].get<double>(),
              row["gpu_hours"].get<double>() * 3 + row["cpu_core_hours"].get<double>() * 0.5, 1e-6);
  EXPECT_EQ(mine["currency"], "CNY");
  Json all = admin.call("GET", "/api/v1/usage?by=job");
  ASSERT_EQ(all["rows"].size(), 1u);
  EXPECT_EQ(all["rows"][0]["job"], id);
  // Another tenant: nothing, even by the project's name.
  Json theirs = stranger.call("GET", "/api/v1/usage?by=project");
  EXPECT_TRUE(theirs["rows"].empty()) << theirs.dump();
  Json named = stranger.call("GET", "/api/v1/usage?by=job&project=vision");
  EXPECT_TRUE(named["rows"].empty()) << named.dump();
  EXPECT_EQ(named["total"]["gpu_hours"], 0.0);
  int status = 0;
  dev.call("GET", "/api/v1/usage?by=colour", nullptr, &status);
  EXPECT_EQ(status, 400);
  dev.call("GET", "/api/v1/usage?from=2026-12-10&to=2026-12-01", nullptr, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(dev.text("/api/v1/usage?by=project&format=csv").substr(0, 18), "project,gpu_hours,");

  // The CLI: a table with a total, and CSV.
  testing::TempDir home;
  SubprocessOptions so;
  so.argv = {
      testing::jizhan_binary(), "usage",    "--by",
      "project,user",           "--server", "http://127.0.0.1:" + std::to_string(p.server->port())};
  so.env = {{"JIZHAN_TOKEN", p.server->token()}, {"JIZHAN_CONFIG_DIR", home.str()}};
  so.timeout = 30s;
  auto table = run_subprocess(so);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->exit_code, 0) << table->err;
  EXPECT_NE(table->out.find("vision"), std::string::npos) << table->out;
  EXPECT_NE(table->out.find("TOTAL"), std::string::npos) << table->out;
  EXPECT_NE(table->out.find("COST (CNY)"), std::string::npos) << table->out;
  so.argv.push_back("--csv");
  auto csv = run_subprocess(so);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->out.substr(0, 23), "project,user,gpu_hours,") << csv->out << csv->err;
}

}  // namespace
}  // namespace jz
