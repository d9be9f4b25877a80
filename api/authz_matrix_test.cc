// The authorisation matrix over real HTTP: every built-in role x every endpoint x its
// own tenant and another tenant. Expected answers are written out as a table; a cell
// is "allowed" when the answer is neither 401 nor 403.
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "api/server.h"
#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "platform/alerts/alerts.h"
#include "platform/algostore/store.h"
#include "platform/autotest/autotest.h"
#include "platform/autotest/competitions.h"
#include "platform/datasets/conversion.h"
#include "platform/datasets/curation.h"
#include "platform/datasets/labelling.h"
#include "platform/datasets/lifecycle.h"
#include "platform/datasets/preannotation.h"
#include "platform/datasets/versions.h"
#include "platform/iam/tenancy.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"
#include "platform/training/runs.h"
#include "tests/support/http_send.h"
#include "tests/support/temp_dir.h"

namespace jz::api {
namespace {

// Subjects: one user per built-in role in tenant A (workspace ws-a, project proj-a),
// plus a platform admin and a regular user with no membership.
const std::vector<std::string> kSubjects = {"padmin",    "nobody",   "wsadmin",
                                            "wsregular", "wsviewer", "prjadmin",
                                            "prjdev",    "prjview",  "dataowner"};

struct Endpoint {
  std::string name;
  std::string method;
  std::string path;  // {ws} and {p} are replaced by the tenant's workspace and project
  std::string body;
  // Subjects allowed in their own tenant (A). In tenant B only padmin is allowed; for
  // platform-level endpoints own and other are the same.
  std::set<std::string> allowed;
  bool platform_level = false;
};

std::vector<Endpoint> endpoints() {
  const std::set<std::string> all(kSubjects.begin(), kSubjects.end());
  const std::set<std::string> admin = {"padmin"};
  const std::set<std::string> project_members = {"padmin", "wsadmin", "wsviewer", "prjadmin",
                                                 "prjdev", "prjview", "dataowner"};
  const std::set<std::string> ws_readers = {"padmin", "wsadmin", "wsviewer"};
  const std::set<std::string> ws_admins = {"padmin", "wsadmin"};
  return {
      {"get workspace",
       "GET",
       "/api/v1/workspaces/{ws}",
       "",
       {"padmin", "wsadmin", "wsregular", "wsviewer"}},
      {"workspace events",
       "GET",
       "/api/v1/workspaces/{ws}/events",
       "",
       {"padmin", "wsadmin", "wsviewer"}},
      {"list workspace members",
       "GET",
       "/api/v1/workspaces/{ws}/members",
       "",
       {"padmin", "wsadmin", "wsregular", "wsviewer"}},
      {"add workspace member",
       "POST",
       "/api/v1/workspaces/{ws}/members",
       R"({"username":"spare","role":"workspace-viewer"})",
       {"padmin", "wsadmin"}},
      {"remove workspace member",
       "DELETE",
       "/api/v1/workspaces/{ws}/members/absent",
       "",
       {"padmin", "wsadmin"}},
      {"read the workspace's audit",
       "GET",
       "/api/v1/workspaces/{ws}/audit",
       "",
       {"padmin", "wsadmin"}},
      {"workspace permissions",
       "GET",
       "/api/v1/workspaces/{ws}/permissions",
       "",
       {"padmin", "wsadmin", "wsregular", "wsviewer"}},
      {"list dataset roots",
       "GET",
       "/api/v1/workspaces/{ws}/dataset-roots",
       "",
       {"padmin", "wsadmin", "wsregular", "wsviewer"}},
      {"assign a dataset root",
       "POST",
       "/api/v1/workspaces/{ws}/dataset-roots",
       R"({"path":"{rootsdir}/{unique}"})",
       {"padmin"}},
      {"remove a dataset root",
       "DELETE",
       "/api/v1/workspaces/{ws}/dataset-roots?path=/absent",
       "",
       {"padmin"}},
      {"list workspace projects",
       "GET",
       "/api/v1/workspaces/{ws}/projects",
       "",
       {"padmin", "wsadmin", "wsregular", "wsviewer"}},
      {"create project",
       "POST",
       "/api/v1/workspaces/{ws}/projects",
       R"({"name":"{unique}"})",
       {"padmin", "wsadmin", "wsregular"}},
      {"get project", "GET", "/api/v1/projects/{p}", "", project_members},
      {"my permissions", "GET", "/api/v1/projects/{p}/permissions", "", project_members},
      {"list project members", "GET", "/api/v1/projects/{p}/members", "", project_members},
      {"add project member",
       "POST",
       "/api/v1/projects/{p}/members",
       R"({"username":"spare","role":"project-viewer"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"remove project member",
       "DELETE",
       "/api/v1/projects/{p}/members/absent",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"get quota", "GET", "/api/v1/projects/{p}/quota", "", project_members},
      {"set quota", "PUT", "/api/v1/projects/{p}/quota", R"({"gpus":1.5})", {"padmin", "wsadmin"}},
      {"list events", "GET", "/api/v1/projects/{p}/events", "", project_members},
      {"list datasets", "GET", "/api/v1/projects/{p}/datasets", "", project_members},
      {"register dataset",
       "POST",
       "/api/v1/projects/{p}/datasets",
       R"({"name":"{unique}","path":"{datadir}/{unique}","security_level":"secret"})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list a dataset's files",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/files",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"get dataset", "GET", "/api/v1/projects/{p}/datasets/absent", "", project_members},
      {"delete dataset",
       "DELETE",
       "/api/v1/projects/{p}/datasets/absent",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"upload dataset archive",
       "POST",
       "/api/v1/projects/{p}/datasets/{unique}/archive",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"start a resumable upload",
       "POST",
       "/api/v1/projects/{p}/uploads",
       R"({"dataset":"{unique}","size":10})",
       {"padmin", "wsadmin", "dataowner"}},
      {"find one's upload of a dataset",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/upload",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"read an upload",
       "GET",
       "/api/v1/projects/{p}/uploads/upl_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"send a chunk",
       "PATCH",
       "/api/v1/projects/{p}/uploads/upl_00000000000000000000000000",
       "x",
       {"padmin", "wsadmin", "dataowner"}},
      {"give up an upload",
       "DELETE",
       "/api/v1/projects/{p}/uploads/upl_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"read a dataset file",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/files/a.txt",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"make a dataset version",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions",
       R"({"message":"m"})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list dataset versions", "GET", "/api/v1/projects/{p}/datasets/absent/versions", "",
       project_members},
      {"get a dataset version", "GET", "/api/v1/projects/{p}/datasets/absent/versions/1", "",
       project_members},
      {"delete a dataset version",
       "DELETE",
       "/api/v1/projects/{p}/datasets/absent/versions/1",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"derive a dataset version",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions/1/changes",
       R"({"remove":["a.jpg"]})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list a version's files",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/versions/1/files",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"curate a version",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions/1/curations",
       "{}",
       {"padmin", "wsadmin", "dataowner"}},
      {"convert a version's annotations",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions/1/conversions",
       R"({"from":"coco","to":"yolo","input":"a.json"})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list conversions", "GET", "/api/v1/projects/{p}/datasets/absent/conversions", "",
       project_members},
      {"read curation thresholds", "GET", "/api/v1/projects/{p}/datasets/absent/curation-defaults",
       "", project_members},
      {"set curation thresholds",
       "PUT",
       "/api/v1/projects/{p}/datasets/absent/curation-defaults",
       R"({"radius":6})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list curations", "GET", "/api/v1/projects/{p}/datasets/absent/curations", "",
       project_members},
      {"get a curation", "GET",
       "/api/v1/projects/{p}/datasets/absent/curations/cur_00000000000000000000000000", "",
       project_members},
      {"a curation's proposals",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/curations/cur_00000000000000000000000000/proposals",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"decide proposals",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/curations/cur_00000000000000000000000000/decisions",
       R"({"decisions":{"a.jpg":"confirmed"}})",
       {"padmin", "wsadmin", "dataowner"}},
      {"apply a curation",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/curations/cur_00000000000000000000000000/apply",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"read lifecycle rules", "GET", "/api/v1/projects/{p}/datasets/absent/lifecycle", "",
       project_members},
      {"set lifecycle rules",
       "PUT",
       "/api/v1/projects/{p}/datasets/absent/lifecycle",
       R"({"rules":[{"action":"delete","after_days":30}]})",
       {"padmin", "wsadmin", "dataowner"}},
      {"dry-run lifecycle rules", "GET", "/api/v1/projects/{p}/datasets/absent/lifecycle/plan", "",
       project_members},
      {"apply lifecycle rules",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/lifecycle/apply",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"archive a version",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions/1/archive",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"restore a version",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/versions/1/restore",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"read a version's file",
       "GET",
       "/api/v1/projects/{p}/datasets/absent/versions/1/files/a.jpg",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"make a labelling task",
       "POST",
       "/api/v1/projects/{p}/datasets/absent/label-tasks",
       R"({"name":"t","spec":{"classes":["a"]},"annotators":["spare"],"reviewers":["spare"]})",
       {"padmin", "wsadmin", "dataowner"}},
      {"list labelling tasks", "GET", "/api/v1/projects/{p}/label-tasks", "", project_members},
      {"one's labelling work", "GET", "/api/v1/projects/{p}/label-work", "", project_members},
      {"get a labelling task", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000", "", project_members},
      {"delete a labelling task",
       "DELETE",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "prjadmin", "dataowner"}},
      {"a labelling task's jobs", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs", "", project_members},
      {"a labelling task's statistics", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/statistics", "",
       project_members},
      {"export a labelling task",
       "POST",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/export",
       "{}",
       {"padmin", "wsadmin", "dataowner"}},
      {"pre-annotate a labelling task",
       "POST",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/pre-annotations",
       R"({"algorithm":"detector","version":"1.0.0"})",
       {"padmin", "wsadmin", "dataowner"}},
      {"a labelling task's pre-annotations", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/pre-annotations", "",
       project_members},
      {"reassign a labelling job",
       "PATCH",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000",
       "{}",
       {"padmin", "wsadmin", "dataowner"}},
      {"get a labelling job", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000",
       "", project_members},
      {"a labelling job's image", "GET",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000/images/a.jpg",
       "", project_members},
      {"save an image's shapes",
       "PUT",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000/images/a.jpg",
       R"({"width":1,"height":1,"shapes":[]})",
       {"padmin", "wsadmin", "prjadmin", "dataowner"}},
      {"submit a labelling job",
       "POST",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000/submit",
       "",
       {"padmin", "wsadmin", "prjadmin", "dataowner"}},
      {"review a labelling job",
       "POST",
       "/api/v1/projects/{p}/label-tasks/lbt_00000000000000000000000000/jobs/"
       "lbj_00000000000000000000000000/review",
       R"({"decision":"accept"})",
       {"padmin", "wsadmin", "prjadmin", "dataowner"}},
      {"job events", "GET", "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/events", "",
       project_members},
      {"project resources", "GET", "/api/v1/projects/{p}/resources", "", project_members},
      {"job resources", "GET", "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/resources",
       "", project_members},
      {"submit job",
       "POST",
       "/api/v1/projects/{p}/jobs",
       R"({"name":"x","command":["true"]})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"list jobs", "GET", "/api/v1/projects/{p}/jobs", "", project_members},
      {"get job", "GET", "/api/v1/projects/{p}/jobs/job_00000000000000000000000000", "",
       project_members},
      {"job logs", "GET", "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/logs", "",
       project_members},
      {"job log stats", "GET",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/logs/stats", "", project_members},
      {"download job log", "GET",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/logs/download", "",
       project_members},
      {"raw job log",
       "GET",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/logs/raw",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"search logs", "GET", "/api/v1/projects/{p}/logs/search?q=x", "", project_members},
      {"list log policies", "GET", "/api/v1/projects/{p}/log-policies", "", project_members},
      {"get log policy", "GET", "/api/v1/projects/{p}/log-policies/secret", "", project_members},
      {"set log policy",
       "PUT",
       "/api/v1/projects/{p}/log-policies/internal",
       R"({"mode":"blacklist","rules":[{"name":"a","pattern":"secret"}]})",
       {"padmin", "wsadmin", "dataowner"}},
      {"reset log policy",
       "DELETE",
       "/api/v1/projects/{p}/log-policies/internal",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"cancel job",
       "POST",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/cancel",
       "",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"retry job",
       "POST",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/retry",
       "",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"read project code", "GET", "/api/v1/projects/{p}/code", "", project_members},
      {"clone code", "GET", "/git/{p}/info/refs?service=git-upload-pack", "", project_members},
      {"fetch code", "POST", "/git/{p}/git-upload-pack", "0000", project_members},
      {"push advertisement",
       "GET",
       "/git/{p}/info/refs?service=git-receive-pack",
       "",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"push code",
       "POST",
       "/git/{p}/git-receive-pack",
       "0000",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"job outputs", "GET", "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/outputs", "",
       project_members},
      {"job output files", "GET",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/outputs/files", "",
       project_members},
      {"download a job output", "GET",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/outputs/files/a.bin", "",
       project_members},
      {"request a release",
       "POST",
       "/api/v1/projects/{p}/jobs/job_00000000000000000000000000/outputs/release",
       R"({"reason":"the model"})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"list release requests",
       "GET",
       "/api/v1/projects/{p}/releases",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"approve a release",
       "POST",
       "/api/v1/projects/{p}/releases/rel_00000000000000000000000000/approve",
       "{}",
       {"padmin", "wsadmin", "dataowner"}},
      {"refuse a release",
       "POST",
       "/api/v1/projects/{p}/releases/rel_00000000000000000000000000/refuse",
       "{}",
       {"padmin", "wsadmin", "dataowner"}},
      {"get job settings", "GET", "/api/v1/projects/{p}/job-settings", "", project_members},
      {"set job settings",
       "PUT",
       "/api/v1/projects/{p}/job-settings",
       R"({"devenv_idle_s":60})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"list alert rules", "GET", "/api/v1/projects/{p}/alert-rules", "", project_members},
      {"set an alert rule",
       "PATCH",
       "/api/v1/projects/{p}/alert-rules/job_failed",
       R"({"enabled":false})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"list receivers", "GET", "/api/v1/projects/{p}/receivers", "", project_members},
      {"add a receiver",
       "POST",
       "/api/v1/projects/{p}/receivers",
       R"({"name":"{unique}","channel":"slack","config":{"url":"https://hooks.example/x"}})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"get a receiver", "GET", "/api/v1/projects/{p}/receivers/team", "", project_members},
      {"change a receiver",
       "PATCH",
       "/api/v1/projects/{p}/receivers/team",
       R"({"enabled":true})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"test a receiver",
       "POST",
       "/api/v1/projects/{p}/receivers/team/test",
       "{}",
       {"padmin", "wsadmin", "prjadmin"}},
      {"remove a receiver",
       "DELETE",
       "/api/v1/projects/{p}/receivers/nobody-here",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"delivery history", "GET", "/api/v1/projects/{p}/notifications", "", project_members},
      {"list custom rules", "GET", "/api/v1/projects/{p}/custom-rules", "", project_members},
      {"add a custom rule",
       "POST",
       "/api/v1/projects/{p}/custom-rules",
       R"({"name":"{unique}","expr":"jizhan_job_gpu_util < 5","for":"10m"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"get a custom rule", "GET", "/api/v1/projects/{p}/custom-rules/idle", "", project_members},
      {"change a custom rule",
       "PATCH",
       "/api/v1/projects/{p}/custom-rules/idle",
       R"({"severity":"info"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"remove a custom rule",
       "DELETE",
       "/api/v1/projects/{p}/custom-rules/nothing-here",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"preview an expression", "POST", "/api/v1/projects/{p}/alert-preview",
       R"({"expr":"jizhan_job_gpu_util"})", project_members},
      {"active alerts", "GET", "/api/v1/projects/{p}/alerts", "", project_members},
      {"export rules", "GET", "/api/v1/projects/{p}/prometheus-rules", "", project_members},
      // The algorithm store: members read listings; developers list algorithms; project
      // admins sell (orders, codes, the publisher key); the store front is everyone's.
      {"the publisher key", "GET", "/api/v1/projects/{p}/store/publisher", "", project_members},
      {"set the publisher key",
       "PUT",
       "/api/v1/projects/{p}/store/publisher",
       "{}",
       {"padmin", "wsadmin", "prjadmin"}},
      {"list listings", "GET", "/api/v1/projects/{p}/listings", "", project_members},
      {"put a listing",
       "PUT",
       "/api/v1/projects/{p}/listings/none",
       R"({"title":"t","tiers":[{"name":"basic"}]})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"get a listing", "GET", "/api/v1/projects/{p}/listings/none", "", project_members},
      {"list a version",
       "POST",
       "/api/v1/projects/{p}/listings/none/versions",
       R"({"version":"1.0.0"})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"remove a listing",
       "DELETE",
       "/api/v1/projects/{p}/listings/absent",
       "",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"list orders", "GET", "/api/v1/projects/{p}/orders", "", {"padmin", "wsadmin", "prjadmin"}},
      {"make an order",
       "POST",
       "/api/v1/projects/{p}/orders",
       R"({"listing":"none","tier":"basic","customer":"c","seats":1})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"get an order",
       "GET",
       "/api/v1/projects/{p}/orders/ord_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"revoke a code",
       "POST",
       "/api/v1/projects/{p}/codes/acd_00000000000000000000000000/revoke",
       "{}",
       {"padmin", "wsadmin", "prjadmin"}},
      {"a code's activations",
       "GET",
       "/api/v1/projects/{p}/codes/acd_00000000000000000000000000/activations",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"answer an offline activation",
       "POST",
       "/api/v1/projects/{p}/store/offline-activations",
       R"({"request":"{}"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"the store front", "GET", "/api/v1/store/listings", "", all, true},
      {"a store listing", "GET", "/api/v1/store/listings/proj-a-1/none", "", all, true},
      // One's own notifications, subscriptions and receivers: everyone, their own only.
      // Clusters: everyone signed in sees them (never credentials); platform admins change them.
      {"list clusters", "GET", "/api/v1/clusters", "", all, true},
      {"get a cluster", "GET", "/api/v1/clusters/local", "", all, true},
      {"register a cluster", "POST", "/api/v1/clusters",
       R"({"name":"c1","kubeconfig":"not: [yaml"})", admin, true},
      {"change a cluster", "PATCH", "/api/v1/clusters/c1", R"({"enabled":false})", admin, true},
      {"remove a cluster", "DELETE", "/api/v1/clusters/c1", "", admin, true},
      {"my inbox", "GET", "/api/v1/me/inbox", "", all, true},
      {"my unread count", "GET", "/api/v1/me/inbox/unread", "", all, true},
      {"mark my notifications read", "POST", "/api/v1/me/inbox/read", R"({"all":true})", all, true},
      {"my subscriptions", "GET", "/api/v1/me/subscriptions", "", all, true},
      {"follow a rule for my jobs", "PATCH", "/api/v1/me/subscriptions/job_succeeded",
       R"({"subscribed":false})", all, true},
      {"my receivers", "GET", "/api/v1/me/receivers", "", all, true},
      {"add my receiver", "POST", "/api/v1/me/receivers",
       R"({"name":"{unique}","channel":"slack","config":{"url":"https://hooks.example/x"}})", all,
       true},
      {"get my receiver", "GET", "/api/v1/me/receivers/team", "", all, true},
      {"change my receiver", "PATCH", "/api/v1/me/receivers/team", R"({"enabled":true})", all,
       true},
      {"test my receiver", "POST", "/api/v1/me/receivers/team/test", "{}", all, true},
      {"remove my receiver", "DELETE", "/api/v1/me/receivers/nobody-here", "", all, true},
      {"my delivery history", "GET", "/api/v1/me/notifications", "", all, true},
      // Training runs: read by the project's members, started and logged to by those who
      // submit jobs (a run takes records from its owner only: tests/training_e2e_test.cc).
      {"list runs", "GET", "/api/v1/projects/{p}/runs", "", project_members},
      {"start a run",
       "POST",
       "/api/v1/projects/{p}/runs",
       R"({"name":"{unique}"})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"get a run", "GET", "/api/v1/projects/{p}/runs/nothing-here", "", project_members},
      {"log to a run",
       "POST",
       "/api/v1/projects/{p}/runs/nothing-here/records",
       R"({"records":[]})",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"a run's series", "GET", "/api/v1/projects/{p}/runs/nothing-here/series?tag=loss", "",
       project_members},
      {"a run as an event file", "GET", "/api/v1/projects/{p}/runs/nothing-here/tensorboard", "",
       project_members},
      {"compare runs", "GET", "/api/v1/projects/{p}/series?runs=nothing-here&tag=loss", "",
       project_members},
      // The automatic test service: data owners keep suites and alone read sample-level
      // results; those who submit jobs upload algorithms; members read.
      {"list suites", "GET", "/api/v1/projects/{p}/suites", "", project_members},
      {"make a suite",
       "POST",
       "/api/v1/projects/{p}/suites",
       R"({"name":"s-{unique}","dataset":"absent","template":"task: counting\npredictions: {id: sample}\nvariables:\n  - {name: n, path: n@num}\n","annotations":{"file":"t.jsonl","content":""}})",
       {"padmin", "wsadmin", "dataowner"}},
      {"get a suite", "GET", "/api/v1/projects/{p}/suites/nothing-here", "", project_members},
      {"change a suite",
       "PATCH",
       "/api/v1/projects/{p}/suites/nothing-here",
       R"({"thresholds":["mAP >= 0.5"]})",
       {"padmin", "wsadmin", "dataowner"}},
      {"delete a suite",
       "DELETE",
       "/api/v1/projects/{p}/suites/nothing-here",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"a suite's versions", "GET", "/api/v1/projects/{p}/suites/nothing-here/versions", "",
       project_members},
      {"list algorithms", "GET", "/api/v1/projects/{p}/algorithms", "", project_members},
      {"upload an algorithm",
       "POST",
       "/api/v1/projects/{p}/algorithms",
       "{}",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"get an algorithm", "GET", "/api/v1/projects/{p}/algorithms/none/1.0.0", "",
       project_members},
      {"delete an algorithm",
       "DELETE",
       "/api/v1/projects/{p}/algorithms/none/1.0.0",
       "",
       {"padmin", "wsadmin", "prjadmin", "prjdev"}},
      {"list evaluations", "GET", "/api/v1/projects/{p}/evaluations", "", project_members},
      {"evaluate",
       "POST",
       "/api/v1/projects/{p}/evaluations",
       R"({"suite":"none","algorithm":"none","version":"1.0.0"})",
       {"padmin", "wsadmin", "prjadmin", "prjdev", "dataowner"}},
      {"get an evaluation", "GET",
       "/api/v1/projects/{p}/evaluations/eval_00000000000000000000000000", "", project_members},
      {"cancel an evaluation",
       "POST",
       "/api/v1/projects/{p}/evaluations/eval_00000000000000000000000000/cancel",
       "{}",
       {"padmin", "wsadmin", "prjadmin", "prjdev", "dataowner"}},
      {"an evaluation's report", "GET",
       "/api/v1/projects/{p}/evaluations/eval_00000000000000000000000000/report", "",
       project_members},
      {"an evaluation's sample-level files",
       "GET",
       "/api/v1/projects/{p}/evaluations/eval_00000000000000000000000000/files/samples.csv",
       "",
       {"padmin", "wsadmin", "dataowner"}},
      {"list competitions", "GET", "/api/v1/projects/{p}/competitions", "", project_members},
      {"organise a competition",
       "POST",
       "/api/v1/projects/{p}/competitions",
       R"({"name":"c-{unique}","public_suite":"none","hidden_suite":"none","opens_at":"2027-01-01T00:00:00Z","closes_at":"2027-02-01T00:00:00Z","columns":[{"name":"n","path":"result.n"}],"teams":{"t":["x"]}})",
       {"padmin", "wsadmin", "dataowner"}},
      {"get a competition", "GET", "/api/v1/projects/{p}/competitions/none", "", project_members},
      {"change a competition",
       "PATCH",
       "/api/v1/projects/{p}/competitions/none",
       R"({"daily_limit":3})",
       {"padmin", "wsadmin", "dataowner"}},
      {"submit to a competition",
       "POST",
       "/api/v1/projects/{p}/competitions/none/submissions",
       R"({"split":"public","algorithm":"a","version":"1.0.0","csv":"sample,n\n"})",
       {"padmin", "wsadmin", "prjadmin", "prjdev", "dataowner"}},
      {"a competition's submissions", "GET", "/api/v1/projects/{p}/competitions/none/submissions",
       "", project_members},
      {"a competition's board", "GET", "/api/v1/projects/{p}/competitions/none/board", "",
       project_members},
      {"a competition's verdicts", "GET", "/api/v1/projects/{p}/competitions/none/verdicts", "",
       project_members},
      {"list inhibitions", "GET", "/api/v1/projects/{p}/inhibitions", "", project_members},
      {"add an inhibition",
       "POST",
       "/api/v1/projects/{p}/inhibitions",
       R"({"source":"alertname=\"A\"","target":"alertname=\"B\"","comment":"c"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"remove an inhibition",
       "DELETE",
       "/api/v1/projects/{p}/inhibitions/inh_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"workspace inhibitions", "GET", "/api/v1/workspaces/{ws}/inhibitions", "", ws_readers},
      {"add a workspace inhibition", "POST", "/api/v1/workspaces/{ws}/inhibitions",
       R"({"source":"alertname=\"A\"","target":"alertname=\"B\"","comment":"c"})", ws_admins},
      {"remove a workspace inhibition", "DELETE",
       "/api/v1/workspaces/{ws}/inhibitions/inh_00000000000000000000000000", "", ws_admins},
      {"platform inhibitions", "GET", "/api/v1/alerting/inhibitions", "", admin, true},
      {"add a platform inhibition", "POST", "/api/v1/alerting/inhibitions",
       R"({"source":"alertname=\"A\"","target":"alertname=\"B\"","comment":"c"})", admin, true},
      {"remove a platform inhibition", "DELETE",
       "/api/v1/alerting/inhibitions/inh_00000000000000000000000000", "", admin, true},
      // A workspace's alerting: its admins change it, its viewers read it.
      {"workspace alert rules", "GET", "/api/v1/workspaces/{ws}/alert-rules", "", ws_readers},
      {"set a workspace alert rule", "PATCH", "/api/v1/workspaces/{ws}/alert-rules/job_failed",
       R"({"severity":"critical"})", ws_admins},
      {"workspace receivers", "GET", "/api/v1/workspaces/{ws}/receivers", "", ws_readers},
      {"add a workspace receiver", "POST", "/api/v1/workspaces/{ws}/receivers",
       R"({"name":"{unique}","channel":"slack","config":{"url":"https://hooks.example/x"}})",
       ws_admins},
      {"get a workspace receiver", "GET", "/api/v1/workspaces/{ws}/receivers/team", "", ws_readers},
      {"change a workspace receiver", "PATCH", "/api/v1/workspaces/{ws}/receivers/team",
       R"({"enabled":true})", ws_admins},
      {"test a workspace receiver", "POST", "/api/v1/workspaces/{ws}/receivers/team/test", "{}",
       ws_admins},
      {"remove a workspace receiver", "DELETE", "/api/v1/workspaces/{ws}/receivers/nobody-here", "",
       ws_admins},
      {"workspace delivery history", "GET", "/api/v1/workspaces/{ws}/notifications", "",
       ws_readers},
      {"workspace custom rules", "GET", "/api/v1/workspaces/{ws}/custom-rules", "", ws_readers},
      {"add a workspace custom rule", "POST", "/api/v1/workspaces/{ws}/custom-rules",
       R"({"name":"{unique}","expr":"jizhan_job_gpu_util < 5"})", ws_admins},
      {"get a workspace custom rule", "GET", "/api/v1/workspaces/{ws}/custom-rules/idle", "",
       ws_readers},
      {"change a workspace custom rule", "PATCH", "/api/v1/workspaces/{ws}/custom-rules/idle",
       R"({"severity":"info"})", ws_admins},
      {"remove a workspace custom rule", "DELETE",
       "/api/v1/workspaces/{ws}/custom-rules/nothing-here", "", ws_admins},
      {"preview a workspace expression", "POST", "/api/v1/workspaces/{ws}/alert-preview",
       R"({"expr":"jizhan_job_gpu_util"})", ws_readers},
      {"workspace active alerts", "GET", "/api/v1/workspaces/{ws}/alerts", "", ws_readers},
      {"export workspace rules", "GET", "/api/v1/workspaces/{ws}/prometheus-rules", "", ws_readers},
      {"workspace silences", "GET", "/api/v1/workspaces/{ws}/silences", "", ws_readers},
      {"add a workspace silence", "POST", "/api/v1/workspaces/{ws}/silences",
       R"({"matchers":"alertname=\"job_failed\"","duration":"1h","comment":"maintenance"})",
       ws_admins},
      {"end a workspace silence", "DELETE",
       "/api/v1/workspaces/{ws}/silences/sil_00000000000000000000000000", "", ws_admins},
      {"platform custom rules", "GET", "/api/v1/alerting/custom-rules", "", admin, true},
      {"add a platform custom rule", "POST", "/api/v1/alerting/custom-rules",
       R"({"name":"{unique}","expr":"jizhan_gpu_healthy == 0"})", admin, true},
      {"get a platform custom rule", "GET", "/api/v1/alerting/custom-rules/down", "", admin, true},
      {"change a platform custom rule", "PATCH", "/api/v1/alerting/custom-rules/down",
       R"({"severity":"critical"})", admin, true},
      {"remove a platform custom rule", "DELETE", "/api/v1/alerting/custom-rules/nothing-here", "",
       admin, true},
      {"preview a platform expression", "POST", "/api/v1/alerting/alert-preview",
       R"({"expr":"jizhan_gpu_healthy"})", admin, true},
      {"platform active alerts", "GET", "/api/v1/alerting/alerts", "", admin, true},
      {"export platform rules", "GET", "/api/v1/alerting/prometheus-rules", "", admin, true},
      {"send a project's alert (Prometheus)",
       "POST",
       "/api/v2/alerts",
       R"([{"labels":{"alertname":"HighLoss","project":"{p}"}}])",
       {"padmin", "wsadmin", "prjadmin"}},
      {"send a platform alert (Prometheus)", "POST", "/api/v2/alerts",
       R"([{"labels":{"alertname":"NodeDown"}}])", admin, true},
      {"send a project's alert (Alertmanager webhook)",
       "POST",
       "/api/v1/alerting/alertmanager",
       R"({"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X","project":"{p}"}}]})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"list silences", "GET", "/api/v1/projects/{p}/silences", "", project_members},
      {"add a silence",
       "POST",
       "/api/v1/projects/{p}/silences",
       R"({"matchers":"alertname=\"job_failed\"","duration":"1h","comment":"maintenance"})",
       {"padmin", "wsadmin", "prjadmin"}},
      {"end a silence",
       "DELETE",
       "/api/v1/projects/{p}/silences/sil_00000000000000000000000000",
       "",
       {"padmin", "wsadmin", "prjadmin"}},
      {"platform silences", "GET", "/api/v1/alerting/silences", "", admin, true},
      {"add a platform silence", "POST", "/api/v1/alerting/silences",
       R"({"matchers":"alertname=\"gpu_unhealthy\"","duration":"1h","comment":"repair"})", admin,
       true},
      {"end a platform silence", "DELETE",
       "/api/v1/alerting/silences/sil_00000000000000000000000000", "", admin, true},
      {"platform alert rules", "GET", "/api/v1/alerting/alert-rules", "", admin, true},
      {"set a platform alert rule", "PATCH", "/api/v1/alerting/alert-rules/job_lost",
       R"({"severity":"critical"})", admin, true},
      {"platform receivers", "GET", "/api/v1/alerting/receivers", "", admin, true},
      {"add a platform receiver", "POST", "/api/v1/alerting/receivers",
       R"({"name":"{unique}","channel":"slack","config":{"url":"https://hooks.example/x"}})", admin,
       true},
      {"get a platform receiver", "GET", "/api/v1/alerting/receivers/ops", "", admin, true},
      {"change a platform receiver", "PATCH", "/api/v1/alerting/receivers/ops",
       R"({"enabled":true})", admin, true},
      {"test a platform receiver", "POST", "/api/v1/alerting/receivers/ops/test", "{}", admin,
       true},
      {"remove a platform receiver", "DELETE", "/api/v1/alerting/receivers/nobody-here", "", admin,
       true},
      {"platform delivery history", "GET", "/api/v1/alerting/notifications", "", admin, true},
      {"delete project", "DELETE", "/api/v1/projects/{p}", "", {"padmin", "wsadmin"}},
      {"delete workspace", "DELETE", "/api/v1/workspaces/{ws}", "", admin, true},
      {"create workspace", "POST", "/api/v1/workspaces", R"({"name":"{unique}"})", admin, true},
      {"list users", "GET", "/api/v1/users", "", admin, true},
      {"create user", "POST", "/api/v1/users",
       R"({"username":"{unique}","password":"long-enough-password"})", admin, true},
      {"read audit", "GET", "/api/v1/audit", "", admin, true},
      {"verify audit", "GET", "/api/v1/audit/verify", "", admin, true},
      {"read settings", "GET", "/api/v1/settings", "", admin, true},
      {"write settings", "PUT", "/api/v1/settings/k", R"({"value":1})", admin, true},
      {"read a setting", "GET", "/api/v1/settings/k", "", admin, true},
      {"delete a setting", "DELETE", "/api/v1/settings/absent", "", admin, true},
      {"export the cluster for the simulator", "GET", "/api/v1/scheduler/cluster", "", admin, true},
      {"run the scheduling simulator", "POST", "/api/v1/scheduler/simulate",
       R"({"cluster":"pools: [{name: default}]\nprojects: [{name: p, nominal_gpus: 1}]",)"
       R"("workload":"submit_s,user,project,gpus,duration_s,priority\n0,u,p,1,60,0\n",)"
       R"("workload_format":"csv"})",
       admin, true},
      {"unlock a user", "POST", "/api/v1/users/spare/unlock", "", admin, true},
      {"read another user's account", "GET", "/api/v1/users/spare", "", admin, true},
      {"update another user", "PATCH", "/api/v1/users/spare", R"({"display_name":"x"})", admin,
       true},
      {"disable another user", "PATCH", "/api/v1/users/spare", R"({"disabled":false})", admin,
       true},
      {"reset another user's password", "POST", "/api/v1/users/spare/password",
       R"({"new_password":"long-enough-password-2"})", admin, true},
      {"list roles", "GET", "/api/v1/roles", "", all, true},
  };
}

class AuthzMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::DatabaseOptions dbo;
    dbo.url = *store::parse_database_url("sqlite:" + dir_.str() + "/j.db");
    db_ = std::move(store::Database::open(dbo)).value();
    accounts_ = std::make_unique<iam::Accounts>(*db_, Clock::system(), ids_);
    iam::AuthOptions ao;
    ao.hash_cost = iam::HashCost::kMinimum;
    ao.token_cache = std::chrono::milliseconds(0);
    auth_ = std::make_unique<iam::Authenticator>(*accounts_, Clock::system(), ao);
    tenancy_ = std::make_unique<iam::Tenancy>(*db_, Clock::system(), ids_);

    for (const auto& s : kSubjects) token_[s] = make_user(s, s == "padmin");
    make_user("spare", false);
    // Two tenants built the same way; only tenant A has our subjects as members.
    for (const char* t : {"a", "b"}) {
      std::string ws = std::string("ws-") + t;
      ASSERT_TRUE(tenancy_->create_workspace(ws, "").ok());
      // Enough projects that every destructive probe has its own target.
      for (int i = 0; i < 64; ++i) {
        ASSERT_TRUE(tenancy_->create_project(ws, project_name(t, i), "", "").ok());
      }
    }
    auto ws_a = tenancy_->workspace("ws-a");
    for (auto [user, role] :
         {std::pair{"wsadmin", "workspace-admin"}, std::pair{"wsregular", "workspace-regular"},
          std::pair{"wsviewer", "workspace-viewer"}}) {
      ASSERT_TRUE(tenancy_->add_member("workspace", ws_a->id, user, role).ok());
    }
    for (int i = 0; i < 64; ++i) {
      auto p = tenancy_->project(project_name("a", i));
      for (auto [user, role] :
           {std::pair{"prjadmin", "project-admin"}, std::pair{"prjdev", "project-developer"},
            std::pair{"prjview", "project-viewer"}, std::pair{"dataowner", "data-owner"}}) {
        ASSERT_TRUE(tenancy_->add_member("project", p->id, user, role).ok());
      }
    }
    ServerOptions opts;
    opts.port = 0;
    opts.threads = 4;
    audit_ = std::make_unique<iam::AuditLog>(*db_, Clock::system(), ids_);
    // The job service without a runner: jobs are stored and queued, never run.
    std::filesystem::create_directories(datadir());
    std::filesystem::permissions(datadir(), std::filesystem::perms(0755));
    events_ = std::make_unique<iam::EventLog>(*db_, Clock::system(), ids_);
    jobs_ = std::make_unique<jobs::JobStore>(*db_, Clock::system(), ids_, *events_);
    datasets_ =
        std::make_unique<jobs::Datasets>(*db_, Clock::system(), ids_, jobs::DatasetPolicy{"", ""});
    ASSERT_TRUE(datasets_->add_root(ws_a->id, datadir(), "padmin").ok());
    versions_ = std::make_unique<datasets::DatasetVersions>(
        *db_, Clock::system(), ids_, *datasets_,
        datasets::VersionOptions{.dir = dir_.str() + "/versions"});
    code_ = std::make_unique<jobs::CodeRepos>(jobs::CodeOptions{.root = dir_.str() + "/code"});
    outputs_ = std::make_unique<jobs::Outputs>(*db_, Clock::system(), ids_);
    curations_ = std::make_unique<datasets::CurationService>(
        *db_, Clock::system(), ids_, *jobs_, *outputs_, *versions_,
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    labelling_ = std::make_unique<datasets::Labelling>(*db_, Clock::system(), ids_, *versions_);
    lifecycle_ = std::make_unique<datasets::Lifecycle>(*db_, Clock::system(), *versions_,
                                                       audit_.get(), nullptr);
    preannotations_ = std::make_unique<datasets::PreAnnotations>(
        *db_, Clock::system(), ids_, *jobs_, *outputs_, *labelling_, nullptr);
    conversions_ = std::make_unique<datasets::Conversions>(*db_, Clock::system(), ids_, *jobs_,
                                                           *outputs_, *versions_, nullptr);
    runs_ = std::make_unique<training::RunService>(
        *db_, Clock::system(), ids_, training::RunOptions{.dir = dir_.str() + "/training"});
    alerts_ = std::make_unique<alerts::AlertService>(
        *db_, Clock::system(), ids_, *tenancy_, alerts::SecretBox::with_key("k"),
        alerts::AlertOptions{},
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    // A receiver "team" in every project and "ops" of the platform (tests send to
    // loopback: refused as a private address, never sent).
    for (int i = 0; i < 128; ++i) {
      auto p = tenancy_->project(project_name(i < 64 ? "a" : "b", i % 64));
      ASSERT_TRUE(p.ok());
      ASSERT_TRUE(alerts_
                      ->create_receiver("project", p->id,
                                        {{"name", "team"},
                                         {"channel", "webhook"},
                                         {"config", {{"url", "http://127.0.0.1:1/x"}}}},
                                        "padmin")
                      .ok());
    }
    alerts_->attach_metrics(&metrics_);  // no series: previews answer nothing
    for (int i = 0; i < 128; ++i) {
      auto p = tenancy_->project(project_name(i < 64 ? "a" : "b", i % 64));
      ASSERT_TRUE(alerts_
                      ->create_custom_rule("project", p->id,
                                           {{"name", "idle"}, {"expr", "jizhan_job_gpu_util < 5"}},
                                           "padmin")
                      .ok());
    }
    ASSERT_TRUE(alerts_
                    ->create_custom_rule("platform", "",
                                         {{"name", "down"}, {"expr", "jizhan_gpu_healthy == 0"}},
                                         "padmin")
                    .ok());
    ASSERT_TRUE(alerts_
                    ->create_receiver("platform", "",
                                      {{"name", "ops"},
                                       {"channel", "webhook"},
                                       {"config", {{"url", "http://127.0.0.1:1/x"}}}},
                                      "padmin")
                    .ok());
    autotest_ = std::make_unique<autotest::AutotestService>(
        *db_, Clock::system(), ids_, *jobs_, *datasets_, *outputs_,
        autotest::AutotestOptions{.dir = dir_.str() + "/autotest"},
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    competitions_ = std::make_unique<autotest::CompetitionService>(
        *db_, Clock::system(), ids_, *autotest_, dir_.str() + "/autotest/competitions",
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
    ASSERT_TRUE(competitions_->open().ok());
    store_ = std::make_unique<algostore::AlgorithmStore>(
        *db_, Clock::system(), ids_, *autotest_, alerts::SecretBox::with_key(std::string(32, 's')),
        algostore::StoreOptions{},
        std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>()));
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
                         store_.get(),
                         versions_.get(),
                         curations_.get(),
                         labelling_.get(),
                         lifecycle_.get(),
                         preannotations_.get(),
                         conversions_.get()});
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  static std::string project_name(const std::string& tenant, int i) {
    return "proj-" + tenant + "-" + std::to_string(i);
  }

  std::string make_user(const std::string& name, bool admin) {
    iam::User u;
    u.username = name;
    u.platform_role = std::string(admin ? iam::kPlatformAdmin : iam::kPlatformRegular);
    u.password_hash = *iam::hash_password(name + "-password-x", iam::HashCost::kMinimum);
    auto created = accounts_->create_user(u);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return accounts_
        ->issue_token(created->id, "api", "t", "", Clock::system().now_unix_ms() + 3600000)
        .value_or("");
  }

  int call(const std::string& token, const std::string& method, const std::string& path,
           const std::string& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token);
    httplib::Result r = testing::send(c, method, path, body);
    if (!r) return -1;
    // A project or workspace the caller may not see answers 404, like a missing one (no
    // probing of other tenants' names): for the matrix, that is a refusal.
    if (r->status == 404) {
      Json e = Json::parse(r->body, nullptr, false);
      std::string m = e.is_object() ? e["error"].value("message", "") : "";
      for (const char* kind : {"project '", "workspace '"}) {
        if (m.rfind(kind, 0) != 0) continue;
        std::string name = m.substr(strlen(kind), m.find('\'', strlen(kind)) - strlen(kind));
        bool exists = std::string(kind) == "project '" ? tenancy_->project(name).ok()
                                                       : tenancy_->workspace(name).ok();
        if (exists) return 403;
      }
    }
    return r->status;
  }

  testing::TempDir dir_;
  IdGenerator ids_{Clock::system(), SecureRandom::instance()};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Accounts> accounts_;
  std::unique_ptr<iam::Authenticator> auth_;
  std::unique_ptr<iam::Tenancy> tenancy_;
  std::unique_ptr<iam::AuditLog> audit_;
  std::string datadir() const { return dir_.str() + "/datasets"; }
  std::unique_ptr<iam::EventLog> events_;
  std::unique_ptr<jobs::JobStore> jobs_;
  std::unique_ptr<jobs::Datasets> datasets_;
  std::unique_ptr<datasets::DatasetVersions> versions_;
  std::unique_ptr<datasets::CurationService> curations_;
  std::unique_ptr<datasets::Labelling> labelling_;
  std::unique_ptr<datasets::Lifecycle> lifecycle_;
  std::unique_ptr<datasets::PreAnnotations> preannotations_;
  std::unique_ptr<datasets::Conversions> conversions_;
  std::unique_ptr<jobs::CodeRepos> code_;
  std::unique_ptr<jobs::Outputs> outputs_;
  std::unique_ptr<training::RunService> runs_;
  alerts::promql::MemorySource metrics_;
  std::unique_ptr<alerts::AlertService> alerts_;
  std::unique_ptr<autotest::AutotestService> autotest_;
  std::unique_ptr<autotest::CompetitionService> competitions_;
  std::unique_ptr<algostore::AlgorithmStore> store_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::map<std::string, std::string> token_;
};

TEST_F(AuthzMatrixTest, EveryRoleEveryEndpointOwnAndOtherTenant) {
  int probe = 0, cells = 0;
  // Destructive probes that succeed remove their target, so tenant-wide deletes run last
  // and against a workspace emptied for them.
  for (const auto& e : endpoints()) {
    for (const char* tenant : {"a", "b"}) {
      if (e.platform_level && std::string(tenant) == "b") continue;
      for (const auto& subject : kSubjects) {
        std::string path = e.path, body = e.body;
        const std::string unique = "u" + std::to_string(++probe);
        // Each probe gets its own project, so a successful delete cannot change later cells.
        auto subst = [&](std::string& s) {
          for (auto [from, to] :
               {std::pair<std::string, std::string>{"{ws}", std::string("ws-") + tenant},
                {"{p}", project_name(tenant, probe % 64)},
                {"{datadir}", datadir()},
                {"{rootsdir}", dir_.str() + "/roots"},
                {"{unique}", unique}}) {
            for (size_t at; (at = s.find(from)) != std::string::npos;)
              s.replace(at, from.size(), to);
          }
        };
        subst(path);
        subst(body);
        // A folder of its own for each probe that registers one.
        for (const std::string& d : {datadir(), dir_.str() + "/roots"}) {
          std::filesystem::create_directories(d + "/" + unique);
          std::filesystem::permissions(d, std::filesystem::perms(0755));
          std::filesystem::permissions(d + "/" + unique, std::filesystem::perms(0755));
        }
        if (e.name == "delete project") {
          // A fresh project in the tenant's workspace for this one probe.
          path = "/api/v1/projects/del-" + unique;
          ASSERT_TRUE(
              tenancy_->create_project(std::string("ws-") + tenant, "del-" + unique, "", "").ok());
          if (std::string(tenant) == "a") {
            auto p = tenancy_->project("del-" + unique);
            for (auto [user, role] :
                 {std::pair{"prjadmin", "project-admin"}, std::pair{"prjdev", "project-developer"},
                  std::pair{"prjview", "project-viewer"}, std::pair{"dataowner", "data-owner"}}) {
              ASSERT_TRUE(tenancy_->add_member("project", p->id, user, role).ok());
            }
          }
        }
        if (e.name == "delete workspace") {
          path = "/api/v1/workspaces/empty-" + unique;
          ASSERT_TRUE(tenancy_->create_workspace("empty-" + unique, "").ok());
        }
        const bool own = std::string(tenant) == "a" || e.platform_level;
        const bool expect_allowed = own ? e.allowed.count(subject) > 0 : subject == "padmin";
        int status = call(token_[subject], e.method, path, body);
        const bool allowed = status != 401 && status != 403;
        EXPECT_EQ(allowed, expect_allowed)
            << e.name << " as " << subject << " in tenant " << tenant << ": HTTP " << status;
        EXPECT_NE(status, -1);
        EXPECT_LT(status, 500) << e.name << " as " << subject;
        ++cells;
      }
    }
  }
  EXPECT_GT(cells, 250);
}

// The OpenAPI document lists every registered route with who may call it (x-jizhan-scope).
struct DocumentedOperation {
  std::string method, path, scope;
  std::regex pattern;
};

std::vector<DocumentedOperation> documented_operations(const Json& doc) {
  std::vector<DocumentedOperation> out;
  for (const auto& [path, ops] : doc["paths"].items()) {
    // "{path}" spans segments; other parameters are one segment.
    std::string re = "^";
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '{') {
        const size_t end = path.find('}', i);
        re += path.substr(i, end - i + 1) == "{path}" ? ".+" : "[^/]+";
        i = end;
      } else {
        re += std::isalnum(static_cast<unsigned char>(path[i])) ? std::string(1, path[i])
                                                                : "\\" + std::string(1, path[i]);
      }
    }
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.push_back({m, path, op.value("x-jizhan-scope", ""), std::regex(re + "$")});
    }
  }
  return out;
}

// The matrix above is checked against the registered routes: every route that needs a
// role (platform-admin, workspace or project scope) must have a row, so a new route
// cannot ship without its authorisation being tested.
TEST_F(AuthzMatrixTest, EveryRegisteredRouteThatNeedsARoleIsInTheMatrix) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_["padmin"]);
  auto r = c.Get("/api/v1/openapi.json");
  ASSERT_TRUE(r && r->status == 200);
  const Json doc = Json::parse(r->body);
  std::vector<std::string> missing;
  int checked = 0;
  for (const auto& op : documented_operations(doc)) {
    ASSERT_FALSE(op.scope.empty()) << op.method << " " << op.path << " has no x-jizhan-scope";
    if (op.scope == "public" || op.scope == "caller") continue;
    ++checked;
    bool covered = false;
    for (const auto& e : endpoints()) {
      std::string path = e.path.substr(0, e.path.find('?'));
      for (auto [from, to] :
           {std::pair<std::string, std::string>{"{ws}", "ws-a"}, {"{p}", "proj-a-1"}}) {
        for (size_t at; (at = path.find(from)) != std::string::npos;)
          path.replace(at, from.size(), to);
      }
      if (e.method == op.method && std::regex_match(path, op.pattern)) covered = true;
    }
    if (!covered) missing.push_back(op.method + " " + op.path + " (" + op.scope + ")");
  }
  EXPECT_TRUE(missing.empty()) << "routes with no row in the authorisation matrix "
                                  "(api/authz_matrix_test.cc endpoints()):\n"
                               << [&] {
                                    std::string all;
                                    for (const auto& m : missing) all += "  " + m + "\n";
                                    return all;
                                  }();
  EXPECT_GT(checked, 30);
}

// For every project-scoped route, an outsider learns nothing about other tenants'
// projects: another tenant's project answers exactly like a project that does not exist
// (same status, same error code, same message but for the name).
TEST_F(AuthzMatrixTest, AnotherTenantsProjectLooksLikeAMissingOne) {
  httplib::Client admin("127.0.0.1", server_->port());
  admin.set_bearer_token_auth(token_["padmin"]);
  auto r = admin.Get("/api/v1/openapi.json");
  ASSERT_TRUE(r && r->status == 200);
  const Json doc = Json::parse(r->body);
  auto fill = [](std::string path, const std::string& project) {
    for (auto [from, to] : {std::pair<std::string, std::string>{"{project}", project},
                            {"{workspace}", "ws-b"},
                            {"{id}", "job_00000000000000000000000000"},
                            {"{upload}", "upl_00000000000000000000000000"},
                            {"{release}", "rel_00000000000000000000000000"},
                            {"{dataset}", "absent"},
                            {"{rule}", "job_failed"},
                            {"{receiver}", "team"},
                            {"{custom}", "idle"},
                            {"{silence}", "sil_00000000000000000000000000"},
                            {"{inhibition}", "inh_00000000000000000000000000"},
                            {"{run}", "exp-1"},
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
                            {"{level}", "secret"},
                            {"{username}", "absent"},
                            {"{key}", "k"},
                            {"{path}", "x"}}) {
      for (size_t at; (at = path.find(from)) != std::string::npos;)
        path.replace(at, from.size(), to);
    }
    return path;
  };
  // The shape of an answer: status, error code, and the message with the name blanked.
  auto shape = [&](const std::string& token, const std::string& method, const std::string& path,
                   const std::string& name) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token);
    httplib::Result res = testing::send(c, method, path);
    if (!res) return std::string("no answer");
    Json e = Json::parse(res->body, nullptr, false);
    std::string code, message;
    if (e.is_object() && e.contains("error")) {
      code = e["error"].value("code", "");
      message = e["error"].value("message", "");
      for (size_t at; (at = message.find(name)) != std::string::npos;)
        message.replace(at, name.size(), "NAME");
    }
    return std::to_string(res->status) + " " + code + " " + message;
  };
  int probed = 0;
  for (const auto& op : documented_operations(doc)) {
    if (op.path.find("{project}") == std::string::npos) continue;
    for (const char* who : {"nobody", "prjadmin", "wsadmin", "dataowner"}) {
      // proj-b-* belong to tenant B, where these users hold nothing.
      const std::string other =
          shape(token_[who], op.method, fill(op.path, "proj-b-7"), "proj-b-7");
      const std::string absent =
          shape(token_[who], op.method, fill(op.path, "no-such-7"), "no-such-7");
      EXPECT_EQ(other, absent) << op.method << " " << op.path << " as " << who;
      EXPECT_EQ(other.rfind("404 not_found", 0), 0u)
          << op.method << " " << op.path << " as " << who << ": " << other;
      ++probed;
    }
  }
  EXPECT_GT(probed, 80);
}

TEST_F(AuthzMatrixTest, ListsShowOnlyWhatTheCallerMaySee) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_["wsviewer"]);
  auto ws = c.Get("/api/v1/workspaces");
  ASSERT_EQ(ws->status, 200);
  EXPECT_NE(ws->body.find("\"ws-a\""), std::string::npos);
  EXPECT_EQ(ws->body.find("\"ws-b\""), std::string::npos) << ws->body;
  // Another tenant's workspace looks missing.
  auto other = c.Get("/api/v1/workspaces/ws-b/projects");
  ASSERT_EQ(other->status, 404);
  EXPECT_EQ(other->body.find("proj-b"), std::string::npos) << "another tenant's projects leaked";
  httplib::Client nobody("127.0.0.1", server_->port());
  nobody.set_bearer_token_auth(token_["nobody"]);
  EXPECT_EQ(nobody.Get("/api/v1/workspaces")->body.find("ws-"), std::string::npos);
  // The platform-wide project list: a workspace viewer sees the workspace's projects,
  // a project member their project, without belonging to its workspace.
  auto all = c.Get("/api/v1/projects");
  ASSERT_EQ(all->status, 200);
  EXPECT_NE(all->body.find("\"proj-a-1\""), std::string::npos) << all->body;
  EXPECT_EQ(all->body.find("proj-b"), std::string::npos) << all->body;
  EXPECT_EQ(c.Get("/api/v1/projects?workspace=ws-b")->body.find("proj-b"), std::string::npos);
  httplib::Client dev("127.0.0.1", server_->port());
  dev.set_bearer_token_auth(token_["prjdev"]);
  Json mine = Json::parse(dev.Get("/api/v1/projects")->body);
  ASSERT_GE(mine["items"].size(), 1u) << mine.dump();
  for (const auto& p : mine["items"]) EXPECT_EQ(p["workspace"], "ws-a") << mine.dump();
  EXPECT_NE(mine.dump().find("\"proj-a-1\""), std::string::npos);
  EXPECT_EQ(Json::parse(nobody.Get("/api/v1/projects")->body)["items"].size(), 0u);
}

// A workspace admin reads the audit of requests in their workspace, and nothing of another.
TEST_F(AuthzMatrixTest, WorkspaceAdminsReadTheirWorkspacesAuditOnly) {
  ASSERT_EQ(call(token_["wsadmin"], "PUT", "/api/v1/projects/proj-a-1/quota", R"({"gpus":3})"),
            200);
  audit_->flush();  // records are written by the trail's own thread
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_["wsadmin"]);
  auto mine = c.Get("/api/v1/workspaces/ws-a/audit?page_size=1000");
  ASSERT_EQ(mine->status, 200) << mine->body;
  Json items = Json::parse(mine->body)["items"];
  ASSERT_FALSE(items.empty());
  bool saw_quota = false;
  for (const auto& r : items) {
    EXPECT_EQ(r["workspace"], "ws-a") << r.dump();
    saw_quota = saw_quota || (r["project"] == "proj-a-1" && r["resource_type"] == "quota");
  }
  EXPECT_TRUE(saw_quota) << mine->body;
  // Another tenant's workspace looks missing; the platform's trail is for platform admins.
  auto theirs = c.Get("/api/v1/workspaces/ws-b/audit");
  EXPECT_EQ(theirs->status, 404);
  EXPECT_EQ(theirs->body.find("proj-b"), std::string::npos);
  EXPECT_EQ(c.Get("/api/v1/audit")->status, 403);
}

// Issue 20: custom roles are made of permissions, by platform admins for every workspace
// and by workspace admins for theirs; nobody makes or grants a role above their own.
TEST_F(AuthzMatrixTest, CustomRolesAreMadeOnlyOfPermissionsTheirMakerHolds) {
  const std::string labeler =
      R"({"name":"labeler","scope":"project","permissions":["job:get","job:list","dataset:get"],)"
      R"("workspace":"ws-a"})";
  // Not a workspace admin there, or of another tenant: the workspace looks missing (which
  // call() counts as a refusal, 403).
  for (const char* who : {"wsregular", "wsviewer", "prjadmin", "prjdev", "nobody"}) {
    EXPECT_EQ(call(token_[who], "POST", "/api/v1/roles", labeler), 403) << who;
  }
  const std::string in_b =
      R"({"name":"x-b","scope":"project","permissions":["job:get"],"workspace":"ws-b"})";
  EXPECT_EQ(call(token_["wsadmin"], "POST", "/api/v1/roles", in_b), 403);
  // Without a workspace: platform admins only.
  EXPECT_EQ(call(token_["wsadmin"], "POST", "/api/v1/roles",
                 R"({"name":"y","scope":"project","permissions":["job:get"]})"),
            403);
  // Bad permissions and scopes say what is wrong and store nothing.
  EXPECT_EQ(call(token_["padmin"], "POST", "/api/v1/roles",
                 R"({"name":"z","scope":"project","permissions":["jobs:get"]})"),
            400);
  EXPECT_EQ(call(token_["padmin"], "POST", "/api/v1/roles",
                 R"({"name":"z","scope":"platform","permissions":["job:get"]})"),
            400);
  EXPECT_FALSE(tenancy_->role("z").ok());
  // The workspace admin makes one for ws-a; the name is then taken.
  ASSERT_EQ(call(token_["wsadmin"], "POST", "/api/v1/roles", labeler), 201);
  EXPECT_EQ(call(token_["padmin"], "POST", "/api/v1/roles", labeler), 409);
  auto made = tenancy_->role("labeler");
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE(made->builtin);
  EXPECT_EQ(made->created_by, "wsadmin");
  // A project admin may give it (they hold every permission in it)...
  EXPECT_EQ(call(token_["prjadmin"], "POST", "/api/v1/projects/proj-a-1/members",
                 R"({"username":"nobody","role":"labeler"})"),
            201);
  // ...but not a role with a permission they lack, made by the workspace admin.
  ASSERT_EQ(call(token_["wsadmin"], "POST", "/api/v1/roles",
                 R"({"name":"peeker","scope":"project","permissions":["dataset_data:get"],)"
                 R"("workspace":"ws-a"})"),
            201);
  EXPECT_EQ(call(token_["prjadmin"], "POST", "/api/v1/projects/proj-a-1/members",
                 R"({"username":"wsregular","role":"peeker"})"),
            403);
  // Deleting: not another workspace's admin, not while held, not a built-in one.
  EXPECT_EQ(call(token_["prjadmin"], "DELETE", "/api/v1/roles/labeler", ""), 403);
  EXPECT_EQ(call(token_["wsadmin"], "DELETE", "/api/v1/roles/labeler", ""), 409);
  EXPECT_EQ(call(token_["padmin"], "DELETE", "/api/v1/roles/project-admin", ""), 409);
  EXPECT_EQ(call(token_["wsadmin"], "DELETE", "/api/v1/roles/peeker", ""), 204);
  EXPECT_EQ(call(token_["prjadmin"], "DELETE", "/api/v1/projects/proj-a-1/members/nobody", ""),
            204);
  EXPECT_EQ(call(token_["wsadmin"], "DELETE", "/api/v1/roles/labeler", ""), 204);
}

TEST_F(AuthzMatrixTest, ProjectScopedTokenActsOnlyInItsProject) {
  auto dev = accounts_->user_by_name("prjdev");
  auto scoped = accounts_->issue_token(dev->id, "api", "ci", "proj-a-1",
                                       Clock::system().now_unix_ms() + 60000);
  ASSERT_TRUE(scoped.ok());
  EXPECT_EQ(call(*scoped, "GET", "/api/v1/projects/proj-a-1", ""), 200);
  EXPECT_EQ(call(*scoped, "GET", "/api/v1/projects/proj-a-2", ""), 403);
  EXPECT_EQ(call(*scoped, "GET", "/api/v1/workspaces/ws-a", ""), 403);
  // Nor on accounts or roles, its owner's included (issue 20).
  EXPECT_EQ(call(*scoped, "PATCH", "/api/v1/users/prjdev", R"({"display_name":"x"})"), 403);
  EXPECT_EQ(call(*scoped, "GET", "/api/v1/users/prjdev", ""), 403);
  EXPECT_EQ(call(*scoped, "POST", "/api/v1/users/prjdev/password",
                 R"({"current_password":"prjdev-password","new_password":"long-enough-password"})"),
            403);
  EXPECT_EQ(call(*scoped, "POST", "/api/v1/roles",
                 R"({"name":"r","scope":"project","permissions":["job:get"],"workspace":"ws-a"})"),
            403);
}

TEST_F(AuthzMatrixTest, BadMemberInputIsA400AndChangesNothing) {
  const std::string& t = token_["wsadmin"];
  EXPECT_EQ(call(t, "POST", "/api/v1/projects/proj-a-1/members",
                 R"({"username":"spare","role":"workspace-admin"})"),
            400);  // a workspace role on a project
  EXPECT_EQ(call(t, "POST", "/api/v1/projects/proj-a-1/members",
                 R"({"username":"ghost","role":"project-viewer"})"),
            400);
  EXPECT_EQ(call(t, "POST", "/api/v1/projects/proj-a-1/members", R"({"username":"spare"})"), 400);
  EXPECT_EQ(call(t, "POST", "/api/v1/workspaces/ws-a/projects", R"({"name":"Bad_Name"})"), 400);
  EXPECT_EQ(call(t, "POST", "/api/v1/workspaces/ws-a/projects", R"({"name":"proj-b-1"})"), 409)
      << "project names are platform-wide";
  auto p = tenancy_->project("proj-a-1");
  auto ms = tenancy_->members("project", p->id, {});
  for (const auto& m : ms->items) EXPECT_NE(m.username, "spare");
}

TEST_F(AuthzMatrixTest, QuotaValidationNamesTheFieldAndKeepsTheOldQuota) {
  const std::string& t = token_["wsadmin"];
  const std::string q = "/api/v1/projects/proj-a-1/quota";
  ASSERT_EQ(call(t, "PUT", q, R"({"gpus":2.5,"per_user_gpus":1,"concurrent_jobs":4})"), 200);
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_["prjview"]);
  for (const char* bad :
       {R"({"gpus":-1})", R"({"gpus":"two"})", R"({"gpu":2})", R"({"gpus":1.0001})",
        R"({"concurrent_jobs":1.5})", R"({"gpus":1,"per_user_gpus":2})", "[1]"}) {
    httplib::Client admin("127.0.0.1", server_->port());
    admin.set_bearer_token_auth(t);
    auto r = admin.Put(q, bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " -> " << r->body;
  }
  auto got = c.Get(q);
  ASSERT_EQ(got->status, 200);
  auto j = Json::parse(got->body);
  EXPECT_DOUBLE_EQ(j["gpus"].get<double>(), 2.5);
  EXPECT_EQ(j["concurrent_jobs"], 4);
  EXPECT_TRUE(j["memory_mib"].is_null()) << "unset limits are unlimited";
}

TEST_F(AuthzMatrixTest, EventsListAndStreamLive) {
  const std::string& admin = token_["wsadmin"];
  ASSERT_EQ(call(admin, "POST", "/api/v1/projects/proj-a-2/members",
                 R"({"username":"spare","role":"project-viewer"})"),
            201);
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(token_["prjview"]);
  auto list = c.Get("/api/v1/projects/proj-a-2/events");
  ASSERT_EQ(list->status, 200) << list->body;
  auto items = Json::parse(list->body)["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["reason"], "MemberAdded");
  EXPECT_EQ(items[0]["actor"], "wsadmin");
  const int64_t first = items[0]["seq"];

  // A live stream from after the first event sees the next one as it happens.
  std::string received;
  std::atomic<bool> got{false};
  std::thread reader([&] {
    httplib::Client s("127.0.0.1", server_->port());
    s.set_bearer_token_auth(token_["prjview"]);
    s.set_read_timeout(10, 0);
    s.Get("/api/v1/projects/proj-a-2/events",
          {{"Accept", "text/event-stream"}, {"Last-Event-ID", std::to_string(first)}},
          [&](const char* data, size_t n) {
            received.append(data, n);
            if (received.find("QuotaChanged") != std::string::npos) {
              got = true;
              return false;  // close the stream
            }
            return true;
          });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(call(admin, "PUT", "/api/v1/projects/proj-a-2/quota", R"({"gpus":4})"), 200);
  reader.join();
  EXPECT_TRUE(got.load()) << received;
  EXPECT_EQ(received.find("MemberAdded"), std::string::npos) << "resumed after Last-Event-ID";
  EXPECT_NE(received.find("event: updated"), std::string::npos) << received;

  // after=latest: only what happens from now on (the console's job list follows this way).
  auto all = Json::parse(c.Get("/api/v1/projects/proj-a-2/events")->body)["items"];
  const int64_t newest = all.back()["seq"];
  std::string fresh;
  std::thread follower([&] {
    httplib::Client s("127.0.0.1", server_->port());
    s.set_bearer_token_auth(token_["prjview"]);
    s.set_read_timeout(10, 0);
    s.Get("/api/v1/projects/proj-a-2/events?stream=true&after=latest",
          [&](const char* data, size_t n) {
            fresh.append(data, n);
            return fresh.find("\n\n") == std::string::npos;  // one event
          });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(call(admin, "PUT", "/api/v1/projects/proj-a-2/quota", R"({"gpus":5})"), 200);
  follower.join();
  ASSERT_EQ(fresh.rfind("id: ", 0), 0u) << fresh;
  EXPECT_GT(std::stoll(fresh.substr(4)), newest) << fresh;
  EXPECT_NE(fresh.find("QuotaChanged"), std::string::npos) << fresh;

  // tail=N: the newest N, oldest first (the console's events page starts from them).
  auto tail = c.Get("/api/v1/projects/proj-a-2/events?tail=2");
  ASSERT_EQ(tail->status, 200) << tail->body;
  auto last2 = Json::parse(tail->body)["items"];
  ASSERT_EQ(last2.size(), 2u) << tail->body;
  EXPECT_LT(last2[0]["seq"].get<int64_t>(), last2[1]["seq"].get<int64_t>());
  EXPECT_EQ(last2[1]["seq"], std::stoll(fresh.substr(4))) << "the newest event last";
  EXPECT_EQ(c.Get("/api/v1/projects/proj-a-2/events?tail=0")->status, 400);

  // Another tenant's member may not read the stream.
  httplib::Client other("127.0.0.1", server_->port());
  other.set_bearer_token_auth(token_["nobody"]);
  EXPECT_EQ(other.Get("/api/v1/projects/proj-a-2/events")->status, 404);
}

TEST_F(AuthzMatrixTest, ApiTokensAreScopedListedAndRevocable) {
  httplib::Client dev("127.0.0.1", server_->port());
  dev.set_bearer_token_auth(token_["prjdev"]);
  auto created =
      dev.Post("/api/v1/tokens", R"({"name":"ci","project":"proj-a-5"})", "application/json");
  ASSERT_EQ(created->status, 201) << created->body;
  auto j = Json::parse(created->body);
  const std::string secret = j["token"], id = j["id"];
  EXPECT_EQ(j["project"], "proj-a-5");
  // The scoped token works in its project only, and cannot mint new tokens.
  EXPECT_EQ(call(secret, "GET", "/api/v1/projects/proj-a-5", ""), 200);
  EXPECT_EQ(call(secret, "GET", "/api/v1/projects/proj-a-6", ""), 403);
  EXPECT_EQ(call(secret, "POST", "/api/v1/tokens", R"({"name":"escalate"})"), 403);
  // Not for a project the caller cannot see (which looks missing).
  EXPECT_EQ(dev.Post("/api/v1/tokens", R"({"name":"x","project":"proj-b-1"})", "application/json")
                ->status,
            422);
  EXPECT_EQ(
      dev.Post("/api/v1/tokens", R"({"name":"x","expires_in_s":5})", "application/json")->status,
      400);
  // Listed without secrets.
  auto list = dev.Get("/api/v1/tokens");
  ASSERT_EQ(list->status, 200);
  EXPECT_EQ(list->body.find(secret), std::string::npos);
  EXPECT_NE(list->body.find(id), std::string::npos);
  // Someone else cannot revoke it (and cannot tell it exists); its owner can.
  EXPECT_EQ(call(token_["prjview"], "DELETE", "/api/v1/tokens/" + id, ""), 404);
  EXPECT_EQ(call(secret, "GET", "/api/v1/projects/proj-a-5", ""), 200);
  EXPECT_EQ(dev.Delete("/api/v1/tokens/" + id)->status, 204);
  EXPECT_EQ(call(secret, "GET", "/api/v1/projects/proj-a-5", ""), 401);
}

// Issue 17, item 3: a project-admin granted data-owner (dataset_data:get, which the
// admin lacks) to a developer and to themselves. One grants only what one holds.
TEST_F(AuthzMatrixTest, NobodyGrantsRightsTheyDoNotHold) {
  const std::string add = "/api/v1/projects/proj-a-7/members";
  for (const char* who : {"prjdev", "prjadmin"}) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token_["prjadmin"]);
    auto r = c.Post(add, std::string(R"({"username":")") + who + R"(","role":"data-owner"})",
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << who << ": " << r->body;
    EXPECT_NE(r->body.find("dataset_data:get"), std::string::npos) << r->body;
  }
  // Nor take away (or replace) a role they could not grant.
  EXPECT_EQ(call(token_["prjadmin"], "DELETE", add + "/dataowner", ""), 403);
  EXPECT_EQ(
      call(token_["prjadmin"], "POST", add, R"({"username":"dataowner","role":"project-viewer"})"),
      403);
  // What the admin holds, the admin may grant.
  EXPECT_EQ(
      call(token_["prjadmin"], "POST", add, R"({"username":"spare","role":"project-developer"})"),
      201);
  // A workspace-regular who creates a project is its admin, and no more.
  httplib::Client reg("127.0.0.1", server_->port());
  reg.set_bearer_token_auth(token_["wsregular"]);
  ASSERT_EQ(reg.Post("/api/v1/workspaces/ws-a/projects", R"({"name":"mine"})", "application/json")
                ->status,
            201);
  EXPECT_EQ(call(token_["wsregular"], "POST", "/api/v1/projects/mine/members",
                 R"({"username":"wsregular","role":"data-owner"})"),
            403);
  // Workspace admins (and platform admins) appoint data owners.
  EXPECT_EQ(call(token_["wsadmin"], "POST", add, R"({"username":"prjdev","role":"data-owner"})"),
            201);
  auto p = tenancy_->project("proj-a-7");
  EXPECT_EQ(*tenancy_->role_of("project", p->id, accounts_->user_by_name("prjdev")->id),
            "data-owner");
  EXPECT_EQ(*tenancy_->role_of("project", p->id, accounts_->user_by_name("prjadmin")->id),
            "project-admin");
  // A workspace-regular cannot hand out workspace roles either.
  EXPECT_EQ(call(token_["wsregular"], "POST", "/api/v1/workspaces/ws-a/members",
                 R"({"username":"spare","role":"workspace-admin"})"),
            403);
}

// Issue 17, item 13: a project-scoped token revoked its owner's session token, and token
// creation ignored unknown fields.
TEST_F(AuthzMatrixTest, PermissionsTellEachSeatWhatItMayDo) {
  auto perms = [&](const std::string& who) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token_[who]);
    auto r = c.Get("/api/v1/projects/proj-a-7/permissions");
    EXPECT_TRUE(r);
    if (!r || r->status != 200)
      return std::vector<std::string>{"status " + std::to_string(r ? r->status : 0)};
    return json::parse(r->body).value()["permissions"].get<std::vector<std::string>>();
  };
  // As the authoriser reads them: "job:*" grants every verb on jobs.
  auto has = [](const std::vector<std::string>& v, const std::string& p) {
    const std::string resource = p.substr(0, p.find(':'));
    return std::any_of(v.begin(), v.end(), [&](const std::string& q) {
      return q == p || q == resource + ":*" || q == "*:*";
    });
  };
  EXPECT_EQ(perms("padmin"), std::vector<std::string>{"*:*"});
  const auto dev = perms("prjdev");
  EXPECT_TRUE(has(dev, "job:create")) << ::testing::PrintToString(dev);
  EXPECT_FALSE(has(dev, "dataset_data:get")) << "developers never see raw data";
  const auto viewer = perms("prjview");
  EXPECT_FALSE(has(viewer, "job:create")) << ::testing::PrintToString(viewer);
  EXPECT_TRUE(has(perms("dataowner"), "dataset_data:get"));
  // Every permission listed is one the authoriser grants for real, and no more: each
  // seat's list agrees with what the server lets it do.
  EXPECT_EQ(call(token_["prjview"], "POST", "/api/v1/projects/proj-a-7/jobs",
                 R"({"name":"x","command":["true"]})"),
            403);
  // Someone without a role there is answered as for the project itself.
  EXPECT_EQ(call(token_["nobody"], "GET", "/api/v1/projects/proj-a-7/permissions", ""),
            call(token_["nobody"], "GET", "/api/v1/projects/proj-a-7", ""));

  // The same for a workspace: its admin may read its audit trail, its viewer may not.
  auto ws_perms = [&](const std::string& who) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(token_[who]);
    auto r = c.Get("/api/v1/workspaces/ws-a/permissions");
    if (!r || r->status != 200) return std::vector<std::string>{"status"};
    return json::parse(r->body).value()["permissions"].get<std::vector<std::string>>();
  };
  EXPECT_TRUE(has(ws_perms("wsadmin"), "audit:list"));
  EXPECT_FALSE(has(ws_perms("wsviewer"), "audit:list"));
  EXPECT_EQ(call(token_["wsviewer"], "GET", "/api/v1/workspaces/ws-a/audit", ""), 403);
  EXPECT_EQ(call(token_["nobody"], "GET", "/api/v1/workspaces/ws-a/permissions", ""),
            call(token_["nobody"], "GET", "/api/v1/workspaces/ws-a", ""));
}

TEST_F(AuthzMatrixTest, ScopedTokensManageOnlyThemselvesAndUnknownFieldsAre400) {
  auto dev = accounts_->user_by_name("prjdev");
  iam::Token session, other;
  auto session_secret = accounts_->issue_token(dev->id, "session", "s", "",
                                               Clock::system().now_unix_ms() + 600000, &session);
  auto other_secret = accounts_->issue_token(dev->id, "api", "o", "",
                                             Clock::system().now_unix_ms() + 600000, &other);
  iam::Token scoped_t;
  auto scoped = accounts_->issue_token(dev->id, "api", "ci", "proj-a-1",
                                       Clock::system().now_unix_ms() + 600000, &scoped_t);
  ASSERT_TRUE(session_secret.ok() && other_secret.ok() && scoped.ok());
  EXPECT_EQ(call(*scoped, "DELETE", "/api/v1/tokens/" + session.id, ""), 404);
  EXPECT_EQ(call(*scoped, "DELETE", "/api/v1/tokens/" + other.id, ""), 404);
  EXPECT_EQ(call(*session_secret, "GET", "/api/v1/projects/proj-a-1", ""), 200)
      << "the owner's session survives";
  httplib::Client sc("127.0.0.1", server_->port());
  sc.set_bearer_token_auth(*scoped);
  auto list = sc.Get("/api/v1/tokens");
  ASSERT_EQ(list->status, 200);
  EXPECT_EQ(list->body.find(session.id), std::string::npos) << list->body;
  EXPECT_NE(list->body.find(scoped_t.id), std::string::npos) << list->body;
  EXPECT_EQ(call(*scoped, "DELETE", "/api/v1/tokens/" + scoped_t.id, ""), 204);
  EXPECT_EQ(call(*scoped, "GET", "/api/v1/projects/proj-a-1", ""), 401);

  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(*session_secret);
  auto r = c.Post("/api/v1/tokens", R"({"name":"x","platform_role":"platform-admin"})",
                  "application/json");
  ASSERT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("platform_role"), std::string::npos) << r->body;
  auto admin =
      c.Post("/api/v1/users", R"({"username":"zz","password":"long-enough-password","rol":"x"})",
             "application/json");
  EXPECT_EQ(admin->status, 403) << "non-admins are refused before the body is read";
  httplib::Client pa("127.0.0.1", server_->port());
  pa.set_bearer_token_auth(token_["padmin"]);
  auto u =
      pa.Post("/api/v1/users", R"({"username":"zz","password":"long-enough-password","rol":"x"})",
              "application/json");
  EXPECT_EQ(u->status, 400) << u->body;
  EXPECT_FALSE(accounts_->user_by_name("zz").ok()) << "nothing stored";
}

TEST_F(AuthzMatrixTest, ShutdownEndsOpenEventStreams) {
  std::atomic<bool> opened{false};
  std::thread reader([&] {
    httplib::Client s("127.0.0.1", server_->port());
    s.set_bearer_token_auth(token_["prjview"]);
    s.set_read_timeout(60, 0);
    s.Get(
        "/api/v1/projects/proj-a-3/events", {{"Accept", "text/event-stream"}},
        [&](const char*, size_t) { return true; },
        [&](uint64_t, uint64_t) {
          opened = true;
          return true;
        });
  });
  // The stream is open once the response has started; no event will come.
  for (int i = 0; i < 500 && !opened; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_->stop();
  thread_.join();  // would hang if the stream kept its worker
  reader.join();
  thread_ = std::thread([] {});  // TearDown stops and joins again
}

}  // namespace
}  // namespace jz::api

namespace jz::api {
namespace {

// Labelling from every seat: a job's images and shapes are its annotator's, its reviewer's
// and the data owners'; another annotator, a developer, a viewer, a project admin (who
// holds label_task:* but not the data) and another tenant see the task's counts at most.
// Nobody names as annotator someone without the annotator role, and only data owners
// make tasks, reassign jobs and export.
// Lifecycle rules act later, automatically, on their author's behalf: nobody may set or
// apply a rule that does what they may not do; the dry run's paths are the data owners'.
TEST_F(AuthzMatrixTest, LifecycleRulesDoNoMoreThanTheirAuthorMay) {
  auto p = tenancy_->project("proj-a-7");
  ASSERT_TRUE(p.ok());
  const std::string folder = datadir() + "/cams";
  std::filesystem::create_directories(folder + "/raw");
  ASSERT_TRUE(write_file(folder + "/raw/a.png", "png-a").ok());
  ASSERT_TRUE(
      datasets_->create(p->id, p->workspace_id, "cams", folder, "secret", "dataowner", false).ok());
  datasets::SnapshotRequest tagged;
  tagged.tag_by_folder = true;
  ASSERT_TRUE(versions_->snapshot(p->id, "cams", tagged, "dataowner").ok());
  ASSERT_TRUE(write_file(folder + "/b.png", "png-b").ok());
  ASSERT_TRUE(versions_->snapshot(p->id, "cams", tagged, "dataowner").ok());
  // A curator may update datasets (and read their data) but not delete them.
  ASSERT_EQ(call(token_["wsadmin"], "POST", "/api/v1/roles",
                 R"({"name":"curator","scope":"project","permissions":["project:get",)"
                 R"("dataset:get","dataset:list","dataset:update","dataset_data:get"],)"
                 R"("workspace":"ws-a"})"),
            201);
  token_["cur"] = make_user("cur", false);
  ASSERT_TRUE(tenancy_->add_member("project", p->id, "cur", "curator").ok());
  const std::string lc = "/api/v1/projects/proj-a-7/datasets/cams/lifecycle";
  const std::string deleting = R"({"rules":[{"action":"delete","after_days":0}]})";
  const std::string archiving = R"({"rules":[{"action":"archive","after_days":0}]})";
  EXPECT_EQ(call(token_["cur"], "PUT", lc, deleting), 403) << "a rule that deletes";
  EXPECT_EQ(call(token_["cur"], "PUT", lc, archiving), 200) << "archiving is undone by restoring";
  // Developers, viewers, a project admin (who does not manage data) and a stranger set
  // nothing, apply nothing, archive nothing (another tenant: AnotherTenantsProject...).
  for (const char* who : {"prjdev", "prjview", "wsviewer", "wsregular", "prjadmin", "nobody"}) {
    EXPECT_EQ(call(token_[who], "PUT", lc, archiving), 403) << who;
    EXPECT_EQ(call(token_[who], "POST", lc + "/apply", ""), 403) << who;
    EXPECT_EQ(
        call(token_[who], "POST", "/api/v1/projects/proj-a-7/datasets/cams/versions/1/archive", ""),
        403)
        << who;
  }
  // A data owner sets a deleting rule; the curator may dry-run it but not apply it.
  ASSERT_EQ(call(token_["dataowner"], "PUT", lc, deleting), 200);
  EXPECT_EQ(call(token_["cur"], "GET", lc + "/plan", ""), 200);
  EXPECT_EQ(call(token_["cur"], "POST", lc + "/apply", ""), 403) << "the plan deletes v1";
  EXPECT_TRUE(versions_->get(p->id, "cams", 1).ok());
  // The dry run's paths: data owners only; a developer sees the counts.
  ASSERT_EQ(call(token_["dataowner"], "PUT", lc,
                 R"({"rules":[{"action":"delete","tag":"raw","after_days":0}]})"),
            200);
  httplib::Client dev("127.0.0.1", server_->port());
  dev.set_bearer_token_auth(token_["prjdev"]);
  auto plan = dev.Get(lc + "/plan");
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->status, 200) << plan->body;
  const Json counts = Json::parse(plan->body);
  EXPECT_EQ(counts["files_removed"], 1);
  EXPECT_TRUE(counts["files"].is_null());
  EXPECT_EQ(plan->body.find("a.png"), std::string::npos);
  httplib::Client owner("127.0.0.1", server_->port());
  owner.set_bearer_token_auth(token_["dataowner"]);
  auto full = owner.Get(lc + "/plan");
  ASSERT_TRUE(full && full->status == 200);
  EXPECT_EQ(Json::parse(full->body)["files"][0]["path"], "raw/a.png");
  // Bad rules store nothing.
  EXPECT_EQ(call(token_["dataowner"], "PUT", lc, R"({"rules":[{"action":"shred"}]})"), 400);
  auto kept = owner.Get(lc);
  ASSERT_TRUE(kept && kept->status == 200);
  EXPECT_EQ(Json::parse(kept->body)["rules"][0]["tag"], "raw");
}

TEST_F(AuthzMatrixTest, LabellingJobsAreSeenAndDrawnOnlyByTheirPeople) {
  auto p = tenancy_->project("proj-a-7");
  ASSERT_TRUE(p.ok());
  const std::string folder = datadir() + "/street";
  std::filesystem::create_directories(folder);
  ASSERT_TRUE(write_file(folder + "/a.png", "png-a").ok());
  ASSERT_TRUE(write_file(folder + "/b.png", "png-b").ok());
  ASSERT_TRUE(
      datasets_->create(p->id, p->workspace_id, "street", folder, "secret", "dataowner", false)
          .ok());
  ASSERT_TRUE(versions_->snapshot(p->id, "street", {}, "dataowner").ok());
  for (const char* who : {"ann", "bob", "rev"}) {
    token_[who] = make_user(who, false);
    ASSERT_TRUE(tenancy_->add_member("project", p->id, who, "annotator").ok());
  }
  const std::string base = "/api/v1/projects/proj-a-7";
  const std::string make = base + "/datasets/street/label-tasks";
  const std::string body =
      R"({"name":"cars","spec":{"classes":["car"]},"job_size":1,"annotators":["ann","bob"],)"
      R"("reviewers":["rev"]})";
  // Only data owners make tasks; a project admin may not hand out the data.
  EXPECT_EQ(call(token_["prjadmin"], "POST", make, body), 403);
  EXPECT_EQ(call(token_["ann"], "POST", make, body), 403);
  EXPECT_EQ(call(token_["dataowner"], "POST", make,
                 R"({"name":"x","spec":{"classes":["car"]},"annotators":["prjdev"],)"
                 R"("reviewers":["rev"]})"),
            400)
      << "a developer holds no annotator role";
  httplib::Client owner("127.0.0.1", server_->port());
  owner.set_bearer_token_auth(token_["dataowner"]);
  auto made = owner.Post(make, body, "application/json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  const std::string task =
      base + "/label-tasks/" + Json::parse(made->body)["id"].get<std::string>();
  auto jobs = owner.Get(task + "/jobs");
  ASSERT_EQ(jobs->status, 200);
  const Json items = Json::parse(jobs->body)["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_FALSE(items[0].contains("files")) << "the list names no image";
  const std::string j1 = task + "/jobs/" + items[0]["id"].get<std::string>();  // ann's: a.png
  const std::string j2 = task + "/jobs/" + items[1]["id"].get<std::string>();  // bob's: b.png

  EXPECT_EQ(call(token_["ann"], "GET", j1, ""), 200);
  EXPECT_EQ(call(token_["ann"], "GET", j1 + "/images/a.png", ""), 200);
  EXPECT_EQ(call(token_["rev"], "GET", j1 + "/images/a.png", ""), 200);
  EXPECT_EQ(call(token_["dataowner"], "GET", j1 + "/images/a.png", ""), 200);
  for (const char* who : {"bob", "prjdev", "prjview", "prjadmin", "wsviewer"}) {
    EXPECT_EQ(call(token_[who], "GET", j1, ""), 403) << who;
    EXPECT_EQ(call(token_[who], "GET", j1 + "/images/a.png", ""), 403) << who;
    EXPECT_EQ(
        call(token_[who], "PUT", j1 + "/images/a.png", R"({"width":10,"height":10,"shapes":[]})"),
        403)
        << who;
    // Counts are for everyone who sees the project's tasks.
    EXPECT_EQ(call(token_[who], "GET", task + "/statistics", ""), 200) << who;
  }
  EXPECT_EQ(call(make_user("stranger", false), "GET", task, ""), 403) << "not a member";
  // Another image through one's own job, or a path out of the version: not found.
  EXPECT_EQ(call(token_["ann"], "GET", j1 + "/images/b.png", ""), 404);
  EXPECT_EQ(call(token_["ann"], "GET", j1 + "/images/..%2F..%2Fj.db", ""), 404);
  // Hostile shapes are refused and change nothing.
  EXPECT_EQ(call(token_["ann"], "PUT", j1 + "/images/a.png",
                 R"({"width":10,"height":10,"shapes":[{"type":"box","label":"car","x":1e308,)"
                 R"("y":0,"width":1e308,"height":5}]})"),
            400);
  EXPECT_EQ(call(token_["ann"], "PUT", j1 + "/images/a.png",
                 R"({"width":10,"height":10,"shapes":[{"type":"box","label":"car","x":1,"y":1,)"
                 R"("width":5,"height":5}]})"),
            204);
  // The reviewer may not review before submission, nor the annotator review her own job.
  EXPECT_EQ(call(token_["rev"], "POST", j1 + "/review", R"({"decision":"accept"})"), 409);
  EXPECT_EQ(call(token_["ann"], "POST", j1 + "/submit", ""), 200);
  EXPECT_EQ(call(token_["ann"], "POST", j1 + "/review", R"({"decision":"accept"})"), 403);
  EXPECT_EQ(
      call(token_["ann"], "PUT", j1 + "/images/a.png", R"({"width":10,"height":10,"shapes":[]})"),
      403)
      << "submitted: the reviewer's now";
  // Reassigning and exporting are the data owners'.
  EXPECT_EQ(call(token_["prjadmin"], "PATCH", j2, R"({"annotator":"ann"})"), 403);
  EXPECT_EQ(call(token_["ann"], "PATCH", j2, R"({"annotator":"ann"})"), 403);
  EXPECT_EQ(call(token_["dataowner"], "PATCH", j2, R"({"annotator":"prjdev"})"), 400);
  EXPECT_EQ(call(token_["prjadmin"], "POST", task + "/export", "{}"), 403);
  EXPECT_EQ(call(token_["dataowner"], "POST", task + "/export", "{}"), 409) << "not accepted";
  // The other tenant's data owner is a stranger here.
  EXPECT_EQ(call(token_["dataowner"], "GET",
                 "/api/v1/projects/proj-b-7/label-tasks/lbt_00000000000000000000000000", ""),
            403);
}

}  // namespace
}  // namespace jz::api
