#include "api/openapi.h"

#include <cctype>
#include <set>

#include "api/schema.h"

namespace jz::api {

namespace {

Json json_content(const Json& schema) { return {{"application/json", {{"schema", schema}}}}; }

Json query_schema(const std::string& type) {
  if (type == "integer") return {{"type", "integer"}};
  if (type == "boolean") return {{"type", "boolean"}};
  if (type == "number") return {{"type", "number"}};
  if (type == "date-time") return {{"type", "string"}, {"format", "date-time"}};
  return {{"type", "string"}};
}

const char* describe(int status) {
  switch (status) {
    case 400:
      return "Invalid: a parameter or the body is wrong (the message says which)";
    case 401:
      return "No valid token";
    case 403:
      return "The caller may see the resource but not do this";
    case 404:
      return "No such resource (or one of another tenant)";
    case 405:
      return "Method not allowed on this path";
    case 409:
      return "Conflicts with the current state";
    case 412:
      return "If-Match does not match the current version";
    case 413:
      return "The body is larger than the limit";
    case 422:
      return "Well-formed, but refused by a rule";
    case 429:
      return "Too many requests or streams; see Retry-After";
    case 503:
      return "Not available now; see Retry-After";
    default:
      return "An error";
  }
}

}  // namespace

int success_status(const Route& r) {
  if (r.success) return r.success;
  if (r.method == "POST") return 201;
  if (r.method == "DELETE") return 204;
  return 200;
}

Json build_openapi(const std::vector<Route>& routes, std::string_view version) {
  Json paths = Json::object();
  for (const auto& r : routes) {
    std::string m = r.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string op_id = m;
    for (char c : r.path) {
      if (std::isalnum(static_cast<unsigned char>(c)))
        op_id += c;
      else if (!op_id.empty() && op_id.back() != '_')
        op_id += '_';
    }
    Json op = {{"operationId", op_id},
               {"summary", r.summary.empty() ? r.method + " " + r.path : r.summary}};
    Json params = Json::array();
    for (size_t pos = r.path.find('{'); pos != std::string::npos; pos = r.path.find('{', pos + 1)) {
      const std::string name = r.path.substr(pos + 1, r.path.find('}', pos) - pos - 1);
      params.push_back(
          {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    std::vector<QueryParam> query = r.query;
    if (r.paging == Paging::kKeyset) {
      query.push_back({"page_size", "Items per page, 1 to 1000 (default 100)", "integer"});
      query.push_back({"page_token", "next_page_token of the previous page"});
    }
    for (const auto& q : query) {
      params.push_back({{"name", q.name},
                        {"in", "query"},
                        {"required", false},
                        {"description", q.description},
                        {"schema", query_schema(q.type)}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (!r.body_schema.is_null()) {
      op["requestBody"] = {{"required", true}, {"content", json_content(r.body_schema)}};
    } else if (r.raw_body && r.method != "GET") {
      const Json binary = {{"type", "string"}, {"format", "binary"}};
      op["requestBody"] = {{"required", false},
                           {"content", {{"application/octet-stream", {{"schema", binary}}}}}};
    }
    const int success = success_status(r);
    Json ok = {{"description", "Success"}};
    if (!r.response_schema.is_null() && success != 204)
      ok["content"] = json_content(r.response_schema);
    Json responses = {{std::to_string(success), ok}};
    std::set<int> errors(r.errors.begin(), r.errors.end());
    errors.insert(400);
    if (r.scope != Scope::kPublic) errors.insert(401);
    if (r.scope == Scope::kPlatformAdmin || r.scope == Scope::kProject ||
        r.scope == Scope::kWorkspace) {
      errors.insert(403);
    }
    if (r.scope == Scope::kProject || r.scope == Scope::kWorkspace ||
        r.path.find('{') != std::string::npos) {
      errors.insert(404);
    }
    for (int e : errors) {
      responses[std::to_string(e)] = {{"description", describe(e)},
                                      {"content", json_content(schema::ref("Error"))}};
    }
    op["responses"] = responses;
    if (r.scope == Scope::kPublic) op["security"] = Json::array();
    // Who may call it, for tools and for the authorisation tests built from this document.
    static constexpr const char* kScopes[] = {"public", "caller", "platform-admin", "workspace",
                                              "project"};
    op["x-jizhan-scope"] = kScopes[static_cast<int>(r.scope)];
    if (!r.resource.empty()) op["x-jizhan-permission"] = r.resource + ":" + r.verb;
    paths[r.path][m] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Jizhan API"}, {"version", std::string(version)}}},
          {"paths", paths},
          {"security", Json::array({{{"bearer", Json::array()}}})},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", schema::components()}}}};
}

}  // namespace jz::api
