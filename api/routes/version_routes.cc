// Dataset versions (platform/datasets/versions.h, docs/DATA.md "Versions"): made by those
// who manage the dataset (dataset:update); their counts (files, bytes, splits, tags, what
// changed) shown to everyone who sees the dataset; their files, paths included, to data
// owners only (dataset_data:get), as the dataset's own files are.
#include <algorithm>

#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "core/text.h"
#include "platform/datasets/versions.h"
#include "platform/jobs/runner.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<datasets::DatasetVersions*> versions_of(const ApiServices& s) {
  if (!s.platform.versions) {
    return Status::unavailable("this server keeps no dataset versions");
  }
  return s.platform.versions;
}

Result<int64_t> version_param(const RequestContext& ctx) {
  const auto n = parse_int64(ctx.param("number"));
  if (!n || *n < 1) {
    return Status::invalid_argument("version '" + ctx.param("number") +
                                    "' must be a version number (1, 2, ...)");
  }
  return *n;
}

Json version_json(const datasets::Version& v) {
  Json j = v.to_json();
  j.erase("created_at_ms");
  j["created_at"] = wire_time(v.created_at_ms);
  return j;
}

// Images as what they are, so the console shows them; everything else as bytes to save.
std::string content_type_of(const std::string& path) {
  std::string ext = path.substr(
      path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.') + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "webp") return "image/webp";
  if (ext == "bmp") return "image/bmp";
  if (ext == "gif") return "image/gif";
  return "application/octet-stream";
}

// A {path: value} object of the changes body, each value checked by `each`.
template <class F>
Status each_path(const Json& body, const char* field, F&& each) {
  if (!body.contains(field)) return {};
  const Json& o = body[field];
  if (!o.is_object() || o.size() > 1'000'000) {
    return Status::invalid_argument(std::string("field '") + field + "' must map paths to values");
  }
  for (const auto& [path, v] : o.items()) JZ_RETURN_IF_ERROR(each(path, v));
  return {};
}

Result<datasets::Changes> parse_changes(const Json& body) {
  JZ_RETURN_IF_ERROR(
      json::only_fields(body, {"message", "remove", "splits", "add_tags", "remove_tags"}));
  datasets::Changes ch;
  JZ_ASSIGN_OR_RETURN(auto message, json::optional_string(body, "message"));
  ch.message = message.value_or("");
  if (ch.message.size() > 1000) {
    return Status::invalid_argument("field 'message' must be at most 1000 characters");
  }
  if (body.contains("remove")) {
    if (!body["remove"].is_array()) {
      return Status::invalid_argument("field 'remove' must list the paths to leave out");
    }
    for (const auto& p : body["remove"]) {
      if (!p.is_string()) return Status::invalid_argument("field 'remove' must list paths");
      ch.remove.insert(p.get<std::string>());
    }
  }
  JZ_RETURN_IF_ERROR(each_path(body, "splits", [&](const std::string& path, const Json& v) {
    if (!v.is_string()) {
      return Status::invalid_argument("field 'splits': the split of '" + path + "' must be a name");
    }
    ch.set_split[path] = v.get<std::string>();
    return Status();
  }));
  for (const char* field : {"add_tags", "remove_tags"}) {
    auto& into = std::string(field) == "add_tags" ? ch.add_tags : ch.remove_tags;
    JZ_RETURN_IF_ERROR(each_path(body, field, [&](const std::string& path, const Json& v) {
      if (!v.is_array()) {
        return Status::invalid_argument(std::string("field '") + field + "': '" + path +
                                        "' must map to a list of tags");
      }
      for (const auto& t : v) {
        if (!t.is_string()) {
          return Status::invalid_argument(std::string("field '") + field + "' must list tags");
        }
        into[path].push_back(t.get<std::string>());
      }
      return Status();
    }));
  }
  if (ch.remove.empty() && ch.set_split.empty() && ch.add_tags.empty() && ch.remove_tags.empty()) {
    return Status::invalid_argument(
        "the changes are empty: give remove, splits, add_tags or remove_tags");
  }
  return ch;
}

}  // namespace

void add_dataset_version_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string vs = "/api/v1/projects/{project}/datasets/{dataset}/versions";
  const std::string v = vs + "/{number}";
  api.add({
      {.method = "POST",
       .path = vs,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Make a version of the dataset's folder as it is now: each file stored once "
                  "(a version costs the files it adds); a file unchanged since the last version "
                  "keeps its split and tags, new files get them from the request",
       .body_schema = sc::object(
           {{"message", sc::str("What this version is")},
            {"splits",
             {{"type", "object"},
              {"description",
               "Split name -> share of the new files (summing to 1), drawn from each "
               "path; default: by the top folder (train, val, test), else train"}}},
            {"tags", sc::array_of(sc::str())},
            {"tag_by_folder", sc::boolean("Tag each new file with its top folder's name")}},
           {}),
       .response_schema = sc::ref("DatasetVersion"),
       .errors = {409, 422, 429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(auto r, datasets::parse_snapshot_request(ctx.body));
         std::optional<int64_t> left;
         if (s.platform.runner) {
           JZ_ASSIGN_OR_RETURN(left, s.platform.runner->storage_left(ctx.project->id));
         }
         JZ_ASSIGN_OR_RETURN(auto out, versions->snapshot(ctx.project->id, ctx.param("dataset"), r,
                                                          ctx.me().username, left));
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(out.number);
         return Reply::created(version_json(out));
       }},
      {.method = "GET",
       .path = vs,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dataset's versions, newest first: files, bytes, splits, tags and what "
                  "changed (no paths)",
       .response_schema = sc::list_of("DatasetVersion"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(auto list, versions->list(ctx.project->id, ctx.param("dataset")));
         Json items = Json::array();
         for (const auto& x : list) items.push_back(version_json(x));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = v,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "One version (0: the newest)",
       .response_schema = sc::ref("DatasetVersion"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         int64_t n = 0;
         if (ctx.param("number") != "0") {
           JZ_ASSIGN_OR_RETURN(n, version_param(ctx));
         }
         JZ_ASSIGN_OR_RETURN(auto out, versions->get(ctx.project->id, ctx.param("dataset"), n));
         return Reply::json(version_json(out));
       }},
      {.method = "DELETE",
       .path = v,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "delete",
       .summary = "Delete a version; the files no other version holds go with it",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_RETURN_IF_ERROR(versions->remove(ctx.project->id, ctx.param("dataset"), n));
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(n);
         return Reply::no_content();
       }},
      {.method = "POST",
       .path = v + "/changes",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Make a new version from this one by changes (data owners who may also "
                  "update the dataset): files left out, splits and tags changed",
       .body_schema = sc::object(
           {{"message", sc::str()},
            {"remove", sc::array_of(sc::str("A path of the version"))},
            {"splits", {{"type", "object"}, {"description", "Path -> its new split"}}},
            {"add_tags", {{"type", "object"}, {"description", "Path -> tags to add"}}},
            {"remove_tags", {{"type", "object"}, {"description", "Path -> tags to remove"}}}},
           {}),
       .response_schema = sc::ref("DatasetVersion"),
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto ch, parse_changes(ctx.body));
         JZ_ASSIGN_OR_RETURN(auto out, versions->derive(ctx.project->id, ctx.param("dataset"), n,
                                                        ch, ctx.me().username));
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(out.number);
         return Reply::created(version_json(out));
       }},
      {.method = "GET",
       .path = v + "/files",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "A version's files by path (data owners), filtered by split, tag or prefix",
       .response_schema = sc::list_of("VersionFile"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto ver, versions->get(ctx.project->id, ctx.param("dataset"), n));
         const auto spec = ctx.page_spec();
         datasets::FileFilter f{.split = ctx.http.param("split"),
                                .tag = ctx.http.param("tag"),
                                .prefix = ctx.http.param("prefix"),
                                .after = spec.after,
                                .limit = static_cast<size_t>(spec.limit) + 1};
         JZ_ASSIGN_OR_RETURN(auto files, versions->files(ver, f));
         std::string next;
         if (files.size() > static_cast<size_t>(spec.limit)) {
           files.resize(static_cast<size_t>(spec.limit));
           next = files.back().path;
         }
         Json items = Json::array();
         for (const auto& file : files) items.push_back(file.to_json());
         return Reply::page(std::move(items), next);
       }},
      {.method = "GET",
       .path = v + "/files/{path}",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Download one file of a version (data owners); images come as images",
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto ver, versions->get(ctx.project->id, ctx.param("dataset"), n));
         JZ_ASSIGN_OR_RETURN(auto path, versions->file_path(ver, ctx.param("path")));
         JZ_ASSIGN_OR_RETURN(auto data, read_file(path));
         Reply r = Reply::text(std::move(data), content_type_of(ctx.param("path")));
         // The bytes are the data owner's, never a page of ours.
         r.headers.set("Content-Security-Policy", "sandbox; default-src 'none'");
         r.headers.set("X-Content-Type-Options", "nosniff");
         r.headers.set("Cache-Control", "private, max-age=86400, immutable");
         return r;
       }},
  });
}

}  // namespace jz::api
