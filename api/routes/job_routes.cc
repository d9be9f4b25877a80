// Datasets, jobs, a project's job settings, and the machines that run jobs.
#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "core/text.h"
#include "platform/datasets/versions.h"
#include "platform/jobs/code.h"
#include "platform/jobs/datasets.h"
#include "platform/jobs/environment.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/runner.h"
#include "platform/jobs/store.h"
#include "platform/jobs/uploads.h"
#include "platform/monitor/monitor.h"

namespace jz::api {

namespace sc = schema;

namespace {

// A job as the API shows it; a running dev environment also says when it will be stopped
// as idle (each request through its proxy pushes that back), a running training job its
// progress and ETA (from its run, else its log).
Json job_json(const jobs::Job& j, jobs::JobRunner* runner) {
  Json out = j.to_json();
  if (runner && j.kind == "devenv") {
    if (auto at = runner->idle_stop_at_ms(j.id)) out["idle_stop_at"] = wire_time(*at);
  }
  if (runner && j.kind != "devenv") {
    if (auto p = runner->job_progress(j.id)) {
      out["progress"] = {{"done", p->done}, {"total", p->total}, {"source", p->source}};
      if (p->eta_s) out["progress"]["eta_s"] = *p->eta_s;
    }
  }
  return out;
}

Json dataset_json(const jobs::Dataset& d, bool show_path) {
  Json j = {{"name", d.name},
            {"security_level", d.security_level},
            {"created_by", d.created_by},
            {"created_at", wire_time(d.created_at_ms)}};
  // Where the data lives on the server is for those who may see the data.
  if (show_path) j["path"] = d.path;
  return j;
}

Json upload_json(const jobs::Upload& u) {
  return {{"id", u.id},
          {"dataset", u.dataset},
          {"security_level", u.security_level},
          {"size", u.size},
          {"offset", u.offset},
          {"created_at", wire_time(u.created_at_ms)},
          {"expires_at", wire_time(u.expires_at_ms)}};
}

// The server's uploads, or why it takes none.
Result<jobs::Uploads*> uploads_of(const ApiServices& s) {
  if (!s.platform.uploads) return Status::failed_precondition("this server takes no uploads");
  return s.platform.uploads;
}

}  // namespace

void add_dataset_routes(ApiRoutes& api, const ApiServices& s) {
  jobs::Datasets& datasets = *s.platform.datasets;
  jobs::JobRunner* runner = s.platform.runner;
  const std::string pr = "/api/v1/projects/{project}";
  const std::string ds = pr + "/datasets/{dataset}";
  api.add({
      {.method = "POST",
       .path = pr + "/datasets",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "Register a folder on the server as a dataset (data owners)",
       .body_schema = sc::object(
           {{"name", sc::str("DNS label")},
            {"path", sc::str("Absolute folder on the server, under a root of the workspace")},
            {"security_level", sc::one_of_strings({"open", "internal", "secret"})}},
           {"name", "path", "security_level"}),
       .response_schema = sc::ref("Dataset"),
       .errors = {409},
       .handler = [&datasets](RequestContext& ctx) -> Result<Reply> {
         const auto& me = ctx.me();
         JZ_ASSIGN_OR_RETURN(
             auto d, datasets.create(ctx.project->id, ctx.project->workspace_id, ctx.body["name"],
                                     ctx.body["path"], ctx.body["security_level"], me.username,
                                     me.is_platform_admin()));
         return Reply::created(dataset_json(d, true));
       }},
      {.method = "GET",
       .path = pr + "/datasets",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "list",
       .summary = "The project's datasets (paths shown to data owners)",
       .response_schema = sc::list_of("Dataset"),
       .paging = Paging::kKeyset,
       .handler = [&datasets](RequestContext& ctx) -> Result<Reply> {
         const bool owner = ctx.allow("dataset_data", "get").ok();
         JZ_ASSIGN_OR_RETURN(auto page, datasets.list(ctx.project->id, ctx.page_spec()));
         return Reply::page(page, [&](const jobs::Dataset& d) { return dataset_json(d, owner); });
       }},
      {.method = "GET",
       .path = ds,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "A dataset",
       .response_schema = sc::ref("Dataset"),
       .handler = [&datasets](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto d, datasets.get(ctx.project->id, ctx.param("dataset")));
         return Reply::json(dataset_json(d, ctx.allow("dataset_data", "get").ok()));
       }},
      {.method = "DELETE",
       .path = ds,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "delete",
       .summary = "Unregister a dataset (a registered folder's files stay; its versions go)",
       .handler = [&datasets, &s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(datasets.remove(ctx.project->id, ctx.param("dataset")));
         // Its versions went with it in the database; their stored files go now.
         if (s.platform.versions) {
           JZ_RETURN_IF_ERROR(s.platform.versions->collect_garbage(ctx.project->id));
         }
         return Reply::no_content();
       }},
      {.method = "POST",
       .path = ds + "/archive",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "Upload a tar or tar.gz archive as a new dataset (data owners); the body is "
                  "the archive",
       .response_schema = sc::ref("Dataset"),
       .query = {{"security_level", "open, internal (default) or secret"}},
       .errors = {409, 413, 422},
       .raw_body = true,
       .handler = [&datasets, runner](RequestContext& ctx) -> Result<Reply> {
         const std::string level = ctx.http.has_param("security_level")
                                       ? ctx.http.param("security_level")
                                       : std::string("internal");
         std::optional<int64_t> left;
         if (runner) {
           JZ_ASSIGN_OR_RETURN(left, runner->storage_left(ctx.project->id));
         }
         JZ_ASSIGN_OR_RETURN(
             auto d, datasets.create_from_archive(ctx.project->id, ctx.param("dataset"),
                                                  ctx.http.body, level, ctx.me().username, left));
         return Reply::created(dataset_json(d, true));
       }},
      // Resumable uploads (tus-style): announce, send chunks at offsets, resume.
      {.method = "POST",
       .path = pr + "/uploads",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "Start a resumable upload of a tar or tar.gz archive that becomes a dataset "
                  "(data owners; 200 with your unfinished upload of the same dataset, size and "
                  "level); send it with PATCH in chunks",
       .body_schema =
           sc::object({{"dataset", sc::str("The dataset it becomes")},
                       {"size", {{"type", "integer"}, {"minimum", 1}}},
                       {"security_level", sc::str("open, internal (default) or secret")}},
                      {"dataset", "size"}),
       .response_schema = sc::ref("Upload"),
       .errors = {409, 429},
       .handler = [&s, runner](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Uploads * uploads, uploads_of(s));
         std::optional<int64_t> left;
         if (runner) {
           JZ_ASSIGN_OR_RETURN(left, runner->storage_left(ctx.project->id));
         }
         JZ_ASSIGN_OR_RETURN(
             auto u, uploads->create(
                         ctx.project->id, ctx.body["dataset"], ctx.body["size"].get<int64_t>(),
                         ctx.body.value("security_level", "internal"), ctx.me().user_id,
                         ctx.me().username, left, s.platform.datasets->policy().upload_max_bytes));
         ctx.audit.name = u.dataset;
         // 200 for an unfinished upload announced again (resume it at its offset).
         return u.resumed ? Reply::json(upload_json(u)) : Reply::created(upload_json(u));
       }},
      {.method = "GET",
       .path = ds + "/upload",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "The caller's unfinished upload of this dataset, with its offset (how a "
                  "client resumes)",
       .response_schema = sc::ref("Upload"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Uploads * uploads, uploads_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto u, uploads->find(ctx.project->id, ctx.param("dataset"), ctx.me().user_id));
         if (!u) {
           return Status::not_found("you have no unfinished upload of dataset '" +
                                    ctx.param("dataset") + "'");
         }
         return Reply::json(upload_json(*u));
       }},
      {.method = "GET",
       .path = pr + "/uploads/{upload}",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "An upload and its offset (its uploader)",
       .response_schema = sc::ref("Upload"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Uploads * uploads, uploads_of(s));
         JZ_ASSIGN_OR_RETURN(auto u,
                             uploads->get(ctx.project->id, ctx.param("upload"), ctx.me().user_id));
         Reply r = Reply::json(upload_json(u));
         r.headers.set("Upload-Offset", std::to_string(u.offset));
         return r;
       }},
      {.method = "PATCH",
       .path = pr + "/uploads/{upload}",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "Send a chunk of an upload at Upload-Offset (header), with an optional "
                  "'Upload-Checksum: sha256 HEX'; the last one makes the dataset",
       .response_schema = sc::object(
           {{"offset", sc::integer()}, {"dataset", sc::nullable(sc::ref("Dataset"))}}, {"offset"}),
       .success = 200,
       .errors = {409, 413, 422, 429},
       .raw_body = true,
       .handler = [&s, runner](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Uploads * uploads, uploads_of(s));
         const auto offset = parse_int64(ctx.http.header("Upload-Offset"));
         if (!offset || *offset < 0) {
           return Status::invalid_argument(
               "header Upload-Offset must give the byte the chunk starts at (GET the upload "
               "for its offset)");
         }
         std::string sum;
         if (const std::string c = ctx.http.header("Upload-Checksum"); !c.empty()) {
           if (c.rfind("sha256 ", 0) != 0 || c.size() != 7 + 64) {
             return Status::invalid_argument(
                 "header Upload-Checksum must be 'sha256 ' and the chunk's 64 hex digits");
           }
           sum = c.substr(7);
           for (auto& ch : sum)
             ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
         }
         std::optional<int64_t> left;
         if (runner) {
           JZ_ASSIGN_OR_RETURN(left, runner->storage_left(ctx.project->id));
         }
         JZ_ASSIGN_OR_RETURN(auto done,
                             uploads->append(ctx.project->id, ctx.param("upload"), ctx.me().user_id,
                                             *offset, ctx.http.body, sum, left));
         Json body = {
             {"offset", done.offset},
             {"dataset", done.dataset ? dataset_json(*done.dataset, true) : Json(nullptr)}};
         Reply r = Reply::json(std::move(body));
         r.headers.set("Upload-Offset", std::to_string(done.offset));
         return r;
       }},
      {.method = "DELETE",
       .path = pr + "/uploads/{upload}",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "create",
       .summary = "Give up an unfinished upload; its bytes go",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Uploads * uploads, uploads_of(s));
         JZ_RETURN_IF_ERROR(
             uploads->remove(ctx.project->id, ctx.param("upload"), ctx.me().user_id));
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = ds + "/files",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "A dataset's files (data owners), by path",
       .response_schema = sc::list_of("DatasetFile"),
       .paging = Paging::kKeyset,
       .handler = [&datasets](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto d, datasets.get(ctx.project->id, ctx.param("dataset")));
         JZ_ASSIGN_OR_RETURN(auto files, datasets.files(d));
         std::vector<Json> items;
         items.reserve(files.size());
         for (const auto& f : files) items.push_back({{"path", f.path}, {"size", f.size}});
         return page_of(ctx, std::move(items), "path");
       }},
      {.method = "GET",
       .path = ds + "/files/{path}",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Download one file of a dataset (data owners)",
       .handler = [&datasets](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto d, datasets.get(ctx.project->id, ctx.param("dataset")));
         JZ_ASSIGN_OR_RETURN(auto path, datasets.file_path(d, ctx.param("path")));
         JZ_ASSIGN_OR_RETURN(auto data, read_file(path));
         return Reply::text(std::move(data), "application/octet-stream");
       }},
  });
}

namespace {

// A job's code ref resolves to the commit it records (one it names must exist); a dev
// environment's repository is writable when its owner may push; inputs are ended jobs
// of this project with outputs a dev environment may hold.
Status check_code_and_inputs(const ApiServices& s, const RequestContext& ctx,
                             jobs::JobRequest& spec) {
  const iam::Project& p = *ctx.project;
  spec.code_write = false;
  if (!spec.code_ref.empty() || spec.kind == "devenv") {
    if (!s.platform.code) {
      if (!spec.code_ref.empty())
        return Status::unavailable("project code is not available on this server");
    } else {
      const bool may_read = ctx.allow("code", "get").ok();
      if (!spec.code_ref.empty()) {
        if (!may_read) return Status::permission_denied("field 'code': you may not read the code");
        auto commit = s.platform.code->resolve(p.id, spec.code_ref);
        if (!commit.ok()) {
          return Status(commit.status().code() == Code::kInvalidArgument ? Code::kInvalidArgument
                                                                         : Code::kUnprocessable,
                        "field 'code': " + commit.status().message());
        }
        if (!spec.code_commit.empty() && spec.code_commit != *commit) {
          return Status::unprocessable("field 'code': '" + spec.code_ref + "' is commit " +
                                       *commit + ", not " + spec.code_commit);
        }
        spec.code_commit = *commit;
      }
      spec.code_write = spec.kind == "devenv" && ctx.allow("code", "push").ok();
    }
  }
  if (!spec.packages.empty()) {
    auto missing = jobs::missing_packages(spec.packages);
    if (!missing.ok()) return missing.status();
    if (!missing->empty()) {
      return Status::unprocessable("field 'environment.packages': " +
                                   jobs::missing_packages_message(*missing));
    }
  }
  for (const auto& id : spec.inputs) {
    if (!s.platform.outputs)
      return Status::unavailable("job outputs are not available on this server");
    auto o = s.platform.outputs->get(p.id, id);
    if (!o.ok()) {
      return Status::unprocessable("field 'inputs': job " + id + " of project " + p.name +
                                   " has no outputs (it does not exist here or has not ended)");
    }
    if (o->state == "expired") {
      return Status::unprocessable("field 'inputs': the outputs of job " + id +
                                   " were removed after the retention period");
    }
    if (spec.kind == "devenv" && o->state == "held") {
      return Status::failed_precondition(
          "field 'inputs': the outputs of job " + id + " are held (they come from " + o->level +
          " data): a dev environment may mount open or released outputs only; use a batch job");
    }
  }
  return {};
}

}  // namespace

namespace {

// The node agent's latest readings beside what the runner knows of each node and GPU:
// utilisation, memory in use, temperature, power, health.
void add_live_readings(Json& nodes, monitor::Monitor& mon) {
  const Json latest = mon.latest();
  const std::string status = mon.agent_status();
  std::map<std::string, const Json*> by_uuid;
  const Json* sample = nullptr;
  for (const auto& [host, s] : latest.items()) {
    sample = &s;
    if (auto gs = s.find("gpus"); gs != s.end() && gs->is_array()) {
      for (const Json& g : *gs) by_uuid[g.value("uuid", "")] = &g;
    }
  }
  for (Json& n : nodes["items"]) {
    n["monitoring"] = {{"agent", status.empty() ? "ok" : status}};
    if (sample) {
      const Json node = sample->value("node", Json::object());
      n["monitoring"]["memory_used_mib"] = (node.value("memory_total_bytes", int64_t{0}) -
                                            node.value("memory_available_bytes", int64_t{0})) >>
                                           20;
      n["monitoring"]["load1"] = node.value("load1", 0.0);
      n["monitoring"]["sampled_at"] = wire_time(sample->value("at_ms", int64_t{0}));
    }
    for (Json& g : n["gpus"]) {
      auto it = by_uuid.find(g.value("uuid", ""));
      if (it == by_uuid.end()) continue;
      const Json& r = *it->second;
      Json live = Json::object();
      for (const char* k : {"gpu_util", "mem_copy_util", "fb_used_mib", "fb_total_mib",
                            "gpu_temp_c", "power_w", "last_xid"}) {
        if (r.contains(k)) live[k] = r[k];
      }
      g["live"] = std::move(live);
    }
  }
}

}  // namespace

void add_job_routes(ApiRoutes& api, const ApiServices& s) {
  jobs::JobStore& store = *s.platform.jobs;
  jobs::Datasets& datasets = *s.platform.datasets;
  jobs::JobRunner* runner = s.platform.runner;
  const std::string pr = "/api/v1/projects/{project}";
  const std::string jp = pr + "/jobs/{id}";
  api.add({
      {.method = "POST",
       .path = pr + "/jobs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "create",
       .summary = "Submit a job (docs/JOBS.md)",
       .body_schema = sc::ref("JobRequest"),
       .response_schema = sc::ref("Job"),
       .errors = {422, 503},
       .handler = [&s, &store, &datasets, runner, unavailable = s.platform.jobs_unavailable](
                      RequestContext& ctx) -> Result<Reply> {
         if (!unavailable.empty()) return Status::unavailable(unavailable);
         JZ_ASSIGN_OR_RETURN(auto spec, jobs::parse_job_request(ctx.body));
         const iam::Project& p = *ctx.project;
         if (!spec.algorithm_name.empty()) {
           return Status::unprocessable(
               "field 'algorithm': only the automatic test service runs uploaded algorithms; "
               "submit an evaluation instead (POST /api/v1/projects/" +
               p.name + "/evaluations, or `jizhan autotest submit`)");
         }
         JZ_RETURN_IF_ERROR(check_code_and_inputs(s, ctx, spec));
         for (const auto& name : spec.datasets) {
           auto d = datasets.get(p.id, name);
           if (!d.ok()) {
             return Status::unprocessable("field 'datasets': dataset '" + name +
                                          "' does not exist in project " + p.name);
           }
           if (spec.kind == "devenv") {
             if (Status m = jobs::devenv_may_mount(*d); !m.ok()) {
               return Status(m.code(), "field 'datasets': " + m.message());
             }
           }
         }
         const auto& me = ctx.me();
         JZ_ASSIGN_OR_RETURN(
             auto j, store.create(p.id, p.name, me.user_id, me.username, spec, me.username));
         if (runner) runner->wake();
         return Reply::created(j.to_json());
       }},
      // The caller's own jobs across projects (the console's overview), less those of
      // projects where the caller may no longer list jobs.
      {.method = "GET",
       .path = "/api/v1/jobs",
       .summary = "The caller's own jobs across projects, newest first",
       .response_schema = sc::list_of("Job"),
       .paging = Paging::kKeyset,
       .query = {{"active", "true: only queued to running jobs", "boolean"},
                 {"state", "Only jobs in this state"}},
       .handler = [&s, &store, runner](RequestContext& ctx) -> Result<Reply> {
         jobs::ListFilter f;
         f.user_id = ctx.me().user_id;
         f.active = ctx.http.param("active") == "true";
         f.state = ctx.http.param("state");
         f.limit = ctx.page.size;
         if (!ctx.page.after.empty()) {
           const auto before = parse_int64(ctx.page.after);
           if (!before || *before < 1) return invalid_page_token();
           f.before_seq = *before;
         }
         JZ_ASSIGN_OR_RETURN(auto list, store.list("", f));
         JobVisibility visible(s, ctx.me());
         Json items = Json::array();
         for (const auto& j : list) {
           if (visible.sees(j.project)) items.push_back(job_json(j, runner));
         }
         const bool full = list.size() == static_cast<size_t>(f.limit) && !list.empty();
         return Reply::page(std::move(items), full ? std::to_string(list.back().seq) : "");
       }},
      {.method = "GET",
       .path = pr + "/jobs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "list",
       .summary = "The project's jobs, newest first",
       .response_schema = sc::list_of("Job"),
       .paging = Paging::kKeyset,
       .query = {{"state", "Only jobs in this state"},
                 {"kind", "train, eval or devenv"},
                 {"user", "Only this user's jobs"}},
       .handler = [&store, runner](RequestContext& ctx) -> Result<Reply> {
         jobs::ListFilter f;
         f.state = ctx.http.param("state");
         f.kind = ctx.http.param("kind");
         f.user = ctx.http.param("user");
         f.limit = ctx.page.size;
         if (!ctx.page.after.empty()) {
           const auto before = parse_int64(ctx.page.after);
           if (!before || *before < 1) return invalid_page_token();
           f.before_seq = *before;
         }
         JZ_ASSIGN_OR_RETURN(auto list, store.list(ctx.project->id, f));
         Json items = Json::array();
         for (const auto& j : list) items.push_back(job_json(j, runner));
         const bool full = list.size() == static_cast<size_t>(f.limit) && !list.empty();
         return Reply::page(std::move(items), full ? std::to_string(list.back().seq) : "");
       }},
      {.method = "GET",
       .path = jp,
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "A job",
       .response_schema = sc::ref("Job"),
       .handler = [&store, runner](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto j, store.get_in(ctx.project->id, ctx.param("id")));
         return Reply::json(job_json(j, runner));
       }},
      {.method = "GET",
       .path = jp + "/events",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "A job's changes of state, oldest first",
       .response_schema = sc::list_of("JobEvent"),
       .paging = Paging::kKeyset,
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto j, store.get_in(ctx.project->id, ctx.param("id")));
         JZ_ASSIGN_OR_RETURN(auto events, store.history(j.id, ctx.page_spec()));
         return Reply::page(events, [](const jobs::JobEvent& e) { return e.to_json(); });
       }},
      {.method = "POST",
       .path = jp + "/cancel",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "cancel",
       .summary = "Cancel a job: SIGTERM to its processes, SIGKILL after the grace period",
       .response_schema = sc::ref("Job"),
       .success = 202,
       .errors = {409},
       .handler = [&store, runner](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(
             store.request_cancel(ctx.project->id, ctx.param("id"), ctx.me().username));
         if (runner) runner->wake();
         JZ_ASSIGN_OR_RETURN(auto j, store.get(ctx.param("id")));
         return Reply::json(j.to_json(), 202);
       }},
      {.method = "POST",
       .path = jp + "/retry",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "create",
       .summary = "Queue an ended job again (next attempt; a dev environment keeps its folder)",
       .response_schema = sc::ref("Job"),
       .errors = {409},
       .handler = [&store, runner](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto j,
                             store.retry(ctx.project->id, ctx.param("id"), ctx.me().username));
         if (runner) runner->wake();
         return Reply::created(j.to_json());
       }},
      {.method = "GET",
       .path = pr + "/job-settings",
       .scope = Scope::kProject,
       .resource = "project",
       .verb = "get",
       .summary = "The project's job settings (ETag: their version)",
       .response_schema = sc::ref("JobSettings"),
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto st, store.settings(ctx.project->id));
         return std::move(Reply::json(st.to_json()).with_etag(etag_of(st.to_json())));
       }},
      {.method = "PUT",
       .path = pr + "/job-settings",
       .scope = Scope::kProject,
       .resource = "project",
       .verb = "update",
       .summary = "Change job settings (allow_egress: platform admins only; If-Match: the ETag "
                  "read)",
       .body_schema = sc::object(
           {{"allow_egress", sc::boolean()},
            {"devenv_idle_s", {{"type", "integer"}, {"minimum", 1}, {"maximum", 31622400}}},
            {"devenv_gpu_idle_percent", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100}}},
            {"queued_alert_s",
             {{"type", "integer"},
              {"minimum", 0},
              {"maximum", 31622400},
              {"description", "A job queued this long gets a QueuedTooLong event (0: never)"}}}}),
       .response_schema = sc::ref("JobSettings"),
       .errors = {412},
       .handler = [&store](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::JobSettings st, store.settings(ctx.project->id));
         JZ_RETURN_IF_ERROR(ctx.check_if_match(etag_of(st.to_json())));
         if (ctx.body.contains("allow_egress")) {
           const bool egress = ctx.body["allow_egress"];
           // Letting jobs reach the network is the platform's decision.
           if (egress && !st.allow_egress && !ctx.me().is_platform_admin()) {
             return Status::permission_denied(
                 "only a platform-admin may let a project's jobs reach the network "
                 "(allow_egress)");
           }
           st.allow_egress = egress;
         }
         if (ctx.body.contains("devenv_idle_s")) st.devenv_idle_s = ctx.body["devenv_idle_s"];
         if (ctx.body.contains("devenv_gpu_idle_percent")) {
           st.devenv_gpu_idle_percent = ctx.body["devenv_gpu_idle_percent"];
         }
         if (ctx.body.contains("queued_alert_s")) st.queued_alert_s = ctx.body["queued_alert_s"];
         JZ_RETURN_IF_ERROR(store.set_settings(ctx.project->id, st));
         return std::move(Reply::json(st.to_json()).with_etag(etag_of(st.to_json())));
       }},
      {.method = "GET",
       .path = "/api/v1/nodes",
       .summary = "The machines that run jobs and what is in use",
       .handler = [runner, mon = s.platform.monitor](RequestContext&) -> Result<Reply> {
         if (!runner) return Reply::json({{"items", Json::array()}, {"next_page_token", nullptr}});
         Json nodes = runner->nodes_json();
         if (mon) add_live_readings(nodes, *mon);
         return Reply::json(std::move(nodes));
       }},
  });
}

}  // namespace jz::api
