// The automatic test service (docs/AUTOTEST.md): suites, algorithm packages, evaluations
// and their reports. Sample-level results of internal and secret suites (worst samples,
// ids, the per-sample table, the full HTML) only for those holding suite:samples (data
// owners); everyone else who may read an evaluation gets the redacted report.
#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "platform/autotest/autotest.h"
#include "platform/autotest/competitions.h"
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

Result<autotest::CompetitionService*> competitions_of(const ApiServices& s) {
  if (!s.platform.competitions) {
    return Status::unavailable("competitions are not available on this server");
  }
  return s.platform.competitions;
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

  // ---- competitions
  const std::string cp = pr + "/competitions/{competition}";
  const Json competition_body = sc::object(
      {{"name", sc::str("1 to 64 of a-z, 0-9, '_', '-'")},
       {"title", sc::str()},
       {"public_suite", sc::str("The public leaderboard's suite")},
       {"hidden_suite", sc::str("The final, hidden split's suite")},
       {"rank_by", sc::str("The metric that ranks (default accuracy)")},
       {"higher_is_better", sc::boolean()},
       {"opens_at", sc::time()},
       {"closes_at", sc::time()},
       {"daily_limit", sc::integer("Submissions per team per UTC day (default 5)")},
       {"verify_top", sc::integer("Teams whose packages are run again at the close (default 3)")},
       {"columns",
        sc::array_of(sc::object({{"name", sc::str()}, {"path", sc::str()}}, {"name", "path"}))},
       {"tolerances", {{"type", "object"}, {"additionalProperties", sc::number()}}},
       {"teams", {{"type", "object"}, {"additionalProperties", sc::array_of(sc::str())}}}});
  api.add({
      {.method = "GET",
       .path = pr + "/competitions",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "list",
       .summary = "The project's competitions",
       .response_schema = sc::list_of("Competition"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.competitions) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(auto list, s.platform.competitions->list(ctx.project->id));
         Json items = Json::array();
         for (const auto& c : list) items.push_back(c.to_json());
         return Reply::page(std::move(items), "");
       }},
      {.method = "POST",
       .path = pr + "/competitions",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "create",
       .summary = "Organise a competition (data owners): a public and a hidden suite, times, a "
                  "daily limit, teams, the results CSV's columns",
       .body_schema = competition_body,
       .response_schema = sc::ref("Competition"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto c, cs->create(ctx.project->id, ctx.project->name, ctx.body, ctx.me().username));
         ctx.audit.name = c.name;
         return Reply::created(c.to_json());
       }},
      {.method = "GET",
       .path = cp,
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "get",
       .summary = "A competition",
       .response_schema = sc::ref("Competition"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         JZ_ASSIGN_OR_RETURN(auto c, cs->get(ctx.project->id, ctx.param("competition")));
         Json j = c.to_json();
         j["your_team"] = c.team_of(ctx.me().username);
         return Reply::json(j);
       }},
      {.method = "PATCH",
       .path = cp,
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "update",
       .summary = "Change a competition's times, limits or teams (until it closes)",
       .body_schema = competition_body,
       .response_schema = sc::ref("Competition"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         JZ_ASSIGN_OR_RETURN(auto c,
                             cs->update(ctx.project->id, ctx.param("competition"), ctx.body));
         return Reply::json(c.to_json());
       }},
      {.method = "POST",
       .path = cp + "/submissions",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "create",
       .summary = "Submit your team's results CSV for a split with the package that made it; "
                  "scored at once",
       .body_schema =
           sc::object({{"split", sc::str("public or hidden")},
                       {"algorithm", sc::str()},
                       {"version", sc::str()},
                       {"csv", sc::str("The results CSV: sample and the competition's columns")}},
                      {"split", "algorithm", "version", "csv"}),
       .response_schema = sc::ref("Submission"),
       .errors = {409, 422, 429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         const auto& me = ctx.me();
         JZ_ASSIGN_OR_RETURN(
             auto sub,
             cs->submit(ctx.project->id, ctx.param("competition"), me.user_id, me.username,
                        json::string_or(ctx.body, "split"), json::string_or(ctx.body, "algorithm"),
                        json::string_or(ctx.body, "version"), json::string_or(ctx.body, "csv")));
         ctx.audit.name = sub.id;
         return Reply::created(sub.to_json(sub.split == "public"));
       }},
      {.method = "GET",
       .path = cp + "/submissions",
       .scope = Scope::kProject,
       .resource = "evaluation",
       .verb = "list",
       .summary = "Your team's submissions (the organisers': everyone's); hidden-split scores "
                  "after the close",
       .response_schema = sc::list_of("Submission"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.competitions) return Reply::page(Json::array(), "");
         autotest::CompetitionService* cs = s.platform.competitions;
         JZ_ASSIGN_OR_RETURN(auto c, cs->get(ctx.project->id, ctx.param("competition")));
         const bool organiser = ctx.allow("suite", "samples").ok();
         std::optional<std::string> team;
         if (!organiser) team = c.team_of(ctx.me().username);
         JZ_ASSIGN_OR_RETURN(auto list, cs->submissions(ctx.project->id, c.name, team));
         const auto board = cs->board(ctx.project->id, c.name, "hidden", false);
         Json items = Json::array();
         for (const auto& x : list)
           items.push_back(x.to_json(x.split == "public" || organiser || board.ok()));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = cp + "/board",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "get",
       .summary = "A split's leaderboard: each team's best, ties to the earlier submission; the "
                  "hidden split's after the close",
       .query = {{"split", "public (default) or hidden"}},
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         const std::string split = ctx.http.has_param("split") ? ctx.http.param("split") : "public";
         JZ_ASSIGN_OR_RETURN(auto b, cs->board(ctx.project->id, ctx.param("competition"), split,
                                               ctx.allow("suite", "samples").ok()));
         return Reply::json(b);
       }},
      {.method = "GET",
       .path = cp + "/verdicts",
       .scope = Scope::kProject,
       .resource = "suite",
       .verb = "get",
       .summary = "The signed verdicts of the re-runs (jizhan autotest verify-verdict checks one)",
       .response_schema = sc::list_of("Verdict"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.competitions) return Reply::page(Json::array(), "");
         autotest::CompetitionService* cs = s.platform.competitions;
         JZ_ASSIGN_OR_RETURN(auto list, cs->verdicts(ctx.project->id, ctx.param("competition")));
         Json items = Json::array();
         for (const auto& v : list) items.push_back(v.to_json());
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = "/api/v1/autotest/verdict-key",
       .summary = "The public key competition verdicts are signed with (save it as a .pub file)",
       .handler = [&s](RequestContext&) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* cs, competitions_of(s));
         return Reply::json(cs->public_key());
       }},
  });
}

}  // namespace jz::api
