// The GPU monitor against the fake NVML (tests/support/fake_nvml.c, driven by a scenario
// file the tests rewrite while it runs): every reading, errors confined to one device, a
// lost GPU and fatal XIDs out of service, processes attributed to jobs through their
// control groups, the exposition checked by promtool, and jizhan-agent itself: a plain
// copy that needs nothing but the C library, serving only with its token.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/files.h"
#include "core/subprocess.h"
#include "core/text.h"
#include "gpu/monitor.h"
#include "tests/support/temp_dir.h"

namespace jz::gpu {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Writes the scenario through a new file and a rename, so the fake sees a change.
void write_scenario(const std::string& path, const std::string& text) {
  static int n = 0;
  const std::string tmp = path + ".tmp" + std::to_string(++n);
  ASSERT_TRUE(write_file(tmp, text).ok());
  fs::rename(tmp, path);
}

class GpuMonitor : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_ = dir_.str() + "/scenario";
    // The fake reads it on each call; no other thread runs during these tests.
    ::setenv("FAKE_NVML_SCENARIO", scenario_.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  void TearDown() override {
    ::unsetenv("FAKE_NVML_SCENARIO");  // NOLINT(concurrency-mt-unsafe)
  }

  // A fake /proc and cgroup tree: pids 101 and 102 in run-a, 103 in run-b, 104 in none.
  MonitorOptions fake_node() {
    const std::string proc = dir_.str() + "/proc", cg = dir_.str() + "/cg",
                      jobs = dir_.str() + "/jobs";
    auto pid = [&](int p, const std::string& path) {
      fs::create_directories(proc + "/" + std::to_string(p));
      EXPECT_TRUE(write_file(proc + "/" + std::to_string(p) + "/cgroup", path).ok());
    };
    pid(101, "12:pids:/\n4:memory:/docker/abc/jizhan/run-a\n0::/\n");
    pid(102, "0::/jizhan/run-a\n");
    pid(103, "0::/jizhan/run-b\n");
    pid(104, "0::/user.slice/session-1.scope\n");
    fs::create_directories(cg);
    EXPECT_TRUE(write_file(cg + "/cgroup.controllers", "cpu memory pids").ok());
    for (const char* run : {"run-a", "run-b"}) {
      const std::string g = cg + "/jizhan/" + run;
      fs::create_directories(g);
      EXPECT_TRUE(write_file(g + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n").ok());
      EXPECT_TRUE(write_file(g + "/memory.current", "104857600\n").ok());
      EXPECT_TRUE(
          write_file(g + "/memory.max", std::string(run) == "run-a" ? "268435456\n" : "max\n")
              .ok());
      fs::create_directories(jobs + "/" + run);
    }
    EXPECT_TRUE(write_file(jobs + "/run-a/labels.json",
                           R"({"job":"job_a","project":"vision","workspace":"lab","user":"ann",
                               "gpu_memory_limit_mib":"4096"})")
                    .ok());
    EXPECT_TRUE(write_file(jobs + "/run-b/labels.json",
                           R"({"job":"job_b","project":"other","workspace":"lab","user":"bob"})")
                    .ok());
    MonitorOptions o;
    o.nvml_library = JZ_FAKE_NVML;
    o.hostname = "node-1";
    o.proc = proc;
    o.cgroup_root = cg;
    o.jobs_dir = jobs;
    return o;
  }

  testing::TempDir dir_;
  std::string scenario_;
};

TEST_F(GpuMonitor, ReadsEveryFieldAndConfinesErrorsToTheirDevice) {
  write_scenario(scenario_,
                 "gpu uuid=GPU-aa name=NVIDIA_H200 bus=00000000:17:00.0 minor=3 memory_mib=143771 "
                 "used_mib=1200 reserved_mib=500 util=87 mem_util=41 enc=5 dec=6 sm_clock=1980 "
                 "mem_clock=3201 temp=61 mem_temp=70 power_mw=412500 energy_mj=123456789 "
                 "replays=2 sbe=3 dbe=0 remap_corr=1 remap_unc=0 remap_pending=0 remap_fail=0 "
                 "reasons=4\n"
                 "gpu uuid=GPU-bb fail=power,temp\n"
                 "gpu uuid=GPU-cc lost=1\n");
  std::string why;
  auto nvml = Nvml::open(JZ_FAKE_NVML, &why);
  ASSERT_TRUE(nvml) << why;
  ASSERT_EQ(nvml->count(), 3u);
  EXPECT_EQ(nvml->driver_version(), "580.0-fake");
  GpuReading a = nvml->read(0);
  EXPECT_EQ(a.uuid, "GPU-aa");
  EXPECT_EQ(a.name, "NVIDIA H200");
  EXPECT_EQ(a.pci_bus_id, "00000000:17:00.0");
  EXPECT_EQ(a.minor, 3u);
  EXPECT_EQ(a.gpu_util, 87);
  EXPECT_EQ(a.mem_copy_util, 41);
  EXPECT_EQ(a.enc_util, 5);
  EXPECT_EQ(a.dec_util, 6);
  EXPECT_EQ(a.fb_total_mib, 143771);
  EXPECT_EQ(a.fb_used_mib, 1200);
  EXPECT_EQ(a.fb_reserved_mib, 500);
  EXPECT_EQ(a.fb_free_mib, 143771 - 1200 - 500);
  EXPECT_EQ(a.sm_clock_mhz, 1980);
  EXPECT_EQ(a.mem_clock_mhz, 3201);
  EXPECT_EQ(a.gpu_temp_c, 61);
  EXPECT_EQ(a.memory_temp_c, 70);
  EXPECT_DOUBLE_EQ(*a.power_w, 412.5);
  EXPECT_EQ(a.energy_mj, 123456789);
  EXPECT_EQ(a.pcie_replays, 2);
  EXPECT_EQ(a.ecc_sbe_volatile, 3);
  EXPECT_EQ(a.ecc_dbe_volatile, 0);
  EXPECT_EQ(a.remapped_correctable, 1);
  EXPECT_EQ(a.clock_event_reasons, 4u);
  EXPECT_FALSE(a.lost);
  // Two calls fail on the second device: those fields are empty, the rest are read.
  GpuReading b = nvml->read(1);
  EXPECT_EQ(b.uuid, "GPU-bb");
  EXPECT_FALSE(b.power_w.has_value());
  EXPECT_FALSE(b.gpu_temp_c.has_value());
  EXPECT_TRUE(b.gpu_util.has_value());
  EXPECT_EQ(nvml->errors()["nvmlDeviceGetPowerUsage"], 1);
  EXPECT_EQ(nvml->errors()["nvmlDeviceGetTemperature"], 1);
  // The third has fallen off the bus.
  GpuReading c = nvml->read(2);
  EXPECT_TRUE(c.lost);
  EXPECT_FALSE(c.gpu_util.has_value());
}

TEST_F(GpuMonitor, NoDriverMeansNoGpusAndTheRestStillReported) {
  std::string why;
  EXPECT_FALSE(Nvml::open(dir_.str() + "/libnvidia-ml.so.1", &why));
  EXPECT_NE(why.find("cannot load"), std::string::npos) << why;
  MonitorOptions o;
  o.nvml_library = dir_.str() + "/libnvidia-ml.so.1";
  o.filesystems = {dir_.str()};
  Monitor m(o);
  EXPECT_FALSE(m.has_nvml());
  Snapshot s = m.sample(1000);
  EXPECT_TRUE(s.gpus.empty());
  EXPECT_GT(s.node.memory_total_bytes, 0);
  EXPECT_GT(s.node.cpus, 0);
  ASSERT_EQ(s.node.filesystems.size(), 1u);
  EXPECT_GT(s.node.filesystems[0].size_bytes, 0);
  const std::string text = render_prometheus(s);
  EXPECT_NE(text.find("jizhan_node_gpus{Hostname=\""), std::string::npos);
  EXPECT_NE(text.find("jizhan_agent_nvml_up{"), std::string::npos);
  EXPECT_EQ(text.find("DCGM_FI_DEV"), std::string::npos);
}

TEST_F(GpuMonitor, ProcessesAreAttributedToTheirJobsAndSharesShowTheirLimit) {
  write_scenario(scenario_,
                 "gpu uuid=GPU-aa used_mib=1500\n"
                 "gpu uuid=GPU-bb used_mib=3000\n"
                 "process gpu=0 pid=101 used_mib=1000 sm=30\n"
                 "process gpu=0 pid=102 used_mib=500 sm=20\n"
                 "process gpu=1 pid=103 used_mib=2000 sm=70\n"
                 "process gpu=1 pid=104 used_mib=1000 sm=5\n");
  Monitor m(fake_node());
  Snapshot s = m.sample(1000);
  ASSERT_EQ(s.processes.size(), 4u);
  std::map<int64_t, std::string> run;
  for (const auto& p : s.processes) run[p.reading.pid] = p.run;
  EXPECT_EQ(run[101], "run-a");
  EXPECT_EQ(run[102], "run-a");
  EXPECT_EQ(run[103], "run-b");
  EXPECT_EQ(run[104], "");
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_DOUBLE_EQ(s.jobs[0].cpu_seconds, 2.5);
  EXPECT_EQ(s.jobs[0].memory_bytes, 104857600);
  EXPECT_EQ(s.jobs[0].memory_limit_bytes, 268435456);
  EXPECT_FALSE(s.jobs[1].memory_limit_bytes.has_value());
  EXPECT_EQ(s.jobs[0].labels.at("project"), "vision");

  const std::string text = render_prometheus(s);
  const std::string a0 = R"({gpu="0",UUID="GPU-aa",pci_bus_id="00000000:17:00.0",device="nvidia0",)"
                         R"(Hostname="node-1",job="job_a",project="vision",)"
                         R"(workspace="lab",user="ann",run="run-a"})";
  EXPECT_NE(text.find("jizhan_job_gpu_memory_used_mib" + a0 + " 1500\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("jizhan_job_gpu_util" + a0 + " 50\n"), std::string::npos);
  EXPECT_NE(text.find("jizhan_job_gpu_processes" + a0 + " 2\n"), std::string::npos);
  EXPECT_NE(text.find("jizhan_job_gpu_memory_limit_mib" + a0 + " 4096\n"), std::string::npos);
  EXPECT_NE(text.find(R"(project="other",workspace="lab",user="bob",run="run-b"} 2000)"),
            std::string::npos);
  // The process of no job is use outside the platform, on its GPU.
  EXPECT_NE(text.find("jizhan_gpu_unattributed_memory_used_mib{gpu=\"1\""), std::string::npos);
  EXPECT_NE(text.find(R"(jizhan_job_cpu_seconds_total{Hostname="node-1",job="job_a")"),
            std::string::npos);
  auto j = to_json(s);
  EXPECT_EQ(j["processes"][0]["run"], "run-a");
  EXPECT_EQ(j["jobs"][0]["labels"]["user"], "ann");
}

TEST_F(GpuMonitor, AFatalXidOrALostGpuTakesItOutOfServiceAndOthersDoNot) {
  write_scenario(scenario_,
                 "gpu uuid=GPU-aa\ngpu uuid=GPU-bb\ngpu uuid=GPU-cc\nxid gpu=0 code=13\n");
  MonitorOptions o;
  o.nvml_library = JZ_FAKE_NVML;
  o.hostname = "node-1";
  Monitor m(o);
  Snapshot s = m.sample(1000);
  ASSERT_EQ(s.health.size(), 3u);
  EXPECT_TRUE(s.health[0].healthy) << "XID 13 (a graphics engine exception) is the job's";
  EXPECT_EQ(s.health[0].last_xid, 13);
  // The scenario changes while the monitor runs: XID 79 on GPU 1, GPU 2 lost.
  write_scenario(scenario_,
                 "gpu uuid=GPU-aa\ngpu uuid=GPU-bb\ngpu uuid=GPU-cc lost=1\n"
                 "xid gpu=0 code=13\nxid gpu=1 code=79\n");
  s = m.sample(2000);
  EXPECT_TRUE(s.health[0].healthy);
  EXPECT_FALSE(s.health[1].healthy);
  EXPECT_EQ(s.health[1].reason, "XID 79");
  EXPECT_EQ(s.health[1].xid_count, 1);
  EXPECT_FALSE(s.health[2].healthy);
  EXPECT_NE(s.health[2].reason.find("lost"), std::string::npos);
  const std::string text = render_prometheus(s);
  EXPECT_NE(text.find(R"(jizhan_gpu_healthy{gpu="1",UUID="GPU-bb")"), std::string::npos);
  EXPECT_NE(text.find(R"(Hostname="node-1"} 0)"), std::string::npos);
  EXPECT_NE(text.find("DCGM_FI_DEV_XID_ERRORS{gpu=\"1\""), std::string::npos);
  std::smatch m79;
  EXPECT_TRUE(
      std::regex_search(text, m79, std::regex(R"(DCGM_FI_DEV_XID_ERRORS\{gpu="1"[^}]*\} 79)")))
      << text;
  // Sticky: a later sample with no new events keeps it out.
  EXPECT_FALSE(m.sample(3000).health[1].healthy);
}

// promtool's lint over the whole exposition: clean but for dcgm-exporter's own names (its
// counters lack _total, one is named "..._COUNTER", its modelName label is camelCase),
// kept so its dashboards work.
TEST_F(GpuMonitor, TheExpositionPassesPromtoolButForDcgmExportersOwnNames) {
  if (::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (make test installs Debian's prometheus)";
  }
  write_scenario(scenario_,
                 "gpu uuid=GPU-aa name=A\"quote\\back\nprocess gpu=0 pid=101 used_mib=10 sm=1\n"
                 "xid gpu=0 code=48\n");
  MonitorOptions o = fake_node();
  o.filesystems = {dir_.str()};
  o.proc = "/proc";  // the real node readings
  Monitor m(o);
  Snapshot s = m.sample(1000);
  SubprocessOptions so;
  so.argv = {"promtool", "check", "metrics"};
  so.stdin_data = render_prometheus(s);
  so.timeout = 30s;
  auto r = run_subprocess(so);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::istringstream problems(r->out + r->err);
  std::string line;
  int others = 0;
  while (std::getline(problems, line)) {
    if (line.empty()) continue;
    const bool dcgm =
        line.rfind("DCGM_FI_DEV_", 0) == 0 &&
        (line.find("counter metrics should have \"_total\" suffix") != std::string::npos ||
         line.find("label names should be written in 'snake_case'") != std::string::npos ||
         line.find("metric name should not include type 'counter'") != std::string::npos);
    if (!dcgm) {
      ++others;
      ADD_FAILURE() << "promtool: " << line;
    }
  }
  EXPECT_TRUE(r->exit_code == 0 || r->exit_code == 3) << "a parse error: " << r->err;
  EXPECT_EQ(others, 0) << *so.stdin_data;
}

// The agent's own binary: small, and nothing but the C library and the loader needed.
TEST(Agent, APlainCopyNeedsNothingButTheCLibrary) {
#ifdef JZ_SANITIZED
  GTEST_SKIP() << "a sanitizer build links the sanitizers' shared runtimes";
#endif
  const std::string agent = JZ_AGENT_BINARY;
  EXPECT_LT(fs::file_size(agent), 5u << 20) << "the agent must stay under 5 MB";
  SubprocessOptions so;
  so.argv = {"readelf", "-d", agent};
  auto r = run_subprocess(so);
  ASSERT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().to_string());
  std::regex needed(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
  int count = 0;
  for (auto it = std::sregex_iterator(r->out.begin(), r->out.end(), needed);
       it != std::sregex_iterator(); ++it) {
    const std::string lib = (*it)[1];
    ++count;
    EXPECT_TRUE(lib == "libc.so.6" || lib == "libm.so.6" || lib.rfind("ld-linux", 0) == 0)
        << "the agent needs " << lib << ", which a GPU machine may not have";
  }
  EXPECT_GT(count, 0);

  // A copy in an empty folder, with an empty environment, runs and reports the node.
  testing::TempDir dir;
  const std::string copy = dir.str() + "/jizhan-agent";
  fs::copy_file(agent, copy);
  SubprocessOptions run;
  run.argv = {copy, "--once", "--nvml-library", dir.str() + "/no-nvml.so", "--filesystem", "/"};
  run.replace_env = true;
  run.cwd = dir.str();
  run.timeout = 30s;
  auto out = run_subprocess(run);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->exit_code, 0) << out->err;
  EXPECT_NE(out->out.find("jizhan_node_gpus{Hostname="), std::string::npos) << out->out;
  EXPECT_NE(out->out.find("jizhan_agent_nvml_up{"), std::string::npos);
  SubprocessOptions bad = run;
  bad.argv = {copy, "--interval", "soon"};
  auto refused = run_subprocess(bad);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->exit_code, 2);
  EXPECT_NE(refused->err.find("--interval wants seconds"), std::string::npos) << refused->err;
}

TEST(Agent, ServesTheLatestSampleOnlyWithItsTokenAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::string scenario = dir.str() + "/scenario";
  write_scenario(scenario, "gpu uuid=GPU-aa util=10\n");
  ASSERT_TRUE(write_file(dir.str() + "/token", "0123456789abcdef0123\n").ok());
  SubprocessOptions so;
  so.argv = {
      JZ_AGENT_BINARY, "--listen",           "127.0.0.1:0", "--interval",        "0.1",
      "--token-file",  dir.str() + "/token", "--port-file", dir.str() + "/port", "--nvml-library",
      JZ_FAKE_NVML,    "--hostname",         "node-9"};
  so.env = {{"FAKE_NVML_SCENARIO", scenario}};
  so.output_file = dir.str() + "/agent.log";
  auto child = Child::spawn(so);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    auto p = read_file(dir.str() + "/port");
    if (p.ok() && !p->empty()) {
      port = static_cast<int>(parse_int64(p->substr(0, p->find('\n'))).value_or(0));
    }
    if (port == 0) std::this_thread::sleep_for(25ms);
  }
  ASSERT_GT(port, 0) << read_file(dir.str() + "/agent.log").value_or("");
  httplib::Client c("127.0.0.1", port);
  auto none = c.Get("/metrics");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto wrong = c.Get("/metrics", {{"Authorization", "Bearer 0123456789abcdef0124"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  const httplib::Headers auth = {{"Authorization", "Bearer 0123456789abcdef0123"}};
  auto ok = c.Get("/metrics", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find(R"(DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aa")"), std::string::npos);
  EXPECT_NE(ok->body.find(R"(Hostname="node-9"} 10)"), std::string::npos) << ok->body;
  // The next samples follow the scenario.
  write_scenario(scenario, "gpu uuid=GPU-aa util=93\n");
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    auto j = c.Get("/v1/sample", auth);
    seen = j && j->status == 200 && j->body.find("\"gpu_util\":93") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(seen);
  auto post = c.Post("/metrics", auth, "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  child->signal(SIGTERM);
  auto done = child->wait_for(10s);
  ASSERT_TRUE(done.has_value()) << "the agent did not stop on SIGTERM";
  EXPECT_EQ(done->exit_code, 0);
}

}  // namespace
}  // namespace jz::gpu
