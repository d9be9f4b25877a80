// Dataset versions (platform/datasets/versions.h, docs/DATA.md "Versions"): made by those
// who manage the dataset (dataset:update); their counts (files, bytes, splits, tags, what
// changed) shown to everyone who sees the dataset; their files, paths included, to data
// owners only (dataset_data:get), as the dataset's own files are.
#include <algorithm>
#include <map>
#include <set>

#include "api/schema.h"
#include "api/services.h"
#include "core/files.h"
#include "core/text.h"
#include "platform/datasets/conversion.h"
#include "platform/datasets/curation.h"
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

Json curation_options_schema() {
  return sc::object(
      {{"radius", sc::integer("Near-duplicate radius in bits, 0-32 (default 10)")},
       {"min_sharpness", sc::number("Blurry under this variance of the Laplacian (20)")},
       {"min_brightness", sc::number("Dark under this mean grey level (40)")},
       {"max_brightness", sc::number("Overexposed over this mean grey level (215)")},
       {"min_width", sc::integer("Small under this width (64)")},
       {"min_height", sc::integer("Small under this height (64)")},
       {"brisque", sc::boolean("Also score BRISQUE (slower)")},
       {"max_brisque", sc::number("Poor over this BRISQUE score (60)")}},
      {});
}

Json defaults_json(const datasets::CurationDefaults& d) {
  return {{"options", d.options.to_json()},
          {"updated_by", d.updated_by.empty() ? Json(nullptr) : Json(d.updated_by)},
          {"updated_at", d.updated_at_ms > 0 ? Json(wire_time(d.updated_at_ms)) : Json(nullptr)}};
}

Json conversion_json(const datasets::Conversion& c) {
  return {{"id", c.id},
          {"dataset", c.dataset},
          {"version", c.number},
          {"job_id", c.job_id},
          {"state", c.state},
          {"message", c.message},
          {"request", c.request.to_json()},
          {"result_version", c.result_version > 0 ? Json(c.result_version) : Json(nullptr)},
          {"files", c.files},
          {"created_by", c.created_by},
          {"created_at", wire_time(c.created_at_ms)},
          {"finished_at", c.finished_at_ms ? Json(wire_time(*c.finished_at_ms)) : Json(nullptr)}};
}

Result<datasets::CurationService*> curations_of(const ApiServices& s) {
  if (!s.platform.curations) return Status::unavailable("this server runs no curations");
  return s.platform.curations;
}

Json curation_json(const datasets::Curation& c) {
  Json j = {{"id", c.id},
            {"dataset", c.dataset},
            {"version", c.number},
            {"job_id", c.job_id},
            {"state", c.state},
            {"message", c.message},
            {"options", c.options.to_json()},
            {"summary", c.summary},
            {"applied_version", c.applied_version > 0 ? Json(c.applied_version) : Json(nullptr)},
            {"created_by", c.created_by},
            {"created_at", wire_time(c.created_at_ms)}};
  j["finished_at"] = c.finished_at_ms ? Json(wire_time(*c.finished_at_ms)) : Json(nullptr);
  return j;
}

// The curation the path names, of the dataset it names.
Result<datasets::Curation> curation_in(const ApiServices& s, const RequestContext& ctx) {
  JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
  auto c = curations->get(ctx.project->id, ctx.param("curation"));
  if (!c.ok() || c->dataset != ctx.param("dataset")) {
    return Status::not_found("dataset '" + ctx.param("dataset") + "' has no curation " +
                             ctx.param("curation"));
  }
  return *c;
}

}  // namespace

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
  j.erase("archived_at_ms");
  j["created_at"] = wire_time(v.created_at_ms);
  j["archived_at"] = v.archived_at_ms ? Json(wire_time(*v.archived_at_ms)) : Json(nullptr);
  return j;
}

void add_dataset_version_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string vs = "/api/v1/projects/{project}/datasets/{dataset}/versions";
  const std::string v = vs + "/{number}";
  const std::string cs = "/api/v1/projects/{project}/datasets/{dataset}/curations";
  const std::string cur = cs + "/{curation}";
  api.add({
      {.method = "POST",
       .path = v + "/curations",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Find near-duplicates and poor images in a version (data owners who may "
                  "update the dataset): a job of the project, in its sandbox; its proposals "
                  "wait for a person's review. Thresholds not given are the dataset's",
       .body_schema = curation_options_schema(),
       .response_schema = sc::ref("Curation"),
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto base, curations->defaults(ctx.project->id, ctx.param("dataset")));
         JZ_ASSIGN_OR_RETURN(auto o, datasets::parse_curation_options(ctx.body, base.options));
         JZ_ASSIGN_OR_RETURN(
             auto c, curations->start(ctx.project->id, ctx.project->name, ctx.param("dataset"), n,
                                      o, ctx.me().user_id, ctx.me().username));
         if (s.platform.runner) s.platform.runner->wake();
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(n);
         return Reply::created(curation_json(c));
       }},
      {.method = "POST",
       .path = v + "/conversions",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Convert the version's annotations to another format (data owners who may "
                  "update the dataset): a job of the project, in its sandbox; the next version "
                  "holds the converted files beside the old",
       .body_schema = sc::object(
           {{"from", sc::one_of_strings({"coco", "voc", "yolo", "json"})},
            {"to", sc::one_of_strings({"coco", "voc", "yolo", "json"})},
            {"input", sc::str("In the version: the COCO .json file, or the folder of the others")},
            {"images", sc::str("From YOLO: the images' folder (default INPUT/images)")},
            {"output", sc::str("The new version's folder for the result (default labels/TO)")},
            {"message", sc::str()}},
           {"from", "to", "input"}),
       .response_schema = sc::ref("Conversion"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.conversions) return Status::unavailable("this server runs no conversions");
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto r, datasets::parse_conversion_request(ctx.body));
         JZ_ASSIGN_OR_RETURN(auto c, s.platform.conversions->start(
                                         ctx.project->id, ctx.project->name, ctx.param("dataset"),
                                         n, r, ctx.me().user_id, ctx.me().username));
         if (s.platform.runner) s.platform.runner->wake();
         ctx.audit.name = ctx.param("dataset") + "@" + std::to_string(n);
         return Reply::created(conversion_json(c));
       }},
      {.method = "GET",
       .path = "/api/v1/projects/{project}/datasets/{dataset}/conversions",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dataset's conversions, newest first (at most 100): state and the version "
                  "each made",
       .response_schema = sc::list_of("Conversion"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.conversions) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(auto list,
                             s.platform.conversions->list(ctx.project->id, ctx.param("dataset")));
         Json items = Json::array();
         for (const auto& c : list) items.push_back(conversion_json(c));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = "/api/v1/projects/{project}/datasets/{dataset}/curation-defaults",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dataset's curation thresholds, which its curations start from (the "
                  "built-in ones until someone sets them)",
       .response_schema = sc::ref("CurationDefaults"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         JZ_ASSIGN_OR_RETURN(auto d, curations->defaults(ctx.project->id, ctx.param("dataset")));
         return Reply::json(defaults_json(d));
       }},
      {.method = "PUT",
       .path = "/api/v1/projects/{project}/datasets/{dataset}/curation-defaults",
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "update",
       .summary = "Set the dataset's curation thresholds (absent fields: the built-in ones)",
       .body_schema = curation_options_schema(),
       .response_schema = sc::ref("CurationDefaults"),
       .success = 200,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         JZ_ASSIGN_OR_RETURN(auto o, datasets::parse_curation_options(ctx.body));
         JZ_ASSIGN_OR_RETURN(auto d, curations->set_defaults(ctx.project->id, ctx.param("dataset"),
                                                             o, ctx.me().username));
         ctx.audit.name = ctx.param("dataset");
         return Reply::json(defaults_json(d));
       }},
      {.method = "GET",
       .path = cs,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "The dataset's curations, newest first (at most 100): state and counts",
       .response_schema = sc::list_of("Curation"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         JZ_ASSIGN_OR_RETURN(auto list, curations->list(ctx.project->id, ctx.param("dataset")));
         Json items = Json::array();
         for (const auto& c : list) items.push_back(curation_json(c));
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = cur,
       .scope = Scope::kProject,
       .resource = "dataset",
       .verb = "get",
       .summary = "One curation: state and counts",
       .response_schema = sc::ref("Curation"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto c, curation_in(s, ctx));
         return Reply::json(curation_json(c));
       }},
      {.method = "GET",
       .path = cur + "/proposals",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "The review queue (data owners): each proposed removal with its reason, a "
                  "duplicate's kept image, and the decision; ?decision= filters",
       .response_schema = sc::list_of("Proposal"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto c, curation_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         const std::string decision = ctx.http.param("decision");
         if (!decision.empty() && decision != "pending" && decision != "confirmed" &&
             decision != "rejected") {
           return Status::invalid_argument("decision must be pending, confirmed or rejected");
         }
         JZ_ASSIGN_OR_RETURN(auto list, curations->proposals(c, decision));
         Json items = Json::array();
         for (const auto& p : list) {
           items.push_back({{"path", p.path},
                            {"kind", p.kind},
                            {"reason", p.reason},
                            {"keep", p.keep.empty() ? Json(nullptr) : Json(p.keep)},
                            {"distance", p.distance},
                            {"decision", p.decision},
                            {"decided_by", p.decided_by},
                            {"decided_at",
                             p.decided_at_ms ? Json(wire_time(*p.decided_at_ms)) : Json(nullptr)}});
         }
         return Reply::page(std::move(items), "");
       }},
      {.method = "POST",
       .path = cur + "/decisions",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Confirm or reject proposed removals (data owners who may update the "
                  "dataset): {\"decisions\": {PATH: confirmed | rejected | pending}}",
       .body_schema = sc::object({{"decisions", {{"type", "object"}}}}, {"decisions"}),
       .response_schema = sc::ref("Curation"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_ASSIGN_OR_RETURN(auto c, curation_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         const Json& d = ctx.body["decisions"];
         if (!d.is_object() || d.empty() || d.size() > 100000) {
           return Status::invalid_argument(
               "field 'decisions' must map 1 to 100000 paths to confirmed, rejected or pending");
         }
         std::map<std::string, std::string> decisions;
         for (const auto& [path, v] : d.items()) {
           if (!v.is_string()) {
             return Status::invalid_argument("field 'decisions': '" + path +
                                             "' must map to confirmed, rejected or pending");
           }
           decisions[path] = v.get<std::string>();
         }
         JZ_RETURN_IF_ERROR(curations->decide(ctx.project->id, c.id, decisions, ctx.me().username));
         JZ_ASSIGN_OR_RETURN(auto after, curations->get(ctx.project->id, c.id));
         ctx.audit.name = c.id;
         return Reply::json(curation_json(after));
       }},
      {.method = "POST",
       .path = cur + "/apply",
       .scope = Scope::kProject,
       .resource = "dataset_data",
       .verb = "get",
       .summary = "Make the next version without the confirmed removals (data owners who may "
                  "update the dataset); the curated version stays as it was",
       .response_schema = sc::ref("DatasetVersion"),
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_RETURN_IF_ERROR(ctx.allow("dataset", "update"));
         JZ_ASSIGN_OR_RETURN(auto c, curation_in(s, ctx));
         JZ_ASSIGN_OR_RETURN(auto* curations, curations_of(s));
         JZ_ASSIGN_OR_RETURN(auto v, curations->apply(ctx.project->id, c.id, ctx.me().username));
         ctx.audit.name = c.id;
         return Reply::created(version_json(v));
       }},
  });
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
       .summary = "Delete a version; the files no other version holds go with it (not while "
                  "an open labelling task labels it)",
       .errors = {409},
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
       .summary = "A version's files by path (data owners), filtered by split, tag, prefix, "
                  "quality (?quality=poor|fine: what the checks measured) or duplicate group "
                  "(?duplicates=true: in a group the newest check of this version found); each "
                  "with its measures and group",
       .response_schema = sc::list_of("VersionFile"),
       .paging = Paging::kKeyset,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* versions, versions_of(s));
         JZ_ASSIGN_OR_RETURN(int64_t n, version_param(ctx));
         JZ_ASSIGN_OR_RETURN(auto ver, versions->get(ctx.project->id, ctx.param("dataset"), n));
         const std::string quality = ctx.http.param("quality");
         const std::string dups = ctx.http.param("duplicates");
         if (!quality.empty() && quality != "poor" && quality != "fine") {
           return Status::invalid_argument("quality must be poor or fine");
         }
         if (!dups.empty() && dups != "true" && dups != "false") {
           return Status::invalid_argument("duplicates must be true or false");
         }
         // What the checks measured, and the duplicate groups (when this server runs them).
         std::map<std::string, datasets::ImageFacts> facts;
         std::map<std::string, std::string> groups;
         if (s.platform.curations) {
           JZ_ASSIGN_OR_RETURN(groups, s.platform.curations->duplicate_groups(
                                           ctx.project->id, ctx.param("dataset"), n));
           if (!quality.empty()) {
             JZ_ASSIGN_OR_RETURN(auto all, versions->files(ver, {.limit = SIZE_MAX}));
             std::set<std::string> shas;
             for (const auto& f : all) shas.insert(f.sha256);
             JZ_ASSIGN_OR_RETURN(facts, s.platform.curations->facts(ctx.project->id, shas));
           }
         }
         const auto spec = ctx.page_spec();
         datasets::FileFilter f{.split = ctx.http.param("split"),
                                .tag = ctx.http.param("tag"),
                                .prefix = ctx.http.param("prefix"),
                                .after = spec.after,
                                .limit = static_cast<size_t>(spec.limit) + 1};
         if (!quality.empty() || dups == "true") {
           f.keep = [&](const datasets::VersionFile& file) {
             if (dups == "true" && !groups.count(file.path)) return false;
             if (quality.empty()) return true;
             auto m = facts.find(file.sha256);
             if (m == facts.end()) return false;  // never checked: neither poor nor fine
             return (quality == "poor") == !m->second.problems.empty();
           };
         }
         JZ_ASSIGN_OR_RETURN(auto files, versions->files(ver, f));
         std::string next;
         if (files.size() > static_cast<size_t>(spec.limit)) {
           files.resize(static_cast<size_t>(spec.limit));
           next = files.back().path;
         }
         if (quality.empty() && s.platform.curations) {  // the page's measures only
           std::set<std::string> shas;
           for (const auto& file : files) shas.insert(file.sha256);
           JZ_ASSIGN_OR_RETURN(facts, s.platform.curations->facts(ctx.project->id, shas));
         }
         Json items = Json::array();
         for (const auto& file : files) {
           Json j = file.to_json();
           auto m = facts.find(file.sha256);
           j["quality"] = m == facts.end() ? Json(nullptr) : m->second.to_json();
           auto g = groups.find(file.path);
           j["duplicate_of"] =
               g == groups.end() || g->second == file.path ? Json(nullptr) : Json(g->second);
           j["in_group"] = g != groups.end();
           items.push_back(std::move(j));
         }
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
         return data_file_reply(std::move(data), ctx.param("path"));
       }},
  });
}

}  // namespace jz::api
