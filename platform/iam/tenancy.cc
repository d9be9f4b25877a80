#include "platform/iam/tenancy.h"

#include <set>

#include "core/json.h"
#include "store/rows.h"

namespace jz::iam {
namespace {

const store::RowMap<Workspace> kWorkspace{{"id", &Workspace::id},
                                          {"name", &Workspace::name},
                                          {"description", &Workspace::description},
                                          {"created_at_ms", &Workspace::created_at_ms}};

const std::string kWorkspaceSelect = "SELECT " + kWorkspace.columns() + " FROM workspaces";

const store::RowMap<Project> kProject{{"id", &Project::id},
                                      {"name", &Project::name},
                                      {"workspace_id", &Project::workspace_id},
                                      {"workspace", &Project::workspace},
                                      {"description", &Project::description},
                                      {"created_at_ms", &Project::created_at_ms}};

constexpr const char* kProjectSelect =
    "SELECT p.id, p.name, p.workspace_id, w.name AS workspace, p.description, p.created_at_ms "
    "FROM projects p JOIN workspaces w ON w.id = p.workspace_id";

const store::RowMap<Member> kMember{{"username", &Member::username},
                                    {"role", &Member::role},
                                    {"created_at_ms", &Member::created_at_ms}};

constexpr const char* kMemberSelect =
    "SELECT u.username, m.role, m.created_at_ms FROM members m JOIN users u ON u.id = m.user_id "
    "WHERE m.scope = ? AND m.scope_id = ?";

// "COLUMN IN (the workspaces or projects where the user holds one of `roles`)".
std::string held_through(const char* column, const char* scope, const std::string& user_id,
                         const std::vector<std::string>& roles, store::Params& params) {
  params.emplace_back(user_id);
  return std::string(column) + " IN (SELECT scope_id FROM members WHERE scope = '" + scope +
         "' AND user_id = ? AND role IN (" + store::in_list(roles, params) + "))";
}

Status check_text(std::string_view field, const std::string& v, size_t max) {
  if (v.size() > max) {
    return Status::invalid_argument("field '" + std::string(field) + "' must be at most " +
                                    std::to_string(max) + " characters");
  }
  return {};
}

}  // namespace

Status validate_resource_name(std::string_view field, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("field '" + std::string(field) + "' " + why +
                                    ": use 1-63 of a-z, 0-9 and '-', starting and ending with a "
                                    "letter or digit");
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 63) return bad("is longer than 63 characters");
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < name.size())) {
      return bad("has '" + std::string(1, c) + "' at position " + std::to_string(i + 1));
    }
  }
  return {};
}

bool grants(const std::vector<std::string>& permissions, std::string_view resource,
            std::string_view verb) {
  for (const auto& p : permissions) {
    auto colon = p.find(':');
    if (colon == std::string::npos) continue;
    std::string_view r(p.data(), colon), v(p.data() + colon + 1, p.size() - colon - 1);
    if ((r == "*" || r == resource) && (v == "*" || v == verb)) return true;
  }
  return false;
}

Result<Workspace> Tenancy::create_workspace(const std::string& name,
                                            const std::string& description) {
  JZ_RETURN_IF_ERROR(validate_resource_name("name", name));
  JZ_RETURN_IF_ERROR(check_text("description", description, 1024));
  Workspace w{ids_.next("ws_"), name, description, clock_.now_unix_ms()};
  Status s = db_.transact([&](store::Conn& c) {
    return c
        .exec("INSERT INTO workspaces (id, name, description, created_at_ms) VALUES (?, ?, ?, ?)",
              {w.id, w.name, w.description, w.created_at_ms})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("workspace '" + name + "' already exists");
  }
  JZ_RETURN_IF_ERROR(s);
  return w;
}

Result<Workspace> Tenancy::one_workspace(const std::string& column, const std::string& value,
                                         const std::string& missing) {
  std::optional<Workspace> w;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        w, store::query_one(c, kWorkspace, kWorkspaceSelect + " WHERE " + column + " = ?", {value},
                            missing));
    return {};
  }));
  return std::move(*w);
}

Result<Workspace> Tenancy::workspace(const std::string& name) {
  return one_workspace("name", name, "workspace '" + name + "' does not exist");
}

Result<Workspace> Tenancy::workspace_by_id(const std::string& id) {
  return one_workspace("id", id, "workspace " + id + " does not exist");
}

Result<std::vector<std::string>> Tenancy::roles_granting(std::string_view resource,
                                                         std::string_view verb) {
  std::vector<std::string> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT name, permissions FROM roles"));
    for (const auto& r : rows) {
      auto perms = json::parse(r.text("permissions"));
      if (!perms.ok() || !perms->is_array()) continue;
      std::vector<std::string> list;
      for (const auto& p : *perms) {
        if (p.is_string()) list.push_back(p.get<std::string>());
      }
      if (grants(list, resource, verb)) out.push_back(r.text("name"));
    }
    return {};
  }));
  return out;
}

Result<store::Page<Workspace>> Tenancy::workspaces(const Principal& viewer,
                                                   const store::PageSpec& page) {
  store::Page<Workspace> out;
  // A token scoped to a project sees no workspace (Authorizer::check with no project).
  if (!viewer.project_scope.empty()) return out;
  std::string sql = kWorkspaceSelect + " WHERE 1 = 1";
  store::Params params;
  if (!viewer.is_platform_admin()) {
    JZ_ASSIGN_OR_RETURN(auto roles, roles_granting("workspace", "get"));
    if (roles.empty()) return out;
    sql += " AND " + held_through("id", "workspace", viewer.user_id, roles, params);
  }
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_page<Workspace>(
                                 c, kWorkspace, sql, params, "name",
                                 [](const Workspace& w) { return w.name; }, page));
    return {};
  }));
  return out;
}

Result<std::vector<Project>> Tenancy::all_projects() {
  std::vector<Project> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_all(c, kProject, std::string(kProjectSelect)));
    return {};
  }));
  return out;
}

Status Tenancy::delete_workspace(const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Workspace w, workspace(name));
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto n, c.query("SELECT COUNT(*) AS n FROM projects WHERE workspace_id = ?", {w.id}));
    if (n[0].integer("n") > 0) {
      return Status::failed_precondition("workspace '" + name + "' still has " +
                                         std::to_string(n[0].integer("n")) +
                                         " project(s): delete them first");
    }
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM members WHERE scope = 'workspace' AND scope_id = ?", {w.id}).status());
    return c.exec("DELETE FROM workspaces WHERE id = ?", {w.id}).status();
  });
}

Result<Project> Tenancy::create_project(const std::string& workspace_name, const std::string& name,
                                        const std::string& description,
                                        const std::string& creator_user_id) {
  JZ_RETURN_IF_ERROR(validate_resource_name("name", name));
  JZ_RETURN_IF_ERROR(check_text("description", description, 1024));
  JZ_ASSIGN_OR_RETURN(Workspace w, workspace(workspace_name));
  Project p{ids_.next("prj_"), name, w.id, w.name, description, clock_.now_unix_ms()};
  Status s = db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("INSERT INTO projects (id, name, workspace_id, description, "
                              "created_at_ms) VALUES (?, ?, ?, ?, ?)",
                              {p.id, p.name, p.workspace_id, p.description, p.created_at_ms})
                           .status());
    if (creator_user_id.empty()) return {};
    return c
        .exec(
            "INSERT INTO members (scope, scope_id, user_id, role, created_at_ms) VALUES "
            "('project', ?, ?, 'project-admin', ?)",
            {p.id, creator_user_id, p.created_at_ms})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("project '" + name +
                                  "' already exists (project names are unique on the platform)");
  }
  JZ_RETURN_IF_ERROR(s);
  return p;
}

Result<Project> Tenancy::project(const std::string& name) {
  std::optional<Project> p;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        p, store::query_one(c, kProject, std::string(kProjectSelect) + " WHERE p.name = ?", {name},
                            "project '" + name + "' does not exist"));
    return {};
  }));
  return std::move(*p);
}

Result<store::Page<Project>> Tenancy::projects(const Principal& viewer,
                                               const std::string& workspace_name,
                                               const store::PageSpec& page) {
  std::string sql = std::string(kProjectSelect) + " WHERE 1 = 1";
  store::Params params;
  if (!workspace_name.empty()) {
    sql += " AND w.name = ?";
    params.emplace_back(workspace_name);
  }
  if (!viewer.project_scope.empty()) {
    sql += " AND p.name = ?";
    params.emplace_back(viewer.project_scope);
  }
  store::Page<Project> out;
  if (!viewer.is_platform_admin()) {
    // Visible through a workspace role or a project role that grants project:get.
    JZ_ASSIGN_OR_RETURN(auto roles, roles_granting("project", "get"));
    if (roles.empty()) return out;
    // Two statements: the parameters must be added in the order the SQL names them.
    const std::string by_workspace =
        held_through("p.workspace_id", "workspace", viewer.user_id, roles, params);
    const std::string by_project = held_through("p.id", "project", viewer.user_id, roles, params);
    sql += " AND (" + by_workspace + " OR " + by_project + ")";
  }
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_page<Project>(
                                 c, kProject, sql, params, "p.name",
                                 [](const Project& p) { return p.name; }, page));
    return {};
  }));
  return out;
}

Status Tenancy::delete_project(const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Project p, project(name));
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM members WHERE scope = 'project' AND scope_id = ?", {p.id}).status());
    return c.exec("DELETE FROM projects WHERE id = ?", {p.id}).status();
  });
}

Status validate_permission(std::string_view permission) {
  static const std::set<std::string, std::less<>> kResources = {
      "*",     "workspace", "project", "workspace_member", "project_member", "quota",
      "event", "job",       "dataset", "dataset_data",     "scheduler",      "audit",
      "code",  "release",   "suite",   "algorithm",        "evaluation",     "listing",
      "order", "label_task"};
  const size_t colon = permission.find(':');
  const std::string_view resource = permission.substr(0, colon);
  const std::string_view verb =
      colon == std::string_view::npos ? std::string_view() : permission.substr(colon + 1);
  bool verb_ok = verb == "*" || !verb.empty();
  for (char c : verb) verb_ok = verb_ok && (verb == "*" || (c >= 'a' && c <= 'z') || c == '_');
  if (colon == std::string_view::npos || !kResources.count(resource) || !verb_ok ||
      verb.size() > 32) {
    std::string resources;
    for (const auto& r : kResources) resources += (resources.empty() ? "" : ", ") + r;
    return Status::invalid_argument("permission '" + std::string(permission) +
                                    "' must be RESOURCE:VERB, RESOURCE one of " + resources +
                                    " and VERB lower-case letters and _ (get, list, create, "
                                    "update, delete, ...) or *");
  }
  return {};
}

Result<Role> Tenancy::create_role(Role r) {
  JZ_RETURN_IF_ERROR(validate_resource_name("name", r.name));
  if (r.scope != "workspace" && r.scope != "project") {
    return Status::invalid_argument("field 'scope' must be workspace or project, got '" + r.scope +
                                    "'");
  }
  if (r.permissions.empty() || r.permissions.size() > 100) {
    return Status::invalid_argument("field 'permissions' must list 1 to 100 permissions");
  }
  for (const auto& p : r.permissions) JZ_RETURN_IF_ERROR(validate_permission(p));
  r.builtin = false;
  Json perms = r.permissions;
  Status s = db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO roles (name, scope, permissions, builtin, workspace_id, created_by) "
            "VALUES (?, ?, ?, 0, ?, ?)",
            {r.name, r.scope, json::dump(perms),
             r.workspace_id.empty() ? store::Value(std::monostate{}) : store::Value(r.workspace_id),
             r.created_by})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("role '" + r.name + "' already exists");
  }
  JZ_RETURN_IF_ERROR(s);
  return r;
}

Status Tenancy::delete_role(const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Role r, role(name));
  if (r.builtin) {
    return Status::failed_precondition("role '" + name + "' is built in; only custom roles go");
  }
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto held,
                        c.query("SELECT COUNT(*) AS n FROM members WHERE role = ?", {name}));
    if (const int64_t n = held.at(0).integer("n"); n > 0) {
      return Status::failed_precondition("role '" + name + "' is held by " + std::to_string(n) +
                                         " member(s); give them another role first");
    }
    return c.exec("DELETE FROM roles WHERE name = ?", {name}).status();
  });
}

Result<Role> Tenancy::role(const std::string& name) {
  std::optional<Role> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT name, scope, permissions, builtin, "
                                           "workspace_id, created_by FROM roles WHERE name = ?",
                                           {name}));
    if (rows.empty()) return {};
    const store::Row& row = rows[0];
    Role r{row.text("name"), row.text("scope"), {}, row.integer("builtin") != 0};
    r.workspace_id = row.is_null("workspace_id") ? "" : row.text("workspace_id");
    r.created_by = row.text("created_by");
    auto perms = json::parse(row.text("permissions"), "role permissions");
    if (perms.ok() && perms->is_array()) {
      for (const auto& p : *perms) {
        if (p.is_string()) r.permissions.push_back(p.get<std::string>());
      }
    }
    out = std::move(r);
    return {};
  }));
  if (!out) return Status::not_found("role '" + name + "' does not exist");
  return *out;
}

Result<store::Page<Role>> Tenancy::roles(const store::PageSpec& page) {
  // A role's permissions are a JSON list, read by role(); the page is of names.
  const store::RowMap<Role> kRoleName{{"name", &Role::name}};
  store::Page<Role> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_page<Role>(
                                 c, kRoleName, "SELECT name FROM roles WHERE 1 = 1", {}, "name",
                                 [](const Role& r) { return r.name; }, page));
    return {};
  }));
  for (auto& r : out.items) {
    JZ_ASSIGN_OR_RETURN(r, role(r.name));
  }
  return out;
}

Status Tenancy::add_member(const std::string& scope, const std::string& scope_id,
                           const std::string& username, const std::string& role_name) {
  auto r = role(role_name);
  if (!r.ok() || r->scope != scope) {
    return Status::invalid_argument("field 'role' must be a " + scope +
                                    " role (see GET "
                                    "/api/v1/roles), got '" +
                                    role_name + "'");
  }
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto users, c.query("SELECT id FROM users WHERE username = ?", {username}));
    if (users.empty()) {
      return Status::invalid_argument("field 'username': user '" + username + "' does not exist");
    }
    // Adding an existing member changes the role.
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM members WHERE scope = ? AND scope_id = ? AND user_id = ?",
               {scope, scope_id, users[0].text("id")})
            .status());
    return c
        .exec(
            "INSERT INTO members (scope, scope_id, user_id, role, created_at_ms) VALUES (?, ?, "
            "?, ?, ?)",
            {scope, scope_id, users[0].text("id"), role_name, clock_.now_unix_ms()})
        .status();
  });
}

Status Tenancy::remove_member(const std::string& scope, const std::string& scope_id,
                              const std::string& username) {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n,
                        c.exec("DELETE FROM members WHERE scope = ? AND scope_id = ? AND user_id "
                               "IN (SELECT id FROM users WHERE username = ?)",
                               {scope, scope_id, username}));
    return {};
  }));
  if (n == 0) return Status::not_found("user '" + username + "' is not a member");
  return {};
}

Result<store::Page<Member>> Tenancy::members(const std::string& scope, const std::string& scope_id,
                                             const store::PageSpec& page) {
  store::Page<Member> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_page<Member>(
                                 c, kMember, kMemberSelect, {scope, scope_id}, "u.username",
                                 [](const Member& m) { return m.username; }, page));
    return {};
  }));
  return out;
}

Result<std::optional<Member>> Tenancy::member(const std::string& scope, const std::string& scope_id,
                                              const std::string& username) {
  std::vector<Member> found;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        found, store::query_all(c, kMember, std::string(kMemberSelect) + " AND u.username = ?",
                                {scope, scope_id, username}));
    return {};
  }));
  if (found.empty()) return std::optional<Member>();
  return std::optional<Member>(std::move(found.front()));
}

Result<std::string> Tenancy::role_of(const std::string& scope, const std::string& scope_id,
                                     const std::string& user_id) {
  std::string role_name;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT role FROM members WHERE scope = ? AND scope_id "
                                           "= ? AND user_id = ?",
                                           {scope, scope_id, user_id}));
    if (!rows.empty()) role_name = rows[0].text("role");
    return {};
  }));
  return role_name;
}

namespace {
// A token scoped to a project acts only there.
Status within_scope(const Principal& p, const Project* project) {
  if (!p.project_scope.empty() && (!project || project->name != p.project_scope)) {
    return Status::permission_denied("this token is scoped to project '" + p.project_scope +
                                     "' and may not act elsewhere");
  }
  return {};
}
}  // namespace

Status Authorizer::check(const Principal& p, std::string_view resource, std::string_view verb,
                         const std::string& workspace_id, const Project* project) {
  auto denied = [&] {
    return Status::permission_denied("user '" + p.username + "' may not " + std::string(verb) +
                                     " " + std::string(resource) +
                                     (project ? " in project '" + project->name + "'" : ""));
  };
  JZ_RETURN_IF_ERROR(within_scope(p, project));
  if (p.is_platform_admin()) return {};
  if (workspace_id.empty()) return denied();
  JZ_ASSIGN_OR_RETURN(auto perms, held(p, workspace_id, project));
  if (grants(perms, resource, verb)) return {};
  return denied();
}

Result<std::vector<std::string>> Authorizer::permissions(const Principal& p,
                                                         const Project& project) {
  if (!within_scope(p, &project).ok()) return std::vector<std::string>{};
  if (p.is_platform_admin()) return std::vector<std::string>{"*:*"};
  JZ_ASSIGN_OR_RETURN(auto perms, held(p, project.workspace_id, &project));
  std::sort(perms.begin(), perms.end());
  perms.erase(std::unique(perms.begin(), perms.end()), perms.end());
  return perms;
}

Result<std::vector<std::string>> Authorizer::workspace_permissions(
    const Principal& p, const std::string& workspace_id) {
  // A token scoped to a project acts only there: nothing at the workspace's level.
  if (!p.project_scope.empty()) return std::vector<std::string>{};
  if (p.is_platform_admin()) return std::vector<std::string>{"*:*"};
  JZ_ASSIGN_OR_RETURN(auto perms, held(p, workspace_id, nullptr));
  std::sort(perms.begin(), perms.end());
  perms.erase(std::unique(perms.begin(), perms.end()), perms.end());
  return perms;
}

Result<std::vector<std::string>> Authorizer::held(const Principal& p,
                                                  const std::string& workspace_id,
                                                  const Project* project) {
  std::vector<std::string> out;
  JZ_ASSIGN_OR_RETURN(std::string ws_role, tenancy_.role_of("workspace", workspace_id, p.user_id));
  if (!ws_role.empty()) {
    JZ_ASSIGN_OR_RETURN(Role r, tenancy_.role(ws_role));
    out = std::move(r.permissions);
  }
  if (project) {
    JZ_ASSIGN_OR_RETURN(std::string pr_role, tenancy_.role_of("project", project->id, p.user_id));
    if (!pr_role.empty()) {
      JZ_ASSIGN_OR_RETURN(Role r, tenancy_.role(pr_role));
      out.insert(out.end(), r.permissions.begin(), r.permissions.end());
    }
  }
  return out;
}

Status Authorizer::check_grant(const Principal& p, const Role& role,
                               const std::string& workspace_id, const Project* project) {
  JZ_RETURN_IF_ERROR(within_scope(p, project));
  if (p.is_platform_admin()) return {};
  std::vector<std::string> mine;
  if (!workspace_id.empty()) {
    JZ_ASSIGN_OR_RETURN(mine, held(p, workspace_id, project));
  }
  std::string missing;
  for (const auto& perm : role.permissions) {
    const auto colon = perm.find(':');
    if (colon == std::string::npos) continue;
    // A wildcard in the role is held only by the same wildcard: grants("*") checks that.
    if (!grants(mine, perm.substr(0, colon), perm.substr(colon + 1))) {
      missing += (missing.empty() ? "" : ", ") + perm;
    }
  }
  if (missing.empty()) return {};
  return Status::permission_denied(
      "user '" + p.username + "' may not grant or revoke role '" + role.name +
      "': it holds permissions you do not hold here (" + missing +
      "); one grants only roles whose permissions one holds: ask a " +
      (role.scope == "project" ? "workspace-admin" : "platform-admin"));
}

}  // namespace jz::iam
