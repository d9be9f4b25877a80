// What route modules (api/routes/*.cc) work with: the platform's services, the live
// stream registry, and small helpers every module shares. Built once by the server.
//
// Thread safety: the services are thread-safe; Streams is thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "api/framework.h"
#include "api/server.h"
#include "http/netns_dial.h"
#include "http/server.h"
#include "http/tunnel.h"
#include "platform/iam/audit.h"
#include "platform/iam/authenticator.h"
#include "platform/iam/events.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "store/database.h"
#include "store/settings.h"

namespace jz::datasets {
struct Version;
}  // namespace jz::datasets

namespace jz::api {

// Live streams (Server-Sent Events, follows): at most `per_user` open at once per user
// (429 beyond), and a way to wake every stream of a kind when news arrives.
class Streams {
 public:
  explicit Streams(int per_user) : per_user_(per_user) {}
  void attach(http::Server* server) { server_ = server; }

  // A slot held while the stream lives; its destructor frees it.
  class Slot {
   public:
    Slot(Streams& owner, std::string user, uint64_t connection, std::string kind)
        : owner_(owner), user_(std::move(user)), connection_(connection), kind_(std::move(kind)) {}
    ~Slot() { owner_.release(*this); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    friend class Streams;
    Streams& owner_;
    std::string user_;
    uint64_t connection_;
    std::string kind_;
  };

  // resource_exhausted when the user holds per_user streams already.
  Result<std::unique_ptr<Slot>> open(const std::string& user, uint64_t connection,
                                     const std::string& kind);
  // Polls every open stream of `kind` now.
  void wake(const std::string& kind);
  int64_t open_count() const;

 private:
  void release(const Slot& s);
  const int per_user_;
  std::atomic<http::Server*> server_{nullptr};
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> by_user_;
  std::multiset<std::pair<std::string, uint64_t>> by_kind_;
};

// The dev-environment proxy's shared parts: the threads that carry proxied connections,
// the threads that connect into sandboxes, and each environment's open connections.
struct ProxyParts {
  explicit ProxyParts(const ServerOptions& o);
  // Counts a connection to `env`; false when it holds devenv_max_connections already.
  bool acquire(const std::string& env);
  void release(const std::string& env);

  http::TunnelPool tunnels;
  http::NetnsDialer dialer;
  const int max_per_env;

 private:
  std::mutex mu_;
  std::unordered_map<std::string, int> open_;
};

struct ApiServices {
  store::Database& db;
  iam::Authenticator& auth;
  iam::AuditLog* audit;  // null when audit.enabled=false
  iam::Tenancy& tenancy;
  iam::Authorizer& authorizer;
  iam::Quotas& quotas;
  iam::EventLog& events;
  store::SettingsRepo& settings;
  PlatformServices platform;
  Clock& clock;
  spdlog::logger& logger;
  Streams& streams;
  const ServerOptions& options;
  ProxyParts& proxy;

  // Records a lifecycle event of a project's resource; a failure is logged, not
  // returned, since the change itself is already stored.
  // It names the project's (or the route's) workspace; `subject` is the user it is about.
  void emit(const RequestContext& ctx, const std::string& project, const std::string& type,
            const std::string& name, const std::string& event_type, const std::string& reason,
            const std::string& message, const std::string& subject = "") const;
  // An event of a workspace (no project), or about a user only (no workspace).
  void emit_workspace(const RequestContext& ctx, const std::string& workspace,
                      const std::string& type, const std::string& name,
                      const std::string& event_type, const std::string& reason,
                      const std::string& message, const std::string& subject = "") const;
  void emit_user(const RequestContext& ctx, const std::string& username, const std::string& type,
                 const std::string& event_type, const std::string& reason,
                 const std::string& message) const;
  // Stores `e` with the caller as its actor (what the three above end in).
  void store_event(const RequestContext& ctx, iam::Event e) const;
};

// Which projects' jobs the caller may see (job:list there), by project name, each project
// asked of the authoriser once: for answers that gather jobs of many projects.
class JobVisibility {
 public:
  JobVisibility(const ApiServices& s, const iam::Principal& me) : s_(s), me_(me) {}
  bool sees(const std::string& project);

 private:
  const ApiServices& s_;
  const iam::Principal& me_;
  std::unordered_map<std::string, bool> seen_;
};

// An entity tag for a representation: a hash of its JSON text.
std::string etag_of(const Json& representation);

// Times on the wire: RFC 3339 in UTC with milliseconds.
std::string wire_time(int64_t unix_ms);

// A data owner's file as an answer: images as what they are (so the console shows them),
// anything else as bytes to save; never run as a page of ours (sandboxing CSP, nosniff),
// cached privately (a version's files never change).
Reply data_file_reply(std::string bytes, const std::string& path);

// One page of rows already sorted by a unique key, for collections that come from a
// source without keyset queries: items after ctx.page.after, at most ctx.page.size.
Reply page_of(const RequestContext& ctx, std::vector<Json> sorted_items, const char* key);

// One keyset page of the events of a workspace or about a user (by seq; `after` or the
// page token says where it starts).
Result<Reply> events_page(const ApiServices& s, const RequestContext& ctx, iam::EventLog::Of of,
                          const std::string& key);

// Route modules.
void add_platform_routes(ApiRoutes& api, const ApiServices& s);  // version, auth, settings, audit
void add_account_routes(ApiRoutes& api, const ApiServices& s);   // users, tokens, roles
void add_tenancy_routes(ApiRoutes& api, const ApiServices& s);   // workspaces, projects, members
void add_project_routes(ApiRoutes& api, const ApiServices& s);   // quota, events
void add_dataset_routes(ApiRoutes& api, const ApiServices& s);
void add_dataset_version_routes(ApiRoutes& api, const ApiServices& s);    // versions, their files
void add_dataset_lifecycle_routes(ApiRoutes& api, const ApiServices& s);  // keep/archive/delete
// A dataset version as the API shows it (api/routes/version_routes.cc).
Json version_json(const datasets::Version& v);
// The {number} path parameter of a version route: 1, 2, ...; invalid_argument otherwise.
Result<int64_t> version_param(const RequestContext& ctx);
void add_label_routes(ApiRoutes& api, const ApiServices& s);  // labelling tasks and jobs
void add_job_routes(ApiRoutes& api, const ApiServices& s);
void add_log_routes(ApiRoutes& api, const ApiServices& s);
void add_devenv_routes(ApiRoutes& api, const ApiServices& s);
void add_code_routes(ApiRoutes& api, const ApiServices& s);  // git, code page, outputs, releases
void add_scheduler_routes(ApiRoutes& api, const ApiServices& s);   // view, what-if simulator
void add_monitoring_routes(ApiRoutes& api, const ApiServices& s);  // GPU series, job resources
void add_training_routes(ApiRoutes& api, const ApiServices& s);    // runs, records, series
void add_alert_routes(ApiRoutes& api, const ApiServices& s);       // rules, receivers, deliveries
void add_autotest_routes(ApiRoutes& api, const ApiServices& s);  // suites, algorithms, evaluations
void add_store_routes(ApiRoutes& api, const ApiServices& s);     // the algorithm store
void add_cluster_routes(ApiRoutes& api, const ApiServices& s);  // this machine, Kubernetes clusters

}  // namespace jz::api
