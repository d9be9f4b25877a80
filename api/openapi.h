// The OpenAPI 3.0 document of the API, built from the registered routes (api/framework.h):
// each route's summary, path and query parameters, body and response schemas, success
// status and documented error statuses. GET /api/v1/openapi.json serves it.
#pragma once

#include <string_view>
#include <vector>

#include "api/framework.h"
#include "core/json.h"

namespace jz::api {

Json build_openapi(const std::vector<Route>& routes, std::string_view version);

// The success status of a route: its own, else 201 for POST, 204 for DELETE, 200.
int success_status(const Route& r);

}  // namespace jz::api
