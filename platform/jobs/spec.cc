#include "platform/jobs/spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "platform/training/watch.h"
#include "sdk/manifest.h"

namespace jz::jobs {

namespace {

Status bad(const std::string& field, const std::string& what) {
  return Status::invalid_argument("field '" + field + "' " + what);
}

bool printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<int64_t> int_in(const Json& v, const std::string& field, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return bad(field, "must be an integer");
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) {
    return bad(field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return n;
}

Status parse_resources(const Json& r, Resources& out) {
  if (!r.is_object()) return bad("resources", "must be an object");
  static const std::set<std::string> known = {"gpus", "gpu_share", "cpu", "memory_mib"};
  for (const auto& [k, v] : r.items()) {
    if (!known.count(k)) {
      return bad("resources." + k, "is not a resource (use gpus, gpu_share, cpu, memory_mib)");
    }
  }
  if (r.contains("gpus") && r.contains("gpu_share")) {
    return bad("resources", "may have 'gpus' or 'gpu_share', not both");
  }
  if (r.contains("gpus")) {
    const Json& g = r["gpus"];
    if (!g.is_number()) return bad("resources.gpus", "must be a number");
    const double n = g.get<double>();
    if (!(n >= 0) || n > 64) return bad("resources.gpus", "must be from 0 to 64");
    // A fraction is kept in hundredths (the share's core percentage); 0.995 and up is a
    // whole GPU.
    const long percent = n > 0 && n < 1 ? std::lround(n * 100) : 0;
    if (n > 0 && n < 1 && percent < 100) {
      if (percent < 1) return bad("resources.gpus", "must be at least 0.01 when below 1");
      out.gpu_fraction = static_cast<double>(percent) / 100;
      out.share_cores_percent = static_cast<int>(percent);
    } else if (percent == 100) {
      out.gpus = 1;
    } else if (n != std::floor(n)) {
      return bad("resources.gpus", "above 1 must be a whole number (a share is one GPU at most)");
    } else {
      out.gpus = static_cast<int>(n);
    }
  }
  if (r.contains("gpu_share")) {
    const Json& s = r["gpu_share"];
    if (!s.is_object() || !s.contains("memory_mib") || !s.contains("cores_percent")) {
      return bad("resources.gpu_share", "must be an object with 'memory_mib' and 'cores_percent'");
    }
    for (const auto& [k, v] : s.items()) {
      if (k != "memory_mib" && k != "cores_percent") {
        return bad("resources.gpu_share." + k, "is unknown (use memory_mib, cores_percent)");
      }
    }
    JZ_ASSIGN_OR_RETURN(int64_t mem,
                        int_in(s["memory_mib"], "resources.gpu_share.memory_mib", 1, 1 << 22));
    JZ_ASSIGN_OR_RETURN(int64_t cores,
                        int_in(s["cores_percent"], "resources.gpu_share.cores_percent", 1, 100));
    out.share_memory_mib = static_cast<int>(mem);
    out.share_cores_percent = static_cast<int>(cores);
  }
  if (r.contains("cpu")) {
    const Json& c = r["cpu"];
    if (!c.is_number())
      return bad("resources.cpu", "must be a number of cores (fractions allowed)");
    const double n = c.get<double>();
    if (!(n >= 0.01) || n > 1024) return bad("resources.cpu", "must be from 0.01 to 1024");
    out.cpu_milli = static_cast<int64_t>(std::llround(n * 1000));
  }
  if (r.contains("memory_mib")) {
    JZ_ASSIGN_OR_RETURN(out.memory_mib,
                        int_in(r["memory_mib"], "resources.memory_mib", 16, int64_t{1} << 24));
  }
  return {};
}

}  // namespace

Json JobRequest::to_json() const {
  Json r = {{"cpu", static_cast<double>(resources.cpu_milli) / 1000},
            {"memory_mib", resources.memory_mib}};
  if (resources.gpu_fraction > 0) {
    r["gpus"] = resources.gpu_fraction;
  } else if (resources.share_cores_percent > 0) {
    r["gpu_share"] = {{"memory_mib", resources.share_memory_mib},
                      {"cores_percent", resources.share_cores_percent}};
  } else {
    r["gpus"] = resources.gpus;
  }
  Json j = {{"name", name},
            {"kind", kind},
            {"command", command},
            {"env", env},
            {"workdir", workdir},
            {"datasets", datasets},
            {"resources", r},
            {"pool", pool},
            {"priority", priority},
            {"preemptible", preemptible},
            {"restart_policy", restart_policy},
            {"max_restarts", max_restarts}};
  if (runtime_limit_s > 0) j["runtime_limit_s"] = runtime_limit_s;
  if (tools) j["tools"] = true;
  if (!image.empty()) j["image"] = image;
  if (kind == "devenv") {
    j["port"] = port;
    j["strip_prefix"] = strip_prefix;
  }
  if (!code_ref.empty()) {
    j["code"] = {{"ref", code_ref}};
    if (!code_commit.empty()) j["code"]["commit"] = code_commit;
  }
  if (kind == "devenv") j["code_write"] = code_write;
  if (!inputs.empty()) j["inputs"] = inputs;
  if (!monitor.is_null()) j["monitor"] = monitor;
  if (!algorithm_name.empty())
    j["algorithm"] = {{"name", algorithm_name}, {"version", algorithm_version}};
  if (!packages.empty() || !venv.empty()) {
    j["environment"] = Json::object();
    if (!packages.empty()) j["environment"]["packages"] = packages;
    if (!venv.empty()) j["environment"]["venv"] = venv;
  }
  return j;
}

Result<JobRequest> parse_job_request(const Json& body) {
  if (!body.is_object()) return Status::invalid_argument("a job must be a JSON object");
  static const std::set<std::string> known = {"name",
                                              "kind",
                                              "command",
                                              "env",
                                              "workdir",
                                              "datasets",
                                              "resources",
                                              "pool",
                                              "priority",
                                              "preemptible",
                                              "runtime_limit_s",
                                              "restart_policy",
                                              "max_restarts",
                                              "port",
                                              "strip_prefix",
                                              "code",
                                              "code_write",
                                              "inputs",
                                              "environment",
                                              "monitor",
                                              "algorithm",
                                              "image",
                                              "tools"};
  for (const auto& [k, v] : body.items()) {
    if (!known.count(k)) {
      return bad(k,
                 "is unknown; a job has: name, kind, command, env, workdir, datasets, "
                 "resources, pool, priority, preemptible, runtime_limit_s, restart_policy, "
                 "max_restarts, port, strip_prefix, code, inputs, environment, monitor, image, "
                 "tools");
    }
  }
  JobRequest j;
  if (!body.contains("name") || !body["name"].is_string()) {
    return bad("name", "is required and must be a string");
  }
  j.name = body["name"].get<std::string>();
  if (j.name.empty() || j.name.size() > 128 || !printable(j.name)) {
    return bad("name", "must be 1 to 128 printable characters");
  }
  if (body.contains("kind")) {
    if (!body["kind"].is_string()) return bad("kind", "must be a string");
    j.kind = body["kind"].get<std::string>();
    if (j.kind != "train" && j.kind != "eval" && j.kind != "devenv") {
      return bad("kind", "must be train, eval or devenv");
    }
  }
  if (!body.contains("command") || !body["command"].is_array() || body["command"].empty()) {
    return bad("command",
               "is required: a non-empty array of strings (the program, then its "
               "arguments)");
  }
  size_t total = 0;
  for (const auto& a : body["command"]) {
    if (!a.is_string()) return bad("command", "must hold strings only");
    j.command.push_back(a.get<std::string>());
    total += j.command.back().size();
    if (j.command.back().find('\0') != std::string::npos) {
      return bad("command", "may not hold NUL characters");
    }
  }
  if (j.command.front().empty()) return bad("command", "must start with a program");
  if (total > size_t{256} * 1024 || j.command.size() > 4096) {
    return bad("command", "is too long (256 KiB and 4096 arguments at most)");
  }
  if (body.contains("env")) {
    const Json& e = body["env"];
    if (!e.is_object()) return bad("env", "must be an object of strings");
    for (const auto& [k, v] : e.items()) {
      bool ok = !k.empty() && k.size() <= 128 && !(k[0] >= '0' && k[0] <= '9');
      for (char c : k) {
        ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_');
      }
      if (!ok) return bad("env." + k, "is not a valid variable name");
      if (k.rfind("JIZHAN_", 0) == 0 || k == "LD_PRELOAD" || k == "CUDA_VISIBLE_DEVICES") {
        return bad("env." + k, "is set by the platform");
      }
      if (!v.is_string()) return bad("env." + k, "must be a string");
      if (v.get<std::string>().find('\0') != std::string::npos) {
        return bad("env." + k, "may not hold NUL characters");
      }
      j.env[k] = v.get<std::string>();
    }
  }
  if (body.contains("image") && !body["image"].is_null()) {
    if (!body["image"].is_string()) return bad("image", "must be a string");
    j.image = body["image"].get<std::string>();
    const bool ok = !j.image.empty() && j.image.size() <= 255 && j.image[0] != '-' &&
                    std::all_of(j.image.begin(), j.image.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                             c == '-' || c == '/' || c == ':' || c == '@';
                    });
    if (!ok) {
      return bad("image",
                 "must be a container image reference such as registry.example.com/team/train:1.2 "
                 "(letters, digits and . _ - / : @; at most 255)");
    }
  }
  if (body.contains("workdir")) {
    if (!body["workdir"].is_string()) return bad("workdir", "must be a string");
    j.workdir = body["workdir"].get<std::string>();
    if (j.workdir.empty() || j.workdir[0] != '/' || j.workdir.size() > 1024 ||
        !printable(j.workdir)) {
      return bad("workdir", "must be an absolute path inside the sandbox (for example /job)");
    }
  }
  if (body.contains("datasets")) {
    const Json& d = body["datasets"];
    if (!d.is_array()) return bad("datasets", "must be an array of dataset names");
    std::set<std::string> seen;
    for (const auto& n : d) {
      if (!n.is_string() || n.get<std::string>().empty()) {
        return bad("datasets", "must hold dataset names");
      }
      if (!seen.insert(n.get<std::string>()).second) {
        return bad("datasets", "names '" + n.get<std::string>() + "' twice");
      }
      j.datasets.push_back(n.get<std::string>());
    }
    if (j.datasets.size() > 64) return bad("datasets", "may name 64 datasets at most");
  }
  if (body.contains("resources"))
    JZ_RETURN_IF_ERROR(parse_resources(body["resources"], j.resources));
  if (body.contains("pool")) {
    if (!body["pool"].is_string() || body["pool"].get<std::string>().empty()) {
      return bad("pool", "must be a pool name");
    }
    j.pool = body["pool"].get<std::string>();
  }
  if (body.contains("priority")) {
    JZ_ASSIGN_OR_RETURN(int64_t p, int_in(body["priority"], "priority", -1000, 1000));
    j.priority = static_cast<int>(p);
  }
  if (body.contains("tools")) {
    if (!body["tools"].is_boolean()) return bad("tools", "must be true or false");
    j.tools = body["tools"].get<bool>();
  }
  if (body.contains("preemptible")) {
    if (!body["preemptible"].is_boolean()) return bad("preemptible", "must be true or false");
    j.preemptible = body["preemptible"].get<bool>();
  }
  if (body.contains("monitor") && !body["monitor"].is_null()) {
    JZ_ASSIGN_OR_RETURN(auto watch, training::parse_watch_settings(body["monitor"]));
    j.monitor = watch.to_json();
  }
  if (body.contains("runtime_limit_s")) {
    JZ_ASSIGN_OR_RETURN(j.runtime_limit_s,
                        int_in(body["runtime_limit_s"], "runtime_limit_s", 1, 366LL * 24 * 3600));
  }
  if (body.contains("restart_policy")) {
    if (!body["restart_policy"].is_string()) return bad("restart_policy", "must be a string");
    j.restart_policy = body["restart_policy"].get<std::string>();
    if (j.restart_policy != "never" && j.restart_policy != "on_failure") {
      return bad("restart_policy", "must be never or on_failure");
    }
    if (j.restart_policy == "on_failure") j.max_restarts = 3;
  }
  if (body.contains("max_restarts")) {
    JZ_ASSIGN_OR_RETURN(int64_t m, int_in(body["max_restarts"], "max_restarts", 0, 100));
    if (j.restart_policy != "on_failure" && m > 0) {
      return bad("max_restarts", "needs restart_policy on_failure");
    }
    j.max_restarts = static_cast<int>(m);
  }
  if (body.contains("port")) {
    if (j.kind != "devenv") return bad("port", "is for devenv jobs only");
    JZ_ASSIGN_OR_RETURN(int64_t p, int_in(body["port"], "port", 1, 65535));
    j.port = static_cast<int>(p);
  }
  if (body.contains("strip_prefix")) {
    if (j.kind != "devenv") return bad("strip_prefix", "is for devenv jobs only");
    if (!body["strip_prefix"].is_boolean()) return bad("strip_prefix", "must be true or false");
    j.strip_prefix = body["strip_prefix"].get<bool>();
  }
  if (body.contains("code")) {
    // "main", or {"ref": "main"} (the stored form adds "commit").
    const Json& c = body["code"];
    Json ref = c.is_object() ? c.value("ref", Json()) : c;
    if (!ref.is_string() || !valid_ref(ref.get<std::string>())) {
      return bad("code",
                 "must name a branch, tag or commit of the project's repository (letters, "
                 "digits and . _ / -; for example \"main\" or {\"ref\": \"v1.2\"})");
    }
    j.code_ref = ref.get<std::string>();
    if (c.is_object()) {
      for (const auto& [k, v] : c.items()) {
        if (k != "ref" && k != "commit") return bad("code." + k, "is unknown (ref, commit)");
      }
      if (c.contains("commit")) {
        const Json& commit = c["commit"];
        if (!commit.is_string() || !is_commit_id(commit.get<std::string>())) {
          return bad("code.commit", "must be a full commit id (40 hexadecimal digits)");
        }
        j.code_commit = commit.get<std::string>();
      }
    }
  }
  if (body.contains("algorithm")) {
    const Json& a = body["algorithm"];
    if (!a.is_object() || !a.contains("name") || !a["name"].is_string() || !a.contains("version") ||
        !a["version"].is_string() || a.size() != 2 ||
        !sdk::valid_package_name(a["name"].get<std::string>()) ||
        !sdk::valid_version(a["version"].get<std::string>())) {
      return bad("algorithm",
                 "must be {\"name\": NAME, \"version\": VERSION} of an uploaded package");
    }
    j.algorithm_name = a["name"].get<std::string>();
    j.algorithm_version = a["version"].get<std::string>();
  }
  if (body.contains("code_write")) {
    if (!body["code_write"].is_boolean()) return bad("code_write", "must be true or false");
    j.code_write = body["code_write"].get<bool>();
  }
  if (body.contains("inputs")) {
    const Json& in = body["inputs"];
    if (!in.is_array() || in.size() > 16) {
      return bad("inputs", "must be an array of at most 16 job ids of this project");
    }
    std::set<std::string> seen;
    for (const auto& id : in) {
      if (!id.is_string() || id.get<std::string>().empty() || id.get<std::string>().size() > 64 ||
          id.get<std::string>().find_first_of("/.") != std::string::npos) {
        return bad("inputs", "must hold job ids (for example job_01h...)");
      }
      if (!seen.insert(id.get<std::string>()).second) {
        return bad("inputs", "names job '" + id.get<std::string>() + "' twice");
      }
      j.inputs.push_back(id.get<std::string>());
    }
  }
  if (body.contains("environment")) {
    const Json& e = body["environment"];
    if (!e.is_object()) return bad("environment", "must be an object: {packages, venv}");
    for (const auto& [k, v] : e.items()) {
      if (k != "packages" && k != "venv")
        return bad("environment." + k, "is unknown (packages, venv)");
    }
    if (e.contains("packages")) {
      const Json& p = e["packages"];
      if (!p.is_array() || p.size() > 64) {
        return bad("environment.packages", "must be an array of at most 64 Debian package names");
      }
      for (const auto& n : p) {
        if (!n.is_string() || !valid_package(n.get<std::string>())) {
          return bad("environment.packages",
                     "must hold Debian package names (lower-case letters, digits, + - . ; for "
                     "example python3-numpy)");
        }
        j.packages.push_back(n.get<std::string>());
      }
    }
    if (e.contains("venv")) {
      const Json& v = e["venv"];
      static const auto ok_name = [](const std::string& n) {
        if (n.empty() || n.size() > 63 || !std::isalnum(static_cast<unsigned char>(n[0]))) {
          return false;
        }
        for (unsigned char c : n) {
          if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
        }
        return n.find("..") == std::string::npos;
      };
      if (!v.is_string() || !ok_name(v.get<std::string>())) {
        return bad("environment.venv",
                   "must name a venv of the project's volume (letters, digits, - _ .; for "
                   "example \"default\")");
      }
      j.venv = v.get<std::string>();
    }
  }
  return j;
}

bool valid_package(const std::string& name) {
  // Debian Policy 5.6.1: lower-case letters, digits, + - .; at least two characters,
  // starting with a letter or digit.
  if (name.size() < 2 || name.size() > 100) return false;
  if (!std::islower(static_cast<unsigned char>(name[0])) &&
      !std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (unsigned char c : name) {
    if (!std::islower(c) && !std::isdigit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

bool valid_ref(const std::string& ref) {
  if (ref.empty() || ref.size() > 200 || ref[0] == '-' || ref[0] == '/' || ref.back() == '/' ||
      ref.back() == '.' || ref.find("..") != std::string::npos ||
      ref.find("//") != std::string::npos || ref.find("@{") != std::string::npos) {
    return false;
  }
  for (unsigned char c : ref) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '/' && c != '-') return false;
  }
  return true;
}

bool is_commit_id(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace jz::jobs
