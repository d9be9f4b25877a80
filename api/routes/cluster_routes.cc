// The cluster registry: this machine and the Kubernetes clusters jobs run on
// (platform/clusters/registry.h). Everyone signed in sees them without credentials;
// platform admins register, change and remove them.
#include "api/schema.h"
#include "api/services.h"
#include "platform/clusters/registry.h"

namespace jz::api {

namespace sc = schema;

namespace {

Result<clusters::ClusterRegistry*> registry_of(const ApiServices& s) {
  if (!s.platform.clusters) {
    return Status::failed_precondition("this server runs no jobs (jobs.enabled=false)");
  }
  return s.platform.clusters;
}

}  // namespace

void add_cluster_routes(ApiRoutes& api, const ApiServices& s) {
  const Json volume = sc::object({{"server_path", sc::str("A folder of the server")},
                                  {"claim", sc::str("A PVC holding it in each project namespace")},
                                  {"host_path", sc::str("Or the same folder on every node")}},
                                 {"server_path"});
  const Json body = sc::object(
      {{"name", sc::str("Lower-case letters, digits and '-'")},
       {"region", sc::str()},
       {"kubeconfig", sc::str("A kubeconfig's YAML text (token or client certificate)")},
       {"in_cluster",
        sc::boolean("Use the server's own service account (it runs in that cluster)")},
       {"context", sc::str("The kubeconfig context (default: its current-context)")},
       {"enabled", sc::boolean("false: it takes no new job")},
       {"force", sc::boolean("Register it even if it does not answer now")},
       {"namespace_prefix", sc::str("A project's namespace: prefix + project (default jizhan-)")},
       {"image", sc::str("The image of jobs that name none")},
       {"pool", sc::str("The scheduler's pool of its nodes")},
       {"node_selector", sc::str("A label selector: which nodes are the platform's")},
       {"volumes", sc::array_of(volume)},
       {"output_claim", sc::str("A PVC for jobs' /output (default: released with the pod)")},
       {"runtime_class", sc::str()},
       {"image_pull_secrets", sc::array_of(sc::str())},
       {"priority_class", sc::str()}});
  api.add({
      {.method = "GET",
       .path = "/api/v1/clusters",
       .scope = Scope::kCaller,
       .summary = "This machine and the Kubernetes clusters jobs run on: state, nodes, GPUs "
                  "(never credentials)",
       .response_schema = sc::list_of("Cluster"),
       .handler = [&s](RequestContext&) -> Result<Reply> {
         if (!s.platform.clusters) return Reply::page(Json::array(), "");
         return Reply::json(s.platform.clusters->list());
       }},
      {.method = "POST",
       .path = "/api/v1/clusters",
       .scope = Scope::kPlatformAdmin,
       .summary = "Register a Kubernetes cluster (connects first: an unreachable one is refused "
                  "unless force)",
       .body_schema = body,
       .response_schema = sc::ref("Cluster"),
       .errors = {409, 422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* r, registry_of(s));
         JZ_ASSIGN_OR_RETURN(Json c, r->add(ctx.body, ctx.me().username));
         ctx.audit.name = json::string_or(c, "name");
         return Reply::created(std::move(c));
       }},
      {.method = "GET",
       .path = "/api/v1/clusters/{cluster}",
       .scope = Scope::kCaller,
       .summary = "A cluster",
       .response_schema = sc::ref("Cluster"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* r, registry_of(s));
         JZ_ASSIGN_OR_RETURN(Json c, r->get(ctx.param("cluster")));
         return Reply::json(std::move(c));
       }},
      {.method = "PATCH",
       .path = "/api/v1/clusters/{cluster}",
       .scope = Scope::kPlatformAdmin,
       .summary = "Change a cluster's credentials or settings, or disable it",
       .body_schema = body,
       .response_schema = sc::ref("Cluster"),
       .errors = {422},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* r, registry_of(s));
         if (ctx.param("cluster") == "local") {
           return Status::invalid_argument("this machine is not a registered cluster");
         }
         JZ_ASSIGN_OR_RETURN(Json c, r->update(ctx.param("cluster"), ctx.body));
         return Reply::json(std::move(c));
       }},
      {.method = "DELETE",
       .path = "/api/v1/clusters/{cluster}",
       .scope = Scope::kPlatformAdmin,
       .summary = "Remove a cluster (refused while jobs of the platform run there)",
       .errors = {409},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(auto* r, registry_of(s));
         JZ_RETURN_IF_ERROR(r->remove(ctx.param("cluster")));
         return Reply::no_content();
       }},
  });
}

}  // namespace jz::api
