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
