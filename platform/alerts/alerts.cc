#include "platform/alerts/alerts.h"

#include <algorithm>
#include <cmath>

#include "core/hash.h"

namespace jz::alerts {

namespace {

const std::vector<BuiltinRule> kRules = {
    {"job_failed",
     "warning",
     true,
     {"Failed", "PidsLimit", "Rejected", "Unschedulable", "DeadlineExceeded",
      "StorageQuotaExceeded"},
     "A job failed"},
    {"job_oom_killed",
     "warning",
     true,
     {"OOMKilled"},
     "A job was killed for running out of memory"},
    {"job_lost", "critical", true, {"Lost"}, "A job was lost (its supervisor is gone)"},
    {"job_succeeded", "info", true, {"Succeeded"}, "A job finished"},
    {"gpu_idle", "warning", true, {"GpuIdle"}, "A job holds GPUs it does not use"},
    {"gpu_unhealthy", "critical", true, {"GpuUnhealthy"}, "A GPU is out of service"},
    {"job_queued_long",
     "warning",
     true,
     {"QueuedTooLong"},
     "A job has waited in the queue longer than its project allows"},
    {"devenv_idle_soon",
     "warning",
     true,
     {"IdleSoon"},
     "A dev environment is about to be stopped for idleness"},
    {"quota_nearly_used",
     "warning",
     true,
     {"QuotaNearlyUsed"},
     "A project holds 90 % of its GPU quota"},
    {"training_stalled",
     "warning",
     true,
     {"TrainingStalled"},
     "A training job has logged nothing for a while"},
    {"training_nan", "critical", true, {"LossNaN"}, "A training job's loss became NaN or infinite"},
    {"training_milestone",
     "info",
     true,
     {"MilestoneReached"},
     "A training job reached a milestone its owner set"},
    {"training_progress", "info", true, {"TrainingProgress"}, "A training job's progress"},
    {"training_completed",
     "info",
     true,
     {"TrainingCompleted"},
     "A training job finished, with its final metrics"},
    {"gpu_share_memory_high",
     "warning",
     true,
     {},
     "A GPU share uses over 90 % of its GPU-memory limit",
     "jizhan_job_gpu_memory_used_mib / jizhan_job_gpu_memory_limit_mib > 0.9",
     60'000},
    {"node_disk_full",
     "critical",
     true,
     {},
     "A node's disk is over 90 % full",
     "jizhan_node_filesystem_avail_bytes / jizhan_node_filesystem_size_bytes < 0.1",
     300'000,
     /*platform_only=*/true},
    {"node_down",
     "critical",
     true,
     {},
     "A node's agent does not answer",
     "jizhan_node_up == 0",
     60'000,
     /*platform_only=*/true},
};

// The rules' summaries in Chinese (the console's words: web/src/i18n/zh-CN.ts).
const std::map<std::string, std::string> kSummaryZh = {
    {"job_failed", "作业失败"},
    {"job_oom_killed", "作业内存不足被终止"},
    {"job_lost", "作业丢失"},
    {"job_succeeded", "作业完成"},
    {"gpu_idle", "作业占用 GPU 但未使用"},
    {"gpu_unhealthy", "GPU 停止服务"},
    {"job_queued_long", "作业排队时间超过项目上限"},
    {"devenv_idle_soon", "开发环境即将因空闲被停止"},
    {"quota_nearly_used", "项目已使用 90% 的 GPU 配额"},
    {"training_stalled", "训练作业一段时间内没有任何输出"},
    {"training_nan", "训练作业的损失变为 NaN 或无穷大"},
    {"training_milestone", "训练作业达到所有者设定的里程碑"},
    {"training_progress", "训练作业的进度"},
    {"training_completed", "训练结束，附最终指标"},
    {"gpu_share_memory_high", "GPU 共享份额的显存用量超过上限的 90%"},
    {"node_disk_full", "节点磁盘已用超过 90%"},
    {"node_down", "节点代理无响应"},
};

// The rules about a job that its owner may follow for their own jobs (on by default).
const std::set<std::string> kPersonal = {
    "job_failed",   "job_oom_killed",     "job_lost",          "job_succeeded",
    "gpu_idle",     "job_queued_long",    "devenv_idle_soon",  "training_stalled",
    "training_nan", "training_milestone", "training_progress", "training_completed"};

const BuiltinRule* rule_by_id(const std::string& id) {
  for (const auto& r : kRules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

const BuiltinRule* rule_by_reason(const std::string& reason) {
  for (const auto& r : kRules) {
    if (std::find(r.reasons.begin(), r.reasons.end(), reason) != r.reasons.end()) return &r;
  }
  return nullptr;
}

struct ReceiverRow {
  std::string id, scope, scope_id, name, channel, config, secret, min_severity, rules;
  bool enabled = true;
  int64_t rate_per_minute = 20;
  std::string grouping, language;
  std::string created_by;
  int64_t created_at_ms = 0;
};
const store::RowMap<ReceiverRow> kReceiver{{"id", &ReceiverRow::id},
                                           {"scope", &ReceiverRow::scope},
                                           {"scope_id", &ReceiverRow::scope_id},
                                           {"name", &ReceiverRow::name},
                                           {"channel", &ReceiverRow::channel},
                                           {"config", &ReceiverRow::config},
                                           {"secret", &ReceiverRow::secret},
                                           {"min_severity", &ReceiverRow::min_severity},
                                           {"rules", &ReceiverRow::rules},
                                           {"enabled", &ReceiverRow::enabled},
                                           {"rate_per_minute", &ReceiverRow::rate_per_minute},
                                           {"grouping", &ReceiverRow::grouping},
                                           {"language", &ReceiverRow::language},
                                           {"created_by", &ReceiverRow::created_by},
                                           {"created_at_ms", &ReceiverRow::created_at_ms}};
const std::string kReceiverSelect = "SELECT " + kReceiver.columns() + " FROM alert_receivers";

// A silence's matchers from JSON: a list of {label, op, value}.
Result<std::vector<promql::Matcher>> silence_matchers(const Json& list) {
  if (!list.is_array() || list.empty() || list.size() > 32) {
    return Status::invalid_argument("matchers: a list of 1 to 32 matchers");
  }
  std::vector<promql::Matcher> out;
  for (const auto& m : list) {
    if (!m.is_object() || !m.value("label", Json()).is_string() ||
        !m.value("value", Json()).is_string()) {
      return Status::invalid_argument("matchers: each has a label, an op and a value");
    }
    const std::string op = m.value("op", "=");
    const promql::Matcher::Op o = op == "="    ? promql::Matcher::Op::kEq
                                  : op == "!=" ? promql::Matcher::Op::kNe
                                  : op == "=~" ? promql::Matcher::Op::kRe
                                  : op == "!~" ? promql::Matcher::Op::kNre
                                               : static_cast<promql::Matcher::Op>(-1);
    if (static_cast<int>(o) < 0) return Status::invalid_argument("matchers: op is =, !=, =~ or !~");
    JZ_ASSIGN_OR_RETURN(auto x, promql::make_matcher(m["label"].get<std::string>(), o,
                                                     m["value"].get<std::string>()));
    out.push_back(std::move(x));
  }
  return out;
}

Json matchers_json(const std::vector<promql::Matcher>& ms) {
  static const char* kOps[] = {"=", "!=", "=~", "!~"};
  Json out = Json::array();
  for (const auto& m : ms) {
    out.push_back({{"label", m.label}, {"op", kOps[static_cast<int>(m.op)]}, {"value", m.value}});
  }
  return out;
}

// Matchers as the API takes them: the text `alertname="x", job=~"a.*"` (the selector
// syntax of the rules) or a list of {label, op, value}.
Result<std::vector<promql::Matcher>> matchers_of(Json matchers) {
  if (matchers.is_string()) {
    auto e = promql::parse("m{" + matchers.get<std::string>() + "}");
    if (!e.ok() || (*e)->kind != promql::Expr::Kind::kSelector) {
      return Status::invalid_argument(
          "matchers: write them as label=\"value\", label=~\"re\", ...");
    }
    matchers = matchers_json((*e)->matchers);
  }
  return silence_matchers(matchers);
}

bool all_match(const std::vector<promql::Matcher>& ms, const Json& labels) {
  for (const auto& m : ms) {
    if (!m.matches(labels.is_object() ? labels.value(m.label, "") : "")) return false;
  }
  return true;
}

Receiver receiver_of(const ReceiverRow& row) {
  Receiver r;
  r.id = row.id;
  r.scope = row.scope;
  r.scope_id = row.scope_id;
  r.name = row.name;
  r.channel = row.channel;
  r.config = Json::parse(row.config, nullptr, false);
  if (!r.config.is_object()) r.config = Json::object();
  r.secret_sealed = row.secret;
  r.min_severity = row.min_severity;
  const Json rules = Json::parse(row.rules, nullptr, false);
  if (rules.is_array()) {
    for (const auto& x : rules) {
      if (x.is_string()) r.rules.push_back(x.get<std::string>());
    }
  }
  r.enabled = row.enabled;
  r.rate_per_minute = static_cast<int>(row.rate_per_minute);
  const Json g = Json::parse(row.grouping, nullptr, false);
  if (g.is_object()) {
    for (const auto& x : g.value("group_by", Json::array())) {
      if (x.is_string()) r.group_by.push_back(x.get<std::string>());
    }
    r.group_wait_ms = g.value("group_wait_ms", r.group_wait_ms);
    r.group_interval_ms = g.value("group_interval_ms", r.group_interval_ms);
    r.repeat_interval_ms = g.value("repeat_interval_ms", r.repeat_interval_ms);
    if (auto ms = silence_matchers(g.value("matchers", Json())); ms.ok()) r.matchers = *ms;
    r.templates = g.value("templates", Json::object());
    if (!r.templates.is_object()) r.templates = Json::object();
  }
  r.language = row.language.empty() ? "en" : row.language;
  r.created_by = row.created_by;
  r.created_at_ms = row.created_at_ms;
  return r;
}

const store::RowMap<Notification> kNotification{{"id", &Notification::id},
                                                {"receiver_id", &Notification::receiver_id},
                                                {"receiver_name", &Notification::receiver_name},
                                                {"scope", &Notification::scope},
                                                {"scope_id", &Notification::scope_id},
                                                {"dedup_key", &Notification::dedup_key},
                                                {"rule", &Notification::rule},
                                                {"severity", &Notification::severity},
                                                {"title", &Notification::title},
                                                {"state", &Notification::state},
                                                {"message", &Notification::message},
                                                {"attempts", &Notification::attempts},
                                                {"next_attempt_ms", &Notification::next_attempt_ms},
                                                {"created_at_ms", &Notification::created_at_ms},
                                                {"delivered_at_ms", &Notification::delivered_at_ms},
                                                {"last_code", &Notification::last_code},
                                                {"last_answer", &Notification::last_answer}};
const std::string kNotificationSelect = "SELECT " + kNotification.columns() + " FROM notifications";

std::string time_text(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

Status check_scope(const std::string& scope, const std::string& scope_id) {
  if (scope == "platform" && scope_id.empty()) return {};
  if ((scope == "project" || scope == "workspace" || scope == "user") && !scope_id.empty()) {
    return {};
  }
  return Status::internal("alerts: bad scope " + scope + "/" + scope_id);
}

// Rows of the platform, a workspace and a project at once: `kInScopes` with the parameters
// `in_scopes(workspace id, project id)` ("" for none).
const std::string kInScopes =
    "((scope = 'platform' AND scope_id = '') OR (scope = 'workspace' AND scope_id = ?) OR "
    "(scope = 'project' AND scope_id = ?))";
store::Params in_scopes(const std::string& workspace_id, const std::string& project_id) {
  return {workspace_id.empty() ? std::string("-") : workspace_id,
          project_id.empty() ? std::string("-") : project_id};
}

// "k=v k=v" of the string-valued labels, each after a space.
std::string labels_text(const Json& labels) {
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (v.is_string()) out += " " + k + "=" + v.get<std::string>();
  }
  return out;
}

// The name of a receiver: what a URL path can hold.
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  for (char c : n) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return false;
    }
  }
  return std::isalnum(static_cast<unsigned char>(n.front()));
}

bool valid_label_name(const std::string& n) {
  if (n.empty() || n.size() > 100 || n.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(n[i]);
    if (!(std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c)))) return false;
  }
  return true;
}

// What a receiver routes by beyond its rules and severity, and how it groups (one column).
std::string grouping_json(const Receiver& r) {
  if (!r.grouped() && r.matchers.empty() && r.templates.empty()) return "";
  return json::dump(Json{{"group_by", r.group_by},
                         {"group_wait_ms", r.group_wait_ms},
                         {"group_interval_ms", r.group_interval_ms},
                         {"repeat_interval_ms", r.repeat_interval_ms},
                         {"matchers", matchers_json(r.matchers)},
                         {"templates", r.templates}});
}

// An alert's title and text in a language. The built-in rules' alerts of events are worded
// from their labels (their annotations hold the English); others keep their annotations.
std::pair<std::string, std::string> words_of(const Json& alert, const std::string& language) {
  const Json labels = alert.value("labels", Json::object());
  const Json ann = alert.value("annotations", Json::object());
  std::string title = ann.value("summary", labels.value("alertname", ""));
  std::string text = ann.value("description", "");
  const std::string rule = labels.value("alertname", "");
  auto zh = kSummaryZh.find(rule);
  if (language != "zh-CN" || zh == kSummaryZh.end()) return {title, text};
  const std::string project = labels.value("project", "");
  if (labels.contains("resource")) {
    static const std::map<std::string, std::string> kTypes = {
        {"job", "作业"}, {"gpu", "GPU"}, {"node", "节点"}, {"project", "项目"}};
    const std::string type = labels.value("resource_type", "");
    auto t = kTypes.find(type);
    title = zh->second + "：" + (t == kTypes.end() ? type : t->second) + " " +
            labels.value("resource", "") + (project.empty() ? "" : "（项目 " + project + "）");
    text = ann.value("message", "") + (project.empty() ? "" : "\n项目：" + project) + "\n原因：" +
           labels.value("reason", "") + "\n时间：" + alert.value("startsAt", "");
  } else {
    title = zh->second;
    for (const auto& [k, v] : labels.items()) {
      if (k != "alertname" && k != "severity" && v.is_string()) {
        title += " " + k + "=" + v.get<std::string>();
      }
    }
  }
  if (alert.value("status", "firing") == "resolved") title += "（已恢复）";
  return {title, text};
}

// What a notification says, in the receiver's language: one alert, or a group's.
Message message_of(const Notification& n, const std::string& language = "en") {
  Message m;
  m.language = language;
  const Json body = Json::parse(n.message, nullptr, false);
  if (body.is_object() && body.contains("alerts") && body["alerts"].is_array()) {
    m.alerts = body["alerts"];
    m.group_labels = body.value("group_labels", Json::object());
  } else {
    m.alerts = Json::array({body.is_object() ? body : Json::object()});
  }
  m.status = "resolved";
  for (const auto& a : m.alerts) {
    if (a.value("status", "firing") == "firing") m.status = "firing";
  }
  m.severity = n.severity;
  m.receiver = n.receiver_name;
  m.group_key = n.dedup_key;
  const Json& first = m.alerts[0];
  m.link = first.value("generatorURL", "");
  if (m.alerts.size() == 1) {
    auto [title, text] = words_of(first, language);
    m.title = language == "en" ? n.title : title;
    m.text = text;
    return m;
  }
  const std::string labels = labels_text(m.group_labels);
  m.title = std::to_string(m.alerts.size()) +
            (language == "zh-CN" ? " 条告警：" + labels.substr(labels.empty() ? 0 : 1)
                                 : " alerts:" + labels);
  for (const auto& a : m.alerts) {
    const std::string status =
        word(language, a.value("status", "firing") == "resolved" ? "RESOLVED" : "FIRING");
    m.text += (m.text.empty() ? "" : "\n") + std::string("- [") + status + "] " +
              words_of(a, language).first;
  }
  return m;
}

// Fills a receiver's template: each {{ NAME }} by `value(NAME)`; false when a name is not
// one a template may use (`bad` names it).
bool fill_message(const std::string& text,
                  const std::function<std::optional<std::string>(const std::string&)>& value,
                  std::string& out, std::string& bad) {
  out.clear();
  for (size_t i = 0; i < text.size();) {
    const size_t open = text.find("{{", i);
    const size_t close = open == std::string::npos ? open : text.find("}}", open);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    std::string name = text.substr(open + 2, close - open - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    auto v = value(name);
    if (!v) {
      bad = name;
      return false;
    }
    out += *v;
    i = close + 2;
  }
  return true;
}

// What a template's names stand for in a message (nullopt: not a name templates take).
std::optional<std::string> message_value(const Message& m, const Json& labels, const Json& ann,
                                         const std::string& name) {
  auto field = [](const Json& j, const std::string& k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  if (name.rfind("$labels.", 0) == 0) return field(labels, name.substr(8));
  if (name.rfind("$annotations.", 0) == 0) return field(ann, name.substr(13));
  if (name == "$status") return word(m.language, m.status == "resolved" ? "RESOLVED" : "FIRING");
  if (name == "$severity") return word(m.language, m.severity);
  if (name == "$count") return std::to_string(m.alerts.size());
  if (name == "$title") return m.title;
  if (name == "$text") return m.text;
  if (name == "$link") return m.link;
  if (name == "$receiver") return m.receiver;
  return std::nullopt;
}

// A receiver's own wording, when it has one.
void apply_templates(Message& m, const Json& templates) {
  if (templates.empty()) return;
  const Json labels = common_of(m.alerts, "labels"), ann = common_of(m.alerts, "annotations");
  auto value = [&](const std::string& n) { return message_value(m, labels, ann, n); };
  std::string title, text, bad;
  if (templates.contains("title") &&
      fill_message(templates.value("title", ""), value, title, bad)) {
    m.title = title;
  }
  if (templates.contains("text") && fill_message(templates.value("text", ""), value, text, bad)) {
    m.text = text;
  }
}

// "5m", "1h30m", "90s", "0s": a duration in the PromQL form; invalid_argument naming
// `field` otherwise.
Result<int64_t> duration_ms(const std::string& text, const std::string& field = "for") {
  auto e = promql::parse("m[" + text + "]");
  if (text == "0s" || text == "0" || text.empty()) return 0;
  if (!e.ok() || (*e)->kind != promql::Expr::Kind::kSelector) {
    return Status::invalid_argument(field + ": '" + text +
                                    "' is not a duration like 30s, 5m or 1h30m");
  }
  return (*e)->range_ms;
}

}  // namespace

int severity_rank(const std::string& s) {
  if (s == "info") return 0;
  if (s == "warning") return 1;
  if (s == "critical") return 2;
  return -1;
}

const std::vector<BuiltinRule>& builtin_rules() { return kRules; }

Json RuleSetting::to_json() const {
  const BuiltinRule* r = rule_by_id(rule);
  return {{"rule", rule},
          {"enabled", enabled},
          {"severity", severity},
          {"set_by", set_by},
          {"summary", r ? r->summary : ""},
          {"reasons", r ? r->reasons : std::vector<std::string>{}},
          {"expr", r ? r->expr : ""}};
}

Json Receiver::to_json() const {
  return {{"id", id},
          {"name", name},
          {"scope", scope},
          {"channel", channel},
          {"config", config},
          {"has_secret", !secret_sealed.empty()},
          {"min_severity", min_severity},
          {"rules", rules},
          {"enabled", enabled},
          {"rate_per_minute", rate_per_minute},
          {"matchers", matchers_json(matchers)},
          {"templates", templates},
          {"group_by", group_by},
          {"group_wait", promql::format_duration(group_wait_ms)},
          {"group_interval", promql::format_duration(group_interval_ms)},
          {"repeat_interval", promql::format_duration(repeat_interval_ms)},
          {"language", language},
          {"created_by", created_by},
          {"created_at", time_text(created_at_ms)}};
}

Json Notification::to_json() const {
  Json j = {{"id", id},
            {"receiver", receiver_name},
            {"rule", rule},
            {"severity", severity},
            {"title", title},
            {"state", state},
            {"attempts", attempts},
            {"created_at", time_text(created_at_ms)},
            {"last_code", last_code},
            {"last_answer", last_answer}};
  if (state == "pending") j["next_attempt_at"] = time_text(next_attempt_ms);
  if (delivered_at_ms) j["delivered_at"] = time_text(*delivered_at_ms);
  return j;
}

AlertService::AlertService(store::Database& db, Clock& clock, IdGenerator& ids,
                           iam::Tenancy& tenancy, SecretBox box, AlertOptions options,
                           std::shared_ptr<spdlog::logger> logger)
    : db_(db),
      clock_(clock),
      ids_(ids),
      tenancy_(tenancy),
      box_(std::move(box)),
      options_(std::move(options)),
      logger_(std::move(logger)) {}

AlertService::~AlertService() { stop(); }

// ---- rules -------------------------------------------------------------------------

Result<RuleSetting> AlertService::setting_in(store::Conn& c, const BuiltinRule& r,
                                             const std::string& project_id,
                                             std::string workspace_id) {
  RuleSetting s{r.id, r.enabled, r.severity, "default"};
  if (workspace_id.empty() && !project_id.empty()) {
    JZ_ASSIGN_OR_RETURN(auto p,
                        c.query("SELECT workspace_id FROM projects WHERE id = ?", {project_id}));
    if (!p.empty()) workspace_id = p[0].text("workspace_id");
  }
  JZ_ASSIGN_OR_RETURN(
      auto rows,
      c.query("SELECT scope, enabled, severity FROM alert_rule_settings WHERE rule = ? AND " +
                  kInScopes,
              [&] {
                store::Params p{r.id};
                for (auto& v : in_scopes(workspace_id, project_id)) p.push_back(std::move(v));
                return p;
              }()));
  for (const std::string scope : {"platform", "workspace", "project"}) {
    for (const auto& row : rows) {
      if (row.text("scope") != scope) continue;
      s.enabled = row.integer("enabled") != 0;
      s.severity = row.text("severity");
      s.set_by = scope;
    }
  }
  return s;
}

Result<std::vector<RuleSetting>> AlertService::rules(const std::string& scope,
                                                     const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  std::vector<RuleSetting> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    for (const auto& r : kRules) {
      if (r.platform_only && scope != "platform") continue;
      JZ_ASSIGN_OR_RETURN(auto s, setting_in(c, r, scope == "project" ? scope_id : "",
                                             scope == "workspace" ? scope_id : ""));
      out.push_back(std::move(s));
    }
    return {};
  }));
  return out;
}

Result<RuleSetting> AlertService::set_rule(const std::string& scope, const std::string& scope_id,
                                           const std::string& rule, const Json& patch,
                                           const std::string& actor) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  const BuiltinRule* r = rule_by_id(rule);
  if (!r || (r->platform_only && scope != "platform")) {
    return Status::not_found("no alert rule '" + rule + "'" +
                             (r ? " here: it is the platform's (its machines)" : ""));
  }
  if (!patch.is_object()) return Status::invalid_argument("the body must be an object");
  for (const auto& [k, v] : patch.items()) {
    if (k != "enabled" && k != "severity" && k != "reset") {
      return Status::invalid_argument("'" + k + "': a rule has enabled and severity (or reset)");
    }
  }
  if (patch.contains("enabled") && !patch["enabled"].is_boolean()) {
    return Status::invalid_argument("enabled: true or false");
  }
  if (patch.contains("severity") &&
      (!patch["severity"].is_string() || severity_rank(patch["severity"].get<std::string>()) < 0)) {
    return Status::invalid_argument("severity: one of info, warning, critical");
  }
  RuleSetting out;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    const std::string project = scope == "project" ? scope_id : "";
    const std::string workspace = scope == "workspace" ? scope_id : "";
    if (patch.value("reset", false)) {
      JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_rule_settings WHERE scope = ? AND scope_id = ? "
                                "AND rule = ?",
                                {scope, scope_id, rule})
                             .status());
    } else {
      JZ_ASSIGN_OR_RETURN(RuleSetting now, setting_in(c, *r, project, workspace));
      const bool enabled = patch.value("enabled", now.enabled);
      const std::string severity = patch.value("severity", now.severity);
      JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_rule_settings WHERE scope = ? AND scope_id = ? "
                                "AND rule = ?",
                                {scope, scope_id, rule})
                             .status());
      JZ_RETURN_IF_ERROR(
          c.exec("INSERT INTO alert_rule_settings (scope, scope_id, rule, enabled, severity, "
                 "updated_by, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 {scope, scope_id, rule, int64_t{enabled ? 1 : 0}, severity, actor,
                  clock_.now_unix_ms()})
              .status());
    }
    JZ_ASSIGN_OR_RETURN(out, setting_in(c, *r, project, workspace));
    return {};
  }));
  return out;
}

// ---- receivers ---------------------------------------------------------------------

namespace {

// group_by, group_wait, group_interval, repeat_interval of a receiver's body.
Status apply_grouping(Receiver& r, const Json& body) {
  if (body.contains("group_by")) {
    const Json& g = body["group_by"];
    if (!g.is_array() || g.size() > 16) {
      return Status::invalid_argument(
          "group_by: a list of at most 16 label names (or [\"...\"]: a group per alert; []: no "
          "grouping)");
    }
    r.group_by.clear();
    for (const auto& x : g) {
      const std::string n = x.is_string() ? x.get<std::string>() : "";
      if (!(n == "..." && g.size() == 1) && !valid_label_name(n)) {
        return Status::invalid_argument("group_by: '" + (x.is_string() ? n : x.dump()) +
                                        "' is not a label name (or '...' alone)");
      }
      r.group_by.push_back(n);
    }
  }
  struct Field {
    const char* name;
    int64_t* ms;
    int64_t min, max;
    const char* range;
  };
  for (const Field& f :
       {Field{"group_wait", &r.group_wait_ms, 0, 3'600'000, "0s to 1h"},
        Field{"group_interval", &r.group_interval_ms, 1000, 86'400'000, "1s to 24h"},
        Field{"repeat_interval", &r.repeat_interval_ms, 0, 30 * 86'400'000LL,
              "0s (never) or 1m to 30d"}}) {
    if (!body.contains(f.name)) continue;
    if (!body[f.name].is_string()) {
      return Status::invalid_argument(std::string(f.name) + ": a duration like 30s, 5m or 4h");
    }
    JZ_ASSIGN_OR_RETURN(const int64_t ms, duration_ms(body[f.name].get<std::string>(), f.name));
    const bool too_short_repeat = f.ms == &r.repeat_interval_ms && ms > 0 && ms < 60'000;
    if (ms < f.min || ms > f.max || too_short_repeat) {
      return Status::invalid_argument(std::string(f.name) + ": " + f.range);
    }
    *f.ms = ms;
  }
  return {};
}

}  // namespace

Status AlertService::apply(Receiver& r, const Json& body, bool creating) {
  if (!body.is_object()) return Status::invalid_argument("the body must be an object");
  static const std::set<std::string> kFields = {
      "name",           "channel",         "config",          "secret",   "min_severity",
      "rules",          "enabled",         "rate_per_minute", "group_by", "group_wait",
      "group_interval", "repeat_interval", "language",        "matchers", "templates"};
  for (const auto& [k, v] : body.items()) {
    if (!kFields.count(k)) {
      return Status::invalid_argument(
          "'" + k +
          "': a receiver has name, channel, config, secret, min_severity, rules, enabled, "
          "rate_per_minute, matchers, group_by, group_wait, group_interval, repeat_interval, "
          "language, templates");
    }
  }
  if (creating) {
    if (!body.contains("name") || !body["name"].is_string() ||
        !valid_name(body["name"].get<std::string>())) {
      return Status::invalid_argument(
          "name: 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit");
    }
    r.name = body["name"].get<std::string>();
    if (!body.contains("channel") || !body["channel"].is_string()) {
      return Status::invalid_argument(
          "channel: one of webhook, slack, dingtalk, wecom, feishu, email");
    }
    r.channel = body["channel"].get<std::string>();
    r.rate_per_minute = r.channel == "dingtalk" ? 20 : 60;
  } else if (body.contains("name") && body["name"] != r.name) {
    return Status::invalid_argument("name: a receiver keeps its name (create another)");
  } else if (body.contains("channel") && body["channel"] != r.channel) {
    return Status::invalid_argument("channel: a receiver keeps its channel (create another)");
  }
  if (body.contains("config")) r.config = body["config"];
  if (body.contains("secret")) {
    if (!body["secret"].is_string() || body["secret"].get<std::string>().size() > 4096) {
      return Status::invalid_argument("secret: a string of at most 4096 bytes");
    }
    const std::string s = body["secret"].get<std::string>();
    r.secret_sealed = s.empty() ? "" : box_.seal(s);
  }
  if (body.contains("min_severity")) {
    if (!body["min_severity"].is_string() ||
        severity_rank(body["min_severity"].get<std::string>()) < 0) {
      return Status::invalid_argument("min_severity: one of info, warning, critical");
    }
    r.min_severity = body["min_severity"].get<std::string>();
  }
  if (body.contains("rules")) {
    if (!body["rules"].is_array()) return Status::invalid_argument("rules: a list of rule ids");
    r.rules.clear();
    // Built-in rules' ids, custom rules' names, or the alertname of alerts that come
    // from Prometheus.
    auto rule_name = [](const std::string& n) {
      if (n.empty() || n.size() > 100) return false;
      for (char c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != ':' &&
            c != '.') {
          return false;
        }
      }
      return true;
    };
    if (body["rules"].size() > 100) return Status::invalid_argument("rules: at most 100");
    for (const auto& x : body["rules"]) {
      if (!x.is_string() || !rule_name(x.get<std::string>())) {
        return Status::invalid_argument(
            "rules: '" + (x.is_string() ? x.get<std::string>() : x.dump()) +
            "' is not a rule name (a built-in rule, a custom rule, or an alertname)");
      }
      r.rules.push_back(x.get<std::string>());
    }
  }
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) return Status::invalid_argument("enabled: true or false");
    r.enabled = body["enabled"].get<bool>();
  }
  if (body.contains("rate_per_minute")) {
    if (!body["rate_per_minute"].is_number_integer() ||
        body["rate_per_minute"].get<int64_t>() < 1 ||
        body["rate_per_minute"].get<int64_t>() > 6000) {
      return Status::invalid_argument("rate_per_minute: 1 to 6000");
    }
    r.rate_per_minute = body["rate_per_minute"].get<int>();
  }
  JZ_RETURN_IF_ERROR(apply_grouping(r, body));
  if (body.contains("templates")) {
    const Json& t = body["templates"];
    if (!t.is_object()) {
      return Status::invalid_argument("templates: an object with title and text ({} for none)");
    }
    const Message probe;
    for (const auto& [k, v] : t.items()) {
      if ((k != "title" && k != "text") || !v.is_string() || v.get<std::string>().size() > 2000) {
        return Status::invalid_argument("templates." + k +
                                        ": templates are title and text, strings of at most "
                                        "2000 bytes");
      }
      std::string out, bad;
      if (!fill_message(
              v.get<std::string>(),
              [&](const std::string& n) {
                return message_value(probe, Json::object(), Json::object(), n);
              },
              out, bad)) {
        return Status::invalid_argument(
            "templates." + k + ": '{{ " + bad +
            " }}' is not a name templates take ($status, $severity, $count, $title, $text, "
            "$link, $receiver, $labels.NAME, $annotations.NAME)");
      }
    }
    r.templates = t;
  }
  if (body.contains("matchers")) {
    // [] or "" clears them; otherwise every one must match an alert's labels.
    const Json& m = body["matchers"];
    if ((m.is_array() && m.empty()) || (m.is_string() && m.get<std::string>().empty())) {
      r.matchers.clear();
    } else {
      JZ_ASSIGN_OR_RETURN(r.matchers, matchers_of(m));
    }
  }
  if (body.contains("language")) {
    if (body["language"] != "en" && body["language"] != "zh-CN") {
      return Status::invalid_argument("language: en or zh-CN");
    }
    r.language = body["language"].get<std::string>();
  }
  return check_config(r.channel, r.config, !r.secret_sealed.empty());
}

Result<Receiver> AlertService::create_receiver(const std::string& scope,
                                               const std::string& scope_id, const Json& body,
                                               const std::string& actor) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  Receiver r;
  r.scope = scope;
  r.scope_id = scope_id;
  JZ_RETURN_IF_ERROR(apply(r, body, true));
  r.id = ids_.next("rcv_");
  r.created_by = actor;
  r.created_at_ms = clock_.now_unix_ms();
  Status s = db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO alert_receivers (id, scope, scope_id, name, channel, config, secret, "
            "min_severity, rules, enabled, rate_per_minute, grouping, language, created_by, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {r.id, scope, scope_id, r.name, r.channel, json::dump(r.config), r.secret_sealed,
             r.min_severity, json::dump(Json(r.rules)), int64_t{r.enabled ? 1 : 0},
             int64_t{r.rate_per_minute}, grouping_json(r), r.language, actor, r.created_at_ms})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("a receiver named '" + r.name + "' exists here");
  }
  JZ_RETURN_IF_ERROR(s);
  return r;
}

Result<Receiver> AlertService::receiver_in(store::Conn& c, const std::string& scope,
                                           const std::string& scope_id, const std::string& name) {
  JZ_ASSIGN_OR_RETURN(
      auto row, store::query_one(c, kReceiver,
                                 kReceiverSelect + " WHERE scope = ? AND scope_id = ? AND name = ?",
                                 {scope, scope_id, name}, "no receiver '" + name + "'"));
  return receiver_of(row);
}

Result<Receiver> AlertService::receiver(const std::string& scope, const std::string& scope_id,
                                        const std::string& name) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  Result<Receiver> out = Status::internal("unset");
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    out = receiver_in(c, scope, scope_id, name);
    return out.status();
  }));
  return out;
}

Result<Receiver> AlertService::update_receiver(const std::string& scope,
                                               const std::string& scope_id, const std::string& name,
                                               const Json& patch) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  Receiver r;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(r, receiver_in(c, scope, scope_id, name));
    JZ_RETURN_IF_ERROR(apply(r, patch, false));
    return c
        .exec(
            "UPDATE alert_receivers SET config = ?, secret = ?, min_severity = ?, rules = ?, "
            "enabled = ?, rate_per_minute = ?, grouping = ?, language = ? WHERE id = ?",
            {json::dump(r.config), r.secret_sealed, r.min_severity, json::dump(Json(r.rules)),
             int64_t{r.enabled ? 1 : 0}, int64_t{r.rate_per_minute}, grouping_json(r), r.language,
             r.id})
        .status();
  }));
  return r;
}

Status AlertService::delete_receiver(const std::string& scope, const std::string& scope_id,
                                     const std::string& name) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(Receiver r, receiver_in(c, scope, scope_id, name));
    JZ_RETURN_IF_ERROR(c.exec("UPDATE notifications SET state = 'cancelled', last_answer = "
                              "'the receiver was deleted' WHERE receiver_id = ? AND state = "
                              "'pending'",
                              {r.id})
                           .status());
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_group_alerts WHERE group_id IN (SELECT id FROM "
                              "alert_groups WHERE receiver_id = ?)",
                              {r.id})
                           .status());
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_groups WHERE receiver_id = ?", {r.id}).status());
    return c.exec("DELETE FROM alert_receivers WHERE id = ?", {r.id}).status();
  });
}

Result<store::Page<Receiver>> AlertService::receivers(const std::string& scope,
                                                      const std::string& scope_id,
                                                      const store::PageSpec& page) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  store::Page<Receiver> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        store::query_page<ReceiverRow>(
            c, kReceiver, kReceiverSelect + " WHERE scope = ? AND scope_id = ?", {scope, scope_id},
            "name", [](const ReceiverRow& r) { return r.name; }, page));
    for (const auto& row : rows.items) out.items.push_back(receiver_of(row));
    out.next_after = rows.next_after;
    return {};
  }));
  return out;
}

Answer AlertService::send_to(const Receiver& r, const Message& m) {
  std::string secret;
  if (!r.secret_sealed.empty()) {
    auto opened = box_.open(r.secret_sealed);
    if (!opened.ok()) return Answer{false, 0, opened.status().message()};
    secret = *opened;
  }
  auto out = build_request(r.channel, r.config, secret, m, clock_.now_unix_ms());
  if (!out.ok()) return Answer{false, 0, out.status().message()};
  SendOptions o;
  o.allow_private = options_.allow_private_networks;
  o.timeout_ms = options_.send_timeout_ms;
  o.ca_file = options_.ca_file;
  return send(r.channel, *out, o);
}

Result<Answer> AlertService::test_receiver(const std::string& scope, const std::string& scope_id,
                                           const std::string& name, const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Receiver r, receiver(scope, scope_id, name));
  const int64_t now = clock_.now_unix_ms();
  Notification n;
  n.id = ids_.next("ntf_");
  n.receiver_id = r.id;
  n.receiver_name = r.name;
  n.scope = scope;
  n.scope_id = scope_id;
  n.dedup_key = "test:" + n.id;
  n.rule = "test";
  n.severity = "info";
  n.title = r.language == "zh-CN" ? "Jizhan 测试消息（接收者 " + r.name + "）"
                                  : "Test message from Jizhan (receiver " + r.name + ")";
  const Json alert = {
      {"status", "firing"},
      {"labels", {{"alertname", "test"}, {"severity", "info"}, {"receiver", r.name}}},
      {"annotations",
       {{"summary", n.title},
        {"description", "Sent by " + actor + " to check that this receiver works."}}},
      {"startsAt", time_text(now)},
      {"endsAt", "0001-01-01T00:00:00Z"},
      {"generatorURL", options_.console_url},
      {"fingerprint", sha256_hex(n.id).substr(0, 16)}};
  n.message = json::dump(alert);
  Message m = message_of(n, r.language);
  apply_templates(m, r.templates);
  const Answer a = send_to(r, m);
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO notifications (id, receiver_id, receiver_name, scope, scope_id, "
            "dedup_key, rule, severity, title, message, state, attempts, next_attempt_ms, "
            "created_at_ms, delivered_at_ms, last_code, last_answer) VALUES (?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
            {n.id, n.receiver_id, n.receiver_name, scope, scope_id, n.dedup_key, n.rule, n.severity,
             n.title, n.message, std::string(a.ok ? "delivered" : "failed"), now, now,
             a.ok ? store::Value(now) : store::Value(), int64_t{a.code}, a.detail.substr(0, 1024)})
        .status();
  }));
  return a;
}

Result<store::Page<Notification>> AlertService::notifications(const std::string& scope,
                                                              const std::string& scope_id,
                                                              const store::PageSpec& page) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  store::Page<Notification> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql = kNotificationSelect + " WHERE scope = ? AND scope_id = ?";
    store::Params params{scope, scope_id};
    if (!page.after.empty()) {
      sql += " AND id < ?";
      params.emplace_back(page.after);
    }
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(out.items, store::query_all(c, kNotification, sql, params));
    if (static_cast<int>(out.items.size()) > limit) {
      out.items.resize(static_cast<size_t>(limit));
      out.next_after = out.items.back().id;
    }
    return {};
  }));
  return out;
}

// ---- the engine --------------------------------------------------------------------

Result<int> AlertService::evaluate_once(int batch) {
  int queued = 0, read = 0;
  std::map<std::pair<std::string, std::string>, int64_t> seen;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto cur, c.query("SELECT seq FROM alert_cursors WHERE name = 'events'"));
    if (cur.empty()) {
      // The first start: what happened before alerts existed is history, not news.
      JZ_ASSIGN_OR_RETURN(auto top, c.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events"));
      return c
          .exec("INSERT INTO alert_cursors (name, seq) VALUES ('events', ?)",
                {top[0].integer("seq")})
          .status();
    }
    const int64_t after = cur[0].integer("seq");
    JZ_ASSIGN_OR_RETURN(auto evs, c.query("SELECT seq, time_ms, project, workspace, "
                                          "resource_type, resource_name, reason, message FROM "
                                          "events WHERE seq > ? ORDER BY seq LIMIT " +
                                              std::to_string(batch),
                                          {after}));
    if (evs.empty()) return {};
    read = static_cast<int>(evs.size());
    std::map<std::string, std::pair<std::string, std::string>> projects;  // name -> id, ws id
    std::map<std::pair<std::string, std::string>, RuleSetting> settings;  // rule, project id
    TargetCache targets;
    OwnerCache owners;
    seen.clear();
    for (const auto& e : evs) ++seen[{e.text("project"), e.text("reason")}];
    for (const auto& e : evs) {
      const BuiltinRule* rule = rule_by_reason(e.text("reason"));
      if (!rule) continue;
      const std::string project = e.text("project");
      std::string project_id, workspace_id;
      if (!project.empty()) {
        auto it = projects.find(project);
        if (it == projects.end()) {
          JZ_ASSIGN_OR_RETURN(
              auto p, c.query("SELECT id, workspace_id FROM projects WHERE name = ?", {project}));
          it = projects
                   .emplace(project, p.empty()
                                         ? std::pair<std::string, std::string>{}
                                         : std::pair{p[0].text("id"), p[0].text("workspace_id")})
                   .first;
        }
        project_id = it->second.first;
        workspace_id = it->second.second;
        if (project_id.empty()) continue;  // deleted meanwhile
      }
      auto known = settings.find({rule->id, project_id});
      if (known == settings.end()) {
        JZ_ASSIGN_OR_RETURN(RuleSetting got, setting_in(c, *rule, project_id, workspace_id));
        known = settings.emplace(std::pair{rule->id, project_id}, std::move(got)).first;
      }
      const RuleSetting& setting = known->second;
      const int64_t seq = e.integer("seq");
      const std::string type = e.text("resource_type"), name = e.text("resource_name");
      std::string link = options_.console_url;
      if (!link.empty()) {
        link += type == "job" && !project.empty() ? "/projects/" + project + "/jobs/" + name
                : !project.empty()                ? "/projects/" + project + "/events"
                                                  : "/monitoring";
      }
      const std::string title = rule->summary + ": " + type + " " + name +
                                (project.empty() ? "" : " in project " + project);
      Json labels = {{"alertname", rule->id},
                     {"severity", setting.severity},
                     {"reason", e.text("reason")},
                     {"resource_type", type},
                     {"resource", name}};
      if (!project.empty()) labels["project"] = project;
      if (type == "node") labels["Hostname"] = name;  // as the node's series name it
      const Json alert = {
          {"status", "firing"},
          {"labels", labels},
          {"annotations",
           {{"summary", title},
            {"message", e.text("message")},
            {"description", e.text("message") + (project.empty() ? "" : "\nproject: " + project) +
                                "\nreason: " + e.text("reason") +
                                "\ntime: " + time_text(e.integer("time_ms"))}}},
          {"startsAt", time_text(e.integer("time_ms"))},
          {"endsAt", "0001-01-01T00:00:00Z"},
          {"generatorURL", link},
          {"fingerprint", sha256_hex(json::dump(labels)).substr(0, 16)}};
      const std::string key = "evt:" + std::to_string(seq) + ":" + rule->id;
      if (setting.enabled) {
        JZ_RETURN_IF_ERROR(queue_in(c, project_id.empty() ? "platform" : "project", project_id,
                                    rule->id, setting.severity, key, title, alert, queued, &targets,
                                    /*oneshot=*/true));
      }
      // The job's owner, for their own jobs, whatever the project's setting.
      if (type == "job" && kPersonal.count(rule->id)) {
        JZ_RETURN_IF_ERROR(notify_owner(
            c, name, *rule, setting.severity, key, title, alert,
            project.empty() ? "" : "/projects/" + project + "/jobs/" + name, queued, owners));
      }
    }
    return c
        .exec("UPDATE alert_cursors SET seq = ? WHERE name = 'events'", {evs.back().integer("seq")})
        .status();
  }));
  queued_ += queued;
  {
    std::lock_guard lock(counts_mu_);
    for (const auto& [k, n] : seen) event_counts_[k] += n;
  }
  return read;
}

void AlertService::deliver_receiver(const std::string& receiver_id) {
  const int64_t now = clock_.now_unix_ms();
  std::optional<Receiver> r;
  std::vector<Notification> due;
  Status s = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kReceiver, kReceiverSelect + " WHERE id = ?",
                                                    {receiver_id}));
    if (rows.empty()) return {};
    r = receiver_of(rows[0]);
    JZ_ASSIGN_OR_RETURN(
        due, store::query_all(c, kNotification,
                              kNotificationSelect + " WHERE receiver_id = ? AND state = 'pending' "
                                                    "AND next_attempt_ms <= ? ORDER BY "
                                                    "created_at_ms, id LIMIT 100",
                              {receiver_id, now}));
    return {};
  });
  if (!s.ok()) {
    logger_->warn("alerts: cannot read the notifications of {}: {}", receiver_id, s.message());
    return;
  }
  if (!r) {
    (void)db_.transact([&](store::Conn& c) {
      return c
          .exec(
              "UPDATE notifications SET state = 'cancelled', last_answer = 'the receiver was "
              "deleted' WHERE receiver_id = ? AND state = 'pending'",
              {receiver_id})
          .status();
    });
    return;
  }
  for (const Notification& n : due) {
    {
      std::lock_guard lock(mu_);
      auto& times = sent_[receiver_id];
      const int64_t t = clock_.now_unix_ms();
      times.erase(
          std::remove_if(times.begin(), times.end(), [t](int64_t x) { return x <= t - 60'000; }),
          times.end());
      if (static_cast<int>(times.size()) >= r->rate_per_minute) return;  // the rest wait
      times.push_back(t);
    }
    Message m = message_of(n, r->language);
    apply_templates(m, r->templates);
    const Answer a = r->enabled ? send_to(*r, m) : Answer{false, 0, "the receiver is disabled"};
    const int64_t t = clock_.now_unix_ms();
    const int64_t attempts = n.attempts + 1;
    std::string state = "pending";
    int64_t next = t;
    if (a.ok) {
      state = "delivered";
    } else if (attempts >= options_.max_attempts) {
      state = "failed";
    } else {
      // Exponential backoff with jitter: base x 2^(attempts-1), at most backoff_max, then
      // a random half to all of it.
      const double full = std::min<double>(
          static_cast<double>(options_.backoff_max.count()),
          static_cast<double>(options_.backoff_base.count()) * std::pow(2.0, attempts - 1));
      const double u =
          static_cast<double>(SecureRandom::instance().next_u64() >> 11) / 9007199254740992.0;
      next = t + static_cast<int64_t>(full * (0.5 + 0.5 * u));
    }
    Status w = db_.transact([&](store::Conn& c) -> Status {
      JZ_RETURN_IF_ERROR(
          c.exec("UPDATE notifications SET state = ?, attempts = ?, next_attempt_ms = ?, "
                 "delivered_at_ms = ?, last_code = ?, last_answer = ? WHERE id = ? AND state = "
                 "'pending'",
                 {state, attempts, next, a.ok ? store::Value(t) : store::Value(), int64_t{a.code},
                  a.detail.substr(0, 1024), n.id})
              .status());
      if (a.ok || state != "pending") return {};
      // The receiver is failing: what else it has due waits as long (without an attempt).
      return c
          .exec(
              "UPDATE notifications SET next_attempt_ms = ? WHERE receiver_id = ? AND state = "
              "'pending' AND next_attempt_ms < ?",
              {next, receiver_id, next})
          .status();
    });
    if (!w.ok()) logger_->warn("alerts: cannot record a delivery: {}", w.message());
    if (!a.ok) {
      logger_->info("alerts: receiver {} ({}) refused notification {} (attempt {}): {} {}", r->name,
                    r->channel, n.id, attempts, a.code, a.detail.substr(0, 200));
      return;  // a failing receiver waits for its backoff; the others go on
    }
  }
}

int AlertService::deliver_once() {
  if (auto f = flush_groups(); !f.ok()) {
    logger_->warn("alerts: cannot flush the alert groups: {}", f.status().message());
  }
  std::vector<std::string> receivers;
  Status s = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT DISTINCT receiver_id FROM notifications WHERE "
                                           "state = 'pending' AND next_attempt_ms <= ? LIMIT 1000",
                                           {clock_.now_unix_ms()}));
    for (const auto& row : rows) receivers.push_back(row.text("receiver_id"));
    return {};
  });
  if (!s.ok() || receivers.empty()) return 0;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < receivers.size(); i = next++) deliver_receiver(receivers[i]);
  };
  const int n = std::clamp(options_.delivery_threads, 1, static_cast<int>(receivers.size()));
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return static_cast<int>(receivers.size());
}

Status AlertService::start() {
  if (auto first = evaluate_once(); !first.ok()) return first.status();
  loop_ = std::thread([this] { loop(); });
  return {};
}

void AlertService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void AlertService::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, options_.tick, [this] { return stopping_; })) return;
    }
    for (;;) {
      auto n = evaluate_once();
      if (!n.ok()) {
        logger_->warn("alerts: cannot evaluate the rules: {}", n.status().message());
        break;
      }
      if (*n < 500) break;
    }
    if (metrics_ && clock_.now_unix_ms() >= next_rules_ms_) {
      next_rules_ms_ = clock_.now_unix_ms() + options_.rule_interval.count();
      if (auto r = evaluate_rules(); !r.ok()) {
        logger_->warn("alerts: cannot evaluate the custom rules: {}", r.status().message());
      }
    }
    deliver_once();
  }
}

bool Silence::matches(const Json& labels) const {
  return !matchers.empty() && all_match(matchers, labels);
}

Json Silence::to_json(int64_t now_ms) const {
  return {{"id", id},
          {"matchers", matchers_json(matchers)},
          {"starts_at", time_text(starts_at_ms)},
          {"ends_at", time_text(ends_at_ms)},
          {"state", now_ms < starts_at_ms ? "pending"
                    : now_ms < ends_at_ms ? "active"
                                          : "expired"},
          {"created_by", created_by},
          {"comment", comment}};
}

// ---- receivers of an alert ---------------------------------------------------------

namespace {
const std::string kInhibitionColumns =
    "id, scope, scope_id, source_matchers, target_matchers, equal, comment, created_by, "
    "created_at_ms";
// A stored inhibition rule into `in`; false when its matchers do not read (it then holds
// nothing back).
bool inhibition_of(const store::Row& row, Inhibition& in) {
  in.id = row.text("id");
  in.scope = row.text("scope");
  in.scope_id = row.text("scope_id");
  auto src = silence_matchers(Json::parse(row.text("source_matchers"), nullptr, false));
  auto dst = silence_matchers(Json::parse(row.text("target_matchers"), nullptr, false));
  if (src.ok()) in.source = std::move(*src);
  if (dst.ok()) in.target = std::move(*dst);
  const Json eq = Json::parse(row.text("equal"), nullptr, false);
  for (const auto& x : eq.is_array() ? eq : Json::array()) {
    if (x.is_string()) in.equal.push_back(x.get<std::string>());
  }
  in.comment = row.text("comment");
  in.created_by = row.text("created_by");
  in.created_at_ms = row.integer("created_at_ms");
  return src.ok() && dst.ok();
}
}  // namespace

Status AlertService::queue_in(store::Conn& c, const std::string& scope, const std::string& scope_id,
                              const std::string& rule, const std::string& severity,
                              const std::string& key, const std::string& title, const Json& alert,
                              int& queued, TargetCache* cache, bool oneshot) {
  TargetCache local;
  TargetCache& targets = cache ? *cache : local;
  auto found = targets.find(scope + "/" + scope_id);
  if (found == targets.end()) {
    Targets t;
    std::string project_id, workspace_id;
    if (scope == "project") {
      project_id = scope_id;
      JZ_ASSIGN_OR_RETURN(auto p,
                          c.query("SELECT workspace_id FROM projects WHERE id = ?", {scope_id}));
      if (!p.empty()) workspace_id = p[0].text("workspace_id");
    } else if (scope == "workspace") {
      workspace_id = scope_id;
    }
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        store::query_all(c, kReceiver, kReceiverSelect + " WHERE enabled = 1 AND " + kInScopes,
                         in_scopes(workspace_id, project_id)));
    for (const auto& row : rows) t.receivers.push_back(receiver_of(row));
    // Silences of the platform and of the alert's own workspace and project.
    const int64_t at = clock_.now_unix_ms();
    store::Params window{at, at};
    for (auto& v : in_scopes(workspace_id, project_id)) window.push_back(std::move(v));
    JZ_ASSIGN_OR_RETURN(auto sil, c.query("SELECT matchers FROM alert_silences WHERE starts_at_ms "
                                          "<= ? AND ends_at_ms > ? AND " +
                                              kInScopes,
                                          window));
    // Inhibition rules of the scope and above, and what fires there now.
    JZ_ASSIGN_OR_RETURN(auto inh, c.query("SELECT " + kInhibitionColumns +
                                              " FROM alert_inhibitions WHERE " + kInScopes,
                                          in_scopes(workspace_id, project_id)));
    for (const auto& row : inh) {
      Inhibition in;
      if (inhibition_of(row, in)) t.inhibitions.push_back(std::move(in));
    }
    if (!t.inhibitions.empty()) {
      JZ_ASSIGN_OR_RETURN(
          auto firing,
          c.query("SELECT labels FROM alerts_active WHERE state = 'firing' AND " + kInScopes,
                  in_scopes(workspace_id, project_id)));
      for (const auto& row : firing) {
        Json l = Json::parse(row.text("labels"), nullptr, false);
        if (l.is_object()) t.firing.push_back(std::move(l));
      }
    }
    // Nodes down now: their other alerts are held (inhibited) while it lasts.
    JZ_ASSIGN_OR_RETURN(auto down, c.query("SELECT labels FROM alerts_active WHERE rule = "
                                           "'node_down' AND state = 'firing'"));
    for (const auto& row : down) {
      const Json l = Json::parse(row.text("labels"), nullptr, false);
      if (l.is_object() && l.contains("Hostname")) t.down_hosts.insert(l.value("Hostname", ""));
    }
    for (const auto& row : sil) {
      Silence si;
      auto ms = silence_matchers(Json::parse(row.text("matchers"), nullptr, false));
      if (!ms.ok()) continue;
      si.matchers = std::move(*ms);
      t.silences.push_back(std::move(si));
    }
    found = targets.emplace(scope + "/" + scope_id, std::move(t)).first;
  }
  bool silenced = false;
  const Json no_labels = Json::object();
  const Json& labels = alert.contains("labels") ? alert["labels"] : no_labels;
  for (const Silence& si : found->second.silences) silenced = silenced || si.matches(labels);
  std::string held = silenced ? "silenced" : "";
  const std::string host = labels.value("Hostname", "");
  if (held.empty() && !host.empty() && rule != "node_down" &&
      found->second.down_hosts.count(host)) {
    held = "inhibited";
  }
  for (const Inhibition& in : found->second.inhibitions) {
    if (!held.empty()) break;
    // An alert never holds itself back (Alertmanager's rule too).
    if (!all_match(in.target, labels) || all_match(in.source, labels)) continue;
    for (const Json& src : found->second.firing) {
      if (!all_match(in.source, src)) continue;
      bool same = true;
      for (const auto& l : in.equal) same = same && src.value(l, "") == labels.value(l, "");
      if (same) {
        held = "inhibited:" + src.value("alertname", "");
        break;
      }
    }
  }
  return route_to(c, found->second.receivers, rule, severity, key, title, alert, held, oneshot,
                  queued);
}

namespace {
// What the history says of a notification held back.
std::string held_answer(const std::string& held, const Json& alert) {
  if (held == "silenced") return "a silence matched";
  if (held == "inhibited") {
    return "held back: node " + alert.value("labels", Json::object()).value("Hostname", "") +
           " is down (node_down firing)";
  }
  if (held.rfind("inhibited:", 0) == 0) {
    return "held back by an inhibition rule: " + held.substr(10) + " fires";
  }
  return "";
}
}  // namespace

Status AlertService::route_to(store::Conn& c, const std::vector<Receiver>& receivers,
                              const std::string& rule, const std::string& severity,
                              const std::string& key, const std::string& title, const Json& alert,
                              const std::string& held, bool oneshot, int& queued) {
  const std::string text = json::dump(alert);
  for (const Receiver& r : receivers) {
    if (severity_rank(severity) < severity_rank(r.min_severity)) continue;
    if (!r.rules.empty() && std::find(r.rules.begin(), r.rules.end(), rule) == r.rules.end()) {
      continue;
    }
    if (!r.matchers.empty() && !all_match(r.matchers, alert.value("labels", Json::object()))) {
      continue;
    }
    const int64_t now = clock_.now_unix_ms();
    if (r.grouped() && held.empty()) {
      JZ_RETURN_IF_ERROR(group_in(c, r, severity, title, alert, oneshot, now));
      ++queued;
      continue;
    }
    JZ_ASSIGN_OR_RETURN(
        const int64_t n,
        c.exec("INSERT INTO notifications (id, receiver_id, receiver_name, scope, scope_id, "
               "dedup_key, rule, severity, title, message, state, attempts, next_attempt_ms, "
               "created_at_ms, last_code, last_answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
               "0, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
               {ids_.next("ntf_"), r.id, r.name, r.scope, r.scope_id, key, rule, severity, title,
                text, held.empty() ? std::string("pending") : held.substr(0, held.find(':')), now,
                now, held_answer(held, alert)}));
    queued += static_cast<int>(n);
  }
  return {};
}

Status AlertService::group_in(store::Conn& c, const Receiver& r, const std::string& severity,
                              const std::string& title, const Json& alert, bool oneshot,
                              int64_t now) {
  const Json labels = alert.value("labels", Json::object());
  Json group_labels = Json::object();
  if (r.group_by.size() == 1 && r.group_by[0] == "...") {
    group_labels = labels;
  } else {
    for (const auto& l : r.group_by) group_labels[l] = labels.value(l, "");
  }
  const std::string key = json::dump(group_labels);
  JZ_ASSIGN_OR_RETURN(auto g, c.query("SELECT id, next_flush_ms, last_sent_ms FROM alert_groups "
                                      "WHERE receiver_id = ? AND group_key = ?",
                                      {r.id, key}));
  std::string group_id;
  if (g.empty()) {
    group_id = ids_.next("grp_");
    JZ_RETURN_IF_ERROR(c.exec("INSERT INTO alert_groups (id, receiver_id, group_key, group_labels, "
                              "next_flush_ms, repeat_at_ms, last_sent_ms, created_at_ms) VALUES "
                              "(?, ?, ?, ?, ?, NULL, 0, ?)",
                              {group_id, r.id, key, key, now + r.group_wait_ms, now})
                           .status());
  } else {
    group_id = g[0].text("id");
  }
  const std::string fingerprint =
      alert.value("fingerprint", sha256_hex(json::dump(labels)).substr(0, 16));
  const std::string status = alert.value("status", "firing");
  JZ_ASSIGN_OR_RETURN(auto was, c.query("SELECT status FROM alert_group_alerts WHERE group_id = ? "
                                        "AND fingerprint = ?",
                                        {group_id, fingerprint}));
  if (!was.empty() && was[0].text("status") == status) {
    // Known as it is: kept up to date, nothing new to say.
    return c
        .exec(
            "UPDATE alert_group_alerts SET alert = ?, severity = ?, title = ?, updated_at_ms = ? "
            "WHERE group_id = ? AND fingerprint = ?",
            {json::dump(alert), severity, title, now, group_id, fingerprint})
        .status();
  }
  if (was.empty() && status == "resolved") return {};  // never told: nothing to resolve
  JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_group_alerts WHERE group_id = ? AND fingerprint = ?",
                            {group_id, fingerprint})
                         .status());
  JZ_RETURN_IF_ERROR(c.exec("INSERT INTO alert_group_alerts (group_id, fingerprint, alert, status, "
                            "severity, title, oneshot, changed, updated_at_ms) VALUES (?, ?, ?, ?, "
                            "?, ?, ?, 1, ?)",
                            {group_id, fingerprint, json::dump(alert), status, severity, title,
                             int64_t{oneshot ? 1 : 0}, now})
                         .status());
  // A group told before waits group_interval after its last message.
  if (!g.empty() && g[0].is_null("next_flush_ms")) {
    JZ_RETURN_IF_ERROR(
        c.exec("UPDATE alert_groups SET next_flush_ms = ? WHERE id = ?",
               {std::max(now, g[0].integer("last_sent_ms") + r.group_interval_ms), group_id})
            .status());
  }
  return {};
}

Result<int> AlertService::flush_groups() {
  const int64_t now = clock_.now_unix_ms();
  int flushed = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto groups,
                        c.query("SELECT id, receiver_id, group_labels FROM alert_groups WHERE "
                                "next_flush_ms <= ? OR repeat_at_ms <= ? ORDER BY id LIMIT 500",
                                {now, now}));
    std::map<std::string, std::optional<Receiver>> receivers;
    for (const auto& g : groups) {
      const std::string id = g.text("id");
      auto known = receivers.find(g.text("receiver_id"));
      if (known == receivers.end()) {
        JZ_ASSIGN_OR_RETURN(auto rows,
                            store::query_all(c, kReceiver, kReceiverSelect + " WHERE id = ?",
                                             {g.text("receiver_id")}));
        known = receivers
                    .emplace(g.text("receiver_id"),
                             rows.empty() ? std::nullopt : std::optional(receiver_of(rows[0])))
                    .first;
      }
      JZ_ASSIGN_OR_RETURN(auto members,
                          c.query("SELECT fingerprint, alert, status, severity, title, changed "
                                  "FROM alert_group_alerts WHERE group_id = ? ORDER BY "
                                  "updated_at_ms, fingerprint",
                                  {id}));
      // Every alert still firing, and those resolved since the last message.
      Json alerts = Json::array();
      std::string severity = "info", rule, title;
      bool firing = false, same_rule = true;
      for (const auto& m : members) {
        if (m.text("status") != "firing" && m.integer("changed") == 0) continue;
        Json a = Json::parse(m.text("alert"), nullptr, false);
        if (!a.is_object()) continue;
        firing = firing || m.text("status") == "firing";
        if (severity_rank(m.text("severity")) > severity_rank(severity)) {
          severity = m.text("severity");
        }
        const std::string name = a.value("labels", Json::object()).value("alertname", "");
        if (alerts.empty()) rule = name;
        same_rule = same_rule && name == rule;
        title = m.text("title");
        alerts.push_back(std::move(a));
      }
      // A receiver removed or turned off meanwhile: its groups go with it.
      if (!known->second || !known->second->enabled || alerts.empty()) {
        JZ_RETURN_IF_ERROR(
            c.exec("DELETE FROM alert_group_alerts WHERE group_id = ?", {id}).status());
        JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_groups WHERE id = ?", {id}).status());
        continue;
      }
      const Receiver& r = *known->second;
      const Json group_labels = Json::parse(g.text("group_labels"), nullptr, false);
      if (alerts.size() > 1) {
        title = std::to_string(alerts.size()) + " alerts:" + labels_text(group_labels);
      }
      const Json body = {{"group_labels", group_labels}, {"alerts", alerts}};
      JZ_RETURN_IF_ERROR(
          c.exec("INSERT INTO notifications (id, receiver_id, receiver_name, scope, scope_id, "
                 "dedup_key, rule, severity, title, message, state, attempts, next_attempt_ms, "
                 "created_at_ms, last_code, last_answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "'pending', 0, ?, ?, 0, '')",
                 {ids_.next("ntf_"), r.id, r.name, r.scope, r.scope_id,
                  "grp:" + id + ":" + std::to_string(now), same_rule ? rule : "group", severity,
                  title, json::dump(body), now, now})
              .status());
      ++flushed;
      // Told: what was resolved or said once leaves the group; the rest is unchanged now.
      JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alert_group_alerts WHERE group_id = ? AND (status = "
                                "'resolved' OR oneshot = 1)",
                                {id})
                             .status());
      JZ_RETURN_IF_ERROR(
          c.exec("UPDATE alert_group_alerts SET changed = 0 WHERE group_id = ?", {id}).status());
      JZ_ASSIGN_OR_RETURN(
          auto left,
          c.query("SELECT COUNT(*) AS n FROM alert_group_alerts WHERE group_id = ?", {id}));
      // An empty group lives on for group_interval, so what comes meanwhile waits as long
      // (a flush then finds it empty and drops it); one still firing repeats.
      const bool empty = left[0].integer("n") == 0;
      JZ_RETURN_IF_ERROR(
          c.exec("UPDATE alert_groups SET next_flush_ms = NULL, last_sent_ms = ?, repeat_at_ms = ? "
                 "WHERE id = ?",
                 {now,
                  empty                      ? store::Value(now + r.group_interval_ms)
                  : r.repeat_interval_ms > 0 ? store::Value(now + r.repeat_interval_ms)
                                             : store::Value(),
                  id})
              .status());
    }
    return {};
  }));
  return flushed;
}

Status AlertService::notify_owner(store::Conn& c, const std::string& job_id,
                                  const BuiltinRule& rule, const std::string& severity,
                                  const std::string& key, const std::string& title,
                                  const Json& alert, const std::string& path, int& queued,
                                  OwnerCache& cache) {
  auto owner = cache.owner_of.find(job_id);
  if (owner == cache.owner_of.end()) {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT user_id FROM jobs WHERE id = ?", {job_id}));
    owner = cache.owner_of.emplace(job_id, rows.empty() ? "" : rows[0].text("user_id")).first;
  }
  const std::string& user_id = owner->second;
  if (user_id.empty()) return {};
  auto user = cache.users.find(user_id);
  if (user == cache.users.end()) {
    OwnerCache::User u;
    JZ_ASSIGN_OR_RETURN(auto subs, c.query("SELECT rule, subscribed FROM alert_subscriptions WHERE "
                                           "user_id = ?",
                                           {user_id}));
    for (const auto& row : subs) u.subscribed[row.text("rule")] = row.integer("subscribed") != 0;
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(c, kReceiver,
                                         kReceiverSelect + " WHERE scope = 'user' AND scope_id = ? "
                                                           "AND enabled = 1",
                                         {user_id}));
    for (const auto& row : rows) u.receivers.push_back(receiver_of(row));
    user = cache.users.emplace(user_id, std::move(u)).first;
  }
  auto sub = user->second.subscribed.find(rule.id);
  if (sub != user->second.subscribed.end() && !sub->second) return {};
  JZ_RETURN_IF_ERROR(
      c.exec("INSERT INTO alert_inbox (id, user_id, dedup_key, rule, severity, "
             "title, labels, link, created_at_ms, read_at_ms) VALUES (?, ?, ?, ?, "
             "?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
             {ids_.next("inb_"), user_id, key, rule.id, severity, title,
              json::dump(alert.value("labels", Json::object())), path, clock_.now_unix_ms()})
          .status());
  return route_to(c, user->second.receivers, rule.id, severity, key, title, alert,
                  /*held=*/"", /*oneshot=*/true, queued);
}

Json InboxItem::to_json() const {
  Json j = {{"id", id},
            {"rule", rule},
            {"severity", severity},
            {"title", title},
            {"labels", labels},
            {"link", link},
            {"created_at", time_text(created_at_ms)},
            {"read", read_at_ms.has_value()}};
  return j;
}

Json Subscription::to_json() const {
  const BuiltinRule* r = rule_by_id(rule);
  return {{"rule", rule}, {"subscribed", subscribed}, {"summary", r ? r->summary : ""}};
}

namespace {
struct InboxRow {
  std::string id, rule, severity, title, labels, link;
  int64_t created_at_ms = 0;
  std::optional<int64_t> read_at_ms;
};
const store::RowMap<InboxRow> kInboxRow{{"id", &InboxRow::id},
                                        {"rule", &InboxRow::rule},
                                        {"severity", &InboxRow::severity},
                                        {"title", &InboxRow::title},
                                        {"labels", &InboxRow::labels},
                                        {"link", &InboxRow::link},
                                        {"created_at_ms", &InboxRow::created_at_ms},
                                        {"read_at_ms", &InboxRow::read_at_ms}};
}  // namespace

Result<store::Page<InboxItem>> AlertService::inbox(const std::string& user_id,
                                                   const store::PageSpec& page, bool unread_only) {
  store::Page<InboxItem> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql = "SELECT " + kInboxRow.columns() + " FROM alert_inbox WHERE user_id = ?";
    store::Params params{user_id};
    if (unread_only) sql += " AND read_at_ms IS NULL";
    if (!page.after.empty()) {
      sql += " AND id < ?";
      params.push_back(page.after);
    }
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kInboxRow, sql, params));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      InboxItem it;
      it.id = rows[i].id;
      it.rule = rows[i].rule;
      it.severity = rows[i].severity;
      it.title = rows[i].title;
      it.labels = Json::parse(rows[i].labels, nullptr, false);
      if (!it.labels.is_object()) it.labels = Json::object();
      it.link = rows[i].link;
      it.created_at_ms = rows[i].created_at_ms;
      it.read_at_ms = rows[i].read_at_ms;
      out.items.push_back(std::move(it));
    }
    if (rows.size() > static_cast<size_t>(limit)) out.next_after = out.items.back().id;
    return {};
  }));
  return out;
}

Result<int64_t> AlertService::unread(const std::string& user_id) {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM alert_inbox WHERE user_id = "
                                           "? AND read_at_ms IS NULL",
                                           {user_id}));
    n = rows[0].integer("n");
    return {};
  }));
  return n;
}

Result<int64_t> AlertService::mark_read(const std::string& user_id,
                                        const std::vector<std::string>& ids, bool all) {
  if (!all && (ids.empty() || ids.size() > 1000)) {
    return Status::invalid_argument("ids: 1 to 1000 notification ids (or all: true)");
  }
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    const int64_t now = clock_.now_unix_ms();
    if (all) {
      JZ_ASSIGN_OR_RETURN(n, c.exec("UPDATE alert_inbox SET read_at_ms = ? WHERE user_id = ? AND "
                                    "read_at_ms IS NULL",
                                    {now, user_id}));
      return {};
    }
    for (const auto& id : ids) {
      // Only the caller's own: another user's id marks nothing.
      JZ_ASSIGN_OR_RETURN(const int64_t one,
                          c.exec("UPDATE alert_inbox SET read_at_ms = ? WHERE id = ? AND user_id = "
                                 "? AND read_at_ms IS NULL",
                                 {now, id, user_id}));
      n += one;
    }
    return {};
  }));
  return n;
}

Result<std::vector<Subscription>> AlertService::subscriptions(const std::string& user_id) {
  std::vector<Subscription> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT rule, subscribed FROM alert_subscriptions WHERE "
                                           "user_id = ?",
                                           {user_id}));
    for (const auto& r : kRules) {
      if (!kPersonal.count(r.id)) continue;
      Subscription sub{r.id, true};
      for (const auto& row : rows) {
        if (row.text("rule") == r.id) sub.subscribed = row.integer("subscribed") != 0;
      }
      out.push_back(std::move(sub));
    }
    return {};
  }));
  return out;
}

Result<Subscription> AlertService::subscribe(const std::string& user_id, const std::string& rule,
                                             bool on) {
  if (!kPersonal.count(rule)) {
    return Status::not_found("no rule '" + rule +
                             "' to follow for one's own jobs (GET .../subscriptions lists them)");
  }
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM alert_subscriptions WHERE user_id = ? AND rule = ?", {user_id, rule})
            .status());
    return c
        .exec("INSERT INTO alert_subscriptions (user_id, rule, subscribed) VALUES (?, ?, ?)",
              {user_id, rule, int64_t{on ? 1 : 0}})
        .status();
  }));
  return Subscription{rule, on};
}

// ---- custom rules ------------------------------------------------------------------

namespace {

struct RuleRow {
  std::string id, scope, scope_id, name, expr;
  int64_t for_ms = 0;
  std::string severity, labels, annotations;
  bool enabled = true;
  std::string created_by;
  int64_t created_at_ms = 0;
};
const store::RowMap<RuleRow> kRuleRow{{"id", &RuleRow::id},
                                      {"scope", &RuleRow::scope},
                                      {"scope_id", &RuleRow::scope_id},
                                      {"name", &RuleRow::name},
                                      {"expr", &RuleRow::expr},
                                      {"for_ms", &RuleRow::for_ms},
                                      {"severity", &RuleRow::severity},
                                      {"labels", &RuleRow::labels},
                                      {"annotations", &RuleRow::annotations},
                                      {"enabled", &RuleRow::enabled},
                                      {"created_by", &RuleRow::created_by},
                                      {"created_at_ms", &RuleRow::created_at_ms}};
const std::string kRuleSelect = "SELECT " + kRuleRow.columns() + " FROM alert_custom_rules";

CustomRule rule_of(const RuleRow& row) {
  CustomRule r;
  r.id = row.id;
  r.scope = row.scope;
  r.scope_id = row.scope_id;
  r.name = row.name;
  r.expr = row.expr;
  r.for_ms = row.for_ms;
  r.severity = row.severity;
  r.labels = Json::parse(row.labels, nullptr, false);
  if (!r.labels.is_object()) r.labels = Json::object();
  r.annotations = Json::parse(row.annotations, nullptr, false);
  if (!r.annotations.is_object()) r.annotations = Json::object();
  r.enabled = row.enabled;
  r.created_by = row.created_by;
  r.created_at_ms = row.created_at_ms;
  return r;
}

struct ActiveRow {
  std::string fingerprint, rule_id, rule, scope, scope_id, state, labels, annotations, value;
  int64_t active_since_ms = 0, fired_at_ms = 0;
};
const store::RowMap<ActiveRow> kActiveRow{{"fingerprint", &ActiveRow::fingerprint},
                                          {"rule_id", &ActiveRow::rule_id},
                                          {"rule", &ActiveRow::rule},
                                          {"scope", &ActiveRow::scope},
                                          {"scope_id", &ActiveRow::scope_id},
                                          {"state", &ActiveRow::state},
                                          {"labels", &ActiveRow::labels},
                                          {"annotations", &ActiveRow::annotations},
                                          {"value", &ActiveRow::value},
                                          {"active_since_ms", &ActiveRow::active_since_ms},
                                          {"fired_at_ms", &ActiveRow::fired_at_ms}};
const std::string kActiveSelect = "SELECT " + kActiveRow.columns() + " FROM alerts_active";

ActiveAlert active_of(const ActiveRow& row) {
  ActiveAlert a;
  a.fingerprint = row.fingerprint;
  a.rule_id = row.rule_id;
  a.rule = row.rule;
  a.scope = row.scope;
  a.scope_id = row.scope_id;
  a.state = row.state;
  a.labels = Json::parse(row.labels, nullptr, false);
  a.annotations = Json::parse(row.annotations, nullptr, false);
  a.value = std::strtod(row.value.c_str(), nullptr);
  a.active_since_ms = row.active_since_ms;
  a.fired_at_ms = row.fired_at_ms;
  return a;
}

// {{ $labels.NAME }} and {{ $value }} in an annotation, as Prometheus fills them.
std::string fill_template(const std::string& text, const promql::Labels& labels, double value) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t open = text.find("{{", i);
    if (open == std::string::npos) {
      out += text.substr(i);
      break;
    }
    const size_t close = text.find("}}", open);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    std::string inner = text.substr(open + 2, close - open - 2);
    inner.erase(0, inner.find_first_not_of(' '));
    inner.erase(inner.find_last_not_of(' ') + 1);
    if (inner == "$value") {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", value);
      out += buf;
    } else if (inner.rfind("$labels.", 0) == 0) {
      auto it = labels.find(inner.substr(8));
      if (it != labels.end()) out += it->second;
    } else {
      out += text.substr(open, close + 2 - open);
    }
    i = close + 2;
  }
  return out;
}

std::string yaml_string(const std::string& s) { return json::dump(Json(s)); }

}  // namespace

Json CustomRule::to_json() const {
  return {{"id", id},
          {"name", name},
          {"scope", scope},
          {"expr", expr},
          {"for", promql::format_duration(for_ms)},
          {"severity", severity},
          {"labels", labels},
          {"annotations", annotations},
          {"enabled", enabled},
          {"created_by", created_by},
          {"created_at", time_text(created_at_ms)}};
}

Json ActiveAlert::to_json() const {
  Json j = {{"fingerprint", fingerprint},
            {"rule", rule},
            {"state", state},
            {"labels", labels},
            {"annotations", annotations},
            {"value", value},
            {"active_since", time_text(active_since_ms)}};
  if (fired_at_ms) j["fired_at"] = time_text(fired_at_ms);
  return j;
}

Status AlertService::apply_rule(CustomRule& r, const Json& body, bool creating) {
  if (!body.is_object()) return Status::invalid_argument("the body must be an object");
  static const std::set<std::string> kFields = {"name",   "expr",        "for",    "severity",
                                                "labels", "annotations", "enabled"};
  for (const auto& [k, v] : body.items()) {
    if (!kFields.count(k)) {
      return Status::invalid_argument(
          "'" + k + "': a rule has name, expr, for, severity, labels, annotations, enabled");
    }
  }
  if (creating) {
    if (!body.contains("name") || !body["name"].is_string() ||
        !valid_name(body["name"].get<std::string>())) {
      return Status::invalid_argument(
          "name: 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit");
    }
    r.name = body["name"].get<std::string>();
    for (const auto& b : kRules) {
      if (b.id == r.name)
        return Status::invalid_argument("name: '" + r.name + "' is a built-in rule's");
    }
    if (!body.contains("expr")) return Status::invalid_argument("expr: required");
  } else if (body.contains("name") && body["name"] != r.name) {
    return Status::invalid_argument("name: a rule keeps its name (create another)");
  }
  if (body.contains("expr")) {
    if (!body["expr"].is_string()) return Status::invalid_argument("expr: a PromQL expression");
    JZ_ASSIGN_OR_RETURN(auto e, promql::parse(body["expr"].get<std::string>()));
    if (!promql::is_vector(*e)) {
      return Status::invalid_argument("expr: a rule's expression must select series, not a number");
    }
    r.expr = promql::format(*e);
  }
  if (body.contains("for")) {
    if (!body["for"].is_string()) return Status::invalid_argument("for: a duration like 5m");
    JZ_ASSIGN_OR_RETURN(r.for_ms, duration_ms(body["for"].get<std::string>()));
    if (r.for_ms > 7LL * 86'400'000) return Status::invalid_argument("for: at most a week");
  }
  if (body.contains("severity")) {
    if (!body["severity"].is_string() || severity_rank(body["severity"].get<std::string>()) < 0) {
      return Status::invalid_argument("severity: one of info, warning, critical");
    }
    r.severity = body["severity"].get<std::string>();
  }
  for (const char* field : {"labels", "annotations"}) {
    if (!body.contains(field)) continue;
    const Json& m = body[field];
    if (!m.is_object() || m.size() > 32) {
      return Status::invalid_argument(std::string(field) + ": an object of at most 32 strings");
    }
    for (const auto& [k, v] : m.items()) {
      if (!valid_label_name(k) || !v.is_string() || v.get<std::string>().size() > 4096) {
        return Status::invalid_argument(std::string(field) + "." + k +
                                        ": names are letters, digits and '_'; values strings");
      }
      if (std::string(field) == "labels" &&
          (k == "alertname" || k == "severity" || k == "project" || k == "workspace")) {
        return Status::invalid_argument("labels." + k + ": set by the platform");
      }
    }
    (std::string(field) == "labels" ? r.labels : r.annotations) = m;
  }
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) return Status::invalid_argument("enabled: true or false");
    r.enabled = body["enabled"].get<bool>();
  }
  return {};
}

Result<CustomRule> AlertService::create_custom_rule(const std::string& scope,
                                                    const std::string& scope_id, const Json& body,
                                                    const std::string& actor) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  CustomRule r;
  r.scope = scope;
  r.scope_id = scope_id;
  JZ_RETURN_IF_ERROR(apply_rule(r, body, true));
  r.id = ids_.next("arl_");
  r.created_by = actor;
  r.created_at_ms = clock_.now_unix_ms();
  Status s = db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO alert_custom_rules (id, scope, scope_id, name, expr, for_ms, severity, "
            "labels, annotations, enabled, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?)",
            {r.id, scope, scope_id, r.name, r.expr, r.for_ms, r.severity, json::dump(r.labels),
             json::dump(r.annotations), int64_t{r.enabled ? 1 : 0}, actor, r.created_at_ms})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("a rule named '" + r.name + "' exists here");
  }
  JZ_RETURN_IF_ERROR(s);
  return r;
}

Result<CustomRule> AlertService::custom_rule(const std::string& scope, const std::string& scope_id,
                                             const std::string& name) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  CustomRule out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto row, store::query_one(c, kRuleRow,
                                   kRuleSelect + " WHERE scope = ? AND scope_id = ? AND name = ?",
                                   {scope, scope_id, name}, "no alert rule '" + name + "'"));
    out = rule_of(row);
    return {};
  }));
  return out;
}

Result<std::vector<CustomRule>> AlertService::custom_rules(const std::string& scope,
                                                           const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  std::vector<CustomRule> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(c, kRuleRow,
                                         kRuleSelect + " WHERE scope = ? AND scope_id = ? ORDER "
                                                       "BY name LIMIT 1000",
                                         {scope, scope_id}));
    for (const auto& row : rows) out.push_back(rule_of(row));
    return {};
  }));
  return out;
}

Result<CustomRule> AlertService::update_custom_rule(const std::string& scope,
                                                    const std::string& scope_id,
                                                    const std::string& name, const Json& patch) {
  JZ_ASSIGN_OR_RETURN(CustomRule r, custom_rule(scope, scope_id, name));
  JZ_RETURN_IF_ERROR(apply_rule(r, patch, false));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("UPDATE alert_custom_rules SET expr = ?, for_ms = ?, severity = ?, "
                              "labels = ?, annotations = ?, enabled = ? WHERE id = ?",
                              {r.expr, r.for_ms, r.severity, json::dump(r.labels),
                               json::dump(r.annotations), int64_t{r.enabled ? 1 : 0}, r.id})
                           .status());
    // A changed rule starts over: its alerts are looked at afresh at the next evaluation.
    return c.exec("DELETE FROM alerts_active WHERE rule_id = ? AND state = 'pending'", {r.id})
        .status();
  }));
  return r;
}

Status AlertService::delete_custom_rule(const std::string& scope, const std::string& scope_id,
                                        const std::string& name) {
  JZ_ASSIGN_OR_RETURN(CustomRule r, custom_rule(scope, scope_id, name));
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alerts_active WHERE rule_id = ?", {r.id}).status());
    return c.exec("DELETE FROM alert_custom_rules WHERE id = ?", {r.id}).status();
  });
}

Result<std::optional<promql::Matcher>> AlertService::scope_matcher(store::Conn& c,
                                                                   const std::string& scope,
                                                                   const std::string& scope_id) {
  if (scope == "platform") return std::optional<promql::Matcher>();
  const bool project = scope == "project";
  JZ_ASSIGN_OR_RETURN(auto rows, c.query(project ? "SELECT name FROM projects WHERE id = ?"
                                                 : "SELECT name FROM workspaces WHERE id = ?",
                                         {scope_id}));
  if (rows.empty()) return Status::not_found("the rule's " + scope + " is gone");
  JZ_ASSIGN_OR_RETURN(auto m, promql::make_matcher(project ? "project" : "workspace",
                                                   promql::Matcher::Op::kEq, rows[0].text("name")));
  return std::optional<promql::Matcher>(std::move(m));
}

Result<std::shared_ptr<const promql::Expr>> AlertService::scoped_expr(store::Conn& c,
                                                                      const CustomRule& r) {
  JZ_ASSIGN_OR_RETURN(auto e, promql::parse(r.expr));
  JZ_ASSIGN_OR_RETURN(auto m, scope_matcher(c, r.scope, r.scope_id));
  return m ? promql::with_matcher(*e, *m) : e;
}

Result<std::vector<promql::Sample>> AlertService::preview(const std::string& scope,
                                                          const std::string& scope_id,
                                                          const std::string& expr) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  if (!metrics_)
    return Status::unavailable("no metrics here: the monitor is off (monitoring.agent)");
  CustomRule r;
  r.scope = scope;
  r.scope_id = scope_id;
  JZ_RETURN_IF_ERROR(apply_rule(r, {{"expr", expr}}, false));
  std::shared_ptr<const promql::Expr> e;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(e, scoped_expr(c, r));
    return {};
  }));
  JZ_ASSIGN_OR_RETURN(auto v, promql::evaluate(*e, *metrics_, clock_.now_unix_ms()));
  if (v.samples.size() > 1000) v.samples.resize(1000);
  return v.samples;
}

Result<std::vector<ActiveAlert>> AlertService::active(const std::string& scope,
                                                      const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  std::vector<ActiveAlert> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(c, kActiveRow,
                                         kActiveSelect + " WHERE scope = ? AND scope_id = ? ORDER "
                                                         "BY active_since_ms LIMIT 1000",
                                         {scope, scope_id}));
    for (const auto& row : rows) out.push_back(active_of(row));
    return {};
  }));
  return out;
}

Result<int> AlertService::evaluate_rules() {
  if (!metrics_) return 0;
  const int64_t now = clock_.now_unix_ms();
  int changed = 0, queued = 0;
  std::vector<CustomRule> rules;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, store::query_all(c, kRuleRow, kRuleSelect + " WHERE enabled = 1 ORDER BY id"));
    for (const auto& row : rows) rules.push_back(rule_of(row));
    return {};
  }));
  // The built-in rules over metrics, evaluated over every series as the platform's.
  for (const auto& b : kRules) {
    if (b.expr.empty()) continue;
    CustomRule r;
    r.id = "builtin:" + b.id;
    r.scope = "platform";
    r.name = b.id;
    r.expr = b.expr;
    r.for_ms = b.for_ms;
    r.severity = b.severity;
    r.annotations = {{"summary", b.summary}};
    r.builtin = &b;
    rules.push_back(std::move(r));
  }
  for (const CustomRule& r : rules) {
    Status s = db_.transact([&](store::Conn& c) -> Status {
      auto e = scoped_expr(c, r);
      if (!e.ok()) return {};  // its scope is gone
      auto v = promql::evaluate(**e, *metrics_, now);
      if (!v.ok()) return {};
      JZ_ASSIGN_OR_RETURN(
          auto rows, store::query_all(c, kActiveRow, kActiveSelect + " WHERE rule_id = ?", {r.id}));
      std::map<std::string, ActiveAlert> was;
      for (const auto& row : rows) was.emplace(row.fingerprint, active_of(row));
      std::string scope_label;
      JZ_ASSIGN_OR_RETURN(auto m, scope_matcher(c, r.scope, r.scope_id));
      auto alert_json = [&](const ActiveAlert& a, const std::string& status, int64_t ends) {
        return Json{{"status", status},
                    {"labels", a.labels},
                    {"annotations", a.annotations},
                    {"startsAt", time_text(a.fired_at_ms ? a.fired_at_ms : a.active_since_ms)},
                    {"endsAt", ends ? time_text(ends) : "0001-01-01T00:00:00Z"},
                    {"generatorURL", options_.console_url},
                    {"fingerprint", a.fingerprint}};
      };
      auto notify = [&](const ActiveAlert& a, const std::string& status) -> Status {
        const std::string title =
            a.annotations.value("summary", r.name) + (status == "resolved" ? " (resolved)" : "");
        return queue_in(c, a.scope, a.scope_id, r.name, a.labels.value("severity", r.severity),
                        "rule:" + r.id + ":" + a.fingerprint + ":" + std::to_string(a.fired_at_ms) +
                            ":" + status,
                        title, alert_json(a, status, status == "resolved" ? now : 0), queued);
      };
      std::set<std::string> present;
      std::map<std::string, std::optional<std::pair<std::string, RuleSetting>>> by_project;
      for (const auto& sample : v->samples) {
        promql::Labels labels = sample.labels;
        for (const auto& [k, x] : r.labels.items()) labels[k] = x.get<std::string>();
        labels["alertname"] = r.name;
        labels["severity"] = r.severity;
        std::string alert_scope = r.scope, alert_scope_id = r.scope_id;
        if (r.builtin) {
          // The project the series belongs to, with its setting of the rule.
          auto pl = sample.labels.find("project");
          const std::string project = pl == sample.labels.end() ? "" : pl->second;
          auto known = by_project.find(project);
          if (known == by_project.end()) {
            std::string project_id, workspace_id;
            if (!project.empty()) {
              JZ_ASSIGN_OR_RETURN(auto p, c.query("SELECT id, workspace_id FROM projects WHERE "
                                                  "name = ?",
                                                  {project}));
              if (!p.empty()) {
                project_id = p[0].text("id");
                workspace_id = p[0].text("workspace_id");
              }
            }
            JZ_ASSIGN_OR_RETURN(RuleSetting st,
                                setting_in(c, *r.builtin, project_id, workspace_id));
            known = by_project
                        .emplace(project, st.enabled ? std::optional(std::pair{project_id, st})
                                                     : std::nullopt)
                        .first;
          }
          if (!known->second) continue;  // off there
          labels["severity"] = known->second->second.severity;
          if (!known->second->first.empty()) {
            alert_scope = "project";
            alert_scope_id = known->second->first;
          }
        }
        if (m) labels[m->label] = m->value;
        Json lj = Json::object();
        for (const auto& [k, x] : labels) lj[k] = x;
        const std::string fp = sha256_hex(r.id + json::dump(lj)).substr(0, 16);
        if (!present.insert(fp).second) continue;
        Json ann = Json::object();
        for (const auto& [k, x] : r.annotations.items()) {
          ann[k] = fill_template(x.get<std::string>(), labels, sample.value);
        }
        if (!ann.contains("summary")) ann["summary"] = r.name + " (" + r.expr + ")";
        char value[64];
        std::snprintf(value, sizeof value, "%.17g", sample.value);
        auto it = was.find(fp);
        ActiveAlert a;
        a.fingerprint = fp;
        a.rule_id = r.id;
        a.rule = r.name;
        a.scope = alert_scope;
        a.scope_id = alert_scope_id;
        a.labels = lj;
        a.annotations = ann;
        a.value = sample.value;
        a.active_since_ms = it == was.end() ? now : it->second.active_since_ms;
        a.fired_at_ms = it == was.end() ? 0 : it->second.fired_at_ms;
        a.state = it == was.end() ? "pending" : it->second.state;
        const bool fire = a.state == "pending" && now - a.active_since_ms >= r.for_ms;
        if (fire) {
          a.state = "firing";
          a.fired_at_ms = now;
          ++changed;
          JZ_RETURN_IF_ERROR(notify(a, "firing"));
        } else if (it == was.end()) {
          ++changed;
        }
        JZ_RETURN_IF_ERROR(
            c.exec("DELETE FROM alerts_active WHERE fingerprint = ?", {fp}).status());
        JZ_RETURN_IF_ERROR(
            c.exec("INSERT INTO alerts_active (fingerprint, rule_id, rule, scope, scope_id, state, "
                   "labels, annotations, value, active_since_ms, fired_at_ms) VALUES (?, ?, ?, ?, "
                   "?, ?, ?, ?, ?, ?, ?)",
                   {fp, r.id, r.name, a.scope, a.scope_id, a.state, json::dump(lj), json::dump(ann),
                    std::string(value), a.active_since_ms, a.fired_at_ms})
                .status());
      }
      for (const auto& [fp, a] : was) {
        if (present.count(fp)) continue;
        ++changed;
        if (a.state == "firing") JZ_RETURN_IF_ERROR(notify(a, "resolved"));
        JZ_RETURN_IF_ERROR(
            c.exec("DELETE FROM alerts_active WHERE fingerprint = ?", {fp}).status());
      }
      return {};
    });
    if (!s.ok()) logger_->warn("alerts: rule {} not evaluated: {}", r.name, s.message());
  }
  queued_ += queued;
  return changed;
}

Result<std::string> AlertService::export_rules(const std::string& scope,
                                               const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  JZ_ASSIGN_OR_RETURN(auto settings, rules(scope, scope_id));
  JZ_ASSIGN_OR_RETURN(auto custom, custom_rules(scope, scope_id));
  std::string group = "jizhan-platform";
  std::optional<promql::Matcher> m;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(m, scope_matcher(c, scope, scope_id));
    return {};
  }));
  if (m) group = "jizhan-" + scope + "-" + m->value;
  std::string out = "# Alert rules of " +
                    (m ? scope + " " + m->value : std::string("the platform")) +
                    ", exported by Jizhan. Built-in rules read jizhan_alert_events_total from\n"
                    "# the server's /metrics; custom rules read the agents' series.\n"
                    "groups:\n  - name: " +
                    yaml_string(group) + "\n    rules:\n";
  auto emit = [&](const std::string& name, const promql::Expr& e, int64_t for_ms, Json labels,
                  const Json& annotations) {
    out += "      - alert: " + yaml_string(name) +
           "\n        expr: " + yaml_string(promql::format(e)) + "\n";
    if (for_ms > 0) out += "        for: " + promql::format_duration(for_ms) + "\n";
    if (m) labels[m->label] = m->value;
    out += "        labels: " + json::dump(labels) +
           "\n        annotations: " + json::dump(annotations) + "\n";
  };
  for (const auto& s : settings) {
    if (!s.enabled) continue;
    const BuiltinRule* b = rule_by_id(s.rule);
    if (!b->expr.empty()) {
      auto e = promql::parse(b->expr);
      auto scoped = m ? promql::with_matcher(**e, *m) : *e;
      emit(s.rule, *scoped, b->for_ms, {{"severity", s.severity}}, {{"summary", b->summary}});
      continue;
    }
    std::string reasons;
    for (const auto& x : b->reasons) reasons += (reasons.empty() ? "" : "|") + x;
    auto e = promql::parse("rate(jizhan_alert_events_total{reason=~\"" + reasons + "\"}[5m]) > 0");
    auto scoped = m ? promql::with_matcher(**e, *m) : *e;
    emit(s.rule, *scoped, 0, {{"severity", s.severity}}, {{"summary", b->summary}});
  }
  for (const auto& r : custom) {
    if (!r.enabled) continue;
    auto e = promql::parse(r.expr);
    if (!e.ok()) continue;
    auto scoped = m ? promql::with_matcher(**e, *m) : *e;
    Json labels = r.labels;
    labels["severity"] = r.severity;
    emit(r.name, *scoped, r.for_ms, labels, r.annotations);
  }
  return out;
}

std::string AlertService::metrics_text() const {
  std::string out =
      "# HELP jizhan_alert_events_total Events the alert engine read since the server started, "
      "by project and reason.\n# TYPE jizhan_alert_events_total counter\n";
  std::lock_guard lock(counts_mu_);
  auto esc = [](const std::string& v) {
    std::string o;
    for (char c : v) {
      if (c == '\\' || c == '"') o += '\\';
      if (c == '\n') {
        o += "\\n";
        continue;
      }
      o += c;
    }
    return o;
  };
  for (const auto& [k, n] : event_counts_) {
    out += "jizhan_alert_events_total{project=\"" + esc(k.first) + "\",reason=\"" + esc(k.second) +
           "\"} " + std::to_string(n) + "\n";
  }
  return out;
}

// ---- alerts from Prometheus or Alertmanager ----------------------------------------

Status AlertService::check_incoming(const Json& alert) {
  if (!alert.is_object()) return Status::invalid_argument("an alert must be an object");
  const Json labels = alert.value("labels", Json());
  if (!labels.is_object() || labels.empty() || labels.size() > 64) {
    return Status::invalid_argument("labels: an object of 1 to 64 labels");
  }
  for (const auto& [k, v] : labels.items()) {
    if (!valid_label_name(k) || !v.is_string() || v.get<std::string>().size() > 1024) {
      return Status::invalid_argument("labels." + k + ": a label name and a string value");
    }
  }
  if (!labels.contains("alertname")) return Status::invalid_argument("labels.alertname: required");
  const Json ann = alert.value("annotations", Json::object());
  if (!ann.is_object() || ann.size() > 64) {
    return Status::invalid_argument("annotations: an object of at most 64 strings");
  }
  for (const auto& [k, v] : ann.items()) {
    if (!v.is_string() || v.get<std::string>().size() > 8192) {
      return Status::invalid_argument("annotations." + k + ": a string of at most 8192 bytes");
    }
  }
  for (const char* t : {"startsAt", "endsAt"}) {
    if (alert.contains(t) && (!alert[t].is_string() || alert[t].get<std::string>().size() > 64)) {
      return Status::invalid_argument(std::string(t) + ": an RFC 3339 time");
    }
  }
  return {};
}

Status AlertService::ingest(const std::string& scope, const std::string& scope_id,
                            const Json& alert) {
  return ingest_all({{scope, scope_id}}, {alert});
}

Status AlertService::ingest_all(const std::vector<std::pair<std::string, std::string>>& scopes,
                                const std::vector<Json>& alerts) {
  if (scopes.size() != alerts.size()) return Status::internal("alerts: scopes and alerts differ");
  for (size_t i = 0; i < alerts.size(); ++i) {
    JZ_RETURN_IF_ERROR(check_scope(scopes[i].first, scopes[i].second));
    JZ_RETURN_IF_ERROR(check_incoming(alerts[i]));
  }
  int queued = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    TargetCache targets;
    for (size_t i = 0; i < alerts.size(); ++i) {
      JZ_RETURN_IF_ERROR(
          ingest_in(c, scopes[i].first, scopes[i].second, alerts[i], queued, &targets));
    }
    return {};
  }));
  queued_ += queued;
  return {};
}

Status AlertService::ingest_in(store::Conn& c, const std::string& scope,
                               const std::string& scope_id, const Json& alert, int& queued,
                               TargetCache* cache) {
  const Json& labels = alert["labels"];
  const int64_t now = clock_.now_unix_ms();
  const std::string starts = alert.value("startsAt", time_text(now));
  const std::string ends = alert.value("endsAt", "");
  // Alertmanager's "0001-01-01T00:00:00Z" (or none) is open; a time past is the end.
  bool resolved = false;
  if (!ends.empty() && ends.rfind("0001-", 0) != 0) {
    auto t = parse_rfc3339(ends);
    resolved =
        t.ok() &&
        std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count() <= now;
  }
  const std::string status = resolved ? "resolved" : "firing";
  const std::string sev = labels.value("severity", "");
  const std::string severity = severity_rank(sev) >= 0 ? sev : "warning";
  const std::string name = labels["alertname"].get<std::string>();
  const std::string fp = sha256_hex(scope + "/" + scope_id + json::dump(labels)).substr(0, 16);
  Json ann = alert.value("annotations", Json::object());
  std::string title = ann.value("summary", "");
  if (title.empty()) {
    title = name;
    for (const auto& [k, v] : labels.items()) {
      if (k != "alertname" && k != "severity") title += " " + k + "=" + v.get<std::string>();
    }
  }
  if (resolved) title += " (resolved)";
  if (!ann.contains("description")) ann["description"] = title;
  const Json out = {{"status", status},
                    {"labels", labels},
                    {"annotations", ann},
                    {"startsAt", starts},
                    {"endsAt", resolved ? ends : "0001-01-01T00:00:00Z"},
                    {"generatorURL", alert.value("generatorURL", "")},
                    {"fingerprint", fp}};
  JZ_RETURN_IF_ERROR(queue_in(c, scope, scope_id, name, severity,
                              "ext:" + fp + ":" + starts + ":" + status, title, out, queued,
                              cache));
  JZ_RETURN_IF_ERROR(c.exec("DELETE FROM alerts_active WHERE fingerprint = ?", {fp}).status());
  if (resolved) return {};
  return c
      .exec(
          "INSERT INTO alerts_active (fingerprint, rule_id, rule, scope, scope_id, state, "
          "labels, annotations, value, active_since_ms, fired_at_ms) VALUES (?, 'external', "
          "?, ?, ?, 'firing', ?, ?, '0', ?, ?)",
          {fp, name, scope, scope_id, json::dump(labels), json::dump(ann), now, now})
      .status();
}

// ---- inhibition rules --------------------------------------------------------------

Json Inhibition::to_json() const {
  return {{"id", id},
          {"source", matchers_json(source)},
          {"target", matchers_json(target)},
          {"equal", equal},
          {"comment", comment},
          {"created_by", created_by},
          {"created_at", time_text(created_at_ms)}};
}

Result<Inhibition> AlertService::create_inhibition(const std::string& scope,
                                                   const std::string& scope_id, const Json& body,
                                                   const std::string& actor) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  if (scope == "user") return Status::invalid_argument("inhibition rules belong to a scope");
  if (!body.is_object()) return Status::invalid_argument("the body must be an object");
  for (const auto& [k, v] : body.items()) {
    if (k != "source" && k != "target" && k != "equal" && k != "comment") {
      return Status::invalid_argument("'" + k +
                                      "': an inhibition rule has source, target, equal, comment");
    }
  }
  Inhibition in;
  in.scope = scope;
  in.scope_id = scope_id;
  auto src = matchers_of(body.value("source", Json()));
  if (!src.ok()) return Status::invalid_argument("source: " + src.status().message());
  auto dst = matchers_of(body.value("target", Json()));
  if (!dst.ok()) return Status::invalid_argument("target: " + dst.status().message());
  in.source = std::move(*src);
  in.target = std::move(*dst);
  const Json eq = body.value("equal", Json::array());
  if (!eq.is_array() || eq.size() > 16) {
    return Status::invalid_argument("equal: a list of at most 16 label names");
  }
  for (const auto& x : eq) {
    if (!x.is_string() || !valid_label_name(x.get<std::string>())) {
      return Status::invalid_argument(
          "equal: '" + (x.is_string() ? x.get<std::string>() : x.dump()) + "' is not a label name");
    }
    in.equal.push_back(x.get<std::string>());
  }
  in.comment = body.value("comment", Json("")).is_string() ? body.value("comment", "") : "";
  if (in.comment.empty() || in.comment.size() > 1000) {
    return Status::invalid_argument("comment: say why (1 to 1000 characters)");
  }
  in.id = ids_.next("inh_");
  in.created_by = actor;
  in.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO alert_inhibitions (id, scope, scope_id, source_matchers, "
            "target_matchers, equal, comment, created_by, created_at_ms) VALUES (?, ?, ?, ?, "
            "?, ?, ?, ?, ?)",
            {in.id, scope, scope_id, json::dump(matchers_json(in.source)),
             json::dump(matchers_json(in.target)), json::dump(Json(in.equal)), in.comment, actor,
             in.created_at_ms})
        .status();
  }));
  return in;
}

Status AlertService::delete_inhibition(const std::string& scope, const std::string& scope_id,
                                       const std::string& id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n, c.exec("DELETE FROM alert_inhibitions WHERE id = ? AND scope = ? AND "
                                  "scope_id = ?",
                                  {id, scope, scope_id}));
    return {};
  }));
  if (n == 0) return Status::not_found("no inhibition rule '" + id + "' here");
  return {};
}

Result<std::vector<Inhibition>> AlertService::inhibitions(const std::string& scope,
                                                          const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  std::vector<Inhibition> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kInhibitionColumns +
                                               " FROM alert_inhibitions WHERE scope = ? AND "
                                               "scope_id = ? ORDER BY id LIMIT 1000",
                                           {scope, scope_id}));
    for (const auto& row : rows) {
      Inhibition in;
      (void)inhibition_of(row, in);  // listed even if its matchers no longer read
      out.push_back(std::move(in));
    }
    return {};
  }));
  return out;
}

// ---- silences ----------------------------------------------------------------------

Result<Silence> AlertService::create_silence(const std::string& scope, const std::string& scope_id,
                                             const Json& body, const std::string& actor) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  if (!body.is_object()) return Status::invalid_argument("the body must be an object");
  for (const auto& [k, v] : body.items()) {
    if (k != "matchers" && k != "starts_at" && k != "ends_at" && k != "duration" &&
        k != "comment") {
      return Status::invalid_argument(
          "'" + k + "': a silence has matchers, starts_at, ends_at or duration, comment");
    }
  }
  Silence si;
  si.scope = scope;
  si.scope_id = scope_id;
  JZ_ASSIGN_OR_RETURN(si.matchers, matchers_of(body.value("matchers", Json())));
  const int64_t now = clock_.now_unix_ms();
  auto time_of = [&](const char* field, int64_t fallback) -> Result<int64_t> {
    if (!body.contains(field)) return fallback;
    if (!body[field].is_string())
      return Status::invalid_argument(std::string(field) + ": an RFC 3339 time");
    JZ_ASSIGN_OR_RETURN(auto t, parse_rfc3339(body[field].get<std::string>()));
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  JZ_ASSIGN_OR_RETURN(si.starts_at_ms, time_of("starts_at", now));
  if (body.contains("duration")) {
    if (!body["duration"].is_string()) return Status::invalid_argument("duration: like 2h");
    JZ_ASSIGN_OR_RETURN(int64_t d, duration_ms(body["duration"].get<std::string>()));
    si.ends_at_ms = si.starts_at_ms + d;
  } else {
    JZ_ASSIGN_OR_RETURN(si.ends_at_ms, time_of("ends_at", 0));
  }
  if (si.ends_at_ms <= si.starts_at_ms || si.ends_at_ms <= now) {
    return Status::invalid_argument(
        "ends_at (or duration): a silence must end after it starts and after now");
  }
  if (si.ends_at_ms - si.starts_at_ms > 366LL * 86'400'000) {
    return Status::invalid_argument("duration: at most a year");
  }
  si.comment = body.value("comment", Json()).is_string() ? body["comment"].get<std::string>() : "";
  if (si.comment.empty() || si.comment.size() > 1000) {
    return Status::invalid_argument("comment: why the silence (1 to 1000 characters)");
  }
  si.id = ids_.next("sil_");
  si.created_by = actor;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO alert_silences (id, scope, scope_id, matchers, starts_at_ms, "
            "ends_at_ms, created_by, comment, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {si.id, scope, scope_id, json::dump(matchers_json(si.matchers)), si.starts_at_ms,
             si.ends_at_ms, actor, si.comment, now})
        .status();
  }));
  return si;
}

Status AlertService::expire_silence(const std::string& scope, const std::string& scope_id,
                                    const std::string& id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  const int64_t now = clock_.now_unix_ms();
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n, c.exec("UPDATE alert_silences SET ends_at_ms = ? WHERE id = ? AND "
                                  "scope = ? AND scope_id = ? AND ends_at_ms > ?",
                                  {now, id, scope, scope_id, now}));
    return {};
  }));
  if (n == 0) return Status::not_found("no silence '" + id + "' that has not ended");
  return {};
}

Result<std::vector<Silence>> AlertService::silences(const std::string& scope,
                                                    const std::string& scope_id) {
  JZ_RETURN_IF_ERROR(check_scope(scope, scope_id));
  std::vector<Silence> out;
  const int64_t now = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT id, matchers, starts_at_ms, ends_at_ms, "
                                           "created_by, comment FROM alert_silences WHERE scope = "
                                           "? AND scope_id = ? AND ends_at_ms > ? ORDER BY "
                                           "ends_at_ms DESC LIMIT 1000",
                                           {scope, scope_id, now - 86'400'000}));
    for (const auto& row : rows) {
      Silence si;
      si.id = row.text("id");
      si.scope = scope;
      si.scope_id = scope_id;
      auto ms = silence_matchers(Json::parse(row.text("matchers"), nullptr, false));
      if (ms.ok()) si.matchers = std::move(*ms);
      si.starts_at_ms = row.integer("starts_at_ms");
      si.ends_at_ms = row.integer("ends_at_ms");
      si.created_by = row.text("created_by");
      si.comment = row.text("comment");
      out.push_back(std::move(si));
    }
    return {};
  }));
  return out;
}

}  // namespace jz::alerts
