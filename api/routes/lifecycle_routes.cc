// Lifecycle rules of a dataset (platform/datasets/lifecycle.h, docs/DATA.md "Lifecycle"),
// and archiving and restoring versions by hand.
//
// Who may do what: everyone who sees the dataset reads its rules and the dry run's counts;
// the dry run's paths are the data owners' (dataset_data:get). Setting rules needs
// dataset:update, and dataset:delete too when a rule deletes: the automatic run acts for
// whoever set the rules, so nobody may set a rule that does what they may not. Applying
// needs dataset:update, and dataset:delete when the plan deletes a version. Archiving and
// restoring a version needs dataset:update (archiving is undone by restoring).
#include "api/schema.h"
#include "api/services.h"
#include "platform/datasets/lifecycle.h"
#include "platform/datasets/versions.h"
#include "platform/jobs/runner.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<datasets::Lifecycle*> lifecycle_of(const ApiServices& s) {
  if (!s.platform.lifecycle || !s.platform.versions) {
    return Status::unavailable("this server keeps no dataset lifecycle rules");
  }
  return s.platform.lifecycle;
}

Json policy_json(const datasets::LifecyclePolicy& p) {
  Json rules = Json::array();
  for (const auto& r : p.rules) rules.push_back(r.to_json());
  return {{"rules", rules},
          {"automatic", p.automatic},
          {"updated_by", p.updated_by.empty() ? Json(nullptr) : Json(p.updated_by)},
          {"updated_at", p.updated_at_ms > 0 ? Json(wire_time(p.updated_at_ms)) : Json(nullptr)},
          {"last_run_at", p.last_run_at_ms ? Json(wire_time(*p.last_run_at_ms)) : Json(nullptr)},
          {"last_result", p.last_result}};
}

Json plan_json(const datasets::LifecyclePlan& plan, const RequestContext& ctx) {
  Json j = plan.to_json(ctx.allow("dataset_data", "get").ok());
  j["at"] = wire_time(plan.at_ms);
  return j;
}

}  // namespace

void add_dataset_lifecycle_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string lc = "/api/v1/projects/{project}/datasets/{dataset}/lifecycle";
  const std::string v = "/api/v1/projects/{project}/datasets/{dataset}/versions/{number}";
  const Json rule = sc::object(
      {{"action", sc::str("keep, archive or delete")},
       {"after_days", sc::integer("Only what is at least this many days old (default 0)")},
       {"tag", sc::str("Files with this tag (a file rule)")},
       {"split", sc::str("Files in this split (a file rule)")},
       {"version", sc::integer("Only this version (a version rule)")},
       {"keep_newest", sc::integer("Never the newest this many versions (a version rule)")}},
      {"action"});
  api.add({
      {.method = "GET",
       .path = lc,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dataset's lifecycle rules, in the order they are read, and what the "
                  "last run did",
       .response_schema = sc::ref("LifecyclePolicy"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* lifecycle, lifecycle_of(s));
         JZ_ASSIGN_OR_RETURN(auto p, lifecycle->policy(ctx.project->id, ctx.param("dataset")));
         return Reply::json(policy_json(p));
       }},
      {.method = "PUT",
       .path = lc,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Replace the dataset's lifecycle rules (those who manage the dataset; rules "
                  "that delete need the right to delete it). For each file of the newest "
                  "version and each older version the first rule that matches decides",
       .body_schema = sc::object({{"rules", sc::array_of(rule)},
                                  {"automatic", sc::boolean("Apply once a day without a person")}},
                                 {"rules"}),
       .response_schema = sc::ref("LifecyclePolicy"),
       .success = 200,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* lifecycle, lifecycle_of(s));
         JZ_ASSIGN_OR_RETURN(auto p, datasets::parse_lifecycle_policy(ctx.body));
         for (const auto& r : p.rules) {
           if (r.action == "delete") {
             JZ_RETURN_IF_ERROR(ctx.allow("dataset", "delete"));
             break;
           }
         }
         JZ_ASSIGN_OR_RETURN(auto out, lifecycle->set_policy(ctx.project->id, ctx.param("dataset"),
                                                             std::move(p), ctx.me().username));
         ctx.audit.name = ctx.param("dataset");
         return Reply::json(policy_json(out));
       }},
      {.method = "GET",
       .path = lc + "/plan",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dry run: what applying the rules now would do (the files' paths for data "
                  "owners only)",
       .response_schema = sc::ref("LifecyclePlan"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* lifecycle, lifecycle_of(s));
         JZ_ASSIGN_OR_RETURN(auto plan, lifecycle->plan(ctx.project->id, ctx.param("dataset")));
         return Reply::json(plan_json(plan, ctx));
       }},
      {.method = "POST",
       .path = lc + "/apply",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Apply the rules now: files left out of a new version, versions archived or "
                  "deleted, each change in the audit trail (deleting versions needs the right "
                  "to delete the dataset)",
       .response_schema = sc::ref("LifecyclePlan"),
       .success = 200,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* lifecycle, lifecycle_of(s));
         JZ_ASSIGN_OR_RETURN(auto plan, lifecycle->plan(ctx.project->id, ctx.param("dataset")));
         for (const auto& pv : plan.versions) {
           if (pv.action == "delete") {
             JZ_RETURN_IF_ERROR(ctx.allow("dataset", "delete"));
             break;
           }
         }
         JZ_ASSIGN_OR_RETURN(
             auto out, lifecycle->apply(ctx.project->id, ctx.param("dataset"), ctx.me().username));
         ctx.audit.name = ctx.param("dataset");
         return Reply::json(plan_json(out, ctx));
       }},
      {.method = "POST",
       .path = v + "/archive",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Archive a version (not the newest): its files move to the archive store, "
                  "no job can mount it until it is restored",
       .response_schema = sc::ref("DatasetVersion"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(lifecycle_of(s).status());
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(
             auto out, s.platform.versions->archive(ctx.project->id, ctx.param("dataset"), n));
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(n);
         return Reply::json(version_json(out));
       }},
      {.method = "POST",
       .path = v + "/restore",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Restore an archived version: its files come back from the archive store "
                  "(each checked against its SHA-256) within the project's storage quota",
       .response_schema = sc::ref("DatasetVersion"),
       .success = 200,
       .errors = {429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(lifecycle_of(s).status());
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         std::optional<int64_t> left;
         if (s.platform.runner) {
           JZ_ASSIGN_OR_RETURN(left, s.platform.runner->storage_left(ctx.project->id));
         }
         JZ_ASSIGN_OR_RETURN(auto out, s.platform.versions->restore(ctx.project->id,
                                                                    ctx.param("dataset"), n, left));
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(n);
         return Reply::json(version_json(out));
       }},
  });
}

}  // namespace jz::api
