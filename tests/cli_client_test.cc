// End-to-end tests of the command-line client: `jizhan login`, user, workspace,
// project, member, role, token, quota, audit and events commands against a real
// server over HTTP, each run as the user would run the binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {
namespace {

constexpr char kAdminPassword[] = "correct-horse-battery-9";

class CliClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s =
        ServerProcess::start(dir_.str() + "/data", {}, {{"JIZHAN_ADMIN_PASSWORD", kAdminPassword}});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(*s);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  // Runs `jizhan ARGS` as the user whose config folder is `who` (default: admin's).
  SubprocessResult cli(std::vector<std::string> args, const std::optional<std::string>& input = {},
                       const std::string& who = "admin",
                       std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), jizhan_binary());
    env["JIZHAN_CONFIG_DIR"] = config_dir(who);
    env["JIZHAN_TOKEN"] = env.count("JIZHAN_TOKEN") ? env["JIZHAN_TOKEN"] : "";
    env["JIZHAN_SERVER"] = "";
    auto r = run_subprocess({.argv = args,
                             .env = env,
                             .stdin_data = input.value_or(""),
                             .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SubprocessResult{};
  }
  // Runs a command that must succeed and returns its standard output.
  std::string ok(std::vector<std::string> args, const std::optional<std::string>& input = {},
                 const std::string& who = "admin") {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    auto r = cli(std::move(args), input, who);
    EXPECT_EQ(r.exit_code, 0) << shown << "\nstderr: " << r.err;
    return r.out;
  }
  Json ok_json(std::vector<std::string> args, const std::string& who = "admin") {
    args.push_back("-o");
    args.push_back("json");
    std::string out = ok(args, std::nullopt, who);
    Json j = Json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
  std::string config_dir(const std::string& who) { return dir_.str() + "/config-" + who; }
  void login(const std::string& who, const std::string& password) {
    ok({"login", "--server", url_, "-u", who}, password + "\n", who);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string url_;
};

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST_F(CliClientTest, LoginKeepsTheTokenPrivatelyAndLogoutEndsTheSession) {
  login("admin", kAdminPassword);
  const std::string file = config_dir("admin") + "/credentials.json";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(config_dir("admin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  EXPECT_FALSE(contains(text.str(), kAdminPassword)) << "the password must not be stored";
  Json cred = Json::parse(text.str());
  const std::string token = cred["token"];
  EXPECT_EQ(cred["server"], url_);

  Json me = ok_json({"whoami"});
  EXPECT_EQ(me["username"], "admin");
  EXPECT_EQ(me["token"]["kind"], "session");

  EXPECT_TRUE(contains(ok({"logout"}), "Logged out"));
  EXPECT_NE(::stat(file.c_str(), &st), 0) << "logout removes the stored token";
  // The old token no longer works on the server either.
  auto r = cli({"whoami", "--server", url_}, std::nullopt, "admin", {{"JIZHAN_TOKEN", token}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "jizhan login")) << r.err;
}

TEST_F(CliClientTest, WrongPasswordStoresNothing) {
  auto r = cli({"login", "--server", url_, "-u", "admin"}, std::string("wrong-password\n"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "jizhan login: error:")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  struct stat st {};
  EXPECT_NE(::stat((config_dir("admin") + "/credentials.json").c_str(), &st), 0);
  // And without a login, commands say how to log in.
  auto w = cli({"workspace", "list", "--server", url_});
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_TRUE(contains(w.err, "not logged in")) << w.err;
  EXPECT_TRUE(contains(w.err, "jizhan login")) << w.err;
}

TEST_F(CliClientTest, UnreachableServerIsAClearError) {
  auto r = cli({"login", "--server", "127.0.0.1:1", "-u", "admin"}, std::string("x\n"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "cannot reach the Jizhan server at http://127.0.0.1:1")) << r.err;
  auto bad = cli({"login", "--server", "https://example.org", "-u", "admin"}, std::string("x\n"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "https is not supported")) << bad.err;
}

TEST_F(CliClientTest, TenancyQuotaTokenAuditAndEventsThroughTheCli) {
  login("admin", kAdminPassword);
  ok({"workspace", "create", "vision", "--description", "Vision team"});
  ok({"workspace", "create", "other"});
  ok({"project", "create", "cars", "-w", "vision"});
  ok({"project", "create", "secret-stuff", "-w", "other"});
  ok({"user", "create", "alice", "--email", "alice@example.org"},
     std::string("alice-password-1\nalice-password-1\n"));
  ok({"member", "add", "alice", "-r", "project-developer", "-p", "cars"});
  EXPECT_TRUE(contains(ok({"user", "unlock", "alice"}), "Cleared the failed logins of alice"));
  // Dataset roots: assigned, listed, taken away.
  TempDir root;
  ok({"workspace", "roots", "add", "vision", root.str()});
  EXPECT_TRUE(contains(ok({"workspace", "roots", "list", "vision"}), root.str()));
  EXPECT_TRUE(contains(ok({"workspace", "roots", "remove", "vision", root.str()}), "Removed root"));
  EXPECT_FALSE(contains(ok({"workspace", "roots", "list", "vision"}), root.str()));

  Json members = ok_json({"member", "list", "-p", "cars"});
  ASSERT_TRUE(members.is_array());
  bool found = false;
  for (const auto& m : members)
    found |= m["username"] == "alice" && m["role"] == "project-developer";
  EXPECT_TRUE(found) << members.dump();
  std::string table = ok({"member", "list", "--project", "cars"});
  EXPECT_TRUE(contains(table, "USERNAME")) << table;
  EXPECT_TRUE(contains(table, "project-developer")) << table;

  // Quotas: set merges with what is stored; values are validated by the server.
  ok({"quota", "set", "cars", "--gpus", "2.5", "--concurrent-jobs", "4"});
  ok({"quota", "set", "cars", "--per-user-gpus", "1"});
  Json q = ok_json({"quota", "get", "cars"});
  EXPECT_EQ(q["gpus"], 2.5);
  EXPECT_EQ(q["concurrent_jobs"], 4);
  EXPECT_EQ(q["per_user_gpus"], 1.0);
  EXPECT_TRUE(q["memory_mib"].is_null());
  auto too_many = cli({"quota", "set", "cars", "--per-user-gpus", "3"});
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_TRUE(contains(too_many.err, "per_user_gpus")) << too_many.err;
  auto not_number = cli({"quota", "set", "cars", "--gpus", "many"});
  EXPECT_EQ(not_number.exit_code, 1);
  EXPECT_TRUE(contains(not_number.err, "--gpus 'many'")) << not_number.err;
  EXPECT_EQ(ok_json({"quota", "get", "cars"}), q) << "a refused change leaves the quota as it was";

  // Bad input names the field; nothing changes.
  auto bad_role = cli({"member", "add", "alice", "-r", "project-boss", "-p", "cars"});
  EXPECT_EQ(bad_role.exit_code, 1);
  EXPECT_TRUE(contains(bad_role.err, "'role'")) << bad_role.err;
  auto dup = cli({"project", "create", "cars", "-w", "other"});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_TRUE(contains(dup.err, "cars")) << dup.err;
  auto no_scope = cli({"member", "list"});
  EXPECT_EQ(no_scope.exit_code, 1);
  EXPECT_TRUE(contains(no_scope.err, "--workspace")) << no_scope.err;

  Json roles = ok_json({"role", "list"});
  std::set<std::string> role_names;
  for (const auto& r : roles) role_names.insert(r["name"]);
  for (const char* r : {"platform-admin", "workspace-admin", "project-developer", "data-owner"}) {
    EXPECT_TRUE(role_names.count(r)) << r;
  }

  // Alice sees her project and not the other tenant's.
  login("alice", "alice-password-1");
  Json alice_projects = ok_json({"project", "list"}, "alice");
  ASSERT_EQ(alice_projects.size(), 1u) << alice_projects.dump();
  EXPECT_EQ(alice_projects[0]["name"], "cars");
  auto cross = cli({"project", "get", "secret-stuff"}, std::nullopt, "alice");
  EXPECT_EQ(cross.exit_code, 1);
  EXPECT_FALSE(contains(cross.out, "secret-stuff")) << cross.out;
  auto cross_quota = cli({"quota", "set", "secret-stuff", "--gpus", "100"}, std::nullopt, "alice");
  EXPECT_EQ(cross_quota.exit_code, 1);

  // A project-scoped API token works for its project only, and not after revocation.
  auto created =
      cli({"token", "create", "ci", "-p", "cars", "--expires-in", "2h"}, std::nullopt, "alice");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string secret = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(secret.rfind("jzt_", 0), 0u) << created.out;
  EXPECT_TRUE(contains(created.err, "shown only now")) << created.err;
  auto with_token = [&](std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(url_);
    return cli(args, std::nullopt, "nobody", {{"JIZHAN_TOKEN", secret}});
  };
  EXPECT_EQ(with_token({"project", "get", "cars"}).exit_code, 0);
  EXPECT_EQ(with_token({"workspace", "create", "sneaky"}).exit_code, 1);
  Json tokens = ok_json({"token", "list"}, "alice");
  std::string token_id;
  for (const auto& t : tokens) {
    if (t["name"] == "ci") token_id = t["id"];
  }
  ASSERT_FALSE(token_id.empty()) << tokens.dump();
  EXPECT_FALSE(contains(tokens.dump(), secret)) << "token lists never show secrets";
  ok({"token", "revoke", token_id}, std::nullopt, "alice");
  EXPECT_EQ(with_token({"project", "get", "cars"}).exit_code, 1);

  // Events of the project, oldest first.
  Json events = ok_json({"events", "list", "cars"});
  std::vector<std::string> reasons;
  for (const auto& e : events) reasons.push_back(e["reason"]);
  ASSERT_GE(reasons.size(), 4u);
  EXPECT_EQ(reasons[0], "ProjectCreated");
  EXPECT_EQ(reasons[1], "MemberAdded");
  EXPECT_EQ(reasons[2], "QuotaChanged");

  // Audit: filtered list, and an export that matches the API page for page.
  Json creates = ok_json({"audit", "list", "--verb", "create", "--limit", "1000"});
  ASSERT_GE(creates.size(), 6u);
  for (const auto& r : creates) EXPECT_EQ(r["verb"], "create");
  Json member_add = nullptr;
  for (const auto& r : creates) {
    if (r["resource_type"] == "members") member_add = r;
  }
  ASSERT_FALSE(member_add.is_null());
  EXPECT_EQ(member_add["resource_name"], "alice") << "the audit names the member, not the project";
  EXPECT_EQ(member_add["project"], "cars");
  auto alice_audit = cli({"audit", "list"}, std::nullopt, "alice");
  EXPECT_EQ(alice_audit.exit_code, 1) << "only platform admins read the audit trail";

  const std::string out = dir_.str() + "/audit.jsonl";
  ok({"audit", "export", "--out", out, "--since", "1h"});
  std::ifstream in(out);
  int lines = 0;
  int64_t last_seq = 0;
  for (std::string line; std::getline(in, line);) {
    Json r = Json::parse(line);
    EXPECT_GT(r["seq"].get<int64_t>(), last_seq);
    last_seq = r["seq"];
    ++lines;
  }
  EXPECT_GE(lines, static_cast<int>(creates.size()));
  auto bad_since = cli({"audit", "export", "--since", "last tuesday"});
  EXPECT_EQ(bad_since.exit_code, 1);
  EXPECT_TRUE(contains(bad_since.err, "--since")) << bad_since.err;
}

TEST_F(CliClientTest, AccountsAndCustomRolesThroughTheCli) {
  login("admin", kAdminPassword);
  ok({"user", "create", "bob"}, std::string("bob-password-123\n"));
  login("bob", "bob-password-123");
  // Disabled: bob's stored session stops at once; enabled, it works again.
  EXPECT_TRUE(contains(ok({"user", "disable", "bob"}), "disabled"));
  auto refused = cli({"token", "list"}, std::nullopt, "bob");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(contains(ok({"user", "enable", "bob"}), "active"));
  ok({"token", "list"}, std::nullopt, "bob");
  // His own password: the current one, then the new one; the old one signs in no more.
  auto wrong =
      cli({"user", "password"}, std::string("not-his-password\nbob-new-password-1\n"), "bob");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_TRUE(contains(wrong.err, "current password is wrong")) << wrong.err;
  EXPECT_TRUE(contains(
      ok({"user", "password"}, std::string("bob-password-123\nbob-new-password-1\n"), "bob"),
      "other sessions ended"));
  EXPECT_NE(cli({"login", "--server", url_, "-u", "bob"}, std::string("bob-password-123\n"), "bob")
                .exit_code,
            0);
  login("bob", "bob-new-password-1");
  // An admin sets it; bob may not set the admin's.
  ok({"user", "password", "bob"}, std::string("set-by-admin-123\n"));
  login("bob", "set-by-admin-123");
  auto not_his = cli({"user", "password", "admin"}, std::string("x-x-x-x-x-x-x-x\n"), "bob");
  EXPECT_NE(not_his.exit_code, 0);
  EXPECT_TRUE(contains(not_his.err, "only platform admins")) << not_his.err;
  // A custom role, listed, then deleted.
  ok({"role", "create", "labeler", "--permission", "job:get", "--permission", "job:list"});
  EXPECT_TRUE(contains(ok({"role", "list"}), "labeler"));
  auto bad = cli({"role", "create", "typo", "--permission", "jobs:get"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.err, "RESOURCE:VERB")) << bad.err;
  EXPECT_TRUE(contains(ok({"role", "delete", "labeler"}), "Deleted role labeler"));
}

TEST_F(CliClientTest, EventsFollowStreamsNewEvents) {
  login("admin", kAdminPassword);
  ok({"workspace", "create", "vision"});
  ok({"project", "create", "cars", "-w", "vision"});
  ok({"user", "create", "bob"}, std::string("bob-password-12\nbob-password-12\n"));
  const std::string out = dir_.str() + "/follow.out";
  auto child = Child::spawn({.argv = {jizhan_binary(), "events", "list", "cars", "--follow"},
                             .env = {{"JIZHAN_CONFIG_DIR", config_dir("admin")},
                                     {"JIZHAN_TOKEN", ""},
                                     {"JIZHAN_SERVER", ""}},
                             .output_file = out});
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  auto read_out = [&] {
    std::stringstream ss;
    ss << std::ifstream(out).rdbuf();
    return ss.str();
  };
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 300 && !contains(read_out(), needle); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return contains(read_out(), needle);
  };
  EXPECT_TRUE(wait_for("ProjectCreated")) << read_out();
  ok({"member", "add", "bob", "-r", "project-viewer", "-p", "cars"});
  EXPECT_TRUE(wait_for("MemberAdded")) << read_out();
  EXPECT_TRUE(contains(read_out(), "user 'bob' is now project-viewer")) << read_out();
  child->signal(SIGTERM);
  child->wait();
}

// Jobs through the CLI: submit with --wait (exit status follows the job), list, logs,
// history, a failing job, cancel, retry, and a dataset mounted read-only.
TEST_F(CliClientTest, JobsAndDatasetsThroughTheCli) {
  login("admin", kAdminPassword);
  ok({"workspace", "create", "lab"});
  ok({"project", "create", "runs", "--workspace", "lab"});
  TempDir data;
  std::filesystem::permissions(data.path(), std::filesystem::perms(0755));
  { std::ofstream(data.str() + "/labels.txt") << "cat\ndog\n"; }
  ok({"dataset", "create", "runs", "labels", "--path", data.str(), "--level", "internal"});
  EXPECT_TRUE(contains(ok({"dataset", "list", "runs"}), "internal"));
  EXPECT_TRUE(contains(ok({"dataset", "files", "runs", "labels"}), "labels.txt"));
  // Versions: a snapshot, another after a change, their files, one deleted.
  Json v1 = ok_json({"dataset", "snapshot", "runs", "labels", "-m", "first", "--tag", "raw",
                     "--split", "train=0.5", "--split", "val=0.5"});
  EXPECT_EQ(v1["number"], 1);
  EXPECT_EQ(v1["files"], 1);
  EXPECT_EQ(v1["tags"]["raw"], 1);
  { std::ofstream(data.str() + "/more.txt") << "bird\n"; }
  Json v2 = ok_json({"dataset", "snapshot", "runs", "labels", "-m", "second"});
  EXPECT_EQ(v2["added"], 1);
  EXPECT_EQ(v2["new_bytes"], 5);
  const std::string versions = ok({"dataset", "versions", "runs", "labels"});
  EXPECT_TRUE(contains(versions, "second")) << versions;
  EXPECT_LT(versions.find("second"), versions.find("first")) << "newest first";
  const std::string vfiles =
      ok({"dataset", "version-files", "runs", "labels", "2", "--tag", "raw"});
  EXPECT_TRUE(contains(vfiles, "labels.txt")) << vfiles;
  EXPECT_FALSE(contains(vfiles, "more.txt")) << "the tag was on version 1's files only";
  auto bad_split = cli({"dataset", "snapshot", "runs", "labels", "--split", "train"});
  EXPECT_EQ(bad_split.exit_code, 1);
  EXPECT_TRUE(contains(bad_split.err, "must be NAME=SHARE")) << bad_split.err;
  // Archive and restore by hand; lifecycle rules from a file, their dry run, applying them.
  Json archived = ok_json({"dataset", "version-archive", "runs", "labels", "1"});
  EXPECT_FALSE(archived["archived_at"].is_null()) << archived;
  auto newest = cli({"dataset", "version-archive", "runs", "labels", "2"});
  EXPECT_EQ(newest.exit_code, 1);
  EXPECT_TRUE(contains(newest.err, "is the newest")) << newest.err;
  EXPECT_TRUE(
      ok_json({"dataset", "version-restore", "runs", "labels", "1"})["archived_at"].is_null());
  TempDir conf;
  {
    std::ofstream(conf.str() + "/rules.json")
        << R"({"rules": [{"action": "delete", "tag": "raw"}]})";
  }
  { std::ofstream(conf.str() + "/bad.json") << R"({"rules": [{"action": "shred"}]})"; }
  EXPECT_EQ(ok_json({"dataset", "lifecycle-set", "runs", "labels",
                     conf.str() + "/rules.json"})["rules"][0]["tag"],
            "raw");
  auto bad_rules = cli({"dataset", "lifecycle-set", "runs", "labels", conf.str() + "/bad.json"});
  EXPECT_EQ(bad_rules.exit_code, 1);
  EXPECT_TRUE(contains(bad_rules.err, "rule 1: field 'action'")) << bad_rules.err;
  Json plan = ok_json({"dataset", "lifecycle-plan", "runs", "labels"});
  EXPECT_EQ(plan["files_removed"], 1) << plan << " (labels.txt kept its tag raw in version 2)";
  EXPECT_EQ(plan["files"][0]["path"], "labels.txt");
  EXPECT_EQ(ok_json({"dataset", "lifecycle-apply", "runs", "labels"})["new_version"], 3);
  EXPECT_EQ(ok_json({"dataset", "lifecycle", "runs", "labels"})["last_result"]["files_removed"], 1);
  // A conversion is queued as a job of the project (its input must be in the version).
  auto no_input = cli({"dataset", "convert", "runs", "labels", "3", "--from", "coco", "--to",
                       "yolo", "--input", "instances.json"});
  EXPECT_EQ(no_input.exit_code, 1);
  EXPECT_TRUE(contains(no_input.err, "has no file or folder 'instances.json'")) << no_input.err;
  Json queued = ok_json({"dataset", "convert", "runs", "labels", "3", "--from", "voc", "--to",
                         "coco", "--input", "more.txt"});
  EXPECT_EQ(queued["state"], "queued");
  EXPECT_EQ(ok_json({"dataset", "conversions", "runs", "labels"}).size(), 1u);
  ok({"dataset", "version-delete", "runs", "labels", "1"});
  EXPECT_EQ(ok_json({"dataset", "versions", "runs", "labels"}).size(), 2u);
  // (-o json before the --: what follows it is the job's command)
  Json j = Json::parse(
      ok({"job",     "submit",    "runs",   "--name",
          "count",   "--cpu",     "0.2",    "--memory-mib",
          "128",     "--dataset", "labels", "--env",
          "WHO=cli", "--wait",    "-o",     "json",
          "--",      "sh",        "-c",     "wc -l < /data/labels/labels.txt; echo $WHO"}));
  EXPECT_EQ(j["state"], "succeeded") << j.dump();
  const std::string id = j["id"];
  EXPECT_EQ(ok({"job", "logs", "runs", id}), "2\ncli\n");
  EXPECT_EQ(ok({"job", "logs", "runs", id, "--tail", "1"}), "cli\n");
  EXPECT_EQ(ok({"job", "logs", "runs", id, "--grep", "2"}), "2\n");
  // A job on version 2 reads that version, read-only, whatever the folder holds now.
  { std::ofstream(data.str() + "/more.txt") << "changed since\n"; }
  Json on_version =
      Json::parse(ok({"job", "submit", "runs", "--name", "versioned", "--cpu", "0.2", "--dataset",
                      "labels@2", "--wait", "-o", "json", "--", "sh", "-c",
                      "cat /data/labels@2/more.txt; ls /data/labels@2 | wc -l; "
                      "touch /data/labels@2/x 2>/dev/null || echo read-only"}));
  EXPECT_EQ(on_version["state"], "succeeded") << on_version.dump();
  EXPECT_EQ(ok({"job", "logs", "runs", on_version["id"]}), "bird\n2\nread-only\n");
  auto no_version = cli({"job", "submit", "runs", "--dataset", "labels@9", "--", "true"});
  EXPECT_EQ(no_version.exit_code, 1);
  EXPECT_TRUE(contains(no_version.err, "labels@9")) << no_version.err;
  // A data owner's policy for the level: a blacklist rule; the developer sees the count.
  {
    std::ofstream(data.str() + "/policy.json")
        << R"({"mode":"blacklist","rules":[{"name":"who","pattern":"^cli$"}]})";
  }
  EXPECT_TRUE(
      contains(ok({"log-policy", "set", "runs", "internal", "--file", data.str() + "/policy.json"}),
               "\"edited\": true"));
  auto bad_policy = cli({"log-policy", "set", "runs", "internal", "--file", "/nonexistent"});
  EXPECT_EQ(bad_policy.exit_code, 1);
  Json redacted = Json::parse(
      ok({"job", "submit", "runs", "--dataset", "labels", "--cpu", "0.1", "--env", "WHO=cli",
          "--wait", "-o", "json", "--", "sh", "-c", "echo kept; echo $WHO"}));
  auto filtered = cli({"job", "logs", "runs", redacted["id"], "-f"});
  EXPECT_EQ(filtered.out, "kept\n");
  EXPECT_TRUE(contains(filtered.err, "1 line(s) withheld") && contains(filtered.err, "rule:who"))
      << filtered.err;
  EXPECT_TRUE(contains(ok({"job", "logs", "runs", redacted["id"], "--stats"}), "rule:who"));
  EXPECT_TRUE(contains(ok({"log-policy", "reset", "runs", "internal"}), "reset"));
  // A log longer than a page comes out whole, in order.
  Json counted = Json::parse(ok({"job", "submit", "runs", "--cpu", "0.2", "--wait", "-o", "json",
                                 "--", "seq", "1", "25000"}));
  const std::string all = ok({"job", "logs", "runs", counted["id"]});
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 25000);
  EXPECT_EQ(all.substr(0, 2), "1\n");
  EXPECT_EQ(all.substr(all.size() - 6), "25000\n");
  // Issue 17, item 11: a job's terminal escapes (here an OSC 52 clipboard write and a
  // colour) are shown, not obeyed, unless --raw asks for the bytes.
  Json escapes = Json::parse(ok({"job", "submit", "runs", "--cpu", "0.1", "--wait", "-o", "json",
                                 "--", "printf", "a\\033]52;c;aGk=\\033\\\\ \\033[31mred\\n"}));
  const std::string shown = ok({"job", "logs", "runs", escapes["id"]});
  EXPECT_EQ(shown.find('\x1b'), std::string::npos) << shown;
  EXPECT_EQ(shown, "a\\x1b]52;c;aGk=\\x1b\\\\ \\x1b[31mred\n");
  EXPECT_EQ(ok({"job", "logs", "runs", escapes["id"], "--raw"}),
            "a\x1b]52;c;aGk=\x1b\\ \x1b[31mred\n");
  const std::string list = ok({"job", "list", "runs"});
  EXPECT_TRUE(contains(list, id) && contains(list, "succeeded")) << list;
  const std::string history = ok({"job", "history", "runs", id});
  for (const char* s : {"queued", "admitted", "starting", "running", "succeeded"}) {
    EXPECT_TRUE(contains(history, s)) << history;
  }
  // A failing job: --wait exits 1 and says so.
  auto failed =
      cli({"job", "submit", "runs", "--wait", "--cpu", "0.1", "--", "sh", "-c", "exit 4"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_TRUE(contains(failed.err, "failed")) << failed.err;
  // Bad input is refused with the field named.
  auto bad = cli({"job", "submit", "runs", "--gpus", "1.5", "--", "true"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "resources.gpus")) << bad.err;
  // Cancel a long one and wait for it; retry it.
  Json longer = Json::parse(
      ok({"job", "submit", "runs", "--cpu", "0.1", "-o", "json", "--", "sleep", "600"}));
  const std::string lid = longer["id"];
  Json cancelled = ok_json({"job", "cancel", "runs", lid, "--wait"});
  EXPECT_EQ(cancelled["state"], "cancelled");
  EXPECT_EQ(cli({"job", "wait", "runs", lid}).exit_code, 1);
  Json again = ok_json({"job", "retry", "runs", lid});
  EXPECT_EQ(again["attempt"], 2);
  ok({"job", "cancel", "runs", lid, "--wait"});
}

// Outputs of a job on internal data from the command line: listed, held (no download),
// a release asked for by a developer and approved by a data owner, then downloaded.
TEST_F(CliClientTest, HeldOutputsAreReleasedAndDownloadedThroughTheCli) {
  login("admin", kAdminPassword);
  ok({"workspace", "create", "lab"});
  ok({"project", "create", "runs", "--workspace", "lab"});
  for (const char* who : {"dev", "olga"}) {
    ok({"user", "create", who}, std::string(who) + "-password-123\n");
  }
  ok({"member", "add", "dev", "-r", "project-developer", "-p", "runs"});
  ok({"member", "add", "olga", "-r", "data-owner", "-p", "runs"});
  login("dev", "dev-password-123");
  login("olga", "olga-password-123");
  TempDir data;
  std::filesystem::permissions(data.path(), std::filesystem::perms(0755));
  { std::ofstream(data.str() + "/labels.txt") << "cat\n"; }
  ok({"dataset", "create", "runs", "labels", "--path", data.str(), "--level", "internal"});
  Json j = Json::parse(ok({"job", "submit", "runs", "--name", "train", "--cpu", "0.2", "--dataset",
                           "labels", "--wait", "-o", "json", "--", "sh", "-c",
                           "mkdir -p /output/m && cp /data/labels/labels.txt /output/m/w.bin"},
                          std::nullopt, "dev"));
  ASSERT_EQ(j["state"], "succeeded") << j.dump();
  const std::string id = j["id"];
  const std::string listed = ok({"job", "outputs", "runs", id}, std::nullopt, "dev");
  EXPECT_TRUE(contains(listed, "held") && contains(listed, "m/w.bin")) << listed;
  const std::string to = dir_.str() + "/w.bin";
  auto refused = cli({"job", "download", "runs", id, "m/w.bin", "--to", to}, std::nullopt, "dev");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, "held")) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(to)) << "a refused download leaves no file";
  Json r = ok_json({"job", "release", "runs", id, "--reason", "labels only"}, "dev");
  EXPECT_EQ(r["state"], "pending");
  EXPECT_TRUE(contains(ok({"release", "list", "runs"}, std::nullopt, "olga"), r["id"]));
  Json approved = ok_json({"release", "approve", "runs", r["id"], "--comment", "ok"}, "olga");
  EXPECT_EQ(approved["state"], "approved");
  ok({"job", "download", "runs", id, "m/w.bin", "--to", to}, std::nullopt, "dev");
  std::ifstream in(to);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "cat\n");
}

TEST_F(CliClientTest, HelpOnEveryClientCommand) {
  for (auto args : std::vector<std::vector<std::string>>{{"login"},
                                                         {"logout"},
                                                         {"whoami"},
                                                         {"user", "create"},
                                                         {"user", "list"},
                                                         {"workspace", "create"},
                                                         {"workspace", "list"},
                                                         {"workspace", "get"},
                                                         {"workspace", "delete"},
                                                         {"project", "create"},
                                                         {"project", "list"},
                                                         {"project", "get"},
                                                         {"project", "delete"},
                                                         {"member", "add"},
                                                         {"member", "list"},
                                                         {"member", "remove"},
                                                         {"role", "list"},
                                                         {"token", "create"},
                                                         {"token", "list"},
                                                         {"token", "revoke"},
                                                         {"quota", "get"},
                                                         {"quota", "set"},
                                                         {"job", "submit"},
                                                         {"job", "list"},
                                                         {"job", "get"},
                                                         {"job", "history"},
                                                         {"job", "logs"},
                                                         {"job", "cancel"},
                                                         {"job", "retry"},
                                                         {"job", "wait"},
                                                         {"job", "outputs"},
                                                         {"job", "download"},
                                                         {"job", "release"},
                                                         {"release", "list"},
                                                         {"release", "approve"},
                                                         {"release", "refuse"},
                                                         {"dataset", "create"},
                                                         {"dataset", "list"},
                                                         {"dataset", "files"},
                                                         {"dataset", "snapshot"},
                                                         {"dataset", "versions"},
                                                         {"dataset", "version-files"},
                                                         {"dataset", "version-delete"},
                                                         {"dataset", "version-archive"},
                                                         {"dataset", "version-restore"},
                                                         {"dataset", "lifecycle"},
                                                         {"dataset", "lifecycle-set"},
                                                         {"dataset", "lifecycle-plan"},
                                                         {"dataset", "lifecycle-apply"},
                                                         {"dataset", "convert"},
                                                         {"dataset", "conversions"},
                                                         {"audit", "list"},
                                                         {"audit", "export"},
                                                         {"audit", "verify"},
                                                         {"events", "list"}}) {
    args.push_back("--help");
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_TRUE(contains(r.out, "Usage:")) << args[0];
  }
}

}  // namespace
}  // namespace jz::testing
