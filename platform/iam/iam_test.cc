// Accounts, logins and the first admin, on SQLite and on a real PostgreSQL.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>

#include "platform/iam/authenticator.h"
#include "platform/iam/bootstrap.h"
#include "platform/iam/quota.h"
#include "platform/iam/tenancy.h"
#include "tests/support/test_database.h"

namespace jz::iam {
namespace {

TEST(PasswordsTest, HashVerifyAndPolicy) {
  auto h = hash_password("correct horse battery", HashCost::kMinimum);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
  EXPECT_TRUE(verify_password(*h, "correct horse battery"));
  EXPECT_FALSE(verify_password(*h, "correct horse batterY"));
  EXPECT_FALSE(verify_password("garbage", "x"));
  EXPECT_NE(*h, *hash_password("correct horse battery", HashCost::kMinimum)) << "salted";
  EXPECT_NE(check_password_policy("short").message().find("at least 12"), std::string::npos);
  EXPECT_FALSE(check_password_policy(std::string(300, 'x')).ok());
  EXPECT_FALSE(check_password_policy("twelve chars\n!").ok());
  EXPECT_TRUE(check_password_policy("twelve chars").ok());
  EXPECT_EQ(random_password().size(), 20u);
  EXPECT_NE(random_password(), random_password());
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class IamTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    accounts_ = std::make_unique<Accounts>(*db_, clock_, ids_);
    AuthOptions opts;
    opts.hash_cost = HashCost::kMinimum;
    opts.lockout_threshold = 3;
    auth_ = std::make_unique<Authenticator>(*accounts_, clock_, opts);
  }

  User make_user(const std::string& name, const std::string& password) {
    User u;
    u.username = name;
    u.password_hash = *hash_password(password, HashCost::kMinimum);
    auto created = accounts_->create_user(u);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return created.value_or(User{});
  }

  testing::TempDir dir_;
  FakeClock clock_;
  SeededRandom rng_{7};
  IdGenerator ids_{clock_, rng_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_P(IamTest, UsernamesAreValidatedAndUnique) {
  make_user("alice", "alice-password-1");
  User dup;
  dup.username = "alice";
  EXPECT_EQ(accounts_->create_user(dup).status().code(), Code::kAlreadyExists);
  for (const char* bad : {"", "Alice", "-alice", "al ice", "al/ice"}) {
    User u;
    u.username = bad;
    auto r = accounts_->create_user(u);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("username"), std::string::npos);
  }
  User role;
  role.username = "bob";
  role.platform_role = "root";
  EXPECT_NE(accounts_->create_user(role).status().message().find("platform_role"),
            std::string::npos);
  EXPECT_EQ(*accounts_->count_users(), 1);
}

TEST_P(IamTest, LoginIssuesATokenThatAuthenticates) {
  User alice = make_user("alice", "alice-password-1");
  auto login = auth_->login("alice", "alice-password-1");
  ASSERT_TRUE(login.ok()) << login.status().to_string();
  EXPECT_EQ(login->token.rfind("jzt_", 0), 0u);
  EXPECT_EQ(login->expires_at_ms, clock_.now_unix_ms() + 12 * 3600 * 1000);
  auto p = auth_->authenticate(login->token);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->user_id, alice.id);
  EXPECT_EQ(p->username, "alice");
  EXPECT_FALSE(p->is_platform_admin());
  EXPECT_EQ(p->token_kind, "session");
}

TEST_P(IamTest, TokensExpireAndCanBeRevoked) {
  User alice = make_user("alice", "alice-password-1");
  auto login = auth_->login("alice", "alice-password-1");
  ASSERT_TRUE(login.ok());
  clock_.advance(std::chrono::hours(13));
  EXPECT_EQ(auth_->authenticate(login->token).status().code(), Code::kUnauthenticated);

  Token t;
  auto api =
      accounts_->issue_token(alice.id, "api", "ci", "proj-a", clock_.now_unix_ms() + 60000, &t);
  ASSERT_TRUE(api.ok());
  auto p = auth_->authenticate(*api);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->project_scope, "proj-a");
  ASSERT_TRUE(accounts_->revoke_token(t.id).ok());
  clock_.advance(auth_->options().token_cache);  // past the authenticator's cache
  EXPECT_EQ(auth_->authenticate(*api).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(accounts_->revoke_token(t.id).code(), Code::kNotFound);
  // Malformed and unknown secrets get the same answer as revoked ones.
  EXPECT_EQ(auth_->authenticate("nope").status().message(),
            auth_->authenticate(*api).status().message());
}

TEST_P(IamTest, CachedTokensHonourLogoutAtOnceAndOtherRevocationsWithinTheCacheTime) {
  User alice = make_user("alice", "alice-password-1");
  auto a = auth_->login("alice", "alice-password-1");
  auto b = auth_->login("alice", "alice-password-1");
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = auth_->authenticate(a->token);
  auto pb = auth_->authenticate(b->token);
  ASSERT_TRUE(pa.ok() && pb.ok());
  // Logout through the authenticator: refused at once.
  ASSERT_TRUE(auth_->logout(*pa).ok());
  EXPECT_EQ(auth_->authenticate(a->token).status().code(), Code::kUnauthenticated);
  // Revoked behind its back (another server): trusted until the cache time runs out.
  ASSERT_TRUE(accounts_->revoke_token(pb->token_id).ok());
  EXPECT_TRUE(auth_->authenticate(b->token).ok());
  clock_.advance(auth_->options().token_cache + std::chrono::milliseconds(1));
  EXPECT_EQ(auth_->authenticate(b->token).status().code(), Code::kUnauthenticated);
}

TEST_P(IamTest, CacheNeverOutlivesTheToken) {
  User alice = make_user("alice", "alice-password-1");
  auto t = accounts_->issue_token(alice.id, "api", "short", "", clock_.now_unix_ms() + 2000);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(auth_->authenticate(*t).ok());
  clock_.advance(std::chrono::milliseconds(2001));
  EXPECT_EQ(auth_->authenticate(*t).status().code(), Code::kUnauthenticated);
}

// Issue 17, item 12: five failures locked a real user ("account is now locked") while an
// unknown user got a plain 401 forever (a user-existence oracle), and anyone could lock
// any account, admin included.
TEST_P(IamTest, FailedLoginsThrottleTheNameAndAddressNotTheAccount) {
  make_user("alice", "alice-password-1");
  // Known and unknown names get the same answers, all the way into the throttle.
  for (const char* name : {"alice", "nobody"}) {
    const std::string from = name == std::string("alice") ? "10.0.0.9" : "10.0.0.8";
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(auth_->login(name, "wrong-password-x", from).status().message(),
                "invalid username or password")
          << name;
    }
    auto third = auth_->login(name, "wrong-password-x", from);
    EXPECT_EQ(third.status().message(), "invalid username or password") << name;
    auto fourth = auth_->login(name, "wrong-password-x", from);
    EXPECT_EQ(fourth.status().code(), Code::kResourceExhausted) << name;
    EXPECT_EQ(fourth.status().message(),
              "too many failed logins for this user from this address; try again in 1 s (a "
              "platform admin can clear them)")
        << name;
  }
  // The attacker's address waits; alice, from her own, logs in.
  EXPECT_EQ(auth_->login("alice", "alice-password-1", "10.0.0.9").status().code(),
            Code::kResourceExhausted);
  ASSERT_TRUE(auth_->login("alice", "alice-password-1", "192.168.1.2").ok());
  // Each further failure doubles the wait, up to the lockout time.
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(auth_->login("alice", "wrong-password-x", "10.0.0.9").status().code(),
            Code::kUnauthenticated);
  auto wait = auth_->login("alice", "wrong-password-x", "10.0.0.9");
  EXPECT_NE(wait.status().message().find("try again in 2 s"), std::string::npos)
      << wait.status().message();
  for (int k = 1; k <= 10; ++k) {
    clock_.advance(std::chrono::milliseconds(std::min(1000 << k, 900000)));
    EXPECT_EQ(auth_->login("alice", "wrong-password-x", "10.0.0.9").status().code(),
              Code::kUnauthenticated)
        << k;
  }
  auto capped = auth_->login("alice", "wrong-password-x", "10.0.0.9");
  EXPECT_NE(capped.status().message().find("try again in 900 s"), std::string::npos)
      << capped.status().message();
  // An admin clears the name's counts; the right password works at once.
  auth_->unlock("alice");
  ASSERT_TRUE(auth_->login("alice", "alice-password-1", "10.0.0.9").ok());
  // One address guessing many names waits for all of them.
  for (int i = 0; i < 15; ++i) {
    (void)auth_->login("user" + std::to_string(i), "wrong-password-x", "10.0.0.66");
  }
  auto spray = auth_->login("alice", "alice-password-1", "10.0.0.66");
  EXPECT_EQ(spray.status().code(), Code::kResourceExhausted);
  EXPECT_NE(spray.status().message().find("from this address"), std::string::npos);
  EXPECT_TRUE(auth_->login("alice", "alice-password-1", "10.0.0.67").ok());
}

TEST_P(IamTest, BootstrapCreatesAdminOnceWithPrivateFiles) {
  auto r = bootstrap_admin(*accounts_, clock_, dir_.str(), std::nullopt, HashCost::kMinimum,
                           std::chrono::hours(24));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->created);
  EXPECT_TRUE(r->password_generated);
  std::string password, token;
  std::ifstream(dir_.str() + "/initial-admin-password") >> password;
  std::ifstream(dir_.str() + "/admin-token") >> token;
  for (const char* f : {"/initial-admin-password", "/admin-token"}) {
    struct stat st {};
    ASSERT_EQ(stat((dir_.str() + f).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  auto login = auth_->login("admin", password);
  ASSERT_TRUE(login.ok()) << login.status().to_string();
  EXPECT_TRUE(login->user.platform_role == kPlatformAdmin);
  auto p = auth_->authenticate(token);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->is_platform_admin());
  EXPECT_EQ(p->token_kind, "api");
  // A second start changes nothing.
  auto again = bootstrap_admin(*accounts_, clock_, dir_.str(), std::string("another-password-9"),
                               HashCost::kMinimum, std::chrono::hours(24));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_TRUE(auth_->login("admin", password).ok());
}

TEST_P(IamTest, BootstrapTakesThePasswordFromTheEnvironmentAndChecksIt) {
  auto weak = bootstrap_admin(*accounts_, clock_, dir_.str(), std::string("short"),
                              HashCost::kMinimum, std::chrono::hours(24));
  EXPECT_NE(weak.status().message().find("JIZHAN_ADMIN_PASSWORD"), std::string::npos);
  EXPECT_EQ(*accounts_->count_users(), 0) << "nothing stored on bad input";
  auto r = bootstrap_admin(*accounts_, clock_, dir_.str(), std::string("admin-password-from-env"),
                           HashCost::kMinimum, std::chrono::hours(24));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->password_generated);
  EXPECT_FALSE(std::ifstream(dir_.str() + "/initial-admin-password").good());
  EXPECT_TRUE(auth_->login("admin", "admin-password-from-env").ok());
}

INSTANTIATE_TEST_SUITE_P(Dialects, IamTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::iam

namespace jz::iam {
namespace {

class TenancyTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    accounts_ = std::make_unique<Accounts>(*db_, clock_, ids_);
    tenancy_ = std::make_unique<Tenancy>(*db_, clock_, ids_);
    for (const char* name : {"alice", "bob"}) {
      User u;
      u.username = name;
      u.password_hash = "x";
      auto created = accounts_->create_user(u);
      ASSERT_TRUE(created.ok());
      principal_[name] =
          Principal{created->id, name, std::string(kPlatformRegular), "tok", "api", ""};
    }
  }

  testing::TempDir dir_;
  FakeClock clock_;
  SeededRandom rng_{11};
  IdGenerator ids_{clock_, rng_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Tenancy> tenancy_;
  std::map<std::string, Principal> principal_;
};

TEST_P(TenancyTest, WorkspacesProjectsAndMembers) {
  ASSERT_TRUE(tenancy_->create_workspace("acme", "Acme Corp").ok());
  EXPECT_EQ(tenancy_->create_workspace("acme", "").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(tenancy_->create_workspace("Acme", "").status().code(), Code::kInvalidArgument);
  auto p = tenancy_->create_project("acme", "vision", "", principal_["alice"].user_id);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->workspace, "acme");
  EXPECT_EQ(*tenancy_->role_of("project", p->id, principal_["alice"].user_id), "project-admin");
  ASSERT_TRUE(tenancy_->create_workspace("other", "").ok());
  EXPECT_EQ(tenancy_->create_project("other", "vision", "", "").status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(tenancy_->delete_workspace("acme").code(), Code::kFailedPrecondition);

  ASSERT_TRUE(tenancy_->add_member("project", p->id, "bob", "project-viewer").ok());
  ASSERT_TRUE(tenancy_->add_member("project", p->id, "bob", "project-developer").ok());  // change
  auto ms = tenancy_->members("project", p->id, {});
  ASSERT_EQ(ms->items.size(), 2u);
  EXPECT_EQ(ms->items.at(1).role, "project-developer");
  auto bob = tenancy_->member("project", p->id, "bob");
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->role, "project-developer");
  EXPECT_EQ(tenancy_->add_member("project", p->id, "bob", "workspace-admin").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tenancy_->add_member("project", p->id, "carol", "project-viewer").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tenancy_->remove_member("project", p->id, "carol").code(), Code::kNotFound);

  Authorizer authz(*tenancy_);
  EXPECT_TRUE(authz.check(principal_["bob"], "job", "create", p->workspace_id, &*p).ok());
  EXPECT_EQ(authz.check(principal_["bob"], "project_member", "create", p->workspace_id, &*p).code(),
            Code::kPermissionDenied);
  EXPECT_TRUE(
      authz.check(principal_["alice"], "project_member", "create", p->workspace_id, &*p).ok());
  ASSERT_TRUE(tenancy_->remove_member("project", p->id, "bob").ok());
  EXPECT_FALSE(authz.check(principal_["bob"], "job", "create", p->workspace_id, &*p).ok());

  ASSERT_TRUE(tenancy_->delete_project("vision").ok());
  EXPECT_TRUE(tenancy_->delete_workspace("acme").ok());
  EXPECT_EQ(tenancy_->workspace("acme").status().code(), Code::kNotFound);
}

TEST_P(TenancyTest, QuotasRoundTripAndRefuseLimitsBelowUse) {
  ASSERT_TRUE(tenancy_->create_workspace("acme", "").ok());
  auto p = tenancy_->create_project("acme", "vision", "", "");
  Quotas quotas(*db_, clock_);
  auto none = quotas.get(p->id);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->gpus_milli.has_value());
  auto q = Quota::from_json(Json::parse(R"({"gpus":0.5,"cpu_cores":12.25,"memory_mib":65536})"));
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  ASSERT_TRUE(quotas.set(p->id, *q).ok());
  auto back = quotas.get(p->id);
  EXPECT_EQ(back->gpus_milli, 500);
  EXPECT_EQ(back->cpu_milli, 12250);
  EXPECT_EQ(back->memory_mib, 65536);
  EXPECT_FALSE(back->concurrent_jobs.has_value());
  Quota lower = *q;
  lower.gpus_milli = 250;
  Status s = quotas.set(p->id, lower, QuotaUse{.gpus_milli = 500});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("field 'gpus'"), std::string::npos) << s.message();
  EXPECT_EQ(quotas.get(p->id)->gpus_milli, 500) << "a refused change stores nothing";
  ASSERT_TRUE(tenancy_->delete_project("vision").ok());
  EXPECT_FALSE(quotas.get(p->id)->gpus_milli.has_value()) << "deleted with its project";
}

TEST(QuotaJsonTest, MessagesNameTheField) {
  auto msg = [](const char* text) {
    return Quota::from_json(Json::parse(text)).status().message();
  };
  EXPECT_NE(msg(R"({"gpus":-1})").find("'gpus' must be zero or more"), std::string::npos);
  EXPECT_NE(msg(R"({"gpus":true})").find("'gpus' must be a number"), std::string::npos);
  EXPECT_NE(msg(R"({"gpu_memory":1})").find("unknown quota field 'gpu_memory'"), std::string::npos);
  EXPECT_NE(msg(R"({"memory_mib":1.5})").find("'memory_mib' must be a whole number"),
            std::string::npos);
  EXPECT_NE(msg(R"({"gpus":0.0005})").find("three decimal places"), std::string::npos);
  EXPECT_NE(msg(R"({"gpus":1,"per_user_gpus":1.5})").find("per_user_gpus"), std::string::npos);
  auto q = Quota::from_json(Json::parse(R"({"gpus":null,"per_user_gpus":0.25})"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->to_json()["per_user_gpus"], 0.25);
  EXPECT_TRUE(q->to_json()["gpus"].is_null());
}

TEST_P(TenancyTest, BuiltInRolesAreData) {
  auto roles = tenancy_->roles({});
  ASSERT_TRUE(roles.ok());
  std::set<std::string> names;
  for (const auto& r : roles->items) names.insert(r.name);
  for (const char* n :
       {"platform-admin", "platform-regular", "workspace-admin", "workspace-regular",
        "workspace-viewer", "project-admin", "project-developer", "project-viewer", "data-owner"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  auto owner = tenancy_->role("data-owner");
  EXPECT_TRUE(grants(owner->permissions, "dataset_data", "get"));
  auto dev = tenancy_->role("project-developer");
  EXPECT_FALSE(grants(dev->permissions, "dataset_data", "get")) << "developers never see raw data";
  EXPECT_TRUE(grants(dev->permissions, "job", "delete"));
}

INSTANTIATE_TEST_SUITE_P(Dialects, TenancyTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::iam
