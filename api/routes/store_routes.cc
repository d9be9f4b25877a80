// The algorithm store (platform/algostore/store.h, docs/STORE.md): sellers' listings,
// versions, orders and codes in their project; the store front every signed-in user
// browses (what each listing's visibility lets them see); and the activation service,
// whose callers are customers' machines holding a code, not accounts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/schema.h"
#include "api/services.h"
#include "http/file_stream.h"
#include "platform/algostore/store.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<algostore::AlgorithmStore*> store_of(const ApiServices& s) {
  if (!s.platform.algostore) {
    return Status::failed_precondition(
        "this server keeps no algorithm store (it runs no automatic tests)");
  }
  return s.platform.algostore;
}

// Whether the caller may see the listing in the store front: public ones, and those of a
// workspace the caller belongs to (as a member of it or of one of its projects): the
// seller's own, or one named as a customer.
bool visible_to(const ApiServices& s, const iam::Principal& me, const algostore::Listing& l) {
  if (l.visibility == "public" || me.is_platform_admin()) return true;
  auto belongs = [&](const iam::Workspace& ws) {
    auto role = s.tenancy.role_of("workspace", ws.id, me.user_id);
    if (role.ok() && !role->empty()) return true;
    auto projects = s.tenancy.projects(me, ws.name, {.after = "", .limit = 1});
    return projects.ok() && !projects->items.empty();
  };
  if (auto own = s.tenancy.workspace_by_id(l.workspace_id); own.ok() && belongs(*own)) return true;
  if (l.visibility != "customers") return false;
  for (const auto& name : l.customers) {
    auto ws = s.tenancy.workspace(name);
    if (ws.ok() && belongs(*ws)) return true;
  }
  return false;
}

}  // namespace

void add_store_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string pr = "/api/v1/projects/{project}";
  const Json tier = sc::object({{"name", sc::str()},
                                {"channels", sc::integer("Video channels at once; 0: unlimited")},
                                {"qps", sc::number("Frames a second over all; 0: unlimited")},
                                {"term_days", sc::integer("How long an order lasts (default 365)")},
                                {"price", sc::str("As the seller writes it")}},
                               {"name"});
  const Json listing_body =
      sc::object({{"title", sc::str()},
                  {"description", sc::str("Markdown")},
                  {"details",
                   {{"type", "object"},
                    {"description", "{inputs: [...], hardware: {gpu_memory_mib, fps}, tags}"}}},
                  {"tiers", sc::array_of(tier)},
                  {"visibility", sc::one_of_strings({"public", "workspace", "customers"})},
                  {"customers", sc::array_of(sc::str("A customer's workspace"))}});
  api.add({
      // ---- the publisher key
      {.method = "GET",
       .path = pr + "/store/publisher",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "get",
       .summary = "The project's publisher key (public half): its packages and licences carry it",
       .response_schema = Json{{"type", "object"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(Json k, st->publisher(ctx.project->id));
         return Reply::json(std::move(k));
       }},
      {.method = "PUT",
       .path = pr + "/store/publisher",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "update",
       .summary = "Set the publisher key that signs the project's licences (a signing key "
                  "file's JSON; none: a new key, shown once)",
       .body_schema = sc::object({{"signing_key", {{"type", "object"}}}}),
       .response_schema = Json{{"type", "object"}},
       .success = 200,
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         const std::string key =
             ctx.body.contains("signing_key") ? ctx.body["signing_key"].dump() : std::string();
         JZ_ASSIGN_OR_RETURN(Json k, st->set_publisher(ctx.project->id, key, ctx.me().username));
         return Reply::json(std::move(k));
       }},
      // ---- listings
      {.method = "GET",
       .path = pr + "/listings",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "list",
       .summary = "The project's store listings, whatever their visibility",
       .response_schema = sc::list_of("Listing"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.algostore) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(auto ls, s.platform.algostore->listings(ctx.project->id));
         Json items = Json::array();
         for (const auto& l : ls) items.push_back(l.to_json());
         return Reply::page(std::move(items), "");
       }},
      {.method = "PUT",
       .path = pr + "/listings/{algorithm}",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "update",
       .summary = "Create or change the listing of one of the project's algorithms",
       .body_schema = listing_body,
       .response_schema = sc::ref("Listing"),
       .success = 200,
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(
             auto l, st->put_listing(ctx.project->id, ctx.project->name, ctx.project->workspace_id,
                                     ctx.param("algorithm"), ctx.body, ctx.me().username));
         return Reply::json(l.to_json());
       }},
      {.method = "GET",
       .path = pr + "/listings/{algorithm}",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "get",
       .summary = "A listing with its versions and their reports",
       .response_schema = sc::ref("Listing"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(auto l, st->listing(ctx.project->id, ctx.param("algorithm")));
         return Reply::json(l.to_json());
       }},
      {.method = "DELETE",
       .path = pr + "/listings/{algorithm}",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "delete",
       .summary = "Remove a listing (refused once it has orders)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_RETURN_IF_ERROR(st->delete_listing(ctx.project->id, ctx.param("algorithm")));
         return Reply::no_content();
       }},
      {.method = "POST",
       .path = pr + "/listings/{algorithm}/versions",
       .scope = Scope::kProject,
       .resource = "listing",
       .verb = "update",
       .summary = "List a version: an uploaded package that passed its checks, signed by the "
                  "publisher key, with the evaluations it passed",
       .body_schema = sc::object({{"version", sc::str()},
                                  {"evaluations", sc::array_of(sc::str("An evaluation id"))},
                                  {"notes", sc::str("Release notes")}},
                                 {"version"}),
       .response_schema = sc::ref("Listing"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(auto l, st->add_version(ctx.project->id, ctx.param("algorithm"),
                                                     ctx.body, ctx.me().username));
         ctx.audit.name = ctx.param("algorithm") + "@" + json::string_or(ctx.body, "version");
         return Reply::created(l.to_json());
       }},
      // ---- orders and codes
      {.method = "GET",
       .path = pr + "/orders",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "list",
       .summary = "The project's orders with their codes (?listing=NAME narrows them)",
       .response_schema = sc::list_of("Order"),
       .query = {{"listing", "One listing's"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.algostore) return Reply::page(Json::array(), "");
         JZ_ASSIGN_OR_RETURN(
             auto os, s.platform.algostore->orders(ctx.project->id, ctx.http.param("listing")));
         Json items = Json::array();
         for (const auto& o : os) items.push_back(o.to_json());
         return Reply::page(std::move(items), "");
       }},
      {.method = "POST",
       .path = pr + "/orders",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "create",
       .summary = "Sell a tier: activation codes for `seats` machines (a code per seat, or one "
                  "code for all: codes_per=order)",
       .body_schema = sc::object({{"listing", sc::str("The algorithm's name")},
                                  {"tier", sc::str()},
                                  {"customer", sc::str()},
                                  {"seats", sc::integer()},
                                  {"codes_per", sc::one_of_strings({"seat", "order"})}},
                                 {"listing", "tier", "customer", "seats"}),
       .response_schema = sc::ref("Order"),
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         Json body = ctx.body;
         const std::string listing = json::string_or(body, "listing");
         body.erase("listing");
         JZ_ASSIGN_OR_RETURN(auto o,
                             st->create_order(ctx.project->id, listing, body, ctx.me().username));
         ctx.audit.name = o.id;
         return Reply::created(o.to_json());
       }},
      {.method = "GET",
       .path = pr + "/orders/{order}",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "get",
       .summary = "An order with its codes, their seats used and states",
       .response_schema = sc::ref("Order"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(auto o, st->order(ctx.project->id, ctx.param("order")));
         return Reply::json(o.to_json());
       }},
      {.method = "POST",
       .path = pr + "/codes/{activation_code}/revoke",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "update",
       .summary = "Revoke an activation code: no activation or licence renewal from now on",
       .body_schema = sc::object({{"reason", sc::str("Shown to the customer's client")}}),
       .success = 204,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_RETURN_IF_ERROR(st->revoke_code(ctx.project->id, ctx.param("activation_code"),
                                            json::string_or(ctx.body, "reason"),
                                            ctx.me().username));
         return Reply::no_content();
       }},
      {.method = "GET",
       .path = pr + "/codes/{activation_code}/activations",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "get",
       .summary = "The machines a code activated, with their licences and usage",
       .response_schema = sc::array_of(Json{{"type", "object"}}),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(Json a,
                             st->activations(ctx.project->id, ctx.param("activation_code")));
         return Reply::json(std::move(a));
       }},
      {.method = "POST",
       .path = pr + "/store/offline-activations",
       .scope = Scope::kProject,
       .resource = "order",
       .verb = "create",
       .summary = "Answer a customer's offline activation request (the file `jizhan client "
                  "activate --offline` wrote) with a licence",
       .body_schema = sc::object({{"request", sc::str("The request file's text")}}, {"request"}),
       .response_schema = sc::ref("Activation"),
       .success = 200,
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(auto a, st->offline_licence(ctx.project->id, ctx.body["request"]));
         ctx.audit.name = a.licence.id;
         return Reply::json(a.to_json());
       }},
      // ---- the store front
      {.method = "GET",
       .path = "/api/v1/store/listings",
       .scope = Scope::kCaller,
       .summary = "The store front: the listings you may see that have a version (?q= searches "
                  "names, titles, descriptions and tags; ?tag= one tag)",
       .response_schema = sc::list_of("Listing"),
       .query = {{"q", "Words to find"}, {"tag", "A tag"}},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (!s.platform.algostore) return Reply::page(Json::array(), "");
         const iam::Principal& me = ctx.me();
         JZ_ASSIGN_OR_RETURN(auto ls,
                             s.platform.algostore->store_front(
                                 [&](const algostore::Listing& l) { return visible_to(s, me, l); },
                                 ctx.http.param("q"), ctx.http.param("tag")));
         Json items = Json::array();
         for (const auto& l : ls) items.push_back(l.to_json());
         return Reply::page(std::move(items), "");
       }},
      {.method = "GET",
       .path = "/api/v1/store/listings/{project}/{algorithm}",
       .scope = Scope::kCaller,
       .summary = "A listing of the store front",
       .response_schema = sc::ref("Listing"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         const std::string missing =
             "no listing " + ctx.param("project") + "/" + ctx.param("algorithm") + " you can see";
         auto p = s.tenancy.project(ctx.param("project"));
         if (!p.ok()) return Status::not_found(missing);
         auto l = st->listing(p->id, ctx.param("algorithm"));
         // Hidden and missing look alike: the store front does not confirm a name exists.
         if (!l.ok() || !visible_to(s, ctx.me(), *l)) return Status::not_found(missing);
         // What the caller may do with it, so a customer's page asks nothing it may not.
         Json out = l->to_json();
         out["yours"] = {
             {"sell", s.authorizer.check(ctx.me(), "order", "create", p->workspace_id, &*p).ok()},
             {"manage",
              s.authorizer.check(ctx.me(), "listing", "update", p->workspace_id, &*p).ok()}};
         return Reply::json(std::move(out));
       }},
      // ---- the activation service (customers' machines: the code is the credential)
      {.method = "POST",
       .path = "/api/v1/activate",
       .scope = Scope::kPublic,
       .summary = "Exchange an activation code and a machine fingerprint for a licence bound "
                  "to that machine and the package's download (again on the same machine: "
                  "a renewal)",
       .body_schema = sc::object({{"code", sc::str("XXXX-XXXX-XXXX-XXXX")},
                                  {"fingerprint", sc::str("`jizhan client fingerprint`")}},
                                 {"code", "fingerprint"}),
       .response_schema = sc::ref("Activation"),
       .success = 200,
       .errors = {401, 403, 409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         ctx.audit.verb = "activate";
         ctx.audit.type = "licence";
         ctx.audit.actor = "machine " + json::string_or(ctx.body, "fingerprint").substr(0, 64);
         JZ_ASSIGN_OR_RETURN(auto a, st->activate(ctx.body["code"], ctx.body["fingerprint"]));
         ctx.audit.name = a.licence.id;
         return Reply::json(a.to_json());
       }},
      {.method = "GET",
       .path = "/api/v1/store/downloads/{download}",
       .scope = Scope::kPublic,
       .summary = "Download the package an activation answered with (its link lasts an hour)",
       .errors = {401, 409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         JZ_ASSIGN_OR_RETURN(std::string path, st->download_path(ctx.param("download")));
         const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
         struct stat sb {};
         if (fd < 0 || ::fstat(fd, &sb) != 0) {
           if (fd >= 0) ::close(fd);
           return Status::not_found("the package is no longer kept: ask the seller");
         }
         Reply r = Reply::streamed(std::make_shared<http::FileStream>(fd, 0, sb.st_size),
                                   "application/octet-stream");
         r.headers.set("Content-Disposition", "attachment; filename=\"package.jzpkg\"");
         return r;
       }},
      {.method = "POST",
       .path = "/api/v1/store/usage",
       .scope = Scope::kPublic,
       .summary = "A customer's client reports usage (frames, channels) of an activation",
       .body_schema = sc::object(
           {{"code", sc::str()},
            {"fingerprint", sc::str()},
            {"licence", sc::str("The licence id")},
            {"reports", sc::array_of(sc::object({{"id", sc::str("The client's id of the report")},
                                                 {"from", sc::str()},
                                                 {"to", sc::str()},
                                                 {"frames", sc::integer()},
                                                 {"channels", sc::integer()},
                                                 {"algorithm", sc::str()}}))}},
           {"code", "fingerprint", "licence", "reports"}),
       .response_schema = sc::object({{"stored", sc::integer("New reports kept")}}),
       .success = 200,
       .errors = {401, 403},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* st, store_of(s));
         ctx.audit.type = "usage";
         JZ_ASSIGN_OR_RETURN(int64_t n, st->report_usage(ctx.body));
         return Reply::json({{"stored", n}});
       }},
  });
}

}  // namespace jz::api
