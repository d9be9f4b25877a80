// A real `jizhan server` with the job service for end-to-end tests (tests/jobs_test.cc,
// tests/logs_e2e_test.cc): the platform in a temporary folder, an HTTP client with a
// token, users and projects, and waiting for jobs to reach a state.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "tests/support/http_send.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class Api {
 public:
  Api(int port, std::string token) : cli_("127.0.0.1", port), token_(std::move(token)) {
    cli_.set_read_timeout(30, 0);
  }
  Json call(const std::string& method, const std::string& path, const Json& body = nullptr,
            int* status = nullptr) {
    httplib::Headers h = {{"Authorization", "Bearer " + token_}};
    const std::string text = body.is_null() ? "" : json::dump(body);
    httplib::Result r = testing::send(cli_, method, path, text, h);
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": no answer";
      return nullptr;
    }
    if (status) *status = r->status;
    if (!status && r->status >= 300) ADD_FAILURE() << method << " " << path << ": " << r->body;
    Json j = Json::parse(r->body, nullptr, false);
    return j.is_discarded() ? Json(r->body) : j;
  }
  const std::string& token() const { return token_; }
  std::string text(const std::string& path, int* status = nullptr) {
    auto r = cli_.Get(path, {{"Authorization", "Bearer " + token_}});
    if (status) *status = r ? r->status : 0;
    return r ? r->body : "";
  }

 private:
  httplib::Client cli_;
  std::string token_;
};

struct Platform {
  testing::TempDir dir;
  std::string data;
  std::unique_ptr<testing::ServerProcess> server;
  std::vector<std::string> extra;
  std::map<std::string, std::string> env;

  explicit Platform(std::vector<std::string> more = {},
                    std::map<std::string, std::string> environment = {})
      : env(std::move(environment)) {
    // Job sandboxes run as an unprivileged user, who passes through the folders above
    // the jobs folder.
    fs::permissions(dir.path(), fs::perms(0711));
    data = dir.str() + "/data";
    extra = {"--set", "auth.password_hash_cost=minimum", "--set", "jobs.tick_ms=20"};
    extra.insert(extra.end(), more.begin(), more.end());
    start();
  }
  void start() {
    auto s = testing::ServerProcess::start(data, extra, env);
    if (!s.ok()) {
      ADD_FAILURE() << s.status().message();
      return;
    }
    server = std::move(*s);
  }
  Api admin() const { return Api(server->port(), server->token()); }
  // A user with a password, logged in.
  Api user(const std::string& name) const {
    Api a = admin();
    int status = 0;
    a.call("POST", "/api/v1/users", {{"username", name}, {"password", "password-" + name}},
           &status);
    httplib::Client c("127.0.0.1", server->port());
    auto r = c.Post("/api/v1/auth/login",
                    json::dump(Json{{"username", name}, {"password", "password-" + name}}),
                    "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return Api(server->port(), Json::parse(r->body)["token"].get<std::string>());
  }
  void project(const std::string& ws, const std::string& name,
               const std::map<std::string, std::string>& members,
               const Json& quota = nullptr) const {
    Api a = admin();
    int status = 0;
    a.call("POST", "/api/v1/workspaces", {{"name", ws}}, &status);
    a.call("POST", "/api/v1/workspaces/" + ws + "/projects", {{"name", name}});
    for (const auto& [user, role] : members) {
      a.call("POST", "/api/v1/projects/" + name + "/members", {{"username", user}, {"role", role}});
    }
    if (!quota.is_null()) a.call("PUT", "/api/v1/projects/" + name + "/quota", quota);
  }
};

inline Json job(const std::string& name, const std::vector<std::string>& command, double cpu = 0.1,
                int64_t memory_mib = 64) {
  return {{"name", name},
          {"command", command},
          {"resources", {{"cpu", cpu}, {"memory_mib", memory_mib}}}};
}

// Waits until every job is in one of `states`; returns the jobs.
inline std::map<std::string, Json> wait_states(Api& api, const std::string& project,
                                               const std::vector<std::string>& ids,
                                               const std::set<std::string>& states,
                                               std::chrono::seconds limit = 120s) {
  std::map<std::string, Json> out;
  const auto until = std::chrono::steady_clock::now() + limit;
  for (const auto& id : ids) {
    for (;;) {
      Json j = api.call("GET", "/api/v1/projects/" + project + "/jobs/" + id);
      if (j.is_object() && states.count(json::string_or(j, "state"))) {
        out[id] = j;
        break;
      }
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "job " << id << " is still " << json::string_or(j, "state") << ": "
                      << json::string_or(j, "message");
        out[id] = j;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  return out;
}

inline const std::set<std::string> kTerminal = {"succeeded", "failed", "cancelled", "preempted",
                                                "lost"};

// One change of a job's state, from its project's event log.
struct JobEvent {
  int64_t seq;
  std::string project, job, from, to;
};

// Every job's changes of state in the projects, in the platform's order (the events' seq).
inline std::vector<JobEvent> job_events(Api& admin, const std::vector<std::string>& projects) {
  std::vector<JobEvent> events;
  for (const auto& project : projects) {
    std::string token;  // opaque: the next page's token
    for (;;) {
      Json page = admin.call("GET", "/api/v1/projects/" + project + "/events?page_size=1000" +
                                        (token.empty() ? "" : "&page_token=" + token));
      for (const auto& e : page["items"]) {
        if (e["resource_type"] != "job") continue;
        const std::string m = e["message"].get<std::string>();
        const auto arrow = m.find(" -> ");
        const auto colon = m.find(':', arrow);
        events.push_back({e["seq"].get<int64_t>(), project, e["resource_name"], m.substr(0, arrow),
                          m.substr(arrow + 4, colon == std::string::npos ? std::string::npos
                                                                         : colon - arrow - 4)});
      }
      if (page["next_page_token"].is_null()) break;
      token = page["next_page_token"].get<std::string>();
    }
  }
  std::sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  return events;
}

}  // namespace jz
