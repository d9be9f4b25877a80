// Workspaces, projects, their members, and workspaces' dataset roots.
#include "api/schema.h"
#include "api/services.h"
#include "platform/jobs/datasets.h"

namespace jz::api {

namespace sc = schema;

namespace {

Json workspace_json(const iam::Workspace& w) {
  return {
      {"name", w.name}, {"description", w.description}, {"created_at", wire_time(w.created_at_ms)}};
}

Json project_json(const iam::Project& p) {
  return {{"name", p.name},
          {"workspace", p.workspace},
          {"description", p.description},
          {"created_at", wire_time(p.created_at_ms)}};
}

// The workspace's projects that the caller may see.
// The projects the caller may see (in one workspace when `workspace` is not empty).
Result<Reply> visible_projects(const ApiServices& s, const RequestContext& ctx,
                               const std::string& workspace) {
  JZ_ASSIGN_OR_RETURN(auto page, s.tenancy.projects(ctx.me(), workspace, ctx.page_spec()));
  return Reply::page(page, project_json);
}

// Taking away (or replacing) a member's role needs the rights to grant it.
Status revoke_check(const ApiServices& s, const RequestContext& ctx, const std::string& scope,
                    const std::string& scope_id, const std::string& username) {
  JZ_ASSIGN_OR_RETURN(auto m, s.tenancy.member(scope, scope_id, username));
  if (!m) return {};
  JZ_ASSIGN_OR_RETURN(iam::Role current, s.tenancy.role(m->role));
  const std::string ws = ctx.project ? ctx.project->workspace_id : ctx.workspace->id;
  return s.authorizer.check_grant(ctx.me(), current, ws, ctx.project ? &*ctx.project : nullptr);
}

// Member routes, the same under a workspace and a project.
std::vector<Route> member_routes(const ApiServices& s, const std::string& base, Scope scope_kind) {
  const std::string scope = scope_kind == Scope::kWorkspace ? "workspace" : "project";
  const std::string resource = scope + "_member";
  auto scope_id = [](const RequestContext& ctx) {
    return ctx.project ? ctx.project->id : ctx.workspace->id;
  };
  return {
      {.method = "GET",
       .path = base + "/members",
       .scope = scope_kind,
       .resource = resource,
       .verb = "list",
       .summary = "Members and their roles",
       .response_schema = sc::list_of("Member"),
       .paging = Paging::kKeyset,
       .handler = [&s, scope, scope_id](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto ms, s.tenancy.members(scope, scope_id(ctx), ctx.page_spec()));
         return Reply::page(ms, [](const iam::Member& m) {
           return Json{{"username", m.username}, {"role", m.role}};
         });
       }},
      {.method = "POST",
       .path = base + "/members",
       .scope = scope_kind,
       .resource = resource,
       .verb = "create",
       .summary = "Add a member or change a member's role",
       .body_schema = sc::object(
           {{"username", sc::str()}, {"role", sc::str("A role of this scope, see /api/v1/roles")}},
           {"username", "role"}),
       .response_schema = sc::ref("Member"),
       .handler = [&s, scope, scope_id](RequestContext& ctx) -> Result<Reply> {
         const std::string username = ctx.body["username"], role = ctx.body["role"];
         const std::string ws = ctx.project ? ctx.project->workspace_id : ctx.workspace->id;
         // Nobody grants rights they do not hold, nor replaces a role they could not grant.
         if (auto r = s.tenancy.role(role); r.ok() && r->scope == scope) {
           JZ_RETURN_IF_ERROR(
               s.authorizer.check_grant(ctx.me(), *r, ws, ctx.project ? &*ctx.project : nullptr));
         }
         JZ_RETURN_IF_ERROR(revoke_check(s, ctx, scope, scope_id(ctx), username));
         JZ_RETURN_IF_ERROR(s.tenancy.add_member(scope, scope_id(ctx), username, role));
         if (ctx.project) {
           s.emit(ctx, ctx.project->name, "member", username, "updated", "MemberAdded",
                  "user '" + username + "' is now " + role + " of project " + ctx.project->name,
                  username);
         } else {
           s.emit_workspace(
               ctx, ctx.workspace->name, "member", username, "updated", "MemberAdded",
               "user '" + username + "' is now " + role + " of workspace " + ctx.workspace->name,
               username);
         }
         return Reply::created({{"username", username}, {"role", role}});
       }},
      {.method = "DELETE",
       .path = base + "/members/{username}",
       .scope = scope_kind,
       .resource = resource,
       .verb = "delete",
       .summary = "Remove a member",
       .handler = [&s, scope, scope_id](RequestContext& ctx) -> Result<Reply> {
         const std::string& username = ctx.param("username");
         JZ_RETURN_IF_ERROR(revoke_check(s, ctx, scope, scope_id(ctx), username));
         JZ_RETURN_IF_ERROR(s.tenancy.remove_member(scope, scope_id(ctx), username));
         if (ctx.project) {
           s.emit(ctx, ctx.project->name, "member", username, "deleted", "MemberRemoved",
                  "user '" + username + "' left project " + ctx.project->name, username);
         } else {
           s.emit_workspace(
               ctx, ctx.workspace->name, "member", username, "deleted", "MemberRemoved",
               "user '" + username + "' left workspace " + ctx.workspace->name, username);
         }
         return Reply::no_content();
       }},
  };
}

}  // namespace

void add_tenancy_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string ws = "/api/v1/workspaces/{workspace}";
  const std::string pr = "/api/v1/projects/{project}";
  api.add({
      {.method = "POST",
       .path = "/api/v1/workspaces",
       .summary = "Create a workspace",
       .body_schema = sc::object({{"name", sc::str()}, {"description", sc::str()}}, {"name"}),
       .response_schema = sc::ref("Workspace"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(ctx.allow("workspace", "create"));
         ctx.audit.workspace = ctx.body["name"];
         JZ_ASSIGN_OR_RETURN(auto w, s.tenancy.create_workspace(ctx.body["name"],
                                                                ctx.body.value("description", "")));
         s.emit_workspace(ctx, w.name, "workspace", w.name, "created", "WorkspaceCreated",
                          "workspace " + w.name + " was created");
         return Reply::created(workspace_json(w));
       }},
      {.method = "GET",
       .path = "/api/v1/workspaces",
       .summary = "Workspaces the caller may see",
       .response_schema = sc::list_of("Workspace"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto page, s.tenancy.workspaces(ctx.me(), ctx.page_spec()));
         return Reply::page(page, workspace_json);
       }},
      // Every project the caller may see, across workspaces (a project member need not
      // belong to the project's workspace); ?workspace=NAME narrows it to one.
      {.method = "GET",
       .path = "/api/v1/projects",
       .summary = "Projects the caller may see, across workspaces",
       .response_schema = sc::list_of("Project"),
       .paging = Paging::kKeyset,
       .query = {{"workspace", "Only this workspace's projects"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         const std::string only = ctx.http.param("workspace");
         if (!only.empty()) JZ_RETURN_IF_ERROR(s.tenancy.workspace(only).status());
         return visible_projects(s, ctx, only);
       }},
      {.method = "GET",
       .path = ws,
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "A workspace",
       .response_schema = sc::ref("Workspace"),
       .handler = [](RequestContext& ctx) -> Result<Reply> {
         return Reply::json(workspace_json(*ctx.workspace));
       }},
      {.method = "DELETE",
       .path = ws,
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "Delete an empty workspace (platform admins)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         // Deleting a tenant is a platform decision, not the tenant's.
         JZ_RETURN_IF_ERROR(s.authorizer.check(ctx.me(), "workspace", "delete", ""));
         JZ_RETURN_IF_ERROR(s.tenancy.delete_workspace(ctx.workspace->name));
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = ws + "/events",
       .scope = Scope::kWorkspace,
       .resource = "event",
       .verb = "list",
       .summary = "The workspace's events (its members, projects, roles, dataset roots, and "
                  "its projects' events), oldest first",
       .response_schema = sc::list_of("Event"),
       .paging = Paging::kKeyset,
       .query = {{"after", "Only events after this seq"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         return events_page(s, ctx, iam::EventLog::Of::kWorkspace, ctx.workspace->name);
       }},
      {.method = "POST",
       .path = ws + "/projects",
       .scope = Scope::kWorkspace,
       .resource = "project",
       .verb = "create",
       .summary = "Create a project",
       .body_schema = sc::object({{"name", sc::str()}, {"description", sc::str()}}, {"name"}),
       .response_schema = sc::ref("Project"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         ctx.audit.project = ctx.body["name"];
         JZ_ASSIGN_OR_RETURN(
             auto p, s.tenancy.create_project(ctx.workspace->name, ctx.body["name"],
                                              ctx.body.value("description", ""), ctx.me().user_id));
         s.emit(ctx, p.name, "project", p.name, "created", "ProjectCreated",
                "project created in workspace '" + p.workspace + "'");
         return Reply::created(project_json(p));
       }},
      {.method = "GET",
       .path = ws + "/projects",
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "The workspace's projects the caller may see",
       .response_schema = sc::list_of("Project"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         return visible_projects(s, ctx, ctx.workspace->name);
       }},
      {.method = "GET",
       .path = pr,
       .scope = Scope::kProject,
       .resource = "project",
       .verb = "get",
       .summary = "A project",
       .response_schema = sc::ref("Project"),
       .handler = [](RequestContext& ctx) -> Result<Reply> {
         return Reply::json(project_json(*ctx.project));
       }},
      {.method = "GET",
       .path = ws + "/permissions",
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "What the caller may do in the workspace (for clients to offer only that)",
       .response_schema = sc::object(
           {{"permissions",
             sc::array_of(sc::str("resource:verb; '*' matches any (a platform admin: *:*)"))}}),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto perms,
                             s.authorizer.workspace_permissions(ctx.me(), ctx.workspace->id));
         return Reply::json({{"permissions", perms}});
       }},
      {.method = "GET",
       .path = pr + "/permissions",
       .scope = Scope::kProject,
       .resource = "project",
       .verb = "get",
       .summary = "What the caller may do in the project (for clients to offer only that)",
       .response_schema = sc::object(
           {{"permissions",
             sc::array_of(sc::str("resource:verb; '*' matches any (a platform admin: *:*)"))}}),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto perms, s.authorizer.permissions(ctx.me(), *ctx.project));
         return Reply::json({{"permissions", perms}});
       }},
      {.method = "DELETE",
       .path = pr,
       .scope = Scope::kProject,
       .resource = "project",
       .verb = "delete",
       .summary = "Delete a project",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(s.tenancy.delete_project(ctx.project->name));
         s.emit(ctx, ctx.project->name, "project", ctx.project->name, "deleted", "ProjectDeleted",
                "project deleted");
         return Reply::no_content();
       }},
  });
  api.add(member_routes(s, ws, Scope::kWorkspace));
  api.add(member_routes(s, pr, Scope::kProject));

  if (!s.platform.datasets) return;
  // Folders under which a workspace's data owners register datasets: assigned by
  // platform admins, read by the workspace's members.
  jobs::Datasets& datasets = *s.platform.datasets;
  auto root_json = [](const jobs::DatasetRoot& r) {
    return Json{
        {"path", r.path}, {"created_by", r.created_by}, {"created_at", wire_time(r.created_at_ms)}};
  };
  api.add({
      {.method = "GET",
       .path = ws + "/dataset-roots",
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "Folders under which the workspace's data owners register datasets",
       .response_schema = sc::list_of("DatasetRoot"),
       .paging = Paging::kKeyset,
       .handler = [&datasets, root_json](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto roots, datasets.roots(ctx.workspace->id, ctx.page_spec()));
         return Reply::page(roots, root_json);
       }},
      {.method = "POST",
       .path = ws + "/dataset-roots",
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "Assign a folder on the server to the workspace as a dataset root (platform "
                  "admins)",
       .body_schema = sc::object(
           {{"path", sc::str("Absolute folder, not overlapping another workspace's root")}},
           {"path"}),
       .response_schema = sc::ref("DatasetRoot"),
       .errors = {409},
       .handler = [&s, &datasets, root_json](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(ctx.require_platform_admin());
         JZ_ASSIGN_OR_RETURN(
             auto r, datasets.add_root(ctx.workspace->id, ctx.body["path"], ctx.me().username));
         ctx.audit.name = r.path;
         s.emit_workspace(ctx, ctx.workspace->name, "dataset-root", r.path, "created",
                          "DatasetRootAdded",
                          "data owners of the workspace may register datasets under " + r.path);
         return Reply::created(root_json(r));
       }},
      {.method = "DELETE",
       .path = ws + "/dataset-roots",
       .scope = Scope::kWorkspace,
       .resource = "workspace",
       .verb = "get",
       .summary = "Take a dataset root away from the workspace (platform admins; datasets stay)",
       .query = {{"path", "The root to remove"}},
       .handler = [&s, &datasets](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(ctx.require_platform_admin());
         const std::string path = ctx.http.param("path");
         if (path.empty()) {
           return Status::invalid_argument("query parameter 'path' names the root to remove");
         }
         ctx.audit.name = path;
         JZ_RETURN_IF_ERROR(datasets.remove_root(ctx.workspace->id, path));
         s.emit_workspace(ctx, ctx.workspace->name, "dataset-root", path, "deleted",
                          "DatasetRootRemoved", "no new datasets under " + path);
         return Reply::no_content();
       }},
  });
}

}  // namespace jz::api
