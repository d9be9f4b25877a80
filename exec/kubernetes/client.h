// A client of the Kubernetes API over HTTPS (libcurl): credentials from a kubeconfig
// context or a pod's service account, timeouts, retries with exponential backoff on
// connection errors, 5xx and 429 (honouring Retry-After), and streams (watches, followed
// pod logs) read line by line.
//
// Thread safety: a KubeClient may be used from several threads at once (each request has
// its own curl handle).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/json.h"
#include "core/status.h"

namespace jz::kube {

// How to reach and authenticate to one cluster.
struct ClusterAuth {
  std::string server;  // "https://host:port"
  std::string token;   // a bearer token
  // A client certificate and key (PEM), or files holding them.
  std::string client_cert_pem, client_key_pem, client_cert_file, client_key_file;
  // The CA that signed the server's certificate (PEM or a file); none: the system's.
  std::string ca_pem, ca_file;
  bool insecure_skip_tls_verify = false;
  std::string namespace_;  // the context's namespace ("" none)
};

// Reads a kubeconfig (YAML text): the named context, or its current-context when "".
// Relative file paths are taken from `base_dir`. Exec and auth-provider plugins are
// refused with a message saying to use a token or a certificate.
Result<ClusterAuth> parse_kubeconfig(const std::string& text, const std::string& context = "",
                                     const std::string& base_dir = ".");
Result<ClusterAuth> load_kubeconfig(const std::string& path, const std::string& context = "");
// A pod's own service account: KUBERNETES_SERVICE_HOST/PORT and the token, CA and
// namespace files under `dir`.
Result<ClusterAuth> in_cluster_auth(
    const std::string& dir = "/var/run/secrets/kubernetes.io/serviceaccount");

struct ApiResponse {
  int status = 0;  // HTTP status; 0: no answer
  std::string body;
  Json json;  // the body parsed (null when not JSON)
  // The API's Status fields on an error answer.
  std::string reason() const;
  std::string message() const;
};

struct ClientOptions {
  ClusterAuth auth;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  int max_attempts = 6;  // for one request, retries included
  std::chrono::milliseconds backoff{200};
  std::chrono::milliseconds max_backoff{8000};
};

class KubeClient {
 public:
  explicit KubeClient(ClientOptions options);
  ~KubeClient();
  const ClientOptions& options() const { return options_; }

  // One request. Answers with any HTTP status come back as they are (after retrying 429
  // and 5xx); unavailable only when no answer came at all.
  Result<ApiResponse> request(const std::string& method, const std::string& path,
                              const std::string& body = "",
                              const std::string& content_type = "application/json");
  // The object (2xx), or an error whose code follows the HTTP status (404 not_found, 409
  // already_exists, 403 permission_denied, 401 unauthenticated, 422 invalid_argument, 410
  // failed_precondition, else unavailable) and whose message is the API's.
  Result<Json> get(const std::string& path);
  Result<Json> create(const std::string& collection, const Json& object);
  Result<Json> merge_patch(const std::string& path, const Json& patch);
  // DELETE with a propagation policy ("Background", "Foreground", "Orphan") and grace
  // period (seconds; <0: the object's own); a missing object is not an error.
  Status remove(const std::string& path, const std::string& propagation, int64_t grace_s = -1);

  // A stream (?watch=1, pods/log?follow=true): calls on_line for each line (without the
  // newline) until the server ends it (OK), on_line returns false or `stop` becomes true
  // (OK), or the connection fails (unavailable). No retry: the caller resumes from what it
  // has seen.
  Status stream(const std::string& path, const std::function<bool(std::string_view)>& on_line,
                const std::atomic<bool>* stop = nullptr);

 private:
  Result<ApiResponse> once(const std::string& method, const std::string& path,
                           const std::string& body, const std::string& content_type,
                           int* retry_after_s);
  ClientOptions options_;
};

// An API answer that is not 2xx as a Status (see KubeClient::get).
Status api_status(const ApiResponse& r, const std::string& what);

// Percent-encodes a query value.
std::string query_escape(std::string_view s);

}  // namespace jz::kube
