// The automatic test service (docs/AUTOTEST.md): suites, algorithm packages, evaluations
// and their reports. Sample-level results of internal and secret suites (worst samples,
// ids, the per-sample table, the full HTML) only for those holding suite:samples (data
// owners); everyone else who may read an evaluation gets the redacted report.
#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "platform/autotest/autotest.h"
#include "platform/autotest/report.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<autotest::AutotestService*> service_of(const ApiServices& s) {
  if (!s.platform.autotest) {
    return Status::unavailable("the automatic test service is not available on this server");
  }
  return s.platform.autotest;
}

// Whether the caller sees sample-level results of this evaluation.
bool sees_samples(const RequestContext& ctx, const autotest::Evaluation& e) {
  return e.suite_level == "open" || ctx.allow("suite", "samples").ok();
}

}  // namespace

void add_autotest_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string pr = "/api/v1/projects/{project}";
  const std::string sp = pr + "/suites/{suite}";
  const std::string ap = pr + "/algorithms/{algorithm}/{version}";
  const std::string ep = pr + "/evaluations/{evaluation}";
  const Json suite_body = sc::object(
      {{"name", sc::str("1 to 64 of a-z, 0-9, '_', '-' (create only)")},
       {"description", sc::str()},
       {"dataset", sc::str("The samples: a dataset of the project (required to create)")},
       {"input", sc::str("A folder, image or video inside the dataset; default the whole dataset")},
       {"template", sc::str("The evaluation template, YAML or JSON (docs/TEMPLATES.md)")},
       {"annotations", sc::object({{"file", sc::str("truth.jsonl, instances.json, ...")},
                                   {"content", sc::str("The file's text")}},
                                  {"file", "content"})},
       {"thresholds", sc::array_of(sc::str("NAME OP NUMBER, such as 'mAP >= 0.6'"))},
       {"frame_timeout_s", sc::integer("Per frame (default 10)")},
       {"fps", {{"type", "number"}, {"description", "Video: frames analysed a second"}}},
       {"max_frames", sc::integer()},
       {"runtime_limit_s", sc::integer("The evaluation job's (default 3600)")}});
  api.add({
      // ---- suites
      {.method = "GET",
       .path = pr + "/suites",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "list",
       .summary = "The project's test suites, by name",
       .response_schema = sc::list_of("Suite"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.autotest) return Reply::page(Json::array(), "");  // none kept here
         JZ_ASSIGN_OR_RETURN(auto page,
                             s.platform.autotest->suites(ctx.project->id, ctx.page_spec()));
         return Reply::page(page, [](const autotest::Suite& x) { return x.to_json(false); });
       }},
      {.method = "POST",
       .path = pr + "/suites",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "create",
       .summary = "Make a test suite (data owners): samples, annotations the algorithms never "
                  "see, a template, thresholds",
       .body_schema = suite_body,
       .response_schema = sc::ref("Suite"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto in, autotest::parse_suite_input(ctx.body, false));
         JZ_ASSIGN_OR_RETURN(auto suite, at->create_suite(ctx.project->id, in, ctx.me().username));
         ctx.audit.name = suite.name;
         return Reply::created(suite.to_json());
       }},
      {.method = "GET",
       .path = sp,
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "get",
       .summary = "A suite: its latest version (or ?version=N) with template and thresholds",
       .response_schema = sc::ref("Suite"),
       .query = {{"version", "A version (default the latest)", "integer"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t v, ctx.int_param("version", 1, int64_t{1} << 40, 0));
         JZ_ASSIGN_OR_RETURN(auto suite, at->suite(ctx.project->id, ctx.param("suite"), v));
         return Reply::json(suite.to_json());
       }},
      {.method = "PATCH",
       .path = sp,
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "update",
       .summary = "Change a suite: a new version (what the body leaves out is kept, the "
                  "annotations too)",
       .body_schema = suite_body,
       .response_schema = sc::ref("Suite"),
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto in, autotest::parse_suite_input(ctx.body, true));
         if (!in.name.empty() && in.name != ctx.param("suite")) {
           return Status::invalid_argument("field 'name': a suite keeps its name");
         }
         JZ_ASSIGN_OR_RETURN(auto suite, at->update_suite(ctx.project->id, ctx.param("suite"), in,
                                                          ctx.me().username));
         return Reply::json(suite.to_json());
       }},
      {.method = "DELETE",
       .path = sp,
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "delete",
       .summary = "Delete a suite, every version and its annotations (its evaluations stay)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_RETURN_IF_ERROR(at->delete_suite(ctx.project->id, ctx.param("suite")));
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = sp + "/versions",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "get",
       .summary = "A suite's versions, newest first",
       .response_schema = sc::list_of("Suite"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.autotest) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(auto versions, s.platform.autotest->suite_versions(
                                                ctx.project->id, ctx.param("suite")));
         Json items = Json::array();
         for (const auto& v : versions) items.push_back(v.to_json(false));
         return Reply::page(std::move(items), "");
       }},
      // ---- algorithms
      {.method = "GET",
       .path = pr + "/algorithms",
       .scope = Scope::kProject,
       .resource = "algorithm",
       .verb = "list",
       .summary = "The project's uploaded algorithm packages, newest first",
       .response_schema = sc::list_of("Algorithm"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.autotest) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(auto page,
                             s.platform.autotest->algorithms(ctx.project->id, ctx.page_spec()));
         return Reply::page(page, [](const autotest::Algorithm& a) { return a.to_json(); });
       }},
      {.method = "POST",
       .path = pr + "/algorithms",
       .scope = Scope::kProject,
       .resource = "algorithm",
       .verb = "create",
       .summary = "Upload an algorithm package (the body is the .jzpkg); it is checked (intact, "
                  "signed) at once and for conformance in a sandbox after (state checking, then "
                  "ready or failed)",
       .response_schema = sc::ref("Algorithm"),
       .errors = {409},
       .raw_body = true,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto a, at->upload_algorithm(ctx.project->id, ctx.http.body, ctx.me().username));
         ctx.audit.name = a.name + " " + a.version;
         return Reply::json(a.to_json(), 201);
       }},
      {.method = "GET",
       .path = ap,
       .scope = Scope::kProject,
       .resource = "algorithm",
       .verb = "get",
       .summary = "An uploaded package: publisher, key, hash, the conformance checks",
       .response_schema = sc::ref("Algorithm"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto a, at->algorithm(ctx.project->id, ctx.param("algorithm"), ctx.param("version")));
         return Reply::json(a.to_json());
       }},
      {.method = "DELETE",
       .path = ap,
       .scope = Scope::kProject,
       .resource = "algorithm",
       .verb = "delete",
       .summary = "Delete an uploaded package (its evaluations stay)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_RETURN_IF_ERROR(
             at->delete_algorithm(ctx.project->id, ctx.param("algorithm"), ctx.param("version")));
         return Reply::no_content();
       }},
      // ---- evaluations
      {.method = "GET",
       .path = pr + "/evaluations",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "list",
       .summary = "The project's evaluations, newest first",
       .response_schema = sc::list_of("Evaluation"),
       .paging = Paging::kKeyset,
       .query = {{"suite", "Only this suite's"},
                 {"algorithm", "Only this algorithm's"},
                 {"state", "queued, running, scoring, passed, failed, error or cancelled"},
                 {"mine", "true: only yours", "boolean"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.autotest) return Reply::page(Json::array(), "");
         autotest::AutotestService* at = s.platform.autotest;
         autotest::AutotestService::EvaluationFilter f;
         f.suite = ctx.http.param("suite");
         f.algorithm = ctx.http.param("algorithm");
         f.state = ctx.http.param("state");
         if (ctx.http.param("mine") == "true") f.owner_id = ctx.me().user_id;
         JZ_ASSIGN_OR_RETURN(auto page, at->evaluations(ctx.project->id, f, ctx.page_spec()));
         return Reply::page(page, [&ctx](const autotest::Evaluation& e) {
           return e.to_json(sees_samples(ctx, e));
         });
       }},
      {.method = "POST",
       .path = pr + "/evaluations",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "create",
       .summary = "Evaluate an uploaded algorithm on a suite: an eval job, then the report",
       .body_schema = sc::object(
           {{"suite", sc::str()},
            {"suite_version", sc::integer("Default the latest")},
            {"algorithm", sc::str()},
            {"version", sc::str("The algorithm's version")},
            {"config", {{"type", "object"}, {"description", "Over the package's default config"}}},
            {"resources",
             {{"type", "object"},
              {"description",
               "The job's: gpus (below 1: a share), cpu, memory_mib; "
               "default 1 CPU, 4096 MiB, no GPU"}}}},
           {"suite", "algorithm", "version"}),
       .response_schema = sc::ref("Evaluation"),
       .errors = {409, 422, 503},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         if (!s.platform.jobs_unavailable.empty()) {
           return Status::unavailable(s.platform.jobs_unavailable);
         }
         autotest::AutotestService::EvaluationRequest r;
         r.suite = json::string_or(ctx.body, "suite");
         r.algorithm = json::string_or(ctx.body, "algorithm");
         r.version = json::string_or(ctx.body, "version");
         r.suite_version = ctx.body.value("suite_version", int64_t{0});
         if (ctx.body.contains("config")) r.config = ctx.body["config"];
         if (ctx.body.contains("resources")) r.resources = ctx.body["resources"];
         const auto& me = ctx.me();
         JZ_ASSIGN_OR_RETURN(
             auto e, at->evaluate(ctx.project->id, ctx.project->name, r, me.user_id, me.username));
         if (s.platform.runner) s.platform.runner->wake();
         ctx.audit.name = e.id;
         return Reply::created(e.to_json(sees_samples(ctx, e)));
       }},
      {.method = "GET",
       .path = ep,
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "get",
       .summary = "An evaluation: state, metrics, performance, errors, thresholds (redacted for "
                  "internal and secret suites unless you hold suite:samples)",
       .response_schema = sc::ref("Evaluation"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto e, at->evaluation(ctx.project->id, ctx.param("evaluation")));
         return Reply::json(e.to_json(sees_samples(ctx, e)));
       }},
      {.method = "POST",
       .path = ep + "/cancel",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "cancel",
       .summary = "Cancel an evaluation that has not ended (its job is cancelled)",
       .success = 202,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto e, at->evaluation(ctx.project->id, ctx.param("evaluation")));
         if (e.state != "queued" && e.state != "running") {
           return Status::failed_precondition("evaluation " + e.id + " is " + e.state);
         }
         JZ_RETURN_IF_ERROR(
             s.platform.jobs->request_cancel(ctx.project->id, e.job_id, ctx.me().username));
         if (s.platform.runner) s.platform.runner->wake();
         return Reply::json({{"id", e.id}, {"cancel_requested", true}}, 202);
       }},
      {.method = "GET",
       .path = ep + "/report",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "get",
       .summary = "The report as one HTML page (redacted as the evaluation is)",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto e, at->evaluation(ctx.project->id, ctx.param("evaluation")));
         if (e.result.empty() || !e.result.contains("metrics")) {
           return Status::not_found("evaluation " + e.id + " has no report (" + e.state + ")");
         }
         JZ_ASSIGN_OR_RETURN(std::string html, at->report_html(e, sees_samples(ctx, e)));
         return Reply::text(std::move(html), "text/html; charset=utf-8");
       }},
      {.method = "GET",
       .path = ep + "/files/{file}",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "samples",
       .summary = "The full report's files (data owners): report.json, report.html, samples.csv",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* at, service_of(s));
         JZ_ASSIGN_OR_RETURN(auto e, at->evaluation(ctx.project->id, ctx.param("evaluation")));
         const std::string name = ctx.param("file");
         JZ_ASSIGN_OR_RETURN(std::string path, at->report_file(e, name));
         JZ_ASSIGN_OR_RETURN(std::string data, read_file(path));
         const char* type = name == "report.json"   ? "application/json"
                            : name == "report.html" ? "text/html; charset=utf-8"
                                                    : "text/csv; charset=utf-8";
         return Reply::text(std::move(data), type);
       }},
  });
}

}  // namespace jz::api
