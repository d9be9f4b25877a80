// Users, API tokens and roles.
#include "api/schema.h"
#include "api/services.h"
#include "platform/iam/passwords.h"

namespace jz::api {

namespace sc = schema;

namespace {

Json user_json(const iam::User& u) {
  return {{"username", u.username},
          {"display_name", u.display_name},
          {"email", u.email},
          {"state", u.state},
          {"platform_role", u.platform_role},
          {"created_at", wire_time(u.created_at_ms)}};
}

Json token_json(const iam::Token& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"kind", t.kind},
          {"project", t.project.empty() ? Json(nullptr) : Json(t.project)},
          {"created_at", wire_time(t.created_at_ms)},
          {"expires_at", wire_time(t.expires_at_ms)},
          {"revoked_at", t.revoked_at_ms ? Json(wire_time(*t.revoked_at_ms)) : Json(nullptr)}};
}

Json role_json(const ApiServices& s, const iam::Role& r) {
  Json j = {
      {"name", r.name}, {"scope", r.scope}, {"permissions", r.permissions}, {"builtin", r.builtin}};
  if (!r.builtin) {
    auto w = r.workspace_id.empty() ? Result<iam::Workspace>(Status::not_found(""))
                                    : s.tenancy.workspace_by_id(r.workspace_id);
    j["workspace"] = w.ok() ? Json(w->name) : Json(nullptr);
    j["created_by"] = r.created_by;
  }
  return j;
}

// The account named in the path: the caller's own, or anyone's for platform admins.
Result<iam::User> account_of(RequestContext& ctx, iam::Accounts& accounts) {
  const std::string& name = ctx.param("username");
  ctx.audit.name = name;
  const iam::Principal& me = ctx.me();
  if (!me.project_scope.empty()) {
    return Status::permission_denied("a token scoped to project '" + me.project_scope +
                                     "' acts in that project only, not on accounts");
  }
  if (name != me.username && !me.is_platform_admin()) {
    return Status::permission_denied("only platform admins manage other users' accounts");
  }
  return accounts.user_by_name(name);
}

}  // namespace

void add_account_routes(ApiRoutes& api, const ApiServices& s) {
  iam::Accounts& accounts = s.auth.accounts();
  api.add({
      {.method = "GET",
       .path = "/api/v1/roles",
       .summary = "Roles and their permissions",
       .response_schema = sc::list_of("Role"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto roles, s.tenancy.roles(ctx.page_spec()));
         return Reply::page(roles, [&s](const iam::Role& r) { return role_json(s, r); });
       }},
      // Custom roles, made of permissions: platform admins for every workspace; a
      // workspace admin for theirs, of permissions they hold there (nobody makes a role
      // that holds more than they do). A role grants nothing until someone with every
      // one of its permissions gives it to a member (check_grant).
      {.method = "POST",
       .path = "/api/v1/roles",
       .scope = Scope::kCaller,
       .summary = "Create a custom role (platform admins; workspace admins, of permissions "
                  "they hold in their workspace)",
       .body_schema = sc::object(
           {{"name", sc::str()},
            {"scope", sc::str("workspace or project")},
            {"permissions", {{"type", "array"}, {"items", sc::str("RESOURCE:VERB")}}},
            {"workspace", sc::str("The workspace it is made in (needed unless a platform admin)")}},
           {"name", "scope", "permissions"}),
       .response_schema = sc::ref("Role"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!ctx.me().project_scope.empty()) {
           return Status::permission_denied("a token scoped to a project makes no roles");
         }
         iam::Role r;
         r.name = ctx.body["name"];
         r.scope = ctx.body["scope"];
         for (const auto& p : ctx.body["permissions"]) r.permissions.push_back(p);
         for (const auto& p : r.permissions) JZ_RETURN_IF_ERROR(iam::validate_permission(p));
         r.created_by = ctx.me().username;
         ctx.audit.name = r.name;
         const std::string ws = ctx.body.value("workspace", "");
         if (!ws.empty()) {
           auto w = s.tenancy.workspace(ws);
           if (!w.ok()) return Status::not_found("workspace '" + ws + "' does not exist");
           ctx.audit.workspace = ws;
           r.workspace_id = w->id;
           // A workspace admin (roles are made where one may manage members)...
           if (!s.authorizer.check(ctx.me(), "workspace_member", "create", w->id).ok()) {
             return Status::not_found("workspace '" + ws + "' does not exist");
           }
           // ...of permissions held there.
           JZ_RETURN_IF_ERROR(s.authorizer.check_grant(ctx.me(), r, w->id));
         } else if (!ctx.me().is_platform_admin()) {
           return Status::permission_denied(
               "name the workspace the role is for (field 'workspace'); roles for every "
               "workspace are made by platform admins");
         }
         JZ_ASSIGN_OR_RETURN(auto made, s.tenancy.create_role(r));
         if (!ws.empty()) {
           s.emit_workspace(ctx, ws, "role", made.name, "created", "RoleCreated",
                            "role " + made.name + " was made for the workspace");
         }
         return Reply::created(role_json(s, made));
       }},
      {.method = "DELETE",
       .path = "/api/v1/roles/{role}",
       .scope = Scope::kCaller,
       .summary = "Delete a custom role nobody holds (platform admins; the admins of the "
                  "workspace it was made in)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         const std::string& name = ctx.param("role");
         ctx.audit.name = name;
         if (!ctx.me().project_scope.empty()) {
           return Status::permission_denied("a token scoped to a project deletes no roles");
         }
         JZ_ASSIGN_OR_RETURN(auto r, s.tenancy.role(name));
         if (!ctx.me().is_platform_admin()) {
           if (r.workspace_id.empty() ||
               !s.authorizer.check(ctx.me(), "workspace_member", "delete", r.workspace_id).ok()) {
             return Status::permission_denied("role '" + name +
                                              "' is deleted by platform admins or the admins "
                                              "of the workspace it was made in");
           }
         }
         JZ_RETURN_IF_ERROR(s.tenancy.delete_role(name));
         if (!r.workspace_id.empty()) {
           if (auto w = s.tenancy.workspace_by_id(r.workspace_id); w.ok()) {
             s.emit_workspace(ctx, w->name, "role", name, "deleted", "RoleDeleted",
                              "role " + name + " was deleted");
           }
         }
         return Reply::no_content();
       }},

      // API tokens for scripts: named, optionally scoped to one project, expiring,
      // revocable. The secret is shown once, in the creation response.
      {.method = "POST",
       .path = "/api/v1/tokens",
       .summary = "Create an API token for the caller",
       .body_schema = sc::object(
           {{"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}},
            {"project", sc::nullable(sc::str("Limit the token to this project"))},
            {"expires_in_s", {{"type", "integer"}, {"minimum", 60}, {"maximum", 31622400}}}},
           {"name"}),
       .response_schema = sc::ref("NewToken"),
       .errors = {422},
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         const iam::Principal& me = ctx.me();
         if (!me.project_scope.empty()) {
           return Status::permission_denied("a project-scoped token may not create tokens");
         }
         const int64_t seconds = ctx.body.value("expires_in_s", int64_t{30} * 24 * 3600);
         const std::string scope = ctx.body.value("project", Json()).is_string()
                                       ? ctx.body["project"].get<std::string>()
                                       : "";
         if (!scope.empty()) {
           // Only for a project the caller can see; the token never exceeds its owner.
           auto p = s.tenancy.project(scope);
           if (!p.ok() || !s.authorizer.check(me, "project", "get", p->workspace_id, &*p).ok()) {
             return Status::unprocessable("field 'project': project '" + scope +
                                          "' does not exist");
           }
           ctx.audit.project = scope;
         }
         iam::Token t;
         JZ_ASSIGN_OR_RETURN(auto secret,
                             accounts.issue_token(me.user_id, "api", ctx.body["name"], scope,
                                                  s.clock.now_unix_ms() + seconds * 1000, &t));
         ctx.audit.name = t.id;
         s.emit_user(ctx, me.username, "token", "created", "TokenCreated",
                     "API token '" + t.name + "' (" + t.id + ")" +
                         (scope.empty() ? "" : " for project " + scope) + " was created");
         Json out = token_json(t);
         out["token"] = secret;
         return Reply::created(out);
       }},
      {.method = "GET",
       .path = "/api/v1/tokens",
       .summary = "The caller's tokens",
       .response_schema = sc::list_of("Token"),
       .paging = Paging::kKeyset,
       .handler = [&accounts](RequestContext& ctx) -> Result<Reply> {
         const iam::Principal& me = ctx.me();
         // A token scoped to a project sees only itself.
         JZ_ASSIGN_OR_RETURN(auto tokens,
                             accounts.tokens_of(me.user_id, ctx.page_spec(),
                                                me.project_scope.empty() ? "" : me.token_id));
         return Reply::page(tokens, token_json);
       }},
      {.method = "DELETE",
       .path = "/api/v1/tokens/{token}",
       .summary = "Revoke a token",
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         const iam::Principal& me = ctx.me();
         auto t = accounts.token_by_id(ctx.param("token"));
         // Someone else's token looks the same as a missing one; a project-scoped token
         // manages only itself (not its owner's session or other tokens).
         const bool mine = t.ok() && t->user_id == me.user_id &&
                           (me.project_scope.empty() || t->id == me.token_id);
         if (!t.ok() || (!mine && !(me.is_platform_admin() && me.project_scope.empty()))) {
           return Status::not_found("token '" + ctx.param("token") + "' does not exist");
         }
         JZ_RETURN_IF_ERROR(s.auth.revoke(t->id));
         if (auto owner = accounts.user_by_id(t->user_id); owner.ok()) {
           s.emit_user(ctx, owner->username, "token", "deleted", "TokenRevoked",
                       "token '" + t->name + "' (" + t->id + ") was revoked");
         }
         return Reply::no_content();
       }},

      {.method = "POST",
       .path = "/api/v1/users",
       .scope = Scope::kPlatformAdmin,
       .summary = "Create a user (platform admins)",
       .body_schema = sc::object({{"username", sc::str()},
                                  {"password", sc::str("At least 12 characters")},
                                  {"display_name", sc::str()},
                                  {"email", sc::str()},
                                  {"platform_role", sc::str()}},
                                 {"username", "password"}),
       .response_schema = sc::ref("User"),
       .errors = {409, 422},
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         const std::string password = ctx.body["password"];
         if (Status p = iam::check_password_policy(password); !p.ok()) {
           return Status::unprocessable(p.message());
         }
         iam::User u;
         u.username = ctx.body["username"];
         u.display_name = ctx.body.value("display_name", "");
         u.email = ctx.body.value("email", "");
         if (ctx.body.contains("platform_role")) u.platform_role = ctx.body["platform_role"];
         JZ_RETURN_IF_ERROR(iam::Accounts::validate_username(u.username));
         JZ_ASSIGN_OR_RETURN(u.password_hash,
                             iam::hash_password(password, s.auth.options().hash_cost));
         JZ_ASSIGN_OR_RETURN(auto created, accounts.create_user(u));
         s.emit_user(ctx, created.username, "user", "created", "UserCreated",
                     "the account " + created.username + " was created");
         return Reply::created(user_json(created));
       }},
      // Clears the failed logins counted against a user (from every address).
      {.method = "POST",
       .path = "/api/v1/users/{username}/unlock",
       .scope = Scope::kPlatformAdmin,
       .summary = "Clear the failed logins counted against a user (platform admins)",
       .response_schema = sc::ref("User"),
       .success = 200,
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         const std::string& name = ctx.param("username");
         JZ_ASSIGN_OR_RETURN(auto u, accounts.user_by_name(name));
         ctx.audit.name = name;
         s.auth.unlock(name);
         return Reply::json(user_json(u));
       }},
      // One account: its owner and platform admins.
      {.method = "GET",
       .path = "/api/v1/users/{username}",
       .scope = Scope::kCaller,
       .summary = "A user's profile (the user; platform admins)",
       .response_schema = sc::ref("User"),
       .handler = [&accounts](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto u, account_of(ctx, accounts));
         return Reply::json(user_json(u));
       }},
      // Profile fields for the user; state and platform role for platform admins. A
      // disabled user's tokens and logins stop at once (this server; others within
      // auth.token_cache_s); enabling again brings the unexpired tokens back.
      {.method = "PATCH",
       .path = "/api/v1/users/{username}",
       .scope = Scope::kCaller,
       .summary = "Update a user: display name and email (the user); disabled and "
                  "platform_role (platform admins)",
       .body_schema = sc::object({{"display_name", {{"type", "string"}, {"maxLength", 256}}},
                                  {"email", {{"type", "string"}, {"maxLength", 254}}},
                                  {"disabled", {{"type", "boolean"}}},
                                  {"platform_role", sc::str("platform-admin or platform-regular")}},
                                 {}),
       .response_schema = sc::ref("User"),
       .success = 200,
       .errors = {409},
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto u, account_of(ctx, accounts));
         const iam::Principal& me = ctx.me();
         const bool admin = me.is_platform_admin();
         iam::Accounts::UserChange change;
         if (ctx.body.contains("display_name")) change.display_name = ctx.body["display_name"];
         if (ctx.body.contains("email")) change.email = ctx.body["email"];
         const bool touches_rights =
             ctx.body.contains("disabled") || ctx.body.contains("platform_role");
         if (touches_rights && !admin) {
           return Status::permission_denied(
               "only platform admins disable users or change platform roles");
         }
         if (ctx.body.contains("disabled")) {
           change.state = ctx.body["disabled"].get<bool>() ? "disabled" : "active";
         }
         if (ctx.body.contains("platform_role")) change.platform_role = ctx.body["platform_role"];
         const bool loses_admin =
             u.platform_role == iam::kPlatformAdmin && u.state == "active" &&
             (change.state.value_or("active") == "disabled" ||
              change.platform_role.value_or(u.platform_role) != iam::kPlatformAdmin);
         if (loses_admin && u.id == me.user_id) {
           return Status::failed_precondition(
               "you cannot disable yourself or give up your own platform-admin role; ask "
               "another platform admin");
         }
         if (loses_admin) {
           JZ_ASSIGN_OR_RETURN(int64_t admins, accounts.count_active_admins());
           if (admins <= 1) {
             return Status::failed_precondition(
                 "'" + u.username + "' is the last active platform admin; make another first");
           }
         }
         JZ_ASSIGN_OR_RETURN(auto updated, accounts.update_user(u.username, change));
         if (touches_rights) s.auth.forget_user(updated.id);
         if (updated.state != u.state) {
           const bool off = updated.state == "disabled";
           s.emit_user(ctx, u.username, "user", "state", off ? "UserDisabled" : "UserEnabled",
                       off ? "the account was disabled: its sessions and tokens stopped"
                           : "the account was enabled again");
         }
         if (updated.platform_role != u.platform_role) {
           s.emit_user(ctx, u.username, "user", "updated", "PlatformRoleChanged",
                       "platform role " + u.platform_role + " -> " + updated.platform_role);
         }
         if (updated.display_name != u.display_name || updated.email != u.email) {
           s.emit_user(ctx, u.username, "user", "updated", "ProfileChanged",
                       "display name or email changed");
         }
         return Reply::json(user_json(updated));
       }},
      // Passwords: the user changes theirs with the current one (other sessions end);
      // platform admins set another user's (every session of theirs ends).
      {.method = "POST",
       .path = "/api/v1/users/{username}/password",
       .scope = Scope::kCaller,
       .summary = "Change a password (the user, with the current one) or reset it (platform "
                  "admins); the user's other sessions end",
       .body_schema = sc::object({{"current_password", sc::str("Needed for your own")},
                                  {"new_password", sc::str("At least 12 characters")}},
                                 {"new_password"}),
       .success = 204,
       .errors = {422},
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto u, account_of(ctx, accounts));
         const iam::Principal& me = ctx.me();
         const bool own = u.id == me.user_id;
         if (own) {
           const std::string current = ctx.body.value("current_password", "");
           if (current.empty() || !iam::verify_password(u.password_hash, current)) {
             return Status::permission_denied(
                 "the current password is wrong (field 'current_password')");
           }
         }
         const std::string next = ctx.body["new_password"];
         if (Status p = iam::check_password_policy(next); !p.ok()) {
           return Status::unprocessable(p.message());
         }
         iam::Accounts::UserChange change;
         JZ_ASSIGN_OR_RETURN(change.password_hash,
                             iam::hash_password(next, s.auth.options().hash_cost));
         JZ_RETURN_IF_ERROR(accounts.update_user(u.username, change).status());
         // Sessions end (the caller's own stays when it changed its own); API tokens stay.
         JZ_RETURN_IF_ERROR(
             accounts.revoke_tokens_of(u.id, "session", own ? me.token_id : "").status());
         s.auth.forget_user(u.id);
         ctx.audit.name = u.username;
         s.emit_user(ctx, u.username, "user", "updated", own ? "PasswordChanged" : "PasswordReset",
                     own ? "the password was changed; other sessions ended"
                         : "the password was reset by " + me.username + "; every session ended");
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = "/api/v1/users/{username}/events",
       .scope = Scope::kCaller,
       .summary = "Events about a user: account, tokens, memberships (the user; platform "
                  "admins), oldest first",
       .response_schema = sc::list_of("Event"),
       .paging = Paging::kKeyset,
       .query = {{"after", "Only events after this seq"}},
       .handler = [&s, &accounts](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto u, account_of(ctx, accounts));
         return events_page(s, ctx, iam::EventLog::Of::kUser, u.username);
       }},
      {.method = "GET",
       .path = "/api/v1/users",
       .scope = Scope::kPlatformAdmin,
       .summary = "List users (platform admins)",
       .response_schema = sc::list_of("User"),
       .paging = Paging::kKeyset,
       .handler = [&accounts](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto users, accounts.users(ctx.page_spec()));
         return Reply::page(users, user_json);
       }},
  });
}

}  // namespace jz::api
