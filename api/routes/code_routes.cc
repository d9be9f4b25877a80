// Project code (git over /git/PROJECT, the code page's branches and commits), job outputs
// (listing, downloads) and their release reviews (docs/JOBS.md, "Code" and "Outputs").
#include "api/schema.h"
#include "api/services.h"
#include "http/file_stream.h"
#include "platform/jobs/code.h"
#include "platform/jobs/outputs.h"
#include "platform/jobs/store.h"

namespace jz::api {

namespace sc = schema;

namespace {

Json outputs_json(const jobs::JobOutputs& o, bool downloadable) {
  Json j = {{"job_id", o.job_id},
            {"state", o.state},
            {"level", o.level},
            {"files", o.files},
            {"bytes", o.bytes},
            {"truncated", o.truncated},
            {"recorded_at", wire_time(o.recorded_at_ms)},
            {"downloadable", downloadable}};
  if (!o.skipped.empty()) j["skipped"] = o.skipped;
  if (o.expires_at_ms) j["expires_at"] = wire_time(*o.expires_at_ms);
  return j;
}

Json release_json(const jobs::Release& r) {
  Json j = {
      {"id", r.id},         {"job_id", r.job_id},       {"state", r.state},
      {"reason", r.reason}, {"requester", r.requester}, {"created_at", wire_time(r.created_at_ms)}};
  if (r.reviewer) j["reviewer"] = *r.reviewer;
  if (r.comment) j["comment"] = *r.comment;
  if (r.decided_at_ms) j["decided_at"] = wire_time(*r.decided_at_ms);
  return j;
}

// Whether the caller may have the bytes: open or released outputs for anyone who sees the
// job; held ones for the project's reviewers (data owners) only.
bool may_download(const RequestContext& ctx, const jobs::JobOutputs& o) {
  if (o.state == "open" || o.state == "released") return true;
  if (o.state == "expired") return false;
  return ctx.allow("release", "review").ok();
}

Result<jobs::CodeRepos*> code_of(const ApiServices& s) {
  if (!s.platform.code) return Status::unavailable("project code is not available on this server");
  return s.platform.code;
}

Result<jobs::Outputs*> outputs_of(const ApiServices& s) {
  if (!s.platform.outputs)
    return Status::unavailable("job outputs are not available on this server");
  return s.platform.outputs;
}

}  // namespace

void add_code_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string pr = "/api/v1/projects/{project}";
  const std::string jp = pr + "/jobs/{id}";
  // git's smart HTTP protocol: GET info/refs?service=..., POST git-upload-pack (clone,
  // fetch) and git-receive-pack (push, code:push).
  auto git = [&s](const std::string& path) {
    return [&s, path](RequestContext& ctx) -> Result<Reply> {
      JZ_ASSIGN_OR_RETURN(jobs::CodeRepos * code, code_of(s));
      const std::string service = ctx.http.param("service");
      const bool info = path == "/info/refs";
      if (info && service != "git-upload-pack" && service != "git-receive-pack") {
        return Status::invalid_argument(
            "a project's repository serves git's smart HTTP protocol only (service=" + service +
            "): use git clone URL/git/" + ctx.project->name);
      }
      const bool push = path == "/git-receive-pack" || service == "git-receive-pack";
      if (push) {
        if (Status st = ctx.allow("code", "push"); !st.ok()) {
          return Status::permission_denied("you may read the code of project " + ctx.project->name +
                                           " but not push to it (code:push)");
        }
      }
      jobs::GitHttpRequest req{.method = ctx.http.method,
                               .path_info = path,
                               .query = info ? "service=" + service : "",
                               .content_type = ctx.http.header("Content-Type"),
                               .content_encoding = ctx.http.header("Content-Encoding"),
                               .git_protocol = ctx.http.header("Git-Protocol"),
                               .body = ctx.http.body,
                               .remote_user = ctx.me().username,
                               .may_push = push};
      JZ_ASSIGN_OR_RETURN(auto out, code->http_backend(ctx.project->id, req));
      Reply r =
          Reply::streamed(std::make_shared<http::FileStream>(out.fd, out.offset, out.size), "");
      r.status = out.status;
      r.content_type = "application/octet-stream";
      for (const auto& [k, v] : out.headers) {
        if (http::iequals(k, "Content-Type")) {
          r.content_type = v;
        } else {
          r.headers.set(k, v);
        }
      }
      if (push && !info && out.status == 200) {
        s.emit(ctx, ctx.project->name, "code", ctx.project->name, "updated", "CodePushed",
               ctx.me().username + " pushed to the project's repository");
      }
      return r;
    };
  };
  const std::string summary =
      " (git smart HTTP: git clone URL/git/PROJECT with your API token as the password)";
  api.add({
      {.method = "GET",
       .path = "/git/{project}/info/refs",
       .scope = Scope::kProject,
       .resource = "code",
       .verb = "get",
       .summary = "The refs of the project's repository" + summary,
       .query = {{"service",
                  "git-upload-pack (clone, fetch) or git-receive-pack (push: "
                  "code:push)"}},
       .errors = {503},
       .handler = git("/info/refs")},
      {.method = "POST",
       .path = "/git/{project}/git-upload-pack",
       .scope = Scope::kProject,
       .resource = "code",
       .verb = "get",
       .summary = "Clone or fetch" + summary,
       .success = 200,
       .errors = {413, 503},
       .raw_body = true,
       .handler = git("/git-upload-pack")},
      {.method = "POST",
       .path = "/git/{project}/git-receive-pack",
       .scope = Scope::kProject,
       .resource = "code",
       .verb = "push",
       .summary = "Push" + summary,
       .success = 200,
       .errors = {413, 503},
       .raw_body = true,
       .handler = git("/git-receive-pack")},
  });
  api.add({
      {.method = "GET",
       .path = pr + "/code",
       .scope = Scope::kProject,
       .resource = "code",
       .verb = "get",
       .summary = "The project's repository: where to clone it, its branches, recent commits",
       .response_schema = sc::ref("ProjectCode"),
       .query = {{"ref",
                  "The branch, tag or commit whose history to show (default main, or "
                  "the first branch)"},
                 {"limit", "Commits to show, 1 to 200 (default 20)", "integer"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::CodeRepos * code, code_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t limit, ctx.int_param("limit", 1, 200, 20));
         JZ_ASSIGN_OR_RETURN(auto branches, code->branches(ctx.project->id));
         Json b = Json::array();
         std::string ref = ctx.http.param("ref");
         for (const auto& x : branches) {
           b.push_back({{"name", x.name}, {"commit", x.commit}});
           if (ctx.http.param("ref").empty() && (ref.empty() || x.name == "main")) ref = x.name;
         }
         Json commits = Json::array();
         if (!ref.empty()) {
           JZ_ASSIGN_OR_RETURN(auto log, code->log(ctx.project->id, ref, static_cast<int>(limit)));
           for (const auto& c : log) {
             commits.push_back({{"id", c.id},
                                {"author", c.author},
                                {"subject", c.subject},
                                {"time", wire_time(c.time_s * 1000)}});
           }
         }
         const bool may_push = ctx.allow("code", "push").ok();
         return Reply::json({{"clone_path", "/git/" + ctx.project->name},
                             {"may_push", may_push},
                             {"ref", ref},
                             {"branches", b},
                             {"commits", commits}});
       }},
      {.method = "GET",
       .path = jp + "/outputs",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "What the job left in /output: state (open, held, released, expired), "
                  "count, size, whether you may download, the latest release request",
       .response_schema = sc::ref("JobOutputs"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
         JZ_ASSIGN_OR_RETURN(auto o, outputs->get(ctx.project->id, ctx.param("id")));
         Json j = outputs_json(o, may_download(ctx, o));
         JZ_ASSIGN_OR_RETURN(auto reqs, outputs->releases(ctx.project->id, "", o.job_id,
                                                          {.after = "", .limit = 100}));
         j["release"] = reqs.items.empty() ? Json() : release_json(reqs.items.back());
         return Reply::json(j);
       }},
      {.method = "GET",
       .path = jp + "/outputs/files",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "The job's output files by path: size, and SHA-256 where you may download",
       .response_schema = sc::list_of("OutputFile"),
       .paging = Paging::kKeyset,
       .errors = {403},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
         JZ_ASSIGN_OR_RETURN(auto o, outputs->get(ctx.project->id, ctx.param("id")));
         // Held outputs show names and sizes only; those of an evaluation (whose algorithm
         // chose the names, having seen a hidden test set) not even that.
         const bool full = may_download(ctx, o);
         if (!full && o.state == "held") {
           auto job = s.platform.jobs ? s.platform.jobs->get_in(ctx.project->id, o.job_id)
                                      : Result<jobs::Job>(Status::not_found(""));
           if (job.ok() && job->kind == "eval") {
             return Status::permission_denied(
                 "job " + o.job_id + " evaluated an algorithm on " + o.level +
                 " data: its outputs are listed to the project's data owners only; its "
                 "evaluation shows what you may see");
           }
         }
         JZ_ASSIGN_OR_RETURN(auto page, outputs->files(o.job_id, ctx.page_spec()));
         return Reply::page(page, [full](const jobs::OutputFile& f) {
           Json j = {{"path", f.path}, {"size", f.size}};
           if (full) j["sha256"] = f.sha256;
           return j;
         });
       }},
      {.method = "GET",
       .path = jp + "/outputs/files/{path}",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "get",
       .summary = "Download one output file (held outputs: the project's data owners only)",
       .errors = {403},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
         JZ_ASSIGN_OR_RETURN(auto o, outputs->get(ctx.project->id, ctx.param("id")));
         if (o.state != "expired" && !may_download(ctx, o)) {
           return Status::permission_denied(
               "the outputs of job " + o.job_id + " are held: the job read " + o.level +
               " data, so they leave only when a data owner of the project approves a release "
               "request (POST .../outputs/release)");
         }
         JZ_ASSIGN_OR_RETURN(auto file, outputs->open_file(o, ctx.param("path")));
         Reply r = Reply::streamed(std::make_shared<http::FileStream>(file.first, 0, file.second),
                                   "application/octet-stream");
         std::string name = ctx.param("path");
         name = name.substr(name.rfind('/') + 1);
         for (char& c : name) {
           if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
         }
         r.headers.set("Content-Disposition", "attachment; filename=\"" + name + "\"");
         r.headers.set("X-Content-Type-Options", "nosniff");
         return r;
       }},
      {.method = "POST",
       .path = jp + "/outputs/release",
       .scope = Scope::kProject,
       .resource = "job",
       .verb = "update",
       .summary = "Ask the project's data owners to release the job's held outputs",
       .body_schema = sc::object({{"reason", sc::str("What the files are and why they should "
                                                     "leave (shown to the reviewer)")}},
                                 {"reason"}),
       .response_schema = sc::ref("Release"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto r, outputs->request(ctx.project->id, ctx.param("id"), ctx.me().user_id,
                                      ctx.me().username, ctx.body["reason"].get<std::string>()));
         s.emit(ctx, ctx.project->name, "release", r.id, "created", "ReleaseRequested",
                ctx.me().username + " asks to release the outputs of job " + r.job_id);
         ctx.audit.name = r.id;
         return Reply::created(release_json(r));
       }},
      {.method = "GET",
       .path = pr + "/releases",
       .scope = Scope::kProject,
       .resource = "release",
       .verb = "list",
       .summary = "Release requests of the project's held outputs, oldest first (the data "
                  "owners' review queue: state=pending)",
       .response_schema = sc::list_of("Release"),
       .paging = Paging::kKeyset,
       .query = {{"state", "pending, approved, refused or superseded"},
                 {"job", "Only requests for this job"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
         JZ_ASSIGN_OR_RETURN(auto page, outputs->releases(ctx.project->id, ctx.http.param("state"),
                                                          ctx.http.param("job"), ctx.page_spec()));
         return Reply::page(page, release_json);
       }},
  });
  // approve | refuse
  for (const bool approve : {true, false}) {
    api.add(Route{.method = "POST",
                  .path = pr + "/releases/{release}/" + (approve ? "approve" : "refuse"),
                  .scope = Scope::kProject,
                  .resource = "release",
                  .verb = "review",
                  .summary = approve ? "Approve a release request: the outputs may be downloaded"
                                     : "Refuse a release request: the outputs stay held",
                  .body_schema = sc::object({{"comment", sc::str("Shown to the requester")}}),
                  .response_schema = sc::ref("Release"),
                  .success = 200,
                  .handler = [&s, approve](RequestContext& ctx) -> Result<Reply> {
                    JZ_ASSIGN_OR_RETURN(jobs::Outputs * outputs, outputs_of(s));
                    const std::string comment =
                        ctx.body.is_object() ? json::string_or(ctx.body, "comment") : "";
                    JZ_ASSIGN_OR_RETURN(
                        auto r,
                        outputs->decide(ctx.project->id, ctx.param("release"), ctx.me().user_id,
                                        ctx.me().username, approve, comment));
                    s.emit(ctx, ctx.project->name, "release", r.id, "state",
                           approve ? "ReleaseApproved" : "ReleaseRefused",
                           ctx.me().username + (approve ? " released" : " refused to release") +
                               " the outputs of job " + r.job_id);
                    return Reply::json(release_json(r));
                  }});
  }
}

}  // namespace jz::api
