// Labelling (platform/datasets/labelling.h, docs/DATA.md "Labelling"). Data owners make
// tasks over a version and name the annotators and reviewers (who must hold
// label_task:annotate in the project: the annotator role); a task's progress and its
// statistics are for everyone who sees the project's tasks; a job's images and shapes for
// its annotator, its reviewer and data owners only: an annotator never reaches an image of
// a job that is not theirs.
#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "core/text.h"
#include "platform/autotest/autotest.h"
#include "platform/datasets/labelling.h"
#include "platform/datasets/preannotation.h"
#include "platform/datasets/versions.h"
#include "platform/iam/authenticator.h"
#include "platform/jobs/runner.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<datasets::Labelling*> labelling_of(const ApiServices& s) {
  if (!s.platform.labelling || !s.platform.versions) {
    return Status::unavailable("this server keeps no labelling tasks");
  }
  return s.platform.labelling;
}

datasets::Person person_of(const RequestContext& ctx) {
  return {ctx.me().user_id, ctx.me().username};
}

// A user named in a request, who must hold label_task:annotate in the project.
Result<datasets::Person> annotator_named(const ApiServices& s, const RequestContext& ctx,
                                         const std::string& field, const Json& name) {
  if (!name.is_string()) return Status::invalid_argument("field '" + field + "' must list users");
  auto u = s.auth.accounts().user_by_name(name.get<std::string>());
  if (!u.ok()) {
    return Status::invalid_argument("field '" + field + "': no user '" + name.get<std::string>() +
                                    "'");
  }
  iam::Principal p{.user_id = u->id, .username = u->username, .platform_role = u->platform_role};
  if (!s.authorizer.check(p, "label_task", "annotate", ctx.project->workspace_id, &*ctx.project)
           .ok()) {
    return Status::invalid_argument("field '" + field + "': " + u->username +
                                    " may not annotate in project '" + ctx.project->name +
                                    "' (give them the annotator role there first)");
  }
  return datasets::Person{u->id, u->username};
}

Result<std::vector<datasets::Person>> people_named(const ApiServices& s, const RequestContext& ctx,
                                                   const char* field) {
  const Json& list = ctx.body.value(field, Json());
  if (!list.is_array() || list.empty() || list.size() > 1000) {
    return Status::invalid_argument(std::string("field '") + field + "' must list 1 to 1000 users");
  }
  std::vector<datasets::Person> out;
  for (const auto& n : list) {
    JZ_ASSIGN_OR_RETURN(auto p, annotator_named(s, ctx, field, n));
    out.push_back(std::move(p));
  }
  return out;
}

Json task_json(const datasets::LabelTask& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"dataset", t.dataset},
          {"version", t.number},
          {"spec", t.spec.to_json()},
          {"state", t.state},
          {"images", t.images},
          {"jobs", t.jobs},
          {"exported_version", t.exported_version > 0 ? Json(t.exported_version) : Json(nullptr)},
          {"created_by", t.created_by},
          {"created_at", wire_time(t.created_at_ms)}};
}

Json job_json(const datasets::LabelJob& j) {
  auto time = [](const std::optional<int64_t>& ms) {
    return ms ? Json(wire_time(*ms)) : Json(nullptr);
  };
  return {{"id", j.id},
          {"seq", j.seq},
          {"images", j.files.size()},
          {"opened", j.opened},
          {"shapes", j.shapes},
          {"annotator", j.annotator.username},
          {"reviewer", j.reviewer.username},
          {"state", j.state},
          {"note", j.note},
          {"reworks", j.reworks},
          {"started_at", time(j.started_at_ms)},
          {"submitted_at", time(j.submitted_at_ms)},
          {"accepted_at", time(j.accepted_at_ms)}};
}

Json pre_json(const datasets::PreAnnotation& p) {
  return {{"id", p.id},
          {"job_id", p.job_id},
          {"state", p.state},
          {"message", p.message},
          {"request", p.request.to_json()},
          {"summary", p.summary},
          {"created_by", p.created_by},
          {"created_at", wire_time(p.created_at_ms)},
          {"finished_at", p.finished_at_ms ? Json(wire_time(*p.finished_at_ms)) : Json(nullptr)}};
}

Result<datasets::LabelTask> task_in(const ApiServices& s, const RequestContext& ctx) {
  JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
  return l->get(ctx.project->id, ctx.param("task"));
}

// The job, when the caller may see its images: its annotator, its reviewer, or a data owner.
// Anyone else is told it is not theirs, as a missing job would be for another project.
Result<datasets::LabelJob> job_for_work(const ApiServices& s, const RequestContext& ctx,
                                        const datasets::LabelTask& t) {
  JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
  JZ_ASSIGN_OR_RETURN(auto j, l->job(t, ctx.param("label_job")));
  const std::string& me = ctx.me().user_id;
  if (j.annotator.user_id != me && j.reviewer.user_id != me &&
      !ctx.allow("dataset_data", "get").ok()) {
    return Status::permission_denied("job " + std::to_string(j.seq) + " of task " + t.name +
                                     " is " + j.annotator.username + "'s and " +
                                     j.reviewer.username + "'s");
  }
  return j;
}

}  // namespace

void add_label_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string ts = "/api/v1/projects/{project}/label-tasks";
  const std::string t = ts + "/{task}";
  const std::string j = t + "/jobs/{label_job}";
  api.add({
      {.method = "POST",
       .path = "/api/v1/projects/{project}/datasets/{dataset}/label-tasks",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Make a labelling task over a version (data owners): its classes, shapes and "
                  "attributes; its images dealt into jobs of job_size to the annotators in turn, "
                  "each with a reviewer",
       .body_schema = sc::object(
           {{"name", sc::str("A lower-case name, unique in the project")},
            {"version", sc::integer("The version to label (default: the newest)")},
            {"spec", sc::object({{"classes", sc::array_of(sc::str())},
                                 {"shapes", sc::array_of(sc::one_of_strings({"box", "polygon"}))},
                                 {"attributes",
                                  sc::array_of(sc::object(
                                      {{"name", sc::str()}, {"values", sc::array_of(sc::str())}},
                                      {"name", "values"}))}},
                                {"classes"})},
            {"job_size", sc::integer("Images a job (default 50)")},
            {"annotators", sc::array_of(sc::str("A user with the annotator role"))},
            {"reviewers", sc::array_of(sc::str("A user with the annotator role"))}},
           {"name", "spec", "annotators", "reviewers"}),
       .response_schema = sc::ref("LabelTask"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_RETURN_IF_ERROR(ctx.allow("label_task", "create"));
         datasets::TaskRequest r;
         r.name = ctx.body.value("name", "");
         JZ_ASSIGN_OR_RETURN(auto version, json::optional_int(ctx.body, "version"));
         r.number = version.value_or(0);
         JZ_ASSIGN_OR_RETURN(r.spec, datasets::parse_label_spec(ctx.body["spec"]));
         JZ_ASSIGN_OR_RETURN(auto size, json::optional_int(ctx.body, "job_size"));
         r.job_size = size.value_or(50);
         JZ_ASSIGN_OR_RETURN(r.annotators, people_named(s, ctx, "annotators"));
         JZ_ASSIGN_OR_RETURN(r.reviewers, people_named(s, ctx, "reviewers"));
         JZ_ASSIGN_OR_RETURN(
             auto task, l->create(ctx.project->id, ctx.param("dataset"), r, ctx.me().username));
         ctx.audit.name = task.name;
         return Reply::created(task_json(task));
       }},
      {.method = "GET",
       .path = ts,
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "list",
       .summary =
           "The project's labelling tasks, newest first (at most 200): progress by job state",
       .response_schema = sc::list_of("LabelTask"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto list, l->list(ctx.project->id));
         Json items = Json::array();
         for (const auto& task : list) items.push_back(task_json(task));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = "/api/v1/projects/{project}/label-work",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "The caller's labelling jobs waiting for them: to annotate, to rework, to review",
       .response_schema = sc::list_of("LabelWork"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto work, l->work_of(ctx.project->id, ctx.me().user_id));
         Json items = Json::array();
         for (const auto& [task, job] : work) {
           Json w = job_json(job);
           w["task"] = task.name;
           w["task_id"] = task.id;
           w["dataset"] = task.dataset;
           w["role"] = job.state == "review" ? "review" : "annotate";
           items.push_back(std::move(w));
         }
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = t,
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "One labelling task: its spec and progress",
       .response_schema = sc::ref("LabelTask"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         return Reply::json(task_json(task));
       }},
      {.method = "DELETE",
       .path = t,
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "delete",
       .summary = "Delete a labelling task with its jobs and shapes (an exported version stays)",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_RETURN_IF_ERROR(l->remove(ctx.project->id, ctx.param("task")));
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = t + "/jobs",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "A task's jobs: who annotates and reviews each, its state and counts",
       .response_schema = sc::list_of("LabelJob"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto jobs, l->jobs(task));
         Json items = Json::array();
         for (const auto& job : jobs) items.push_back(job_json(job));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = t + "/statistics",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "Per annotator: jobs, images, shapes, accepted, reworks, work time, images an "
                  "hour, and agreement with the reviewers",
       .response_schema = {{"type", "object"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto stats, l->statistics(task));
         return Reply::json(std::move(stats));
       }},
      {.method = "POST",
       .path = t + "/export",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Export the shapes as the next version of the dataset (data owners who may "
                  "update it; once every job is accepted): COCO (labels/TASK/coco.json) or one "
                  "image JSON per image",
       .body_schema =
           sc::object({{"format", sc::one_of_strings({"coco", "image-json"}, "default coco")}}, {}),
       .response_schema = sc::ref("DatasetVersion"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_RETURN_IF_ERROR(ctx.allow("label_task", "update"));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(
             auto v, l->export_version(task, ctx.body.value("format", "coco"), ctx.me().username));
         ctx.audit.name = task.name;
         return Reply::created(version_json(v));
       }},
      {.method = "POST",
       .path = t + "/pre-annotations",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Pre-annotate the task with an uploaded algorithm that passed its checks (data "
                  "owners): a job of the project over the task's version; its boxes become the "
                  "first shapes of the images no person has saved yet",
       .body_schema = sc::object(
           {{"algorithm", sc::str("An uploaded algorithm's name")},
            {"version", sc::str()},
            {"min_confidence", sc::number("Objects under this confidence are left out (0.5)")},
            {"from", sc::one_of_strings({"model_data", "algorithm_data"},
                                        "Which part of the output (default model_data)")},
            {"classes",
             {{"type", "object"},
              {"description",
               "The algorithm's object names -> the task's classes (a name "
               "that is a class needs none)"}}},
            {"gpus", sc::integer("GPUs for the job (0)")}},
           {"algorithm", "version"}),
       .response_schema = sc::ref("PreAnnotation"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(labelling_of(s).status());
         if (!s.platform.preannotations || !s.platform.autotest) {
           return Status::unavailable("this server runs no pre-annotations");
         }
         JZ_RETURN_IF_ERROR(ctx.allow("label_task", "update"));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto r, datasets::parse_pre_annotation_request(ctx.body, task.spec));
         auto a = s.platform.autotest->algorithm(ctx.project->id, r.algorithm, r.version);
         if (!a.ok()) {
           return Status::unprocessable("field 'algorithm': this project has no algorithm " +
                                        r.algorithm + " " + r.version +
                                        " (upload it on the Automatic tests page)");
         }
         if (a->state != "ready") {
           return Status::failed_precondition(
               r.algorithm + " " + r.version +
               (a->state == "checking" ? " is still being checked; try again in a moment"
                                       : " did not pass its checks: " + a->message));
         }
         JZ_ASSIGN_OR_RETURN(
             auto p, s.platform.preannotations->start(task, ctx.project->name, r, ctx.me().user_id,
                                                      ctx.me().username));
         if (s.platform.runner) s.platform.runner->wake();
         ctx.audit.name = task.name;
         return Reply::created(pre_json(p));
       }},
      {.method = "GET",
       .path = t + "/pre-annotations",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "The task's pre-annotations, newest first (at most 100): state and counts",
       .response_schema = sc::list_of("PreAnnotation"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.preannotations) {
           return Status::unavailable("this server runs no pre-annotations");
         }
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto list, s.platform.preannotations->list(task));
         Json items = Json::array();
         for (const auto& p : list) items.push_back(pre_json(p));
         return Reply::page(std::move(items), "");
       }},
      {.method = "PATCH",
       .path = j,
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Give a job to another annotator or reviewer (data owners)",
       .body_schema = sc::object({{"annotator", sc::str()}, {"reviewer", sc::str()}}, {}),
       .response_schema = sc::ref("LabelJob"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_RETURN_IF_ERROR(ctx.allow("label_task", "update"));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         std::optional<datasets::Person> a, r;
         if (ctx.body.contains("annotator")) {
           JZ_ASSIGN_OR_RETURN(a, annotator_named(s, ctx, "annotator", ctx.body["annotator"]));
         }
         if (ctx.body.contains("reviewer")) {
           JZ_ASSIGN_OR_RETURN(r, annotator_named(s, ctx, "reviewer", ctx.body["reviewer"]));
         }
         JZ_RETURN_IF_ERROR(l->assign(task, ctx.param("label_job"), a, r));
         JZ_ASSIGN_OR_RETURN(auto job, l->job(task, ctx.param("label_job")));
         return Reply::json(job_json(job));
       }},
      {.method = "GET",
       .path = j,
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "A job with its images and their shapes (its annotator, its reviewer, data "
                  "owners)",
       .response_schema = sc::ref("LabelJobDetail"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto job, job_for_work(s, ctx, task));
         JZ_ASSIGN_OR_RETURN(auto labels, l->labels(task, job));
         Json out = job_json(job);
         out["task"] = task_json(task);
         Json images = Json::array();
         for (const auto& im : labels) {
           images.push_back({{"path", im.path},
                             {"width", im.width},
                             {"height", im.height},
                             {"shapes", im.shapes},
                             {"submitted", im.submitted},
                             {"source", im.source},
                             {"updated_by", im.updated_by}});
         }
         out["items"] = std::move(images);
         return Reply::json(std::move(out));
       }},
      {.method = "GET",
       .path = j + "/images/{path}",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "get",
       .summary = "One image of a job (its annotator, its reviewer, data owners)",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto job, job_for_work(s, ctx, task));
         const std::string& path = ctx.param("path");
         if (std::find(job.files.begin(), job.files.end(), path) == job.files.end()) {
           return Status::not_found("'" + path + "' is not an image of job " +
                                    std::to_string(job.seq));
         }
         JZ_ASSIGN_OR_RETURN(auto ver,
                             s.platform.versions->get(ctx.project->id, task.dataset, task.number));
         JZ_ASSIGN_OR_RETURN(auto file, s.platform.versions->file_path(ver, path));
         JZ_ASSIGN_OR_RETURN(auto data, read_file(file));
         return data_file_reply(std::move(data), path);
       }},
      {.method = "PUT",
       .path = j + "/images/{path}",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "annotate",
       .summary = "Save one image's shapes (the job's annotator while annotating, its reviewer "
                  "while in review); width and height as the tool read the image",
       .body_schema = sc::object({{"width", sc::integer()},
                                  {"height", sc::integer()},
                                  {"shapes", sc::array_of({{"type", "object"}})}},
                                 {"width", "height", "shapes"}),
       .success = 204,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(int64_t w, json::required_int(ctx.body, "width"));
         JZ_ASSIGN_OR_RETURN(int64_t h, json::required_int(ctx.body, "height"));
         if (w < 1 || h < 1 || w > 100'000 || h > 100'000) {
           return Status::invalid_argument("fields 'width' and 'height' must be 1 to 100000");
         }
         JZ_RETURN_IF_ERROR(l->save(task, ctx.param("label_job"), ctx.param("path"),
                                    static_cast<int>(w), static_cast<int>(h), ctx.body["shapes"],
                                    person_of(ctx)));
         return Reply::no_content();
       }},
      {.method = "POST",
       .path = j + "/submit",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "annotate",
       .summary = "Hand the job to its reviewer (its annotator; every image opened)",
       .response_schema = sc::ref("LabelJob"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         JZ_RETURN_IF_ERROR(l->submit(task, ctx.param("label_job"), person_of(ctx)));
         JZ_ASSIGN_OR_RETURN(auto job, l->job(task, ctx.param("label_job")));
         return Reply::json(job_json(job));
       }},
      {.method = "POST",
       .path = j + "/review",
       .scope = Scope::kProject,
       .resource = "label_task",
       .verb = "annotate",
       .summary = "Accept the job or send it back with a note (its reviewer)",
       .body_schema = sc::object({{"decision", sc::one_of_strings({"accept", "rework"})},
                                  {"note", sc::str("What to fix (needed to send it back)")}},
                                 {"decision"}),
       .response_schema = sc::ref("LabelJob"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* l, labelling_of(s));
         JZ_ASSIGN_OR_RETURN(auto task, task_in(s, ctx));
         const std::string decision = ctx.body.value("decision", "");
         JZ_RETURN_IF_ERROR(l->review(task, ctx.param("label_job"), decision == "accept",
                                      ctx.body.value("note", ""), person_of(ctx)));
         JZ_ASSIGN_OR_RETURN(auto job, l->job(task, ctx.param("label_job")));
         return Reply::json(job_json(job));
       }},
  });
}

}  // namespace jz::api
