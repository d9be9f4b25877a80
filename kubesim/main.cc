// jizhan-kubesim: the Kubernetes API test server (kubesim/kubesim.h) as a program, for
// trying the Kubernetes executor and deploy/kubernetes/smoke without a cluster.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "kubesim/kubesim.h"

namespace {

const char* kUsage = R"(usage: jizhan-kubesim [options]

A Kubernetes API test server: namespaces, nodes, pods (+log), services, jobs,
network policies, persistent volume claims and config maps, with a job controller,
a scheduler and a kubelet that runs each container's command as a local process.
It is a test double for Jizhan's Kubernetes executor, not a cluster.

options:
  --listen HOST:PORT       where to listen (default 127.0.0.1:6443; port 0: any)
  --node NAME[:CPU[:MEM_MIB[:GPUS[:PRODUCT]]]]
                           a node (repeat; default one node "node-1" with 16 CPUs,
                           64 GiB and no GPU)
  --token USER=TOKEN       a user and bearer token with every right (repeat; none:
                           anonymous requests are allowed)
  --tls-cert FILE --tls-key FILE
                           serve HTTPS with this certificate and key
  --client-ca FILE         also accept client certificates signed by this CA (CN = user)
  --unpullable IMAGE       an image the kubelet cannot pull (repeat)
  --port-file FILE         write the port listened on to FILE once listening
  -h, --help               this help
)";

volatile sig_atomic_t stop = 0;

}  // namespace

int main(int argc, char** argv) {
  jz::kubesim::Options o;
  o.port = 6443;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a != "-h" && a != "--help" && a.rfind("--", 0) == 0 && i + 1 >= argc) {
      std::fprintf(stderr, "jizhan-kubesim: %s needs a value (see --help)\n", a.c_str());
      return 2;
    }
    auto value = [&]() -> std::string { return argv[++i]; };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--listen") {
      const std::string v = value();
      const size_t colon = v.rfind(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "jizhan-kubesim: --listen wants HOST:PORT, got '%s'\n", v.c_str());
        return 2;
      }
      o.listen_host = v.substr(0, colon);
      o.port = static_cast<int>(std::strtol(v.c_str() + colon + 1, nullptr, 10));
    } else if (a == "--node") {
      const std::string v = value();
      jz::kubesim::NodeConfig n;
      std::vector<std::string> f;
      size_t start = 0;
      while (true) {
        const size_t c = v.find(':', start);
        f.push_back(v.substr(start, c == std::string::npos ? c : c - start));
        if (c == std::string::npos) break;
        start = c + 1;
      }
      n.name = f[0];
      if (f.size() > 1) n.cpu_milli = std::strtoll(f[1].c_str(), nullptr, 10) * 1000;
      if (f.size() > 2) n.memory_mib = std::strtoll(f[2].c_str(), nullptr, 10);
      if (f.size() > 3) n.gpus = static_cast<int>(std::strtol(f[3].c_str(), nullptr, 10));
      if (f.size() > 4) n.gpu_product = f[4];
      o.nodes.push_back(n);
    } else if (a == "--token") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) {
        std::fprintf(stderr, "jizhan-kubesim: --token wants USER=TOKEN\n");
        return 2;
      }
      o.users.push_back({v.substr(0, eq), v.substr(eq + 1), {}});
    } else if (a == "--tls-cert") {
      o.tls_cert_file = value();
    } else if (a == "--tls-key") {
      o.tls_key_file = value();
    } else if (a == "--client-ca") {
      o.client_ca_file = value();
    } else if (a == "--unpullable") {
      o.unpullable_images.insert(value());
    } else if (a == "--port-file") {
      port_file = value();
    } else {
      std::fprintf(stderr, "jizhan-kubesim: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (o.nodes.empty()) o.nodes.push_back({.name = "node-1"});
  auto sim = jz::kubesim::KubeSim::start(o);
  if (!sim.ok()) {
    std::fprintf(stderr, "jizhan-kubesim: %s\n", sim.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "jizhan-kubesim: listening on %s\n", (*sim)->url().c_str());
  if (!port_file.empty()) {
    FILE* f = std::fopen(port_file.c_str(), "w");
    if (f) {
      std::fprintf(f, "%d\n", (*sim)->port());
      std::fclose(f);
    }
  }
  ::signal(SIGINT, [](int) { stop = 1; });
  ::signal(SIGTERM, [](int) { stop = 1; });
  ::signal(SIGPIPE, SIG_IGN);
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}
