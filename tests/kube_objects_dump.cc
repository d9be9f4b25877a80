// Writes every kind of object the Kubernetes executor makes (exec/kubernetes/objects.h)
// for a range of jobs (secret and open data, one worker and a gang, whole GPUs, a GPU
// share, volumes from claims and host paths, an output claim) as one JSON list, for
// deploy/kubernetes/check to validate against the Kubernetes OpenAPI schemas.
#include <fstream>
#include <iostream>

#include "exec/kubernetes/objects.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: kube_objects_dump OUT.json\n";
    return 2;
  }
  using jz::Json;
  jz::kube::ClusterConfig c;
  c.name = "check";
  c.volumes = {{"/srv/jizhan/datasets", "datasets", ""},
               {"/srv/jizhan/volumes", "", "/mnt/volumes"}};
  c.runtime_class = "nvidia";
  c.image_pull_secrets = {"registry"};
  c.priority_class = "jizhan-jobs";
  Json all = Json::array();
  auto add = [&](const jz::exec::LaunchSpec& s, const jz::kube::ClusterConfig& cluster) {
    auto o = jz::kube::make_objects(s, cluster);
    if (!o.ok()) {
      std::cerr << "kube_objects_dump: " << o.status().message() << "\n";
      std::exit(1);
    }
    for (const Json* j :
         {&o->namespace_object, &o->job, &o->service, &o->network_policy, &o->vgpu_config}) {
      if (!j->is_null()) all.push_back(*j);
    }
  };
  jz::exec::LaunchSpec s;
  s.job_id = "job_01JSECRET-1";
  s.command = {"python3", "train.py"};
  s.env = {{"EPOCHS", "3"}};
  s.network = jz::exec::Network::kNone;
  s.cpu_milli = 2000;
  s.memory_mib = 4096;
  s.uid = s.gid = 20001;
  s.labels = {{"job", "job_01JSECRET"}, {"project", "vision"}, {"user", "alice@example.com"}};
  s.read_only = {{"/srv/jizhan/datasets/faces", "/data"}};
  s.read_write = {{"/srv/jizhan/volumes/prj_1", "/project"}};
  s.workers = {{"gpu-1", {"GPU-a", "GPU-b"}}};
  s.runtime_limit_s = 3600;
  add(s, c);
  s.job_id = "job_01JGANG-2";
  s.network = jz::exec::Network::kEgress;
  s.workers = {
      {"gpu-1", {"GPU-a"}}, {"gpu-2", {"GPU-c"}}, {"gpu-2", {"GPU-d"}}, {"gpu-3", {"GPU-e"}}};
  add(s, c);
  s.job_id = "job_01JGANGSECRET-1";
  s.network = jz::exec::Network::kNone;
  add(s, c);
  s.job_id = "job_01JSHARE-1";
  s.workers = {{"gpu-1", {"GPU-a"}}};
  s.share_memory_mib = 8192;
  s.share_cores_percent = 30;
  add(s, c);
  jz::kube::ClusterConfig out = c;
  out.output_claim = "jizhan-outputs";
  s.job_id = "job_01JCPU-1";
  s.workers = {{"cpu-1", {}}};
  s.share_memory_mib = s.share_cores_percent = 0;
  s.cpu_milli = 500;
  add(s, out);
  std::ofstream f(argv[1]);
  f << all.dump(2) << "\n";
  std::cout << all.size() << " objects written to " << argv[1] << "\n";
  return f ? 0 : 1;
}
