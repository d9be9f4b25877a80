// Routes as data: how every API endpoint is declared, resolved, authorised and answered.
//
// A Route declares its method, its path with typed parameters ("{project}" is a name,
// "{id}" a job id; a value that fails the pattern is a 400 naming the parameter), the
// scope that resolves and authorises it (a project: the framework looks it up, checks
// resource:verb, and answers 404 alike for a missing project and one the caller may not
// see), its body schema (validated before the handler runs, and the OpenAPI document's),
// its response schema, its query parameters and whether it pages. The handler gets an
// explicit RequestContext and returns Result<Reply>; the framework writes errors, audit
// records, metrics, the access log and the OpenAPI entry. A route module is a function
// that adds its table to an ApiRoutes (api/routes/*.cc).
//
// Thread safety: routes are added before the server starts; dispatch is then const and
// runs on many threads, one RequestContext per request.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "http/server.h"
#include "platform/iam/authenticator.h"
#include "platform/iam/tenancy.h"
#include "store/rows.h"

namespace jz::api {

// What an endpoint answers with.
struct Reply {
  int status = 200;
  Json body;  // sent as JSON unless `raw` or `stream` is set
  std::optional<std::string> raw;
  std::string content_type;  // for raw bodies and streams
  http::Headers headers;
  std::shared_ptr<http::Stream> stream;
  // The connection leaves the server after the handler (http::Response::takeover).
  std::function<void(int fd, std::string rest)> takeover;

  static Reply json(Json body, int status = 200) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Reply created(Json body) { return json(std::move(body), 201); }
  static Reply no_content() {
    Reply r;
    r.status = 204;
    return r;
  }
  static Reply text(std::string body, std::string content_type) {
    Reply r;
    r.raw = std::move(body);
    r.content_type = std::move(content_type);
    return r;
  }
  static Reply streamed(std::shared_ptr<http::Stream> s, std::string content_type) {
    Reply r;
    r.stream = std::move(s);
    r.content_type = std::move(content_type);
    return r;
  }
  // One page of a collection: {"items":[...],"next_page_token":...}. `next_key` is the
  // key after which the next page starts; empty at the end.
  static Reply page(Json items, const std::string& next_key);
  // One keyset page from the store (store/rows.h), each item rendered by `render`.
  template <class T, class F>
  static Reply page(const store::Page<T>& p, F&& render) {
    Json items = Json::array();
    for (const auto& item : p.items) items.push_back(render(item));
    return page(std::move(items), p.next_after);
  }
  // Sets the ETag of the representation (quoted here).
  Reply& with_etag(const std::string& tag);
};

// Who answers for a route's authorisation.
enum class Scope {
  kPublic,         // no token
  kCaller,         // any authenticated caller; the handler decides the rest
  kPlatformAdmin,  // platform admins only (403 for others)
  kWorkspace,      // {workspace} resolved; the caller must hold resource:verb there
  kProject,        // {project} resolved; the caller must hold resource:verb there
};

enum class Paging { kNone, kKeyset };

// A page request of a paging route: page_size 1 to 1000 (default 100) and page_token.
struct PageRequest {
  int size = 100;
  std::string after;  // the decoded token: the key after which this page starts
};

struct QueryParam {
  std::string name;
  std::string description;
  std::string type = "string";  // string, integer, boolean, date-time
};

// What the audit records for a request; filled from the route and refined by handlers.
struct AuditTarget {
  std::string verb;  // "" derives it from the method
  std::string type;  // the route label's last literal segment
  std::string name;  // the last path parameter, the created resource, or what a handler set
  std::string workspace, project;
  std::string actor;   // who a login claimed to be
  bool force = false;  // record even a GET
};

class RequestContext {
 public:
  RequestContext(const http::Request& req, iam::Authorizer& authorizer)
      : http(req), authorizer_(authorizer) {}

  const http::Request& http;
  const iam::Principal* caller = nullptr;   // null on public routes
  bool via_cookie = false;                  // authenticated by the console's session cookie
  std::string csrf_token;                   // that session's CSRF token (api/session.h)
  std::optional<iam::Workspace> workspace;  // kWorkspace routes
  std::optional<iam::Project> project;      // kProject routes
  std::string request_id;
  Clock::SteadyTime deadline;
  AuditTarget audit;
  Json body;  // the validated body of routes that declare one; null otherwise
  PageRequest page;
  // The page request as the store's keyset queries take it.
  store::PageSpec page_spec() const { return {.after = page.after, .limit = page.size}; }

  const iam::Principal& me() const { return *caller; }
  // A path parameter, decoded; "" when the route has none of that name.
  const std::string& param(std::string_view name) const;
  // What follows a prefix route's path ("/devenvs/{id}" + "/lab?x=1"), as sent.
  std::string rest;

  // Whether the caller holds resource:verb in the route's project (or workspace, or
  // platform-wide when the route has neither).
  Status allow(std::string_view resource, std::string_view verb) const;
  Status require_platform_admin() const;
  // An integer query parameter from lo to hi; `fallback` when absent.
  Result<int64_t> int_param(std::string_view name, int64_t lo, int64_t hi, int64_t fallback) const;
  // An RFC 3339 time query parameter, in Unix microseconds; nullopt when absent.
  Result<std::optional<int64_t>> time_param(std::string_view name) const;
  // condition_not_met (412) unless If-Match is absent or names `current` (unquoted).
  Status check_if_match(const std::string& current) const;

  std::vector<std::pair<std::string, std::string>> params_;

 private:
  iam::Authorizer& authorizer_;
};

using RouteHandler = std::function<Result<Reply>(RequestContext&)>;

struct Route {
  std::string method;
  // "/api/v1/projects/{project}/datasets/{dataset}"; parameter kinds come from their
  // names (see path_param_kinds in framework.cc).
  std::string path;
  Scope scope = Scope::kCaller;
  std::string resource, verb;  // for kWorkspace and kProject
  std::string summary;
  Json body_schema;      // JSON Schema of the request body; null: no JSON body
  Json response_schema;  // of the success body; null: none documented
  int success = 0;       // 0: 201 for POST, 204 for DELETE, 200 otherwise
  Paging paging = Paging::kNone;
  std::vector<QueryParam> query;
  std::vector<int> errors;  // documented error statuses beyond those every route has
  bool prefix = false;      // the path may continue (ctx.rest)
  bool raw_body = false;    // the body is not JSON (an upload); the handler reads http.body
  RouteHandler handler;
};

// The registered routes, and the dispatch of a request to one of them.
class ApiRoutes {
 public:
  explicit ApiRoutes(iam::Tenancy& tenancy, iam::Authorizer& authorizer)
      : tenancy_(tenancy), authorizer_(authorizer) {}

  void add(Route r);
  void add(std::vector<Route> rs) {
    for (auto& r : rs) add(std::move(r));
  }
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::string rest;
    Status error;       // 400 (a parameter), 404 (no path), 405 (no method)
    std::string allow;  // the methods of the path, for 405
  };
  Match match(const http::Request& req) const;

  // Resolves the route's scope, validates the body and paging, and runs the handler.
  Result<Reply> run(const Route& route, RequestContext& ctx) const;

  // The audit's resource type of a route label: its last literal segment.
  static std::string resource_type(const std::string& label);

 private:
  Status resolve_scope(const Route& route, RequestContext& ctx) const;

  iam::Tenancy& tenancy_;
  iam::Authorizer& authorizer_;
  std::vector<Route> routes_;
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" for parameters
  };
  std::vector<Compiled> compiled_;
};

// Opaque page tokens: the key, base64url-encoded. A token that does not decode is a 400.
std::string encode_page_token(const std::string& key);
Result<std::string> decode_page_token(const std::string& token);
// The 400 for a page token this server did not issue (also for a decoded key a
// collection cannot use, such as a non-numeric seq).
Status invalid_page_token();

// The HTTP status of an error, and the JSON body every error has:
// {"error":{"code","message","request_id"}}.
Json error_body(const Status& s, const std::string& request_id);

}  // namespace jz::api
