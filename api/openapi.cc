#include "api/openapi.h"

#include <cctype>
#include <map>

namespace jz::api {
namespace {

Json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }
Json str(const std::string& description = "") {
  Json s = {{"type", "string"}};
  if (!description.empty()) s["description"] = description;
  return s;
}
Json integer() { return {{"type", "integer"}, {"format", "int64"}}; }
Json time_string() { return {{"type", "string"}, {"format", "date-time"}}; }
Json nullable(Json s) {
  s["nullable"] = true;
  return s;
}
Json object(Json properties, std::vector<std::string> required = {}) {
  Json o = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = required;
  return o;
}
Json list_of(const std::string& item) {
  return object({{"items", {{"type", "array"}, {"items", ref(item)}}},
                 {"next_page_token", nullable(str("Pass as page_token for the next page"))}},
                {"items", "next_page_token"});
}

Json components() {
  Json limit = nullable({{"type", "number"}, {"minimum", 0}});
  Json whole_limit = nullable({{"type", "integer"}, {"minimum", 0}});
  return {
      {"Error",
       object(
           {{"error", object({{"code", str("invalid_argument, not_found, permission_denied, ...")},
                              {"message", str("What was wrong and what to do")},
                              {"request_id", str()}},
                             {"code", "message", "request_id"})}},
           {"error"})},
      {"User", object({{"username", str()},
                       {"display_name", str()},
                       {"email", str()},
                       {"state", str("active or disabled")},
                       {"platform_role", str("platform-admin or platform-regular")},
                       {"created_at", time_string()}},
                      {"username", "state", "platform_role", "created_at"})},
      {"Token", object({{"id", str("tok_...")},
                        {"name", str()},
                        {"kind", str("session or api")},
                        {"project", nullable(str("The one project it may act on"))},
                        {"created_at", time_string()},
                        {"expires_at", time_string()},
                        {"revoked_at", nullable(time_string())}},
                       {"id", "name", "kind", "expires_at"})},
      {"NewToken",
       {{"allOf", Json::array({ref("Token"),
                               object({{"token", str("The secret, shown once")}}, {"token"})})}}},
      {"Workspace", object({{"name", str()}, {"description", str()}, {"created_at", time_string()}},
                           {"name", "created_at"})},
      {"Project", object({{"name", str()},
                          {"workspace", str()},
                          {"description", str()},
                          {"created_at", time_string()}},
                         {"name", "workspace", "created_at"})},
      {"Member", object({{"username", str()}, {"role", str()}}, {"username", "role"})},
      {"Role", object({{"name", str()},
                       {"scope", str("platform, workspace or project")},
                       {"permissions", {{"type", "array"}, {"items", str("resource:verb")}}},
                       {"builtin", {{"type", "boolean"}}}},
                      {"name", "scope", "permissions", "builtin"})},
      {"Dataset", object({{"name", str()},
                          {"security_level", str("open, internal or secret")},
                          {"path", str("Shown to data owners")},
                          {"created_by", str()},
                          {"created_at", time_string()}},
                         {"name", "security_level", "created_at"})},
      {"JobRequest",
       object(
           {{"name", str()},
            {"kind", str("train (default), eval or devenv")},
            {"command", {{"type", "array"}, {"items", str()}}},
            {"env", {{"type", "object"}, {"additionalProperties", str()}}},
            {"workdir", str("Inside the sandbox; default /job")},
            {"datasets", {{"type", "array"}, {"items", str("Dataset name, at /data/NAME")}}},
            {"resources",
             object({{"gpus", {{"type", "number"}, {"description", "Below 1: a share"}}},
                     {"gpu_share", object({{"memory_mib", integer()}, {"cores_percent", integer()}},
                                          {"memory_mib", "cores_percent"})},
                     {"cpu", {{"type", "number"}}},
                     {"memory_mib", integer()}})},
            {"pool", str()},
            {"priority", integer()},
            {"preemptible", {{"type", "boolean"}}},
            {"runtime_limit_s", integer()},
            {"restart_policy", str("never or on_failure")},
            {"max_restarts", integer()},
            {"port", integer()}},
           {"name", "command"})},
      {"Job", object({{"id", str("job_...")},
                      {"project", str()},
                      {"name", str()},
                      {"kind", str()},
                      {"user", str()},
                      {"state", str("queued, admitted, starting, running, succeeded, failed, "
                                    "cancelled, preempted or lost")},
                      {"reason", str()},
                      {"message", str("Why it waits, or how it ended")},
                      {"exit_code", nullable(integer())},
                      {"attempt", integer()},
                      {"placement", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                      {"cancel_requested", {{"type", "boolean"}}},
                      {"created_at", time_string()},
                      {"started_at", nullable(time_string())},
                      {"finished_at", nullable(time_string())},
                      {"spec", ref("JobRequest")},
                      {"url", str("devenv: /devenvs/ID/")}},
                     {"id", "project", "name", "kind", "state", "attempt", "created_at"})},
      {"JobEvent", object({{"seq", integer()},
                           {"time", time_string()},
                           {"from", str()},
                           {"to", str()},
                           {"reason", str()},
                           {"message", str()},
                           {"exit_code", nullable(integer())}},
                          {"seq", "time", "from", "to", "reason"})},
      {"LogPolicy",
       object({{"mode", str("open, blacklist or whitelist")},
               {"rules",
                {{"type", "array"},
                 {"items", object({{"name", str()},
                                   {"pattern", str("Hyperscan syntax")},
                                   {"action", str("drop or redact")},
                                   {"ignore_case", {{"type", "boolean"}}}},
                                  {"name", "pattern"})}}},
               {"detectors",
                {{"type", "object"}, {"description", "true, false or settings (docs/LOGS.md)"}}},
               {"max_line_bytes", integer()},
               {"rate_bytes_per_s", integer()},
               {"total_bytes", integer()},
               {"keep_raw", {{"type", "boolean"}}}},
              {"mode"})},
      {"LogPolicyEntry", object({{"level", str("open, internal or secret")},
                                 {"policy", ref("LogPolicy")},
                                 {"edited", {{"type", "boolean"}}},
                                 {"updated_by", str()},
                                 {"updated_at", time_string()}},
                                {"level", "policy", "edited"})},
      {"JobSettings", object({{"allow_egress", {{"type", "boolean"}}},
                              {"devenv_idle_s", integer()},
                              {"devenv_gpu_idle_percent", integer()}})},
      {"Quota",
       {{"type", "object"},
        {"additionalProperties", false},
        {"description", "Absent or null limits are unlimited"},
        {"properties",
         {{"gpus", limit},
          {"gpu_memory_mib", whole_limit},
          {"concurrent_jobs", whole_limit},
          {"cpu_cores", limit},
          {"memory_mib", whole_limit},
          {"per_user_gpus", limit},
          {"storage_mib", whole_limit},
          {"usage",
           {{"type", "object"},
            {"readOnly", true},
            {"description", "What the project uses (GET only): storage_mib"}}}}}}},
      {"AuditRecord", object({{"seq", integer()},
                              {"id", str()},
                              {"time", time_string()},
                              {"time_ms", integer()},
                              {"user", str()},
                              {"source_ip", str()},
                              {"user_agent", str()},
                              {"verb", str()},
                              {"resource_type", str()},
                              {"resource_name", str()},
                              {"workspace", str()},
                              {"project", str()},
                              {"request_summary", str()},
                              {"response_status", integer()},
                              {"latency_us", integer()},
                              {"request_id", str()},
                              {"prev_hash", str()},
                              {"hash", str()}},
                             {"seq", "id", "time", "verb", "hash", "prev_hash"})},
      {"Event", object({{"seq", integer()},
                        {"id", str()},
                        {"time", time_string()},
                        {"project", str()},
                        {"resource_type", str()},
                        {"resource_name", str()},
                        {"type", str("created, updated, deleted or state")},
                        {"reason", str()},
                        {"message", str()},
                        {"actor", str()}},
                       {"seq", "id", "time", "project", "type", "reason"})},
      {"Setting", object({{"key", str()},
                          {"value", {{"description", "Any JSON value"}}},
                          {"revision", integer()},
                          {"updated_at", time_string()}},
                         {"key", "value", "revision"})},
      {"Login", object({{"token", str()},
                        {"expires_at", time_string()},
                        {"user", object({{"username", str()}, {"platform_role", str()}})}},
                       {"token", "expires_at"})},
  };
}

struct OpDoc {
  std::string summary;
  Json request;                                            // body schema; null when none
  Json response;                                           // 2xx body schema; null when none
  std::vector<std::pair<std::string, std::string>> query;  // name, description
};

const std::vector<std::pair<std::string, std::string>> kPaging = {
    {"page_size", "Items per page, 1 to 1000 (default 100)"},
    {"page_token", "next_page_token of the previous page"}};

std::map<std::string, OpDoc> operation_docs() {
  auto with_paging = [](std::vector<std::pair<std::string, std::string>> q) {
    q.insert(q.end(), kPaging.begin(), kPaging.end());
    return q;
  };
  return {
      {"GET /healthz", {"Liveness", nullptr, object({{"status", str()}}), {}}},
      {"GET /readyz", {"Readiness: the store answers", nullptr, object({{"status", str()}}), {}}},
      {"GET /metrics", {"Prometheus metrics", nullptr, nullptr, {}}},
      {"GET /api/v1/version", {"Version and source revision", nullptr, nullptr, {}}},
      {"POST /api/v1/auth/login",
       {"Log in with a password; returns a session token",
        object({{"username", str()}, {"password", str()}}, {"username", "password"}),
        ref("Login"),
        {}}},
      {"GET /api/v1/auth/whoami", {"The caller and its token", nullptr, nullptr, {}}},
      {"POST /api/v1/auth/logout", {"End the caller's session", nullptr, nullptr, {}}},
      {"GET /api/v1/audit",
       {"Query the audit trail (platform admins)", nullptr, list_of("AuditRecord"),
        with_paging({{"user", "Only this user's records"},
                     {"verb", "create, update, delete, login, login_failed, logout, ..."},
                     {"resource", "A resource type"},
                     {"project", "Only this project's records"},
                     {"since_ms", "From this Unix time in milliseconds"},
                     {"until_ms", "Before this Unix time in milliseconds"},
                     {"format", "jsonl: JSON lines, with X-Next-Page-Token"}})}},
      {"GET /api/v1/settings", {"List platform settings", nullptr, list_of("Setting"), kPaging}},
      {"GET /api/v1/settings/{key}", {"Read a setting", nullptr, ref("Setting"), {}}},
      {"PUT /api/v1/settings/{key}",
       {"Write a setting",
        object({{"value", {{"description", "Any JSON value"}}}}, {"value"}),
        ref("Setting"),
        {}}},
      {"DELETE /api/v1/settings/{key}", {"Delete a setting", nullptr, nullptr, {}}},
      {"GET /api/v1/openapi.json", {"This document", nullptr, nullptr, {}}},
      {"GET /api/v1/roles", {"Roles and their permissions", nullptr, list_of("Role"), {}}},
      {"POST /api/v1/tokens",
       {"Create an API token for the caller",
        object({{"name", str("1 to 64 characters")},
                {"project", str("Limit the token to this project")},
                {"expires_in_s", {{"type", "integer"}, {"minimum", 60}, {"maximum", 31622400}}}},
               {"name"}),
        ref("NewToken"),
        {}}},
      {"GET /api/v1/tokens", {"The caller's tokens", nullptr, list_of("Token"), {}}},
      {"DELETE /api/v1/tokens/{id}", {"Revoke a token", nullptr, nullptr, {}}},
      {"POST /api/v1/users",
       {"Create a user (platform admins)",
        object({{"username", str()},
                {"password", str("At least 10 characters")},
                {"display_name", str()},
                {"email", str()},
                {"platform_role", str()}},
               {"username", "password"}),
        ref("User"),
        {}}},
      {"GET /api/v1/users", {"List users (platform admins)", nullptr, list_of("User"), kPaging}},
      {"POST /api/v1/workspaces",
       {"Create a workspace",
        object({{"name", str()}, {"description", str()}}, {"name"}),
        ref("Workspace"),
        {}}},
      {"GET /api/v1/workspaces",
       {"Workspaces the caller may see", nullptr, list_of("Workspace"), kPaging}},
      {"GET /api/v1/projects",
       {"Projects the caller may see, across workspaces", nullptr, list_of("Project"),
        with_paging({{"workspace", "Only this workspace's projects"}})}},
      {"GET /api/v1/workspaces/{workspace}", {"A workspace", nullptr, ref("Workspace"), {}}},
      {"DELETE /api/v1/workspaces/{workspace}",
       {"Delete an empty workspace (platform admins)", nullptr, nullptr, {}}},
      {"POST /api/v1/workspaces/{workspace}/projects",
       {"Create a project",
        object({{"name", str()}, {"description", str()}}, {"name"}),
        ref("Project"),
        {}}},
      {"GET /api/v1/workspaces/{workspace}/projects",
       {"The workspace's projects the caller may see", nullptr, list_of("Project"), kPaging}},
      {"POST /api/v1/users/{username}/unlock",
       {"Clear the failed logins counted against a user (platform admins); the body is {}",
        object({}, {}),
        ref("User"),
        {}}},
      {"GET /api/v1/workspaces/{workspace}/dataset-roots",
       {"Folders under which the workspace's data owners register datasets", nullptr, nullptr,
        kPaging}},
      {"POST /api/v1/workspaces/{workspace}/dataset-roots",
       {"Assign a folder on the server to the workspace as a dataset root (platform admins)",
        object({{"path", str("Absolute folder, not overlapping another workspace's root")}},
               {"path"}),
        nullptr,
        {}}},
      {"DELETE /api/v1/workspaces/{workspace}/dataset-roots",
       {"Take a dataset root away from the workspace (platform admins; datasets stay)",
        nullptr,
        nullptr,
        {{"path", "The root to remove"}}}},
      {"GET /api/v1/projects/{project}", {"A project", nullptr, ref("Project"), {}}},
      {"DELETE /api/v1/projects/{project}", {"Delete a project", nullptr, nullptr, {}}},
      {"GET /api/v1/projects/{project}/quota", {"The project's quota", nullptr, ref("Quota"), {}}},
      {"PUT /api/v1/projects/{project}/quota",
       {"Replace the project's quota", ref("Quota"), ref("Quota"), {}}},
      {"POST /api/v1/projects/{project}/datasets",
       {"Register a folder on the server as a dataset (data owners)",
        object({{"name", str("DNS label")},
                {"path", str("Absolute folder on the server, under a root of the workspace")},
                {"security_level", str("open, internal or secret")}},
               {"name", "path", "security_level"}),
        ref("Dataset"),
        {}}},
      {"GET /api/v1/projects/{project}/datasets",
       {"The project's datasets (paths shown to data owners)", nullptr, list_of("Dataset"), {}}},
      {"GET /api/v1/projects/{project}/datasets/{dataset}",
       {"A dataset", nullptr, ref("Dataset"), {}}},
      {"DELETE /api/v1/projects/{project}/datasets/{dataset}",
       {"Unregister a dataset (its files stay)", nullptr, nullptr, {}}},
      {"POST /api/v1/projects/{project}/datasets/{dataset}/archive",
       {"Upload a tar or tar.gz archive as a new dataset (data owners); the body is the archive",
        nullptr,
        ref("Dataset"),
        {{"security_level", "open, internal (default) or secret"}}}},
      {"GET /api/v1/projects/{project}/datasets/{dataset}/files",
       {"A dataset's files (data owners)", nullptr, nullptr, {}}},
      {"GET /api/v1/projects/{project}/datasets/{dataset}/files/{path}",
       {"Download one file of a dataset (data owners)", nullptr, nullptr, {}}},
      {"POST /api/v1/projects/{project}/jobs",
       {"Submit a job (docs/JOBS.md)", ref("JobRequest"), ref("Job"), {}}},
      {"GET /api/v1/projects/{project}/jobs",
       {"The project's jobs, newest first", nullptr, list_of("Job"),
        with_paging({{"state", "Only jobs in this state"},
                     {"kind", "train, eval or devenv"},
                     {"user", "Only this user's jobs"}})}},
      {"GET /api/v1/projects/{project}/jobs/{id}", {"A job", nullptr, ref("Job"), {}}},
      {"GET /api/v1/projects/{project}/jobs/{id}/events",
       {"A job's changes of state", nullptr, list_of("JobEvent"), {}}},
      {"GET /api/v1/projects/{project}/jobs/{id}/logs",
       {"A job's log as its log policy let it through (text/plain; format=json for records; "
        "follow=true or Accept: text/event-stream for live follow)",
        nullptr,
        nullptr,
        {{"attempt", "An earlier attempt"},
         {"format", "text (default) or json"},
         {"from", "The first sequence number"},
         {"limit", "At most this many lines"},
         {"tail", "The last N lines"},
         {"since", "RFC 3339 time: lines from then"},
         {"until", "RFC 3339 time: lines until then"},
         {"stream", "stdout or stderr"},
         {"q", "Lines containing this text"},
         {"regex", "Lines matching this RE2 expression"},
         {"follow", "true: Server-Sent Events until the run ends"}}}},
      {"GET /api/v1/projects/{project}/jobs/{id}/logs/stats",
       {"Lines passed and withheld, by reason (counts, never content)",
        nullptr,
        nullptr,
        {{"attempt", "An earlier attempt"}}}},
      {"GET /api/v1/projects/{project}/jobs/{id}/logs/download",
       {"The whole log as a file", nullptr, nullptr, {{"attempt", "An earlier attempt"}}}},
      {"GET /api/v1/projects/{project}/jobs/{id}/logs/raw",
       {"The unfiltered log, when the policy keeps it (data owners)",
        nullptr,
        nullptr,
        {{"attempt", "An earlier attempt"}}}},
      {"GET /api/v1/projects/{project}/logs/search",
       {"Search the logs of the project's jobs (latest run of each, newest jobs first)",
        nullptr,
        nullptr,
        {{"q", "A substring"},
         {"regex", "An RE2 expression"},
         {"limit", "At most this many lines"},
         {"jobs", "At most this many jobs"}}}},
      {"GET /api/v1/projects/{project}/log-policies",
       {"The log policy of each security level", nullptr, list_of("LogPolicyEntry"), {}}},
      {"GET /api/v1/projects/{project}/log-policies/{level}",
       {"The log policy of one level", nullptr, ref("LogPolicyEntry"), {}}},
      {"PUT /api/v1/projects/{project}/log-policies/{level}",
       {"Replace a level's log policy (data owners; docs/LOGS.md)",
        ref("LogPolicy"),
        ref("LogPolicyEntry"),
        {}}},
      {"DELETE /api/v1/projects/{project}/log-policies/{level}",
       {"Back to the built-in policy of the level (data owners)", nullptr, nullptr, {}}},
      {"POST /api/v1/projects/{project}/jobs/{id}/cancel",
       {"Cancel a job: SIGTERM to its processes, SIGKILL after the grace period",
        nullptr,
        ref("Job"),
        {}}},
      {"POST /api/v1/projects/{project}/jobs/{id}/retry",
       {"Queue an ended job again (next attempt; a dev environment keeps its folder)",
        nullptr,
        ref("Job"),
        {}}},
      {"GET /api/v1/projects/{project}/job-settings",
       {"The project's job settings", nullptr, ref("JobSettings"), {}}},
      {"PUT /api/v1/projects/{project}/job-settings",
       {"Change job settings (allow_egress: platform admins only)",
        ref("JobSettings"),
        ref("JobSettings"),
        {}}},
      {"GET /api/v1/nodes",
       {"The machines that run jobs and what is in use", nullptr, nullptr, {}}},
      {"GET /devenvs/{id}",
       {"A dev environment's HTTP server, through the platform (project members)",
        nullptr,
        nullptr,
        {}}},
      {"GET /api/v1/projects/{project}/events",
       {"The project's events, or a Server-Sent Events stream (Accept: text/event-stream)",
        nullptr,
        list_of("Event"),
        {{"after", "Only events after this seq"},
         {"page_token", "next_page_token of the previous page"},
         {"stream", "true: stream as Server-Sent Events"}}}},
  };
}

// Member routes exist under both scopes.
void add_member_docs(std::map<std::string, OpDoc>& docs, const std::string& base) {
  docs["GET " + base + "/members"] = {"Members and their roles", nullptr, list_of("Member"),
                                      kPaging};
  docs["POST " + base + "/members"] = {
      "Add a member or change a member's role",
      object({{"username", str()}, {"role", str("A role of this scope, see /api/v1/roles")}},
             {"username", "role"}),
      ref("Member"),
      {}};
  docs["DELETE " + base + "/members/{username}"] = {"Remove a member", nullptr, nullptr, {}};
}

Json json_content(const Json& schema) { return {{"application/json", {{"schema", schema}}}}; }

}  // namespace

Json build_openapi(const std::vector<RouteDoc>& routes, std::string_view version) {
  auto docs = operation_docs();
  add_member_docs(docs, "/api/v1/workspaces/{workspace}");
  add_member_docs(docs, "/api/v1/projects/{project}");
  Json paths = Json::object();
  for (const auto& r : routes) {
    std::string m = r.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string success = "200";
    if (r.method == "DELETE" || r.label == "/api/v1/auth/logout") {
      success = "204";
    } else if (r.method == "POST" && r.label != "/api/v1/auth/login") {
      success = "201";
    }
    Json ok = {{"description", "Success"}};
    Json op = {{"operationId", m + r.label}, {"summary", r.method + " " + r.label}};
    Json params = Json::array();
    for (size_t pos = r.label.find('{'); pos != std::string::npos;
         pos = r.label.find('{', pos + 1)) {
      std::string name = r.label.substr(pos + 1, r.label.find('}', pos) - pos - 1);
      params.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", str()}});
    }
    if (auto it = docs.find(r.method + " " + r.label); it != docs.end()) {
      const OpDoc& d = it->second;
      op["summary"] = d.summary;
      if (!d.request.is_null()) {
        op["requestBody"] = {{"required", true}, {"content", json_content(d.request)}};
      }
      if (!d.response.is_null()) ok["content"] = json_content(d.response);
      for (const auto& [name, description] : d.query) {
        params.push_back({{"name", name},
                          {"in", "query"},
                          {"required", false},
                          {"description", description},
                          {"schema", str()}});
      }
    }
    op["responses"] = {
        {success, ok},
        {"default", {{"description", "An error"}, {"content", json_content(ref("Error"))}}}};
    const bool is_public = r.label.rfind("/api/", 0) != 0 || r.label == "/api/v1/auth/login";
    if (is_public) op["security"] = Json::array();
    if (!params.empty()) op["parameters"] = params;
    paths[r.label][m] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Jizhan API"}, {"version", std::string(version)}}},
          {"paths", paths},
          {"security", Json::array({{{"bearer", Json::array()}}})},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", components()}}}};
}

}  // namespace jz::api
