#include "api/services.h"

#include <algorithm>

#include "core/log.h"

namespace jz::api {

Result<std::unique_ptr<Streams::Slot>> Streams::open(const std::string& user, uint64_t connection,
                                                     const std::string& kind) {
  std::lock_guard lock(mu_);
  int& n = by_user_[user];
  if (n >= per_user_) {
    return Status::resource_exhausted(
        "you hold " + std::to_string(n) + " live streams, the limit per user " +
        "(server.max_streams_per_user); close one (a browser tab, a follow) and retry");
  }
  ++n;
  by_kind_.emplace(kind, connection);
  return std::make_unique<Slot>(*this, user, connection, kind);
}

ProxyParts::ProxyParts(const ServerOptions& o)
    : tunnels([&o] {
        http::TunnelOptions t;
        t.threads = o.proxy_threads;
        t.max_tunnels = o.max_connections;
        return t;
      }()),
      max_per_env(o.devenv_max_connections) {}

bool ProxyParts::acquire(const std::string& env) {
  std::lock_guard lock(mu_);
  int& n = open_[env];
  if (n >= max_per_env) return false;
  ++n;
  return true;
}

void ProxyParts::release(const std::string& env) {
  std::lock_guard lock(mu_);
  auto it = open_.find(env);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

void Streams::release(const Slot& s) {
  std::lock_guard lock(mu_);
  if (auto it = by_user_.find(s.user_); it != by_user_.end() && --it->second <= 0) {
    by_user_.erase(it);
  }
  if (auto it = by_kind_.find({s.kind_, s.connection_}); it != by_kind_.end()) by_kind_.erase(it);
}

void Streams::wake(const std::string& kind) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (auto it = by_kind_.lower_bound({kind, 0}); it != by_kind_.end() && it->first == kind;
         ++it) {
      ids.push_back(it->second);
    }
  }
  if (http::Server* s = server_.load()) {
    for (uint64_t id : ids) s->wake(id);
  }
}

int64_t Streams::open_count() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(by_kind_.size());
}

namespace {

iam::Event event_of(const std::string& type, const std::string& name, const std::string& event_type,
                    const std::string& reason, const std::string& message) {
  iam::Event e;
  e.resource_type = type;
  e.resource_name = name;
  e.type = event_type;
  e.reason = reason;
  e.message = message;
  return e;
}

}  // namespace

void ApiServices::emit(const RequestContext& ctx, const std::string& project,
                       const std::string& type, const std::string& name,
                       const std::string& event_type, const std::string& reason,
                       const std::string& message, const std::string& subject) const {
  iam::Event e = event_of(type, name, event_type, reason, message);
  e.project = project;
  e.workspace = ctx.project && ctx.project->name == project ? ctx.project->workspace
                : ctx.workspace                             ? ctx.workspace->name
                                                            : "";
  if (e.workspace.empty() && !project.empty()) {
    if (auto p = tenancy.project(project); p.ok()) e.workspace = p->workspace;
  }
  e.subject = subject;
  store_event(ctx, std::move(e));
}

void ApiServices::emit_workspace(const RequestContext& ctx, const std::string& workspace,
                                 const std::string& type, const std::string& name,
                                 const std::string& event_type, const std::string& reason,
                                 const std::string& message, const std::string& subject) const {
  iam::Event e = event_of(type, name, event_type, reason, message);
  e.workspace = workspace;
  e.subject = subject;
  store_event(ctx, std::move(e));
}

void ApiServices::emit_user(const RequestContext& ctx, const std::string& username,
                            const std::string& type, const std::string& event_type,
                            const std::string& reason, const std::string& message) const {
  iam::Event e = event_of(type, username, event_type, reason, message);
  e.subject = username;
  store_event(ctx, std::move(e));
}

void ApiServices::store_event(const RequestContext& ctx, iam::Event e) const {
  e.actor = ctx.caller ? ctx.caller->username : "";
  if (auto r = events.append(std::move(e)); !r.ok()) {
    log_with_fields(logger, spdlog::level::err, "event not stored",
                    {{"request_id", ctx.request_id}, {"error", r.status().message()}});
  }
}

Result<Reply> events_page(const ApiServices& s, const RequestContext& ctx, iam::EventLog::Of of,
                          const std::string& key) {
  const std::string from = !ctx.page.after.empty() ? ctx.page.after : ctx.http.param("after");
  int64_t after = 0;
  if (!from.empty()) {
    const auto n = parse_int64(from);
    if (!n || *n < 0) {
      return Status::invalid_argument("'after' (or page_token) must be an event seq number");
    }
    after = *n;
  }
  JZ_ASSIGN_OR_RETURN(auto evs, s.events.list_of(of, key, after, ctx.page.size));
  Json items = Json::array();
  for (const auto& e : evs) items.push_back(e.to_json());
  const bool full = evs.size() == static_cast<size_t>(ctx.page.size);
  return Reply::page(std::move(items), full ? std::to_string(evs.back().seq) : "");
}

std::string etag_of(const Json& representation) {
  // FNV-1a: a tag only has to change when the text does.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : json::dump(representation)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool JobVisibility::sees(const std::string& project) {
  auto it = seen_.find(project);
  if (it != seen_.end()) return it->second;
  auto p = s_.tenancy.project(project);
  const bool ok = p.ok() && s_.authorizer.check(me_, "job", "list", p->workspace_id, &*p).ok();
  return seen_[project] = ok;
}

std::string wire_time(int64_t unix_ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(unix_ms)));
}

Reply data_file_reply(std::string bytes, const std::string& path) {
  const size_t dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string type = "application/octet-stream";
  if (ext == "jpg" || ext == "jpeg") type = "image/jpeg";
  if (ext == "png" || ext == "webp" || ext == "bmp" || ext == "gif") type = "image/" + ext;
  Reply r = Reply::text(std::move(bytes), type);
  r.headers.set("Content-Security-Policy", "sandbox; default-src 'none'");
  r.headers.set("X-Content-Type-Options", "nosniff");
  r.headers.set("Cache-Control", "private, max-age=86400, immutable");
  return r;
}

Reply page_of(const RequestContext& ctx, std::vector<Json> items, const char* key) {
  std::sort(items.begin(), items.end(), [key](const Json& a, const Json& b) {
    return a[key].get_ref<const std::string&>() < b[key].get_ref<const std::string&>();
  });
  const size_t size = static_cast<size_t>(ctx.page.size);
  const std::string& after = ctx.page.after;
  Json page = Json::array();
  std::string next;
  for (auto& item : items) {
    const std::string& k = item[key].get_ref<const std::string&>();
    if (!after.empty() && k <= after) continue;
    if (page.size() == size) {
      next = page.back()[key].get<std::string>();
      break;
    }
    page.push_back(std::move(item));
  }
  return Reply::page(std::move(page), next);
}

}  // namespace jz::api
