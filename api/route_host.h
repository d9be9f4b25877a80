// What route modules outside api/server.cc (api/job_routes.cc) need from the server:
// registering a route under a label (metrics, audit, OpenAPI), the caller, authorisation,
// resolving {project}, and writing JSON answers and errors in the server's format.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "core/json.h"
#include "core/status.h"
#include "platform/iam/authenticator.h"
#include "platform/iam/tenancy.h"

namespace jz::api {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

class RouteHost {
 public:
  virtual ~RouteHost() = default;
  virtual void on(const std::string& method, const std::string& pattern, const std::string& label,
                  Handler h) = 0;
  // The authenticated caller of the current request.
  virtual const iam::Principal& principal() = 0;
  virtual Status allow(std::string_view resource, std::string_view verb,
                       const std::string& workspace_id, const iam::Project* project = nullptr) = 0;
  // {project} of the route (matches[1]), recorded for the audit.
  virtual Result<iam::Project> project_of(const httplib::Request& req) = 0;
  // A project by name, recorded for the audit like project_of.
  virtual Result<iam::Project> project_named(const std::string& name) = 0;
  virtual void send_json(httplib::Response& res, int status, const Json& body) = 0;
  virtual void send_error(httplib::Response& res, const Status& s) = 0;
  virtual Result<Json> body_object(const httplib::Request& req) = 0;
  virtual bool stopping() const = 0;
  // Records this request in the audit trail even when it changes nothing (a GET), with
  // this verb and resource name.
  virtual void audit_request(const std::string& verb, const std::string& resource_name) = 0;
};

}  // namespace jz::api
