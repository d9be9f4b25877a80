// Dev environments at /devenvs/{id}/: the platform proxies HTTP into the sandbox.
#include <fcntl.h>
#include <httplib.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "api/services.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace {

// Sends one request into a dev environment's sandbox. The connection is made from a
// thread that joined the sandbox's network namespace, so the environment needs no port
// on the machine and stays without a network of its own.
httplib::Result forward(const std::string& netns, int port, const http::Request& in,
                        const std::string& target) {
  httplib::Result out{nullptr, httplib::Error::Connection};
  std::thread t([&] {
    if (!netns.empty()) {
      const int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        if (fd >= 0) ::close(fd);
        return;
      }
      ::close(fd);
    }
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(300, 0);
    httplib::Request r;
    r.method = in.method;
    r.path = target;
    r.body = in.body;
    for (const auto& [k, v] : in.headers.fields()) {
      // The platform's credentials stay with the platform.
      if (http::iequals(k, "Authorization") || http::iequals(k, "Host") ||
          http::iequals(k, "Content-Length") || http::iequals(k, "Connection") ||
          http::iequals(k, "Transfer-Encoding")) {
        continue;
      }
      r.headers.emplace(k, v);
    }
    out = cli.send(r);
  });
  t.join();
  return out;
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
    runner->touch(j->id);
    std::string target = ctx.rest.empty() ? "/" : ctx.rest;
    if (target.front() == '?') target = "/" + target;
    auto r = forward(runner->executor().network_namespace(j->id), j->spec.port, ctx.http, target);
    if (!r) {
      return Status::unavailable("dev environment " + j->id + " does not answer on port " +
                                 std::to_string(j->spec.port) + " (" +
                                 httplib::to_string(r.error()) + ")");
    }
    Reply out = Reply::text(r->body, r->get_header_value("Content-Type"));
    out.status = r->status;
    for (const auto& [k, v] : r->headers) {
      if (http::iequals(k, "Content-Length") || http::iequals(k, "Transfer-Encoding") ||
          http::iequals(k, "Connection") || http::iequals(k, "Content-Type")) {
        continue;
      }
      out.headers.add(k, v);
    }
    return out;
  };
  for (const char* m : {"GET", "POST", "PUT", "DELETE"}) {
    api.add(Route{.method = m,
                  .path = "/devenvs/{id}",
                  .summary = "A dev environment's HTTP server, through the platform (its owner; "
                             "project admins, audited)",
                  .errors = {409, 503},
                  .prefix = true,
                  .raw_body = true,
                  .handler = proxy});
  }
}

}  // namespace jz::api
