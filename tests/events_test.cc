// Events of workspaces and about users, end to end: what happens to a workspace (members,
// projects, roles, dataset roots) reaches those who may list its events, and what happens
// to an account (created, tokens, password, disabled, memberships) reaches that user and
// platform admins; nobody else reads either.
#include <gtest/gtest.h>

#include "core/json.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

std::string reasons_of(const Json& page) {
  std::string out;
  for (const auto& e : page["items"]) out += e["reason"].get<std::string>() + " ";
  return out;
}

TEST(Events, WorkspaceAndUserEventsReachThoseTheyConcernOnly) {
  Platform p;
  ASSERT_TRUE(p.server);
  for (const char* u : {"ann", "watcher", "regular", "outsider"}) p.user(u);
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces", {{"name", "lab"}});
  admin.call("POST", "/api/v1/workspaces/lab/members",
             {{"username", "watcher"}, {"role", "workspace-viewer"}});
  admin.call("POST", "/api/v1/workspaces/lab/members",
             {{"username", "regular"}, {"role", "workspace-regular"}});
  admin.call("POST", "/api/v1/workspaces/lab/projects", {{"name", "vision"}});
  admin.call("POST", "/api/v1/projects/vision/members",
             {{"username", "ann"}, {"role", "project-developer"}});
  Api ann = p.user("ann"), watcher = p.user("watcher"), regular = p.user("regular"),
      outsider = p.user("outsider");
  ann.call("POST", "/api/v1/tokens", {{"name", "ci"}});
  ann.call("POST", "/api/v1/users/ann/password",
           {{"current_password", "password-ann"}, {"new_password", "a-new-password-123"}});

  const std::string ws_events = watcher.call("GET", "/api/v1/workspaces/lab/events").dump();
  for (const char* r : {"WorkspaceCreated", "MemberAdded", "ProjectCreated"}) {
    EXPECT_NE(ws_events.find(r), std::string::npos) << r << " in " << ws_events;
  }
  EXPECT_NE(ws_events.find("\"project\":\"vision\""), std::string::npos)
      << "the workspace's projects' events are the workspace's too";
  int status = 0;
  regular.call("GET", "/api/v1/workspaces/lab/events", nullptr, &status);
  EXPECT_EQ(status, 403) << "a regular member lists no events";
  outsider.call("GET", "/api/v1/workspaces/lab/events", nullptr, &status);
  EXPECT_EQ(status, 404);

  const std::string mine = reasons_of(ann.call("GET", "/api/v1/users/ann/events"));
  for (const char* r : {"UserCreated", "MemberAdded", "TokenCreated", "PasswordChanged"}) {
    EXPECT_NE(mine.find(r), std::string::npos) << r << " in " << mine;
  }
  EXPECT_EQ(mine.find("WorkspaceCreated"), std::string::npos) << "only what is about ann";
  for (Api* other : {&outsider, &watcher}) {
    other->call("GET", "/api/v1/users/ann/events", nullptr, &status);
    EXPECT_EQ(status, 403);
  }
  admin.call("PATCH", "/api/v1/users/ann", {{"disabled", true}});
  const std::string seen_by_admin = reasons_of(admin.call("GET", "/api/v1/users/ann/events"));
  EXPECT_NE(seen_by_admin.find("UserDisabled"), std::string::npos) << seen_by_admin;
  // Paging: after the first event, the first is gone.
  Json first = admin.call("GET", "/api/v1/users/ann/events?page_size=1");
  ASSERT_EQ(first["items"].size(), 1u);
  Json rest = admin.call(
      "GET", "/api/v1/users/ann/events?page_token=" + first["next_page_token"].get<std::string>());
  EXPECT_GT(rest["items"][0]["seq"].get<int64_t>(), first["items"][0]["seq"].get<int64_t>());
}

}  // namespace
}  // namespace jz
