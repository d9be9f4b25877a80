// The vGPU library over a fake CUDA driver (tests/support/fake_cuda.c): real processes with
// libjzvgpu.so preloaded, as on a GPU node, run the probe (probe.c) and must stay within
// their limits whatever way they reach the driver.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "core/files.h"
#include "core/sandbox.h"
#include "core/subprocess.h"
#include "gpu/vgpu/config.h"
#include "tests/support/temp_dir.h"

namespace jz {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr uint64_t kMiB = 1 << 20;

std::map<std::string, std::string> parse_lines(const std::string& out) {
  std::map<std::string, std::string> kv;
  size_t at = 0;
  while (at < out.size()) {
    size_t end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(at, end - at);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    at = end + 1;
  }
  return kv;
}

class Vgpu : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::string region() const { return dir.str() + "/region"; }
  // The environment of a job's process: the library preloaded, the fake driver found.
  std::map<std::string, std::string> env(const std::string& limit = "1g",
                                         bool preload = true) const {
    std::map<std::string, std::string> e = {{"LD_LIBRARY_PATH", JZ_FAKE_CUDA_DIR},
                                            {"FAKE_CUDA_MEMORY_MIB", "16384"},
                                            {"JZ_VGPU_REGION", region()}};
    if (!limit.empty()) e["JZ_VGPU_MEMORY_LIMIT"] = limit;
    if (preload) e["LD_PRELOAD"] = JZ_VGPU_LIBRARY;
    return e;
  }
  std::map<std::string, std::string> probe(const std::vector<std::string>& args,
                                           const std::map<std::string, std::string>& e,
                                           const char* binary = JZ_VGPU_PROBE) {
    SubprocessOptions o;
    o.argv = {binary};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = e;
    o.timeout = 60s;
    auto r = run_subprocess(o);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return {};
    EXPECT_EQ(r->exit_code, 0) << r->err;
    last_err = r->err;
    return parse_lines(r->out);
  }
  // A process that allocates and keeps it until killed.
  Child hold(uint64_t bytes, const std::string& out) {
    SubprocessOptions o;
    o.argv = {JZ_VGPU_PROBE, "hold", std::to_string(bytes)};
    o.env = env();
    o.output_file = out;
    auto c = Child::spawn(o);
    EXPECT_TRUE(c.ok());
    wait_for_text(out, "held=1");
    return std::move(*c);
  }
  static void wait_for_text(const std::string& file, const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      auto t = read_file(file);
      if (t.ok() && t->find(text) != std::string::npos) return;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "no '" << text << "' in " << file;
  }
  std::string last_err;
};

TEST(VgpuConfig, ReadsSizesPercentagesAndSaysWhatIsWrong) {
  uint64_t v = 0;
  const char* why = nullptr;
  auto size = [&](const std::string& s) {
    why = nullptr;
    return jz_vgpu_parse_size(s.data(), s.size(), &v, &why) == 0 ? v : ~uint64_t{0};
  };
  EXPECT_EQ(size("1024"), 1024u);
  EXPECT_EQ(size("20000m"), 20000 * kMiB);
  EXPECT_EQ(size("2Gi"), 2048 * kMiB);
  EXPECT_EQ(size(" 3 GiB "), ~uint64_t{0}) << "no space inside a size";
  EXPECT_EQ(size("3GiB"), 3072 * kMiB);
  EXPECT_EQ(size("1t"), uint64_t{1} << 40);
  EXPECT_EQ(size("-5m"), ~uint64_t{0});
  EXPECT_NE(why, nullptr);
  EXPECT_EQ(size("99999999999999999999"), ~uint64_t{0});
  EXPECT_STREQ(why, "size too large");
  EXPECT_EQ(size("16777216t"), ~uint64_t{0}) << "2^64 bytes overflow";
  EXPECT_EQ(size("5x"), ~uint64_t{0});

  jz_vgpu_config c{};
  const std::string text =
      "# written by the executor\nJZ_VGPU_MEMORY_LIMIT=1g\nJZ_VGPU_MEMORY_LIMIT_1=512m\n"
      "JZ_VGPU_CORE_LIMIT=50\nJZ_VGPU_CORE_LIMIT_2=100\nJZ_VGPU_REGION=/run/r\n"
      "JZ_VGPU_UUIDS=GPU-a, GPU-b\nOTHER=ignored\n";
  EXPECT_EQ(jz_vgpu_parse_config(text.data(), text.size(), &c, &why), 0) << why;
  EXPECT_EQ(c.memory_limit[0], 1024 * kMiB);
  EXPECT_EQ(c.memory_limit[1], 512 * kMiB);
  EXPECT_EQ(c.memory_limit[15], 1024 * kMiB);
  EXPECT_EQ(c.core_limit[0], 50);
  EXPECT_EQ(c.core_limit[2], 0) << "100% is no limit";
  EXPECT_STREQ(c.region, "/run/r");
  EXPECT_STREQ(c.uuids[1], "GPU-b");
  const std::string bad = "JZ_VGPU_MEMORY_LIMIT=1g\nJZ_VGPU_CORE_LIMIT=150\n";
  EXPECT_EQ(jz_vgpu_parse_config(bad.data(), bad.size(), &c, &why), 2);
  EXPECT_STREQ(why, "a core limit is a percentage from 1 to 100");
  const std::string no_eq = "JZ_VGPU_MEMORY_LIMIT\n";
  EXPECT_EQ(jz_vgpu_parse_config(no_eq.data(), no_eq.size(), &c, &why), 1);
}

TEST_F(Vgpu, EveryAllocationFamilyStopsAtTheLimit) {
  // Without the library the fake card has room for it: the limit is what stops it.
  EXPECT_EQ(probe({"alloc", "alloc", std::to_string(1100 * kMiB)}, env("1g", false))["result"],
            "0");
  for (const char* family : {"alloc", "alloc_v1", "pitch", "managed", "async", "pool", "array",
                             "array3d", "mipmap", "vmm"}) {
    SCOPED_TRACE(family);
    const uint64_t over = std::string(family) == "alloc_v1" ? 1100 * kMiB : 1100 * kMiB;
    EXPECT_EQ(probe({"alloc", family, std::to_string(over)}, env())["result"], "2") << last_err;
    auto ok = probe({"alloc", family, std::to_string(600 * kMiB)}, env());
    EXPECT_EQ(ok["result"], "0") << last_err;
    // What it took shows in what is left (arrays by their element size: at least it).
    EXPECT_LE(std::stoull(ok["free"]), 1024 * kMiB - 600 * kMiB) << family;
  }
}

TEST_F(Vgpu, ReportsTheLimitNeverAboveTheCardNorNegative) {
  auto info = probe({"info"}, env());
  EXPECT_EQ(info["total"], std::to_string(1024 * kMiB));
  EXPECT_EQ(info["free"], std::to_string(1024 * kMiB));
  EXPECT_EQ(info["device_total"], std::to_string(1024 * kMiB));
  // A limit above the card: the card.
  auto big = probe({"info"}, env("100g"));
  EXPECT_EQ(big["total"], std::to_string(16384 * kMiB));
  EXPECT_EQ(big["device_total"], std::to_string(16384 * kMiB));
  // Another process of the job holds 900 MiB: this one sees what is left, never free ==
  // total; one told a smaller limit than the job already holds sees 0 free, not 17 TB.
  Child h = hold(900 * kMiB, dir.str() + "/hold.out");
  auto second = probe({"info"}, env());
  EXPECT_EQ(second["free"], std::to_string(124 * kMiB));
  EXPECT_EQ(second["total"], std::to_string(1024 * kMiB));
  auto smaller = probe({"info"}, env("512m"));
  EXPECT_EQ(smaller["free"], "0");
  EXPECT_EQ(smaller["total"], std::to_string(512 * kMiB));
}

TEST_F(Vgpu, TwoProcessesOfAJobShareOneLimitAndTheDeadGiveTheirsBack) {
  Child a = hold(600 * kMiB, dir.str() + "/a.out");
  EXPECT_EQ(probe({"alloc", "alloc", std::to_string(600 * kMiB)}, env())["result"], "2");
  EXPECT_EQ(probe({"alloc", "alloc", std::to_string(400 * kMiB)}, env())["result"], "0");
  // jzvgpu-tool shows who holds what.
  SubprocessOptions t;
  t.argv = {JZ_VGPU_TOOL, region()};
  t.timeout = 10s;
  auto shown = run_subprocess(t);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->exit_code, 0) << shown->err;
  EXPECT_NE(shown->out.find("device 0: memory 600 of 1024 MiB"), std::string::npos) << shown->out;
  EXPECT_NE(shown->out.find("process " + std::to_string(a.pid()) + ": device 0 600.0 MiB"),
            std::string::npos)
      << shown->out;
  a.signal(SIGKILL);
  a.wait();
  EXPECT_EQ(probe({"alloc", "alloc", std::to_string(1000 * kMiB)}, env())["result"], "0")
      << "a killed process's memory is the job's again";

  // One killed while it held the region's lock: the next process gets the lock (robust
  // mutex), frees the dead one's slot and allocates, without waiting.
  Child b = hold(700 * kMiB, dir.str() + "/b.out");
  SubprocessOptions o;
  o.argv = {JZ_VGPU_PROBE, "lock", region()};
  o.env = env();
  o.output_file = dir.str() + "/lock.out";
  auto locker = Child::spawn(o);
  ASSERT_TRUE(locker.ok());
  wait_for_text(o.output_file, "locked=1");
  locker->signal(SIGKILL);
  locker->wait();
  b.signal(SIGKILL);
  b.wait();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(probe({"alloc", "alloc", std::to_string(1000 * kMiB)}, env())["result"], "0");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);

  // --reset clears it; a file that is not a region is refused with the reason.
  t.argv = {JZ_VGPU_TOOL, "--reset", region()};
  ASSERT_TRUE(run_subprocess(t).ok());
  t.argv = {JZ_VGPU_TOOL, region()};
  shown = run_subprocess(t);
  EXPECT_NE(shown->out.find("no process holds memory"), std::string::npos) << shown->out;
  ASSERT_TRUE(write_file(dir.str() + "/not-a-region", "hello").ok());
  t.argv = {JZ_VGPU_TOOL, dir.str() + "/not-a-region"};
  shown = run_subprocess(t);
  EXPECT_EQ(shown->exit_code, 1);
  EXPECT_NE(shown->err.find("is not a vGPU region"), std::string::npos) << shown->err;
}

TEST_F(Vgpu, EveryWayToTheDriverIsLimited) {
  const std::string over = std::to_string(1100 * kMiB);
  for (const char* ptsz : {"0", "1"}) {
    auto e = env();
    e["PROBE_PTSZ"] = ptsz;
    auto lines = probe({"getproc", over}, e);
    ASSERT_GE(lines.size(), 31u) << last_err;
    for (const auto& [k, v] : lines) {
      if (k.rfind("cuMemAlloc", 0) == 0 || k.rfind("dlsym:", 0) == 0) {
        EXPECT_EQ(v, "2") << k << " (per-thread: " << ptsz << ") reached the driver";
      }
    }
  }
  // A program linked to libcuda.so.1 binds to the library's functions at load time.
  auto direct = probe({"alloc", over}, env(), JZ_VGPU_PROBE_DIRECT);
  EXPECT_EQ(direct["result"], "2");
  EXPECT_EQ(direct["total"], std::to_string(1024 * kMiB));
  auto unlimited = probe({"alloc", over}, env("1g", false), JZ_VGPU_PROBE_DIRECT);
  EXPECT_EQ(unlimited["result"], "0");
}

// nvidia-smi's questions inside a share: the device's memory is the job's limit and use,
// its processes the job's own (by the pids the job sees), not the host's.
TEST_F(Vgpu, NvmlShowsTheJobItsLimitItsUseAndItsOwnProcesses) {
  auto e = env();
  e["JZ_VGPU_UUIDS"] = "GPU-fake-0000-0";
  auto before = probe({"nvml", JZ_FAKE_NVML}, e);
  EXPECT_EQ(before["nvml_total"], std::to_string(1024 * kMiB));
  EXPECT_EQ(before["nvml_used"], "0");
  EXPECT_EQ(before["processes"], "0");
  Child h = hold(300 * kMiB, dir.str() + "/hold.out");
  auto during = probe({"nvml", JZ_FAKE_NVML}, e);
  EXPECT_EQ(during["nvml_used"], std::to_string(300 * kMiB));
  EXPECT_EQ(during["nvml_free"], std::to_string(724 * kMiB));
  EXPECT_EQ(during["processes"], "1");
  EXPECT_EQ(during["pid0"], std::to_string(h.pid()));
  EXPECT_EQ(during["used0"], std::to_string(300 * kMiB));
  // Outside a share (no limit): NVML as it is (the fake card's 81559 MiB).
  auto plain = probe({"nvml", JZ_FAKE_NVML}, env("", false));
  EXPECT_EQ(plain["nvml_total"], std::to_string(81559 * kMiB));
}

TEST_F(Vgpu, ABrokenConfigurationOrRegionRefusesMemoryAndSaysWhy) {
  auto e = env("lots");
  SubprocessOptions o;
  o.argv = {JZ_VGPU_PROBE, "alloc", "alloc", std::to_string(kMiB)};
  o.env = e;
  o.timeout = 30s;
  auto r = run_subprocess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find("result=2"), std::string::npos) << r->out;
  EXPECT_NE(r->err.find("JZ_VGPU_MEMORY_LIMIT: a size starts with digits"), std::string::npos)
      << r->err;
  // A region the process may not open (a folder here): refused, with the reason, no crash.
  fs::create_directories(region());
  o.env = env();
  r = run_subprocess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find("result=2"), std::string::npos) << r->out;
  EXPECT_NE(r->err.find("vGPU region"), std::string::npos) << r->err;
}

// The platform's way: /etc/ld.so.preload and /etc/jizhan/vgpu.conf in the sandbox, where
// the job cannot change them. A process that clears its environment (and so loses
// LD_PRELOAD and every JZ_VGPU_ variable) is still limited.
TEST_F(Vgpu, AProcessThatClearsItsEnvironmentIsStillLimited) {
  if (::system("command -v bwrap >/dev/null 2>&1") != 0) GTEST_SKIP() << "no bubblewrap";
  ASSERT_TRUE(write_file(dir.str() + "/preload", "/opt/jz/libjzvgpu.so\n").ok());
  ASSERT_TRUE(write_file(dir.str() + "/vgpu.conf",
                         "JZ_VGPU_MEMORY_LIMIT=1g\nJZ_VGPU_REGION=/run/jz/region\n"
                         "JZ_VGPU_DRIVER=/opt/fake/libcuda.so.1\n")
                  .ok());
  fs::create_directories(dir.path() / "run");
  std::vector<std::string> argv = {"bwrap", "--unshare-all", "--die-with-parent"};
  add_system_binds(argv, {{"/etc/ld.so.preload", dir.str() + "/preload"},
                          {"/etc/jizhan/vgpu.conf", dir.str() + "/vgpu.conf"}});
  argv.insert(argv.end(), {"--proc",
                           "/proc",
                           "--dev",
                           "/dev",
                           "--tmpfs",
                           "/tmp",
                           "--ro-bind",
                           JZ_VGPU_LIBRARY,
                           "/opt/jz/libjzvgpu.so",
                           "--ro-bind",
                           JZ_FAKE_CUDA_DIR,
                           "/opt/fake",
                           "--ro-bind",
                           JZ_VGPU_PROBE,
                           "/opt/probe",
                           "--bind",
                           (dir.path() / "run").string(),
                           "/run/jz",
                           "--clearenv",
                           "--setenv",
                           "PROBE_DRIVER",
                           "/opt/fake/libcuda.so.1",
                           "--setenv",
                           "JZ_VGPU_MEMORY_LIMIT",
                           "100g"});
  auto run = [&](std::vector<std::string> tail) {
    SubprocessOptions o;
    o.argv = argv;
    o.argv.insert(o.argv.end(), tail.begin(), tail.end());
    o.replace_env = true;
    o.env = {{"PATH", "/usr/bin:/bin"}};
    o.timeout = 60s;
    auto r = run_subprocess(o);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << r->err;
    return parse_lines(r->out);
  };
  const std::string over = std::to_string(1100 * kMiB);
  // The environment's looser limit does not count: the file's does.
  EXPECT_EQ(run({"/opt/probe", "alloc", "alloc", over})["result"], "2") << "the file's limit";
  // A child started with no environment at all (it must find the driver itself).
  auto cleared = run({"/opt/probe", "exec", "/usr/bin/env", "PROBE_DRIVER=/opt/fake/libcuda.so.1",
                      "/opt/probe", "alloc", "alloc", over});
  EXPECT_EQ(cleared["result"], "2");
  EXPECT_EQ(cleared["total"], std::to_string(1024 * kMiB));
  // The job cannot rewrite its limits: /etc is read-only there.
  auto w =
      run({"/bin/sh", "-c", "echo JZ_VGPU_MEMORY_LIMIT=100g > /etc/jizhan/vgpu.conf; echo rc=$?"});
  EXPECT_NE(w["rc"], "0");
  EXPECT_TRUE(fs::exists(dir.path() / "run" / "region")) << "the job's region is where it said";
}

// The compute controller holds a device at its limit, alone on the card, whatever its
// multiprocessor count, on two devices at once, and for graph launches.
TEST_F(Vgpu, TheComputeLimitHoldsAtEverySmCountAndOnEveryDevice) {
  struct Case {
    int limit, sms, devices;
    bool graph;
  };
  std::vector<Case> cases;
  for (int limit : {25, 50, 75}) {
    for (int sms : {1, 16, 132}) cases.push_back({limit, sms, 1, false});
  }
  cases.push_back({50, 132, 2, false});
  cases.push_back({30, 16, 1, true});
  // All at once (each its own process and region): the fake devices are per process, and
  // a paced process mostly sleeps.
  std::vector<std::pair<Case, Child>> running;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SubprocessOptions o;
    // 64 blocks of 100 us: 64 waves at 1 SM, 4 at 16, 1 at 132.
    o.argv = {JZ_VGPU_PROBE, "compute", std::to_string(c.devices), "2", "64", "100"};
    if (c.graph) o.argv.push_back("graph");
    o.env = env("");
    o.env["JZ_VGPU_CORE_LIMIT"] = std::to_string(c.limit);
    o.env["JZ_VGPU_REGION"] = dir.str() + "/region" + std::to_string(i);
    o.env["FAKE_CUDA_SMS"] = std::to_string(c.sms);
    o.env["FAKE_CUDA_DEVICES"] = std::to_string(c.devices);
    o.output_file = dir.str() + "/compute" + std::to_string(i);
    auto child = Child::spawn(o);
    ASSERT_TRUE(child.ok());
    running.emplace_back(c, std::move(*child));
  }
  for (size_t i = 0; i < running.size(); ++i) {
    auto& [c, child] = running[i];
    auto r = child.wait_for(60s);
    ASSERT_TRUE(r.has_value());
    auto out = read_file(dir.str() + "/compute" + std::to_string(i));
    ASSERT_TRUE(out.ok());
    auto kv = parse_lines(*out);
    for (int d = 0; d < c.devices; ++d) {
      ASSERT_TRUE(kv.count("util" + std::to_string(d))) << *out;
      const double util = std::stod(kv["util" + std::to_string(d)]);
      EXPECT_NEAR(util, c.limit, 5.0) << "limit " << c.limit << "%, " << c.sms << " SMs, device "
                                      << d << (c.graph ? ", graphs" : "") << "\n"
                                      << *out;
    }
  }
  // Without a limit the same load keeps the device busy: the limit is what held it.
  auto free_run = probe({"compute", "1", "1", "64", "100"}, env(""));
  EXPECT_GT(std::stod(free_run["util0"]), 90.0);
}

}  // namespace
}  // namespace jz
