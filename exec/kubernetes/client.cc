#include "exec/kubernetes/client.h"

#include <curl/curl.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "core/files.h"

namespace jz::kube {
namespace {

std::once_flag curl_once;

std::string node_string(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return "";
  const YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

std::string decode_base64(const std::string& in, bool* ok) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  *ok = true;
  for (unsigned char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    const size_t p = chars.find(static_cast<char>(c));
    if (p == std::string::npos) {
      *ok = false;
      return "";
    }
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// A named entry of a kubeconfig list ("clusters", "users", "contexts").
YAML::Node entry(const YAML::Node& root, const char* list, const std::string& name,
                 const char* inner) {
  const YAML::Node l = root[list];
  if (!l || !l.IsSequence()) return {};
  for (const auto& e : l) {
    if (e.IsMap() && node_string(e, "name") == name) return e[inner];
  }
  return {};
}

// The body as JSON (null when it is not).
void parse_body(ApiResponse& r) {
  r.json = Json::parse(r.body, nullptr, false);
  if (r.json.is_discarded()) r.json = nullptr;
}

size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct Headers {
  int retry_after = -1;
};

size_t header_cb(char* data, size_t size, size_t n, void* user) {
  std::string_view h(data, size * n);
  constexpr std::string_view kRetry = "retry-after:";
  if (h.size() > kRetry.size()) {
    std::string lower(h.substr(0, kRetry.size()));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kRetry)
      static_cast<Headers*>(user)->retry_after =
          static_cast<int>(std::strtol(std::string(h.substr(kRetry.size())).c_str(), nullptr, 10));
  }
  return size * n;
}

// Applies the cluster's address and credentials to a handle.
void setup(CURL* c, const ClientOptions& o, const std::string& path, curl_slist** headers) {
  curl_easy_setopt(c, CURLOPT_URL, (o.auth.server + path).c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  if (!o.auth.token.empty()) {
    *headers = curl_slist_append(*headers, ("Authorization: Bearer " + o.auth.token).c_str());
  }
  *headers = curl_slist_append(*headers, "Accept: application/json");
  *headers = curl_slist_append(*headers, "User-Agent: jizhan-executor");
  // Each credential as PEM data (copied into curl) or as a file.
  auto pem_or_file = [c](const std::string& pem, CURLoption blob_option, const std::string& file,
                         CURLoption file_option) {
    if (!pem.empty()) {
      curl_blob b{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(c, blob_option, &b);
    } else if (!file.empty()) {
      curl_easy_setopt(c, file_option, file.c_str());
    }
  };
  pem_or_file(o.auth.client_cert_pem, CURLOPT_SSLCERT_BLOB, o.auth.client_cert_file,
              CURLOPT_SSLCERT);
  pem_or_file(o.auth.client_key_pem, CURLOPT_SSLKEY_BLOB, o.auth.client_key_file, CURLOPT_SSLKEY);
  pem_or_file(o.auth.ca_pem, CURLOPT_CAINFO_BLOB, o.auth.ca_file, CURLOPT_CAINFO);
  if (o.auth.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

}  // namespace

Result<ClusterAuth> parse_kubeconfig(const std::string& text, const std::string& context,
                                     const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument("the kubeconfig is not valid YAML: " + std::string(e.what()));
  }
  if (!root.IsMap()) return Status::invalid_argument("the kubeconfig is not a YAML map");
  try {
    std::string name = context.empty() ? node_string(root, "current-context") : context;
    if (name.empty()) {
      return Status::invalid_argument(
          "the kubeconfig has no current-context: name one (kubeconfig_context)");
    }
    const YAML::Node ctx = entry(root, "contexts", name, "context");
    if (!ctx || !ctx.IsMap()) {
      return Status::not_found("the kubeconfig has no context '" + name + "'");
    }
    const std::string cluster_name = node_string(ctx, "cluster");
    const std::string user_name = node_string(ctx, "user");
    const YAML::Node cluster = entry(root, "clusters", cluster_name, "cluster");
    if (!cluster || !cluster.IsMap()) {
      return Status::not_found("the kubeconfig's context '" + name + "' names cluster '" +
                               cluster_name + "', which it does not define");
    }
    ClusterAuth a;
    a.namespace_ = node_string(ctx, "namespace");
    a.server = node_string(cluster, "server");
    while (!a.server.empty() && a.server.back() == '/') a.server.pop_back();
    if (a.server.rfind("https://", 0) != 0 && a.server.rfind("http://", 0) != 0) {
      return Status::invalid_argument("cluster '" + cluster_name +
                                      "': server must be an https:// address, got '" + a.server +
                                      "'");
    }
    auto path_of = [&](const std::string& p) {
      if (p.empty() || p[0] == '/') return p;
      return (std::filesystem::path(base_dir) / p).string();
    };
    auto data_of = [&](const YAML::Node& n, const char* key, std::string* out) -> Status {
      const std::string v = node_string(n, key);
      if (v.empty()) return {};
      bool ok;
      *out = decode_base64(v, &ok);
      if (!ok) return Status::invalid_argument(std::string(key) + " is not base64");
      return {};
    };
    JZ_RETURN_IF_ERROR(data_of(cluster, "certificate-authority-data", &a.ca_pem));
    a.ca_file = path_of(node_string(cluster, "certificate-authority"));
    a.insecure_skip_tls_verify = node_string(cluster, "insecure-skip-tls-verify") == "true";
    if (!user_name.empty()) {
      const YAML::Node user = entry(root, "users", user_name, "user");
      if (!user || !user.IsMap()) {
        return Status::not_found("the kubeconfig's context '" + name + "' names user '" +
                                 user_name + "', which it does not define");
      }
      if (user["exec"] || user["auth-provider"]) {
        return Status::invalid_argument(
            "user '" + user_name +
            "' authenticates through a plugin (exec or auth-provider), which Jizhan does not "
            "run: give it a service account token or a client certificate");
      }
      a.token = node_string(user, "token");
      if (a.token.empty() && !node_string(user, "tokenFile").empty()) {
        JZ_ASSIGN_OR_RETURN(a.token, read_file(path_of(node_string(user, "tokenFile"))));
        while (!a.token.empty() && (a.token.back() == '\n' || a.token.back() == '\r'))
          a.token.pop_back();
      }
      JZ_RETURN_IF_ERROR(data_of(user, "client-certificate-data", &a.client_cert_pem));
      JZ_RETURN_IF_ERROR(data_of(user, "client-key-data", &a.client_key_pem));
      a.client_cert_file = path_of(node_string(user, "client-certificate"));
      a.client_key_file = path_of(node_string(user, "client-key"));
      if (!node_string(user, "username").empty()) {
        return Status::invalid_argument("user '" + user_name +
                                        "' uses basic authentication, which Kubernetes no longer "
                                        "has: give it a token or a client certificate");
      }
    }
    return a;
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument("the kubeconfig: " + std::string(e.what()));
  }
}

Result<ClusterAuth> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = read_file(path);
  if (!text.ok()) return text.status().with_context("reading the kubeconfig " + path);
  return parse_kubeconfig(*text, context, std::filesystem::path(path).parent_path().string());
}

Result<ClusterAuth> in_cluster_auth(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || !*host || !*port) {
    return Status::failed_precondition(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set): give the "
        "cluster a kubeconfig");
  }
  ClusterAuth a;
  const std::string h = host;
  a.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  JZ_ASSIGN_OR_RETURN(a.token, read_file(dir + "/token"));
  while (!a.token.empty() && a.token.back() == '\n') a.token.pop_back();
  a.ca_file = dir + "/ca.crt";
  if (auto ns = read_file(dir + "/namespace"); ns.ok()) a.namespace_ = *ns;
  return a;
}

std::string ApiResponse::reason() const {
  return json.is_object() ? json::string_or(json, "reason") : "";
}

std::string ApiResponse::message() const {
  if (json.is_object() && json.contains("message")) return json::string_or(json, "message");
  return body.substr(0, 300);
}

Status api_status(const ApiResponse& r, const std::string& what) {
  const std::string m =
      what + ": " + (r.message().empty() ? "HTTP " + std::to_string(r.status) : r.message());
  switch (r.status) {
    case 404:
      return Status::not_found(m);
    case 409:
      return Status::already_exists(m);
    case 401:
      return Status::unauthenticated(m);
    case 403:
      return Status::permission_denied(m);
    case 400:
    case 422:
      return Status::invalid_argument(m);
    case 410:
      return Status::failed_precondition(m);
    default:
      return Status::unavailable(m);
  }
}

std::string query_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

KubeClient::KubeClient(ClientOptions options) : options_(std::move(options)) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

KubeClient::~KubeClient() = default;

Result<ApiResponse> KubeClient::once(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& content_type,
                                     int* retry_after_s) {
  CURL* c = curl_easy_init();
  if (!c) return Status::internal("curl_easy_init failed");
  curl_slist* headers = nullptr;
  setup(c, options_, path, &headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  ApiResponse r;
  Headers h;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    return Status::unavailable(method + " " + options_.auth.server + path + ": " +
                               (err[0] ? err : curl_easy_strerror(rc)));
  }
  r.status = static_cast<int>(status);
  parse_body(r);
  *retry_after_s = h.retry_after;
  return r;
}

Result<ApiResponse> KubeClient::request(const std::string& method, const std::string& path,
                                        const std::string& body, const std::string& content_type) {
  thread_local std::mt19937 jitter(std::random_device{}());
  auto delay = options_.backoff;
  Status last = Status::unavailable("no attempt made");
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    int retry_after = -1;
    auto r = once(method, path, body, content_type, &retry_after);
    const bool retryable = !r.ok() || r->status == 429 || r->status >= 500;
    if (!retryable) return r;
    if (attempt == options_.max_attempts) return r;
    last = r.ok() ? api_status(*r, method + " " + path) : r.status();
    auto wait = delay;
    if (r.ok() && retry_after >= 0) {
      wait = std::chrono::seconds(std::min(retry_after, 60));
    } else {
      // Full jitter: anywhere up to the current step.
      wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(delay.count() / 2, delay.count())(jitter));
    }
    std::this_thread::sleep_for(wait);
    delay = std::min(options_.max_backoff, delay * 2);
  }
  return last;
}

Result<Json> KubeClient::get(const std::string& path) {
  JZ_ASSIGN_OR_RETURN(auto r, request("GET", path));
  if (r.status / 100 != 2) return api_status(r, "GET " + path);
  return r.json;
}

Result<Json> KubeClient::create(const std::string& collection, const Json& object) {
  JZ_ASSIGN_OR_RETURN(auto r, request("POST", collection, json::dump(object)));
  if (r.status / 100 != 2) {
    return api_status(r, "creating " + json::string_or(object, "kind") + " " +
                             json::string_or(object.value("metadata", Json::object()), "name"));
  }
  return r.json;
}

Result<Json> KubeClient::merge_patch(const std::string& path, const Json& patch) {
  JZ_ASSIGN_OR_RETURN(auto r,
                      request("PATCH", path, json::dump(patch), "application/merge-patch+json"));
  if (r.status / 100 != 2) return api_status(r, "PATCH " + path);
  return r.json;
}

Status KubeClient::remove(const std::string& path, const std::string& propagation,
                          int64_t grace_s) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!propagation.empty()) body["propagationPolicy"] = propagation;
  if (grace_s >= 0) body["gracePeriodSeconds"] = grace_s;
  JZ_ASSIGN_OR_RETURN(auto r, request("DELETE", path, json::dump(body)));
  if (r.status == 404 || r.status / 100 == 2) return {};
  return api_status(r, "DELETE " + path);
}

namespace {

struct StreamState {
  const std::function<bool(std::string_view)>* on_line;
  const std::atomic<bool>* stop;
  std::string pending;
  std::string error_body;
  bool stopped = false;
  long status = 0;
  CURL* handle = nullptr;
};

size_t stream_write(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamState*>(user);
  if (s->status == 0) curl_easy_getinfo(s->handle, CURLINFO_RESPONSE_CODE, &s->status);
  if (s->status / 100 != 2) {
    if (s->error_body.size() < 65536) s->error_body.append(data, size * n);
    return size * n;
  }
  s->pending.append(data, size * n);
  size_t start = 0, nl;
  while ((nl = s->pending.find('\n', start)) != std::string::npos) {
    if (!(*s->on_line)(std::string_view(s->pending).substr(start, nl - start))) {
      s->stopped = true;
      return 0;
    }
    start = nl + 1;
  }
  s->pending.erase(0, start);
  if (s->pending.size() > (64u << 20)) return 0;  // a line past 64 MiB: not the API
  return size * n;
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<StreamState*>(user);
  if (s->stop && s->stop->load()) {
    s->stopped = true;
    return 1;
  }
  return 0;
}

}  // namespace

Status KubeClient::stream(const std::string& path,
                          const std::function<bool(std::string_view)>& on_line,
                          const std::atomic<bool>* stop) {
  CURL* c = curl_easy_init();
  if (!c) return Status::internal("curl_easy_init failed");
  curl_slist* headers = nullptr;
  setup(c, options_, path, &headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  StreamState s{&on_line, stop};
  s.handle = c;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
  // A silent connection for this long is dead (watches get bookmarks and the server's own
  // timeout well before).
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (s.stopped) return {};
  if (status != 0 && status / 100 != 2) {
    ApiResponse r;
    r.status = static_cast<int>(status);
    r.body = s.error_body;
    parse_body(r);
    return api_status(r, "GET " + path);
  }
  if (rc != CURLE_OK) {
    return Status::unavailable("GET " + options_.auth.server + path + ": " +
                               (err[0] ? err : curl_easy_strerror(rc)));
  }
  if (!s.pending.empty()) on_line(s.pending);
  return {};
}

}  // namespace jz::kube
