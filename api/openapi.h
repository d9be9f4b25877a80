// The OpenAPI 3 document of the HTTP API (GET /api/v1/openapi.json).
//
// Paths and methods come from the routes as the server registered them, so the
// document cannot name an endpoint the server does not serve, nor miss one it does.
// Request bodies, responses and query parameters come from the table in openapi.cc,
// keyed by "METHOD /label"; a test checks every documented required field against the
// real handlers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace jz::api {

struct RouteDoc {
  std::string method;  // GET, POST, PUT, DELETE
  std::string label;   // "/api/v1/workspaces/{workspace}"
};

Json build_openapi(const std::vector<RouteDoc>& routes, std::string_view version);

}  // namespace jz::api
