#include "api/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <regex>

#include "api/job_routes.h"
#include "api/log_routes.h"
#include "api/metrics.h"
#include "api/openapi.h"
#include "api/route_host.h"
#include "core/json.h"
#include "core/log.h"
#include "core/version.h"
#include "platform/iam/events.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/runner.h"
#include "store/settings.h"

namespace jz::api {

Status parse_listen_address(std::string_view text, std::string& host, int& port) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("listen address '" + std::string(text) + "' " + why +
                                    ": use HOST:PORT, for example 127.0.0.1:8080");
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.find(':') != std::string_view::npos && text.front() != '[') {
    return bad("has an IPv6 host without brackets");
  }
  if (p.empty() || p.size() > 5) return bad("has an invalid port");
  int n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return bad("has an invalid port");
    n = n * 10 + (c - '0');
  }
  if (n > 65535) return bad("has a port above 65535");
  host = h.empty() ? "0.0.0.0" : std::string(h);
  port = n;
  return {};
}

namespace {

Code code_for_http_status(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kInvalidArgument;
    case 408:
      return Code::kDeadlineExceeded;
    case 409:
      return Code::kAlreadyExists;
    case 412:
      return Code::kFailedPrecondition;
    case 413:
      return Code::kResourceExhausted;
    case 414:
      return Code::kInvalidArgument;
    case 429:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kInternal : Code::kInvalidArgument;
  }
}

// Per-request state. cpp-httplib runs parsing, routing, the handler and the response
// write of one request on one worker thread, so thread-local storage is the request's.
struct RequestContext {
  bool active = false;
  Clock::SteadyTime start;
  std::string route;
  std::string request_id;
  std::optional<iam::Principal> principal;  // set for authenticated requests
  std::string actor;                        // who a login claimed to be
  std::string verb;                         // audit verb when not derived from the method
  std::string resource_type, resource_name;
  std::string parent_name;         // a collection route's last path parameter
  std::string workspace, project;  // the tenant the request touched, for the audit
  bool force_audit = false;        // audit even a GET (a project admin in a dev environment)
};
thread_local RequestContext t_ctx;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

constexpr const char* kJson = "application/json";

void write_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(json::dump(body), kJson);
}

void write_error(httplib::Response& res, const Status& s) {
  Json body = {{"error",
                {{"code", std::string(code_name(s.code()))},
                 {"message", s.message()},
                 {"request_id", t_ctx.request_id}}}};
  write_json(res, http_status(s.code()), body);
}

Json setting_json(const store::Setting& s) {
  Json value = Json::parse(s.value_json, nullptr, false);
  return {
      {"key", s.key},
      {"value", value},
      {"revision", s.revision},
      {"updated_at", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(s.updated_at_ms)))}};
}

}  // namespace

class ApiServer::Impl : public RouteHost {
 public:
  Impl(ServerOptions options, store::Database& db, iam::Authenticator& auth, iam::AuditLog* audit,
       std::shared_ptr<spdlog::logger> logger, Clock& clock, PlatformServices services)
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
        own_events_(services.events ? nullptr : std::make_unique<iam::EventLog>(db, clock, ids_)),
        events_(services.events ? *services.events : *own_events_),
        services_(services),
        start_time_seconds_(std::chrono::duration<double>(clock.now().time_since_epoch()).count()) {
    configure();
    routes();
    if (audit_) {
      audit_->set_error_handler([this](const Status& s, size_t lost) {
        log_with_fields(*logger_, spdlog::level::err, "audit records not stored",
                        {{"records", std::to_string(lost)}, {"error", s.message()}});
      });
    }
  }

  ~Impl() {
    if (audit_) {
      audit_->flush();
      audit_->set_error_handler(nullptr);  // it points into this object
    }
  }

  // After the last request: the audit trail is complete on disk.
  void flush_audit() {
    if (audit_) audit_->flush();
  }

  httplib::Server http;

  Status bind(int& bound_port) {
    int port = options_.port;
    bool ok;
    if (port == 0) {
      port = http.bind_to_any_port(options_.host);
      ok = port > 0;
    } else {
      ok = http.bind_to_port(options_.host, port);
    }
    if (!ok) {
      return Status::unavailable("cannot listen on " + options_.host + ":" +
                                 std::to_string(options_.port) + ": " + errno_message(errno) +
                                 " (is another server using the port? choose another with "
                                 "--listen HOST:PORT)");
    }
    // cpp-httplib 0.11 listens with a backlog of 5: a burst of new connections (clients
    // reconnecting after keep-alive limits) overflows it, and each dropped SYN costs the
    // client a one-second retransmit. Linux lets listen() be called again on a listening
    // socket to raise the backlog.
    if (last_socket_ >= 0) ::listen(last_socket_, kListenBacklog);
    bound_port = port;
    return {};
  }

  void stop() {
    if (!stopping_.exchange(true)) logger_->info("shutting down: finishing requests in flight");
    events_.wake_all();  // live event streams end
    http.stop();
  }

  // RouteHost, for route modules in other files.
  const iam::Principal& principal() override { return *t_ctx.principal; }
  void audit_request(const std::string& verb, const std::string& resource_name) override {
    t_ctx.force_audit = true;
    t_ctx.verb = verb;
    t_ctx.resource_name = resource_name;
  }
  void send_json(httplib::Response& res, int status, const Json& body) override {
    write_json(res, status, body);
  }
  void send_error(httplib::Response& res, const Status& s) override { write_error(res, s); }
  Result<Json> body_object(const httplib::Request& req) override { return object_body(req); }
  bool stopping() const override { return stopping_; }

 private:
  void configure() {
    const int threads = options_.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(options_.max_body_bytes);
    http.set_read_timeout(options_.read_timeout);
    http.set_write_timeout(options_.write_timeout);
    http.set_keep_alive_timeout(options_.keepalive_timeout.count());
    http.set_keep_alive_max_count(options_.keepalive_max_requests);
    http.set_tcp_nodelay(true);
    // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server bind the
    // same port silently and steal half the connections. SO_REUSEADDR alone allows a
    // quick restart without that.
    http.set_socket_options([this](int sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      last_socket_ = sock;
    });

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      begin_request(req, res);
      if (!needs_auth(req.path)) return httplib::Server::HandlerResponse::Unhandled;
      Status s = authenticate(req);
      if (!s.ok()) {
        write_error(res, s);
        res.set_header("WWW-Authenticate", "Bearer");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!t_ctx.active) begin_request(req, res);
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string message;
          switch (res.status) {
            case 404:
              message = "no such endpoint: " + req.method + " " + req.path;
              break;
            case 413:
              message = "request body is larger than the limit of " +
                        std::to_string(options_.max_body_bytes) + " bytes (server.max_body_bytes)";
              break;
            case 400:
              message = "malformed HTTP request";
              break;
            default:
              message = "HTTP " + std::to_string(res.status);
          }
          int status = res.status;
          write_error(res, Status(code_for_http_status(status), message));
          res.status = status;  // keep the exact status httplib chose (e.g. 413, 414)
          return httplib::Server::HandlerResponse::Handled;
        }));

    http.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            std::rethrow_exception(std::move(ep));
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          log_with_fields(*logger_, spdlog::level::err, "handler failed",
                          {{"request_id", t_ctx.request_id}, {"path", req.path}, {"error", what}});
          write_error(res, Status::internal("internal error; quote request id " + t_ctx.request_id +
                                            " when reporting it"));
        });

    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (!t_ctx.active) begin_request(req, const_cast<httplib::Response&>(res));
      auto latency = clock_.steady_now() - t_ctx.start;
      metrics_.observe(req.method, t_ctx.route, res.status, latency);
      if (audit_ && (t_ctx.force_audit ||
                     (req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS"))) {
        record_audit(req, res, latency);
      }
      if (options_.access_log) {
        log_with_fields(
            *logger_, spdlog::level::info, "request",
            {{"request_id", t_ctx.request_id},
             {"remote", req.remote_addr},
             {"method", req.method},
             {"path", req.path},
             {"route", t_ctx.route},
             {"status", std::to_string(res.status)},
             {"bytes", std::to_string(res.body.size())},
             {"duration_ms",
              std::to_string(std::chrono::duration<double, std::milli>(latency).count())}});
      }
      t_ctx.active = false;
    });
  }

  void begin_request(const httplib::Request& req, httplib::Response& res) {
    t_ctx.active = true;
    t_ctx.start = clock_.steady_now();
    t_ctx.route = "unmatched";
    t_ctx.principal.reset();
    t_ctx.actor.clear();
    t_ctx.verb.clear();
    t_ctx.resource_type.clear();
    t_ctx.resource_name.clear();
    t_ctx.parent_name.clear();
    t_ctx.workspace.clear();
    t_ctx.project.clear();
    t_ctx.force_audit = false;
    std::string incoming = req.get_header_value("X-Request-Id");
    t_ctx.request_id = valid_request_id(incoming) ? incoming : ids_.next("req_");
    res.set_header("X-Request-Id", t_ctx.request_id);
  }

  bool needs_auth(const std::string& path) const {
    if (path == "/api/v1/auth/login") return false;
    if (path.rfind("/api/", 0) == 0) return true;
    if (path.rfind("/devenvs/", 0) == 0) return true;
    if (path == "/metrics") return !options_.metrics_public;
    return false;
  }

  Status authenticate(const httplib::Request& req) {
    const std::string& h = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) {
      return Status::unauthenticated(
          "this endpoint needs 'Authorization: Bearer TOKEN': log in with POST "
          "/api/v1/auth/login, or use an API token");
    }
    auto p = auth_.authenticate(h.substr(kBearer.size()));
    if (!p.ok()) return p.status();
    t_ctx.principal = std::move(p).value();
    return {};
  }

  void record_audit(const httplib::Request& req, const httplib::Response& res,
                    std::chrono::nanoseconds latency) {
    iam::AuditRecord r;
    r.user = t_ctx.principal ? t_ctx.principal->username : t_ctx.actor;
    r.source_ip = req.remote_addr;
    r.user_agent = req.get_header_value("User-Agent").substr(0, 256);
    if (!t_ctx.verb.empty()) {
      r.verb = t_ctx.verb;
    } else if (req.method == "POST") {
      r.verb = "create";
    } else if (req.method == "PUT" || req.method == "PATCH") {
      r.verb = "update";
    } else if (req.method == "DELETE") {
      r.verb = "delete";
    } else {
      r.verb = req.method;
    }
    r.resource_type = t_ctx.resource_type;
    r.resource_name = t_ctx.resource_name.empty() && t_ctx.route == "unmatched"
                          ? req.path.substr(0, 256)
                          : t_ctx.resource_name;
    if (r.resource_name.empty() && !req.body.empty()) {
      Json b = Json::parse(req.body, nullptr, false);
      if (b.is_object()) {
        for (const char* f : {"name", "username"}) {
          if (b.contains(f) && b[f].is_string()) {
            r.resource_name = b[f].get<std::string>().substr(0, 128);
            break;
          }
        }
      }
    }
    if (r.resource_name.empty()) r.resource_name = t_ctx.parent_name;
    r.workspace = t_ctx.workspace;
    r.project = t_ctx.project;
    r.request_summary = iam::AuditLog::summarize_body(req.body);
    r.response_status = res.status;
    r.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
    r.request_id = t_ctx.request_id;
    audit_->append_async(std::move(r));
  }

  // Platform-wide resources (settings) are for platform admins.
  static Status require_platform_admin() {
    if (t_ctx.principal && t_ctx.principal->is_platform_admin()) return {};
    return Status::permission_denied("only a platform-admin may do this");
  }

  // Registers a handler under a route label (the pattern that metrics and logs show).
  void on(const std::string& method, const std::string& pattern, const std::string& label,
          Handler h) override {
    routes_.push_back({method, label});
    // The audit's resource type is the label's last literal segment
    // ("/api/v1/workspaces/{ws}/members/{user}" -> members); the name is the last
    // path parameter.
    std::string type;
    for (size_t pos = 0; pos < label.size();) {
      size_t next = label.find('/', pos + 1);
      std::string seg =
          label.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
      if (!seg.empty() && seg.front() != '{') type = seg;
      pos = next == std::string::npos ? label.size() : next;
    }
    auto wrapped = [label, type, h = std::move(h)](const httplib::Request& req,
                                                   httplib::Response& res) {
      t_ctx.route = label;
      t_ctx.resource_type = type;
      // "/workspaces/{ws}" names its resource; "/workspaces/{ws}/members" is a
      // collection whose new member is named in the body (see record_audit).
      if (req.matches.size() > 1) {
        (label.back() == '}' ? t_ctx.resource_name : t_ctx.parent_name) =
            req.matches[req.matches.size() - 1];
      }
      h(req, res);
    };
    if (method == "GET")
      http.Get(pattern, wrapped);
    else if (method == "PUT")
      http.Put(pattern, wrapped);
    else if (method == "DELETE")
      http.Delete(pattern, wrapped);
    else if (method == "POST")
      http.Post(pattern, wrapped);
  }

  void routes() {
    on("GET", "/healthz", "/healthz",
       [](const auto&, auto& res) { res.set_content(R"({"status":"ok"})", kJson); });
    on("GET", "/readyz", "/readyz", [this](const auto&, auto& res) {
      if (stopping_) {
        write_error(res, Status::unavailable("the server is shutting down"));
        return;
      }
      Status s = db_.ping();
      if (!s.ok()) {
        write_error(res, Status::unavailable("the store is not reachable: " + s.message()));
        return;
      }
      write_json(res, 200,
                 {{"status", "ready"}, {"store", std::string(store::dialect_name(db_.dialect()))}});
    });
    on("GET", "/metrics", "/metrics", [this](const auto&, auto& res) {
      res.set_content(metrics_.render(version(), git_revision(), start_time_seconds_),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    const std::string version_body =
        json::dump({{"name", "jizhan"},
                    {"version", std::string(version())},
                    {"revision", std::string(git_revision())},
                    {"store", std::string(store::dialect_name(db_.dialect()))}});
    on("GET", "/api/v1/version", "/api/v1/version",
       [version_body](const auto&, auto& res) { res.set_content(version_body, kJson); });

    on("POST", "/api/v1/auth/login", "/api/v1/auth/login", [this](const auto& req, auto& res) {
      auto body = json::parse(req.body, "request body");
      if (!body.ok()) return write_error(res, body.status());
      auto username = json::required_string(*body, "username");
      if (!username.ok()) return write_error(res, username.status());
      t_ctx.actor = username->substr(0, 64);
      t_ctx.verb = "login";
      t_ctx.resource_type = "session";
      auto password = json::required_string(*body, "password");
      if (!password.ok()) return write_error(res, password.status());
      auto login = auth_.login(*username, *password, req.remote_addr);
      if (!login.ok()) return write_error(res, login.status());
      write_json(
          res, 200,
          {{"token", login->token},
           {"expires_at",
            format_rfc3339(Clock::WallTime(std::chrono::milliseconds(login->expires_at_ms)))},
           {"user",
            {{"username", login->user.username}, {"platform_role", login->user.platform_role}}}});
    });
    on("GET", "/api/v1/auth/whoami", "/api/v1/auth/whoami", [](const auto&, auto& res) {
      const iam::Principal& p = *t_ctx.principal;
      write_json(
          res, 200,
          {{"username", p.username},
           {"platform_role", p.platform_role},
           {"token", {{"id", p.token_id}, {"kind", p.token_kind}, {"project", p.project_scope}}}});
    });
    on("POST", "/api/v1/auth/logout", "/api/v1/auth/logout", [this](const auto&, auto& res) {
      t_ctx.verb = "logout";
      t_ctx.resource_type = "session";
      Status s = auth_.logout(*t_ctx.principal);
      if (!s.ok()) return write_error(res, s);
      res.status = 204;
    });

    on("GET", "/api/v1/audit", "/api/v1/audit", [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      if (!audit_) {
        return write_error(res, Status::failed_precondition(
                                    "the audit trail is off on this server (audit.enabled)"));
      }
      iam::AuditQuery q;
      q.user = req.get_param_value("user");
      q.verb = req.get_param_value("verb");
      q.resource_type = req.get_param_value("resource");
      q.project = req.get_param_value("project");
      auto int_param = [&](const char* name, int64_t min, int64_t max,
                           std::optional<int64_t>& out) -> Status {
        if (!req.has_param(name)) return {};
        const std::string v = req.get_param_value(name);
        char* end = nullptr;
        long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end || n < min || n > max) {
          return Status::invalid_argument("query parameter '" + std::string(name) +
                                          "' must be an integer from " + std::to_string(min) +
                                          " to " + std::to_string(max));
        }
        out = n;
        return {};
      };
      std::optional<int64_t> page_size, page_token;
      for (Status s : {int_param("since_ms", 0, INT64_MAX, q.since_ms),
                       int_param("until_ms", 0, INT64_MAX, q.until_ms),
                       int_param("page_size", 1, 1000, page_size),
                       int_param("page_token", 0, INT64_MAX, page_token)}) {
        if (!s.ok()) return write_error(res, s);
      }
      q.limit = static_cast<int>(page_size.value_or(100));
      q.after_seq = page_token.value_or(0);
      auto records = audit_->query(q);
      if (!records.ok()) return write_error(res, records.status());
      const bool full_page = records->size() == static_cast<size_t>(q.limit);
      if (req.get_param_value("format") == "jsonl") {
        std::string out;
        for (const auto& r : *records) out += json::dump(r.to_json()) + "\n";
        if (full_page) res.set_header("X-Next-Page-Token", std::to_string(records->back().seq));
        res.set_content(out, "application/x-ndjson");
        return;
      }
      Json items = Json::array();
      for (const auto& r : *records) items.push_back(r.to_json());
      write_json(res, 200,
                 {{"items", items},
                  {"next_page_token",
                   full_page ? Json(std::to_string(records->back().seq)) : Json(nullptr)}});
    });

    on("GET", "/api/v1/settings", "/api/v1/settings", [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      auto limit = page_size_of(req);
      if (!limit.ok()) return write_error(res, limit.status());
      auto page = settings_.list(req.get_param_value("page_token"), *limit);
      if (!page.ok()) return write_error(res, page.status());
      Json items = Json::array();
      for (const auto& s : page->items) items.push_back(setting_json(s));
      write_json(res, 200,
                 {{"items", items},
                  {"next_page_token",
                   page->next_page_token.empty() ? Json(nullptr) : Json(page->next_page_token)}});
    });
    const std::string key_pattern = R"(/api/v1/settings/([^/]+))";
    const std::string key_label = "/api/v1/settings/{key}";
    on("GET", key_pattern, key_label, [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      auto s = settings_.get(req.matches[1]);
      if (!s.ok()) return write_error(res, s.status());
      write_json(res, 200, setting_json(*s));
    });
    on("PUT", key_pattern, key_label, [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      auto body = json::parse(req.body, "request body");
      if (!body.ok()) return write_error(res, body.status());
      if (!body->is_object() || !body->contains("value")) {
        return write_error(
            res, Status::invalid_argument("request body must be an object with a field 'value' "
                                          "holding any JSON value"));
      }
      auto s = settings_.put(req.matches[1], json::dump((*body)["value"]));
      if (!s.ok()) return write_error(res, s.status());
      write_json(res, 200, setting_json(*s));
    });
    on("DELETE", key_pattern, key_label, [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      Status s = settings_.remove(req.matches[1]);
      if (!s.ok()) return write_error(res, s);
      res.status = 204;
    });
    tenancy_routes();
    if (services_.jobs) {
      add_job_routes(*this, services_);
      add_log_routes(*this, services_);
    }
    on("GET", "/api/v1/openapi.json", "/api/v1/openapi.json",
       [this](const auto&, auto& res) { res.set_content(openapi_, kJson); });
    openapi_ = json::dump(build_openapi(routes_, version()));
  }

  // The body as a JSON object, or an error naming what is wrong with it.
  static Result<Json> object_body(const httplib::Request& req) {
    JZ_ASSIGN_OR_RETURN(Json body, json::parse(req.body, "request body"));
    if (!body.is_object()) return Status::invalid_argument("request body must be a JSON object");
    return body;
  }

  // The `page_size` query parameter of a list: 1 to 1000, default 100.
  static Result<int> page_size_of(const httplib::Request& req) {
    if (!req.has_param("page_size")) return 100;
    const std::string v = req.get_param_value("page_size");
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < 1 || n > 1000) {
      return Status::invalid_argument(
          "query parameter 'page_size' must be an integer from 1 to 1000");
    }
    return static_cast<int>(n);
  }

  // Writes one page of a list, {"items":[...],"next_page_token":...}. `items` are
  // the ones the caller may see; they are paged in order of `key` (a unique name):
  // the token is the last key of a page and the next page starts after it, so pages
  // stay consistent while items are added or removed. page_size: 1 to 1000, default 100.
  static void write_page(const httplib::Request& req, httplib::Response& res,
                         std::vector<Json> items, const char* key) {
    auto size = page_size_of(req);
    if (!size.ok()) return write_error(res, size.status());
    const size_t page_size = static_cast<size_t>(*size);
    const std::string after = req.get_param_value("page_token");
    std::sort(items.begin(), items.end(), [key](const Json& a, const Json& b) {
      return a[key].get<std::string>() < b[key].get<std::string>();
    });
    Json page = Json::array();
    Json next = nullptr;
    for (auto& item : items) {
      if (!after.empty() && item[key].get<std::string>() <= after) continue;
      if (page.size() == page_size) {
        next = page.back()[key];
        break;
      }
      page.push_back(std::move(item));
    }
    write_json(res, 200, {{"items", std::move(page)}, {"next_page_token", next}});
  }

  Status allow(std::string_view resource, std::string_view verb, const std::string& workspace_id,
               const iam::Project* project = nullptr) override {
    return authorizer_.check(*t_ctx.principal, resource, verb, workspace_id, project);
  }

  // Appends the workspace's projects that the caller may see.
  Status add_visible_projects(const std::string& workspace, std::vector<Json>& items) {
    JZ_ASSIGN_OR_RETURN(auto ps, tenancy_.projects(workspace));
    for (const auto& p : ps) {
      if (allow("project", "get", p.workspace_id, &p).ok()) items.push_back(project_json(p));
    }
    return {};
  }

  // Resolves {ws} for a workspace route and records it for the audit.
  Result<iam::Workspace> workspace_of(const httplib::Request& req) {
    JZ_ASSIGN_OR_RETURN(iam::Workspace w, tenancy_.workspace(req.matches[1]));
    t_ctx.workspace = w.name;
    return w;
  }
  Result<iam::Project> project_of(const httplib::Request& req) override {
    return project_named(req.matches[1]);
  }
  Result<iam::Project> project_named(const std::string& name) override {
    JZ_ASSIGN_OR_RETURN(iam::Project p, tenancy_.project(name));
    t_ctx.workspace = p.workspace;
    t_ctx.project = p.name;
    return p;
  }

  iam::Accounts& accounts() { return auth_.accounts(); }

  // Records a lifecycle event of a project's resource; a failure is logged, not
  // returned, since the change itself is already stored.
  void emit(const std::string& project, const std::string& resource_type,
            const std::string& resource_name, const std::string& type, const std::string& reason,
            const std::string& message) {
    iam::Event e;
    e.project = project;
    e.resource_type = resource_type;
    e.resource_name = resource_name;
    e.type = type;
    e.reason = reason;
    e.message = message;
    e.actor = t_ctx.principal ? t_ctx.principal->username : "";
    if (auto r = events_.append(std::move(e)); !r.ok()) {
      log_with_fields(*logger_, spdlog::level::err, "event not stored",
                      {{"request_id", t_ctx.request_id}, {"error", r.status().message()}});
    }
  }

  static Json user_json(const iam::User& u) {
    return {{"username", u.username},
            {"display_name", u.display_name},
            {"email", u.email},
            {"state", u.state},
            {"platform_role", u.platform_role},
            {"created_at",
             format_rfc3339(Clock::WallTime(std::chrono::milliseconds(u.created_at_ms)))}};
  }
  static Json token_json(const iam::Token& t) {
    auto time = [](int64_t ms) {
      return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
    };
    return {{"id", t.id},
            {"name", t.name},
            {"kind", t.kind},
            {"project", t.project.empty() ? Json(nullptr) : Json(t.project)},
            {"created_at", time(t.created_at_ms)},
            {"expires_at", time(t.expires_at_ms)},
            {"revoked_at", t.revoked_at_ms ? Json(time(*t.revoked_at_ms)) : Json(nullptr)}};
  }
  static Json workspace_json(const iam::Workspace& w) {
    return {{"name", w.name},
            {"description", w.description},
            {"created_at",
             format_rfc3339(Clock::WallTime(std::chrono::milliseconds(w.created_at_ms)))}};
  }
  static Json project_json(const iam::Project& p) {
    return {{"name", p.name},
            {"workspace", p.workspace},
            {"description", p.description},
            {"created_at",
             format_rfc3339(Clock::WallTime(std::chrono::milliseconds(p.created_at_ms)))}};
  }
  static std::vector<Json> members_json(const std::vector<iam::Member>& ms) {
    std::vector<Json> items;
    for (const auto& m : ms) items.push_back({{"username", m.username}, {"role", m.role}});
    return items;
  }

  Status grant_check(const iam::Role& role, const std::string& ws_id,
                     const std::optional<iam::Project>& project) {
    return authorizer_.check_grant(*t_ctx.principal, role, ws_id, project ? &*project : nullptr);
  }
  // Taking away (or replacing) a member's role needs the same rights as granting it.
  Status revoke_check(const std::string& scope, const std::string& scope_id,
                      const std::string& username, const std::string& ws_id,
                      const std::optional<iam::Project>& project) {
    JZ_ASSIGN_OR_RETURN(auto ms, tenancy_.members(scope, scope_id));
    for (const auto& m : ms) {
      if (m.username != username) continue;
      JZ_ASSIGN_OR_RETURN(iam::Role current, tenancy_.role(m.role));
      return grant_check(current, ws_id, project);
    }
    return {};
  }

  // Shared by workspace and project member routes.
  void member_routes(const std::string& base_pattern, const std::string& base_label,
                     const std::string& scope) {
    auto target = [this, scope](const httplib::Request& req, std::string& scope_id,
                                std::string& ws_id,
                                std::optional<iam::Project>& project) -> Status {
      if (scope == "workspace") {
        JZ_ASSIGN_OR_RETURN(iam::Workspace w, workspace_of(req));
        scope_id = ws_id = w.id;
      } else {
        JZ_ASSIGN_OR_RETURN(iam::Project p, project_of(req));
        scope_id = p.id;
        ws_id = p.workspace_id;
        project = std::move(p);
      }
      return {};
    };
    on("GET", base_pattern + "/members", base_label + "/members",
       [this, target, scope](const auto& req, auto& res) {
         std::string scope_id, ws_id;
         std::optional<iam::Project> project;
         if (Status s = target(req, scope_id, ws_id, project); !s.ok()) return write_error(res, s);
         if (Status s = allow(scope + "_member", "list", ws_id, project ? &*project : nullptr);
             !s.ok()) {
           return write_error(res, s);
         }
         auto ms = tenancy_.members(scope, scope_id);
         if (!ms.ok()) return write_error(res, ms.status());
         write_page(req, res, members_json(*ms), "username");
       });
    on("POST", base_pattern + "/members", base_label + "/members",
       [this, target, scope](const auto& req, auto& res) {
         std::string scope_id, ws_id;
         std::optional<iam::Project> project;
         if (Status s = target(req, scope_id, ws_id, project); !s.ok()) return write_error(res, s);
         if (Status s = allow(scope + "_member", "create", ws_id, project ? &*project : nullptr);
             !s.ok()) {
           return write_error(res, s);
         }
         auto body = object_body(req);
         if (!body.ok()) return write_error(res, body.status());
         auto username = json::required_string(*body, "username");
         if (!username.ok()) return write_error(res, username.status());
         auto role = json::required_string(*body, "role");
         if (!role.ok()) return write_error(res, role.status());
         // Nobody grants rights they do not hold, nor replaces a role they could not grant.
         if (auto r = tenancy_.role(*role); r.ok() && r->scope == scope) {
           if (Status g = grant_check(*r, ws_id, project); !g.ok()) return write_error(res, g);
         }
         if (Status g = revoke_check(scope, scope_id, *username, ws_id, project); !g.ok()) {
           return write_error(res, g);
         }
         Status s = tenancy_.add_member(scope, scope_id, *username, *role);
         if (!s.ok()) return write_error(res, s);
         if (project) {
           emit(project->name, "member", *username, "updated", "MemberAdded",
                "user '" + *username + "' is now " + *role);
         }
         write_json(res, 201, {{"username", *username}, {"role", *role}});
       });
    on("DELETE", base_pattern + R"(/members/([a-z0-9._-]+))", base_label + "/members/{username}",
       [this, target, scope](const auto& req, auto& res) {
         std::string scope_id, ws_id;
         std::optional<iam::Project> project;
         if (Status s = target(req, scope_id, ws_id, project); !s.ok()) return write_error(res, s);
         if (Status s = allow(scope + "_member", "delete", ws_id, project ? &*project : nullptr);
             !s.ok()) {
           return write_error(res, s);
         }
         if (Status g = revoke_check(scope, scope_id, req.matches[2], ws_id, project); !g.ok()) {
           return write_error(res, g);
         }
         Status s = tenancy_.remove_member(scope, scope_id, req.matches[2]);
         if (!s.ok()) return write_error(res, s);
         if (project) {
           emit(project->name, "member", req.matches[2], "deleted", "MemberRemoved",
                "user '" + std::string(req.matches[2]) + "' left the project");
         }
         res.status = 204;
       });
  }

  // Folders under which a workspace's data owners register datasets: assigned by
  // platform admins, read by the workspace's members.
  void dataset_root_routes(const std::string& ws, const std::string& ws_label) {
    auto root_json = [](const jobs::DatasetRoot& r) {
      return Json{{"path", r.path},
                  {"created_by", r.created_by},
                  {"created_at",
                   format_rfc3339(Clock::WallTime(std::chrono::milliseconds(r.created_at_ms)))}};
    };
    on("GET", ws + "/dataset-roots", ws_label + "/dataset-roots",
       [this, root_json](const auto& req, auto& res) {
         auto w = workspace_of(req);
         if (!w.ok()) return write_error(res, w.status());
         if (Status s = allow("workspace", "get", w->id); !s.ok()) return write_error(res, s);
         auto roots = services_.datasets->roots(w->id);
         if (!roots.ok()) return write_error(res, roots.status());
         std::vector<Json> items;
         for (const auto& r : *roots) items.push_back(root_json(r));
         write_page(req, res, std::move(items), "path");
       });
    on("POST", ws + "/dataset-roots", ws_label + "/dataset-roots",
       [this, root_json](const auto& req, auto& res) {
         auto w = workspace_of(req);
         if (!w.ok()) return write_error(res, w.status());
         if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
         auto body = object_body(req);
         if (!body.ok()) return write_error(res, body.status());
         if (Status s = json::only_fields(*body, {"path"}); !s.ok()) return write_error(res, s);
         auto path = json::required_string(*body, "path");
         if (!path.ok()) return write_error(res, path.status());
         auto r = services_.datasets->add_root(w->id, *path, t_ctx.principal->username);
         if (!r.ok()) return write_error(res, r.status());
         t_ctx.resource_name = r->path;
         write_json(res, 201, root_json(*r));
       });
    on("DELETE", ws + "/dataset-roots", ws_label + "/dataset-roots",
       [this](const auto& req, auto& res) {
         auto w = workspace_of(req);
         if (!w.ok()) return write_error(res, w.status());
         if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
         const std::string path = req.get_param_value("path");
         if (path.empty()) {
           return write_error(
               res, Status::invalid_argument("query parameter 'path' names the root to remove"));
         }
         if (Status s = services_.datasets->remove_root(w->id, path); !s.ok()) {
           return write_error(res, s);
         }
         res.status = 204;
       });
  }

  void tenancy_routes() {
    on("GET", "/api/v1/roles", "/api/v1/roles", [this](const auto&, auto& res) {
      auto roles = tenancy_.roles();
      if (!roles.ok()) return write_error(res, roles.status());
      Json items = Json::array();
      for (const auto& r : *roles) {
        items.push_back({{"name", r.name},
                         {"scope", r.scope},
                         {"permissions", r.permissions},
                         {"builtin", r.builtin}});
      }
      write_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
    });

    // API tokens for scripts: named, optionally scoped to one project, expiring,
    // revocable. The secret is shown once, in the creation response.
    on("POST", "/api/v1/tokens", "/api/v1/tokens", [this](const auto& req, auto& res) {
      const iam::Principal& me = *t_ctx.principal;
      if (!me.project_scope.empty()) {
        return write_error(
            res, Status::permission_denied("a project-scoped token may not create tokens"));
      }
      auto body = object_body(req);
      if (!body.ok()) return write_error(res, body.status());
      if (Status s = json::only_fields(*body, {"name", "project", "expires_in_s"}); !s.ok()) {
        return write_error(res, s);
      }
      auto name = json::required_string(*body, "name");
      if (!name.ok()) return write_error(res, name.status());
      if (name->empty() || name->size() > 64) {
        return write_error(res,
                           Status::invalid_argument("field 'name' must be 1 to 64 characters"));
      }
      auto project = json::optional_string(*body, "project");
      if (!project.ok()) return write_error(res, project.status());
      auto ttl = json::optional_int(*body, "expires_in_s");
      if (!ttl.ok()) return write_error(res, ttl.status());
      const int64_t seconds = ttl->value_or(30 * 24 * 3600);
      if (seconds < 60 || seconds > 366 * 24 * 3600) {
        return write_error(res,
                           Status::invalid_argument(
                               "field 'expires_in_s' must be between 60 and 31622400 (a year)"));
      }
      std::string scope = project->value_or("");
      if (!scope.empty()) {
        // Only for a project the caller can see; the token never exceeds its owner.
        auto p = tenancy_.project(scope);
        if (!p.ok())
          return write_error(res,
                             Status::invalid_argument("field 'project': " + p.status().message()));
        if (Status s = allow("project", "get", p->workspace_id, &*p); !s.ok()) {
          return write_error(res, s);
        }
        t_ctx.project = scope;
      }
      iam::Token t;
      auto secret = accounts().issue_token(me.user_id, "api", *name, scope,
                                           clock_.now_unix_ms() + seconds * 1000, &t);
      if (!secret.ok()) return write_error(res, secret.status());
      t_ctx.resource_name = t.id;
      Json out = token_json(t);
      out["token"] = *secret;
      write_json(res, 201, out);
    });
    on("GET", "/api/v1/tokens", "/api/v1/tokens", [this](const auto&, auto& res) {
      auto tokens = accounts().tokens_of(t_ctx.principal->user_id);
      if (!tokens.ok()) return write_error(res, tokens.status());
      Json items = Json::array();
      const iam::Principal& me = *t_ctx.principal;
      for (const auto& t : *tokens) {
        if (me.project_scope.empty() || t.id == me.token_id) items.push_back(token_json(t));
      }
      write_json(res, 200, {{"items", items}, {"next_page_token", nullptr}});
    });
    on("DELETE", R"(/api/v1/tokens/(tok_[0-9A-Z]{26}))", "/api/v1/tokens/{id}",
       [this](const auto& req, auto& res) {
         auto t = accounts().token_by_id(req.matches[1]);
         const iam::Principal& me = *t_ctx.principal;
         // Someone else's token looks the same as a missing one; a project-scoped token
         // manages only itself (not its owner's session or other tokens).
         const bool mine = t.ok() && t->user_id == me.user_id &&
                           (me.project_scope.empty() || t->id == me.token_id);
         if (!t.ok() || (!mine && !(me.is_platform_admin() && me.project_scope.empty()))) {
           return write_error(res, Status::not_found("token '" + std::string(req.matches[1]) +
                                                     "' does not exist"));
         }
         if (Status s = auth_.revoke(t->id); !s.ok()) return write_error(res, s);
         res.status = 204;
       });

    on("POST", "/api/v1/users", "/api/v1/users", [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      auto body = object_body(req);
      if (!body.ok()) return write_error(res, body.status());
      if (Status s = json::only_fields(
              *body, {"username", "password", "display_name", "email", "platform_role"});
          !s.ok()) {
        return write_error(res, s);
      }
      iam::User u;
      auto username = json::required_string(*body, "username");
      if (!username.ok()) return write_error(res, username.status());
      auto password = json::required_string(*body, "password");
      if (!password.ok()) return write_error(res, password.status());
      if (Status s = iam::check_password_policy(*password); !s.ok()) return write_error(res, s);
      for (auto [field, out] :
           {std::pair{"display_name", &u.display_name}, std::pair{"email", &u.email},
            std::pair{"platform_role", &u.platform_role}}) {
        auto v = json::optional_string(*body, field);
        if (!v.ok()) return write_error(res, v.status());
        if (*v) *out = **v;
      }
      u.username = *username;
      if (Status s = iam::Accounts::validate_username(u.username); !s.ok()) {
        return write_error(res, s);
      }
      auto hash = iam::hash_password(*password, auth_.options().hash_cost);
      if (!hash.ok()) return write_error(res, hash.status());
      u.password_hash = *hash;
      auto created = accounts().create_user(u);
      if (!created.ok()) return write_error(res, created.status());
      write_json(res, 201, user_json(*created));
    });
    // Clears the failed logins counted against a user (from every address).
    on("POST", R"(/api/v1/users/([a-z0-9._-]+)/unlock)", "/api/v1/users/{username}/unlock",
       [this](const auto& req, auto& res) {
         if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
         const std::string name = req.matches[1];
         auto u = accounts().user_by_name(name);
         if (!u.ok()) return write_error(res, u.status());
         t_ctx.resource_name = name;
         auth_.unlock(name);
         write_json(res, 200, user_json(*u));
       });
    on("GET", "/api/v1/users", "/api/v1/users", [this](const auto& req, auto& res) {
      if (Status s = require_platform_admin(); !s.ok()) return write_error(res, s);
      auto users = accounts().users();
      if (!users.ok()) return write_error(res, users.status());
      std::vector<Json> items;
      for (const auto& u : *users) items.push_back(user_json(u));
      write_page(req, res, std::move(items), "username");
    });

    on("POST", "/api/v1/workspaces", "/api/v1/workspaces", [this](const auto& req, auto& res) {
      if (Status s = allow("workspace", "create", ""); !s.ok()) return write_error(res, s);
      auto body = object_body(req);
      if (!body.ok()) return write_error(res, body.status());
      auto name = json::required_string(*body, "name");
      if (!name.ok()) return write_error(res, name.status());
      auto desc = json::optional_string(*body, "description");
      if (!desc.ok()) return write_error(res, desc.status());
      t_ctx.workspace = *name;
      auto w = tenancy_.create_workspace(*name, desc->value_or(""));
      if (!w.ok()) return write_error(res, w.status());
      write_json(res, 201, workspace_json(*w));
    });
    on("GET", "/api/v1/workspaces", "/api/v1/workspaces", [this](const auto& req, auto& res) {
      auto all = tenancy_.workspaces();
      if (!all.ok()) return write_error(res, all.status());
      std::vector<Json> items;
      for (const auto& w : *all) {
        if (allow("workspace", "get", w.id).ok()) items.push_back(workspace_json(w));
      }
      write_page(req, res, std::move(items), "name");
    });
    // Every project the caller may see, across workspaces (a project member need not
    // belong to the project's workspace); ?workspace=NAME narrows it to one.
    on("GET", "/api/v1/projects", "/api/v1/projects", [this](const auto& req, auto& res) {
      const std::string only = req.get_param_value("workspace");
      std::vector<iam::Workspace> workspaces;
      if (!only.empty()) {
        auto w = tenancy_.workspace(only);
        if (!w.ok()) return write_error(res, w.status());
        workspaces.push_back(*w);
      } else {
        auto all = tenancy_.workspaces();
        if (!all.ok()) return write_error(res, all.status());
        workspaces = std::move(*all);
      }
      std::vector<Json> items;
      for (const auto& w : workspaces) {
        if (Status s = add_visible_projects(w.name, items); !s.ok()) return write_error(res, s);
      }
      write_page(req, res, std::move(items), "name");
    });
    const std::string ws = R"(/api/v1/workspaces/([a-z0-9-]+))";
    const std::string ws_label = "/api/v1/workspaces/{workspace}";
    on("GET", ws, ws_label, [this](const auto& req, auto& res) {
      auto w = workspace_of(req);
      if (!w.ok()) return write_error(res, w.status());
      if (Status s = allow("workspace", "get", w->id); !s.ok()) return write_error(res, s);
      write_json(res, 200, workspace_json(*w));
    });
    on("DELETE", ws, ws_label, [this](const auto& req, auto& res) {
      auto w = workspace_of(req);
      if (!w.ok()) return write_error(res, w.status());
      // Deleting a tenant is a platform decision, not the tenant's.
      if (Status s = allow("workspace", "delete", ""); !s.ok()) return write_error(res, s);
      if (Status s = tenancy_.delete_workspace(w->name); !s.ok()) return write_error(res, s);
      res.status = 204;
    });
    member_routes(ws, ws_label, "workspace");
    if (services_.datasets) dataset_root_routes(ws, ws_label);
    on("POST", ws + "/projects", ws_label + "/projects", [this](const auto& req, auto& res) {
      auto w = workspace_of(req);
      if (!w.ok()) return write_error(res, w.status());
      if (Status s = allow("project", "create", w->id); !s.ok()) return write_error(res, s);
      auto body = object_body(req);
      if (!body.ok()) return write_error(res, body.status());
      auto name = json::required_string(*body, "name");
      if (!name.ok()) return write_error(res, name.status());
      auto desc = json::optional_string(*body, "description");
      if (!desc.ok()) return write_error(res, desc.status());
      t_ctx.project = *name;
      auto p =
          tenancy_.create_project(w->name, *name, desc->value_or(""), t_ctx.principal->user_id);
      if (!p.ok()) return write_error(res, p.status());
      emit(p->name, "project", p->name, "created", "ProjectCreated",
           "project created in workspace '" + p->workspace + "'");
      write_json(res, 201, project_json(*p));
    });
    on("GET", ws + "/projects", ws_label + "/projects", [this](const auto& req, auto& res) {
      auto w = workspace_of(req);
      if (!w.ok()) return write_error(res, w.status());
      std::vector<Json> items;
      if (Status s = add_visible_projects(w->name, items); !s.ok()) return write_error(res, s);
      write_page(req, res, std::move(items), "name");
    });

    const std::string pr = R"(/api/v1/projects/([a-z0-9-]+))";
    const std::string pr_label = "/api/v1/projects/{project}";
    on("GET", pr, pr_label, [this](const auto& req, auto& res) {
      auto p = project_of(req);
      if (!p.ok()) return write_error(res, p.status());
      if (Status s = allow("project", "get", p->workspace_id, &*p); !s.ok()) {
        return write_error(res, s);
      }
      write_json(res, 200, project_json(*p));
    });
    on("DELETE", pr, pr_label, [this](const auto& req, auto& res) {
      auto p = project_of(req);
      if (!p.ok()) return write_error(res, p.status());
      if (Status s = allow("project", "delete", p->workspace_id, &*p); !s.ok()) {
        return write_error(res, s);
      }
      if (Status s = tenancy_.delete_project(p->name); !s.ok()) return write_error(res, s);
      emit(p->name, "project", p->name, "deleted", "ProjectDeleted", "project deleted");
      res.status = 204;
    });
    member_routes(pr, pr_label, "project");

    on("GET", pr + "/quota", pr_label + "/quota", [this](const auto& req, auto& res) {
      auto p = project_of(req);
      if (!p.ok()) return write_error(res, p.status());
      if (Status s = allow("quota", "get", p->workspace_id, &*p); !s.ok()) {
        return write_error(res, s);
      }
      auto q = quotas_.get(p->id);
      if (!q.ok()) return write_error(res, q.status());
      Json out = q->to_json();
      // What the project uses of the limits the job runner measures.
      if (services_.runner) {
        auto used = services_.runner->storage_used(p->id);
        if (!used.ok()) return write_error(res, used.status());
        out["usage"] = {{"storage_mib", static_cast<double>(*used) / (1 << 20)}};
      }
      write_json(res, 200, out);
    });
    on("PUT", pr + "/quota", pr_label + "/quota", [this](const auto& req, auto& res) {
      auto p = project_of(req);
      if (!p.ok()) return write_error(res, p.status());
      if (Status s = allow("quota", "update", p->workspace_id, &*p); !s.ok()) {
        return write_error(res, s);
      }
      auto body = object_body(req);
      if (!body.ok()) return write_error(res, body.status());
      auto q = iam::Quota::from_json(*body);
      if (!q.ok()) return write_error(res, q.status());
      if (Status s = quotas_.set(p->id, *q); !s.ok()) return write_error(res, s);
      emit(p->name, "quota", p->name, "updated", "QuotaChanged", json::dump(q->to_json()));
      write_json(res, 200, q->to_json());
    });
    on("GET", pr + "/events", pr_label + "/events", [this](const auto& req, auto& res) {
      auto p = project_of(req);
      if (!p.ok()) return write_error(res, p.status());
      if (Status s = allow("event", "list", p->workspace_id, &*p); !s.ok()) {
        return write_error(res, s);
      }
      int64_t after = 0;
      // page_token (a list's next_page_token), after, or an SSE client's Last-Event-ID.
      std::string from = req.has_param("page_token") ? req.get_param_value("page_token")
                         : req.has_param("after")    ? req.get_param_value("after")
                                                     : req.get_header_value("Last-Event-ID");
      if (!from.empty()) {
        char* end = nullptr;
        long long n = std::strtoll(from.c_str(), &end, 10);
        if (*end || n < 0) {
          return write_error(
              res, Status::invalid_argument(
                       "'after' (or page_token, or Last-Event-ID) must be an event seq number"));
        }
        after = n;
      }
      const bool stream =
          req.get_param_value("stream") == "true" ||
          req.get_header_value("Accept").find("text/event-stream") != std::string::npos;
      if (!stream) {
        auto evs = events_.list(p->name, after, 1000);
        if (!evs.ok()) return write_error(res, evs.status());
        Json items = Json::array();
        for (const auto& e : *evs) items.push_back(e.to_json());
        write_json(res, 200,
                   {{"items", items},
                    {"next_page_token",
                     evs->size() == 1000 ? Json(std::to_string(evs->back().seq)) : Json(nullptr)}});
        return;
      }
      // Server-Sent Events: one worker thread per open stream; it ends on shutdown.
      auto cursor = std::make_shared<int64_t>(after);
      auto last_write = std::make_shared<Clock::SteadyTime>(clock_.steady_now());
      std::string project = p->name;
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider("text/event-stream", [this, project, cursor, last_write](
                                                                size_t, httplib::DataSink& sink) {
        if (stopping_ || !sink.is_writable()) {
          sink.done();
          return true;
        }
        auto evs = events_.list(project, *cursor, 100);
        if (!evs.ok()) {
          sink.done();
          return true;
        }
        if (evs->empty()) {
          events_.wait(*cursor, std::chrono::seconds(2));
          if (clock_.steady_now() - *last_write > std::chrono::seconds(15)) {
            static constexpr char kPing[] = ": keep-alive\n\n";
            sink.write(kPing, sizeof kPing - 1);
            *last_write = clock_.steady_now();
          }
          return true;
        }
        std::string out;
        for (const auto& e : *evs) {
          out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type +
                 "\ndata: " + json::dump(e.to_json()) + "\n\n";
          *cursor = e.seq;
        }
        *last_write = clock_.steady_now();
        return sink.write(out.data(), out.size());
      });
    });
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
  PlatformServices services_;
  std::vector<RouteDoc> routes_;  // every registered route, for the OpenAPI document
  std::string openapi_;
  HttpMetrics metrics_;
  double start_time_seconds_;
  std::atomic<bool> stopping_{false};
  static constexpr int kListenBacklog = 1024;
  int last_socket_ = -1;  // the socket cpp-httplib bound, seen through set_socket_options
};

ApiServer::ApiServer(ServerOptions options, store::Database& db, iam::Authenticator& auth,
                     iam::AuditLog* audit, std::shared_ptr<spdlog::logger> logger, Clock& clock,
                     PlatformServices services)
    : impl_(std::make_unique<Impl>(std::move(options), db, auth, audit, std::move(logger), clock,
                                   services)) {}

ApiServer::~ApiServer() = default;

Status ApiServer::bind() { return impl_->bind(bound_port_); }

Status ApiServer::run() {
  const bool clean = impl_->http.listen_after_bind();
  impl_->flush_audit();
  if (!clean) return Status::internal("the HTTP server stopped unexpectedly");
  return {};
}

void ApiServer::stop() { impl_->stop(); }

}  // namespace jz::api
