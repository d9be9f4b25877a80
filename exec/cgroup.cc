#include "exec/cgroup.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/files.h"
#include "core/text.h"

namespace jz::exec {

namespace fs = std::filesystem;

namespace {

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

std::string read_text(const std::string& path) {
  auto r = read_file(path);
  return r.ok() ? *r : "";
}

bool writable_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && ::access(path.c_str(), W_OK) == 0;
}

}  // namespace

Cgroups Cgroups::detect(const std::string& name) {
  Cgroups c;
  const std::string v2 = "/sys/fs/cgroup";
  if (read_text(v2 + "/cgroup.controllers").find("memory") != std::string::npos &&
      writable_dir(v2)) {
    std::error_code ec;
    fs::create_directories(v2 + "/" + name, ec);
    if (!ec) {
      // Controllers must be enabled down the path to the jobs' groups. Inside a container
      // the top group may hold processes, which v2 forbids: check that a job's group would
      // get the memory and CPU files before relying on it.
      write_text(v2 + "/cgroup.subtree_control", "+memory +cpu +pids");
      write_text(v2 + "/" + name + "/cgroup.subtree_control", "+memory +cpu +pids");
      const std::string probe = v2 + "/" + name + "/probe-" + std::to_string(::getpid());
      fs::create_directories(probe, ec);
      const bool usable =
          !ec && fs::exists(probe + "/memory.max") && fs::exists(probe + "/cpu.max");
      c.pids_ = usable && fs::exists(probe + "/pids.max");
      ::rmdir(probe.c_str());
      if (usable) {
        c.version_ = "v2";
        c.parents_ = {v2 + "/" + name};
        return c;
      }
    }
  }
  std::vector<std::string> parents;
  for (const char* ctl : {"memory", "cpu", "cpuacct", "pids"}) {
    const std::string root = v2 + "/" + ctl;
    if (!writable_dir(root)) continue;
    std::error_code ec;
    fs::create_directories(root + "/" + name, ec);
    if (!ec) parents.push_back(root + "/" + name);
  }
  if (!parents.empty() && parents[0].find("/memory/") != std::string::npos) {
    c.version_ = "v1";
    c.parents_ = parents;
    c.pids_ = parents.back().find("/pids/") != std::string::npos;
  }
  return c;
}

Result<std::vector<std::string>> Cgroups::create(const std::string& job_id, int64_t cpu_milli,
                                                 int64_t memory_mib, int64_t max_pids) const {
  std::vector<std::string> groups;
  for (const auto& parent : parents_) {
    const std::string g = parent + "/" + job_id;
    std::error_code ec;
    fs::create_directories(g, ec);
    if (ec) return Status::unavailable("cannot create cgroup " + g + ": " + ec.message());
    groups.push_back(g);
  }
  const int64_t period = 100000;
  for (const auto& g : groups) {
    bool ok = true;
    if (version_ == "v2") {
      if (memory_mib > 0) {
        ok = ok && write_text(g + "/memory.max", std::to_string(memory_mib << 20));
        write_text(g + "/memory.swap.max", "0");
      }
      if (cpu_milli > 0) {
        ok = ok && write_text(g + "/cpu.max", std::to_string(cpu_milli * period / 1000) + " " +
                                                  std::to_string(period));
      }
      if (max_pids > 0 && pids_) ok = ok && write_text(g + "/pids.max", std::to_string(max_pids));
    } else if (g.find("/pids/") != std::string::npos && max_pids > 0) {
      ok = write_text(g + "/pids.max", std::to_string(max_pids));
    } else if (g.find("/memory/") != std::string::npos && memory_mib > 0) {
      ok = write_text(g + "/memory.limit_in_bytes", std::to_string(memory_mib << 20));
      // No swap beyond the limit where the kernel accounts it.
      if (fs::exists(g + "/memory.memsw.limit_in_bytes")) {
        write_text(g + "/memory.memsw.limit_in_bytes", std::to_string(memory_mib << 20));
      }
    } else if (g.find("/cpu/") != std::string::npos && cpu_milli > 0) {
      ok = write_text(g + "/cpu.cfs_period_us", std::to_string(period)) &&
           write_text(g + "/cpu.cfs_quota_us", std::to_string(cpu_milli * period / 1000));
    }
    if (!ok) return Status::unavailable("cannot set the limits of cgroup " + g);
  }
  return groups;
}

Status Cgroups::join(const std::vector<std::string>& groups, int pid) {
  for (const auto& g : groups) {
    if (!write_text(g + "/cgroup.procs", std::to_string(pid))) {
      return Status::unavailable("cannot join cgroup " + g);
    }
  }
  return {};
}

std::vector<int> Cgroups::pids(const std::string& group) {
  std::vector<int> out;
  std::istringstream in(read_text(group + "/cgroup.procs"));
  int p;
  while (in >> p) out.push_back(p);
  return out;
}

Cgroups::Usage Cgroups::usage(const std::vector<std::string>& groups, const std::string& version) {
  Usage u;
  for (const auto& g : groups) {
    // pids.events: "max N", the forks refused at pids.max (v1 and v2 alike).
    u.pids_limit_hits =
        std::max(u.pids_limit_hits, keyed_number(read_text(g + "/pids.events"), "max"));
    if (version == "v2") {
      u.oom_killed = keyed_number(read_text(g + "/memory.events"), "oom_kill") > 0;
      u.max_memory_bytes = std::strtoll(read_text(g + "/memory.peak").c_str(), nullptr, 10);
      u.cpu_usage_ms = keyed_number(read_text(g + "/cpu.stat"), "usage_usec") / 1000;
    } else if (g.find("/memory/") != std::string::npos) {
      u.oom_killed = keyed_number(read_text(g + "/memory.oom_control"), "oom_kill") > 0;
      u.max_memory_bytes =
          std::strtoll(read_text(g + "/memory.max_usage_in_bytes").c_str(), nullptr, 10);
    } else if (g.find("/cpuacct/") != std::string::npos) {
      u.cpu_usage_ms = std::strtoll(read_text(g + "/cpuacct.usage").c_str(), nullptr, 10) / 1000000;
    }
  }
  return u;
}

bool Cgroups::remove(const std::string& group) {
  // Only an empty group can go (v1 and v2).
  if (::rmdir(group.c_str()) == 0 || errno == ENOENT) return true;
  for (int p : pids(group)) ::kill(p, SIGKILL);
  return ::rmdir(group.c_str()) == 0 || errno == ENOENT;
}

}  // namespace jz::exec
