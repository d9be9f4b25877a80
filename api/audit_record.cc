// The audit record of one API request.
#include "api/plumbing.h"

namespace jz::api {

iam::AuditRecord audit_record_of(const http::Request& req, const RequestContext& ctx,
                                 const Result<Reply>& reply, int status,
                                 std::chrono::nanoseconds latency) {
  iam::AuditRecord r;
  r.user = ctx.caller ? ctx.caller->username : ctx.audit.actor;
  r.source_ip = req.remote_addr;
  r.user_agent = req.header("User-Agent").substr(0, 256);
  if (!ctx.audit.verb.empty()) {
    r.verb = ctx.audit.verb;
  } else if (req.method == "POST") {
    r.verb = "create";
  } else if (req.method == "PUT" || req.method == "PATCH") {
    r.verb = "update";
  } else if (req.method == "DELETE") {
    r.verb = "delete";
  } else {
    r.verb = req.method;
  }
  r.resource_type = ctx.audit.type;
  r.resource_name = ctx.audit.name;
  // A created resource is named by what the server answered, or, for a refused one, by
  // the validated body: never by parsing the request again.
  for (const Json* b : {reply.ok() ? &reply->body : nullptr, &ctx.body}) {
    if (!r.resource_name.empty() || !b || !b->is_object()) continue;
    for (const char* f : {"name", "username", "id", "path"}) {
      if (b->contains(f) && (*b)[f].is_string()) {
        r.resource_name = (*b)[f].get<std::string>().substr(0, 128);
        break;
      }
    }
  }
  if (r.resource_name.empty() && !ctx.params_.empty()) r.resource_name = ctx.params_.back().second;
  if (r.resource_name.empty() && ctx.audit.type.empty()) r.resource_name = req.path.substr(0, 256);
  r.workspace = ctx.audit.workspace;
  r.project = ctx.audit.project;
  r.request_summary = iam::AuditLog::summarize_body(req.body);
  r.response_status = status;
  r.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  r.request_id = ctx.request_id;
  return r;
}

}  // namespace jz::api
