// Tenancy: workspaces (tenants) hold projects; users are members of a workspace or a
// project with a role; roles are data (table `roles`, built-ins seeded by migration 4),
// each a list of "resource:verb" permissions ("job:create", "dataset:*", "*:*").
//
// Authorizer::check answers one question: may this principal do `verb` on `resource`
// in this workspace/project? A platform-admin may do anything. Otherwise the caller's
// workspace role (for anything in the workspace, its projects included) and project
// role (for that project) are consulted. A token scoped to a project acts only there.
//
// Thread-safe: every call reads or writes the store in one statement or transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "platform/iam/authenticator.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::iam {

struct Workspace {
  std::string id, name, description;
  int64_t created_at_ms = 0;
};

struct Project {
  std::string id, name, workspace_id, workspace, description;
  int64_t created_at_ms = 0;
};

struct Role {
  std::string name, scope;  // scope: platform | workspace | project
  std::vector<std::string> permissions;
  bool builtin = false;
  std::string workspace_id;  // custom roles: the workspace it was made in ("": by a platform admin)
  std::string created_by;    // custom roles: the username that made it
};

// Whether "resource:verb" names a permission the platform checks (docs/API.md lists
// them); '*' stands for any resource or verb.
Status validate_permission(std::string_view permission);

struct Member {
  std::string username, role;
  int64_t created_at_ms = 0;
};

// Workspace and project names: DNS labels, [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?.
Status validate_resource_name(std::string_view field, std::string_view name);
// Cluster names (the registry's, and "local"): the same rule.
inline Status validate_cluster_name(std::string_view name) {
  return validate_resource_name("cluster", name);
}
// True when `permissions` grants resource:verb.
bool grants(const std::vector<std::string>& permissions, std::string_view resource,
            std::string_view verb);

class Tenancy {
 public:
  Tenancy(store::Database& db, Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids) {}

  Result<Workspace> create_workspace(const std::string& name, const std::string& description);
  Result<Workspace> workspace(const std::string& name);
  Result<Workspace> workspace_by_id(const std::string& id);
  // The workspaces `viewer` may see (workspace:get), by name, one keyset page.
  Result<store::Page<Workspace>> workspaces(const Principal& viewer, const store::PageSpec& page);
  // Refuses while the workspace still has projects.
  Status delete_workspace(const std::string& name);

  // Creates the project; `creator_user_id` (when not empty) becomes its project-admin.
  Result<Project> create_project(const std::string& workspace, const std::string& name,
                                 const std::string& description,
                                 const std::string& creator_user_id);
  Result<Project> project(const std::string& name);
  // The projects `viewer` may see (project:get), by name, one keyset page; `workspace`
  // narrows them to one workspace when not empty.
  Result<store::Page<Project>> projects(const Principal& viewer, const std::string& workspace,
                                        const store::PageSpec& page);
  // Every project (for the runner's queues; not for listing to users).
  Result<std::vector<Project>> all_projects();
  Status delete_project(const std::string& name);

  Result<Role> role(const std::string& name);
  // A custom role (scope workspace or project, permissions validated); already_exists
  // when the name is taken. Who may make it is the caller's check (Authorizer::check_grant).
  Result<Role> create_role(Role role);
  // Deletes a custom role; failed_precondition for a built-in one or one still held.
  Status delete_role(const std::string& name);
  Result<store::Page<Role>> roles(const store::PageSpec& page);
  // The names of the roles that grant resource:verb.
  Result<std::vector<std::string>> roles_granting(std::string_view resource, std::string_view verb);

  // scope: "workspace" or "project"; scope_id the workspace or project id.
  Status add_member(const std::string& scope, const std::string& scope_id,
                    const std::string& username, const std::string& role);
  Status remove_member(const std::string& scope, const std::string& scope_id,
                       const std::string& username);
  Result<store::Page<Member>> members(const std::string& scope, const std::string& scope_id,
                                      const store::PageSpec& page);
  // The member of that name, or nothing.
  Result<std::optional<Member>> member(const std::string& scope, const std::string& scope_id,
                                       const std::string& username);
  // The user's role there, or "" when not a member.
  Result<std::string> role_of(const std::string& scope, const std::string& scope_id,
                              const std::string& user_id);

 private:
  // The workspace whose `column` ("name" or "id") is `value`; not_found with `missing`.
  Result<Workspace> one_workspace(const std::string& column, const std::string& value,
                                  const std::string& missing);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
};

class Authorizer {
 public:
  explicit Authorizer(Tenancy& tenancy) : tenancy_(tenancy) {}

  // OK, or permission_denied naming what was refused. `workspace_id`/`project` may be
  // empty for platform-level resources (only platform admins pass then).
  Status check(const Principal& p, std::string_view resource, std::string_view verb,
               const std::string& workspace_id, const Project* project = nullptr);

  // OK when the principal may give `role` to someone in this workspace/project (or take
  // it away): one grants only roles whose every permission one holds there (the rule of
  // Kubernetes RBAC's escalation check), so a project-admin cannot make anyone, themselves
  // included, a data-owner (dataset_data:get); a workspace-admin can. permission_denied
  // names the first permission the caller lacks.
  Status check_grant(const Principal& p, const Role& role, const std::string& workspace_id,
                     const Project* project = nullptr);

  // The permissions ("resource:verb", '*' a wildcard) the principal holds in the project:
  // "*:*" for a platform admin. What a client shows as possible; check() still decides.
  Result<std::vector<std::string>> permissions(const Principal& p, const Project& project);
  // The same for a workspace (its workspace role's only).
  Result<std::vector<std::string>> workspace_permissions(const Principal& p,
                                                         const std::string& workspace_id);

 private:
  // The permissions the principal holds here: its workspace role's and its project role's.
  Result<std::vector<std::string>> held(const Principal& p, const std::string& workspace_id,
                                        const Project* project);
  Tenancy& tenancy_;
};

}  // namespace jz::iam
