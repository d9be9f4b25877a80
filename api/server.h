// The HTTP API server: the event-driven HTTP core (http/server.h) under the declared
// routes of api/routes/ (api/framework.h).
//
// Owns authentication of /api/ routes (bearer tokens from a login or API tokens, see
// platform/iam), request ids (X-Request-Id, taken from the client when well-formed,
// generated otherwise), JSON error bodies {"error":{"code","message","request_id"}},
// the access log, Prometheus metrics, the audit of every mutating request, health and
// readiness answered from memory, and graceful shutdown: stop() closes the listening
// socket, ends live streams, lets requests in flight finish, then run() returns.
//
// Thread safety: bind() and run() are called from one thread; stop() from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/id.h"
#include "core/status.h"
#include "http/server.h"
#include "platform/iam/audit.h"
#include "platform/iam/authenticator.h"
#include "platform/iam/events.h"
#include "store/database.h"

namespace jz::jobs {
class JobStore;
class Datasets;
class JobRunner;
class Uploads;
class CodeRepos;
class Outputs;
class Metering;
}  // namespace jz::jobs
namespace jz::monitor {
class Monitor;
}  // namespace jz::monitor
namespace jz::alerts {
class AlertService;
}  // namespace jz::alerts
namespace jz::training {
class RunService;
}  // namespace jz::training
namespace jz::clusters {
class ClusterRegistry;
}
namespace jz::algostore {
class AlgorithmStore;
}
namespace jz::datasets {
class DatasetVersions;
class CurationService;
class Labelling;
class Lifecycle;
class PreAnnotations;
class Conversions;
}  // namespace jz::datasets
namespace jz::autotest {
class AutotestService;
class CompetitionService;
}  // namespace jz::autotest

namespace jz::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port (see ApiServer::port())
  int threads = 16;  // run handlers; one more is always kept for I/O
  size_t max_body_bytes = 8 << 20;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds keepalive_timeout{5};
  int keepalive_max_requests = 1000;
  int max_connections = 10000;
  int max_connections_per_client = 512;
  int max_streams_per_user = 32;
  std::chrono::seconds websocket_ping_interval{30};
  size_t websocket_max_message_bytes = 1 << 20;
  bool secure_cookies = false;  // the console's session cookie is sent over HTTPS only
  std::string console_dir;      // the built console; "" finds it beside the program
  bool access_log = true;
  bool metrics_public = true;  // false: /metrics needs a token too
  // The dev-environment proxy (api/routes/devenv_routes.cc): threads that move its bytes,
  // and the connections one environment may hold open through it.
  int proxy_threads = 2;
  int devenv_max_connections = 64;
  // The largest git push (a request under /git/), held in memory while git takes it.
  size_t git_max_push_bytes = 256 << 20;
};

// Parses "HOST:PORT" (http/server.h): the API server's listen address.
using http::parse_listen_address;

// Services beyond IAM that the server exposes when given (the jobs routes, dev
// environments). All may be null: the server then serves IAM only.
struct PlatformServices {
  jobs::JobStore* jobs = nullptr;
  jobs::Datasets* datasets = nullptr;
  jobs::JobRunner* runner = nullptr;
  iam::EventLog* events = nullptr;  // shared with the runner, so live streams wake at once
  // Why no job can run here (no runner); "" when jobs run or were turned off.
  std::string jobs_unavailable;
  jobs::Uploads* uploads = nullptr;        // resumable uploads (datasets today)
  jobs::CodeRepos* code = nullptr;         // project repositories (git over /git/)
  jobs::Outputs* outputs = nullptr;        // job outputs and their release reviews
  monitor::Monitor* monitor = nullptr;     // the node agent's series (GPU dashboard, resources)
  jobs::Metering* metering = nullptr;      // usage and cost from the job history
  alerts::AlertService* alerts = nullptr;  // alert rules, receivers and deliveries
  training::RunService* runs = nullptr;    // training runs: metrics, notes, progress
  autotest::AutotestService* autotest = nullptr;         // suites, algorithms, evaluations
  autotest::CompetitionService* competitions = nullptr;  // teams, boards, signed verdicts
  clusters::ClusterRegistry* clusters = nullptr;         // this machine and Kubernetes clusters
  algostore::AlgorithmStore* algostore = nullptr;        // listings, orders, activations
  datasets::DatasetVersions* versions = nullptr;         // dataset versions and their files
  datasets::CurationService* curations = nullptr;        // duplicates and quality, reviewed
  datasets::Labelling* labelling = nullptr;              // labelling tasks, jobs, shapes
  datasets::Lifecycle* lifecycle = nullptr;              // keep / archive / delete rules
  datasets::PreAnnotations* preannotations = nullptr;    // algorithms' first shapes
  datasets::Conversions* conversions = nullptr;          // annotation formats, as jobs
};

class ApiServer {
 public:
  // `audit` may be null (audit.enabled=false); otherwise every mutating request and
  // every login or logout is appended to it.
  ApiServer(ServerOptions options, store::Database& db, iam::Authenticator& auth,
            iam::AuditLog* audit, std::shared_ptr<spdlog::logger> logger,
            Clock& clock = Clock::system(), const PlatformServices& services = {});
  ~ApiServer();

  // Binds the listening socket; a busy port or a bad address is an error naming it.
  Status bind();
  // The bound port (useful with port 0).
  int port() const { return bound_port_; }
  // Serves until stop(); returns OK after a clean shutdown.
  Status run();
  // Stops accepting; requests in flight complete. Safe from any thread, idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  int bound_port_ = 0;
};

}  // namespace jz::api
