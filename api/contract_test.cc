// The API's contracts, on SQLite and PostgreSQL.
//
// Lists: the routes come from the OpenAPI document (every GET with a page_token
// parameter), each collection is filled with 2,500 items, and reading it page by page
// while new items are inserted gives every item once (no duplicates, no gaps), in one
// stable order, and ends with a null next_page_token. A collection route without a seeder
// here fails the test.
//
// The document: it validates against the OpenAPI 3.0 schema (@apidevtools/swagger-parser,
// tests/openapi), and every operation it lists is served, answering with a status it
// documents.
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/null_sink.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "api/server.h"
#include "core/json.h"
#include "platform/alerts/alerts.h"
#include "platform/autotest/autotest.h"
#include "platform/autotest/competitions.h"
#include "platform/datasets/labelling.h"
#include "platform/datasets/lifecycle.h"
#include "platform/datasets/preannotation.h"
#include "platform/datasets/versions.h"
#include "platform/iam/accounts.h"
#include "platform/iam/audit.h"
#include "platform/iam/passwords.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "platform/training/runs.h"
#include "store/settings.h"
#include "tests/support/http_send.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace jz::api {
namespace {

constexpr int kItems = 2500;

// How one collection is filled, inserted into while it is read, and keyed.
struct Collection {
  std::string key;   // the item field that identifies an item
  std::string stem;  // how the seeded items' keys start ("" for numbered items)
  std::function<Status(int from, int n)> insert;  // items from..from+n-1
};

class PagingTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(*db);
    accounts_ = std::make_unique<iam::Accounts>(*db_, Clock::system(), ids_);
    iam::AuthOptions ao;
    ao.hash_cost = iam::HashCost::kMinimum;
    auth_ = std::make_unique<iam::Authenticator>(*accounts_, Clock::system(), ao);
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, Clock::system(), ids_);
    audit_ = std::make_unique<iam::AuditLog>(*db_, Clock::system(), ids_);
    events_ = std::make_unique<iam::EventLog>(*db_, Clock::system(), ids_);
    jobs_ = std::make_unique<jobs::JobStore>(*db_, Clock::system(), ids_, *events_);
    datasets_ =
        std::make_unique<jobs::Datasets>(*db_, Clock::system(), ids_, jobs::DatasetPolicy{"", ""});
    versions_ = std::make_unique<datasets::DatasetVersions>(
        *db_, Clock::system(), ids_, *datasets_,
        datasets::VersionOptions{.dir = dir_.str() + "/versions"});

    iam::User admin;
    admin.username = "admin";
    admin.platform_role = std::string(iam::kPlatformAdmin);
    admin.password_hash = *iam::hash_password("admin-password-x", iam::HashCost::kMinimum);
    auto created = accounts_->create_user(admin);
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    admin_id_ = created->id;
    token_ =
        *accounts_->issue_token(admin_id_, "api", "t", "", Clock::system().now_unix_ms() + 3600000);
    ASSERT_TRUE(tenancy_->create_workspace("ws", "").ok());
    ws_id_ = tenancy_->workspace("ws")->id;
    ASSERT_TRUE(tenancy_->create_project("ws", "proj", "", "").ok());
    project_id_ = tenancy_->project("proj")->id;
    auto job = jobs_->create(project_id_, "proj", admin_id_, "admin",
                             *jobs::parse_job_request(Json{{"name", "j"}, {"command", {"true"}}}),
                             "admin");
    ASSERT_TRUE(job.ok()) << job.status().to_string();
    job_id_ = job->id;
    files_dir_ = dir_.str() + "/files";
    std::filesystem::create_directories(files_dir_);
    std::filesystem::permissions(dir_.str(), std::filesystem::perms(0755));
    std::filesystem::permissions(files_dir_, std::filesystem::perms(0755));
    ASSERT_TRUE(datasets_->add_root(ws_id_, dir_.str(), "admin").ok());
    ASSERT_TRUE(
        datasets_->create(project_id_, ws_id_, "files", files_dir_, "open", "admin", true).ok());

    ServerOptions opts;
    opts.port = 0;
    opts.threads = 2;
    opts.access_log = false;
    code_ = std::make_unique<jobs::CodeRepos>(jobs::CodeOptions{.root = dir_.str() + "/code"});
    outputs_ = std::make_unique<jobs::Outputs>(*db_, Clock::system(), ids_);
    runs_ = std::make_unique<training::RunService>(
        *db_, Clock::system(), ids_, training::RunOptions{.dir = dir_.str() + "/training"});
    alerts_ = std::make_unique<alerts::AlertService>(
        *db_, Clock::system(), ids_, *tenancy_, alerts::SecretBox::with_key("k"),
        alerts::AlertOptions{},
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    autotest_ = std::make_unique<autotest::AutotestService>(
        *db_, Clock::system(), ids_, *jobs_, *datasets_, *outputs_,
        autotest::AutotestOptions{.dir = dir_.str() + "/autotest"},
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    competitions_ = std::make_unique<autotest::CompetitionService>(
        *db_, Clock::system(), ids_, *autotest_, dir_.str() + "/autotest/competitions",
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    ASSERT_TRUE(competitions_->open().ok());
    labelling_ = std::make_unique<datasets::Labelling>(*db_, Clock::system(), ids_, *versions_);
    lifecycle_ = std::make_unique<datasets::Lifecycle>(*db_, Clock::system(), *versions_,
                                                       audit_.get(), nullptr);
    preannotations_ = std::make_unique<datasets::PreAnnotations>(
        *db_, Clock::system(), ids_, *jobs_, *outputs_, *labelling_, nullptr);
    server_ = std::make_unique<ApiServer>(
        opts, *db_, *auth_, audit_.get(),
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()),
        Clock::system(),
        PlatformServices{jobs_.get(),
                         datasets_.get(),
                         nullptr,
                         events_.get(),
                         "",
                         nullptr,
                         code_.get(),
                         outputs_.get(),
                         nullptr,
                         nullptr,
                         alerts_.get(),
                         runs_.get(),
                         autotest_.get(),
                         competitions_.get(),
                         nullptr,
                         nullptr,
                         versions_.get(),
                         nullptr,
                         labelling_.get(),
                         lifecycle_.get(),
                         preannotations_.get()});
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // Runs `sql` for i in [from, from+n) in one transaction, with the parameters of item i.
  Status rows(const std::string& sql, int from, int n, const std::function<store::Params(int)>& p) {
    return db_->transact([&](store::Conn& c) -> Status {
      for (int i = from; i < from + n; ++i) JZ_RETURN_IF_ERROR(c.exec(sql, p(i)).status());
      return {};
    });
  }

  static std::string name(const char* prefix, int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%05d", prefix, i);
    return buf;
  }

  // Every collection route of the document, by its path template.
  std::map<std::string, Collection> collections() {
    const int64_t now = Clock::system().now_unix_ms();
    std::map<std::string, Collection> c;
    auto user_rows = [this, now](int from, int n) {
      return rows(
          "INSERT INTO users (id, username, display_name, email, state, platform_role, "
          "password_hash, failed_logins, locked_until_ms, created_at_ms, updated_at_ms) VALUES "
          "(?, ?, '', '', 'active', 'regular', 'x', 0, 0, ?, ?)",
          from, n, [&](int i) {
            return store::Params{name("usr_", i), name("user-", i), now, now};
          });
    };
    c["/api/v1/users"] = {"username", "user-", user_rows};
    c["/api/v1/tokens"] = {"id", "tok_Z", [this, now](int from, int n) {
                             return rows(
                                 "INSERT INTO tokens (id, user_id, kind, name, project, "
                                 "secret_hash, expires_at_ms, created_at_ms) VALUES (?, ?, 'api', "
                                 "'t', '', ?, ?, ?)",
                                 from, n, [&](int i) {
                                   return store::Params{name("tok_Z", i), admin_id_,
                                                        name("hash", i), now + 3600000, now};
                                 });
                           }};
    c["/api/v1/roles"] = {"name", "role-", [this](int from, int n) {
                            return rows(
                                "INSERT INTO roles (name, scope, permissions, builtin) VALUES (?, "
                                "'project', '[\"job:get\"]', 0)",
                                from, n, [&](int i) { return store::Params{name("role-", i)}; });
                          }};
    c["/api/v1/workspaces"] = {"name", "ws-", [this, now](int from, int n) {
                                 return rows(
                                     "INSERT INTO workspaces (id, name, description, "
                                     "created_at_ms) VALUES (?, ?, '', ?)",
                                     from, n, [&](int i) {
                                       return store::Params{name("ws_", i), name("ws-", i), now};
                                     });
                               }};
    auto project_rows = [this, now](const char* stem) {
      return [this, now, stem](int from, int n) {
        return rows(
            "INSERT INTO projects (id, name, workspace_id, description, created_at_ms) VALUES "
            "(?, ?, ?, '', ?)",
            from, n, [&](int i) {
              return store::Params{name((std::string("prj_") + stem).c_str(), i), name(stem, i),
                                   ws_id_, now};
            });
      };
    };
    c["/api/v1/projects"] = {"name", "p-", project_rows("p-")};
    c["/api/v1/workspaces/{workspace}/projects"] = {"name", "q-", project_rows("q-")};
    // Members need users of their own: "mw-00001" for the workspace, "mp-00001" for the
    // project.
    auto member_rows = [this, now](const char* scope, const std::string& id) {
      return [this, now, scope, id](int from, int n) -> Status {
        const std::string stem = std::string("m") + scope[0] + "-";
        JZ_RETURN_IF_ERROR(rows(
            "INSERT INTO users (id, username, display_name, email, state, platform_role, "
            "password_hash, failed_logins, locked_until_ms, created_at_ms, updated_at_ms) VALUES "
            "(?, ?, '', '', 'active', 'regular', 'x', 0, 0, ?, ?)",
            from, n, [&](int i) {
              return store::Params{"usr_" + name(stem.c_str(), i), name(stem.c_str(), i), now, now};
            }));
        return rows(
            "INSERT INTO members (scope, scope_id, user_id, role, created_at_ms) VALUES (?, ?, ?, "
            "?, ?)",
            from, n, [&](int i) {
              return store::Params{scope, id, "usr_" + name(stem.c_str(), i),
                                   std::string(scope) + "-viewer", now};
            });
      };
    };
    c["/api/v1/workspaces/{workspace}/members"] = {"username", "mw-",
                                                   member_rows("workspace", ws_id_)};
    c["/api/v1/projects/{project}/members"] = {"username", "mp-",
                                               member_rows("project", project_id_)};
    c["/api/v1/workspaces/{workspace}/dataset-roots"] = {
        "path", "/data/root-", [this, now](int from, int n) {
          return rows(
              "INSERT INTO dataset_roots (path, workspace_id, created_by, created_at_ms) VALUES "
              "(?, ?, 'admin', ?)",
              from, n, [&](int i) {
                return store::Params{name("/data/root-", i), ws_id_, now};
              });
        }};
    c["/api/v1/projects/{project}/datasets"] = {
        "name", "set-", [this, now](int from, int n) {
          return rows(
              "INSERT INTO datasets (id, project_id, name, path, security_level, created_by, "
              "created_at_ms) VALUES (?, ?, ?, ?, 'open', 'admin', ?)",
              from, n, [&](int i) {
                return store::Params{name("ds_", i), project_id_, name("set-", i),
                                     name("/data/set-", i), now};
              });
        }};
    c["/api/v1/projects/{project}/datasets/{dataset}/files"] = {
        "path", "f-", [this](int from, int n) -> Status {
          for (int i = from; i < from + n; ++i) {
            std::ofstream(files_dir_ + "/" + name("f-", i)) << i;
          }
          return {};
        }};
    // A version is immutable: its files are those of the folder when it was made (the
    // seeded ones, and whatever the folder's own seeder added before); later inserts add
    // nothing to it.
    c["/api/v1/projects/{project}/datasets/{dataset}/versions/{number}/files"] = {
        "path", "f-", [this](int from, int n) -> Status {
          if (from > 0) return {};
          for (int i = from; i < from + n; ++i) {
            std::ofstream(files_dir_ + "/" + name("f-", i)) << i;
          }
          return versions_->snapshot(project_id_, "files", {}, "admin").status();
        }};
    // Copies of the job created in SetUp (the caller's), with their own id, seq and name:
    // the project's list and the caller's own list show the same jobs, so a copy already
    // made for one is kept for the other.
    const Collection jobs = {
        "id", "job_ZZZZZZZZZZZZZZZZZZZZ", [this](int from, int n) {
          return rows(
              "INSERT INTO jobs (id, seq, queue_seq, project_id, project, user_id, username, "
              "name, kind, spec, state, reason, message, exit_code, attempt, placement, "
              "cancel_requested, created_at_ms, started_at_ms, finished_at_ms, updated_at_ms) "
              "SELECT ?, ?, ?, project_id, project, user_id, username, ?, kind, spec, state, "
              "reason, message, exit_code, attempt, placement, cancel_requested, created_at_ms, "
              "started_at_ms, finished_at_ms, updated_at_ms FROM jobs WHERE id = ? "
              "ON CONFLICT (id) DO NOTHING",
              from, n, [&](int i) {
                return store::Params{name("job_ZZZZZZZZZZZZZZZZZZZZ", i), int64_t{10 + i},
                                     int64_t{10 + i}, name("j-", i), job_id_};
              });
        }};
    c["/api/v1/projects/{project}/jobs/{id}/outputs/files"] = {
        "path", "o-", [this, now](int from, int n) -> Status {
          JZ_RETURN_IF_ERROR(rows(
              "INSERT INTO job_outputs (job_id, project_id, dir, level, state, files, bytes, "
              "truncated, skipped, recorded_at_ms) VALUES (?, ?, '/nowhere', 'open', 'open', 0, "
              "0, 0, '', ?) ON CONFLICT DO NOTHING",
              0, 1, [&](int) {
                return store::Params{job_id_, project_id_, now};
              }));
          return rows(
              "INSERT INTO job_output_files (job_id, path, size, sha256) VALUES (?, ?, 1, 'x')",
              from, n, [&](int i) {
                return store::Params{job_id_, name("o-", i)};
              });
        }};
    c["/api/v1/projects/{project}/releases"] = {
        "id", "rel_", [this, now](int from, int n) {
          return rows(
              "INSERT INTO releases (id, project_id, job_id, state, reason, requested_by, "
              "requester, created_at_ms) VALUES (?, ?, ?, 'pending', 'r', 'usr_x', 'x', ?)",
              from, n, [&](int i) {
                return store::Params{name("rel_", i), project_id_, job_id_, now};
              });
        }};
    auto receiver_rows = [this, now](const char* scope, std::string id, const char* stem) {
      return [this, now, scope, id, stem](int from, int n) {
        return rows(
            "INSERT INTO alert_receivers (id, scope, scope_id, name, channel, config, secret, "
            "min_severity, rules, enabled, rate_per_minute, created_by, created_at_ms) VALUES "
            "(?, ?, ?, ?, 'slack', '{\"url\":\"https://h\"}', '', 'info', '[]', 1, 20, 'admin', ?)",
            from, n, [&](int i) {
              return store::Params{"rcv_" + name(stem, i), std::string(scope), id, name(stem, i),
                                   now};
            });
      };
    };
    c["/api/v1/projects/{project}/receivers"] = {"name", "r-",
                                                 receiver_rows("project", project_id_, "r-")};
    c["/api/v1/alerting/receivers"] = {"name", "s-", receiver_rows("platform", "", "s-")};
    c["/api/v1/me/receivers"] = {"name", "u-", receiver_rows("user", admin_id_, "u-")};
    c["/api/v1/me/inbox"] = {
        "id", "inb_", [this, now](int from, int n) {
          return rows(
              "INSERT INTO alert_inbox (id, user_id, dedup_key, rule, "
              "severity, title, labels, link, created_at_ms) VALUES (?, ?, "
              "?, 'job_failed', 'warning', 't', '{}', '', ?)",
              from, n, [&](int i) {
                return store::Params{name("inb_", i), admin_id_, name("k", i), now};
              });
        }};
    c["/api/v1/projects/{project}/runs"] = {
        "id", "run_", [this, now](int from, int n) {
          return rows(
              "INSERT INTO training_runs (id, project_id, name, owner_id, job_id, state, config, "
              "store_dir, records_offset, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, '', "
              "'running', '{}', '', 0, ?, ?)",
              from, n, [&](int i) {
                return store::Params{name("run_", i), project_id_, name("r", i),
                                     admin_id_,       now,         now};
              });
        }};
    // The automatic test service: suites by name (a row and its version), packages and
    // evaluations newest first.
    c["/api/v1/projects/{project}/suites"] = {
        "name", "s-", [this, now](int from, int n) {
          return db_->transact([&](store::Conn& conn) -> Status {
            for (int i = from; i < from + n; ++i) {
              JZ_RETURN_IF_ERROR(
                  conn.exec("INSERT INTO autotest_suites (id, project_id, name, "
                            "version, created_by, created_at_ms, updated_at_ms) "
                            "VALUES (?, ?, ?, 1, 'admin', ?, ?)",
                            {name("suite_", i), project_id_, name("s-", i), now, now})
                      .status());
              JZ_RETURN_IF_ERROR(conn.exec("INSERT INTO autotest_suite_versions (suite_id, "
                                           "version, spec, created_by, created_at_ms) VALUES (?, "
                                           "1, '{\"dataset\":\"files\",\"level\":\"open\"}', "
                                           "'admin', ?)",
                                           {name("suite_", i), now})
                                     .status());
            }
            return {};
          });
        }};
    c["/api/v1/projects/{project}/algorithms"] = {
        "id", "algo_", [this, now](int from, int n) {
          return rows(
              "INSERT INTO autotest_algorithms (id, project_id, name, version, info, state, "
              "check_result, message, uploaded_by, created_at_ms) VALUES (?, ?, 'a', ?, '{}', "
              "'ready', '[]', '', 'admin', ?)",
              from, n, [&](int i) {
                return store::Params{name("algo_", i), project_id_, "1.0." + std::to_string(i),
                                     now};
              });
        }};
    c["/api/v1/projects/{project}/evaluations"] = {
        "id", "eval_", [this, now](int from, int n) {
          return rows(
              "INSERT INTO autotest_evaluations (id, project_id, suite_id, suite_version, "
              "algorithm_id, job_id, state, message, config, result, owner_id, created_at_ms) "
              "VALUES (?, ?, 'suite_x', 1, 'algo_x', ?, 'passed', '', 'null', '{}', ?, ?)",
              from, n, [&](int i) {
                return store::Params{name("eval_", i), project_id_, job_id_, admin_id_, now};
              });
        }};
    c["/api/v1/workspaces/{workspace}/receivers"] = {"name", "w-",
                                                     receiver_rows("workspace", ws_id_, "w-")};
    auto notification_rows = [this, now](const char* scope, std::string id, const char* stem) {
      return [this, now, scope, id, stem](int from, int n) {
        return rows(
            "INSERT INTO notifications (id, receiver_id, receiver_name, scope, scope_id, "
            "dedup_key, rule, severity, title, message, state, attempts, next_attempt_ms, "
            "created_at_ms, last_code, last_answer) VALUES (?, 'rcv_x', 'x', ?, ?, ?, "
            "'job_failed', 'warning', 't', '{}', 'failed', 1, 0, ?, 0, '')",
            from, n, [&](int i) {
              return store::Params{name(stem, i), std::string(scope), id, name(stem, i), now};
            });
      };
    };
    c["/api/v1/projects/{project}/notifications"] = {
        "id", "ntf_p", notification_rows("project", project_id_, "ntf_p")};
    c["/api/v1/alerting/notifications"] = {"id", "ntf_q",
                                           notification_rows("platform", "", "ntf_q")};
    c["/api/v1/me/notifications"] = {"id", "ntf_u", notification_rows("user", admin_id_, "ntf_u")};
    c["/api/v1/workspaces/{workspace}/notifications"] = {
        "id", "ntf_w", notification_rows("workspace", ws_id_, "ntf_w")};
    c["/api/v1/projects/{project}/jobs"] = jobs;
    c["/api/v1/jobs"] = jobs;
    c["/api/v1/projects/{project}/jobs/{id}/events"] = {
        "seq", "", [this, now](int from, int n) {
          return rows(
              "INSERT INTO job_events (job_id, seq, time_ms, from_state, to_state, reason, "
              "message) VALUES (?, ?, ?, 'queued', 'queued', 'Test', '')",
              from, n, [&](int i) {
                return store::Params{job_id_, int64_t{100 + i}, now};
              });
        }};
    auto scoped_events = [this, now](const char* column, const char* value, int64_t base) {
      return [this, now, column, value, base](int from, int n) {
        return rows("INSERT INTO events (seq, id, time_ms, project, " + std::string(column) +
                        ", resource_type, resource_name, type, reason, message, actor) VALUES "
                        "(?, ?, ?, '', ?, 'x', 'y', 'created', 'Test', '', 'admin')",
                    from, n, [&](int i) {
                      return store::Params{base + i,
                                           name(("evt_" + std::string(column)).c_str(), i), now,
                                           std::string(value)};
                    });
      };
    };
    c["/api/v1/workspaces/{workspace}/events"] = {"seq", "",
                                                  scoped_events("workspace", "ws", 10000)};
    c["/api/v1/users/{username}/events"] = {"seq", "", scoped_events("subject", "admin", 20000)};
    c["/api/v1/projects/{project}/events"] = {
        "seq", "", [this, now](int from, int n) {
          return rows(
              "INSERT INTO events (seq, id, time_ms, project, resource_type, resource_name, "
              "type, reason, message, actor) VALUES (?, ?, ?, 'proj', 'x', 'y', 'created', "
              "'Test', '', 'admin')",
              from, n, [&](int i) {
                return store::Params{int64_t{1000 + i}, name("evt_", i), now};
              });
        }};
    // Records of requests in workspace "ws": the platform's trail and the workspace's show
    // the same ones, so a record already made for one is kept for the other.
    const Collection audit = {
        "seq", "", [this, now](int from, int n) {
          return rows(
              "INSERT INTO audit (seq, id, time_ms, user_name, source_ip, user_agent, verb, "
              "resource_type, resource_name, workspace, project, request_summary, "
              "response_status, latency_us, request_id, prev_hash, hash) VALUES (?, ?, ?, "
              "'admin', '127.0.0.1', '', 'update', 'x', 'y', 'ws', '', '', 200, 1, 'r', '', '') "
              "ON CONFLICT DO NOTHING",
              from, n, [&](int i) {
                return store::Params{int64_t{1000 + i}, name("aud_", i), now};
              });
        }};
    c["/api/v1/audit"] = audit;
    c["/api/v1/workspaces/{workspace}/audit"] = audit;
    c["/api/v1/settings"] = {"key", "key-", [this, now](int from, int n) {
                               return rows(
                                   "INSERT INTO settings (key, value, revision, updated_at_ms) "
                                   "VALUES (?, '1', 1, ?)",
                                   from, n, [&](int i) {
                                     return store::Params{name("key-", i), now};
                                   });
                             }};
    return c;
  }

  // Bounded collections: a fixed set the platform defines, checked as they are.
  static bool bounded(const std::string& path) {
    return path == "/api/v1/projects/{project}/log-policies";  // one per security level
  }

  std::string fill(std::string path) const {
    for (auto [from, to] : {std::pair<std::string, std::string>{"{project}", "proj"},
                            {"{workspace}", "ws"},
                            {"{dataset}", "files"},
                            {"{upload}", "upl_00000000000000000000000000"},
                            {"{release}", "rel_00000000000000000000000000"},
                            {"{role}", "no-such-role"},
                            {"{username}", "admin"},
                            {"{suite}", "none"},
                            {"{algorithm}", "none"},
                            {"{version}", "1.0.0"},
                            {"{number}", "1"},
                            {"{curation}", "cur_00000000000000000000000000"},
                            {"{task}", "lbt_00000000000000000000000000"},
                            {"{label_job}", "lbj_00000000000000000000000000"},
                            {"{evaluation}", "eval_00000000000000000000000000"},
                            {"{competition}", "none"},
                            {"{cluster}", "c1"},
                            {"{order}", "ord_00000000000000000000000000"},
                            {"{activation_code}", "acd_00000000000000000000000000"},
                            {"{download}", std::string(48, '0')},
                            {"{file}", "report.json"},
                            {"{id}", job_id_}}) {
      for (size_t at; (at = path.find(from)) != std::string::npos;)
        path.replace(at, from.size(), to);
    }
    return path;
  }

  Json get(const std::string& path) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token_);
    c.set_read_timeout(60);
    auto r = c.Get(path);
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Json::parse(r->body, nullptr, false);
  }

  static std::string key_text(const Json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
  }

  testing::TempDir dir_;
  IdGenerator ids_{Clock::system(), SecureRandom::instance()};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Accounts> accounts_;
  std::unique_ptr<iam::Authenticator> auth_;
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<iam::AuditLog> audit_;
  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<jobs::JobStore> jobs_;
  std::unique_ptr<jobs::Datasets> datasets_;
  std::unique_ptr<datasets::DatasetVersions> versions_;
  std::unique_ptr<datasets::Labelling> labelling_;
  std::unique_ptr<datasets::Lifecycle> lifecycle_;
  std::unique_ptr<datasets::PreAnnotations> preannotations_;
  std::unique_ptr<jobs::CodeRepos> code_;
  std::unique_ptr<jobs::Outputs> outputs_;
  std::unique_ptr<training::RunService> runs_;
  std::unique_ptr<alerts::AlertService> alerts_;
  std::unique_ptr<autotest::AutotestService> autotest_;
  std::unique_ptr<autotest::CompetitionService> competitions_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::string token_, admin_id_, ws_id_, project_id_, job_id_, files_dir_;
};

TEST_P(PagingTest, EveryCollectionPagesOver2500ItemsWhileItemsAreInserted) {
  const Json doc = get("/api/v1/openapi.json");
  ASSERT_TRUE(doc.is_object());
  auto all = collections();
  int listed = 0;
  for (const auto& [path, ops] : doc["paths"].items()) {
    if (!ops.contains("get")) continue;
    bool paged = false;
    for (const auto& p : ops["get"].value("parameters", Json::array())) {
      paged = paged || p.value("name", "") == "page_token";
    }
    if (!paged) continue;
    ++listed;
    if (bounded(path)) {
      const Json page = get(fill(path) + "?page_size=1000");
      EXPECT_TRUE(page["next_page_token"].is_null()) << path;
      continue;
    }
    auto it = all.find(path);
    ASSERT_NE(it, all.end()) << "collection route " << path
                             << " has no seeder in api/contract_test.cc: add one";
    const Collection& col = it->second;
    ASSERT_TRUE(col.insert(0, kItems).ok()) << path;

    std::set<std::string> seen;
    std::vector<std::string> order;
    std::string token;
    int pages = 0, inserted = kItems;
    for (;;) {
      std::string url = fill(path) + "?page_size=97";
      if (!token.empty()) url += "&page_token=" + token;
      const Json page = get(url);
      ASSERT_TRUE(page.is_object() && page["items"].is_array()) << url;
      ASSERT_LE(page["items"].size(), 97u) << url;
      for (const auto& item : page["items"]) {
        ASSERT_TRUE(item.contains(col.key)) << path << ": no '" << col.key << "' in " << item;
        const std::string k = key_text(item[col.key]);
        EXPECT_TRUE(seen.insert(k).second) << path << ": " << k << " twice";
        order.push_back(k);
      }
      ++pages;
      // New items arrive while the list is read.
      if (pages % 5 == 0) {
        ASSERT_TRUE(col.insert(inserted, 3).ok()) << path;
        inserted += 3;
      }
      if (page["next_page_token"].is_null()) break;
      token = page["next_page_token"].get<std::string>();
      ASSERT_LT(pages, 200) << path << ": the pages do not end";
    }
    // Every item there before the read began was seen once; newer ones at most once.
    int originals = 0;
    for (const auto& k : seen) {
      if (!col.stem.empty() && k.rfind(col.stem, 0) == 0 && k.size() == col.stem.size() + 5 &&
          std::stoi(k.substr(col.stem.size())) < kItems) {
        ++originals;
      }
    }
    if (col.key == "seq") {
      // Numbered items: every seq from the seeded range, in order (no gaps).
      int64_t prev = -1, in_range = 0;
      for (const auto& k : order) {
        const int64_t n = std::stoll(k);
        EXPECT_GT(n, prev) << path;
        prev = n;
        in_range += n >= 100;  // seeded from 100 on; what SetUp made comes before
      }
      EXPECT_GE(in_range, kItems) << path;
    } else {
      EXPECT_EQ(originals, kItems) << path << ": items were skipped";
      // One order, page after page: ascending, or descending for newest-first lists.
      const bool ascending = order.front() < order.back();
      for (size_t i = 1; i < order.size(); ++i) {
        EXPECT_EQ(order[i - 1] < order[i], ascending) << path << " at " << i;
      }
    }
  }
  EXPECT_GE(listed, 16) << "fewer collection routes than expected in the document";
}

TEST_P(PagingTest, TheOpenApiDocumentIsValidAndEveryOperationAnswersAsDocumented) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_);
  auto r = c.Get("/api/v1/openapi.json");
  ASSERT_TRUE(r && r->status == 200);
  const std::string file = dir_.str() + "/openapi.json";
  std::ofstream(file) << r->body;
  const std::string validator = std::string(JZ_SOURCE_DIR) + "/tests/openapi";
  ASSERT_TRUE(std::filesystem::exists(validator + "/node_modules/@apidevtools/swagger-parser"))
      << "the validator's npm packages are missing: run scripts/install-deps";
  const std::string cmd =
      "node " + validator + "/validate.cjs " + file + " > " + dir_.str() + "/validate.out 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(dir_.str() + "/validate.out");
  const std::string said((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << said;

  // Every operation, called as a platform admin with its parameters filled and an empty
  // JSON object as body, answers with one of the statuses it documents.
  const Json doc = Json::parse(r->body);
  int called = 0;
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::string url = fill(path);
      for (auto [from, to] : {std::pair<std::string, std::string>{"{username}", "admin"},
                              {"{key}", "k"},
                              {"{level}", "secret"},
                              {"{path}", "f-00001"}}) {
        for (size_t at; (at = url.find(from)) != std::string::npos;)
          url.replace(at, from.size(), to);
      }
      if (url.find("stream") != std::string::npos) continue;
      ASSERT_TRUE(m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE") << m;
      httplib::Result res = testing::send(c, m, url);
      ASSERT_TRUE(res) << m << " " << url << ": no answer";
      const std::string status = std::to_string(res->status);
      EXPECT_TRUE(op["responses"].contains(status))
          << m << " " << path << " answered " << status << " (" << res->body.substr(0, 200)
          << "), which its document does not list";
      ++called;
    }
  }
  EXPECT_GT(called, 60);
}

INSTANTIATE_TEST_SUITE_P(BothStores, PagingTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return std::string(store::dialect_name(info.param));
                         });

}  // namespace
}  // namespace jz::api
