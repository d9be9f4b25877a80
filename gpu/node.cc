#include "gpu/node.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/files.h"
#include "core/text.h"

namespace jz::gpu {

namespace fs = std::filesystem;

namespace {

std::string text_of(const std::string& path) {
  auto r = read_file(path);
  return r.ok() ? *r : "";
}

int64_t number_of(const std::string& path) {
  const std::string t = text_of(path);
  return t.empty() ? -1 : std::strtoll(t.c_str(), nullptr, 10);
}

}  // namespace

NodeReading read_node(const std::vector<std::string>& filesystems, const std::string& proc) {
  NodeReading n;
  n.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  {
    std::istringstream in(text_of(proc + "/stat"));
    std::string line;
    if (std::getline(in, line) && line.rfind("cpu ", 0) == 0) {
      std::istringstream f(line.substr(4));
      static const char* kModes[] = {"user",   "nice", "system",  "idle",
                                     "iowait", "irq",  "softirq", "steal"};
      for (const char* mode : kModes) {
        double ticks = 0;
        if (!(f >> ticks)) break;
        n.cpu_seconds[mode] = ticks / hz;
      }
    }
  }
  {
    std::istringstream in(text_of(proc + "/meminfo"));
    std::string key, unit;
    int64_t kib = 0;
    while (in >> key >> kib >> unit) {
      if (key == "MemTotal:") n.memory_total_bytes = kib * 1024;
      if (key == "MemAvailable:") n.memory_available_bytes = kib * 1024;
    }
  }
  n.load1 = std::strtod(text_of(proc + "/loadavg").c_str(), nullptr);
  for (const auto& path : filesystems) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) continue;
    n.filesystems.push_back({path, static_cast<int64_t>(st.f_blocks * st.f_frsize),
                             static_cast<int64_t>(st.f_bavail * st.f_frsize)});
  }
  {
    // Two header lines, then "iface: rx_bytes packets ... (8 fields) tx_bytes ...".
    std::istringstream in(text_of(proc + "/net/dev"));
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line);) ++i;
    while (std::getline(in, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string dev = line.substr(0, colon);
      dev.erase(0, dev.find_first_not_of(' '));
      if (dev == "lo") continue;
      std::istringstream f(line.substr(colon + 1));
      int64_t v[9] = {0};
      for (auto& x : v) f >> x;
      n.networks.push_back({dev, v[0], v[8]});
    }
  }
  return n;
}

std::string run_of_pid(int64_t pid, const std::string& cgroup_name, const std::string& proc) {
  std::istringstream in(text_of(proc + "/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    // "hierarchy-id:controllers:/path/of/the/group"
    const auto colon = line.find(':', line.find(':') + 1);
    if (colon == std::string::npos) continue;
    const std::string path = line.substr(colon + 1);
    const std::string needle = "/" + cgroup_name + "/";
    const auto at = path.find(needle);
    if (at == std::string::npos) continue;
    const std::string rest = path.substr(at + needle.size());
    std::string run = rest.substr(0, rest.find('/'));
    if (!run.empty()) return run;
  }
  return "";
}

std::map<std::string, std::string> read_labels(const std::string& path) {
  std::map<std::string, std::string> out;
  const std::string text = text_of(path);
  if (text.empty()) return out;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

std::vector<JobReading> read_jobs(const std::string& cgroup_root, const std::string& cgroup_name,
                                  const std::string& jobs_dir) {
  std::map<std::string, JobReading> jobs;
  std::error_code ec;
  const std::string v2 = cgroup_root + "/" + cgroup_name;
  const bool unified = fs::exists(cgroup_root + "/cgroup.controllers", ec);
  auto each = [&](const std::string& parent, auto fn) {
    std::error_code e;
    for (const auto& entry : fs::directory_iterator(parent, e)) {
      if (!entry.is_directory(e)) continue;
      const std::string run = entry.path().filename().string();
      if (run.rfind("probe-", 0) == 0) continue;
      JobReading& j = jobs[run];
      j.run = run;
      fn(j, entry.path().string());
    }
  };
  if (unified) {
    each(v2, [](JobReading& j, const std::string& g) {
      j.cpu_seconds = keyed_number(text_of(g + "/cpu.stat"), "usage_usec") / 1e6;
      j.memory_bytes = std::max<int64_t>(0, number_of(g + "/memory.current"));
      const std::string max = text_of(g + "/memory.max");
      if (!max.empty() && max.rfind("max", 0) != 0) {
        j.memory_limit_bytes = std::strtoll(max.c_str(), nullptr, 10);
      }
    });
  } else {
    each(cgroup_root + "/memory/" + cgroup_name, [](JobReading& j, const std::string& g) {
      j.memory_bytes = std::max<int64_t>(0, number_of(g + "/memory.usage_in_bytes"));
      const int64_t limit = number_of(g + "/memory.limit_in_bytes");
      // v1 says "no limit" with a page-rounded maximum of the counter.
      if (limit > 0 && limit < (int64_t{1} << 60)) j.memory_limit_bytes = limit;
    });
    each(cgroup_root + "/cpuacct/" + cgroup_name, [](JobReading& j, const std::string& g) {
      j.cpu_seconds = std::max<int64_t>(0, number_of(g + "/cpuacct.usage")) / 1e9;
    });
  }
  std::vector<JobReading> out;
  for (auto& [run, j] : jobs) {
    if (!jobs_dir.empty()) j.labels = read_labels(jobs_dir + "/" + run + "/labels.json");
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace jz::gpu
