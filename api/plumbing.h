// Pieces of the API server's plumbing kept out of api/server.cc: options for the HTTP
// core, request ids, and the audit record of a request.
#pragma once

#include <chrono>
#include <string_view>

#include "api/framework.h"
#include "api/server.h"
#include "http/server.h"
#include "platform/iam/audit.h"

namespace jz::api {

// The HTTP core's options for the API server's: one thread more than the handlers.
http::ServerOptions http_options(const ServerOptions& o);

// A client's X-Request-Id is kept when it is 1..64 characters of [A-Za-z0-9._-].
bool valid_request_id(std::string_view id);

// What the audit log records for a request that got `status`: the verb from the method
// (or the route's), the resource named by the reply, else by the validated body, else by
// the last path parameter.
iam::AuditRecord audit_record_of(const http::Request& req, const RequestContext& ctx,
                                 const Result<Reply>& reply, int status,
                                 std::chrono::nanoseconds latency);

}  // namespace jz::api
