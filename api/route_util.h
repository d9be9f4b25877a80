// Helpers shared by the route modules outside api/server.cc.
#pragma once

#include <optional>
#include <string>

#include "api/route_host.h"

namespace jz::api {

// An integer query parameter from lo to hi, `fallback` when absent; an error naming the
// parameter otherwise.
inline Result<int64_t> int_param(const httplib::Request& req, const char* name, int64_t lo,
                                 int64_t hi, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || n < lo || n > hi) {
    return Status::invalid_argument("query parameter '" + std::string(name) +
                                    "' must be an integer from " + std::to_string(lo) + " to " +
                                    std::to_string(hi));
  }
  return n;
}

// The route's {project}, once the caller may do resource:verb there; otherwise the error
// is sent and nullopt returned.
inline std::optional<iam::Project> guard(RouteHost* h, const httplib::Request& req,
                                         httplib::Response& res, const char* resource,
                                         const char* verb) {
  auto p = h->project_of(req);
  if (!p.ok()) {
    h->send_error(res, p.status());
    return std::nullopt;
  }
  if (Status s = h->allow(resource, verb, p->workspace_id, &*p); !s.ok()) {
    h->send_error(res, s);
    return std::nullopt;
  }
  return std::move(*p);
}

}  // namespace jz::api
