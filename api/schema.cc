#include "api/schema.h"

#include <cmath>

namespace jz::api::schema {

Json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }
namespace {
Json described(Json s, const std::string& description) {
  if (!description.empty()) s["description"] = description;
  return s;
}
}  // namespace
Json str(const std::string& description) { return described({{"type", "string"}}, description); }
Json integer(const std::string& description) {
  return described({{"type", "integer"}, {"format", "int64"}}, description);
}
Json number(const std::string& description) { return described({{"type", "number"}}, description); }
Json boolean(const std::string& description) {
  return described({{"type", "boolean"}}, description);
}
Json time(const std::string& description) {
  return described({{"type", "string"}, {"format", "date-time"}}, description);
}
Json nullable(Json s) {
  s["nullable"] = true;
  return s;
}
Json one_of_strings(std::vector<std::string> values, const std::string& description) {
  return described({{"type", "string"}, {"enum", std::move(values)}}, description);
}
Json array_of(Json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
Json object(Json properties, const std::vector<std::string>& required) {
  Json o = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = required;
  o["additionalProperties"] = false;
  return o;
}
Json list_of(const std::string& item) {
  return object({{"items", array_of(ref(item))},
                 {"next_page_token", nullable(str("Pass as page_token for the next page"))}},
                {"items", "next_page_token"});
}

namespace {
Json time_string() { return time(); }
// A metric's value: a number, or "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
Json metric_value() {
  return {{"oneOf", Json::array({number(), one_of_strings({"NaN", "Infinity", "-Infinity"})})}};
}
Json open_object(Json properties, const std::vector<std::string>& required = {}) {
  Json o = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = required;
  return o;
}

Json label_job() {
  return open_object({{"id", str()},
                      {"seq", integer("1, 2, ... in the task")},
                      {"images", integer()},
                      {"opened", integer("Images saved at least once")},
                      {"shapes", integer()},
                      {"annotator", str()},
                      {"reviewer", str()},
                      {"state", str("annotating, review, rework or accepted")},
                      {"note", str("The reviewer's, when sent back")},
                      {"reworks", integer()},
                      {"started_at", nullable(time_string())},
                      {"submitted_at", nullable(time_string())},
                      {"accepted_at", nullable(time_string())}},
                     {"id", "seq", "images", "annotator", "reviewer", "state"});
}

// The fields a receiver's body may hold besides its name, channel, config and secret (the
// same when it is created and when it is changed), added to `fields`.
Json with_receiver_options(Json fields) {
  const Json options = {
      {"min_severity", one_of_strings({"info", "warning", "critical"})},
      {"rules", array_of(str())},
      {"enabled", boolean()},
      {"rate_per_minute", integer("1 to 6000 (DingTalk robots: 20)")},
      {"group_by",
       {{"type", "array"},
        {"items", str()},
        {"description",
         "Labels whose values make a group ([\"...\"]: a group per alert; []: no "
         "grouping, each alert at once)"}}},
      {"group_wait", str("A new group waits this long for more (30s; 0s to 1h)")},
      {"group_interval", str("A group that changed waits this long after its last message (5m)")},
      {"repeat_interval", str("A group still firing is sent again this often (4h; 0s: never)")},
      {"language", one_of_strings({"en", "zh-CN"})},
      {"matchers",
       {{"description",
         "Label matchers every alert it takes must satisfy: the text team=\"cv\", "
         "severity=~\"warning|critical\" or a list of {label, op, value}; \"\" or [] "
         "for none"}}},
      {"templates",
       {{"type", "object"},
        {"description",
         "Its own title and text for chat and mail: {{ $status }}, {{ $severity }}, "
         "{{ $count }}, {{ $title }}, {{ $text }}, {{ $link }}, {{ $receiver }}, "
         "{{ $labels.NAME }}, {{ $annotations.NAME }} ({} for the built-in words)"}}}};
  for (const auto& [k, v] : options.items()) fields[k] = v;
  return fields;
}

Json build_components() {
  Json limit = nullable({{"type", "number"}, {"minimum", 0}});
  Json whole_limit = nullable({{"type", "integer"}, {"minimum", 0}});
  return {
      {"Error",
       open_object(
           {{"error",
             open_object({{"code", str("invalid_argument, not_found, permission_denied, ...")},
                          {"message", str("What was wrong and what to do")},
                          {"request_id", str()}},
                         {"code", "message", "request_id"})}},
           {"error"})},
      {"User", open_object({{"username", str()},
                            {"display_name", str()},
                            {"email", str()},
                            {"state", str("active or disabled")},
                            {"platform_role", str("platform-admin or platform-regular")},
                            {"created_at", time_string()}},
                           {"username", "state", "platform_role", "created_at"})},
      {"Token", open_object({{"id", str("tok_...")},
                             {"name", str()},
                             {"kind", str("session or api")},
                             {"project", nullable(str("The one project it may act on"))},
                             {"created_at", time_string()},
                             {"expires_at", time_string()},
                             {"revoked_at", nullable(time_string())}},
                            {"id", "name", "kind", "expires_at"})},
      {"NewToken",
       {{"allOf", Json::array({ref("Token"), open_object({{"token", str("The secret, shown once")}},
                                                         {"token"})})}}},
      {"Workspace",
       open_object({{"name", str()}, {"description", str()}, {"created_at", time_string()}},
                   {"name", "created_at"})},
      {"Project", open_object({{"name", str()},
                               {"workspace", str()},
                               {"description", str()},
                               {"created_at", time_string()}},
                              {"name", "workspace", "created_at"})},
      {"Member", open_object({{"username", str()}, {"role", str()}}, {"username", "role"})},
      {"Role", open_object({{"name", str()},
                            {"scope", str("platform, workspace or project")},
                            {"permissions", {{"type", "array"}, {"items", str("resource:verb")}}},
                            {"builtin", {{"type", "boolean"}}},
                            {"workspace", nullable(str("Custom roles: the workspace it was "
                                                       "made in; null: by a platform admin"))},
                            {"created_by", str("Custom roles: who made it")}},
                           {"name", "scope", "permissions", "builtin"})},
      {"Upload", open_object({{"id", str("upl_...")},
                              {"dataset", str("The dataset it becomes")},
                              {"security_level", str()},
                              {"size", integer()},
                              {"offset", integer("Bytes received; send the next chunk from here")},
                              {"created_at", time_string()},
                              {"expires_at", time_string()}},
                             {"id", "dataset", "size", "offset"})},
      {"Dataset", open_object({{"name", str()},
                               {"security_level", str("open, internal or secret")},
                               {"path", str("Shown to data owners")},
                               {"created_by", str()},
                               {"created_at", time_string()}},
                              {"name", "security_level", "created_at"})},
      {"JobRequest",
       open_object(
           {{"name", str()},
            {"kind", str("train (default), eval or devenv")},
            {"monitor",
             object({{"stalled_minutes", integer("No metric and no log line this long: "
                                                 "TrainingStalled (default 30; 0 off)")},
                     {"progress_every_percent",
                      integer("TrainingProgress at each multiple (default 25; 0 off)")},
                     {"nan", boolean("LossNaN when a loss becomes NaN or infinite (default on)")},
                     {"completion", boolean("TrainingCompleted with the final metrics")},
                     {"milestones", array_of(str("TAG OP NUMBER, such as val/acc >= 0.9"))}})},
            {"command", {{"type", "array"}, {"items", str()}}},
            {"env", {{"type", "object"}, {"additionalProperties", str()}}},
            {"workdir", str("Inside the sandbox; default /job")},
            {"image", str("A container image: the job runs on a Kubernetes cluster, in it "
                          "(default: the cluster's image)")},
            {"datasets", {{"type", "array"}, {"items", str("Dataset name, at /data/NAME")}}},
            {"resources",
             open_object({{"gpus", {{"type", "number"}, {"description", "Below 1: a share"}}},
                          {"gpu_share",
                           open_object({{"memory_mib", integer()}, {"cores_percent", integer()}},
                                       {"memory_mib", "cores_percent"})},
                          {"cpu", {{"type", "number"}}},
                          {"memory_mib", integer()}})},
            {"pool", str()},
            {"priority", integer()},
            {"preemptible", {{"type", "boolean"}}},
            {"tools", boolean("Mount the platform's programs (jizhan-algo) at /opt/jizhan/bin")},
            {"runtime_limit_s", integer()},
            {"restart_policy", str("never or on_failure")},
            {"max_restarts", integer()},
            {"port", integer()},
            {"strip_prefix",
             {{"type", "boolean"},
              {"description",
               "devenv: its server sees paths below /devenvs/ID (default false: the whole "
               "path, JIZHAN_BASE_URL)"}}},
            {"code",
             {{"description",
               "A branch, tag or commit of the project's repository (or {\"ref\": ...}); the "
               "job runs its snapshot, read-only at /code, and records the commit"}}},
            {"code_write", boolean("devenv, set by the platform: the repository at /code.git is "
                                   "writable (its owner may push)")},
            {"inputs", array_of(str("A job of this project whose outputs are at /inputs/ID"))},
            {"environment",
             open_object({{"packages", array_of(str("A Debian package the node must have"))},
                          {"venv", str("A Python venv at /project/venvs/NAME, made on first use")}},
                         {})}},
           {"name", "command"})},
      {"Job", open_object(
                  {{"id", str("job_...")},
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
                   {"progress", object({{"done", integer()},
                                        {"total", integer()},
                                        {"source", one_of_strings({"metrics", "log"})},
                                        {"eta_s", integer("Seconds left at the pace so far")}},
                                       {"done", "total", "source"})},
                   {"url", str("devenv: /devenvs/ID/")},
                   {"idle_stop_at", described(time_string(),
                                              "A running dev environment: when it stops if nothing "
                                              "reaches it")}},
                  {"id", "project", "name", "kind", "state", "attempt", "created_at"})},
      {"JobEvent", open_object({{"seq", integer()},
                                {"time", time_string()},
                                {"from", str()},
                                {"to", str()},
                                {"reason", str()},
                                {"message", str()},
                                {"exit_code", nullable(integer())}},
                               {"seq", "time", "from", "to", "reason"})},
      {"LogPolicy", open_object({{"mode", str("open, blacklist or whitelist")},
                                 {"rules",
                                  {{"type", "array"},
                                   {"items", open_object({{"name", str()},
                                                          {"pattern", str("Hyperscan syntax")},
                                                          {"action", str("drop or redact")},
                                                          {"ignore_case", {{"type", "boolean"}}}},
                                                         {"name", "pattern"})}}},
                                 {"detectors",
                                  {{"type", "object"},
                                   {"description", "true, false or settings (docs/LOGS.md)"}}},
                                 {"max_line_bytes", integer()},
                                 {"rate_bytes_per_s", integer()},
                                 {"total_bytes", integer()},
                                 {"keep_raw", {{"type", "boolean"}}}},
                                {"mode"})},
      {"LogPolicyEntry", open_object({{"level", str("open, internal or secret")},
                                      {"policy", ref("LogPolicy")},
                                      {"edited", {{"type", "boolean"}}},
                                      {"updated_by", str()},
                                      {"updated_at", time_string()}},
                                     {"level", "policy", "edited"})},
      {"JobSettings", open_object({{"allow_egress", {{"type", "boolean"}}},
                                   {"devenv_idle_s", integer()},
                                   {"devenv_gpu_idle_percent", integer()},
                                   {"queued_alert_s", integer()}})},
      {"GpuHolder",
       open_object({{"job", str("The job's id (absent when hidden)")},
                    {"name", str()},
                    {"kind", str("job or devenv")},
                    {"project", str()},
                    {"user", str()},
                    {"hidden", {{"type", "boolean"}, {"description", "Another tenant's job"}}},
                    {"whole", {{"type", "boolean"}}},
                    {"memory_mib", integer()},
                    {"cores_percent", integer()},
                    {"preempting", {{"type", "boolean"}}}},
                   {"whole", "memory_mib", "cores_percent"})},
      {"SchedulerGpu", open_object({{"index", integer()},
                                    {"uuid", str()},
                                    {"model", str()},
                                    {"virtual", {{"type", "boolean"}}},
                                    {"healthy", {{"type", "boolean"}}},
                                    {"memory_mib", integer()},
                                    {"memory_used_mib", integer()},
                                    {"cores_used_percent", integer()},
                                    {"holders", array_of(ref("GpuHolder"))}},
                                   {"index", "memory_mib", "holders"})},
      {"SchedulerNode",
       open_object({{"name", str()},
                    {"cluster", str("\"local\" (this machine) or a cluster's name")},
                    {"schedulable", boolean("false: takes no new job (its cluster "
                                            "stopped answering, or is disabled)")},
                    {"pool", str()},
                    {"flavor", str()},
                    {"cpu", number()},
                    {"cpu_used", number()},
                    {"memory_mib", integer()},
                    {"memory_used_mib", integer()},
                    {"gpus", array_of(ref("SchedulerGpu"))}},
                   {"name", "pool", "gpus"})},
      {"PendingJob", open_object({{"position", integer("Place in the whole queue, from 1")},
                                  {"job", str()},
                                  {"name", str()},
                                  {"kind", str()},
                                  {"project", str()},
                                  {"user", str()},
                                  {"priority", integer()},
                                  {"gpus", number("GPUs asked, all workers (a share: its "
                                                  "charge)")},
                                  {"reason", str("Why it waits, in words")}},
                                 {"position", "job", "project", "reason"})},
      {"SchedulerView",
       open_object({{"nodes", array_of(ref("SchedulerNode"))},
                    {"queue", array_of(ref("PendingJob"))},
                    {"queue_length", integer("Pending jobs of every tenant (non-admins)")},
                    {"projects",
                     array_of(open_object(
                         {{"project", str()},
                          {"gpus_used", number()},
                          {"recent_gpu_hours", number("Fair share's memory: GPU-hours used lately, "
                                                      "halving every hour")},
                          {"gpus_quota", nullable(number("null: no GPU quota"))},
                          {"running_jobs", integer()},
                          {"pending_jobs", integer()}}))},
                    {"gpus_total", number()},
                    {"gpus_allocated", number()},
                    {"policy", one_of_strings({"fgd", "binpack", "spread"},
                                              "Where jobs are placed (config "
                                              "jobs.placement_policy, docs/SCHEDULING.md)")},
                    {"as_of", time_string()}},
                   {"nodes", "queue", "projects"})},
      {"SimulationReport",
       open_object({{"summary",
                     {{"type", "object"},
                      {"description",
                       "hours, jobs, pools {allocated, used}, classes {wait percentiles}, projects "
                       "{entitled, received}, users, preemptions, rejected, decisions"}}},
                    {"series",
                     {{"type", "object"},
                      {"description", "By pool: hour[], allocated[] and used[] (fractions)"}}},
                    {"summary_markdown", str()},
                    {"cluster", str("The cluster YAML simulated")},
                    {"wall_ms", integer()}},
                   {"summary", "series"})},
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
          {"clusters", nullable(array_of(str("A cluster the project's jobs may use (\"local\": "
                                             "this machine); null: any")))},
          {"usage",
           {{"type", "object"},
            {"readOnly", true},
            {"description",
             "What the project uses now (GET only): gpus, gpu_memory_mib (held on its GPUs; a "
             "whole GPU holds all of its memory), per_user_gpus ({user: GPUs}), cpu_cores, "
             "memory_mib, concurrent_jobs (running), pending_jobs, storage_mib"}}}}}}},
      {"AuditRecord", open_object({{"seq", integer()},
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
      {"Event", open_object({{"seq", integer()},
                             {"id", str()},
                             {"time", time_string()},
                             {"project", str("\"\" for an event of a workspace or a user")},
                             {"workspace", str()},
                             {"subject", str("The user it is about")},
                             {"resource_type", str()},
                             {"resource_name", str()},
                             {"type", str("created, updated, deleted or state")},
                             {"reason", str()},
                             {"message", str()},
                             {"actor", str()}},
                            {"seq", "id", "time", "project", "type", "reason"})},
      {"Setting", open_object({{"key", str()},
                               {"value", {{"description", "Any JSON value"}}},
                               {"revision", integer()},
                               {"updated_at", time_string()}},
                              {"key", "value", "revision"})},
      {"DatasetRoot",
       open_object({{"path", str()}, {"created_by", str()}, {"created_at", time_string()}},
                   {"path", "created_at"})},
      {"DatasetFile", open_object({{"path", str()}, {"size", integer()}}, {"path", "size"})},
      {"DatasetVersion",
       open_object({{"id", str()},
                    {"dataset", str()},
                    {"number", integer()},
                    {"parent", nullable(integer("The version it was made from or compared with"))},
                    {"message", str()},
                    {"manifest", str("The SHA-256 of its list of files")},
                    {"files", integer()},
                    {"bytes", integer()},
                    {"new_bytes", integer("Bytes of files no earlier version stored: its cost")},
                    {"added", integer()},
                    {"removed", integer()},
                    {"changed", integer()},
                    {"splits", {{"type", "object"}, {"description", "Split -> files"}}},
                    {"tags", {{"type", "object"}, {"description", "Tag -> files"}}},
                    {"created_by", str()},
                    {"created_at", time_string()},
                    {"archived_at",
                     nullable(time("Set while archived: its files are in the archive store, no "
                                   "job can mount it until it is restored"))}},
                   {"id", "dataset", "number", "files", "bytes", "splits", "tags", "created_at"})},
      {"Conversion",
       open_object({{"id", str()},
                    {"dataset", str()},
                    {"version", integer("The version converted")},
                    {"job_id", str()},
                    {"state", str("queued, running, done, failed or cancelled")},
                    {"message", str()},
                    {"request", {{"type", "object"},
                                 {"description", "from, to, input, images, output, message"}}},
                    {"result_version", nullable(integer("The version it made"))},
                    {"files", integer("Files it wrote")},
                    {"created_by", str()},
                    {"created_at", time_string()},
                    {"finished_at", nullable(time_string())}},
                   {"id", "dataset", "version", "state", "request", "created_at"})},
      {"CurationDefaults",
       open_object({{"options",
                     {{"type", "object"},
                      {"description", "radius, min_sharpness, min_brightness, max_brightness, "
                                      "min_width, min_height, brisque, max_brisque"}}},
                    {"updated_by", nullable(str("null while the built-in thresholds apply"))},
                    {"updated_at", nullable(time_string())}},
                   {"options"})},
      {"PreAnnotation",
       open_object(
           {{"id", str()},
            {"job_id", str("The job that ran the algorithm")},
            {"state", str("queued, running, done, failed or cancelled")},
            {"message", str()},
            {"request", {{"type", "object"}, {"description", "algorithm, version, "
                                                             "min_confidence, from, classes, gpus"}}},
            {"summary",
             {{"type", "object"},
              {"description", "frames, images (given shapes), shapes, touched (saved by a person: "
                              "left alone), errors, not_in_task, dropped {reason: objects}"}}},
            {"created_by", str()},
            {"created_at", time_string()},
            {"finished_at", nullable(time_string())}},
           {"id", "job_id", "state", "request", "summary", "created_at"})},
      {"LifecycleRule",
       open_object({{"action", str("keep, archive or delete")},
                    {"after_days", integer("Only what is at least this many days old")},
                    {"tag", nullable(str("Files with this tag (a file rule)"))},
                    {"split", nullable(str("Files in this split (a file rule)"))},
                    {"version", nullable(integer("Only this version (a version rule)"))},
                    {"keep_newest", integer("Never the newest this many versions")}},
                   {"action", "after_days", "keep_newest"})},
      {"LifecyclePolicy",
       open_object({{"rules", array_of(ref("LifecycleRule"))},
                    {"automatic", boolean("Applied once a day without a person")},
                    {"updated_by", nullable(str())},
                    {"updated_at", nullable(time_string())},
                    {"last_run_at", nullable(time_string())},
                    {"last_result",
                     {{"type", "object"},
                      {"description", "What the last run did: files_removed, new_version, "
                                      "archived, deleted, by"}}}},
                   {"rules", "automatic"})},
      {"LifecyclePlan",
       open_object(
           {{"dataset", str()},
            {"at", time_string()},
            {"newest", nullable(integer("The version the file rules looked at"))},
            {"files_removed", integer("Files a new version leaves out")},
            {"file_bytes", integer()},
            {"files_kept", integer("Files a keep rule protected")},
            {"files",
             nullable(array_of(open_object({{"path", str()},
                                            {"bytes", integer()},
                                            {"age_days", integer()},
                                            {"rule", integer("1-based")}},
                                           {"path", "rule"})))},
            {"versions",
             array_of(open_object({{"number", integer()},
                                   {"action", str("archive, delete, keep, busy (left alone) "
                                                  "or failed")},
                                   {"rule", nullable(integer())},
                                   {"age_days", integer()},
                                   {"bytes", integer()},
                                   {"reason", str()}},
                                  {"number", "action", "reason"}))},
            {"new_version", nullable(integer("The version applying made"))}},
           {"dataset", "at", "files_removed", "files_kept", "versions"})},
      {"Curation",
       open_object({{"id", str()},
                    {"dataset", str()},
                    {"version", integer("The version curated")},
                    {"job_id", str("The job that hashed and checked it")},
                    {"state", str("queued, running, review, applied, failed or cancelled")},
                    {"message", str()},
                    {"options", {{"type", "object"}}},
                    {"summary",
                     {{"type", "object"},
                      {"description",
                       "images, flagged, groups, proposals, pending, confirmed, rejected, "
                       "algorithm"}}},
                    {"applied_version", nullable(integer("The version applying it made"))},
                    {"created_by", str()},
                    {"created_at", time_string()},
                    {"finished_at", nullable(time_string())}},
                   {"id", "dataset", "version", "state", "summary", "created_at"})},
      {"Proposal", open_object({{"path", str()},
                                {"kind", str("duplicate or quality")},
                                {"reason", str()},
                                {"keep", nullable(str("A duplicate's group's kept image"))},
                                {"distance", integer("Bits from the kept image's hash")},
                                {"decision", str("pending, confirmed or rejected")},
                                {"decided_by", str()},
                                {"decided_at", nullable(time_string())}},
                               {"path", "kind", "reason", "decision"})},
      {"LabelTask",
       open_object({{"id", str()},
                    {"name", str()},
                    {"dataset", str()},
                    {"version", integer("The version labelled")},
                    {"spec", {{"type", "object"}, {"description", "classes, shapes, attributes"}}},
                    {"state", str("open or exported")},
                    {"images", integer()},
                    {"jobs", {{"type", "object"}, {"description", "job state -> jobs"}}},
                    {"exported_version", nullable(integer("The version the export made"))},
                    {"created_by", str()},
                    {"created_at", time_string()}},
                   {"id", "name", "dataset", "version", "spec", "state", "images", "jobs"})},
      {"LabelJob", label_job()},
      {"LabelWork", [] {
         Json j = label_job();
         j["properties"]["task"] = str();
         j["properties"]["task_id"] = str();
         j["properties"]["dataset"] = str();
         j["properties"]["role"] = one_of_strings({"annotate", "review"});
         for (const char* f : {"task", "task_id", "dataset", "role"}) j["required"].push_back(f);
         return j;
       }()},
      {"LabelJobDetail", [] {
         Json j = label_job();
         j["properties"]["task"] = ref("LabelTask");
         j["properties"]["items"] = array_of(open_object(
             {{"path", str()},
              {"width", integer("0 until the image is first saved")},
              {"height", integer()},
              {"shapes", array_of({{"type", "object"}})},
              {"submitted", {{"description", "The shapes as the annotator last submitted them"}}},
              {"source", str("human or model")},
              {"updated_by", str()}},
             {"path", "width", "height", "shapes"}));
         for (const char* f : {"task", "items"}) j["required"].push_back(f);
         return j;
       }()},
      {"VersionFile",
       open_object(
           {{"path", str()},
            {"sha256", str()},
            {"size", integer()},
            {"split", str()},
            {"tags", array_of(str())},
            {"quality",
             nullable(open_object({{"algorithm", str()},
                                   {"phash", str()},
                                   {"width", integer()},
                                   {"height", integer()},
                                   {"sharpness", number()},
                                   {"brightness", number()},
                                   {"problems", str("What it fails (\"\": nothing)")}},
                                  {"problems"}))},
            {"duplicate_of", nullable(str("The kept image of its duplicate group"))},
            {"in_group", boolean("In a duplicate group the newest check found")}},
           {"path", "sha256", "size", "split", "tags"})},
      {"OutputFile",
       open_object({{"path", str("Relative to /output")},
                    {"size", integer()},
                    {"sha256", str("Absent while the outputs are held (and you are no reviewer)")}},
                   {"path", "size"})},
      {"JobOutputs",
       open_object({{"job_id", str()},
                    {"state", str("open, held, released or expired")},
                    {"level", str("The strictest data the job read: open, internal or secret")},
                    {"files", integer()},
                    {"bytes", integer()},
                    {"truncated", boolean("More files than were listed")},
                    {"skipped", str("What was not kept (links, special files)")},
                    {"recorded_at", time_string()},
                    {"expires_at", time_string()},
                    {"downloadable", boolean("Whether you may download them")},
                    {"release", nullable(ref("Release"))}},
                   {"job_id", "state", "level", "files", "bytes", "downloadable"})},
      {"AlertRule",
       open_object({{"rule", str("job_failed, job_oom_killed, job_lost, job_succeeded, gpu_idle, "
                                 "gpu_unhealthy, gpu_share_memory_high, node_disk_full, "
                                 "devenv_idle_soon, job_queued_long, quota_nearly_used, "
                                 "node_down, training_stalled, training_nan, "
                                 "training_milestone, training_progress, training_completed")},
                    {"enabled", boolean()},
                    {"severity", one_of_strings({"info", "warning", "critical"})},
                    {"set_by", one_of_strings({"default", "platform", "workspace", "project"},
                                              "Where the setting comes from")},
                    {"summary", str()},
                    {"reasons", array_of(str("The event reasons it fires on"))},
                    {"expr", str("A rule over metrics: its expression (\"\": over events)")}},
                   {"rule", "enabled", "severity", "set_by"})},
      {"AlertRulePatch",
       object({{"enabled", boolean()},
               {"severity", one_of_strings({"info", "warning", "critical"})},
               {"reset", boolean("true: drop this scope's setting (the next scope's applies)")}})},
      {"Silence",
       open_object(
           {{"id", str("sil_...")},
            {"matchers", array_of(open_object({{"label", str()},
                                               {"op", one_of_strings({"=", "!=", "=~", "!~"})},
                                               {"value", str()}},
                                              {"label", "op", "value"}))},
            {"starts_at", time_string()},
            {"ends_at", time_string()},
            {"state", one_of_strings({"pending", "active", "expired"})},
            {"created_by", str()},
            {"comment", str()}},
           {"id", "matchers", "starts_at", "ends_at", "state", "comment"})},
      {"SilenceCreate", object({{"matchers",
                                 {{"description",
                                   "A list of {label, op, value}, or the text "
                                   "alertname=\"job_failed\", job=~\"a.*\""}}},
                                {"starts_at", time_string()},
                                {"ends_at", time_string()},
                                {"duration", str("Instead of ends_at: 30m, 2h, 1d")},
                                {"comment", str("Why (required)")}},
                               {"matchers", "comment"})},
      {"Inhibition", open_object({{"id", str("inh_...")},
                                  {"source", array_of({{"type", "object"}})},
                                  {"target", array_of({{"type", "object"}})},
                                  {"equal", array_of(str())},
                                  {"comment", str()},
                                  {"created_by", str()},
                                  {"created_at", time_string()}},
                                 {"id", "source", "target", "equal", "comment"})},
      {"InhibitionCreate",
       object({{"source",
                {{"description",
                  "Matchers of the alerts that hold others back while they fire "
                  "(text or a list, as a silence's)"}}},
               {"target", {{"description", "Matchers of the alerts held back"}}},
               {"equal", array_of(str("Labels the two must share"))},
               {"comment", str("Why (required)")}},
              {"source", "target", "comment"})},
      {"CustomRule",
       open_object({{"id", str("arl_...")},
                    {"name", str()},
                    {"scope", one_of_strings({"platform", "workspace", "project"})},
                    {"expr", str("PromQL subset (docs/ALERTS.md), as stored (canonical)")},
                    {"for", str("Pending this long before firing (5m)")},
                    {"severity", one_of_strings({"info", "warning", "critical"})},
                    {"labels", {{"type", "object"}, {"additionalProperties", str()}}},
                    {"annotations", {{"type", "object"}, {"additionalProperties", str()}}},
                    {"enabled", boolean()},
                    {"created_by", str()},
                    {"created_at", time_string()}},
                   {"id", "name", "expr", "for", "severity", "labels", "annotations", "enabled"})},
      {"CustomRuleCreate",
       object({{"name", str()},
               {"expr", str("PromQL subset; a project's rule sees only its series")},
               {"for", str("A duration: 30s, 5m, 1h30m (default 0s)")},
               {"severity", one_of_strings({"info", "warning", "critical"})},
               {"labels", {{"type", "object"}, {"additionalProperties", str()}}},
               {"annotations",
                {{"type", "object"},
                 {"additionalProperties", str()},
                 {"description",
                  "summary, description; {{ $labels.NAME }} and {{ $value }} are filled in"}}},
               {"enabled", boolean()}},
              {"name", "expr"})},
      {"CustomRulePatch",
       object({{"expr", str()},
               {"for", str()},
               {"severity", one_of_strings({"info", "warning", "critical"})},
               {"labels", {{"type", "object"}, {"additionalProperties", str()}}},
               {"annotations", {{"type", "object"}, {"additionalProperties", str()}}},
               {"enabled", boolean()}})},
      {"AlertPreviewRequest", object({{"expr", str()}}, {"expr"})},
      {"AlertPreview",
       open_object(
           {{"samples", array_of(open_object(
                            {{"labels", {{"type", "object"}, {"additionalProperties", str()}}},
                             {"value", number()}},
                            {"labels", "value"}))}},
           {"samples"})},
      {"ActiveAlert",
       open_object(
           {{"fingerprint", str()},
            {"rule", str()},
            {"state", one_of_strings({"pending", "firing"})},
            {"labels", {{"type", "object"}, {"additionalProperties", str()}}},
            {"annotations", {{"type", "object"}, {"additionalProperties", str()}}},
            {"value", number()},
            {"active_since", time_string()},
            {"fired_at", time_string()}},
           {"fingerprint", "rule", "state", "labels", "annotations", "value", "active_since"})},
      {"Receiver",
       open_object({{"id", str("rcv_...")},
                    {"name", str()},
                    {"scope", one_of_strings({"platform", "workspace", "project", "user"})},
                    {"channel",
                     one_of_strings({"webhook", "slack", "dingtalk", "wecom", "feishu", "email"})},
                    {"config",
                     {{"type", "object"},
                      {"description",
                       "url (smtp_url, from, to, "
                       "username for email)"}}},
                    {"has_secret", boolean("A secret is set (it is never shown)")},
                    {"min_severity", one_of_strings({"info", "warning", "critical"})},
                    {"rules", array_of(str())},
                    {"enabled", boolean()},
                    {"rate_per_minute", integer()},
                    {"matchers", array_of({{"type", "object"}})},
                    {"templates", {{"type", "object"}}},
                    {"group_by", array_of(str())},
                    {"group_wait", str()},
                    {"group_interval", str()},
                    {"repeat_interval", str()},
                    {"language", one_of_strings({"en", "zh-CN"})},
                    {"created_by", str()},
                    {"created_at", time_string()}},
                   {"id", "name", "channel", "config", "has_secret", "min_severity", "rules",
                    "enabled", "rate_per_minute", "group_by", "group_wait", "group_interval",
                    "repeat_interval", "language"})},
      {"ReceiverCreate",
       object(with_receiver_options(
                  {{"name", str("1 to 63 lower-case letters, digits, '-' or '_'")},
                   {"channel",
                    one_of_strings({"webhook", "slack", "dingtalk", "wecom", "feishu", "email"})},
                   {"config", {{"type", "object"}}},
                   {"secret",
                    str("Signing secret, robot secret or SMTP password; stored encrypted")}}),
              {"name", "channel", "config"})},
      {"ReceiverPatch", object(with_receiver_options({{"config", {{"type", "object"}}},
                                                      {"secret", str("\"\" removes it")}}))},
      {"InboxItem",
       open_object({{"id", str("inb_...")},
                    {"rule", str()},
                    {"severity", one_of_strings({"info", "warning", "critical"})},
                    {"title", str()},
                    {"labels", {{"type", "object"}, {"additionalProperties", str()}}},
                    {"link", str("The console page it is about")},
                    {"created_at", time_string()},
                    {"read", boolean()}},
                   {"id", "rule", "severity", "title", "labels", "link", "created_at", "read"})},
      {"TrainingRun",
       open_object(
           {{"id", str("run_...")},
            {"name", str()},
            {"owner", str("The user who logs to it")},
            {"job_id", nullable(str("The job it belongs to"))},
            {"state", one_of_strings({"running", "finished"})},
            {"config", {{"type", "object"}, {"additionalProperties", true}}},
            {"last", {{"type", "object"}, {"additionalProperties", true}}},
            {"points", integer("Points logged")},
            {"progress",
             nullable(object({{"done", integer()}, {"total", integer()}}, {"done", "total"}))},
            {"created_at", time_string()},
            {"updated_at", time_string()},
            {"finished_at", nullable(time_string())},
            {"tags", array_of(str())},
            {"notes", array_of(object({{"time", time_string()}, {"text", str()}}))},
            {"channel",
             object({{"points", integer("Points the job's metrics channel stored")},
                     {"records", integer("Other records it passed")},
                     {"dropped", {{"type", "object"}, {"additionalProperties", integer()}}}})}},
           {"id", "name", "owner", "state", "config", "last", "points", "created_at"})},
      {"Suite",
       open_object(
           {{"id", str("suite_...")},
            {"name", str()},
            {"version", integer("Each change makes a new one")},
            {"description", str()},
            {"dataset", str("The samples")},
            {"input", str("Inside the dataset; empty: all of it")},
            {"level", one_of_strings({"open", "internal", "secret"}, "The dataset's level")},
            {"template_name", str()},
            {"template", str("YAML or JSON (the full view)")},
            {"annotations_file", str()},
            {"annotations_bytes", integer()},
            {"thresholds", array_of(str("NAME OP NUMBER"))},
            {"frame_timeout_s", integer()},
            {"fps", number()},
            {"max_frames", integer()},
            {"runtime_limit_s", integer()},
            {"created_by", str()},
            {"created_at", time_string()},
            {"updated_at", time_string()}},
           {"id", "name", "version", "dataset", "level", "thresholds", "created_at"})},
      {"Algorithm",
       open_object({{"id", str("algo_...")},
                    {"name", str()},
                    {"version", str()},
                    {"publisher", str("The signing key's name")},
                    {"key_id", str()},
                    {"sha256", str()},
                    {"size", integer()},
                    {"licence_required", boolean()},
                    {"state", one_of_strings({"checking", "ready", "failed"})},
                    {"checks", array_of({{"type", "object"}})},
                    {"message", str()},
                    {"uploaded_by", str()},
                    {"created_at", time_string()}},
                   {"id", "name", "version", "publisher", "state", "sha256", "created_at"})},
      {"Evaluation",
       open_object(
           {{"id", str("eval_...")},
            {"suite", str()},
            {"suite_version", integer()},
            {"suite_level", str()},
            {"algorithm", str()},
            {"algorithm_version", str()},
            {"job_id", str("The eval job that ran it")},
            {"state", one_of_strings({"queued", "running", "scoring", "passed", "failed", "error",
                                      "cancelled"})},
            {"message", str()},
            {"owner", str()},
            {"config", nullable({{"type", "object"}})},
            {"result",
             nullable(open_object({{"metrics", {{"type", "object"}}},
                                   {"samples", {{"type", "object"}}},
                                   {"performance", {{"type", "object"}}},
                                   {"errors", {{"type", "object"}}},
                                   {"thresholds", array_of({{"type", "object"}})},
                                   {"passed", boolean()},
                                   {"redacted", boolean("Sample-level results left out")}},
                                  {}))},
            {"full", boolean("Whether you see sample-level results")},
            {"created_at", time_string()},
            {"finished_at", nullable(time_string())}},
           {"id", "suite", "algorithm", "algorithm_version", "job_id", "state", "created_at"})},
      {"Cluster",
       open_object(
           {{"name", str("\"local\" for this machine")},
            {"region", str()},
            {"kind", one_of_strings({"local", "kubernetes"})},
            {"server", str("The API server's address")},
            {"context", str()},
            {"credentials", str("kubeconfig or in_cluster (never shown)")},
            {"enabled", boolean()},
            {"state", one_of_strings({"ready", "unreachable", "disabled"})},
            {"reason", str("Why it is not ready")},
            {"nodes", integer()},
            {"ready_nodes", integer()},
            {"gpus", integer()},
            {"cpu", number()},
            {"memory_mib", integer()},
            {"namespace_prefix", nullable(str())},
            {"image", nullable(str())},
            {"pool", nullable(str())},
            {"node_selector", nullable(str())},
            {"volumes", nullable(array_of(object(
                            {{"server_path", str()}, {"claim", str()}, {"host_path", str()}})))},
            {"output_claim", nullable(str())},
            {"runtime_class", nullable(str())},
            {"image_pull_secrets", nullable(array_of(str()))},
            {"priority_class", nullable(str())},
            {"created_by", str()},
            {"created_at", time_string()},
            {"updated_at", time_string()}},
           {"name", "kind", "enabled", "state", "nodes", "gpus"})},
      {"Listing",
       open_object(
           {{"id", str()},
            {"project", str("The seller's project")},
            {"name", str("The algorithm's package name")},
            {"title", str()},
            {"description", str()},
            {"details", open_object({{"inputs", array_of(str())},
                                     {"hardware", open_object(Json::object())},
                                     {"tags", array_of(str())}},
                                    {})},
            {"tiers", array_of(object({{"name", str()},
                                       {"channels", integer("0: unlimited")},
                                       {"qps", number("Frames a second; 0: unlimited")},
                                       {"term_days", integer()},
                                       {"price", str()}}))},
            {"visibility", one_of_strings({"public", "workspace", "customers"})},
            {"customers", array_of(str("A customer's workspace"))},
            {"versions", array_of(open_object({{"version", str()},
                                               {"sha256", str()},
                                               {"size", integer()},
                                               {"reports", array_of(open_object(Json::object()))},
                                               {"notes", str()},
                                               {"created_by", str()},
                                               {"created_at", time_string()}},
                                              {"version", "sha256"}))},
            {"created_by", str()},
            {"created_at", time_string()},
            {"updated_at", time_string()},
            {"yours", object({{"sell", boolean("You may sell it (order:create)")},
                              {"manage", boolean("You may change it (listing:update)")}},
                             {"sell", "manage"})}},
           {"id", "project", "name", "title", "tiers", "visibility", "versions"})},
      {"Order",
       open_object(
           {{"id", str()},
            {"listing", str()},
            {"tier", str()},
            {"customer", str()},
            {"seats", integer()},
            {"codes_per", one_of_strings({"seat", "order"})},
            {"channels", integer()},
            {"qps", number()},
            {"valid_until", time_string()},
            {"codes", array_of(open_object({{"id", str()},
                                            {"code", str("The activation code")},
                                            {"seats", integer()},
                                            {"used", integer()},
                                            {"state", one_of_strings({"active", "revoked"})},
                                            {"reason", str()},
                                            {"revoked_at", time_string()}},
                                           {"id", "code", "seats", "used", "state"}))},
            {"created_by", str()},
            {"created_at", time_string()}},
           {"id", "listing", "tier", "customer", "seats", "codes"})},
      {"Activation",
       open_object({{"licence", str("The signed licence file's text (.jzlic)")},
                    {"licence_id", str()},
                    {"valid_until", time_string()},
                    {"algorithm", str()},
                    {"project", str()},
                    {"version", str("The version to install")},
                    {"sha256", str("The package's")},
                    {"size", integer()},
                    {"download", str("Where to download the package (one hour)")},
                    {"publisher", open_object(Json::object())},
                    {"renewed", boolean("This machine had activated the code before")}},
                   {"licence", "licence_id", "algorithm", "version", "sha256", "download"})},
      {"Competition",
       open_object(
           {{"id", str("comp_...")},
            {"name", str()},
            {"title", str()},
            {"public_suite", str()},
            {"hidden_suite", str()},
            {"rank_by", str()},
            {"higher_is_better", boolean()},
            {"opens_at", time_string()},
            {"closes_at", time_string()},
            {"daily_limit", integer()},
            {"verify_top", integer()},
            {"columns", array_of(object({{"name", str()}, {"path", str()}}))},
            {"tolerances", {{"type", "object"}}},
            {"teams", {{"type", "object"}}},
            {"state", one_of_strings({"open", "verifying", "verified"})},
            {"your_team", str("Your team, or empty")},
            {"created_by", str()},
            {"created_at", time_string()}},
           {"id", "name", "public_suite", "hidden_suite", "opens_at", "closes_at", "state"})},
      {"Submission", open_object({{"id", str("sub_...")},
                                  {"team", str()},
                                  {"user", str()},
                                  {"split", one_of_strings({"public", "hidden"})},
                                  {"algorithm", str()},
                                  {"version", str()},
                                  {"csv_sha256", str()},
                                  {"state", one_of_strings({"scored", "error"})},
                                  {"message", str()},
                                  {"score", nullable(number("Hidden split: after the close"))},
                                  {"created_at", time_string()}},
                                 {"id", "team", "split", "state", "created_at"})},
      {"Verdict",
       open_object({{"id", str("vrd_...")},
                    {"team", str()},
                    {"submission", str()},
                    {"evaluation", str("The re-run")},
                    {"state", one_of_strings({"running", "done"})},
                    {"document", nullable({{"type", "object"},
                                           {"description",
                                            "The signed envelope: payload, key_id, signature"}})},
                    {"created_at", time_string()}},
                   {"id", "team", "submission", "state"})},
      {"Series",
       open_object({{"run", str()},
                    {"tag", str()},
                    {"total", integer("Points in the series")},
                    {"in_range", integer("Of them, in the range asked")},
                    {"reduced", boolean("Fewer points returned than in the range")},
                    {"points", array_of(open_object({{"x", number()},
                                                     {"step", integer()},
                                                     {"time", integer("Unix milliseconds")},
                                                     {"value", metric_value()},
                                                     {"smoothed", metric_value()},
                                                     {"min", metric_value()},
                                                     {"max", metric_value()},
                                                     {"count", integer()}},
                                                    {"x", "step", "time", "value"}))}},
                   {"run", "tag", "total", "in_range", "reduced", "points"})},
      {"Subscription", open_object({{"rule", str()}, {"subscribed", boolean()}, {"summary", str()}},
                                   {"rule", "subscribed"})},
      {"ReceiverTest",
       open_object({{"ok", boolean()},
                    {"code", integer("HTTP status or SMTP reply; 0: no answer")},
                    {"detail", str("What the receiver answered, or why nothing was sent")}},
                   {"ok", "code", "detail"})},
      {"Notification",
       open_object(
           {{"id", str("ntf_...")},
            {"receiver", str()},
            {"rule", str()},
            {"severity", str()},
            {"title", str()},
            {"state", one_of_strings({"pending", "delivered", "failed", "cancelled", "silenced",
                                      "inhibited"})},
            {"attempts", integer()},
            {"created_at", time_string()},
            {"next_attempt_at", time_string()},
            {"delivered_at", time_string()},
            {"last_code", integer()},
            {"last_answer", str()}},
           {"id", "receiver", "rule", "severity", "title", "state", "attempts", "created_at"})},
      {"Release", open_object({{"id", str("rel_...")},
                               {"job_id", str()},
                               {"state", str("pending, approved, refused or superseded")},
                               {"reason", str()},
                               {"requester", str()},
                               {"reviewer", str()},
                               {"comment", str()},
                               {"created_at", time_string()},
                               {"decided_at", time_string()}},
                              {"id", "job_id", "state", "reason", "requester", "created_at"})},
      {"ProjectCode",
       open_object(
           {{"clone_path", str("Append to the server's URL: git clone URL/git/PROJECT")},
            {"may_push", boolean()},
            {"ref", str("Whose commits are listed")},
            {"branches",
             array_of(open_object({{"name", str()}, {"commit", str()}}, {"name", "commit"}))},
            {"commits",
             array_of(open_object(
                 {{"id", str()}, {"author", str()}, {"subject", str()}, {"time", time_string()}},
                 {"id", "author", "subject", "time"}))}},
           {"clone_path", "may_push", "branches", "commits"})},
      {"Login",
       open_object({{"token", str("the session token (absent with cookie: true)")},
                    {"csrf_token", str("with cookie: true, the X-CSRF-Token of the session")},
                    {"expires_at", time_string()},
                    {"user", open_object({{"username", str()}, {"platform_role", str()}})}},
                   {"expires_at"})},
  };
}

bool is_integer(const Json& v) {
  return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                   v.get<double>() == std::floor(v.get<double>()));
}

std::string where(const std::string& path) {
  return path.empty() ? std::string("the request body") : "field '" + path + "'";
}

std::string article(const std::string& type) {
  if (type == "integer" || type == "object" || type == "array") return "an " + type;
  return "a " + type;
}

const Json& resolve(const Json& schema) {
  const Json* s = &schema;
  for (int depth = 0; depth < 8 && s->is_object() && s->contains("$ref"); ++depth) {
    const std::string r = (*s)["$ref"].get<std::string>();
    const std::string name = r.substr(r.rfind('/') + 1);
    const Json& all = components();
    if (!all.contains(name)) break;
    s = &all[name];
  }
  return *s;
}

Status check(const Json& v, const Json& raw, const std::string& path) {
  const Json& s = resolve(raw);
  if (!s.is_object()) return {};
  if (s.contains("allOf")) {
    for (const auto& part : s["allOf"]) JZ_RETURN_IF_ERROR(check(v, part, path));
  }
  if (v.is_null()) {
    if (s.value("nullable", false) || !s.contains("type")) return {};
    return Status::invalid_argument(where(path) + " must not be null");
  }
  if (s.contains("type")) {
    const std::string type = s["type"].get<std::string>();
    bool ok = type == "string"    ? v.is_string()
              : type == "integer" ? is_integer(v)
              : type == "number"  ? v.is_number()
              : type == "boolean" ? v.is_boolean()
              : type == "object"  ? v.is_object()
              : type == "array"   ? v.is_array()
                                  : true;
    if (!ok) {
      return Status::invalid_argument(where(path) + " must be " + article(type) + ", got " +
                                      std::string(json::type_phrase(v)));
    }
  }
  if (s.contains("enum")) {
    bool found = false;
    std::string list;
    for (const auto& e : s["enum"]) {
      found = found || e == v;
      list += (list.empty() ? "" : ", ") + (e.is_string() ? e.get<std::string>() : e.dump());
    }
    if (!found) return Status::invalid_argument(where(path) + " must be one of: " + list);
  }
  if (v.is_string()) {
    const size_t n = v.get_ref<const std::string&>().size();
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) {
      return Status::invalid_argument(where(path) + " must be at least " +
                                      std::to_string(s["minLength"].get<size_t>()) + " characters");
    }
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) {
      return Status::invalid_argument(where(path) + " must be at most " +
                                      std::to_string(s["maxLength"].get<size_t>()) + " characters");
    }
  }
  if (v.is_number()) {
    const double d = v.get<double>();
    auto bound = [&](const char* key) { return s[key].get<double>(); };
    auto text = [&](const char* key) { return s[key].dump(); };
    if (s.contains("minimum") && d < bound("minimum")) {
      return Status::invalid_argument(where(path) + " must be at least " + text("minimum"));
    }
    if (s.contains("maximum") && d > bound("maximum")) {
      return Status::invalid_argument(where(path) + " must be at most " + text("maximum"));
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) {
      return Status::invalid_argument(where(path) + " must hold at least " + s["minItems"].dump() +
                                      " items");
    }
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) {
      return Status::invalid_argument(where(path) + " must hold at most " + s["maxItems"].dump() +
                                      " items");
    }
    if (s.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        JZ_RETURN_IF_ERROR(check(v[i], s["items"], path + "[" + std::to_string(i) + "]"));
      }
    }
  }
  if (v.is_object()) {
    const Json empty = Json::object();
    const Json& props = s.contains("properties") ? s["properties"] : empty;
    if (s.contains("required")) {
      for (const auto& r : s["required"]) {
        const std::string name = r.get<std::string>();
        if (!v.contains(name)) {
          return Status::invalid_argument("field '" + (path.empty() ? "" : path + ".") + name +
                                          "' is required");
        }
      }
    }
    for (const auto& [k, item] : v.items()) {
      const std::string sub = path.empty() ? k : path + "." + k;
      if (props.contains(k)) {
        if (resolve(props[k]).value("readOnly", false)) continue;
        JZ_RETURN_IF_ERROR(check(item, props[k], sub));
        continue;
      }
      if (!s.contains("additionalProperties")) continue;
      const Json& extra = s["additionalProperties"];
      if (extra.is_boolean() && !extra.get<bool>()) {
        std::string list;
        for (const auto& [name, p] : props.items()) list += (list.empty() ? "" : ", ") + name;
        return Status::invalid_argument("field '" + sub + "' is unknown here; the fields are: " +
                                        (list.empty() ? std::string("none") : list));
      }
      if (extra.is_object()) JZ_RETURN_IF_ERROR(check(item, extra, sub));
    }
  }
  return {};
}

}  // namespace

const Json& components() {
  static const Json all = build_components();
  return all;
}

Status validate(const Json& value, const Json& schema) {
  if (schema.is_null()) return {};
  return check(value, schema, "");
}

}  // namespace jz::api::schema
