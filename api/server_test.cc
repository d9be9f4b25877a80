// The API server over real HTTP on loopback, backed by a temporary SQLite store.
#include "api/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subprocess.h"
#include "tests/support/temp_dir.h"

namespace jz::api {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override { shutdown(); }

  void start(ServerOptions opts) {
    store::DatabaseOptions dbo;
    dbo.url = *store::parse_database_url("sqlite:" + dir_.str() + "/j.db");
    auto db = store::Database::open(dbo);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    accounts_ = std::make_unique<iam::Accounts>(*db_, Clock::system(), ids_);
    iam::AuthOptions auth_opts;
    auth_opts.hash_cost = iam::HashCost::kMinimum;
    auth_ = std::make_unique<iam::Authenticator>(*accounts_, Clock::system(), auth_opts);
    admin_token_ = make_user("root", iam::kPlatformAdmin);
    user_token_ = make_user("alice", iam::kPlatformRegular);
    opts.port = 0;
    opts.threads = 8;
    // Not the console a build may have made beside the test program: tests say which.
    if (opts.console_dir.empty()) opts.console_dir = dir_.str() + "/no-console";
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    audit_ = std::make_unique<iam::AuditLog>(*db_, Clock::system(), ids_);
    server_ = std::make_unique<ApiServer>(opts, *db_, *auth_, audit_.get(),
                                          make_logger({.format = LogFormat::kJson}, sink));
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { run_status_ = server_->run(); });
  }

  void shutdown() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok());
    server_.reset();
  }

  // Creates a user with password "<name>-password" and returns an API token for it.
  std::string make_user(const std::string& name, std::string_view role) {
    iam::User u;
    u.username = name;
    u.platform_role = std::string(role);
    u.password_hash = *iam::hash_password(name + "-password", iam::HashCost::kMinimum);
    auto created = accounts_->create_user(u);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    auto token = accounts_->issue_token(created->id, "api", "test", "",
                                        Clock::system().now_unix_ms() + int64_t{3600} * 1000);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  httplib::Client client(bool with_token = true) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    if (with_token) c.set_bearer_token_auth(admin_token_);
    return c;
  }

  static Json body(const httplib::Result& r) {
    auto j = json::parse(r->body);
    EXPECT_TRUE(j.ok()) << r->body;
    return j.ok() ? *j : Json();
  }

  static void expect_error(const httplib::Result& r, int status, const std::string& code,
                           const std::string& message_part) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    Json j = body(r);
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(message_part), std::string::npos)
        << r->body;
    EXPECT_EQ(j["error"]["request_id"], r->get_header_value("X-Request-Id"));
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  IdGenerator ids_{Clock::system(), SecureRandom::instance()};
  std::unique_ptr<iam::Accounts> accounts_;
  std::unique_ptr<iam::Authenticator> auth_;
  std::unique_ptr<iam::AuditLog> audit_;
  std::string admin_token_, user_token_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  Status run_status_;
  std::ostringstream log_;
};

TEST_F(ServerTest, HealthzIsPublicAndHasARequestId) {
  auto r = client(false).Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["status"], "ok");
  EXPECT_EQ(r->get_header_value("X-Request-Id").rfind("req_", 0), 0u);
}

TEST_F(ServerTest, RequestIdFromClientIsKeptWhenWellFormed) {
  auto c = client();
  auto r = c.Get("/healthz", {{"X-Request-Id", "trace-42"}});
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "trace-42");
  auto bad = c.Get("/healthz", {{"X-Request-Id", "has spaces and \"quotes\""}});
  EXPECT_EQ(bad->get_header_value("X-Request-Id").rfind("req_", 0), 0u);
  // A request is logged just after its response is written, on the server's thread:
  // stop the server (it finishes every request) before reading the log.
  shutdown();
  EXPECT_NE(log_.str().find("\"request_id\":\"trace-42\""), std::string::npos) << log_.str();
}

TEST_F(ServerTest, ReadyzChecksTheStore) {
  auto r = client(false).Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["store"], "sqlite");
}

TEST_F(ServerTest, ApiNeedsTheToken) {
  expect_error(client(false).Get("/api/v1/version"), 401, "unauthenticated", "Bearer");
  auto wrong = client(false);
  std::string forged = admin_token_;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  wrong.set_bearer_token_auth(forged);
  expect_error(wrong.Get("/api/v1/settings"), 401, "unauthenticated",
               "unknown, expired or revoked");
  expect_error(wrong.Put("/api/v1/settings/x", R"({"value":1})", "application/json"), 401,
               "unauthenticated", "unknown, expired or revoked");
  auto r = client().Get("/api/v1/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["name"], "jizhan");
  EXPECT_FALSE(body(r)["version"].get<std::string>().empty());
  // A 401 never reaches the store.
  EXPECT_EQ(client().Get("/api/v1/settings/x")->status, 404);
}

TEST_F(ServerTest, LoginWhoamiLogout) {
  auto anon = client(false);
  expect_error(anon.Post("/api/v1/auth/login",
                         R"({"username":"alice","password":"nope-nope-nope"})", "application/json"),
               401, "unauthenticated", "invalid username or password");
  expect_error(anon.Post("/api/v1/auth/login", R"({"username":"alice"})", "application/json"), 400,
               "invalid_argument", "field 'password' is required");
  expect_error(anon.Post("/api/v1/auth/login", "{", "application/json"), 400, "invalid_argument",
               "not valid JSON");
  auto login = anon.Post("/api/v1/auth/login",
                         R"({"username":"alice","password":"alice-password"})", "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  std::string token = body(login)["token"];
  EXPECT_FALSE(body(login)["expires_at"].get<std::string>().empty());

  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token);
  auto who = c.Get("/api/v1/auth/whoami");
  ASSERT_EQ(who->status, 200);
  EXPECT_EQ(body(who)["username"], "alice");
  EXPECT_EQ(body(who)["token"]["kind"], "session");
  EXPECT_EQ(c.Post("/api/v1/auth/logout")->status, 204);
  expect_error(c.Get("/api/v1/auth/whoami"), 401, "unauthenticated", "expired or revoked");
}

// Issue 20: accounts can be updated, disabled and enabled, and have their passwords
// changed and reset; nobody manages another's account or raises their own rights.
TEST_F(ServerTest, AccountsAreUpdatedDisabledAndTheirPasswordsChangedByTheRightSeats) {
  make_user("bob", iam::kPlatformRegular);
  auto as = [&](const std::string& token) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    c.set_bearer_token_auth(token);
    return c;
  };
  auto login = [&](const std::string& user, const std::string& password) {
    auto r = client(false).Post("/api/v1/auth/login",
                                json::dump(Json{{"username", user}, {"password", password}}),
                                "application/json");
    return r && r->status == 200 ? body(r)["token"].get<std::string>() : std::string();
  };
  const std::string alice = login("alice", "alice-password");
  ASSERT_FALSE(alice.empty());
  auto a = as(alice);
  // The profile: one's own, not another's; rights are not one's own to change.
  auto r = a.Patch("/api/v1/users/alice", R"({"display_name":"Alice A.","email":"a@x.org"})",
                   "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["display_name"], "Alice A.");
  EXPECT_EQ(body(a.Get("/api/v1/users/alice"))["email"], "a@x.org");
  expect_error(a.Patch("/api/v1/users/bob", R"({"display_name":"x"})", "application/json"), 403,
               "permission_denied", "only platform admins");
  expect_error(a.Get("/api/v1/users/bob"), 403, "permission_denied", "only platform admins");
  expect_error(
      a.Patch("/api/v1/users/alice", R"({"platform_role":"platform-admin"})", "application/json"),
      403, "permission_denied", "only platform admins");
  expect_error(a.Patch("/api/v1/users/alice", R"({"disabled":false})", "application/json"), 403,
               "permission_denied", "only platform admins");
  expect_error(a.Patch("/api/v1/users/alice", R"({"display_name":7})", "application/json"), 400,
               "invalid_argument", "display_name");

  // Disabled: her session and API token stop at once, and so do her logins.
  const std::string alice_api = user_token_;
  EXPECT_EQ(as(alice_api).Get("/api/v1/auth/whoami")->status, 200);
  auto admin = client();
  r = admin.Patch("/api/v1/users/alice", R"({"disabled":true})", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["state"], "disabled");
  EXPECT_EQ(a.Get("/api/v1/auth/whoami")->status, 401);
  EXPECT_EQ(as(alice_api).Get("/api/v1/auth/whoami")->status, 401);
  EXPECT_TRUE(login("alice", "alice-password").empty());
  // Enabled again: her unexpired tokens work again.
  ASSERT_EQ(admin.Patch("/api/v1/users/alice", R"({"disabled":false})", "application/json")->status,
            200);
  EXPECT_EQ(as(alice_api).Get("/api/v1/auth/whoami")->status, 200);
  // The last admin cannot be disabled or demoted, nor can an admin disable themselves.
  expect_error(admin.Patch("/api/v1/users/root", R"({"disabled":true})", "application/json"), 409,
               "failed_precondition", "cannot disable yourself");
  r = admin.Patch("/api/v1/users/bob", R"({"platform_role":"platform-admin"})", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string bob = login("bob", "bob-password");
  r = as(bob).Patch("/api/v1/users/root", R"({"platform_role":"platform-regular"})",
                    "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(as(bob).Get("/api/v1/users")->status, 200) << "bob is an admin now";
  expect_error(as(bob).Patch("/api/v1/users/bob", R"({"platform_role":"platform-regular"})",
                             "application/json"),
               409, "failed_precondition", "cannot");
  // root is no admin any more: at once, for its cached token too.
  expect_error(admin.Get("/api/v1/users"), 403, "permission_denied", "");

  // Her own password: with the current one; her other sessions end, this one stays.
  const std::string alice2 = login("alice", "alice-password");
  expect_error(
      a.Post("/api/v1/users/alice/password",
             R"({"current_password":"wrong-wrong-wrong","new_password":"a-new-password-1"})",
             "application/json"),
      403, "permission_denied", "current password is wrong");
  expect_error(
      a.Post("/api/v1/users/alice/password",
             R"({"current_password":"alice-password","new_password":"short"})", "application/json"),
      422, "unprocessable", "");
  r = a.Post("/api/v1/users/alice/password",
             R"({"current_password":"alice-password","new_password":"a-new-password-1"})",
             "application/json");
  ASSERT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(a.Get("/api/v1/auth/whoami")->status, 200);
  EXPECT_EQ(as(alice2).Get("/api/v1/auth/whoami")->status, 401);
  EXPECT_EQ(as(alice_api).Get("/api/v1/auth/whoami")->status, 200) << "API tokens stay";
  EXPECT_TRUE(login("alice", "alice-password").empty());
  EXPECT_FALSE(login("alice", "a-new-password-1").empty());
  // Another's password: platform admins only, and every session of theirs ends.
  expect_error(as(alice_api).Post("/api/v1/users/bob/password",
                                  R"({"new_password":"x-x-x-x-x-x-x-x"})", "application/json"),
               403, "permission_denied", "only platform admins");
  r = as(bob).Post("/api/v1/users/alice/password", R"({"new_password":"reset-by-bob-123"})",
                   "application/json");
  ASSERT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(a.Get("/api/v1/auth/whoami")->status, 401);
  EXPECT_FALSE(login("alice", "reset-by-bob-123").empty());
  // Nothing of it leaks a password into the audit trail.
  auto trail = as(bob).Get("/api/v1/audit?page_size=1000");
  ASSERT_EQ(trail->status, 200);
  EXPECT_EQ(trail->body.find("reset-by-bob-123"), std::string::npos);
  EXPECT_EQ(trail->body.find("a-new-password-1"), std::string::npos);
}

TEST_F(ServerTest, TheConsolesSessionIsAnHttpOnlyCookieWithACsrfTokenOnChanges) {
  auto anon = client(false);
  auto login = anon.Post("/api/v1/auth/login",
                         R"({"username":"alice","password":"alice-password","cookie":true})",
                         "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  EXPECT_FALSE(body(login).contains("token")) << "the page never sees the session token";
  const std::string csrf = body(login)["csrf_token"];
  ASSERT_EQ(csrf.size(), 64u);
  const std::string set_cookie = login->get_header_value("Set-Cookie");
  for (const char* part : {"jz_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="}) {
    EXPECT_NE(set_cookie.find(part), std::string::npos) << part << " in " << set_cookie;
  }
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "plain HTTP here";
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  EXPECT_NE(cookie.substr(11), csrf);

  httplib::Client c("127.0.0.1", server_->port());
  const httplib::Headers with_cookie = {{"Cookie", cookie}};
  auto who = c.Get("/api/v1/auth/whoami", with_cookie);
  ASSERT_EQ(who->status, 200) << who->body;
  EXPECT_EQ(body(who)["username"], "alice");
  EXPECT_EQ(body(who)["csrf_token"], csrf) << "a reloaded page learns it here";
  EXPECT_EQ(who->get_header_value("Cache-Control"), "no-store");

  // A change with the cookie alone (what a cross-site form or script would send) is
  // refused, as is one with a wrong token or from another origin; nothing is changed.
  const std::string token_body = R"({"name":"from-the-console"})";
  expect_error(c.Post("/api/v1/tokens", with_cookie, token_body, "application/json"), 403,
               "permission_denied", "X-CSRF-Token");
  // A wrong token: the real one with its first digit changed (never the same by chance).
  const std::string wrong = (csrf[0] == '0' ? "1" : "0") + csrf.substr(1);
  expect_error(c.Post("/api/v1/tokens", {{"Cookie", cookie}, {"X-CSRF-Token", wrong}}, token_body,
                      "application/json"),
               403, "permission_denied", "X-CSRF-Token");
  expect_error(
      c.Post("/api/v1/tokens",
             {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "http://evil.example"}},
             token_body, "application/json"),
      403, "permission_denied", "another site");
  httplib::Client as_alice("127.0.0.1", server_->port());
  as_alice.set_bearer_token_auth(user_token_);
  auto tokens = as_alice.Get("/api/v1/tokens");
  ASSERT_EQ(tokens->status, 200);
  EXPECT_EQ(tokens->body.find("from-the-console"), std::string::npos) << tokens->body;
  // With the token (and a same-origin Origin, as a browser sends) it goes through.
  const std::string origin = "http://127.0.0.1:" + std::to_string(server_->port());
  auto made =
      c.Post("/api/v1/tokens", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", origin}},
             token_body, "application/json");
  ASSERT_EQ(made->status, 201) << made->body;

  // A cookie cannot carry an API token, or a made-up one.
  expect_error(c.Get("/api/v1/auth/whoami", {{"Cookie", "jz_session=" + user_token_}}), 401,
               "unauthenticated", "sign in again");
  expect_error(c.Get("/api/v1/auth/whoami", {{"Cookie", "jz_session=nonsense"}}), 401,
               "unauthenticated", "sign in again");
  // The bearer header wins over a cookie and needs no CSRF token (scripts).
  auto script = c.Post("/api/v1/auth/logout",
                       {{"Cookie", cookie}, {"Authorization", "Bearer " + user_token_}}, "",
                       "application/json");
  EXPECT_EQ(script->status, 204) << script->body;
  EXPECT_EQ(script->get_header_value("Set-Cookie"), "") << "not the console's session";

  // Logging out ends the session and clears the cookie.
  auto out = c.Post("/api/v1/auth/logout", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}, "",
                    "application/json");
  ASSERT_EQ(out->status, 204) << out->body;
  EXPECT_NE(out->get_header_value("Set-Cookie").find("jz_session=; Path=/; Max-Age=0"),
            std::string::npos);
  expect_error(c.Get("/api/v1/auth/whoami", with_cookie), 401, "unauthenticated", "sign in again");
}

TEST_F(ServerTest, SettingsAreForPlatformAdminsOnly) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(user_token_);
  expect_error(c.Get("/api/v1/settings"), 403, "permission_denied", "platform-admin");
  expect_error(c.Put("/api/v1/settings/x", R"({"value":1})", "application/json"), 403,
               "permission_denied", "platform-admin");
  EXPECT_EQ(client().Get("/api/v1/settings/x")->status, 404) << "nothing was written";
}

// Audit records are written just after the response (as metrics are): poll briefly.
std::vector<iam::AuditRecord> wait_for_audit(iam::AuditLog& log, size_t n) {
  std::vector<iam::AuditRecord> got;
  // Records are written just after each answer; a loaded machine (sanitizers) is slow.
  for (int i = 0; i < 500; ++i) {
    got = log.query({.limit = 1000}).value_or(std::vector<iam::AuditRecord>{});
    if (got.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return got;
}

TEST_F(ServerTest, MutationsAndLoginsAreAuditedWithoutSecrets) {
  auto anon = client(false);
  anon.Post("/api/v1/auth/login", R"({"username":"alice","password":"wrong-password-x"})",
            "application/json");
  anon.Post("/api/v1/auth/login", R"({"username":"alice","password":"alice-password"})",
            "application/json");
  auto c = client();
  c.Put("/api/v1/settings/ui.theme", R"({"value":"dark"})", "application/json");
  c.Get("/api/v1/settings/ui.theme");        // reads are not audited
  anon.Delete("/api/v1/settings/ui.theme");  // refused, but audited
  auto records = wait_for_audit(*audit_, 4);
  ASSERT_EQ(records.size(), 4u);
  // Records are written just after each response, so requests on different connections
  // may land in either order: find each by what it was.
  auto find = [&](const std::string& verb, int status) -> const iam::AuditRecord& {
    for (const auto& r : records) {
      if (r.verb == verb && r.response_status == status) return r;
    }
    ADD_FAILURE() << "no audit record for " << verb << " " << status;
    return records[0];
  };
  EXPECT_EQ(find("login", 401).user, "alice");
  EXPECT_EQ(find("login", 200).user, "alice");
  const auto& update = find("update", 200);
  EXPECT_EQ(update.user, "root");
  EXPECT_EQ(update.resource_type, "settings");
  EXPECT_EQ(update.resource_name, "ui.theme");
  EXPECT_FALSE(update.request_id.empty());
  EXPECT_EQ(find("delete", 401).user, "");
  for (const auto& r : records) {
    EXPECT_EQ(r.request_summary.find("password-"), std::string::npos) << r.request_summary;
  }
  auto v = audit_->verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact);

  auto list = c.Get("/api/v1/audit?user=alice&page_size=1");
  ASSERT_EQ(list->status, 200) << list->body;
  EXPECT_EQ(body(list)["items"].size(), 1u);
  // Opaque: the next page starts after this one.
  ASSERT_TRUE(body(list)["next_page_token"].is_string());
  auto next = c.Get("/api/v1/audit?user=alice&page_size=1&page_token=" +
                    body(list)["next_page_token"].get<std::string>());
  ASSERT_EQ(next->status, 200) << next->body;
  EXPECT_GT(body(next)["items"][0]["seq"], body(list)["items"][0]["seq"]);
  auto jsonl = c.Get("/api/v1/audit?format=jsonl");
  EXPECT_EQ(jsonl->get_header_value("Content-Type"), "application/x-ndjson");
  EXPECT_GE(std::count(jsonl->body.begin(), jsonl->body.end(), '\n'), 4);
  expect_error(c.Get("/api/v1/audit?since=yesterday"), 400, "invalid_argument", "since");
  // By the answer's status and the request's source.
  auto refused = c.Get("/api/v1/audit?status=401");
  ASSERT_EQ(refused->status, 200) << refused->body;
  const Json refused_body = body(refused);  // the loop below must not walk a temporary
  ASSERT_EQ(refused_body["items"].size(), 2u) << refused->body;
  for (const auto& r : refused_body["items"]) EXPECT_EQ(r["response_status"], 401);
  EXPECT_EQ(body(c.Get("/api/v1/audit?source=127.0.0.1"))["items"].size(), 4u);
  EXPECT_EQ(body(c.Get("/api/v1/audit?source=10.9.9.9"))["items"].size(), 0u);
  expect_error(c.Get("/api/v1/audit?status=7"), 400, "invalid_argument", "status");
  // The chain's verdict, for the console; checking it is itself on record.
  auto verdict = c.Get("/api/v1/audit/verify");
  ASSERT_EQ(verdict->status, 200) << verdict->body;
  EXPECT_TRUE(body(verdict)["intact"].get<bool>());
  EXPECT_GE(body(verdict)["records"].get<int64_t>(), 4);
  EXPECT_TRUE(body(verdict)["first_bad_seq"].is_null());
  EXPECT_EQ(wait_for_audit(*audit_, 5).back().verb, "verify");
  httplib::Client regular("127.0.0.1", server_->port());
  regular.set_bearer_token_auth(user_token_);
  expect_error(regular.Get("/api/v1/audit"), 403, "permission_denied", "platform-admin");
  expect_error(regular.Get("/api/v1/audit/verify"), 403, "permission_denied", "platform-admin");
}

TEST_F(ServerTest, OpenApiDocumentMatchesTheRealRoutes) {
  expect_error(client(false).Get("/api/v1/openapi.json"), 401, "unauthenticated", "Bearer");
  auto r = client().Get("/api/v1/openapi.json");
  ASSERT_EQ(r->status, 200);
  Json doc = body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const Json& paths = doc["paths"];
  int operations = 0;
  for (auto& [path, methods] : paths.items()) {
    for (auto& [method, op] : methods.items()) {
      // Every documented operation is routed: an answer other than "no such endpoint".
      std::string concrete = path;
      for (size_t at; (at = concrete.find('{')) != std::string::npos;) {
        size_t end = concrete.find('}', at);
        std::string name = concrete.substr(at + 1, end - at - 1);
        concrete.replace(at, end - at + 1,
                         name == "id" ? "tok_00000000000000000000000000" : "zz-missing");
      }
      auto c = client();
      httplib::Result res = method == "get"    ? c.Get(concrete)
                            : method == "post" ? c.Post(concrete, "{}", "application/json")
                            : method == "put"  ? c.Put(concrete, "{}", "application/json")
                                               : c.Delete(concrete);
      ASSERT_TRUE(res) << method << " " << concrete;
      EXPECT_EQ(res->body.find("no such endpoint"), std::string::npos)
          << method << " " << path << " is documented but not served: " << res->body;
      if (path.find('{') != std::string::npos) {
        EXPECT_TRUE(op.contains("parameters")) << path;
      }
      ++operations;
    }
  }
  EXPECT_GE(operations, 30);
  // The public operations are marked as such; the rest need the bearer token.
  EXPECT_TRUE(paths["/healthz"]["get"]["security"].empty());
  EXPECT_TRUE(paths["/api/v1/auth/login"]["post"]["security"].empty());
  EXPECT_FALSE(paths["/api/v1/settings"]["get"].contains("security"));
  // An undocumented path is not served.
  EXPECT_FALSE(paths.contains("/api/v1/nothing"));
}

TEST_F(ServerTest, ListsPageByNameWithStableTokens) {
  auto c = client();
  for (const char* name : {"ws-e", "ws-b", "ws-d", "ws-a", "ws-c"}) {
    ASSERT_EQ(
        c.Post("/api/v1/workspaces", json::dump({{"name", name}}), "application/json")->status,
        201);
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string path = "/api/v1/workspaces?page_size=2";
    if (!token.empty()) path += "&page_token=" + token;
    auto r = c.Get(path);
    ASSERT_EQ(r->status, 200) << r->body;
    Json page = body(r);
    EXPECT_LE(page["items"].size(), 2u);
    for (const auto& w : page["items"]) seen.push_back(w["name"]);
    token = page["next_page_token"].is_string() ? page["next_page_token"].get<std::string>() : "";
    ++pages;
    // A workspace added behind the cursor does not shift later pages.
    if (pages == 1) {
      c.Post("/api/v1/workspaces", R"({"name":"ws-0"})", "application/json");
    }
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"ws-a", "ws-b", "ws-c", "ws-d", "ws-e"}));
  EXPECT_EQ(pages, 3);
  expect_error(c.Get("/api/v1/workspaces?page_size=0"), 400, "invalid_argument", "page_size");
  expect_error(c.Get("/api/v1/users?page_size=many"), 400, "invalid_argument", "page_size");
}

// The schemas in the document hold for the real handlers: a body without a required
// field is refused naming that field, and list responses carry their documented fields.
TEST_F(ServerTest, OpenApiSchemasMatchTheHandlers) {
  auto c = client();
  ASSERT_EQ(c.Post("/api/v1/workspaces", R"({"name":"docws"})", "application/json")->status, 201);
  ASSERT_EQ(c.Post("/api/v1/workspaces/docws/projects", R"({"name":"docpr"})", "application/json")
                ->status,
            201);
  Json doc = body(c.Get("/api/v1/openapi.json"));
  const Json& schemas = doc["components"]["schemas"];
  auto resolve = [&](const Json& s) -> const Json& {
    if (s.contains("$ref")) {
      std::string name = s["$ref"].get<std::string>().substr(strlen("#/components/schemas/"));
      return schemas[name];
    }
    return s;
  };
  auto concrete = [](std::string path) {
    for (auto [from, to] : {std::pair<std::string, std::string>{"{workspace}", "docws"},
                            {"{project}", "docpr"},
                            {"{key}", "doc.key"},
                            {"{username}", "root"},
                            {"{token}", "tok_00000000000000000000000000"},
                            {"{run}", "doc-run"},
                            {"{suite}", "doc-suite"},
                            {"{competition}", "doc-comp"},
                            {"{cluster}", "local"},
                            {"{algorithm}", "doc-algo"},
                            {"{order}", "ord_00000000000000000000000000"},
                            {"{activation_code}", "acd_00000000000000000000000000"},
                            {"{download}", std::string(48, '0')}}) {
      for (size_t at; (at = path.find(from)) != std::string::npos;)
        path.replace(at, from.size(), to);
    }
    return path;
  };
  int bodies = 0, required_checked = 0, lists_checked = 0;
  for (auto& [path, methods] : doc["paths"].items()) {
    for (auto& [method, op] : methods.items()) {
      // Actions without a body (logout, unlock) document none.
      if ((method == "post" || method == "put") && op.contains("requestBody") &&
          op["requestBody"]["content"].contains("application/json")) {
        ++bodies;
        const Json& schema = resolve(op["requestBody"]["content"]["application/json"]["schema"]);
        if (!schema.contains("required")) continue;
        for (const auto& missing : schema["required"]) {
          Json b = Json::object();
          for (const auto& f : schema["required"]) {
            if (f != missing) b[f.get<std::string>()] = "x";
          }
          auto target = concrete(path);
          auto r = method == "post" ? c.Post(target, b.dump(), "application/json")
                                    : c.Put(target, b.dump(), "application/json");
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, 400)
              << method << " " << path << " without " << missing << ": " << r->body;
          EXPECT_NE(r->body.find("'" + missing.get<std::string>() + "'"), std::string::npos)
              << method << " " << path << ": the error should name " << missing << ": " << r->body;
          ++required_checked;
        }
      }
      if (method == "get" && op["responses"]["200"].contains("content")) {
        const Json& schema =
            resolve(op["responses"]["200"]["content"]["application/json"]["schema"]);
        if (!schema.contains("properties") || !schema["properties"].contains("items")) continue;
        auto r = c.Get(concrete(path));
        ASSERT_EQ(r->status, 200) << path << ": " << r->body;
        Json got = body(r);
        for (const auto& f : schema["required"]) {
          EXPECT_TRUE(got.contains(f.get<std::string>())) << path << " lacks " << f;
        }
        const Json& item_schema = resolve(schema["properties"]["items"]["items"]);
        for (const auto& item : got["items"]) {
          for (const auto& f : item_schema.value("required", Json::array())) {
            EXPECT_TRUE(item.contains(f.get<std::string>())) << path << " item lacks " << f;
          }
        }
        ++lists_checked;
      }
    }
  }
  EXPECT_GE(bodies, 8);
  EXPECT_GE(required_checked, 10);
  EXPECT_GE(lists_checked, 10);
}

TEST_F(ServerTest, UnknownRouteIsJson404) {
  expect_error(client().Get("/api/v1/nothing-here"), 404, "not_found", "GET /api/v1/nothing-here");
  expect_error(client().Get("/api/nothing"), 404, "not_found", "no such endpoint");
  // Other paths are the console's: without a built console a page says how to get one.
  auto page = client(false).Get("/nothing");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 503);
  EXPECT_NE(page->body.find("console is not built"), std::string::npos) << page->body;
  EXPECT_EQ(client(false).Get("/missing.js")->status, 404);
}

class ConsoleServerTest : public ServerTest {
 protected:
  void SetUp() override {
    const std::string dist = dir_.str() + "/console";
    std::filesystem::create_directories(dist + "/assets");
    ASSERT_TRUE(write_file(dist + "/index.html", "<!doctype html><title>console</title>").ok());
    ASSERT_TRUE(write_file(dist + "/assets/index-abc123.js", "console.log('hi')").ok());
    ASSERT_TRUE(write_file(dist + "/assets/index-abc123.js.gz", "GZIPPED").ok());
    ServerOptions o;
    o.console_dir = dist;
    start(o);
  }
};

TEST_F(ConsoleServerTest, ServesTheConsoleWithCachingCompressionAndAStrictPolicy) {
  auto c = client(false);
  for (const char* page : {"/", "/jobs", "/projects/p1/jobs/job_1"}) {
    auto r = c.Get(page);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << page;
    EXPECT_EQ(r->body, "<!doctype html><title>console</title>") << page << ": deep links work";
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
    const std::string csp = r->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  }
  auto js = c.Get("/assets/index-abc123.js", {{"Accept-Encoding", "identity"}});
  EXPECT_EQ(js->body, "console.log('hi')");
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  httplib::Client raw("127.0.0.1", server_->port());
  raw.set_decompress(false);
  auto gz = raw.Get("/assets/index-abc123.js", {{"Accept-Encoding", "gzip, br"}});
  EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(gz->body, "GZIPPED");
  EXPECT_EQ(c.Get("/assets/index-other.js")->status, 404) << "a missing file is not the page";
  EXPECT_EQ(c.Get("/assets/index-abc123.js.gz")->status, 404) << "only as an encoding";
  // The API keeps its own answers under the console.
  expect_error(c.Get("/api/v1/auth/whoami"), 401, "unauthenticated", "Bearer");
}

TEST_F(ServerTest, SettingsRoundTrip) {
  auto c = client();
  auto put = c.Put("/api/v1/settings/ui.banner", R"({"value":{"en":"hi","zh":"你好"}})",
                   "application/json");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(body(put)["revision"], 1);
  auto get = c.Get("/api/v1/settings/ui.banner");
  EXPECT_EQ(body(get)["value"]["zh"], "你好");
  auto list = c.Get("/api/v1/settings?page_size=10");
  EXPECT_EQ(body(list)["items"].size(), 1u);
  EXPECT_TRUE(body(list)["next_page_token"].is_null());
  EXPECT_EQ(c.Delete("/api/v1/settings/ui.banner")->status, 204);
  expect_error(c.Get("/api/v1/settings/ui.banner"), 404, "not_found", "ui.banner");
}

TEST_F(ServerTest, BadInputIsA400NamingTheProblemAndStoresNothing) {
  auto c = client();
  ASSERT_EQ(c.Put("/api/v1/settings/keep", R"({"value":1})", "application/json")->status, 200);
  expect_error(c.Put("/api/v1/settings/keep", R"({"value":)", "application/json"), 400,
               "invalid_argument", "request body is not valid JSON");
  expect_error(c.Put("/api/v1/settings/keep", R"({"valu":2})", "application/json"), 400,
               "invalid_argument", "field 'value'");
  expect_error(c.Put("/api/v1/settings/Bad%20Key", R"({"value":2})", "application/json"), 400,
               "invalid_argument", "position 1");
  expect_error(c.Get("/api/v1/settings?page_size=0"), 400, "invalid_argument", "page_size");
  EXPECT_EQ(body(c.Get("/api/v1/settings/keep"))["value"], 1);
}

TEST_F(ServerTest, MetricsCountByRoutePatternAndStatus) {
  auto c = client();
  c.Get("/healthz");
  c.Get("/api/v1/settings/a");
  c.Get("/api/v1/settings/b");
  client(false).Get("/api/v1/version");
  // cpp-httplib records a request (its logger hook) just after writing the response, so
  // the last request of another connection may not be counted yet: poll briefly.
  const std::vector<std::string> wanted = {
      "jizhan_http_requests_total{method=\"GET\",route=\"/api/v1/settings/{key}\",status=\"404\"} "
      "2",
      "jizhan_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
      "route=\"unmatched\",status=\"401\"} 1"};
  std::string t;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto r = c.Get("/metrics");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    t = r->body;
    bool all = true;
    for (const auto& w : wanted) all = all && t.find(w) != std::string::npos;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& w : wanted) EXPECT_NE(t.find(w), std::string::npos) << w << "\n" << t;
  EXPECT_EQ(t.find("/api/v1/settings/a\""), std::string::npos) << "raw paths must not be labels";
}

class SmallBodyServerTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.max_body_bytes = 1024;
    start(o);
  }
};

TEST_F(SmallBodyServerTest, OversizedBodyIsA413Json) {
  std::string big = R"({"value":")" + std::string(4096, 'x') + R"("})";
  expect_error(client().Put("/api/v1/settings/big", big, "application/json"), 413,
               "resource_exhausted", "server.max_body_bytes");
  EXPECT_EQ(client().Get("/api/v1/settings/big")->status, 404);
}

TEST_F(ServerTest, StopLetsARequestInFlightFinish) {
  // A PUT whose body arrives slowly is in flight when stop() is called.
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(admin_token_);
  const std::string payload = R"({"value":"slow"})";
  std::atomic<bool> started{false};
  std::thread stopper([&] {
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server_->stop();
  });
  auto r = c.Put(
      "/api/v1/settings/inflight", payload.size(),
      [&](size_t offset, size_t length, httplib::DataSink& sink) {
        started = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        sink.write(payload.data() + offset, std::min<size_t>(length, 4));
        return true;
      },
      "application/json");
  stopper.join();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  thread_.join();
  EXPECT_TRUE(run_status_.ok());
  server_.reset();
  // Stopped: new connections are refused.
  httplib::Client after("127.0.0.1", 1);
  EXPECT_FALSE(after.Get("/healthz"));
}

TEST_F(ServerTest, ListenBacklogHoldsABurstOfConnections) {
  // cpp-httplib's own backlog of 5 dropped SYNs under bursts of reconnects, costing
  // clients one-second retransmits (seen as p99 ~1 s in bench/http). `ss` shows a
  // listening socket's backlog in the Send-Q column.
  auto r = run_subprocess({.argv = {"ss", "-Hltn", "sport = :" + std::to_string(server_->port())}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::istringstream in(r->out);
  std::string state, recv_q, send_q;
  in >> state >> recv_q >> send_q;
  EXPECT_EQ(state, "LISTEN") << r->out;
  EXPECT_EQ(send_q, "1024") << r->out;
}

TEST(ListenAddressTest, ParsesAndRejects) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(parse_listen_address("127.0.0.1:8080", host, port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  EXPECT_TRUE(parse_listen_address("[::1]:9", host, port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_TRUE(parse_listen_address(":80", host, port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  for (const char* bad : {"8080", "host:", "host:99999", "host:8o", "::1:80"}) {
    Status s = parse_listen_address(bad, host, port);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("use HOST:PORT"), std::string::npos);
  }
}

}  // namespace
}  // namespace jz::api
