#include "kubesim/kubesim.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/random.h"
#include "kubesim/quantity.h"

namespace jz::kubesim {
namespace {

namespace fs = std::filesystem;
using SteadyTime = std::chrono::steady_clock::time_point;

struct ResourceInfo {
  std::string group, version, resource, kind;
  bool namespaced;
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

const std::vector<ResourceInfo>& resources() {
  static const std::vector<ResourceInfo> kAll = {
      {"", "v1", "namespaces", "Namespace", false},
      {"", "v1", "nodes", "Node", false},
      {"", "v1", "pods", "Pod", true},
      {"", "v1", "services", "Service", true},
      {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true},
      {"", "v1", "configmaps", "ConfigMap", true},
      {"batch", "v1", "jobs", "Job", true},
      {"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true},
  };
  return kAll;
}

const ResourceInfo* resource_named(const std::string& group, const std::string& version,
                                   const std::string& name) {
  for (const auto& r : resources()) {
    if (r.group == group && r.version == version && r.resource == name) return &r;
  }
  return nullptr;
}

const ResourceInfo& info_of(const std::string& resource) {
  for (const auto& r : resources()) {
    if (r.resource == resource) return r;
  }
  return resources()[0];
}

// An API error as the API server sends it: a Status object.
struct ApiError {
  int code;
  std::string reason, message;
};

Json status_json(const ApiError& e) {
  return {{"kind", "Status"},    {"apiVersion", "v1"},   {"metadata", Json::object()},
          {"status", "Failure"}, {"message", e.message}, {"reason", e.reason},
          {"code", e.code}};
}

void send(httplib::Response& res, int code, const Json& body) {
  res.status = code;
  res.set_content(json::dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send(res, e.code, status_json(e)); }

std::string key_of(const std::string& resource, const std::string& ns, const std::string& name) {
  return resource + "|" + ns + "|" + name;
}

std::string rfc3339_now() {
  return format_rfc3339(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

// "2026-12-06T07:22:48.123456Z" (microseconds, as pods/log?timestamps=true gives them).
std::string rfc3339_micros(int64_t unix_us) {
  const std::time_t secs = unix_us / 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(unix_us % 1000000));
  return buf;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool dns_label(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (c == '-' && i > 0 && i + 1 < s.size()) ||
                    (c == '.' && max > 63 && i > 0 && i + 1 < s.size());
    if (!ok) return false;
  }
  return true;
}

// RFC 7386 JSON merge patch.
void merge_patch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      target.erase(k);
    } else {
      merge_patch(target[k], v);
    }
  }
}

const Json& at_or_null(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string str_at(const Json& j, const char* a, const char* b = nullptr) {
  const Json& x = at_or_null(j, a);
  const Json& y = b ? at_or_null(x, b) : x;
  return y.is_string() ? y.get<std::string>() : "";
}

int64_t int_at(const Json& j, const char* a, const char* b, int64_t fallback) {
  const Json& y = at_or_null(at_or_null(j, a), b);
  return y.is_number_integer() ? y.get<int64_t>() : fallback;
}

struct Requests {
  int64_t cpu_milli = 0, memory_bytes = 0, gpus = 0;
};

// What a pod asks for (requests, or limits where it gives no request).
Requests pod_requests(const Json& pod) {
  Requests r;
  for (const auto& c : at_or_null(at_or_null(pod, "spec"), "containers")) {
    const Json& res = at_or_null(c, "resources");
    auto get = [&](const char* name) -> int64_t {
      for (const char* part : {"requests", "limits"}) {
        const Json& q = at_or_null(at_or_null(res, part), name);
        if (q.is_string()) {
          auto v = parse_quantity_milli(q.get<std::string>());
          if (v.ok()) return *v;
        } else if (q.is_number()) {
          return static_cast<int64_t>(q.get<double>() * 1000);
        }
      }
      return 0;
    };
    r.cpu_milli += get("cpu");
    r.memory_bytes += get("memory") / 1000;
    r.gpus += get("nvidia.com/gpu") / 1000;
  }
  return r;
}

int64_t memory_limit_bytes(const Json& pod) {
  int64_t total = 0;
  for (const auto& c : at_or_null(at_or_null(pod, "spec"), "containers")) {
    const Json& q = at_or_null(at_or_null(at_or_null(c, "resources"), "limits"), "memory");
    if (!q.is_string()) return 0;
    auto v = parse_quantity_milli(q.get<std::string>());
    if (!v.ok()) return 0;
    total += *v / 1000;
  }
  return total;
}

bool terminal(const Json& pod) {
  const std::string phase = str_at(pod, "status", "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Resident memory of a process and its descendants, in bytes.
int64_t tree_rss(pid_t pid, int depth = 0) {
  if (depth > 32) return 0;
  int64_t total = 0;
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  if (statm >> size >> resident) total += resident * ::sysconf(_SC_PAGESIZE);
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream children(t.path() / "children");
    pid_t child;
    while (children >> child) total += tree_rss(child, depth + 1);
  }
  return total;
}

struct PodLog {
  std::vector<std::pair<int64_t, std::string>> lines;  // (unix us, text with its newline)
  bool done = false;
};

struct Proc {
  pid_t pid = 0;
  int64_t memory_limit = 0;
  // Read end of a close-on-exec pipe the child holds until its exec: until it reads as
  // closed the child is still a copy of this process and its memory is not the container's.
  int exec_fd = -1;
  bool execed = false;
  bool oom = false;
  bool terminating = false;
  SteadyTime kill_at{};
  bool exited = false;
  int status = 0;

  Proc() = default;
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  ~Proc() {
    if (exec_fd >= 0) ::close(exec_fd);
  }

  // Whether the child has replaced this process's image with the container's program.
  bool has_execed() {
    if (execed || exec_fd < 0) return true;
    pollfd p{.fd = exec_fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLIN)) != 0) {
      ::close(exec_fd);
      exec_fd = -1;
      execed = true;
    }
    return execed;
  }
};

struct HistoryEvent {
  int64_t rv;
  std::string resource, ns, type;
  Json object;
};

}  // namespace

struct KubeSim::State {
  Options opt;
  mutable std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, Json> objects;
  int64_t rv = 0;
  std::deque<HistoryEvent> history;
  int64_t horizon = 0;  // watches from below this resourceVersion get 410
  int64_t cut_generation = 0;
  std::map<std::string, int64_t> counts;
  int throttle_left = 0, retry_after = 1;
  std::map<std::string, std::shared_ptr<Proc>> procs;  // pod key ->
  std::map<std::string, std::shared_ptr<PodLog>> logs;
  std::map<std::string, int> pull_attempts;  // pod key -> failed pulls
  int64_t max_running = 0;
  int64_t pod_ip = 0;
  std::unique_ptr<httplib::Server> server;
  std::thread server_thread, controller;
  std::vector<std::thread> readers;
  int port = 0;
  bool tls = false;
  bool stopping = false;
  std::string work_dir;
  bool own_work_dir = false;
  Random& rng = SecureRandom::instance();

  // ---- the store (callers hold mu) ----------------------------------------------------

  Json* find(const std::string& res, const std::string& ns, const std::string& name) {
    auto it = objects.find(key_of(res, ns, name));
    return it == objects.end() ? nullptr : &it->second;
  }

  void emit(const std::string& type, const std::string& res, const std::string& ns,
            const Json& obj) {
    history.push_back({rv, res, ns, type, obj});
    while (history.size() > opt.history_limit) {
      horizon = history.front().rv;
      history.pop_front();
    }
    changed.notify_all();
  }

  void stamp(Json& obj) {
    ++rv;
    obj["metadata"]["resourceVersion"] = std::to_string(rv);
  }

  std::string new_uid() {
    std::string h = random_hex(rng, 16);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20, 12);
  }

  std::optional<ApiError> validate(const ResourceInfo& info, const Json& obj) {
    auto invalid = [&](const std::string& m) {
      return ApiError{422, "Invalid",
                      info.kind + " \"" + str_at(obj, "metadata", "name") + "\" is invalid: " + m};
    };
    if (str_at(obj, "kind") != info.kind || str_at(obj, "apiVersion") != info.api_version()) {
      return ApiError{
          400, "BadRequest",
          "the object's kind and apiVersion must be " + info.kind + " and " + info.api_version()};
    }
    const std::string name = str_at(obj, "metadata", "name");
    const bool label = info.resource == "services" || info.resource == "namespaces";
    if (!dns_label(name, label ? 63 : 253)) {
      return invalid("metadata.name: Invalid value: \"" + name + "\": a lowercase RFC 1123 " +
                     (label ? "label" : "subdomain") +
                     " must consist of lower case alphanumeric characters, '-' or '.'");
    }
    const Json& labels = at_or_null(at_or_null(obj, "metadata"), "labels");
    if (!labels.is_null()) {
      if (!labels.is_object()) return invalid("metadata.labels: must be a map");
      for (const auto& [k, v] : labels.items()) {
        if (!v.is_string() || v.get<std::string>().size() > 63) {
          return invalid("metadata.labels: Invalid value: \"" + k + "\": must be no more than " +
                         "63 characters");
        }
      }
    }
    const Json& spec = at_or_null(obj, "spec");
    auto check_pod_spec = [&](const Json& ps, const std::string& where) -> std::optional<ApiError> {
      const Json& containers = at_or_null(ps, "containers");
      if (!containers.is_array() || containers.empty()) {
        return invalid(where + ".containers: Required value");
      }
      for (const auto& c : containers) {
        if (str_at(c, "name").empty())
          return invalid(where + ".containers[0].name: Required value");
        if (str_at(c, "image").empty()) {
          return invalid(where + ".containers[0].image: Required value");
        }
        for (const char* part : {"requests", "limits"}) {
          const Json& q = at_or_null(at_or_null(c, "resources"), part);
          if (!q.is_object()) continue;
          for (const auto& [k, v] : q.items()) {
            if (!v.is_string() || !parse_quantity_milli(v.get<std::string>()).ok()) {
              return invalid(where + ".containers[0].resources." + part + "[" + k +
                             "]: Invalid value: quantities must match the regular expression");
            }
          }
        }
      }
      const std::string restart = str_at(ps, "restartPolicy");
      if (!restart.empty() && restart != "Never") {
        return ApiError{422, "Invalid",
                        where + ".restartPolicy: kubesim runs pods with restartPolicy Never only"};
      }
      return std::nullopt;
    };
    if (info.resource == "pods") return check_pod_spec(spec, "spec");
    if (info.resource == "jobs") {
      const Json& tmpl = at_or_null(spec, "template");
      if (!tmpl.is_object()) return invalid("spec.template: Required value");
      if (str_at(at_or_null(tmpl, "spec"), "restartPolicy") != "Never" &&
          str_at(at_or_null(tmpl, "spec"), "restartPolicy") != "OnFailure") {
        return invalid(
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", "
            "\"Never\"");
      }
      const std::string mode = str_at(spec, "completionMode");
      if (!mode.empty() && mode != "Indexed" && mode != "NonIndexed") {
        return invalid("spec.completionMode: Unsupported value: \"" + mode + "\"");
      }
      if (mode == "Indexed" && !at_or_null(spec, "completions").is_number_integer()) {
        return invalid("spec.completions: Required value: when completion mode is Indexed");
      }
      Json ps = at_or_null(tmpl, "spec");
      ps["restartPolicy"] = "Never";
      return check_pod_spec(ps, "spec.template.spec");
    }
    return std::nullopt;
  }

  void apply_defaults(const ResourceInfo& info, Json& obj) {
    Json& meta = obj["metadata"];
    meta["uid"] = new_uid();
    meta["creationTimestamp"] = rfc3339_now();
    meta["generation"] = 1;
    if (info.resource == "jobs") {
      Json& spec = obj["spec"];
      if (!spec.contains("completions")) spec["completions"] = 1;
      if (!spec.contains("parallelism")) spec["parallelism"] = 1;
      if (!spec.contains("backoffLimit")) spec["backoffLimit"] = 6;
      if (!spec.contains("completionMode")) spec["completionMode"] = "NonIndexed";
      if (!spec.contains("suspend")) spec["suspend"] = false;
      Json& labels = spec["template"]["metadata"]["labels"];
      labels["controller-uid"] = meta["uid"];
      labels["batch.kubernetes.io/controller-uid"] = meta["uid"];
      labels["job-name"] = meta["name"];
      labels["batch.kubernetes.io/job-name"] = meta["name"];
      if (!spec.contains("selector")) {
        spec["selector"] = {{"matchLabels", {{"batch.kubernetes.io/controller-uid", meta["uid"]}}}};
      }
      obj["status"] = Json::object();
    }
    if (info.resource == "pods") {
      Json& spec = obj["spec"];
      if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Never";
      if (!spec.contains("terminationGracePeriodSeconds"))
        spec["terminationGracePeriodSeconds"] = 30;
      obj["status"] = {{"phase", "Pending"}};
    }
    if (info.resource == "namespaces") obj["status"] = {{"phase", "Active"}};
    if (info.resource == "services" && !obj["spec"].contains("clusterIP")) {
      obj["spec"]["clusterIP"] = "10.96.0." + std::to_string(rv % 250 + 1);
    }
  }

  Result<Json> create(const ResourceInfo& info, const std::string& ns, Json obj) {
    if (!obj.is_object()) return err(400, "BadRequest", "the body is not a JSON object");
    Json& meta = obj["metadata"];
    if (!meta.is_object()) return err(400, "BadRequest", "metadata must be an object");
    if (info.namespaced) {
      const std::string given = str_at(meta, "namespace");
      if (!given.empty() && given != ns) {
        return err(400, "BadRequest",
                   "the namespace of the provided object does not match the namespace sent on "
                   "the request");
      }
      meta["namespace"] = ns;
      const Json* nso = find("namespaces", "", ns);
      if (!nso) return err(404, "NotFound", "namespaces \"" + ns + "\" not found");
      if (at_or_null(*nso, "metadata").contains("deletionTimestamp")) {
        return err(403, "Forbidden",
                   info.resource + " \"" + str_at(meta, "name") +
                       "\" is forbidden: unable to "
                       "create new content in namespace " +
                       ns + " because it is being terminated");
      }
    }
    if (str_at(meta, "name").empty() && !str_at(meta, "generateName").empty()) {
      meta["name"] = str_at(meta, "generateName") + random_hex(rng, 3).substr(0, 5);
    }
    if (auto e = validate(info, obj)) return err(e->code, e->reason, e->message);
    const std::string name = str_at(meta, "name");
    if (find(info.resource, info.namespaced ? ns : "", name)) {
      return err(409, "AlreadyExists",
                 info.resource + (info.group.empty() ? "" : "." + info.group) + " \"" + name +
                     "\" already exists");
    }
    apply_defaults(info, obj);
    stamp(obj);
    objects[key_of(info.resource, info.namespaced ? ns : "", name)] = obj;
    emit("ADDED", info.resource, info.namespaced ? ns : "", obj);
    return obj;
  }

  static Status err(int code, const std::string& reason, const std::string& message) {
    // The HTTP code and reason travel in the message, "CODE REASON message".
    return Status::invalid_argument(std::to_string(code) + " " + reason + " " + message);
  }

  ApiError not_found(const ResourceInfo& info, const std::string& name) {
    return {404, "NotFound",
            info.resource + (info.group.empty() ? "" : "." + info.group) + " \"" + name +
                "\" not found"};
  }

  // Replaces an object (update) or its status; stale resourceVersions conflict.
  Result<Json> update(const ResourceInfo& info, const std::string& ns, const std::string& name,
                      Json obj, bool status_only) {
    Json* cur = find(info.resource, ns, name);
    if (!cur) {
      auto e = not_found(info, name);
      return err(e.code, e.reason, e.message);
    }
    if (!obj.is_object()) return err(400, "BadRequest", "the body is not a JSON object");
    const std::string given = str_at(obj, "metadata", "resourceVersion");
    if (!given.empty() && given != str_at(*cur, "metadata", "resourceVersion")) {
      return err(409, "Conflict",
                 "Operation cannot be fulfilled on " + info.resource + " \"" + name +
                     "\": the object has been modified; please apply your changes to the latest "
                     "version and try again");
    }
    Json next = *cur;
    if (status_only) {
      next["status"] = at_or_null(obj, "status");
    } else {
      if (auto e = spec_change_refused(info, *cur, obj)) return err(e->code, e->reason, e->message);
      const Json keep_meta = (*cur)["metadata"];
      next = obj;
      next["status"] = (*cur).contains("status") ? (*cur)["status"] : Json();
      if (next["status"].is_null()) next.erase("status");
      Json& meta = next["metadata"];
      for (const char* k : {"uid", "creationTimestamp", "namespace", "name", "deletionTimestamp",
                            "deletionGracePeriodSeconds"}) {
        if (keep_meta.contains(k)) meta[k] = keep_meta[k];
      }
      meta["generation"] = keep_meta.value("generation", 1) +
                           (at_or_null(*cur, "spec") == at_or_null(next, "spec") ? 0 : 1);
    }
    if (next == *cur) return *cur;
    stamp(next);
    *cur = next;
    emit("MODIFIED", info.resource, ns, next);
    return next;
  }

  // What the real API refuses to change in place.
  std::optional<ApiError> spec_change_refused(const ResourceInfo& info, const Json& cur,
                                              const Json& next) {
    const Json& a = at_or_null(cur, "spec");
    const Json& b = at_or_null(next, "spec");
    if (info.resource == "pods") {
      Json x = a, y = b;
      const bool gated =
          at_or_null(a, "schedulingGates").is_array() && !at_or_null(a, "schedulingGates").empty();
      for (Json* s : {&x, &y}) {
        s->erase("activeDeadlineSeconds");
        if (gated) {
          s->erase("schedulingGates");
          s->erase("nodeSelector");
        }
        if (s->contains("containers")) {
          for (auto& c : (*s)["containers"]) c.erase("image");
        }
      }
      if (gated && at_or_null(b, "schedulingGates").is_array() &&
          at_or_null(b, "schedulingGates").size() > at_or_null(a, "schedulingGates").size()) {
        return ApiError{422, "Invalid",
                        "spec.schedulingGates: Forbidden: only deletion is allowed"};
      }
      if (gated) {
        for (const auto& [k, v] : at_or_null(a, "nodeSelector").items()) {
          if (at_or_null(at_or_null(b, "nodeSelector"), k.c_str()) != v) {
            return ApiError{422, "Invalid",
                            "spec.nodeSelector: Invalid value: only additions to nodeSelector are "
                            "allowed"};
          }
        }
      }
      if (x != y) {
        return ApiError{422, "Invalid",
                        "Pod \"" + str_at(cur, "metadata", "name") +
                            "\" is invalid: spec: Forbidden: pod updates may not change fields "
                            "other than `spec.containers[*].image`, "
                            "`spec.activeDeadlineSeconds`, `spec.schedulingGates` and (while "
                            "gated) additions to `spec.nodeSelector`"};
      }
    }
    if (info.resource == "jobs" && at_or_null(a, "template") != at_or_null(b, "template")) {
      return ApiError{422, "Invalid",
                      "Job.batch \"" + str_at(cur, "metadata", "name") +
                          "\" is invalid: spec.template: Invalid value: field is immutable"};
    }
    return std::nullopt;
  }

  Result<Json> patch(const ResourceInfo& info, const std::string& ns, const std::string& name,
                     const Json& p, bool status_only) {
    Json* cur = find(info.resource, ns, name);
    if (!cur) {
      auto e = not_found(info, name);
      return err(e.code, e.reason, e.message);
    }
    Json next = *cur;
    merge_patch(next, p);
    if (status_only) {
      Json only = *cur;
      only["status"] = next.contains("status") ? next["status"] : Json::object();
      next = only;
    }
    if (!p.contains("metadata") || !p["metadata"].contains("resourceVersion")) {
      next["metadata"]["resourceVersion"] = (*cur)["metadata"]["resourceVersion"];
    }
    return update(info, ns, name, next, status_only);
  }

  // Deletes now (callers hold mu): the object goes, with a DELETED event.
  void remove_now(const std::string& res, const std::string& ns, const std::string& name) {
    auto it = objects.find(key_of(res, ns, name));
    if (it == objects.end()) return;
    Json obj = it->second;
    objects.erase(it);
    stamp(obj);
    emit("DELETED", res, ns, obj);
    if (res == "pods") {
      if (auto p = procs.find(key_of(res, ns, name)); p != procs.end()) {
        if (!p->second->exited) ::kill(-p->second->pid, SIGKILL);
        procs.erase(p);
      }
      pull_attempts.erase(key_of(res, ns, name));
    }
  }

  std::vector<std::pair<std::string, std::string>> dependents_of(const std::string& uid) {
    std::vector<std::pair<std::string, std::string>> out;  // (resource, name) in any namespace
    for (const auto& [k, obj] : objects) {
      for (const auto& ref : at_or_null(at_or_null(obj, "metadata"), "ownerReferences")) {
        if (str_at(ref, "uid") == uid) out.push_back({k, ""});
      }
    }
    return out;
  }

  Result<Json> remove(const ResourceInfo& info, const std::string& ns, const std::string& name,
                      std::string propagation, std::optional<int64_t> grace) {
    Json* cur = find(info.resource, ns, name);
    if (!cur) {
      auto e = not_found(info, name);
      return err(e.code, e.reason, e.message);
    }
    // The batch/v1 Job default, kept by the real API for compatibility: orphan the pods.
    if (propagation.empty()) propagation = info.resource == "jobs" ? "Orphan" : "Background";
    if (propagation != "Orphan" && propagation != "Background" && propagation != "Foreground") {
      return err(400, "BadRequest", "propagationPolicy must be Orphan, Background or Foreground");
    }
    const std::string uid = str_at(*cur, "metadata", "uid");
    Json result = *cur;
    if (info.resource == "namespaces") {
      std::vector<std::string> keys;
      for (const auto& [k, obj] : objects) {
        if (str_at(obj, "metadata", "namespace") == name) keys.push_back(k);
      }
      for (const auto& k : keys) {
        const Json& o = objects[k];
        const std::string res = k.substr(0, k.find('|'));
        remove_now(res, name, str_at(o, "metadata", "name"));
      }
      remove_now("namespaces", "", name);
      return result;
    }
    if (info.resource == "pods") {
      const int64_t g = grace.value_or(int_at(*cur, "spec", "terminationGracePeriodSeconds", 30));
      auto p = procs.find(key_of("pods", ns, name));
      if (g > 0 && p != procs.end() && !p->second->exited) {
        if (at_or_null(*cur, "metadata").contains("deletionTimestamp")) {
          // Deleted again with a shorter grace period: it ends sooner.
          const auto sooner = std::chrono::steady_clock::now() + std::chrono::seconds(g);
          if (sooner < p->second->kill_at) p->second->kill_at = sooner;
        } else {
          (*cur)["metadata"]["deletionTimestamp"] = rfc3339_now();
          (*cur)["metadata"]["deletionGracePeriodSeconds"] = g;
          stamp(*cur);
          emit("MODIFIED", "pods", ns, *cur);
          p->second->terminating = true;
          p->second->kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(g);
          ::kill(-p->second->pid, SIGTERM);
        }
        return *cur;
      }
      remove_now("pods", ns, name);
      return result;
    }
    if (propagation == "Foreground") {
      if (!at_or_null(*cur, "metadata").contains("deletionTimestamp")) {
        (*cur)["metadata"]["deletionTimestamp"] = rfc3339_now();
        (*cur)["metadata"]["finalizers"] = Json::array({"foregroundDeletion"});
        stamp(*cur);
        emit("MODIFIED", info.resource, ns, *cur);
      }
      result = *cur;
      for (const auto& [k, unused] : dependents_of(uid)) {
        const Json dep = objects[k];
        const std::string res = k.substr(0, k.find('|'));
        (void)remove(info_of(res), str_at(dep, "metadata", "namespace"),
                     str_at(dep, "metadata", "name"), "Background", grace);
      }
      return result;
    }
    if (propagation == "Orphan") {
      for (const auto& [k, unused] : dependents_of(uid)) {
        Json& dep = objects[k];
        Json refs = Json::array();
        for (const auto& ref : dep["metadata"]["ownerReferences"]) {
          if (str_at(ref, "uid") != uid) refs.push_back(ref);
        }
        dep["metadata"]["ownerReferences"] = refs;
        if (refs.empty()) dep["metadata"].erase("ownerReferences");
        stamp(dep);
        emit("MODIFIED", k.substr(0, k.find('|')), str_at(dep, "metadata", "namespace"), dep);
      }
    }
    remove_now(info.resource, info.namespaced ? ns : "", name);
    return result;  // Background: the collector takes the dependents.
  }

  // ---- controllers (callers hold mu) --------------------------------------------------

  bool uid_exists(const std::string& uid) {
    for (const auto& [k, obj] : objects) {
      if (str_at(obj, "metadata", "uid") == uid) return true;
    }
    return false;
  }

  void collect_garbage() {
    std::set<std::string> uids;
    for (const auto& [k, obj] : objects) uids.insert(str_at(obj, "metadata", "uid"));
    std::vector<std::pair<std::string, Json>> orphans;
    for (const auto& [k, obj] : objects) {
      const Json& refs = at_or_null(at_or_null(obj, "metadata"), "ownerReferences");
      if (!refs.is_array() || refs.empty()) continue;
      bool any = false;
      for (const auto& ref : refs) any = any || uids.count(str_at(ref, "uid"));
      if (!any) orphans.push_back({k, obj});
    }
    for (const auto& [k, obj] : orphans) {
      const std::string res = k.substr(0, k.find('|'));
      if (at_or_null(obj, "metadata").contains("deletionTimestamp")) continue;
      (void)remove(info_of(res), str_at(obj, "metadata", "namespace"),
                   str_at(obj, "metadata", "name"), "Background", std::nullopt);
    }
    // Foreground deletions whose dependents are all gone.
    std::vector<std::pair<std::string, Json>> done;
    for (const auto& [k, obj] : objects) {
      const Json& fin = at_or_null(at_or_null(obj, "metadata"), "finalizers");
      if (!fin.is_array() || std::find(fin.begin(), fin.end(), "foregroundDeletion") == fin.end())
        continue;
      if (dependents_of(str_at(obj, "metadata", "uid")).empty()) done.push_back({k, obj});
    }
    for (const auto& [k, obj] : done) {
      remove_now(k.substr(0, k.find('|')), str_at(obj, "metadata", "namespace"),
                 str_at(obj, "metadata", "name"));
    }
  }

  void set_status(const std::string& res, const std::string& ns, const std::string& name,
                  const Json& status) {
    Json* cur = find(res, ns, name);
    if (!cur || (*cur)["status"] == status) return;
    (*cur)["status"] = status;
    stamp(*cur);
    emit("MODIFIED", res, ns, *cur);
  }

  static Json condition(const std::string& type, const std::string& status,
                        const std::string& reason, const std::string& message) {
    Json c = {{"type", type}, {"status", status}, {"lastTransitionTime", rfc3339_now()}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    return c;
  }

  // Sets the pod's condition of `type` unless it already says the same.
  static bool put_condition(Json& status, const Json& c) {
    Json& conds = status["conditions"];
    if (!conds.is_array()) conds = Json::array();
    for (auto& x : conds) {
      if (x["type"] == c["type"]) {
        if (x["status"] == c["status"] && x.value("reason", "") == c.value("reason", "") &&
            x.value("message", "") == c.value("message", ""))
          return false;
        x = c;
        return true;
      }
    }
    conds.push_back(c);
    return true;
  }

  void job_controller() {
    std::vector<std::string> job_keys;
    for (const auto& [k, obj] : objects) {
      if (k.rfind("jobs|", 0) == 0) job_keys.push_back(k);
    }
    for (const auto& k : job_keys) {
      auto it = objects.find(k);
      if (it == objects.end()) continue;
      Json job = it->second;
      const std::string ns = str_at(job, "metadata", "namespace");
      const std::string name = str_at(job, "metadata", "name");
      const std::string uid = str_at(job, "metadata", "uid");
      const Json& spec = job["spec"];
      Json status = job.contains("status") ? job["status"] : Json::object();
      const bool finished = [&] {
        for (const auto& c : at_or_null(status, "conditions")) {
          if ((c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
            return true;
        }
        return false;
      }();
      std::vector<Json> pods;
      for (const auto& [pk, pod] : objects) {
        if (pk.rfind("pods|" + ns + "|", 0) == 0 &&
            str_at(at_or_null(pod, "metadata"), "labels", "batch.kubernetes.io/controller-uid") ==
                uid) {
          pods.push_back(pod);
        }
      }
      const bool deleting = at_or_null(job, "metadata").contains("deletionTimestamp");
      const bool indexed = str_at(spec, "completionMode") == "Indexed";
      const int64_t completions = spec.value("completions", 1);
      const int64_t parallelism = spec.value("parallelism", 1);
      const int64_t backoff = spec.value("backoffLimit", 6);
      std::set<int64_t> succeeded_idx, active_idx;
      int64_t active = 0, succeeded = 0, failed = 0, ready = 0;
      auto index_of = [](const Json& pod) -> int64_t {
        const std::string v = str_at(at_or_null(pod, "metadata"), "annotations",
                                     "batch.kubernetes.io/job-completion-index");
        return v.empty() ? -1 : std::stoll(v);
      };
      for (const auto& pod : pods) {
        const std::string phase = str_at(pod, "status", "phase");
        if (phase == "Succeeded") {
          ++succeeded;
          succeeded_idx.insert(index_of(pod));
        } else if (phase == "Failed") {
          ++failed;
        } else if (!at_or_null(pod, "metadata").contains("deletionTimestamp")) {
          ++active;
          active_idx.insert(index_of(pod));
          if (phase == "Running") ++ready;
        }
      }
      auto delete_active = [&] {
        for (const auto& pod : pods) {
          if (!terminal(pod) && !at_or_null(pod, "metadata").contains("deletionTimestamp")) {
            (void)remove(info_of("pods"), ns, str_at(pod, "metadata", "name"), "Background",
                         std::nullopt);
          }
        }
      };
      Json next = status;
      next["active"] = active;
      next["succeeded"] = succeeded;
      next["failed"] = failed;
      next["ready"] = ready;
      if (indexed) {
        std::string done;
        for (int64_t i : succeeded_idx) done += (done.empty() ? "" : ",") + std::to_string(i);
        if (!done.empty()) next["completedIndexes"] = done;
      }
      if (!finished && !deleting) {
        const bool suspended = spec.value("suspend", false);
        if (suspended) {
          delete_active();
          next["active"] = 0;
        } else {
          if (!next.contains("startTime")) next["startTime"] = rfc3339_now();
          const int64_t deadline = spec.value("activeDeadlineSeconds", int64_t{0});
          auto started = parse_rfc3339(str_at(next, "startTime"));
          const int64_t done_count =
              indexed ? static_cast<int64_t>(succeeded_idx.size()) : succeeded;
          auto fail = [&](const std::string& reason, const std::string& message) {
            put_condition(next, condition("Failed", "True", reason, message));
            delete_active();
            next["active"] = 0;
          };
          if (deadline > 0 && started.ok() &&
              std::chrono::system_clock::now() - *started > std::chrono::seconds(deadline)) {
            fail("DeadlineExceeded", "Job was active longer than specified deadline");
          } else if (failed > backoff) {
            fail("BackoffLimitExceeded", "Job has reached the specified backoff limit");
          } else if (done_count >= completions) {
            put_condition(next, condition("Complete", "True", "", ""));
            next["completionTime"] = rfc3339_now();
          } else {
            int64_t room = parallelism - active;
            if (indexed) {
              for (int64_t i = 0; i < completions && room > 0; ++i) {
                if (succeeded_idx.count(i) || active_idx.count(i)) continue;
                make_pod(job, i);
                --room;
              }
            } else {
              int64_t want = std::min(room, completions - succeeded - active);
              for (int64_t i = 0; i < want; ++i) make_pod(job, -1);
            }
          }
        }
      }
      set_status("jobs", ns, name, next);
    }
  }

  void make_pod(const Json& job, int64_t index) {
    const Json& tmpl = job["spec"]["template"];
    const std::string ns = str_at(job, "metadata", "namespace");
    const std::string job_name = str_at(job, "metadata", "name");
    Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
    pod["metadata"] = tmpl.contains("metadata") ? tmpl["metadata"] : Json::object();
    pod["spec"] = tmpl["spec"];
    std::string base = job_name + "-" + (index >= 0 ? std::to_string(index) + "-" : "");
    pod["metadata"]["name"] = base + random_hex(rng, 3).substr(0, 5);
    pod["metadata"]["namespace"] = ns;
    pod["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "batch/v1"},
                                                       {"kind", "Job"},
                                                       {"name", job_name},
                                                       {"uid", job["metadata"]["uid"]},
                                                       {"controller", true},
                                                       {"blockOwnerDeletion", true}}});
    if (index >= 0) {
      const std::string i = std::to_string(index);
      pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] = i;
      pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] = i;
      pod["spec"]["hostname"] = job_name + "-" + i;
      for (auto& c : pod["spec"]["containers"]) {
        c["env"].push_back(
            {{"name", "JOB_COMPLETION_INDEX"},
             {"valueFrom",
              {{"fieldRef",
                {{"fieldPath", "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}}}});
      }
    }
    (void)create(info_of("pods"), ns, pod);
  }

  // Where the pod fits: its node selector, required node affinity and requests.
  std::string fit_node(const Json& pod, std::string* why) {
    const Requests want = pod_requests(pod);
    std::map<std::string, Requests> used;
    for (const auto& [k, p] : objects) {
      if (k.rfind("pods|", 0) != 0 || terminal(p)) continue;
      const std::string node = str_at(p, "spec", "nodeName");
      if (node.empty()) continue;
      Requests r = pod_requests(p);
      used[node].cpu_milli += r.cpu_milli;
      used[node].memory_bytes += r.memory_bytes;
      used[node].gpus += r.gpus;
    }
    int nodes = 0, unmatched = 0, cpu = 0, mem = 0, gpu = 0;
    for (const auto& [k, node] : objects) {
      if (k.rfind("nodes|", 0) != 0) continue;
      ++nodes;
      const Json& labels = at_or_null(node, "metadata")["labels"];
      bool ok = true;
      for (const auto& [lk, lv] : at_or_null(pod["spec"], "nodeSelector").items()) {
        if (at_or_null(labels, lk.c_str()) != lv) ok = false;
      }
      const Json& terms =
          at_or_null(at_or_null(at_or_null(at_or_null(pod["spec"], "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution"),
                     "nodeSelectorTerms");
      if (terms.is_array() && !terms.empty()) {
        bool any = false;
        for (const auto& term : terms) {
          bool all = true;
          for (const auto& e : at_or_null(term, "matchExpressions")) {
            const Json& v = at_or_null(labels, str_at(e, "key").c_str());
            const Json& values = at_or_null(e, "values");
            const bool in = v.is_string() && values.is_array() &&
                            std::find(values.begin(), values.end(), v) != values.end();
            const std::string op = str_at(e, "operator");
            if ((op == "In" && !in) || (op == "NotIn" && in) || (op == "Exists" && v.is_null()) ||
                (op == "DoesNotExist" && !v.is_null()))
              all = false;
          }
          any = any || all;
        }
        ok = ok && any;
      }
      if (!ok) {
        ++unmatched;
        continue;
      }
      const Json& alloc = at_or_null(node["status"], "allocatable");
      auto q = [&](const char* n) {
        auto v = parse_quantity_milli(str_at(alloc, n).empty() ? "0" : str_at(alloc, n));
        return v.ok() ? *v : 0;
      };
      const Requests& u = used[str_at(node, "metadata", "name")];
      if (u.cpu_milli + want.cpu_milli > q("cpu")) {
        ++cpu;
      } else if ((u.memory_bytes + want.memory_bytes) * 1000 > q("memory")) {
        ++mem;
      } else if ((u.gpus + want.gpus) * 1000 > q("nvidia.com/gpu")) {
        ++gpu;
      } else {
        return str_at(node, "metadata", "name");
      }
    }
    *why = "0/" + std::to_string(nodes) + " nodes are available:";
    if (unmatched)
      *why +=
          " " + std::to_string(unmatched) + " node(s) didn't match Pod's node affinity/selector.";
    if (cpu) *why += " " + std::to_string(cpu) + " Insufficient cpu.";
    if (mem) *why += " " + std::to_string(mem) + " Insufficient memory.";
    if (gpu) *why += " " + std::to_string(gpu) + " Insufficient nvidia.com/gpu.";
    return "";
  }

  void scheduler() {
    std::vector<std::string> keys;
    for (const auto& [k, pod] : objects) {
      if (k.rfind("pods|", 0) == 0 && str_at(pod, "spec", "nodeName").empty() &&
          str_at(pod, "status", "phase") == "Pending" &&
          !at_or_null(pod, "metadata").contains("deletionTimestamp"))
        keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
      return std::stoll(str_at(objects[a], "metadata", "resourceVersion")) <
             std::stoll(str_at(objects[b], "metadata", "resourceVersion"));
    });
    for (const auto& k : keys) {
      Json pod = objects[k];
      const std::string ns = str_at(pod, "metadata", "namespace");
      const std::string name = str_at(pod, "metadata", "name");
      Json status = pod["status"];
      const Json& gates = at_or_null(pod["spec"], "schedulingGates");
      if (gates.is_array() && !gates.empty()) {
        if (put_condition(status, condition("PodScheduled", "False", "SchedulingGated",
                                            "Scheduling is blocked due to non-empty scheduling "
                                            "gates")))
          set_status("pods", ns, name, status);
        continue;
      }
      std::string why;
      const std::string node = fit_node(pod, &why);
      if (node.empty()) {
        if (put_condition(status, condition("PodScheduled", "False", "Unschedulable", why)))
          set_status("pods", ns, name, status);
        continue;
      }
      Json& cur = objects[k];
      cur["spec"]["nodeName"] = node;
      put_condition(cur["status"], condition("PodScheduled", "True", "", ""));
      stamp(cur);
      emit("MODIFIED", "pods", ns, cur);
    }
  }

  // The value of a downward-API field path of the pod.
  static std::string field_value(const Json& pod, const std::string& path) {
    auto bracket = [&](const std::string& prefix, const char* map) -> std::optional<std::string> {
      if (path.rfind(prefix + "['", 0) != 0 || path.size() < prefix.size() + 4) return std::nullopt;
      const std::string key = path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
      return str_at(at_or_null(pod, "metadata"), map, key.c_str());
    };
    if (auto v = bracket("metadata.annotations", "annotations")) return *v;
    if (auto v = bracket("metadata.labels", "labels")) return *v;
    if (path == "metadata.name") return str_at(pod, "metadata", "name");
    if (path == "metadata.namespace") return str_at(pod, "metadata", "namespace");
    if (path == "metadata.uid") return str_at(pod, "metadata", "uid");
    if (path == "spec.nodeName") return str_at(pod, "spec", "nodeName");
    if (path == "status.podIP") return str_at(pod, "status", "podIP");
    return "";
  }

  bool image_pullable(const std::string& image) const {
    if (opt.unpullable_images.count(image)) return false;
    return opt.images.empty() || opt.images.count(image);
  }

  void kubelet() {
    std::vector<std::string> keys;
    for (const auto& [k, pod] : objects) {
      if (k.rfind("pods|", 0) == 0 && !str_at(pod, "spec", "nodeName").empty() &&
          str_at(pod, "status", "phase") == "Pending" && !procs.count(k) &&
          !at_or_null(pod, "metadata").contains("deletionTimestamp"))
        keys.push_back(k);
    }
    for (const auto& k : keys) {
      Json pod = objects[k];
      const std::string ns = str_at(pod, "metadata", "namespace");
      const std::string name = str_at(pod, "metadata", "name");
      const Json& c = pod["spec"]["containers"][0];
      const std::string image = str_at(c, "image");
      Json status = pod["status"];
      if (!find("nodes", "", str_at(pod, "spec", "nodeName"))) {
        status["phase"] = "Failed";
        status["reason"] = "NodeLost";
        status["message"] = "the node " + str_at(pod, "spec", "nodeName") + " does not exist";
        set_status("pods", ns, name, status);
        continue;
      }
      if (!image_pullable(image)) {
        const int n = ++pull_attempts[k];
        const std::string reason = n == 1 ? "ErrImagePull" : "ImagePullBackOff";
        const std::string message =
            n == 1 ? "failed to pull and unpack image \"" + image + "\": not found"
                   : "Back-off pulling image \"" + image + "\"";
        status["containerStatuses"] =
            Json::array({{{"name", str_at(c, "name")},
                          {"image", image},
                          {"ready", false},
                          {"restartCount", 0},
                          {"state", {{"waiting", {{"reason", reason}, {"message", message}}}}}}});
        if (n <= 2) set_status("pods", ns, name, status);
        continue;
      }
      start_container(k, pod);
    }
  }

  void start_container(const std::string& key, const Json& pod) {
    const std::string ns = str_at(pod, "metadata", "namespace");
    const std::string name = str_at(pod, "metadata", "name");
    const Json& c = pod["spec"]["containers"][0];
    std::vector<std::string> argv;
    for (const char* part : {"command", "args"}) {
      for (const auto& a : at_or_null(c, part))
        argv.push_back(a.is_string() ? a.get<std::string>() : "");
    }
    Json status = pod["status"];
    ++pod_ip;
    status["podIP"] =
        "10.244." + std::to_string(pod_ip / 250 % 250) + "." + std::to_string(pod_ip % 250 + 1);
    status["hostIP"] = "192.168.0.1";
    status["startTime"] = rfc3339_now();
    if (argv.empty()) {
      status["phase"] = "Failed";
      status["containerStatuses"] =
          Json::array({{{"name", str_at(c, "name")},
                        {"image", str_at(c, "image")},
                        {"ready", false},
                        {"restartCount", 0},
                        {"state",
                         {{"terminated",
                           {{"exitCode", 128},
                            {"reason", "StartError"},
                            {"message", "kubesim runs a container's command: none given"}}}}}}});
      set_status("pods", ns, name, status);
      return;
    }
    std::vector<std::string> env = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=" +
            (str_at(pod, "spec", "hostname").empty() ? name : str_at(pod, "spec", "hostname"))};
    for (const auto& e : at_or_null(c, "env")) {
      std::string value = str_at(e, "value");
      const Json& from = at_or_null(at_or_null(e, "valueFrom"), "fieldRef");
      if (from.is_object()) value = field_value(pod, str_at(from, "fieldPath"));
      env.push_back(str_at(e, "name") + "=" + value);
    }
    const std::string dir = work_dir + "/" + ns + "/" + name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string cwd = str_at(c, "workingDir");
    if (cwd.empty() || !fs::is_directory(cwd, ec)) cwd = dir;
    // Everything the child needs is made before the fork: between fork and exec a
    // multi-threaded process may only make async-signal-safe calls (no allocation).
    std::string program = argv[0];
    if (program.find('/') == std::string::npos) {
      for (const char* d :
           {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        const std::string candidate = std::string(d) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) {
          program = candidate;
          break;
        }
      }
    }
    std::vector<char*> child_argv, child_env;
    for (auto& a : argv) child_argv.push_back(a.data());
    child_argv.push_back(nullptr);
    for (auto& e : env) child_env.push_back(e.data());
    child_env.push_back(nullptr);
    const std::string not_found = "exec " + program + ": no such program\n";
    int fds[2], exec_fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    if (::pipe2(exec_fds, O_CLOEXEC) != 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto proc = std::make_shared<Proc>();
    proc->memory_limit = memory_limit_bytes(pod);
    sigset_t none;
    sigemptyset(&none);
    const pid_t pid = ::fork();
    if (pid == 0) {
      // A container starts clean: no signal blocked or ignored that this process had.
      ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_DFL);
      ::setpgid(0, 0);
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::dup2(null, 0);
      if (::chdir(cwd.c_str()) != 0) ::_exit(127);
      ::execve(program.c_str(), child_argv.data(), child_env.data());
      (void)!::write(2, not_found.data(), not_found.size());
      ::_exit(127);
    }
    // Its own process group from here on (set on both sides: a kill of the group right
    // after the fork must not miss it).
    if (pid > 0) ::setpgid(pid, pid);
    if (null >= 0) ::close(null);
    ::close(fds[1]);
    ::close(exec_fds[1]);
    proc->exec_fd = exec_fds[0];
    if (pid < 0) {
      ::close(fds[0]);
      return;
    }
    proc->pid = pid;
    procs[key] = proc;
    auto log = std::make_shared<PodLog>();
    logs[key] = log;
    status["phase"] = "Running";
    put_condition(status, condition("Ready", "True", "", ""));
    status["containerStatuses"] =
        Json::array({{{"name", str_at(c, "name")},
                      {"image", str_at(c, "image")},
                      {"ready", true},
                      {"restartCount", 0},
                      {"started", true},
                      {"state", {{"running", {{"startedAt", rfc3339_now()}}}}}}});
    set_status("pods", ns, name, status);
    int64_t running = 0;
    for (const auto& [k, p] : procs) running += p->exited ? 0 : 1;
    max_running = std::max(max_running, running);
    const int fd = fds[0];
    readers.emplace_back([this, fd, key, proc, log] { read_container(fd, key, proc, log); });
  }

  void read_container(int fd, const std::string& key, const std::shared_ptr<Proc>& proc,
                      const std::shared_ptr<PodLog>& log) {
    std::string pending;
    char buf[8192];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      std::lock_guard lock(mu);
      size_t start = 0, nl;
      while ((nl = pending.find('\n', start)) != std::string::npos) {
        log->lines.push_back({now_us(), pending.substr(start, nl - start + 1)});
        start = nl + 1;
      }
      pending.erase(0, start);
      changed.notify_all();
    }
    ::close(fd);
    int wstatus = 0;
    while (::waitpid(proc->pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(mu);
    if (!pending.empty()) log->lines.push_back({now_us(), pending});
    log->done = true;
    proc->exited = true;
    proc->status = wstatus;
    container_ended(key, *proc);
    changed.notify_all();
  }

  void container_ended(const std::string& key, const Proc& proc) {
    auto it = objects.find(key);
    if (it == objects.end()) return;
    Json pod = it->second;
    const std::string ns = str_at(pod, "metadata", "namespace");
    const std::string name = str_at(pod, "metadata", "name");
    if (at_or_null(pod, "metadata").contains("deletionTimestamp")) {
      remove_now("pods", ns, name);
      return;
    }
    Json status = pod["status"];
    if (status.value("phase", "") == "Failed") return;  // evicted
    int code = WIFEXITED(proc.status) ? WEXITSTATUS(proc.status) : 128 + WTERMSIG(proc.status);
    Json term = {{"exitCode", code}, {"finishedAt", rfc3339_now()}};
    if (proc.oom) {
      term["exitCode"] = 137;
      term["reason"] = "OOMKilled";
    } else {
      term["reason"] = code == 0 ? "Completed" : "Error";
    }
    if (WIFSIGNALED(proc.status)) term["signal"] = WTERMSIG(proc.status);
    status["phase"] = code == 0 && !proc.oom ? "Succeeded" : "Failed";
    put_condition(status, condition("Ready", "False", "PodCompleted", ""));
    if (status["containerStatuses"].is_array() && !status["containerStatuses"].empty()) {
      status["containerStatuses"][0]["state"] = {{"terminated", term}};
      status["containerStatuses"][0]["ready"] = false;
    }
    set_status("pods", ns, name, status);
  }

  void police_processes() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [k, p] : procs) {
      if (p->exited) continue;
      if (p->terminating && now >= p->kill_at) ::kill(-p->pid, SIGKILL);
      if (p->memory_limit > 0 && !p->oom && p->has_execed() && tree_rss(p->pid) > p->memory_limit) {
        p->oom = true;
        ::kill(-p->pid, SIGKILL);
      }
    }
  }

  void controller_loop() {
    int64_t tick = 0;
    std::unique_lock lock(mu);
    while (!stopping) {
      job_controller();
      scheduler();
      kubelet();
      collect_garbage();
      if (++tick % 5 == 0) police_processes();
      changed.wait_for(lock, opt.controller_interval);
    }
  }

  void evict(const std::string& node, const std::string& message) {
    std::vector<std::string> keys;
    for (const auto& [k, pod] : objects) {
      if (k.rfind("pods|", 0) == 0 && str_at(pod, "spec", "nodeName") == node && !terminal(pod))
        keys.push_back(k);
    }
    for (const auto& k : keys) {
      Json pod = objects[k];
      Json status = pod["status"];
      status["phase"] = "Failed";
      status["reason"] = "Evicted";
      status["message"] = message;
      set_status("pods", str_at(pod, "metadata", "namespace"), str_at(pod, "metadata", "name"),
                 status);
      if (auto p = procs.find(k); p != procs.end() && !p->second->exited)
        ::kill(-p->second->pid, SIGKILL);
    }
  }

  // ---- HTTP ----------------------------------------------------------------------------

  struct Target {
    const ResourceInfo* info = nullptr;
    std::string ns, name, sub;
  };

  std::optional<Target> parse_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 1;
    while (start <= path.size()) {
      const size_t slash = path.find('/', start);
      parts.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (!parts.empty() && parts.back().empty()) parts.pop_back();
    std::string group, version;
    size_t i;
    if (parts.size() >= 2 && parts[0] == "api") {
      version = parts[1];
      i = 2;
    } else if (parts.size() >= 3 && parts[0] == "apis") {
      group = parts[1];
      version = parts[2];
      i = 3;
    } else {
      return std::nullopt;
    }
    std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
    Target t;
    if (rest.size() >= 3 && rest[0] == "namespaces") {
      t.ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
    if (rest.empty() || rest.size() > 3) return std::nullopt;
    t.info = resource_named(group, version, rest[0]);
    if (!t.info) return std::nullopt;
    if (rest.size() >= 2) t.name = rest[1];
    if (rest.size() == 3) t.sub = rest[2];
    if (!t.ns.empty() && !t.info->namespaced) return std::nullopt;
    return t;
  }

  static std::string event_line(const std::string& type, const Json& object) {
    return json::dump(Json{{"type", type}, {"object", object}}) + "\n";
  }

  void serve_watch(const httplib::Request& req, httplib::Response& res, const ResourceInfo& info,
                   const std::string& ns, const Selector& labels, const FieldSelector& fields);
  void serve_log(const httplib::Request& req, httplib::Response& res, const std::string& ns,
                 const std::string& name);
};

void KubeSim::State::serve_watch(const httplib::Request& req, httplib::Response& res,
                                 const ResourceInfo& info, const std::string& ns,
                                 const Selector& labels, const FieldSelector& fields) {
  const std::string from = req.get_param_value("resourceVersion");
  const bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true" ||
                         req.get_param_value("allowWatchBookmarks") == "1";
  int64_t timeout_s = 1800;
  if (req.has_param("timeoutSeconds"))
    timeout_s = std::strtoll(req.get_param_value("timeoutSeconds").c_str(), nullptr, 10);
  const std::string resource = info.resource;
  auto matches = [=](const std::string& res_name, const std::string& obj_ns, const Json& o) {
    return res_name == resource && (ns.empty() || obj_ns == ns) &&
           labels.matches(at_or_null(at_or_null(o, "metadata"), "labels")) && fields.matches(o);
  };
  std::string initial;
  int64_t last;
  int64_t generation;
  {
    std::lock_guard lock(mu);
    generation = cut_generation;
    if (from.empty() || from == "0") {
      for (const auto& [k, o] : objects) {
        if (matches(k.substr(0, k.find('|')), str_at(o, "metadata", "namespace"), o))
          initial += event_line("ADDED", o);
      }
      last = rv;
    } else {
      char* end = nullptr;
      last = std::strtoll(from.c_str(), &end, 10);
      if (!end || *end != '\0' || last < 0) {
        return send_error(res, {400, "BadRequest", "resourceVersion must be a number"});
      }
      if (last < horizon) {
        initial = event_line("ERROR", status_json({410, "Expired",
                                                   "too old resource version: " + from + " (" +
                                                       std::to_string(horizon) + ")"}));
        last = -1;
      }
    }
  }
  const std::string kind = info.kind, api_version = info.api_version();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  res.set_chunked_content_provider(
      "application/json", [this, initial, last, generation, matches, bookmarks, kind, api_version,
                           deadline](size_t, httplib::DataSink& sink) mutable {
        if (!initial.empty() && !sink.write(initial.data(), initial.size())) return false;
        initial.clear();
        if (last < 0) {
          sink.done();
          return true;
        }
        auto next_bookmark = std::chrono::steady_clock::now() + opt.bookmark_interval;
        std::unique_lock lock(mu);
        while (true) {
          if (stopping || cut_generation != generation) return false;
          if (last < horizon) {
            const std::string e =
                event_line("ERROR", status_json({410, "Expired", "too old resource version"}));
            lock.unlock();
            sink.write(e.data(), e.size());
            sink.done();
            return true;
          }
          std::string out;
          auto it = std::upper_bound(history.begin(), history.end(), last,
                                     [](int64_t v, const HistoryEvent& e) { return v < e.rv; });
          for (; it != history.end(); ++it) {
            if (matches(it->resource, it->ns, it->object)) out += event_line(it->type, it->object);
            last = it->rv;
          }
          const auto now = std::chrono::steady_clock::now();
          if (bookmarks && now >= next_bookmark) {
            out +=
                event_line("BOOKMARK", {{"kind", kind},
                                        {"apiVersion", api_version},
                                        {"metadata", {{"resourceVersion", std::to_string(rv)}}}});
            last = std::max(last, rv);
            next_bookmark = now + opt.bookmark_interval;
          }
          if (!out.empty()) {
            lock.unlock();
            if (!sink.write(out.data(), out.size())) return false;
            lock.lock();
            continue;
          }
          if (now >= deadline) {
            lock.unlock();
            sink.done();
            return true;
          }
          changed.wait_for(lock, std::chrono::milliseconds(100));
          if (!sink.is_writable()) return false;
        }
      });
}

void KubeSim::State::serve_log(const httplib::Request& req, httplib::Response& res,
                               const std::string& ns, const std::string& name) {
  const bool follow = req.get_param_value("follow") == "true";
  const bool timestamps = req.get_param_value("timestamps") == "true";
  int64_t since_us = 0;
  if (req.has_param("sinceTime")) {
    auto t = parse_rfc3339(req.get_param_value("sinceTime"));
    if (!t.ok()) return send_error(res, {400, "BadRequest", "sinceTime: " + t.status().message()});
    since_us = std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
  }
  const std::string key = key_of("pods", ns, name);
  std::shared_ptr<PodLog> log;
  int64_t generation;
  {
    std::lock_guard lock(mu);
    const Json* pod = find("pods", ns, name);
    if (!pod) return send_error(res, not_found(info_of("pods"), name));
    auto it = logs.find(key);
    if (it == logs.end()) {
      const Json& c = (*pod)["spec"]["containers"][0];
      std::string reason = "ContainerCreating";
      for (const auto& cs : at_or_null((*pod)["status"], "containerStatuses")) {
        const std::string r = str_at(at_or_null(cs, "state"), "waiting", "reason");
        if (!r.empty()) reason = r;
      }
      return send_error(res, {400, "BadRequest",
                              "container \"" + str_at(c, "name") + "\" in pod \"" + name +
                                  "\" is waiting to start: " + reason});
    }
    log = it->second;
    generation = cut_generation;
  }
  auto format = [timestamps](const std::pair<int64_t, std::string>& l) {
    return timestamps ? rfc3339_micros(l.first) + " " + l.second : l.second;
  };
  if (!follow) {
    std::string out;
    std::lock_guard lock(mu);
    for (const auto& l : log->lines) {
      if (l.first >= since_us) out += format(l);
    }
    res.set_content(out, "text/plain");
    return;
  }
  size_t pos = 0;
  res.set_chunked_content_provider("text/plain", [this, log, pos, since_us, format, generation,
                                                  key](size_t, httplib::DataSink& sink) mutable {
    std::unique_lock lock(mu);
    while (true) {
      if (stopping || cut_generation != generation) return false;
      std::string out;
      for (; pos < log->lines.size(); ++pos) {
        if (log->lines[pos].first >= since_us) out += format(log->lines[pos]);
      }
      const bool done = log->done || !objects.count(key);
      if (!out.empty()) {
        lock.unlock();
        if (!sink.write(out.data(), out.size())) return false;
        lock.lock();
        continue;
      }
      if (done) {
        lock.unlock();
        sink.done();
        return true;
      }
      changed.wait_for(lock, std::chrono::milliseconds(100));
      if (!sink.is_writable()) return false;
    }
  });
}

namespace {

// Status from the store's err(): "CODE REASON message".
ApiError api_error(const Status& s) {
  const std::string& m = s.message();
  const size_t a = m.find(' ');
  const size_t b = m.find(' ', a + 1);
  if (a == std::string::npos || b == std::string::npos) return {500, "InternalError", m};
  return {static_cast<int>(std::strtol(m.substr(0, a).c_str(), nullptr, 10)),
          m.substr(a + 1, b - a - 1), m.substr(b + 1)};
}

bool rule_allows(const std::vector<Rule>& rules, const std::string& group,
                 const std::string& resource, const std::string& verb) {
  if (rules.empty()) return true;
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end() ||
           std::find(v.begin(), v.end(), "*") != v.end();
  };
  for (const auto& r : rules) {
    if (has(r.api_groups, group) && has(r.resources, resource) && has(r.verbs, verb)) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<KubeSim>> KubeSim::start(Options options) {
  auto state = std::make_shared<State>();
  state->opt = std::move(options);
  State& s = *state;
  if (s.opt.work_dir.empty()) {
    char tmpl[] = "/tmp/kubesim-XXXXXX";
    if (!::mkdtemp(tmpl)) return Status::internal("cannot make a working folder");
    s.work_dir = tmpl;
    s.own_work_dir = true;
  } else {
    s.work_dir = s.opt.work_dir;
  }
  {
    std::lock_guard lock(s.mu);
    for (const char* ns : {"default", "kube-system"}) {
      (void)s.create(info_of("namespaces"), "",
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    }
    for (const auto& n : s.opt.nodes) {
      Json labels = {{"kubernetes.io/hostname", n.name}, {"kubernetes.io/os", "linux"}};
      for (const auto& [k, v] : n.labels) labels[k] = v;
      Json annotations = Json::object();
      Json capacity = {{"cpu", std::to_string(n.cpu_milli) + "m"},
                       {"memory", std::to_string(n.memory_mib) + "Mi"},
                       {"pods", "110"}};
      if (n.gpus > 0) {
        capacity["nvidia.com/gpu"] = std::to_string(n.gpus);
        if (!n.gpu_product.empty()) labels["nvidia.com/gpu.product"] = n.gpu_product;
        labels["nvidia.com/gpu.memory"] = std::to_string(n.gpu_memory_mib);
        labels["nvidia.com/gpu.count"] = std::to_string(n.gpus);
        // What the node agent reports: each device's UUID.
        Json devices = Json::array();
        for (int i = 0; i < n.gpus; ++i) {
          devices.push_back({{"uuid", "GPU-" + n.name + "-" + std::to_string(i)},
                             {"memory_mib", n.gpu_memory_mib},
                             {"name", n.gpu_product}});
        }
        annotations["jizhan.io/gpus"] = json::dump(devices);
      }
      Json node = {
          {"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", n.name}, {"labels", labels}, {"annotations", annotations}}},
          {"spec", Json::object()}};
      auto created = s.create(info_of("nodes"), "", node);
      if (!created.ok()) return created.status();
      s.set_status(
          "nodes", "", n.name,
          {{"capacity", capacity},
           {"allocatable", capacity},
           {"conditions", Json::array({State::condition("Ready", "True", "KubeletReady",
                                                        "kubelet is posting ready status")})},
           {"nodeInfo", {{"kubeletVersion", "v1.30.0-kubesim"}}}});
    }
  }
  auto sim = std::unique_ptr<KubeSim>(new KubeSim());
  sim->state_ = state;
  s.tls = !s.opt.tls_cert_file.empty() && !s.opt.tls_key_file.empty();
  JZ_RETURN_IF_ERROR(sim->resume());
  s.controller = std::thread([&s] { s.controller_loop(); });
  return sim;
}

Status KubeSim::resume() {
  State& s = *state_;
  if (s.server) return {};
  std::unique_ptr<httplib::Server> server;
  if (s.tls) {
    const std::string cert = s.opt.tls_cert_file, key = s.opt.tls_key_file,
                      ca = s.opt.client_ca_file;
    auto ssl = std::make_unique<httplib::SSLServer>([cert, key, ca](SSL_CTX& ctx) {
      if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return false;
      if (!ca.empty()) {
        if (SSL_CTX_load_verify_locations(&ctx, ca.c_str(), nullptr) != 1) return false;
        // Ask for a certificate, accept a request without one (it may bring a token).
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
      }
      return true;
    });
    if (!ssl->is_valid())
      return Status::invalid_argument("kubesim: cannot load the TLS certificate or key");
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  server->new_task_queue = [] { return new httplib::ThreadPool(128); };
  std::weak_ptr<State> weak = state_;
  auto handler = [weak](const httplib::Request& req, httplib::Response& res) {
    auto sp = weak.lock();
    if (!sp) return;
    State& st = *sp;
    // Who asks.
    std::string user;
    const User* known = nullptr;
    if (!st.opt.users.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) {
        for (const auto& u : st.opt.users) {
          if (!u.token.empty() && u.token == auth.substr(7)) known = &u;
        }
      }
      if (!known && req.ssl) {
        X509* cert = SSL_get1_peer_certificate(const_cast<SSL*>(req.ssl));
        if (cert && SSL_get_verify_result(req.ssl) == X509_V_OK) {
          char cn[256] = {0};
          X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
          for (const auto& u : st.opt.users) {
            if (u.name == cn) known = &u;
          }
        }
        if (cert) X509_free(cert);
      }
      if (!known) return send_error(res, {401, "Unauthorized", "Unauthorized"});
      user = known->name;
    }
    {
      std::lock_guard lock(st.mu);
      if (st.throttle_left > 0) {
        --st.throttle_left;
        res.set_header("Retry-After", std::to_string(st.retry_after));
        return send_error(res,
                          {429, "TooManyRequests", "Too many requests, please try again later."});
      }
    }
    if (req.path == "/version") {
      return send(res, 200, {{"major", "1"}, {"minor", "30"}, {"gitVersion", "v1.30.0-kubesim"}});
    }
    // Discovery (the legacy documents), for kubectl.
    if (req.path == "/api") {
      return send(res, 200,
                  {{"kind", "APIVersions"},
                   {"versions", Json::array({"v1"})},
                   {"serverAddressByClientCIDRs", Json::array()}});
    }
    if (req.path == "/apis") {
      Json groups = Json::array();
      std::set<std::string> seen;
      for (const auto& r : resources()) {
        if (r.group.empty() || !seen.insert(r.group).second) continue;
        Json v = {{"groupVersion", r.api_version()}, {"version", r.version}};
        groups.push_back(
            {{"name", r.group}, {"versions", Json::array({v})}, {"preferredVersion", v}});
      }
      return send(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
    }
    for (const auto& gv : {std::string("/api/v1"), std::string("/apis/batch/v1"),
                           std::string("/apis/networking.k8s.io/v1")}) {
      if (req.path != gv) continue;
      Json list = Json::array();
      const Json verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
      for (const auto& r : resources()) {
        if ((r.group.empty() ? "/api/" + r.version : "/apis/" + r.api_version()) != gv) continue;
        std::string singular = r.kind;
        for (auto& ch : singular)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        list.push_back({{"name", r.resource},
                        {"singularName", singular},
                        {"namespaced", r.namespaced},
                        {"kind", r.kind},
                        {"verbs", verbs}});
        if (r.resource == "pods") {
          list.push_back({{"name", "pods/log"},
                          {"singularName", ""},
                          {"namespaced", true},
                          {"kind", "Pod"},
                          {"verbs", Json::array({"get"})}});
        }
      }
      return send(res, 200,
                  {{"kind", "APIResourceList"},
                   {"apiVersion", "v1"},
                   {"groupVersion", gv.substr(gv.find('/', 1) + 1)},
                   {"resources", list}});
    }
    if (req.path == "/healthz" || req.path == "/readyz") {
      res.set_content("ok", "text/plain");
      return;
    }
    auto target = st.parse_path(req.path);
    if (!target)
      return send_error(res, {404, "NotFound", "the server could not find the requested resource"});
    const ResourceInfo& info = *target->info;
    const bool watch =
        req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true";
    std::string verb;
    if (req.method == "GET") {
      verb = watch ? "watch" : target->name.empty() ? "list" : "get";
    } else if (req.method == "POST") {
      verb = "create";
    } else if (req.method == "PUT") {
      verb = "update";
    } else if (req.method == "PATCH") {
      verb = "patch";
    } else if (req.method == "DELETE") {
      verb = target->name.empty() ? "deletecollection" : "delete";
    }
    const std::string resource = info.resource + (target->sub.empty() ? "" : "/" + target->sub);
    {
      std::lock_guard lock(st.mu);
      ++st.counts[verb + " " + resource];
    }
    if (known && !rule_allows(known->rules, info.group, resource, verb)) {
      return send_error(
          res, {403, "Forbidden",
                info.resource + " is forbidden: User \"" + user + "\" cannot " + verb +
                    " resource \"" + resource + "\" in API group \"" + info.group + "\"" +
                    (target->ns.empty() ? "" : " in the namespace \"" + target->ns + "\"")});
    }
    if (info.namespaced && target->ns.empty() && (verb != "list" && verb != "watch")) {
      return send_error(res, {404, "NotFound", "the server could not find the requested resource"});
    }
    const std::string ns = target->ns;
    auto reply = [&](const Result<Json>& r, int ok_code) {
      if (r.ok()) return send(res, ok_code, *r);
      send_error(res, api_error(r.status()));
    };
    auto body_json = [&]() -> std::optional<Json> {
      auto j = json::parse(req.body, "request body");
      if (!j.ok()) {
        send_error(res, {400, "BadRequest", j.status().message()});
        return std::nullopt;
      }
      return *j;
    };
    if (target->sub == "log") {
      if (req.method != "GET" || info.resource != "pods") {
        return send_error(res, {405, "MethodNotAllowed", "only GET on pods/log"});
      }
      return st.serve_log(req, res, ns, target->name);
    }
    if (!target->sub.empty() && target->sub != "status") {
      return send_error(res, {404, "NotFound", "the server could not find the requested resource"});
    }
    const bool status_only = target->sub == "status";
    if (verb == "get") {
      std::lock_guard lock(st.mu);
      const Json* o = st.find(info.resource, ns, target->name);
      if (!o) return send_error(res, st.not_found(info, target->name));
      return send(res, 200, *o);
    }
    if (verb == "list" || verb == "watch") {
      auto labels = Selector::parse(req.get_param_value("labelSelector"));
      if (!labels.ok()) return send_error(res, {400, "BadRequest", labels.status().message()});
      auto fields = FieldSelector::parse(req.get_param_value("fieldSelector"));
      if (!fields.ok()) return send_error(res, {400, "BadRequest", fields.status().message()});
      if (verb == "list") {
        std::lock_guard lock(st.mu);
        Json items = Json::array();
        for (const auto& [k, o] : st.objects) {
          if (k.rfind(info.resource + "|", 0) != 0) continue;
          if (!ns.empty() && str_at(o, "metadata", "namespace") != ns) continue;
          if (!labels->matches(at_or_null(at_or_null(o, "metadata"), "labels"))) continue;
          if (!fields->matches(o)) continue;
          items.push_back(o);
        }
        return send(res, 200,
                    {{"kind", info.kind + "List"},
                     {"apiVersion", info.api_version()},
                     {"metadata", {{"resourceVersion", std::to_string(st.rv)}}},
                     {"items", items}});
      }
      return st.serve_watch(req, res, info, ns, *labels, *fields);
    }
    if (verb == "create") {
      auto body = body_json();
      if (!body) return;
      std::lock_guard lock(st.mu);
      return reply(st.create(info, ns, std::move(*body)), 201);
    }
    if (verb == "update") {
      auto body = body_json();
      if (!body) return;
      std::lock_guard lock(st.mu);
      return reply(st.update(info, ns, target->name, std::move(*body), status_only), 200);
    }
    if (verb == "patch") {
      const std::string type = req.get_header_value("Content-Type");
      if (type.rfind("application/merge-patch+json", 0) != 0) {
        return send_error(res, {415, "UnsupportedMediaType",
                                "the body of the request was in an unknown format - accepted media "
                                "types include: application/merge-patch+json (kubesim)"});
      }
      auto body = body_json();
      if (!body) return;
      std::lock_guard lock(st.mu);
      return reply(st.patch(info, ns, target->name, *body, status_only), 200);
    }
    if (verb == "delete") {
      std::string propagation = req.get_param_value("propagationPolicy");
      std::optional<int64_t> grace;
      if (req.has_param("gracePeriodSeconds")) {
        grace = std::strtoll(req.get_param_value("gracePeriodSeconds").c_str(), nullptr, 10);
      }
      if (!req.body.empty()) {
        auto body = body_json();
        if (!body) return;
        if (body->contains("propagationPolicy")) propagation = str_at(*body, "propagationPolicy");
        if (at_or_null(*body, "gracePeriodSeconds").is_number_integer()) {
          grace = (*body)["gracePeriodSeconds"].get<int64_t>();
        }
      }
      std::lock_guard lock(st.mu);
      return reply(st.remove(info, ns, target->name, propagation, grace), 200);
    }
    send_error(res, {405, "MethodNotAllowed", "the server does not allow this method"});
  };
  server->Get(".*", handler);
  server->Post(".*", handler);
  server->Put(".*", handler);
  server->Patch(".*", handler);
  server->Delete(".*", handler);
  server->set_read_timeout(60, 0);
  server->set_write_timeout(10, 0);
  if (s.port == 0) s.port = s.opt.port;
  int port = s.port;
  if (port == 0) {
    port = server->bind_to_any_port(s.opt.listen_host);
    if (port <= 0) return Status::unavailable("kubesim: cannot listen on " + s.opt.listen_host);
  } else {
    bool bound = false;
    for (int i = 0; i < 50 && !bound; ++i) {
      bound = server->bind_to_port(s.opt.listen_host, port);
      if (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!bound)
      return Status::unavailable("kubesim: cannot listen on port " + std::to_string(port));
  }
  s.port = port;
  httplib::Server* raw = server.get();
  s.server = std::move(server);
  s.server_thread = std::thread([raw] { raw->listen_after_bind(); });
  while (!raw->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return {};
}

void KubeSim::pause() {
  State& s = *state_;
  if (!s.server) return;
  cut_watches();
  s.server->stop();
  if (s.server_thread.joinable()) s.server_thread.join();
  s.server.reset();
}

KubeSim::~KubeSim() {
  State& s = *state_;
  pause();
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
    for (auto& [k, p] : s.procs) {
      if (!p->exited) ::kill(-p->pid, SIGKILL);
    }
    s.changed.notify_all();
  }
  if (s.controller.joinable()) s.controller.join();
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(s.mu);
    readers.swap(s.readers);
  }
  for (auto& t : readers) t.join();
  if (s.own_work_dir) {
    std::error_code ec;
    fs::remove_all(s.work_dir, ec);
  }
}

int KubeSim::port() const { return state_->port; }
std::string KubeSim::url() const {
  return std::string(state_->tls ? "https" : "http") + "://" + state_->opt.listen_host + ":" +
         std::to_string(state_->port);
}

void KubeSim::compact() {
  std::lock_guard lock(state_->mu);
  state_->horizon = state_->rv;
  state_->history.clear();
}

void KubeSim::throttle(int n, int retry_after_seconds) {
  std::lock_guard lock(state_->mu);
  state_->throttle_left = n;
  state_->retry_after = retry_after_seconds;
}

void KubeSim::evict_node(const std::string& node, const std::string& message) {
  std::lock_guard lock(state_->mu);
  state_->evict(node, message);
}

void KubeSim::cut_watches() {
  std::lock_guard lock(state_->mu);
  ++state_->cut_generation;
  state_->changed.notify_all();
}

Json KubeSim::get(const std::string& resource, const std::string& ns,
                  const std::string& name) const {
  std::lock_guard lock(state_->mu);
  const Json* o = state_->find(resource, ns, name);
  return o ? *o : Json();
}

std::vector<Json> KubeSim::list(const std::string& resource, const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  std::vector<Json> out;
  for (const auto& [k, o] : state_->objects) {
    if (k.rfind(resource + "|", 0) == 0 && (ns.empty() || str_at(o, "metadata", "namespace") == ns))
      out.push_back(o);
  }
  return out;
}

int64_t KubeSim::resource_version() const {
  std::lock_guard lock(state_->mu);
  return state_->rv;
}

std::map<std::string, int64_t> KubeSim::request_counts() const {
  std::lock_guard lock(state_->mu);
  return state_->counts;
}

int64_t KubeSim::max_running_pods() const {
  std::lock_guard lock(state_->mu);
  return state_->max_running;
}

}  // namespace jz::kubesim
