// A project's quota and its event log (a list, or a live Server-Sent Events stream).
#include "api/schema.h"
#include "api/services.h"
#include "core/text.h"
#include "platform/jobs/runner.h"

namespace jz::api {

namespace sc = schema;

namespace {

// Server-Sent Events of one project: woken when this server appends an event, and polled
// every few seconds for events that other servers wrote.
class EventStream : public http::Stream {
 public:
  EventStream(iam::EventLog& events, std::string project, int64_t after,
              std::unique_ptr<Streams::Slot> slot)
      : events_(events), project_(std::move(project)), cursor_(after), slot_(std::move(slot)) {}

  Step next(std::string& out) override {
    const Time now = std::chrono::steady_clock::now();
    auto evs = events_.list(project_, cursor_, 100);
    if (!evs.ok()) return {.done = true};
    for (const auto& e : *evs) {
      out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type +
             "\ndata: " + json::dump(e.to_json()) + "\n\n";
      cursor_ = e.seq;
    }
    if (evs->size() == 100) return {.wake_at = now};  // more at once
    if (out.empty() && now - last_write_ >= std::chrono::seconds(15)) out = ": keep-alive\n\n";
    if (!out.empty()) last_write_ = now;
    return {.wake_at = now + std::chrono::seconds(5)};
  }

 private:
  iam::EventLog& events_;
  std::string project_;
  int64_t cursor_;
  std::unique_ptr<Streams::Slot> slot_;
  Time last_write_ = std::chrono::steady_clock::now();
};

Result<Json> quota_json(const ApiServices& s, const iam::Project& p) {
  JZ_ASSIGN_OR_RETURN(auto q, s.quotas.get(p.id));
  return q.to_json();
}

}  // namespace

void add_project_routes(ApiRoutes& api, const ApiServices& s) {
  const std::string pr = "/api/v1/projects/{project}";
  api.add({
      {.method = "GET",
       .path = pr + "/quota",
       .scope = Scope::kProject,
       .resource = "quota",
       .verb = "get",
       .summary = "The project's quota (ETag: its version; usage: what the project uses)",
       .response_schema = sc::ref("Quota"),
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         JZ_ASSIGN_OR_RETURN(Json limits, quota_json(s, *ctx.project));
         Json out = limits;
         // What the project uses of the limits the job runner measures.
         if (s.platform.runner) {
           JZ_ASSIGN_OR_RETURN(auto used, s.platform.runner->storage_used(ctx.project->id));
           Json usage = s.platform.runner->usage_json(ctx.project->name);
           usage["storage_mib"] = static_cast<double>(used) / (1 << 20);
           out["usage"] = std::move(usage);
         }
         return std::move(Reply::json(out).with_etag(etag_of(limits)));
       }},
      {.method = "PUT",
       .path = pr + "/quota",
       .scope = Scope::kProject,
       .resource = "quota",
       .verb = "update",
       .summary = "Replace the project's quota (If-Match: the ETag read, to refuse a lost update)",
       .body_schema = sc::ref("Quota"),
       .response_schema = sc::ref("Quota"),
       .errors = {412},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         if (ctx.http.headers.has("If-Match")) {
           JZ_ASSIGN_OR_RETURN(Json current, quota_json(s, *ctx.project));
           JZ_RETURN_IF_ERROR(ctx.check_if_match(etag_of(current)));
         }
         Json body = ctx.body;
         body.erase("usage");  // what GET shows; not a limit
         JZ_ASSIGN_OR_RETURN(auto q, iam::Quota::from_json(body));
         JZ_RETURN_IF_ERROR(s.quotas.set(ctx.project->id, q));
         // Jobs submitted from now on are admitted (and limited to clusters) under it.
         if (s.platform.runner) s.platform.runner->quotas_changed();
         s.emit(ctx, ctx.project->name, "quota", ctx.project->name, "updated", "QuotaChanged",
                json::dump(q.to_json()));
         return std::move(Reply::json(q.to_json()).with_etag(etag_of(q.to_json())));
       }},
      {.method = "GET",
       .path = pr + "/events",
       .scope = Scope::kProject,
       .resource = "event",
       .verb = "list",
       .summary = "The project's events, oldest first, or a Server-Sent Events stream "
                  "(stream=true or Accept: text/event-stream; Last-Event-ID resumes)",
       .response_schema = sc::list_of("Event"),
       .paging = Paging::kKeyset,
       .query = {{"after",
                  "Only events after this seq; \"latest\": after the newest (only new ones)"},
                 {"tail", "The last N events (1 to 1000), oldest first; no paging", "integer"},
                 {"stream", "true: stream as Server-Sent Events", "boolean"}},
       .errors = {429},
       .handler = [&s](RequestContext& ctx) -> Result<Reply> {
         int64_t after = 0;
         // An SSE client's Last-Event-ID (a reconnect resumes where it left off, whatever
         // its address says), page_token (a list's next_page_token), or after.
         const std::string resume = ctx.http.header("Last-Event-ID");
         std::string from = !resume.empty()               ? resume
                            : !ctx.page.after.empty()     ? ctx.page.after
                            : ctx.http.has_param("after") ? ctx.http.param("after")
                                                          : "";
         if (from == "latest") {
           JZ_ASSIGN_OR_RETURN(after, s.events.newest(ctx.project->name));
         } else if (!from.empty()) {
           const auto n = parse_int64(from);
           if (!n || *n < 0) {
             return Status::invalid_argument(
                 "'after' (or page_token, or Last-Event-ID) must be an event seq number or "
                 "'latest'");
           }
           after = *n;
         }
         const bool stream =
             ctx.http.param("stream") == "true" ||
             ctx.http.header("Accept").find("text/event-stream") != std::string::npos;
         if (!stream && ctx.http.has_param("tail")) {
           JZ_ASSIGN_OR_RETURN(const int64_t n, ctx.int_param("tail", 1, 1000, 100));
           JZ_ASSIGN_OR_RETURN(auto evs, s.events.tail(ctx.project->name, static_cast<int>(n)));
           Json items = Json::array();
           for (const auto& e : evs) items.push_back(e.to_json());
           return Reply::page(std::move(items), "");
         }
         if (!stream) {
           JZ_ASSIGN_OR_RETURN(auto evs, s.events.list(ctx.project->name, after, ctx.page.size));
           Json items = Json::array();
           for (const auto& e : evs) items.push_back(e.to_json());
           const bool full = evs.size() == static_cast<size_t>(ctx.page.size);
           return Reply::page(std::move(items), full ? std::to_string(evs.back().seq) : "");
         }
         JZ_ASSIGN_OR_RETURN(auto slot,
                             s.streams.open(ctx.me().username, ctx.http.connection_id, "events"));
         return Reply::streamed(
             std::make_shared<EventStream>(s.events, ctx.project->name, after, std::move(slot)),
             "text/event-stream");
       }},
  });
}

}  // namespace jz::api
