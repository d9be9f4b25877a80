// jizhan-agent: the node agent. Samples the node's GPUs (NVML), their processes mapped to
// jobs, GPU health, and the node's and jobs' CPU, memory, disk and network every interval;
// serves the last sample as Prometheus text (/metrics) and JSON (/v1/sample). Small on
// purpose: it links nothing but the C library dynamically (NVML is dlopen'ed), so a plain
// copy runs on any Linux GPU machine. docs/MONITORING.md.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "core/files.h"
#include "core/text.h"
#include "core/version.h"
#include "gpu/monitor.h"
#include "http/server.h"

namespace {

constexpr const char* kUsage = R"(Usage: jizhan-agent [options]

Samples this node's GPUs (through NVML), the processes on them mapped to the platform's
jobs, GPU health (XID errors, lost GPUs), and the node's and each job's CPU, memory, disk
and network, and serves the last sample over HTTP:
  GET /metrics     Prometheus text: dcgm-exporter's names and labels for GPUs, jizhan_*
                   for jobs, the node and the agent
  GET /v1/sample   the same sample as JSON
  GET /healthz     "ok"
Without an NVIDIA driver it runs and reports no GPUs.

Options:
  --listen HOST:PORT     address to serve on (default 127.0.0.1:9400; port 0: any free
                         port, printed on stdout)
  --interval SECONDS     time between samples (default 1)
  --token-file PATH      require "Authorization: Bearer <the file's first line>" on
                         every request (for agents reachable from other machines)
  --nvml-library PATH    NVML to load (default libnvidia-ml.so.1; or JIZHAN_NVML_LIBRARY)
  --cgroup-root PATH     where control groups are mounted (default /sys/fs/cgroup)
  --cgroup-name NAME     the folder the executor puts jobs' groups in (default jizhan)
  --jobs-dir PATH        the executor's jobs folder, whose <run>/labels.json name each
                         job's job, project, workspace and user
  --filesystem PATH      report the file system holding PATH (repeatable)
  --hostname NAME        the Hostname label (default: the machine's name)
  --once                 print one sample to stdout and exit (with --json: as JSON)
  --json                 with --once: JSON instead of Prometheus text
  --port-file PATH       write the port bound to PATH once listening
  --exit-with-parent     stop when the process that started it ends (how the server runs
                         it: no agent outlives a server that was killed)
  --help                 this text
  --version              the version
)";

struct Args {
  int exit = -1;  // >= 0: parsing decided the exit status (help, version, an error)
  std::string host = "127.0.0.1";
  int port = 9400;
  double interval_s = 1;
  std::string token_file, port_file;
  bool once = false, json = false, exit_with_parent = false;
  jz::gpu::MonitorOptions monitor;
};

int usage_error(const std::string& message) {
  std::cerr << "jizhan-agent: " << message << "\nRun jizhan-agent --help for the options.\n";
  return 2;
}

Args parse(int argc, char** argv) {
  Args a;
  if (const char* lib = std::getenv("JIZHAN_NVML_LIBRARY"); lib && *lib) {
    a.monitor.nvml_library = lib;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        a.exit = usage_error(arg + " needs a value");
        return "";
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      a.exit = 0;
    } else if (arg == "--version") {
      std::cout << "jizhan-agent " << jz::version() << " (" << jz::git_revision() << ")\n";
      a.exit = 0;
    } else if (arg == "--listen") {
      const std::string v = value();
      const auto colon = v.rfind(':');
      const int64_t port =
          colon == std::string::npos ? -1 : jz::parse_int64(v.substr(colon + 1)).value_or(-1);
      if (port < 0 || port > 65535 || colon == 0) {
        a.exit = usage_error("--listen wants HOST:PORT (e.g. 127.0.0.1:9400), not '" + v + "'");
      }
      a.host = v.substr(0, colon == std::string::npos ? 0 : colon);
      a.port = static_cast<int>(port);
    } else if (arg == "--interval") {
      const std::string v = value();
      char* end = nullptr;
      a.interval_s = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || !(a.interval_s >= 0.05 && a.interval_s <= 3600)) {
        a.exit = usage_error("--interval wants seconds between 0.05 and 3600, not '" + v + "'");
      }
    } else if (arg == "--token-file") {
      a.token_file = value();
    } else if (arg == "--port-file") {
      a.port_file = value();
    } else if (arg == "--nvml-library") {
      a.monitor.nvml_library = value();
    } else if (arg == "--cgroup-root") {
      a.monitor.cgroup_root = value();
    } else if (arg == "--cgroup-name") {
      a.monitor.cgroup_name = value();
    } else if (arg == "--jobs-dir") {
      a.monitor.jobs_dir = value();
    } else if (arg == "--filesystem") {
      a.monitor.filesystems.push_back(value());
    } else if (arg == "--hostname") {
      a.monitor.hostname = value();
    } else if (arg == "--once") {
      a.once = true;
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--exit-with-parent") {
      a.exit_with_parent = true;
    } else {
      a.exit = usage_error("unknown option '" + arg + "'");
    }
    if (a.exit >= 0) return a;
  }
  if (a.json && !a.once) {
    a.exit = usage_error("--json goes with --once (the server serves both forms)");
  }
  return a;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The last sample, rendered once per sample so that scrapes cost a copy.
class Latest {
 public:
  void set(const jz::gpu::Snapshot& s) {
    std::string text = jz::gpu::render_prometheus(s);
    std::string json = jz::gpu::to_json(s).dump();
    std::lock_guard lock(mu_);
    text_ = std::move(text);
    json_ = std::move(json);
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }
  std::string json() const {
    std::lock_guard lock(mu_);
    return json_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_, json_;
};

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  if (args.exit >= 0) return args.exit;
  std::string token;
  if (!args.token_file.empty()) {
    auto t = jz::read_file(args.token_file);
    if (!t.ok()) return usage_error("cannot read --token-file: " + t.status().message());
    token = t->substr(0, t->find_first_of("\r\n"));
    if (token.size() < 16) {
      return usage_error("the token in --token-file is shorter than 16 characters");
    }
  }
  jz::gpu::Monitor monitor(args.monitor);
  if (args.once) {
    auto s = monitor.sample(now_ms());
    std::cout << (args.json ? jz::gpu::to_json(s).dump(2) + "\n" : jz::gpu::render_prometheus(s));
    return 0;
  }
  if (!monitor.has_nvml()) {
    std::cerr << "jizhan-agent: no NVML (" << monitor.sample(now_ms()).nvml
              << "): reporting no GPUs\n";
  }

  const pid_t parent = getppid();
  if (args.exit_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);  // and checked each sample
  // Signals go to one thread that stops the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Latest latest;
  latest.set(monitor.sample(now_ms()));
  jz::http::ServerOptions so;
  so.host = args.host;
  so.port = args.port;
  so.threads = 2;
  so.max_body_bytes = 4096;
  so.max_connections = 256;
  so.max_connections_per_client = 64;
  so.stop_grace = std::chrono::milliseconds(1000);
  auto handler = [&](jz::http::Request& req) {
    jz::http::Response r;
    if (!token.empty() && req.headers.get("Authorization") != "Bearer " + token) {
      r.status = 401;
      r.headers.add("WWW-Authenticate", "Bearer");
      r.headers.add("Content-Type", "text/plain; charset=utf-8");
      r.body = "a bearer token is required (the agent's --token-file)\n";
      return r;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      r.status = 405;
      r.headers.add("Allow", "GET, HEAD");
      r.body = "only GET\n";
      return r;
    }
    if (req.path == "/metrics") {
      r.headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = latest.text();
    } else if (req.path == "/v1/sample") {
      r.headers.add("Content-Type", "application/json");
      r.body = latest.json();
    } else if (req.path == "/healthz") {
      r.headers.add("Content-Type", "text/plain; charset=utf-8");
      r.body = "ok\n";
    } else {
      r.status = 404;
      r.headers.add("Content-Type", "text/plain; charset=utf-8");
      r.body = "not found: the agent serves /metrics, /v1/sample and /healthz\n";
    }
    return r;
  };
  jz::http::Server server(so, handler);
  if (auto st = server.bind(); !st.ok()) {
    std::cerr << "jizhan-agent: " << st.message() << "\n";
    return 1;
  }
  std::cout << "jizhan-agent listening on " << args.host << ":" << server.port() << std::endl;
  if (!args.port_file.empty()) {
    const std::string tmp = args.port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), args.port_file.c_str());
  }

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread sampler([&] {
    const auto every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(args.interval_s));
    auto next = std::chrono::steady_clock::now() + every;
    std::unique_lock lock(mu);
    while (!cv.wait_until(lock, next, [&] { return stopping; })) {
      if (args.exit_with_parent && getppid() != parent) {
        std::cerr << "jizhan-agent: the process that started it is gone; stopping\n";
        stopping = true;
        server.stop();
        break;
      }
      lock.unlock();
      latest.set(monitor.sample(now_ms()));
      lock.lock();
      next += every;
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now + every;  // fell behind: skip, do not burst
    }
  });
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{};
    tick.tv_nsec = 200L * 1000 * 1000;
    while (!done) {
      if (sigtimedwait(&set, nullptr, &tick) < 0) continue;  // timeout or EINTR
      {
        std::lock_guard lock(mu);
        stopping = true;
      }
      cv.notify_all();
      server.stop();
      return;
    }
  });
  auto st = server.run();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  sampler.join();
  done = true;
  signals.join();
  if (!st.ok()) {
    std::cerr << "jizhan-agent: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
