// Version, sessions, platform settings and the audit trail.
#include "api/schema.h"
#include "api/services.h"
#include "api/session.h"
#include "core/text.h"
#include "core/version.h"

namespace jz::api {

namespace sc = schema;

namespace {

Json setting_json(const store::Setting& s) {
  return {{"key", s.key},
          {"value", Json::parse(s.value_json, nullptr, false)},
          {"revision", s.revision},
          {"updated_at", wire_time(s.updated_at_ms)}};
}

Reply setting_reply(const store::Setting& s) {
  return std::move(Reply::json(setting_json(s)).with_etag(std::to_string(s.revision)));
}

const std::vector<QueryParam> kAuditQuery = {
    {"user", "Only this user's records"},
    {"verb", "create, update, delete, login, login_failed, logout, ..."},
    {"resource", "A resource type"},
    {"project", "Only this project's records"},
    {"status", "Only answers with this HTTP status (403, say)", "integer"},
    {"source", "Only requests from this address"},
    {"since", "From this time (RFC 3339)", "date-time"},
    {"until", "Before this time (RFC 3339)", "date-time"},
    {"format", "jsonl: JSON lines, with X-Next-Page-Token"}};

// The audit trail's records matching the request's filters, as a page or JSON lines;
// `workspace` (a name) narrows them to requests in that workspace.
Result<Reply> audit_list(const ApiServices& s, RequestContext& ctx, const std::string& workspace) {
  if (!s.audit) {
    return Status::failed_precondition("the audit trail is off on this server (audit.enabled)");
  }
  iam::AuditQuery q;
  q.workspace = workspace;
  q.user = ctx.http.param("user");
  q.verb = ctx.http.param("verb");
  q.resource_type = ctx.http.param("resource");
  q.project = ctx.http.param("project");
  q.source_ip = ctx.http.param("source");
  if (ctx.http.has_param("status")) {
    JZ_ASSIGN_OR_RETURN(q.status, ctx.int_param("status", 100, 599, 0));
  }
  JZ_ASSIGN_OR_RETURN(auto since, ctx.time_param("since"));
  JZ_ASSIGN_OR_RETURN(auto until, ctx.time_param("until"));
  if (since) q.since_ms = *since / 1000;
  if (until) q.until_ms = *until / 1000;
  q.limit = ctx.page.size;
  if (!ctx.page.after.empty()) {
    const auto after = parse_int64(ctx.page.after);
    if (!after || *after < 0) return invalid_page_token();
    q.after_seq = *after;
  }
  JZ_ASSIGN_OR_RETURN(auto records, s.audit->query(q));
  const bool full = records.size() == static_cast<size_t>(q.limit);
  const std::string next = full ? std::to_string(records.back().seq) : "";
  if (ctx.http.param("format") == "jsonl") {
    std::string out;
    for (const auto& r : records) out += json::dump(r.to_json()) + "\n";
    Reply r = Reply::text(std::move(out), "application/x-ndjson");
    if (full) r.headers.set("X-Next-Page-Token", encode_page_token(next));
    return r;
  }
  Json items = Json::array();
  for (const auto& r : records) items.push_back(r.to_json());
  return Reply::page(std::move(items), next);
}

}  // namespace

void add_platform_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string version_body =
      json::dump({{"name", "jizhan"},
                  {"version", std::string(version())},
                  {"revision", std::string(git_revision())},
                  {"store", std::string(store::dialect_name(s.db.dialect()))}});
  api.add({
      {.method = "GET",
       .path = "/api/v1/version",
       .summary = "Version and source revision",
       .response_schema = sc::object({{"name", sc::str()},
                                      {"version", sc::str()},
                                      {"revision", sc::str()},
                                      {"store", sc::str("sqlite or postgres")}}),
       .handler = [version_body](RequestContext&) -> Result<Reply> {
         return Reply::text(version_body, "application/json");
       }},
      {.method = "POST",
       .path = "/api/v1/auth/login",
       .scope = Scope::kPublic,
       .summary = "Log in with a password; returns a session token",
       .body_schema = sc::object(
           {{"username", sc::str()},
            {"password", sc::str()},
            {"cookie",
             {{"type", "boolean"},
              {"description",
               "true (the console): the session goes into an HttpOnly cookie and the answer "
               "carries its csrf_token instead of the token"}}}},
           {"username", "password"}),
       .response_schema = sc::ref("Login"),
       .success = 200,
       .errors = {401, 429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         const std::string username = ctx.body["username"];
         ctx.audit.actor = username.substr(0, 64);
         ctx.audit.verb = "login";
         ctx.audit.type = "session";
         JZ_ASSIGN_OR_RETURN(auto login,
                             s.auth.login(username, ctx.body["password"], ctx.http.remote_addr));
         Json user = {{"username", login.user.username},
                      {"platform_role", login.user.platform_role}};
         if (ctx.body.value("cookie", false)) {
           const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::milliseconds(login.expires_at_ms - s.clock.now_unix_ms()));
           Reply r = Reply::json({{"csrf_token", csrf_token_for(login.token)},
                                  {"expires_at", wire_time(login.expires_at_ms)},
                                  {"user", std::move(user)}});
           r.headers.set("Set-Cookie", session_cookie(login.token, ttl, s.options.secure_cookies));
           r.headers.set("Cache-Control", "no-store");
           return r;
         }
         return Reply::json({{"token", login.token},
                             {"expires_at", wire_time(login.expires_at_ms)},
                             {"user", std::move(user)}});
       }},
      {.method = "GET",
       .path = "/api/v1/auth/whoami",
       .summary = "The caller and its token",
       .handler = [](RequestContext& ctx) -> Result<Reply> {
         const iam::Principal& p = ctx.me();
         Json body = {
             {"username", p.username},
             {"platform_role", p.platform_role},
             {"token", {{"id", p.token_id}, {"kind", p.token_kind}, {"project", p.project_scope}}}};
         // A console page reloaded: it learns its session's CSRF token here.
         if (ctx.via_cookie) body["csrf_token"] = ctx.csrf_token;
         Reply r = Reply::json(std::move(body));
         r.headers.set("Cache-Control", "no-store");
         return r;
       }},
      {.method = "POST",
       .path = "/api/v1/auth/logout",
       .summary = "End the caller's session",
       .success = 204,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         ctx.audit.verb = "logout";
         ctx.audit.type = "session";
         JZ_RETURN_IF_ERROR(s.auth.logout(ctx.me()));
         Reply r = Reply::no_content();
         if (ctx.via_cookie)
           r.headers.set("Set-Cookie", cleared_session_cookie(s.options.secure_cookies));
         return r;
       }},

      // ---- settings (platform admins) ----
      {.method = "GET",
       .path = "/api/v1/settings",
       .scope = Scope::kPlatformAdmin,
       .summary = "List platform settings",
       .response_schema = sc::list_of("Setting"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto page, s.settings.list(ctx.page.after, ctx.page.size));
         Json items = Json::array();
         for (const auto& st : page.items) items.push_back(setting_json(st));
         return Reply::page(std::move(items), page.next_page_token);
       }},
      {.method = "GET",
       .path = "/api/v1/settings/{key}",
       .scope = Scope::kPlatformAdmin,
       .summary = "Read a setting (ETag: its revision)",
       .response_schema = sc::ref("Setting"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto st, s.settings.get(ctx.param("key")));
         return setting_reply(st);
       }},
      {.method = "PUT",
       .path = "/api/v1/settings/{key}",
       .scope = Scope::kPlatformAdmin,
       .summary = "Write a setting (If-Match: the revision read, to refuse a lost update)",
       .body_schema = sc::object({{"value", {{"description", "Any JSON value"}}}}, {"value"}),
       .response_schema = sc::ref("Setting"),
       .errors = {412},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (ctx.http.headers.has("If-Match")) {
           auto current = s.settings.get(ctx.param("key"));
           if (!current.ok() && current.status().code() != Code::kNotFound) return current.status();
           JZ_RETURN_IF_ERROR(
               ctx.check_if_match(current.ok() ? std::to_string(current->revision) : "none"));
         }
         JZ_ASSIGN_OR_RETURN(auto st,
                             s.settings.put(ctx.param("key"), json::dump(ctx.body["value"])));
         return setting_reply(st);
       }},
      {.method = "DELETE",
       .path = "/api/v1/settings/{key}",
       .scope = Scope::kPlatformAdmin,
       .summary = "Delete a setting",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(s.settings.remove(ctx.param("key")));
         return Reply::no_content();
       }},

      // ---- the audit trail (platform admins; workspace admins: their workspace's) ----
      {.method = "GET",
       .path = "/api/v1/audit",
       .scope = Scope::kPlatformAdmin,
       .summary = "Query the audit trail (platform admins), oldest first",
       .response_schema = sc::list_of("AuditRecord"),
       .paging = Paging::kKeyset,
       .query = kAuditQuery,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> { return audit_list(s, ctx, ""); }},
      {.method = "GET",
       .path = "/api/v1/workspaces/{workspace}/audit",
       .scope = Scope::kWorkspace,
       .resource = "audit",
       .verb = "list",
       .summary = "Query the audit trail of requests in the workspace (workspace admins)",
       .response_schema = sc::list_of("AuditRecord"),
       .paging = Paging::kKeyset,
       .query = kAuditQuery,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         return audit_list(s, ctx, ctx.workspace->name);
       }},
      {.method = "GET",
       .path = "/api/v1/audit/verify",
       .scope = Scope::kPlatformAdmin,
       .summary = "Verify the audit trail's hash chain, archives included (platform admins)",
       .response_schema = sc::object(
           {{"intact", {{"type", "boolean"}}},
            {"records", sc::integer("Live records that verify")},
            {"archived_records", sc::integer("Records in archives that verify")},
            {"archives", sc::integer()},
            {"first_bad_seq", sc::nullable(sc::integer("The first record that does not verify"))},
            {"reason", sc::str("What is wrong, naming the archive file if any")}}),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.audit) {
           return Status::failed_precondition(
               "the audit trail is off on this server (audit.enabled)");
         }
         ctx.audit.force = true;  // who checked, and when, is itself on record
         ctx.audit.verb = "verify";
         ctx.audit.type = "audit";
         JZ_ASSIGN_OR_RETURN(auto v, s.audit->verify(true));
         return Reply::json(
             {{"intact", v.intact},
              {"records", v.records},
              {"archived_records", v.archived_records},
              {"archives", v.archives},
              {"first_bad_seq", v.first_bad ? Json(v.first_bad->seq) : Json(nullptr)},
              {"reason", v.reason}});
       }},
  });
}

}  // namespace jz::api
