#include "api/framework.h"

#include <regex>
#include <stdexcept>

#include "api/schema.h"
#include "core/text.h"

namespace jz::api {

namespace {

// The kinds of path parameters, by name: the pattern a value must match, and how a 400
// describes it.
struct ParamKind {
  const char* name;
  const char* pattern;
  const char* says;
};
constexpr ParamKind kParamKinds[] = {
    {"workspace", "[a-z0-9][a-z0-9-]{0,62}", "a lower-case name (letters, digits, '-')"},
    {"project", "[a-z0-9][a-z0-9-]{0,62}", "a lower-case name (letters, digits, '-')"},
    {"dataset", "[a-z0-9][a-z0-9-]{0,62}", "a lower-case name (letters, digits, '-')"},
    {"role", "[a-z0-9][a-z0-9-]{0,62}", "a role name (lower-case letters, digits, '-')"},
    {"username", "[a-z0-9._-]{1,64}", "a user name (lower-case letters, digits, '.', '_', '-')"},
    {"key", "[^/]{1,256}", "a key of 1 to 256 characters"},
    {"id", "job_[0-9A-Z]{26}", "a job id (job_ and 26 characters)"},
    {"token", "tok_[0-9A-Z]{26}", "a token id (tok_ and 26 characters)"},
    {"upload", "upl_[0-9A-Z]{26}", "an upload id (upl_ and 26 characters)"},
    {"release", "rel_[0-9A-Z]{26}", "a release request id (rel_ and 26 characters)"},
    {"level", "open|internal|secret", "open, internal or secret"},
    {"rule", "[a-z][a-z_]{0,62}", "an alert rule id (lower-case letters and '_')"},
    {"custom", "[a-z0-9][a-z0-9_-]{0,62}", "a rule name (lower-case letters, digits, '-', '_')"},
    {"silence", "sil_[0-9A-Z]{26}", "a silence id (sil_ and 26 characters)"},
    {"inhibition", "inh_[0-9A-Z]{26}", "an inhibition rule id (inh_ and 26 characters)"},
    {"receiver", "[a-z0-9][a-z0-9_-]{0,62}",
     "a receiver name (lower-case letters, digits, '-', '_')"},
    {"run", "[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
     "a run name (letters, digits, '.', '_', '-'; 1 to 100)"},
    {"suite", "[a-z0-9][a-z0-9_-]{0,63}", "a suite name (lower-case letters, digits, '_', '-')"},
    {"algorithm", "[a-z0-9_-]{1,64}", "an algorithm name (lower-case letters, digits, '_', '-')"},
    {"version", "[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}(-[0-9A-Za-z.-]{1,40})?",
     "a version (MAJOR.MINOR.PATCH)"},
    {"number", "[0-9]{1,9}", "a version number (1, 2, ...)"},
    {"curation", "cur_[0-9A-Z]{26}", "a curation id (cur_ and 26 characters)"},
    {"task", "lbt_[0-9A-Z]{26}", "a labelling task id (lbt_ and 26 characters)"},
    {"label_job", "lbj_[0-9A-Z]{26}", "a labelling job id (lbj_ and 26 characters)"},
    {"evaluation", "eval_[0-9A-Z]{26}", "an evaluation id (eval_ and 26 characters)"},
    {"competition", "[a-z0-9][a-z0-9_-]{0,63}",
     "a competition name (lower-case letters, digits, '_', '-')"},
    {"cluster", "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
     "a cluster name (lower-case letters, digits and '-')"},
    {"order", "ord_[0-9A-Z]{26}", "an order id (ord_ and 26 characters)"},
    {"activation_code", "acd_[0-9A-Z]{26}",
     "an activation code's id (acd_ and 26 characters; never the code itself)"},
    {"download", "[0-9a-f]{48}", "a download token (48 hex digits)"},
    {"file", "report\\.json|report\\.html|samples\\.csv",
     "report.json, report.html or samples.csv"},
    {"path", ".+", "a file path"},
};

const ParamKind* kind_of(const std::string& name) {
  for (const auto& k : kParamKinds) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

bool matches(const ParamKind& k, const std::string& value) {
  // Compiled once per kind; std::regex is safe to use from many threads when const.
  static const std::vector<std::regex> compiled = [] {
    std::vector<std::regex> out;
    for (const auto& kind : kParamKinds) out.emplace_back(kind.pattern);
    return out;
  }();
  return std::regex_match(value, compiled[&k - kParamKinds]);
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

Reply Reply::page(Json items, const std::string& next_key) {
  return json(
      {{"items", std::move(items)},
       {"next_page_token", next_key.empty() ? Json(nullptr) : Json(encode_page_token(next_key))}});
}

Reply& Reply::with_etag(const std::string& tag) {
  headers.set("ETag", "\"" + tag + "\"");
  return *this;
}

std::string encode_page_token(const std::string& key) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : key) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 63]);
  return out;
}

Result<std::string> decode_page_token(const std::string& token) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : token) {
    const char* at = std::strchr(kB64, c);
    if (!at || c == '\0') return invalid_page_token();
    acc = (acc << 6) | static_cast<uint32_t>(at - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Status invalid_page_token() {
  return Status::invalid_argument(
      "query parameter 'page_token' is not one this server issued: pass next_page_token of "
      "the previous page");
}

Json error_body(const Status& s, const std::string& request_id) {
  return {{"error",
           {{"code", std::string(code_name(s.code()))},
            {"message", s.message()},
            {"request_id", request_id}}}};
}

// ---- RequestContext ----

const std::string& RequestContext::param(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return kEmpty;
}

Status RequestContext::allow(std::string_view resource, std::string_view verb) const {
  const std::string ws = project ? project->workspace_id : workspace ? workspace->id : "";
  return authorizer_.check(*caller, resource, verb, ws, project ? &*project : nullptr);
}

Status RequestContext::require_platform_admin() const {
  if (caller && caller->is_platform_admin()) return {};
  return Status::permission_denied("only a platform-admin may do this");
}

Result<int64_t> RequestContext::int_param(std::string_view name, int64_t lo, int64_t hi,
                                          int64_t fallback) const {
  if (!http.has_param(name)) return fallback;
  const std::optional<int64_t> n = parse_int64(http.param(name));
  if (!n || *n < lo || *n > hi) {
    return Status::invalid_argument("query parameter '" + std::string(name) +
                                    "' must be an integer from " + std::to_string(lo) + " to " +
                                    std::to_string(hi));
  }
  return *n;
}

Result<std::optional<int64_t>> RequestContext::time_param(std::string_view name) const {
  if (!http.has_param(name)) return std::optional<int64_t>();
  auto t = parse_rfc3339(http.param(name));
  if (!t.ok()) {
    return Status::invalid_argument("query parameter '" + std::string(name) +
                                    "' must be an RFC 3339 time (2026-11-27T07:00:00Z)");
  }
  return std::optional<int64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count());
}

Status RequestContext::check_if_match(const std::string& current) const {
  const std::string* h = http.headers.find("If-Match");
  if (!h) return {};
  if (*h == "*" || *h == "\"" + current + "\"") return {};
  return Status::condition_not_met("If-Match " + *h + " does not match the current version \"" +
                                   current + "\": read it again (GET), then retry the change");
}

// ---- ApiRoutes ----

std::string ApiRoutes::resource_type(const std::string& label) {
  std::string type;
  for (auto seg : split_path(label)) {
    if (!seg.empty() && seg.front() != '{') type = std::string(seg);
  }
  return type;
}

void ApiRoutes::add(Route r) {
  Compiled c;
  for (auto seg : split_path(r.path)) {
    std::string s(seg);
    if (!s.empty() && s.front() == '{') {
      const std::string name = s.substr(1, s.size() - 2);
      if (!kind_of(name)) {
        throw std::logic_error("route " + r.path + ": path parameter {" + name +
                               "} has no kind; add it to kParamKinds");
      }
    }
    c.segments.push_back(std::move(s));
  }
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == r.method && routes_[i].path == r.path) {
      throw std::logic_error("route " + r.method + " " + r.path + " is registered twice");
    }
  }
  if ((r.scope == Scope::kProject || r.scope == Scope::kWorkspace) &&
      (r.resource.empty() || r.verb.empty())) {
    throw std::logic_error("route " + r.method + " " + r.path + " needs a resource and a verb");
  }
  routes_.push_back(std::move(r));
  compiled_.push_back(std::move(c));
}

ApiRoutes::Match ApiRoutes::match(const http::Request& req) const {
  Match m;
  const auto segs = split_path(req.path);
  Status param_error;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    const auto& pattern = compiled_[i].segments;
    // {path} takes every remaining segment; a prefix route may be followed by more.
    const bool greedy = !pattern.empty() && pattern.back() == "{path}";
    if (segs.size() < pattern.size()) continue;
    if (segs.size() > pattern.size() && !greedy && !r.prefix) continue;
    bool shape = true;
    for (size_t k = 0; k < pattern.size() && shape; ++k) {
      if (pattern[k].front() != '{') shape = pattern[k] == segs[k];
    }
    if (!shape) continue;
    // The path has this route's shape: check its parameters.
    std::vector<std::pair<std::string, std::string>> params;
    Status bad;
    for (size_t k = 0; k < pattern.size() && bad.ok(); ++k) {
      if (pattern[k].front() != '{') continue;
      const std::string name = pattern[k].substr(1, pattern[k].size() - 2);
      std::string_view raw = segs[k];
      if (name == "path") {
        raw = std::string_view(req.path).substr(
            static_cast<size_t>(segs[k].data() - req.path.data()));
      }
      auto decoded = http::percent_decode(raw, false);
      const ParamKind* kind = kind_of(name);
      if (!decoded || !matches(*kind, *decoded) ||
          (name != "path" && decoded->find('/') != std::string::npos)) {
        bad = Status::invalid_argument("path parameter '" + name + "' must be " + kind->says +
                                       ", got '" + std::string(raw.substr(0, 80)) + "'");
        break;
      }
      params.emplace_back(name, std::move(*decoded));
    }
    if (!bad.ok()) {
      if (param_error.ok()) param_error = bad;
      continue;
    }
    if (r.method != req.method) {
      if (m.allow.find(r.method) == std::string::npos) {
        m.allow += (m.allow.empty() ? "" : ", ") + r.method;
      }
      continue;
    }
    m.route = &r;
    m.params = std::move(params);
    if (r.prefix && segs.size() > pattern.size()) {
      const size_t at = static_cast<size_t>(segs[pattern.size()].data() - req.path.data()) - 1;
      m.rest = req.target.substr(at);
    } else if (r.prefix) {
      m.rest = req.query.empty() ? "" : "?" + req.query;
    }
    return m;
  }
  if (!m.allow.empty()) {
    m.error = Status(Code::kInvalidArgument, "method " + req.method + " is not allowed on " +
                                                 req.path + "; allowed: " + m.allow);
  } else if (!param_error.ok()) {
    m.error = param_error;
  } else {
    m.error = Status::not_found("no such endpoint: " + req.method + " " + req.path);
  }
  return m;
}

Status ApiRoutes::resolve_scope(const Route& route, RequestContext& ctx) const {
  switch (route.scope) {
    case Scope::kPublic:
    case Scope::kCaller:
      return {};
    case Scope::kPlatformAdmin:
      return ctx.require_platform_admin();
    case Scope::kWorkspace: {
      const std::string& name = ctx.param("workspace");
      auto w = tenancy_.workspace(name);
      if (!w.ok()) return w.status();
      ctx.audit.workspace = w->name;
      ctx.workspace = std::move(*w);
      Status s = ctx.allow(route.resource, route.verb);
      if (s.ok()) return s;
      // Whoever may not see the workspace learns nothing of it: the same 404 as a missing one.
      if (s.code() == Code::kPermissionDenied && !ctx.allow("workspace", "get").ok()) {
        return Status::not_found("workspace '" + name + "' does not exist");
      }
      return s;
    }
    case Scope::kProject: {
      const std::string& name = ctx.param("project");
      auto p = tenancy_.project(name);
      if (!p.ok()) return p.status();
      ctx.audit.workspace = p->workspace;
      ctx.audit.project = p->name;
      ctx.project = std::move(*p);
      Status s = ctx.allow(route.resource, route.verb);
      if (s.ok()) return s;
      if (s.code() == Code::kPermissionDenied && !ctx.allow("project", "get").ok()) {
        return Status::not_found("project '" + name + "' does not exist");
      }
      return s;
    }
  }
  return {};
}

Result<Reply> ApiRoutes::run(const Route& route, RequestContext& ctx) const {
  JZ_RETURN_IF_ERROR(resolve_scope(route, ctx));
  if (!route.body_schema.is_null() && !route.raw_body) {
    JZ_ASSIGN_OR_RETURN(ctx.body, json::parse(ctx.http.body, "request body"));
    // An object, unless the route takes a list (Alertmanager's API does).
    const bool list =
        route.body_schema.is_object() && route.body_schema.value("type", "") == "array";
    if (list ? !ctx.body.is_array() : !ctx.body.is_object()) {
      return Status::invalid_argument(list ? "request body must be a JSON array"
                                           : "request body must be a JSON object");
    }
    JZ_RETURN_IF_ERROR(schema::validate(ctx.body, route.body_schema));
  }
  if (route.paging == Paging::kKeyset) {
    JZ_ASSIGN_OR_RETURN(int64_t size, ctx.int_param("page_size", 1, 1000, 100));
    ctx.page.size = static_cast<int>(size);
    if (ctx.http.has_param("page_token")) {
      JZ_ASSIGN_OR_RETURN(ctx.page.after, decode_page_token(ctx.http.param("page_token")));
    }
  }
  return route.handler(ctx);
}

}  // namespace jz::api
