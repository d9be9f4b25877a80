// What a job asks for: the body of POST /api/v1/projects/{project}/jobs, parsed and
// validated (every message names its field), and stored normalized in the job's row.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::jobs {

struct Resources {
  // Whole GPUs; or a share of one GPU (share_cores_percent > 0). A fractional `gpus`
  // below 1 becomes a share: that fraction of the cores and of the device's memory.
  int gpus = 0;
  double gpu_fraction = 0;  // 0 < f < 1 when given as "gpus": 0.5
  int share_memory_mib = 0;
  int share_cores_percent = 0;
  int64_t cpu_milli = 1000;
  int64_t memory_mib = 1024;
  bool is_share() const { return gpu_fraction > 0 || share_cores_percent > 0; }
};

struct JobRequest {
  std::string name;
  std::string kind = "train";  // train | eval | devenv
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string workdir = "/job";
  // A container image (Kubernetes clusters run the job in it; this machine runs jobs on its
  // own system, so a job naming one is placed on a cluster). "": the cluster's default.
  std::string image;
  std::vector<std::string> datasets;
  Resources resources;
  std::string pool = "default";
  int priority = 0;
  bool preemptible = true;
  // The platform's programs (jizhan-algo) read-only at /opt/jizhan/bin: what curation jobs
  // run (evaluations get them anyway). On a Kubernetes cluster the server's folder of
  // programs needs a volume of the cluster.
  bool tools = false;
  int64_t runtime_limit_s = 0;           // 0: none
  std::string restart_policy = "never";  // never | on_failure
  int max_restarts = 0;
  int port = 8888;  // devenv: the HTTP port inside its sandbox
  // devenv: whether its server sees the proxy's whole path (/devenvs/ID/x, for servers
  // with a base URL such as Jupyter's) or the path below it (/x).
  bool strip_prefix = false;
  // Project code (platform/jobs/code.h): the ref the submitter named ("main", a tag, a
  // commit), and the commit it resolved to at submission (the API fills it; a retry runs
  // the same commit). Mounted read-only at /code. Empty: no code.
  std::string code_ref, code_commit;
  // devenv: the project's repository is mounted at /code.git read-write (the submitter
  // may push) or read-only. Set by the API from the submitter's rights, never by them.
  bool code_write = false;
  // Jobs of the same project whose outputs this job reads, at /inputs/<job id>
  // (read-only; held outputs stay inside the project: see platform/jobs/outputs.h).
  std::vector<std::string> inputs;
  // The environment the command needs (platform/jobs/environment.h): Debian packages
  // that must be installed on the node, and a Python venv in the project's volume
  // (/project/venvs/NAME, made on first use, with the system's packages visible).
  std::vector<std::string> packages;
  std::string venv;
  // How the job is watched unattended (platform/training/watch.h): null for the defaults.
  Json monitor;
  // An evaluation of the automatic test service (platform/autotest): the project's
  // uploaded algorithm package (name and version) it runs, read-only at /algorithm, with
  // the platform's programs at /opt/jizhan/bin. Set by that service only: a submitted job
  // that names one is refused by the API.
  std::string algorithm_name, algorithm_version;

  Json to_json() const;
};

// Parses and validates a request body (also the stored, normalized form).
Result<JobRequest> parse_job_request(const Json& body);

// A git ref (or abbreviated commit) a job may name: letters, digits, . _ / -, no "..",
// not starting with '-' (never an option to git).
bool valid_ref(const std::string& ref);
// A Debian package name (Policy 5.6.1).
bool valid_package(const std::string& name);
// 40 lower-case hexadecimal digits.
bool is_commit_id(const std::string& s);

}  // namespace jz::jobs
