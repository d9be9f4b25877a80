// Alerts: built-in rules and their settings, receivers (channels) and the delivery
// history, of a project (project admins change them; its members read them), of a
// workspace (its admins; its viewers read) and of the platform (platform admins). A
// receiver's secret is written, never read back.
#include "api/schema.h"
#include "api/services.h"
#include "platform/alerts/alerts.h"

namespace jz::api {

namespace sc = schema;

namespace {

struct Where {
  std::string base;  // the path prefix
  Scope scope;
  const char* name;  // "project" | "workspace" | "platform" | "user"
};

std::string scope_id(const RequestContext& ctx, const Where& w) {
  if (w.scope == Scope::kProject) return ctx.project->id;
  if (w.scope == Scope::kWorkspace) return ctx.workspace->id;
  if (w.scope == Scope::kCaller) return ctx.me().user_id;
  return "";
}

Status unavailable() {
  return Status::unavailable("alerts are not running on this server (see the server's log)");
}

// Receivers and their delivery history: of a project, a workspace, the platform, or the
// caller (their own, for the alerts of their own jobs).
void add_receivers(ApiRoutes& api, const ApiServices& s, const Where& w) {
  alerts::AlertService* a = s.platform.alerts;
  const std::string of = w.scope == Scope::kProject     ? "the project's"
                         : w.scope == Scope::kWorkspace ? "the workspace's"
                         : w.scope == Scope::kCaller    ? "your own"
                                                        : "the platform's";
  auto route = [&](Route r) {
    r.scope = w.scope;
    if (w.scope == Scope::kProject || w.scope == Scope::kWorkspace) r.resource = "alert";
    return r;
  };
  api.add({
      route({.method = "GET",
             .path = w.base + "/receivers",
             .verb = "list",
             .summary = std::string("The receivers of ") + of + " notifications, by name",
             .response_schema = sc::list_of("Receiver"),
             .paging = Paging::kKeyset,
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return Reply::page(Json::array(), "");  // alerts off: none
               JZ_ASSIGN_OR_RETURN(auto page, a->receivers(w.name, scope_id(ctx, w),
                                                           {ctx.page.after, ctx.page.size}));
               return Reply::page(page, [](const alerts::Receiver& r) { return r.to_json(); });
             }}),
      route({.method = "POST",
             .path = w.base + "/receivers",
             .verb = "update",
             .summary = "Add a receiver: a channel (webhook, slack, dingtalk, wecom, feishu, "
                        "email) and what it takes",
             .body_schema = sc::ref("ReceiverCreate"),
             .response_schema = sc::ref("Receiver"),
             .errors = {409},
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r, a->create_receiver(w.name, scope_id(ctx, w), ctx.body,
                                                              ctx.me().username));
               return Reply::created(r.to_json());
             }}),
      route({.method = "GET",
             .path = w.base + "/receivers/{receiver}",
             .verb = "list",
             .summary = "One receiver (its secret is never shown)",
             .response_schema = sc::ref("Receiver"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r,
                                   a->receiver(w.name, scope_id(ctx, w), ctx.param("receiver")));
               return Reply::json(r.to_json());
             }}),
      route({.method = "PATCH",
             .path = w.base + "/receivers/{receiver}",
             .verb = "update",
             .summary = "Change a receiver's configuration, secret, filters or rate",
             .body_schema = sc::ref("ReceiverPatch"),
             .response_schema = sc::ref("Receiver"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r, a->update_receiver(w.name, scope_id(ctx, w),
                                                              ctx.param("receiver"), ctx.body));
               return Reply::json(r.to_json());
             }}),
      route({.method = "DELETE",
             .path = w.base + "/receivers/{receiver}",
             .verb = "update",
             .summary = "Remove a receiver (what it still had to send is cancelled)",
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_RETURN_IF_ERROR(
                   a->delete_receiver(w.name, scope_id(ctx, w), ctx.param("receiver")));
               return Reply::no_content();
             }}),
      route({.method = "POST",
             .path = w.base + "/receivers/{receiver}/test",
             .verb = "update",
             .summary = "Send a test message now and answer what the receiver said",
             .response_schema = sc::ref("ReceiverTest"),
             .success = 200,
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto answer,
                                   a->test_receiver(w.name, scope_id(ctx, w), ctx.param("receiver"),
                                                    ctx.me().username));
               return Reply::json(
                   {{"ok", answer.ok}, {"code", answer.code}, {"detail", answer.detail}});
             }}),
      route({.method = "GET",
             .path = w.base + "/notifications",
             .verb = "list",
             .summary = std::string("Delivery history of ") + of +
                        " receivers, newest first: state, attempts and the last answer",
             .response_schema = sc::list_of("Notification"),
             .paging = Paging::kKeyset,
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return Reply::page(Json::array(), "");  // alerts off: none
               JZ_ASSIGN_OR_RETURN(auto page, a->notifications(w.name, scope_id(ctx, w),
                                                               {ctx.page.after, ctx.page.size}));
               return Reply::page(page, [](const alerts::Notification& n) { return n.to_json(); });
             }}),
  });
}

void add_for(ApiRoutes& api, const ApiServices& s, const Where& w) {
  alerts::AlertService* a = s.platform.alerts;
  const std::string of = w.scope == Scope::kProject     ? "the project's"
                         : w.scope == Scope::kWorkspace ? "the workspace's"
                                                        : "the platform's";
  auto route = [&](Route r) {
    r.scope = w.scope;
    if (w.scope != Scope::kPlatformAdmin) r.resource = "alert";
    return r;
  };
  add_receivers(api, s, w);
  api.add({
      route({.method = "GET",
             .path = w.base + "/alert-rules",
             .verb = "list",
             .summary = "The built-in alert rules as " + of + " settings make them",
             .response_schema = sc::array_of(sc::ref("AlertRule")),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto rules, a->rules(w.name, scope_id(ctx, w)));
               Json out = Json::array();
               for (const auto& r : rules) out.push_back(r.to_json());
               return Reply::json(out);
             }}),
      route({.method = "PATCH",
             .path = w.base + "/alert-rules/{rule}",
             .verb = "update",
             .summary = "Turn a rule on or off or change its severity here (reset: back to the "
                        "next scope's setting)",
             .body_schema = sc::ref("AlertRulePatch"),
             .response_schema = sc::ref("AlertRule"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r, a->set_rule(w.name, scope_id(ctx, w), ctx.param("rule"),
                                                       ctx.body, ctx.me().username));
               return Reply::json(r.to_json());
             }}),
      route({.method = "GET",
             .path = w.base + "/custom-rules",
             .verb = "list",
             .summary = "Custom rules (PromQL subset) of this scope",
             .response_schema = sc::array_of(sc::ref("CustomRule")),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto rules, a->custom_rules(w.name, scope_id(ctx, w)));
               Json out = Json::array();
               for (const auto& r : rules) out.push_back(r.to_json());
               return Reply::json(out);
             }}),
      route({.method = "POST",
             .path = w.base + "/custom-rules",
             .verb = "update",
             .summary = "Add a custom rule: an expression, how long it must hold (for), "
                        "severity, labels and annotations",
             .body_schema = sc::ref("CustomRuleCreate"),
             .response_schema = sc::ref("CustomRule"),
             .errors = {409},
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r, a->create_custom_rule(w.name, scope_id(ctx, w), ctx.body,
                                                                 ctx.me().username));
               return Reply::created(r.to_json());
             }}),
      route({.method = "GET",
             .path = w.base + "/custom-rules/{custom}",
             .verb = "list",
             .summary = "One custom rule",
             .response_schema = sc::ref("CustomRule"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r,
                                   a->custom_rule(w.name, scope_id(ctx, w), ctx.param("custom")));
               return Reply::json(r.to_json());
             }}),
      route({.method = "PATCH",
             .path = w.base + "/custom-rules/{custom}",
             .verb = "update",
             .summary = "Change a custom rule (its pending alerts start over)",
             .body_schema = sc::ref("CustomRulePatch"),
             .response_schema = sc::ref("CustomRule"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto r, a->update_custom_rule(w.name, scope_id(ctx, w),
                                                                 ctx.param("custom"), ctx.body));
               return Reply::json(r.to_json());
             }}),
      route({.method = "DELETE",
             .path = w.base + "/custom-rules/{custom}",
             .verb = "update",
             .summary = "Remove a custom rule (its alerts end without a resolved message)",
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_RETURN_IF_ERROR(
                   a->delete_custom_rule(w.name, scope_id(ctx, w), ctx.param("custom")));
               return Reply::no_content();
             }}),
      route({.method = "POST",
             .path = w.base + "/alert-preview",
             .verb = "list",
             .summary = "What an expression gives now in this scope: what a rule would fire "
                        "(its for aside)",
             .body_schema = sc::ref("AlertPreviewRequest"),
             .response_schema = sc::ref("AlertPreview"),
             .success = 200,
             .errors = {503},
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto samples, a->preview(w.name, scope_id(ctx, w),
                                                            ctx.body.value("expr", std::string())));
               Json out = Json::array();
               for (const auto& x : samples) {
                 Json labels = Json::object();
                 for (const auto& [k, v] : x.labels) labels[k] = v;
                 out.push_back({{"labels", labels}, {"value", x.value}});
               }
               return Reply::json({{"samples", out}});
             }}),
      route({.method = "GET",
             .path = w.base + "/alerts",
             .verb = "list",
             .summary = "Alerts of custom rules now: pending (not yet held for their for) or "
                        "firing",
             .response_schema = sc::array_of(sc::ref("ActiveAlert")),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return Reply::json(Json::array());
               JZ_ASSIGN_OR_RETURN(auto alerts, a->active(w.name, scope_id(ctx, w)));
               Json out = Json::array();
               for (const auto& x : alerts) out.push_back(x.to_json());
               return Reply::json(out);
             }}),
      route({.method = "GET",
             .path = w.base + "/prometheus-rules",
             .verb = "list",
             .summary = "This scope's rules as a Prometheus rule file (YAML; promtool check "
                        "rules passes): custom rules scoped as here, built-in ones over "
                        "jizhan_alert_events_total",
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto text, a->export_rules(w.name, scope_id(ctx, w)));
               return Reply::text(std::move(text), "application/yaml; charset=utf-8");
             }}),
      route({.method = "GET",
             .path = w.base + "/silences",
             .verb = "list",
             .summary = "Silences that have not ended (and those ended in the last day)",
             .response_schema = sc::array_of(sc::ref("Silence")),
             .handler = [a, w, &s](RequestContext& ctx) -> Result<Reply> {
               if (!a) return Reply::json(Json::array());
               JZ_ASSIGN_OR_RETURN(auto list, a->silences(w.name, scope_id(ctx, w)));
               Json out = Json::array();
               for (const auto& x : list) out.push_back(x.to_json(s.clock.now_unix_ms()));
               return Reply::json(out);
             }}),
      route({.method = "POST",
             .path = w.base + "/silences",
             .verb = "update",
             .summary = "Silence alerts whose labels match, for a while (with why)",
             .body_schema = sc::ref("SilenceCreate"),
             .response_schema = sc::ref("Silence"),
             .handler = [a, w, &s](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto x, a->create_silence(w.name, scope_id(ctx, w), ctx.body,
                                                             ctx.me().username));
               return Reply::created(x.to_json(s.clock.now_unix_ms()));
             }}),
      route({.method = "DELETE",
             .path = w.base + "/silences/{silence}",
             .verb = "update",
             .summary = "End a silence now",
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_RETURN_IF_ERROR(
                   a->expire_silence(w.name, scope_id(ctx, w), ctx.param("silence")));
               return Reply::no_content();
             }}),
      route({.method = "GET",
             .path = w.base + "/inhibitions",
             .verb = "list",
             .summary = "Inhibition rules: while a source alert fires, targets sharing its "
                        "`equal` labels are held back",
             .response_schema = sc::array_of(sc::ref("Inhibition")),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return Reply::json(Json::array());
               JZ_ASSIGN_OR_RETURN(auto list, a->inhibitions(w.name, scope_id(ctx, w)));
               Json out = Json::array();
               for (const auto& x : list) out.push_back(x.to_json());
               return Reply::json(out);
             }}),
      route({.method = "POST",
             .path = w.base + "/inhibitions",
             .verb = "update",
             .summary = "Add an inhibition rule (source, target, equal, why)",
             .body_schema = sc::ref("InhibitionCreate"),
             .response_schema = sc::ref("Inhibition"),
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_ASSIGN_OR_RETURN(auto x, a->create_inhibition(w.name, scope_id(ctx, w), ctx.body,
                                                                ctx.me().username));
               return Reply::created(x.to_json());
             }}),
      route({.method = "DELETE",
             .path = w.base + "/inhibitions/{inhibition}",
             .verb = "update",
             .summary = "Remove an inhibition rule",
             .handler = [a, w](RequestContext& ctx) -> Result<Reply> {
               if (!a) return unavailable();
               JZ_RETURN_IF_ERROR(
                   a->delete_inhibition(w.name, scope_id(ctx, w), ctx.param("inhibition")));
               return Reply::no_content();
             }}),
  });
}

// Alerts from Prometheus or Alertmanager: each goes to the project its `project` label
// names (the caller needs alert:update there) or, without one, to the platform (platform
// admins only). All are checked before any is taken.
Result<Reply> take_alerts(const ApiServices& s, RequestContext& ctx, const Json& alerts) {
  alerts::AlertService* a = s.platform.alerts;
  if (!a) return unavailable();
  if (!alerts.is_array() || alerts.size() > 1000) {
    return Status::invalid_argument("alerts: a list of at most 1000 alerts");
  }
  std::vector<std::pair<std::string, std::string>> scopes;  // scope, scope id
  std::map<std::string, std::string> allowed_projects;      // name -> id ("": refused)
  for (size_t i = 0; i < alerts.size(); ++i) {
    Status ok = alerts::AlertService::check_incoming(alerts[i]);
    if (!ok.ok()) return ok.with_context("alerts[" + std::to_string(i) + "]");
    const std::string project = alerts[i]["labels"].value("project", "");
    if (project.empty()) {
      if (!ctx.me().is_platform_admin()) {
        return Status::permission_denied(
            "alerts[" + std::to_string(i) +
            "]: an alert without a project label is the platform's: platform admins only");
      }
      scopes.push_back({"platform", ""});
      continue;
    }
    auto cached = allowed_projects.find(project);
    if (cached == allowed_projects.end()) {
      auto p = s.tenancy.project(project);
      Status ok = p.ok() ? s.authorizer.check(ctx.me(), "alert", "update", p->workspace_id, &*p)
                         : Status::permission_denied("");
      cached = allowed_projects.emplace(project, ok.ok() ? p->id : "").first;
    }
    const Status allowed =
        cached->second.empty() ? Status::permission_denied("") : Status::ok_status();
    if (!allowed.ok()) {
      // A project one may not see reads as one that does not exist.
      return Status::permission_denied("alerts[" + std::to_string(i) + "]: project '" + project +
                                       "': no such project, or alert:update is not yours there");
    }
    scopes.push_back({"project", cached->second});
  }
  JZ_RETURN_IF_ERROR(a->ingest_all(scopes, std::vector<Json>(alerts.begin(), alerts.end())));
  return Reply::json({{"accepted", alerts.size()}});
}

}  // namespace

void add_alert_routes(ApiRoutes& api, const ApiServices& s) {
  add_for(api, s, {"/api/v1/projects/{project}", Scope::kProject, "project"});
  add_for(api, s, {"/api/v1/workspaces/{workspace}", Scope::kWorkspace, "workspace"});
  add_for(api, s, {"/api/v1/alerting", Scope::kPlatformAdmin, "platform"});
  // The caller's own: receivers, the bell (the alerts of their own jobs) and the rules they
  // follow for their jobs. Nobody reaches another user's.
  add_receivers(api, s, {"/api/v1/me", Scope::kCaller, "user"});
  alerts::AlertService* a = s.platform.alerts;
  api.add({
      {.method = "GET",
       .path = "/api/v1/me/inbox",
       .scope = Scope::kCaller,
       .summary = "Your notifications: the alerts of the rules you follow about your own jobs, "
                  "newest first",
       .response_schema = sc::list_of("InboxItem"),
       .paging = Paging::kKeyset,
       .query = {{"unread", "true: only those not yet read"}},
       .handler = [a](RequestContext& ctx) -> Result<Reply> {
         if (!a) return Reply::page(Json::array(), "");
         const bool unread = ctx.http.has_param("unread") && ctx.http.param("unread") == "true";
         JZ_ASSIGN_OR_RETURN(auto page,
                             a->inbox(ctx.me().user_id, {ctx.page.after, ctx.page.size}, unread));
         return Reply::page(page, [](const alerts::InboxItem& i) { return i.to_json(); });
       }},
      {.method = "GET",
       .path = "/api/v1/me/inbox/unread",
       .scope = Scope::kCaller,
       .summary = "How many of your notifications are not read (the console's bell)",
       .response_schema = sc::object({{"unread", sc::integer()}}, {"unread"}),
       .handler = [a](RequestContext& ctx) -> Result<Reply> {
         if (!a) return Reply::json({{"unread", 0}});
         JZ_ASSIGN_OR_RETURN(const int64_t n, a->unread(ctx.me().user_id));
         return Reply::json({{"unread", n}});
       }},
      {.method = "POST",
       .path = "/api/v1/me/inbox/read",
       .scope = Scope::kCaller,
       .summary = "Mark your notifications read: these ids, or all",
       .body_schema = sc::object({{"ids", sc::array_of(sc::str())}, {"all", sc::boolean()}}),
       .response_schema = sc::object({{"marked", sc::integer()}}, {"marked"}),
       .success = 200,
       .handler = [a](RequestContext& ctx) -> Result<Reply> {
         if (!a) return unavailable();
         std::vector<std::string> ids;
         for (const auto& x : ctx.body.value("ids", Json::array())) ids.push_back(x);
         JZ_ASSIGN_OR_RETURN(const int64_t n,
                             a->mark_read(ctx.me().user_id, ids, ctx.body.value("all", false)));
         return Reply::json({{"marked", n}});
       }},
      {.method = "GET",
       .path = "/api/v1/me/subscriptions",
       .scope = Scope::kCaller,
       .summary = "The rules about jobs you follow for your own jobs (each on unless you turned "
                  "it off)",
       .response_schema = sc::array_of(sc::ref("Subscription")),
       .handler = [a](RequestContext& ctx) -> Result<Reply> {
         if (!a) return unavailable();
         JZ_ASSIGN_OR_RETURN(auto subs, a->subscriptions(ctx.me().user_id));
         Json out = Json::array();
         for (const auto& x : subs) out.push_back(x.to_json());
         return Reply::json(out);
       }},
      {.method = "PATCH",
       .path = "/api/v1/me/subscriptions/{rule}",
       .scope = Scope::kCaller,
       .summary = "Follow a rule for your own jobs, or stop",
       .body_schema = sc::object({{"subscribed", sc::boolean()}}, {"subscribed"}),
       .response_schema = sc::ref("Subscription"),
       .handler = [a](RequestContext& ctx) -> Result<Reply> {
         if (!a) return unavailable();
         JZ_ASSIGN_OR_RETURN(auto sub, a->subscribe(ctx.me().user_id, ctx.param("rule"),
                                                    ctx.body["subscribed"].get<bool>()));
         return Reply::json(sub.to_json());
       }},
  });
  api.add({
      {.method = "POST",
       .path = "/api/v2/alerts",
       .scope = Scope::kCaller,
       .summary = "Alertmanager's API for Prometheus: a list of alerts (labels, annotations, "
                  "startsAt, endsAt); each goes to its project label's receivers (alert:update "
                  "there) or the platform's (platform admins)",
       .body_schema = sc::array_of({{"type", "object"}}),
       .success = 200,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         return take_alerts(s, ctx, ctx.body);
       }},
      {.method = "POST",
       .path = "/api/v1/alerting/alertmanager",
       .scope = Scope::kCaller,
       .summary = "An Alertmanager webhook receiver (payload version 4): its alerts are routed "
                  "and delivered as /api/v2/alerts's",
       .body_schema = {{"type", "object"}},
       .success = 200,
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (ctx.body.value("version", "") != "4") {
           return Status::invalid_argument("version: Alertmanager's webhook payload version 4");
         }
         return take_alerts(s, ctx, ctx.body.value("alerts", Json()));
       }},
  });
}

}  // namespace jz::api
