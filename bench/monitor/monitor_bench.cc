// Benchmark tool for bench/monitor/run (not a test).
//
//   jz_bench_monitor render GPUS      /metrics of GPUS GPUs with every series and a job's
//                                     process each: the render's time (best of 20) beside
//                                     the same snapshot dumped as JSON by nlohmann (anchor)
//   jz_bench_monitor ingest DIR SERIES SECONDS
//                                     samples into the embedded store (metrics/tsdb.h):
//                                     SERIES series, one sample a second each for SECONDS,
//                                     a batch per second as the collector sends them; beside
//                                     appending the same samples to a plain vector (anchor)
//   jz_bench_monitor query-data DIR OPENMETRICS GPUS HOURS END_S
//                                     the same samples (one every 10 s per GPU's
//                                     DCGM_FI_DEV_GPU_UTIL, HOURS up to END_S) into an
//                                     embedded store at DIR and an OpenMetrics file for
//                                     promtool tsdb create-blocks-from openmetrics
//   jz_bench_monitor scenario PATH GPUS PROCS [PID...]
//                                     a fake NVML scenario: GPUS GPUs, PROCS processes
//                                     spread over them (the PIDs given, reused in turn)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gpu/monitor.h"
#include "metrics/tsdb.h"

namespace {

jz::gpu::Snapshot snapshot(int gpus) {
  jz::gpu::Snapshot s;
  s.at_ms = 1700000000000;
  s.hostname = "gpu-node-017.cluster.example.com";
  s.nvml = "ok";
  for (int i = 0; i < gpus; ++i) {
    jz::gpu::GpuReading g;
    g.index = static_cast<unsigned>(i);
    g.uuid = "GPU-3f2a9c1e-5b7d-4e8f-a0c2-" + std::to_string(100000000000 + i);
    g.name = "NVIDIA H100 80GB HBM3";
    g.pci_bus_id = "00000000:" + std::to_string(10 + i % 80) + ":00.0";
    g.minor = static_cast<unsigned>(i);
    g.gpu_util = 87;
    g.mem_copy_util = 41;
    g.enc_util = 0;
    g.dec_util = 0;
    g.fb_total_mib = 81559;
    g.fb_used_mib = 40213 + i;
    g.fb_free_mib = 41346 - i;
    g.fb_reserved_mib = 519;
    g.sm_clock_mhz = 1980;
    g.mem_clock_mhz = 2619;
    g.gpu_temp_c = 61;
    g.memory_temp_c = 70;
    g.power_w = 412.5;
    g.energy_mj = 123456789012.0 + i;
    g.pcie_replays = 0;
    g.ecc_sbe_volatile = 0;
    g.ecc_dbe_volatile = 0;
    g.remapped_correctable = 0;
    g.remapped_uncorrectable = 0;
    g.remap_failure = 0;
    g.clock_event_reasons = 0;
    s.gpus.push_back(g);
    s.health.push_back({});
    jz::gpu::AttributedProcess p;
    p.reading.gpu = g.index;
    p.reading.pid = 10000 + i;
    p.reading.used_mib = 40000;
    p.reading.sm_util = 85;
    p.run = "job_01M90YCXGA6W63XMAFZW" + std::to_string(1000 + i) + "-1";
    s.processes.push_back(p);
    jz::gpu::JobReading j;
    j.run = p.run;
    j.cpu_seconds = 12345.6;
    j.memory_bytes = int64_t{24} << 30;
    j.memory_limit_bytes = int64_t{32} << 30;
    j.labels = {{"job", p.run.substr(0, p.run.size() - 2)},
                {"project", "vision-" + std::to_string(i % 40)},
                {"workspace", "lab-" + std::to_string(i % 8)},
                {"user", "user" + std::to_string(i % 100)}};
    s.jobs.push_back(j);
  }
  s.node = jz::gpu::read_node({"/"});
  return s;
}

template <typename F>
double best_ms(F&& f, int rounds = 20) {
  double best = 1e18;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ms);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "render" && argc == 3) {
    const int gpus = std::stoi(argv[2]);
    const auto s = snapshot(gpus);
    std::string text;
    const double render = best_ms([&] { text = jz::gpu::render_prometheus(s); });
    std::string json;
    const double anchor = best_ms([&] { json = jz::gpu::to_json(s).dump(); });
    size_t lines = 0, series = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\n') continue;
      ++lines;
    }
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      if (text[at] != '#') ++series;
      at = end == std::string::npos ? text.size() : end + 1;
    }
    std::printf(
        "{\"gpus\":%d,\"series\":%zu,\"lines\":%zu,\"bytes\":%zu,\"render_ms\":%.3f,"
        "\"json_bytes\":%zu,\"json_ms\":%.3f}\n",
        gpus, series, lines, text.size(), render, json.size(), anchor);
    return 0;
  }
  if (cmd == "ingest" && argc == 5) {
    const int series = std::stoi(argv[3]), seconds = std::stoi(argv[4]);
    jz::metrics::TsdbOptions o;
    o.dir = argv[2];
    o.max_series = static_cast<size_t>(series);
    auto db = jz::metrics::Tsdb::open(o);
    if (!db.ok()) {
      std::cerr << db.status().to_string() << "\n";
      return 1;
    }
    std::vector<uint32_t> ids;
    ids.reserve(static_cast<size_t>(series));
    for (int i = 0; i < series; ++i) {
      ids.push_back(*(*db)->series("DCGM_FI_DEV_GPU_UTIL", {{"gpu", std::to_string(i)}}));
    }
    const int64_t t0 = 1'800'000'000'000;
    std::vector<jz::metrics::Tsdb::Sample> batch(ids.size());
    // Twice: into fresh files (the first touch of each page is the kernel's), then the
    // next SECONDS into the same rings.
    double cold_s = 0, store_s = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const auto a = std::chrono::steady_clock::now();
      for (int64_t s = int64_t{pass} * seconds; s < int64_t{pass + 1} * seconds; ++s) {
        for (size_t i = 0; i < ids.size(); ++i) batch[i] = {ids[i], t0 + s * 1000, double(s % 100)};
        (*db)->append(batch);
      }
      (pass == 0 ? cold_s : store_s) =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    }
    std::vector<std::vector<double>> plain(ids.size());
    const auto b = std::chrono::steady_clock::now();
    for (int s = 0; s < seconds; ++s) {
      for (size_t i = 0; i < ids.size(); ++i) plain[i].push_back(double(s % 100));
    }
    const double plain_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - b).count();
    const double n = double(series) * seconds;
    std::printf(
        "{\"samples\":%.0f,\"cold_per_s\":%.0f,\"store_per_s\":%.0f,\"vector_per_s\":%.0f}\n", n,
        n / cold_s, n / store_s, n / plain_s);
    return 0;
  }
  if (cmd == "query-data" && argc == 7) {
    const int gpus = std::stoi(argv[4]);
    const int64_t hours = std::stoll(argv[5]), end_s = std::stoll(argv[6]);
    jz::metrics::TsdbOptions o;
    o.dir = argv[2];
    auto db = jz::metrics::Tsdb::open(o);
    if (!db.ok()) {
      std::cerr << db.status().to_string() << "\n";
      return 1;
    }
    std::ofstream om(argv[3]);
    std::vector<uint32_t> ids;
    std::vector<std::string> labels;
    for (int i = 0; i < gpus; ++i) {
      const std::string gpu = std::to_string(i), uuid = "GPU-bench-" + std::to_string(i);
      ids.push_back(*(*db)->series("DCGM_FI_DEV_GPU_UTIL",
                                   {{"Hostname", "bench"}, {"UUID", uuid}, {"gpu", gpu}}));
      labels.push_back("{Hostname=\"bench\",UUID=\"" + uuid + "\",gpu=\"" + gpu + "\"}");
    }
    om << "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n";
    std::vector<jz::metrics::Tsdb::Sample> batch(ids.size());
    for (int64_t t = end_s - hours * 3600; t < end_s; t += 10) {
      for (size_t i = 0; i < ids.size(); ++i) {
        const double v = static_cast<double>((t / 10 + static_cast<int64_t>(i) * 7) % 101);
        batch[i] = {ids[i], t * 1000, v};
        om << "DCGM_FI_DEV_GPU_UTIL" << labels[i] << " " << v << " " << t << "\n";
      }
      (*db)->append(batch);
    }
    om << "# EOF\n";
    return 0;
  }
  if (cmd == "scenario" && argc >= 5) {
    std::ofstream out(argv[2]);
    const int gpus = std::stoi(argv[3]), procs = std::stoi(argv[4]);
    std::vector<std::string> pids(argv + 5, argv + argc);
    for (int i = 0; i < gpus; ++i) {
      out << "gpu uuid=GPU-bench-" << i << " used_mib=" << 1000 * i << " util=" << (i * 11) % 100
          << "\n";
    }
    for (int p = 0; p < procs; ++p) {
      out << "process gpu=" << p % gpus
          << " pid=" << (pids.empty() ? std::to_string(4000000 + p) : pids[p % pids.size()])
          << " used_mib=512 sm=" << p % 100 << "\n";
    }
    return 0;
  }
  std::cerr << "usage: jz_bench_monitor render GPUS | scenario PATH GPUS PROCS [PID...]\n";
  return 2;
}
