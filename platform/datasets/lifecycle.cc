#include "platform/datasets/lifecycle.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

namespace jz::datasets {

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr size_t kMaxRules = 50;

int64_t age_days(int64_t now_ms, int64_t then_ms) {
  return std::max<int64_t>(0, (now_ms - then_ms) / kDayMs);
}

// Rules are first-match: a file or version is "older than after_days" when it has lived
// at least that many whole days.
bool old_enough(const LifecycleRule& r, int64_t age) { return age >= r.after_days; }

Result<std::string> dataset_id(store::Conn& c, const std::string& project_id,
                               const std::string& dataset) {
  JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT id FROM datasets WHERE project_id = ? AND "
                                         "name = ?",
                                         {project_id, dataset}));
  if (rows.empty()) return Status::not_found("no dataset '" + dataset + "' in this project");
  return rows.at(0).text(0);
}

}  // namespace

Json LifecycleRule::to_json() const {
  Json j = {{"action", action}, {"after_days", after_days}};
  j["tag"] = tag.empty() ? Json(nullptr) : Json(tag);
  j["split"] = split.empty() ? Json(nullptr) : Json(split);
  j["version"] = version > 0 ? Json(version) : Json(nullptr);
  j["keep_newest"] = keep_newest;
  return j;
}

Result<LifecyclePolicy> parse_lifecycle_policy(const Json& body) {
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  JZ_RETURN_IF_ERROR(json::only_fields(body, {"rules", "automatic"}));
  LifecyclePolicy p;
  if (body.contains("automatic")) {
    if (!body["automatic"].is_boolean()) {
      return Status::invalid_argument("field 'automatic' must be true or false");
    }
    p.automatic = body["automatic"].get<bool>();
  }
  if (!body.contains("rules") || !body["rules"].is_array()) {
    return Status::invalid_argument("field 'rules' must list the rules (an empty list: none)");
  }
  if (body["rules"].size() > kMaxRules) {
    return Status::invalid_argument("at most " + std::to_string(kMaxRules) + " rules");
  }
  int index = 0;
  for (const auto& r : body["rules"]) {
    ++index;
    const std::string at = "rule " + std::to_string(index) + ": ";
    if (!r.is_object()) return Status::invalid_argument(at + "must be an object");
    for (const auto& [key, _] : r.items()) {
      if (key != "action" && key != "after_days" && key != "tag" && key != "split" &&
          key != "version" && key != "keep_newest") {
        return Status::invalid_argument(at + "unknown field '" + key +
                                        "' (action, after_days, tag, split, version, keep_newest)");
      }
    }
    LifecycleRule rule;
    if (!r.contains("action") || !r["action"].is_string()) {
      return Status::invalid_argument(at + "field 'action' must be keep, archive or delete");
    }
    rule.action = r["action"].get<std::string>();
    if (rule.action != "keep" && rule.action != "archive" && rule.action != "delete") {
      return Status::invalid_argument(at + "field 'action' must be keep, archive or delete, not '" +
                                      rule.action + "'");
    }
    auto count = [&](const char* field, int64_t max, int64_t& into) -> Status {
      if (!r.contains(field) || r[field].is_null()) return {};
      if (!r[field].is_number_integer() || r[field].get<int64_t>() < 0 ||
          r[field].get<int64_t>() > max) {
        return Status::invalid_argument(
            at + "field '" + field + "' must be a whole number from 0 to " + std::to_string(max));
      }
      into = r[field].get<int64_t>();
      return {};
    };
    JZ_RETURN_IF_ERROR(count("after_days", 36500, rule.after_days));
    JZ_RETURN_IF_ERROR(count("version", int64_t{1} << 40, rule.version));
    JZ_RETURN_IF_ERROR(count("keep_newest", 1000000, rule.keep_newest));
    for (const char* field : {"tag", "split"}) {
      if (!r.contains(field) || r[field].is_null()) continue;
      if (!r[field].is_string()) {
        return Status::invalid_argument(at + "field '" + field + "' must be a name");
      }
      const std::string v = r[field].get<std::string>();
      if (!v.empty()) JZ_RETURN_IF_ERROR(check_label(at + "field '" + field + "': " + field, v));
      (std::string(field) == "tag" ? rule.tag : rule.split) = v;
    }
    if (rule.file_rule()) {
      if (rule.action == "archive") {
        return Status::invalid_argument(
            at +
            "files are not archived one by one: archive the versions that hold them (a rule "
            "without tag or split), or delete the files from the next version");
      }
      if (rule.version > 0 || rule.keep_newest > 0) {
        return Status::invalid_argument(at +
                                        "'version' and 'keep_newest' choose versions; a rule "
                                        "with a tag or split chooses files of the newest version");
      }
    }
    p.rules.push_back(std::move(rule));
  }
  return p;
}

Json LifecyclePlan::to_json(bool paths) const {
  int64_t file_bytes = 0;
  for (const auto& f : files) file_bytes += f.bytes;
  Json j = {{"dataset", dataset},
            {"newest", newest > 0 ? Json(newest) : Json(nullptr)},
            {"files_removed", files.size()},
            {"file_bytes", file_bytes},
            {"files_kept", files_kept},
            {"new_version", new_version > 0 ? Json(new_version) : Json(nullptr)}};
  Json fs = Json::array();
  if (paths) {
    for (const auto& f : files) {
      fs.push_back(
          {{"path", f.path}, {"bytes", f.bytes}, {"age_days", f.age_days}, {"rule", f.rule}});
    }
  }
  j["files"] = paths ? fs : Json(nullptr);
  Json vs = Json::array();
  for (const auto& v : versions) {
    vs.push_back({{"number", v.number},
                  {"action", v.action},
                  {"rule", v.rule > 0 ? Json(v.rule) : Json(nullptr)},
                  {"age_days", v.age_days},
                  {"bytes", v.bytes},
                  {"reason", v.reason}});
  }
  j["versions"] = vs;
  return j;
}

Lifecycle::Lifecycle(store::Database& db, Clock& clock, DatasetVersions& versions,
                     iam::AuditLog* audit, std::shared_ptr<spdlog::logger> logger)
    : db_(db), clock_(clock), versions_(versions), audit_(audit), logger_(std::move(logger)) {}

Lifecycle::~Lifecycle() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<LifecyclePolicy> Lifecycle::policy(const std::string& project_id,
                                          const std::string& dataset) {
  LifecyclePolicy p;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(std::string id, dataset_id(c, project_id, dataset));
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT rules, automatic, updated_by, updated_at_ms, "
                                "last_run_at_ms, last_result FROM dataset_lifecycle WHERE "
                                "dataset_id = ?",
                                {id}));
    if (rows.empty()) return {};
    const auto& row = rows.at(0);
    auto rules = json::parse(row.text(0));
    if (!rules.ok()) return Status::internal("the stored rules of '" + dataset + "' are damaged");
    JZ_ASSIGN_OR_RETURN(
        p, parse_lifecycle_policy(Json{{"rules", *rules}, {"automatic", row.integer(1) != 0}}));
    p.updated_by = row.text(2);
    p.updated_at_ms = row.integer(3);
    if (!row.is_null(4)) p.last_run_at_ms = row.integer(4);
    auto last = json::parse(row.text(5));
    if (last.ok() && last->is_object()) p.last_result = *last;
    return {};
  }));
  return p;
}

Result<LifecyclePolicy> Lifecycle::set_policy(const std::string& project_id,
                                              const std::string& dataset, LifecyclePolicy p,
                                              const std::string& actor) {
  Json rules = Json::array();
  for (const auto& r : p.rules) rules.push_back(r.to_json());
  p.updated_by = actor;
  p.updated_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(std::string id, dataset_id(c, project_id, dataset));
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT last_run_at_ms, last_result FROM "
                                           "dataset_lifecycle WHERE dataset_id = ?",
                                           {id}));
    if (!rows.empty()) {
      if (!rows.at(0).is_null(0)) p.last_run_at_ms = rows.at(0).integer(0);
      auto last = json::parse(rows.at(0).text(1));
      if (last.ok() && last->is_object()) p.last_result = *last;
    }
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM dataset_lifecycle WHERE dataset_id = ?", {id}).status());
    store::Value last_run =
        p.last_run_at_ms ? store::Value(*p.last_run_at_ms) : store::Value(std::monostate{});
    return c
        .exec(
            "INSERT INTO dataset_lifecycle (dataset_id, project_id, rules, automatic, "
            "updated_by, updated_at_ms, last_run_at_ms, last_result) VALUES (?, ?, ?, ?, ?, ?, "
            "?, ?)",
            {id, project_id, json::dump(rules), int64_t{p.automatic ? 1 : 0}, actor,
             p.updated_at_ms, last_run, json::dump(p.last_result)})
        .status();
  }));
  return p;
}

Result<LifecyclePlan> Lifecycle::plan(const std::string& project_id, const std::string& dataset) {
  JZ_ASSIGN_OR_RETURN(auto p, policy(project_id, dataset));
  return plan_locked(project_id, dataset, p);
}

Result<LifecyclePlan> Lifecycle::plan_locked(const std::string& project_id,
                                             const std::string& dataset, const LifecyclePolicy& p) {
  LifecyclePlan out;
  out.dataset = dataset;
  out.at_ms = clock_.now_unix_ms();
  JZ_ASSIGN_OR_RETURN(auto versions, versions_.list(project_id, dataset));  // newest first
  if (versions.empty()) return out;
  out.newest = versions.front().number;
  // Files of the newest version, by the first file rule that matches.
  bool any_file_rule = false;
  for (const auto& r : p.rules) any_file_rule = any_file_rule || r.file_rule();
  if (any_file_rule) {
    JZ_ASSIGN_OR_RETURN(auto seen, versions_.first_seen(project_id, dataset));
    JZ_ASSIGN_OR_RETURN(auto files,
                        versions_.files(versions.front(), FileFilter{.limit = SIZE_MAX}));
    for (const auto& f : files) {
      auto s = seen.find(f.path + "\n" + f.sha256);
      const int64_t age =
          age_days(out.at_ms, s == seen.end() ? versions.front().created_at_ms : s->second);
      for (size_t i = 0; i < p.rules.size(); ++i) {
        const auto& r = p.rules[i];
        if (!r.file_rule() || !old_enough(r, age)) continue;
        if (!r.split.empty() && r.split != f.split) continue;
        if (!r.tag.empty() && !std::binary_search(f.tags.begin(), f.tags.end(), r.tag)) continue;
        if (r.action == "keep") {
          ++out.files_kept;
        } else {
          out.files.push_back(
              {.path = f.path, .bytes = f.size, .age_days = age, .rule = static_cast<int>(i + 1)});
        }
        break;
      }
    }
  }
  // Versions but the newest, by the first version rule that matches.
  for (size_t k = 1; k < versions.size(); ++k) {
    const Version& v = versions[k];
    const int64_t age = age_days(out.at_ms, v.created_at_ms);
    for (size_t i = 0; i < p.rules.size(); ++i) {
      const auto& r = p.rules[i];
      if (r.file_rule() || !old_enough(r, age)) continue;
      if (r.version > 0 && r.version != v.number) continue;
      if (static_cast<int64_t>(k) < r.keep_newest) continue;
      if (r.action == "archive" && v.archived_at_ms) break;  // already there
      PlannedVersion pv{.number = v.number,
                        .action = r.action,
                        .rule = static_cast<int>(i + 1),
                        .age_days = age,
                        .bytes = v.bytes};
      if (r.action != "keep") {
        JZ_ASSIGN_OR_RETURN(std::string why, versions_.busy(v));
        if (!why.empty()) {
          pv.action = "busy";
          pv.reason = "left alone: " + why;
        }
      }
      if (pv.reason.empty()) {
        pv.reason = "rule " + std::to_string(i + 1) + ": " + r.action + " after " +
                    std::to_string(r.after_days) + " days";
      }
      out.versions.push_back(std::move(pv));
      break;
    }
  }
  return out;
}

void Lifecycle::record(const std::string& actor, const std::string& project_id,
                       const std::string& verb, const std::string& name, const Json& summary) {
  if (!audit_) return;
  iam::AuditRecord r;
  r.user = actor;
  r.verb = verb;
  r.resource_type = "dataset_version";
  r.resource_name = name;
  r.request_summary = json::dump(summary);
  r.response_status = 200;
  auto names = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT p.name, w.name FROM projects p JOIN workspaces "
                                           "w ON w.id = p.workspace_id WHERE p.id = ?",
                                           {project_id}));
    if (!rows.empty()) {
      r.project = rows.at(0).text(0);
      r.workspace = rows.at(0).text(1);
    }
    return {};
  });
  (void)names;
  audit_->append_async(std::move(r));
}

Result<LifecyclePlan> Lifecycle::apply(const std::string& project_id, const std::string& dataset,
                                       const std::string& actor) {
  std::lock_guard lock(apply_mu_);
  JZ_ASSIGN_OR_RETURN(auto p, policy(project_id, dataset));
  JZ_ASSIGN_OR_RETURN(auto out, plan_locked(project_id, dataset, p));
  if (!out.files.empty()) {
    Changes ch;
    std::set<int> rules;
    for (const auto& f : out.files) {
      ch.remove.insert(f.path);
      rules.insert(f.rule);
    }
    ch.message = "lifecycle: " + std::to_string(out.files.size()) + " files deleted by rule";
    for (int r : rules) ch.message += (r == *rules.begin() ? " " : ", ") + std::to_string(r);
    JZ_ASSIGN_OR_RETURN(auto v, versions_.derive(project_id, dataset, out.newest, ch, actor));
    out.new_version = v.number;
    record(actor, project_id, "lifecycle_delete_files", dataset + "@" + std::to_string(v.number),
           {{"from", out.newest}, {"files", out.files.size()}, {"message", ch.message}});
  }
  int64_t archived = 0, deleted = 0;
  for (auto& pv : out.versions) {
    const std::string name = dataset + "@" + std::to_string(pv.number);
    if (pv.action == "archive") {
      auto a = versions_.archive(project_id, dataset, pv.number);
      if (!a.ok()) {
        pv.action = "failed";
        pv.reason = a.status().message();
        continue;
      }
      ++archived;
      record(actor, project_id, "lifecycle_archive", name, {{"rule", pv.rule}});
    } else if (pv.action == "delete") {
      Status s = versions_.remove(project_id, dataset, pv.number);
      if (!s.ok()) {
        pv.action = "failed";
        pv.reason = s.message();
        continue;
      }
      ++deleted;
      record(actor, project_id, "lifecycle_delete", name, {{"rule", pv.rule}});
    }
  }
  const Json result = {{"at_ms", out.at_ms},
                       {"by", actor},
                       {"files_removed", out.files.size()},
                       {"new_version", out.new_version},
                       {"archived", archived},
                       {"deleted", deleted}};
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(std::string id, dataset_id(c, project_id, dataset));
    return c
        .exec(
            "UPDATE dataset_lifecycle SET last_run_at_ms = ?, last_result = ? WHERE "
            "dataset_id = ?",
            {out.at_ms, json::dump(result), id})
        .status();
  }));
  return out;
}

Result<int> Lifecycle::run_due(std::chrono::milliseconds interval) {
  struct Due {
    std::string project_id, dataset;
  };
  std::vector<Due> due;
  const int64_t before = clock_.now_unix_ms() - interval.count();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT l.project_id, d.name FROM dataset_lifecycle l JOIN "
                                "datasets d ON d.id = l.dataset_id WHERE l.automatic = 1 AND "
                                "(l.last_run_at_ms IS NULL OR l.last_run_at_ms <= ?) ORDER BY "
                                "l.dataset_id",
                                {before}));
    for (const auto& row : rows) due.push_back({row.text(0), row.text(1)});
    return {};
  }));
  int applied = 0;
  for (const auto& d : due) {
    auto r = apply(d.project_id, d.dataset, "lifecycle");
    if (!r.ok()) {
      if (logger_) logger_->error("lifecycle of dataset '{}': {}", d.dataset, r.status().message());
      continue;
    }
    ++applied;
    if (logger_) {
      logger_->info("lifecycle of dataset '{}': {} files left out, {} versions acted on", d.dataset,
                    r->files.size(), r->versions.size());
    }
  }
  return applied;
}

void Lifecycle::start_thread(std::chrono::milliseconds interval, std::chrono::milliseconds every) {
  thread_ = std::thread([this, interval, every] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      auto r = run_due(interval);
      if (!r.ok() && logger_) logger_->error("lifecycle: {}", r.status().message());
      lock.lock();
      cv_.wait_for(lock, every, [this] { return stop_; });
    }
  });
}

}  // namespace jz::datasets
