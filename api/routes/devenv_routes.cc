// Dev environments at /devenvs/{id}/: the platform proxies HTTP and WebSockets into the
// sandbox. The handler authorises the request and connects into the sandbox's network
// namespace (http/netns_dial.h); the connection then leaves the server for a tunnel
// (http/tunnel.h) that carries the answer, or the WebSocket, with bounded buffers.
#include "api/services.h"
#include "api/session.h"
#include "http/websocket.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace {

// Whether a request is the environment's own polling (what an open but unused Jupyter
// page asks every few seconds): not a sign that anyone works in it.
bool is_poll(const http::Request& req, const std::string& rest) {
  if (req.method != "GET") return false;
  const std::string path = rest.substr(0, rest.find('?'));
  for (const char* p : {"/api/sessions", "/api/kernels", "/api/terminals", "/api/status",
                        "/api/metrics", "/api/kernelspecs"}) {
    if (path.rfind(p, 0) == 0) return true;
  }
  return false;
}

}  // namespace

void add_devenv_routes(ApiRoutes& api, const ApiServices& s) {
  jobs::JobStore& store = *s.platform.jobs;
  jobs::JobRunner* runner = s.platform.runner;
  auto proxy = [&s, &store, runner](RequestContext& ctx) -> Result<Reply> {
    const std::string& id = ctx.param("id");
    auto missing = Status::not_found("job '" + id + "' does not exist");
    auto j = store.get(id);
    if (!j.ok()) return missing;
    auto p = s.tenancy.project(j->project);
    if (!p.ok()) return missing;
    ctx.audit.workspace = p->workspace;
    ctx.audit.project = p->name;
    ctx.project = std::move(*p);
    // Not a member: the environment looks missing.
    if (!ctx.allow("job", "get").ok()) return missing;
    // An environment is its owner's: other members (viewers, developers, tokens of other
    // users) may see that it exists, not use it. Project admins may, and each of their
    // requests is audited.
    if (j->user_id != ctx.me().user_id) {
      if (!ctx.allow("project", "update").ok()) {
        return Status::permission_denied("dev environment " + j->id + " belongs to " + j->username +
                                         "; only its owner and project admins may reach it");
      }
      ctx.audit.force = true;
      ctx.audit.verb = "proxy";
      ctx.audit.name = j->id;
    }
    if (j->kind != "devenv") {
      return Status::invalid_argument("job " + j->id + " is not a dev environment");
    }
    if (j->state != "running" || !runner) {
      return Status::failed_precondition("dev environment " + j->id + " is " + j->state +
                                         (j->state == "cancelled" ? "; retry it to resume" : ""));
    }
    // A page of the environment runs with the console session of whoever opens it in a
    // browser; only its owner's session may: a project admin reaches another user's
    // environment with a token (the API), where no page of it runs.
    if (ctx.via_cookie && j->user_id != ctx.me().user_id) {
      return Status::permission_denied(
          "dev environment " + j->id + " belongs to " + j->username +
          "; its pages would run with your console session, so it opens in a browser for its "
          "owner only (reach it with an API token instead)");
    }
    const bool upgrade = http::is_websocket_upgrade(ctx.http);
    if (!s.proxy.acquire(j->id)) {
      return Status::resource_exhausted(
          "dev environment " + j->id + " holds its limit of " +
          std::to_string(s.proxy.max_per_env) +
          " connections through the proxy (server.devenv_max_connections); close some tabs");
    }
    const std::string env = j->id;
    auto backend = s.proxy.dialer.dial(runner->executor().network_namespace(env), j->spec.port);
    if (!backend.ok()) {
      s.proxy.release(env);
      return Status::unavailable("dev environment " + env + " does not answer on port " +
                                 std::to_string(j->spec.port) + ": " + backend.status().message() +
                                 " (is its server started? its log tells)");
    }
    std::string target = ctx.rest.empty() ? "/" : ctx.rest;
    if (target.front() == '?') target = "/" + target;
    // The environment's server sees the whole path (its base URL is /devenvs/ID/, told in
    // JIZHAN_BASE_URL), so the links it writes work through the proxy; or, with
    // strip_prefix, the path below it.
    const std::string full = j->spec.strip_prefix ? target : "/devenvs/" + env + target;
    if (!is_poll(ctx.http, target)) runner->touch(env);
    std::string head = http::proxy_request_head(ctx.http, full, {"Authorization", "X-CSRF-Token"},
                                                {std::string(kSessionCookie)}, upgrade);
    Reply out;
    out.status = upgrade ? 101 : 200;
    ProxyParts* parts = &s.proxy;
    out.takeover = [parts, runner, env, backend = *backend, head = std::move(head), upgrade](
                       int client, const std::string& rest) mutable {
      http::TunnelSpec t;
      t.client_fd = client;
      t.backend_fd = backend;
      t.to_backend = std::move(head);
      if (upgrade) t.to_backend += rest;
      t.duplex = upgrade;
      t.rewrite_head = [](std::string_view h) {
        http::Headers set;
        // Not framed by other sites; the environment's own types only.
        set.set("X-Frame-Options", "SAMEORIGIN");
        set.set("X-Content-Type-Options", "nosniff");
        set.set("Referrer-Policy", "same-origin");
        return http::proxy_response_head(h, set);
      };
      // A kernel's or terminal's messages (not pings) keep the environment awake.
      t.on_activity = [runner, env](const http::TunnelActivity& a) {
        if (a.kind == http::TunnelActivity::Kind::kMessage) runner->touch(env);
      };
      t.on_close = [parts, env] { parts->release(env); };
      (void)parts->tunnels.open(std::move(t));  // on failure it closes both and releases
    };
    return out;
  };
  for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    api.add(Route{.method = m,
                  .path = "/devenvs/{id}",
                  .summary = "A dev environment's HTTP server and WebSockets, through the "
                             "platform (its owner; project admins with a token, audited)",
                  .errors = {409, 429, 503},
                  .prefix = true,
                  .raw_body = true,
                  .handler = proxy});
  }
}

}  // namespace jz::api
