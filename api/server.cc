#include "api/server.h"

#include <atomic>
#include <thread>

#include "api/console.h"
#include "api/framework.h"
#include "api/metrics.h"
#include "api/openapi.h"
#include "api/plumbing.h"
#include "api/schema.h"
#include "api/services.h"
#include "api/session.h"
#include "core/log.h"
#include "core/version.h"
#include "platform/alerts/alerts.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/runner.h"
#include "store/settings.h"

namespace jz::api {

namespace {

constexpr const char* kJson = "application/json";

}  // namespace

class ApiServer::Impl {
 public:
  Impl(ServerOptions options, store::Database& db, iam::Authenticator& auth, iam::AuditLog* audit,
       std::shared_ptr<spdlog::logger> logger, Clock& clock, const PlatformServices& platform)
      : options_(std::move(options)),
        db_(db),
        auth_(auth),
        audit_(audit),
        logger_(std::move(logger)),
        clock_(clock),
        ids_(clock, SecureRandom::instance()),
        settings_(db, clock),
        tenancy_(db, clock, ids_),
        authorizer_(tenancy_),
        quotas_(db, clock),
        own_events_(platform.events ? nullptr : std::make_unique<iam::EventLog>(db, clock, ids_)),
        events_(platform.events ? *platform.events : *own_events_),
        streams_(options_.max_streams_per_user),
        proxy_(options_),
        console_(options_.console_dir),
        services_{db,        auth,     audit_, tenancy_, authorizer_, quotas_,  events_,
                  settings_, platform, clock_, *logger_, streams_,    options_, proxy_},
        routes_(tenancy_, authorizer_),
        http_(
            http_options(options_), [this](http::Request& r) { return handle(r); },
            [this](http::Request& r) { return inline_answer(r); },
            [this](int status, const std::string& message, const http::Request* r) {
              return refusal(status, message, r);
            }),
        start_time_seconds_(std::chrono::duration<double>(clock.now().time_since_epoch()).count()) {
    streams_.attach(&http_);
    add_platform_routes(routes_, services_);
    add_account_routes(routes_, services_);
    add_tenancy_routes(routes_, services_);
    add_project_routes(routes_, services_);
    if (platform.jobs) {
      add_dataset_routes(routes_, services_);
      add_dataset_version_routes(routes_, services_);
      add_dataset_lifecycle_routes(routes_, services_);
      add_label_routes(routes_, services_);
      add_job_routes(routes_, services_);
      add_log_routes(routes_, services_);
      add_devenv_routes(routes_, services_);
      add_code_routes(routes_, services_);
    }
    add_scheduler_routes(routes_, services_);
    add_monitoring_routes(routes_, services_);
    add_alert_routes(routes_, services_);
    add_training_routes(routes_, services_);
    add_autotest_routes(routes_, services_);
    add_cluster_routes(routes_, services_);
    add_store_routes(routes_, services_);
    // Answered from memory before routing (inline_answer); declared for the document.
    routes_.add(Route{.method = "GET",
                      .path = "/healthz",
                      .scope = Scope::kPublic,
                      .summary = "Liveness: the process answers",
                      .response_schema = schema::object({{"status", schema::str()}}),
                      .handler = [](RequestContext&) -> Result<Reply> {
                        return Reply::json({{"status", "ok"}});
                      }});
    routes_.add(Route{
        .method = "GET",
        .path = "/readyz",
        .scope = Scope::kPublic,
        .summary = "Readiness: the store answers (measured every second)",
        .response_schema = schema::object({{"status", schema::str()}, {"store", schema::str()}}),
        .errors = {503},
        .handler = [this](RequestContext&) -> Result<Reply> {
          if (!ready_) return Status::unavailable("the store is not reachable");
          return Reply::json(
              {{"status", "ready"}, {"store", std::string(store::dialect_name(db_.dialect()))}});
        }});
    routes_.add(Route{.method = "GET",
                      .path = "/api/v1/openapi.json",
                      .scope = Scope::kCaller,
                      .summary = "This document",
                      .handler = [this](RequestContext&) -> Result<Reply> {
                        return Reply::text(openapi_, kJson);
                      }});
    routes_.add(Route{.method = "GET",
                      .path = "/metrics",
                      .scope = options_.metrics_public ? Scope::kPublic : Scope::kCaller,
                      .summary = "Prometheus metrics",
                      .handler = [this](RequestContext&) -> Result<Reply> {
                        return Reply::text(metrics_text(),
                                           "text/plain; version=0.0.4; charset=utf-8");
                      }});
    openapi_ = json::dump(build_openapi(routes_.routes(), version()));
    if (audit_) {
      audit_->set_error_handler([this](const Status& s, size_t lost) {
        log_with_fields(*logger_, spdlog::level::err, "audit records not stored",
                        {{"records", std::to_string(lost)}, {"error", s.message()}});
      });
    }
  }

  ~Impl() {
    stopping_ = true;
    events_.wake_all();
    http_.stop();
    if (housekeeping_.joinable()) housekeeping_.join();
    if (audit_) {
      audit_->flush();
      audit_->set_error_handler(nullptr);  // it points into this object
    }
  }

  Status bind(int& port) {
    JZ_RETURN_IF_ERROR(http_.bind());
    port = http_.port();
    return {};
  }

  Status run() {
    if (console_.loaded()) {
      logger_->info("console: {} files from {}", console_.file_count(), console_.where());
    } else {
      logger_->warn("console: not built (looked in {}); the API works without it",
                    console_.where());
    }
    ready_ = db_.ping().ok();
    housekeeping_ = std::thread([this] { housekeeping(); });
    Status s = http_.run();
    stopping_ = true;
    events_.wake_all();
    if (housekeeping_.joinable()) housekeeping_.join();
    if (audit_) audit_->flush();
    return s;
  }

  void stop() {
    if (!stopping_.exchange(true)) {
      logger_->info("shutting down: finishing requests in flight");
      events_.wake_all();
    }
    http_.stop();
    proxy_.tunnels.stop();
  }

 private:
  // Readiness (the store answers) is measured here every second, so /readyz answers from
  // memory even when every thread is busy; news in the event log wakes event streams.
  void housekeeping() {
    int64_t seen = events_.last_seq();
    auto last_ping = clock_.steady_now();
    while (!stopping_) {
      events_.wait(seen, std::chrono::milliseconds(500));
      if (const int64_t now = events_.last_seq(); now > seen) {
        seen = now;
        streams_.wake("events");
      }
      if (clock_.steady_now() - last_ping >= std::chrono::seconds(1)) {
        last_ping = clock_.steady_now();
        Status s = db_.ping();
        ready_ = s.ok();
        if (!s.ok()) ready_error_.store(std::make_shared<std::string>(s.message()));
      }
    }
  }

  std::string metrics_text() const {
    std::string out = metrics_.render(version(), git_revision(), start_time_seconds_);
    out += connection_gauges(http_.stats());
    if (services_.platform.runner) out += services_.platform.runner->metrics_text();
    if (services_.platform.alerts) out += services_.platform.alerts->metrics_text();
    return out;
  }

  std::string request_id_of(const http::Request& req) {
    const std::string* incoming = req.headers.find("X-Request-Id");
    return incoming && valid_request_id(*incoming) ? *incoming : ids_.next("req_");
  }

  // Health and readiness: answered on the I/O path, from memory.
  std::optional<http::Response> inline_answer(const http::Request& req) {
    if (req.method != "GET") return std::nullopt;
    if (req.path == "/healthz") {
      return finish(req, "/healthz", request_id_of(req), Reply::json({{"status", "ok"}}));
    }
    if (req.path == "/readyz") {
      const std::string id = request_id_of(req);
      if (stopping_) {
        return finish(req, "/readyz", id, Status::unavailable("the server is shutting down"));
      }
      if (!ready_) {
        auto why = ready_error_.load();
        return finish(req, "/readyz", id,
                      Status::unavailable("the store is not reachable: " + (why ? *why : "")));
      }
      return finish(req, "/readyz", id,
                    Reply::json({{"status", "ready"},
                                 {"store", std::string(store::dialect_name(db_.dialect()))}}));
    }
    return console_.serve(req);
  }

  bool needs_auth(const std::string& path) const {
    if (path == "/api/v1/auth/login") return false;
    if (path.rfind("/api/", 0) == 0 || path.rfind("/devenvs/", 0) == 0 ||
        path.rfind("/git/", 0) == 0) {
      return true;
    }
    return path == "/metrics" && !options_.metrics_public;
  }

  http::Response handle(const http::Request& req) {
    const auto start = clock_.steady_now();
    RequestContext ctx(req, authorizer_);
    ctx.request_id = request_id_of(req);
    ctx.deadline = start + options_.read_timeout;
    std::optional<iam::Principal> caller;
    std::string label = "unmatched";
    Result<Reply> reply = Status::internal("no answer");
    http::Headers extra;
    try {
      reply = dispatch(req, ctx, caller, label, extra);
    } catch (const std::exception& e) {
      log_with_fields(*logger_, spdlog::level::err, "handler failed",
                      {{"request_id", ctx.request_id}, {"path", req.path}, {"error", e.what()}});
      reply = Status::internal("internal error; quote request id " + ctx.request_id +
                               " when reporting it");
    }
    http::Response res =
        finish(req, label, ctx.request_id, std::move(reply), &ctx, start, extra.has("Allow"));
    for (const auto& [k, v] : extra.fields()) res.headers.set(k, v);
    return res;
  }

  Result<Reply> dispatch(const http::Request& req, RequestContext& ctx,
                         std::optional<iam::Principal>& caller, std::string& label,
                         http::Headers& extra) {
    auto m = routes_.match(req);
    // A public route (the store's activation service: its callers are machines holding a
    // code, not accounts) takes no token; every other path under /api/ needs one, even to
    // learn that it does not exist.
    const bool open_route = m.route && m.route->scope == Scope::kPublic;
    if (needs_auth(req.path) && !open_route) {
      JZ_ASSIGN_OR_RETURN(auto who, authenticate_request(req, auth_, extra));
      caller = std::move(who.principal);
      ctx.caller = &*caller;
      ctx.via_cookie = who.via_cookie;
      ctx.csrf_token = std::move(who.csrf_token);
    }
    if (!m.route) {
      if (!m.allow.empty()) extra.set("Allow", m.allow);  // 405, see finish()
      return m.error;
    }
    const Route& route = *m.route;
    label = route.path;
    ctx.params_ = std::move(m.params);
    ctx.rest = std::move(m.rest);
    ctx.audit.type = ApiRoutes::resource_type(route.path);
    // "/workspaces/{workspace}" names its resource; a collection's new member is named by
    // the reply (see record_audit).
    if (!ctx.params_.empty() && route.path.back() == '}')
      ctx.audit.name = ctx.params_.back().second;
    if (route.scope != Scope::kPublic && !ctx.caller) {
      return Status::unauthenticated("this endpoint needs 'Authorization: Bearer TOKEN'");
    }
    return routes_.run(route, ctx);
  }

  // The server's own refusals (malformed requests, timeouts, limits).
  http::Response refusal(int status, const std::string& message, const http::Request* req) {
    Code code = status == 408   ? Code::kDeadlineExceeded
                : status == 413 ? Code::kResourceExhausted
                : status == 429 ? Code::kResourceExhausted
                : status == 503 ? Code::kUnavailable
                : status >= 500 ? Code::kInternal
                                : Code::kInvalidArgument;
    const std::string id = req ? request_id_of(*req) : ids_.next("req_");
    http::Response res = to_http(status, error_body(Status(code, message), id), id);
    if (req) observe(*req, "unmatched", status, std::chrono::nanoseconds(0), res.body.size());
    return res;
  }

  static http::Response to_http(int status, const Json& body, const std::string& request_id) {
    http::Response res;
    res.status = status;
    res.headers.set("Content-Type", kJson);
    res.headers.set("X-Request-Id", request_id);
    res.body = json::dump(body);
    return res;
  }

  http::Response finish(const http::Request& req, const std::string& label,
                        const std::string& request_id, Result<Reply> reply,
                        RequestContext* ctx = nullptr,
                        std::optional<Clock::SteadyTime> start = std::nullopt,
                        bool method_not_allowed = false) {
    http::Response res;
    if (!reply.ok()) {
      int status = http_status(reply.status().code());
      if (method_not_allowed) status = 405;
      res = to_http(status, error_body(reply.status(), request_id), request_id);
      if (status == 429 || status == 503) res.headers.set("Retry-After", "1");
    } else {
      Reply& r = *reply;
      res.status = r.status;
      res.headers = std::move(r.headers);
      res.headers.set("X-Request-Id", request_id);
      res.takeover = std::move(r.takeover);
      if (r.stream) {
        res.stream = std::move(r.stream);
        res.headers.set("Content-Type", r.content_type);
        res.headers.set("Cache-Control", "no-cache");
      } else if (r.raw) {
        res.body = std::move(*r.raw);
        res.headers.set("Content-Type", r.content_type);
      } else if (r.status != 204) {
        res.body = json::dump(r.body);
        res.headers.set("Content-Type", kJson);
      }
    }
    const auto latency = start ? clock_.steady_now() - *start : std::chrono::nanoseconds(0);
    observe(req, label, res.status, latency, res.body.size(), request_id);
    if (ctx && audit_ && (ctx->audit.force || is_change(req.method))) {
      record_audit(req, *ctx, reply, res.status, latency);
    }
    return res;
  }

  void observe(const http::Request& req, const std::string& label, int status,
               std::chrono::nanoseconds latency, size_t bytes, const std::string& request_id = "") {
    metrics_.observe(req.method, label, status, latency);
    if (!options_.access_log) return;
    log_with_fields(*logger_, spdlog::level::info, "request",
                    {{"request_id", request_id},
                     {"remote", req.remote_addr},
                     {"method", req.method},
                     {"path", req.path},
                     {"route", label},
                     {"status", std::to_string(status)},
                     {"bytes", std::to_string(bytes)},
                     {"duration_ms",
                      std::to_string(std::chrono::duration<double, std::milli>(latency).count())}});
  }

  void record_audit(const http::Request& req, const RequestContext& ctx, const Result<Reply>& reply,
                    int status, std::chrono::nanoseconds latency) {
    audit_->append_async(audit_record_of(req, ctx, reply, status, latency));
  }

  ServerOptions options_;
  store::Database& db_;
  iam::Authenticator& auth_;
  iam::AuditLog* audit_;
  std::shared_ptr<spdlog::logger> logger_;
  Clock& clock_;
  IdGenerator ids_;
  store::SettingsRepo settings_;
  iam::Tenancy tenancy_;
  iam::Authorizer authorizer_;
  iam::Quotas quotas_;
  std::unique_ptr<iam::EventLog> own_events_;
  iam::EventLog& events_;
  Streams streams_;
  ProxyParts proxy_;
  ConsoleAssets console_;
  ApiServices services_;
  ApiRoutes routes_;
  http::Server http_;
  std::string openapi_;
  HttpMetrics metrics_;
  double start_time_seconds_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> ready_{false};
  std::atomic<std::shared_ptr<std::string>> ready_error_;
  std::thread housekeeping_;
};

ApiServer::ApiServer(ServerOptions options, store::Database& db, iam::Authenticator& auth,
                     iam::AuditLog* audit, std::shared_ptr<spdlog::logger> logger, Clock& clock,
                     const PlatformServices& services)
    : impl_(std::make_unique<Impl>(std::move(options), db, auth, audit, std::move(logger), clock,
                                   services)) {}

ApiServer::~ApiServer() = default;

Status ApiServer::bind() { return impl_->bind(bound_port_); }

Status ApiServer::run() { return impl_->run(); }

void ApiServer::stop() { impl_->stop(); }

}  // namespace jz::api
