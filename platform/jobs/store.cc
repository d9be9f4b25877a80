#include "platform/jobs/store.h"

#include "store/rows.h"

namespace jz::jobs {

namespace {

// The columns read as they are; spec and placement are JSON, parsed by from_row.
const store::RowMap<Job> kJob{{"id", &Job::id},
                              {"seq", &Job::seq},
                              {"queue_seq", &Job::queue_seq},
                              {"project_id", &Job::project_id},
                              {"project", &Job::project},
                              {"user_id", &Job::user_id},
                              {"username", &Job::username},
                              {"name", &Job::name},
                              {"kind", &Job::kind},
                              {"state", &Job::state},
                              {"reason", &Job::reason},
                              {"message", &Job::message},
                              {"exit_code", &Job::exit_code},
                              {"attempt", &Job::attempt},
                              {"cancel_requested", &Job::cancel_requested},
                              {"created_at_ms", &Job::created_at_ms},
                              {"started_at_ms", &Job::started_at_ms},
                              {"finished_at_ms", &Job::finished_at_ms},
                              {"updated_at_ms", &Job::updated_at_ms}};
const std::string kColumns = kJob.columns() + ", spec, placement";

Result<Job> from_row(const store::Row& r) {
  Job j = kJob(r);
  auto spec_json = json::parse(r.text("spec"), "job spec");
  if (!spec_json.ok()) return Status::internal("job " + j.id + ": " + spec_json.status().message());
  auto spec = parse_job_request(*spec_json);
  if (!spec.ok()) return Status::internal("job " + j.id + ": " + spec.status().message());
  j.spec = std::move(*spec);
  j.placement = Json::parse(r.text("placement"), nullptr, false);
  if (j.placement.is_discarded()) j.placement = Json::array();
  return j;
}

std::string time_text(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

Status lock_sequences(store::Conn& c) {
  if (c.dialect() == store::Dialect::kPostgres) {
    return c.query("SELECT pg_advisory_xact_lock(7321004)").status();
  }
  return {};
}

}  // namespace

bool is_terminal(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled" || s == "preempted" || s == "lost";
}
bool is_active(const std::string& s) {
  return s == "admitted" || s == "starting" || s == "running";
}

Json Job::to_json() const {
  Json j = {{"id", id},
            {"project", project},
            {"name", name},
            {"kind", kind},
            {"user", username},
            {"state", state},
            {"reason", reason},
            {"message", message},
            {"exit_code", exit_code ? Json(*exit_code) : Json(nullptr)},
            {"attempt", attempt},
            {"placement", placement},
            {"cancel_requested", cancel_requested},
            {"created_at", time_text(created_at_ms)},
            {"started_at", started_at_ms ? Json(time_text(*started_at_ms)) : Json(nullptr)},
            {"finished_at", finished_at_ms ? Json(time_text(*finished_at_ms)) : Json(nullptr)},
            {"spec", spec.to_json()}};
  if (kind == "devenv") j["url"] = "/devenvs/" + id + "/";
  return j;
}

Json JobEvent::to_json() const {
  return {{"seq", seq},
          {"time", time_text(time_ms)},
          {"from", from},
          {"to", to},
          {"reason", reason},
          {"message", message},
          {"exit_code", exit_code ? Json(*exit_code) : Json(nullptr)}};
}

// Appends a change of state to the project's events and the job's history.
Status JobStore::record(store::Conn& c, const std::string& job_id, const std::string& project,
                        const std::string& from, const Transition& t, const std::string& actor,
                        int64_t& event_seq) {
  iam::Event e;
  e.project = project;
  e.resource_type = "job";
  e.resource_name = job_id;
  e.type = "state";
  e.reason = t.reason;
  e.message = from + " -> " + t.to + (t.detail.empty() ? "" : ": " + t.detail);
  if (t.exit_code) e.message += " (exit code " + std::to_string(*t.exit_code) + ")";
  e.actor = actor;
  JZ_RETURN_IF_ERROR(events_.append_in(c, e));
  event_seq = e.seq;
  return c
      .exec(
          "INSERT INTO job_events (job_id, seq, time_ms, from_state, to_state, reason, message, "
          "exit_code, allocation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {job_id, e.seq, e.time_ms, from, t.to, t.reason, t.detail,
           t.exit_code ? store::Value(*t.exit_code) : store::Value(),
           t.allocation ? json::dump(*t.allocation) : std::string()})
      .status();
}

Status JobStore::write_transition(store::Conn& c, const Job& before, const Transition& t,
                                  const std::string& actor, int64_t& event_seq) {
  const int64_t now = clock_.now_unix_ms();
  std::string sql = "UPDATE jobs SET state = ?, reason = ?, message = ?, updated_at_ms = ?";
  store::Params p = {t.to, t.reason, t.detail, now};
  if (t.exit_code) {
    sql += ", exit_code = ?";
    p.push_back(*t.exit_code);
  }
  if (t.placement) {
    sql += ", placement = ?";
    p.push_back(json::dump(*t.placement));
  }
  if (t.started) {
    sql += ", started_at_ms = ?";
    p.push_back(now);
  }
  if (t.finished) {
    sql += ", finished_at_ms = ?";
    p.push_back(now);
  }
  if (t.requeue) {
    JZ_RETURN_IF_ERROR(lock_sequences(c));
    JZ_ASSIGN_OR_RETURN(auto q,
                        c.query("SELECT COALESCE(MAX(queue_seq), 0) + 1 AS next FROM jobs"));
    sql += ", queue_seq = ?, placement = '[]', cancel_requested = 0";
    p.push_back(q[0].integer("next"));
    if (!t.exit_code) sql += ", exit_code = NULL";
  }
  if (t.next_attempt) sql += ", attempt = attempt + 1, started_at_ms = NULL, finished_at_ms = NULL";
  sql += " WHERE id = ?";
  p.push_back(before.id);
  JZ_RETURN_IF_ERROR(c.exec(sql, p).status());
  return record(c, before.id, before.project, before.state, t, actor, event_seq);
}

Result<Job> JobStore::create(const std::string& project_id, const std::string& project,
                             const std::string& user_id, const std::string& username,
                             const JobRequest& spec, const std::string& actor) {
  Job j;
  j.id = ids_.next("job_");
  j.project_id = project_id;
  j.project = project;
  j.user_id = user_id;
  j.username = username;
  j.name = spec.name;
  j.kind = spec.kind;
  j.spec = spec;
  j.state = "queued";
  j.reason = "Queued";
  j.created_at_ms = j.updated_at_ms = clock_.now_unix_ms();
  int64_t event_seq = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(lock_sequences(c));
    JZ_ASSIGN_OR_RETURN(auto s, c.query("SELECT COALESCE(MAX(seq), 0) + 1 AS seq, "
                                        "COALESCE(MAX(queue_seq), 0) + 1 AS queue_seq FROM jobs"));
    j.seq = s[0].integer("seq");
    j.queue_seq = s[0].integer("queue_seq");
    JZ_RETURN_IF_ERROR(
        c.exec("INSERT INTO jobs (id, seq, queue_seq, project_id, project, user_id, username, "
               "name, kind, spec, state, reason, message, exit_code, attempt, placement, "
               "cancel_requested, created_at_ms, started_at_ms, finished_at_ms, updated_at_ms) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 1, '[]', 0, ?, NULL, NULL, ?)",
               {j.id, j.seq, j.queue_seq, j.project_id, j.project, j.user_id, j.username, j.name,
                j.kind, json::dump(spec.to_json()), j.state, j.reason, j.message, j.created_at_ms,
                j.updated_at_ms})
            .status());
    // The row is already queued; only the event and the history are recorded.
    Transition t{.to = "queued", .reason = "Queued", .detail = "submitted by " + username};
    return record(c, j.id, project, "", t, actor, event_seq);
  }));
  events_.notify(event_seq);
  return j;
}

Result<Job> JobStore::get(const std::string& id) {
  JZ_ASSIGN_OR_RETURN(
      auto jobs, query_jobs(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?", {id}));
  if (jobs.empty()) return Status::not_found("job '" + id + "' does not exist");
  return std::move(jobs[0]);
}

Result<std::vector<Job>> JobStore::query_jobs(const std::string& sql, const store::Params& p) {
  std::vector<Job> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, p));
    for (const auto& r : rows) {
      JZ_ASSIGN_OR_RETURN(Job j, from_row(r));
      out.push_back(std::move(j));
    }
    return {};
  }));
  return out;
}

Result<Job> JobStore::get_in(const std::string& project_id, const std::string& id) {
  auto j = get(id);
  if (!j.ok()) return j.status();
  if (j->project_id != project_id) return Status::not_found("job '" + id + "' does not exist");
  return j;
}

Result<std::vector<Job>> JobStore::list(const std::string& project_id, const ListFilter& f) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE 1 = 1";
  store::Params p;
  if (!project_id.empty()) {
    sql += " AND project_id = ?";
    p.push_back(project_id);
  }
  if (!f.user_id.empty()) {
    sql += " AND user_id = ?";
    p.push_back(f.user_id);
  }
  if (f.active) sql += " AND state IN ('queued', 'admitted', 'starting', 'running')";
  if (!f.state.empty()) {
    sql += " AND state = ?";
    p.push_back(f.state);
  }
  if (!f.kind.empty()) {
    sql += " AND kind = ?";
    p.push_back(f.kind);
  }
  if (!f.user.empty()) {
    sql += " AND username = ?";
    p.push_back(f.user);
  }
  if (f.before_seq > 0) {
    sql += " AND seq < ?";
    p.push_back(f.before_seq);
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  p.push_back(int64_t{f.limit});
  return query_jobs(sql, p);
}

Status JobStore::request_cancel(const std::string& project_id, const std::string& id,
                                const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Job j, get_in(project_id, id));
  if (is_terminal(j.state)) {
    return Status::failed_precondition("job " + id + " has already ended (" + j.state + ")");
  }
  (void)actor;
  return db_.transact([&](store::Conn& c) -> Status {
    return c.exec("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", {id}).status();
  });
}

Result<Job> JobStore::retry(const std::string& project_id, const std::string& id,
                            const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Job j, get_in(project_id, id));
  if (!is_terminal(j.state)) {
    return Status::failed_precondition("job " + id + " is " + j.state +
                                       "; only an ended job can be retried");
  }
  Transition t{.to = "queued",
               .reason = "Retried",
               .detail = "retried by " + actor,
               .requeue = true,
               .next_attempt = true};
  JZ_RETURN_IF_ERROR(transition(id, {j.state}, t, actor));
  return get(id);
}

Status JobStore::transition(const std::string& id, const std::vector<std::string>& from,
                            const Transition& t, const std::string& actor) {
  int64_t event_seq = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, c.query(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?", {id}));
    if (rows.empty()) return Status::not_found("job '" + id + "' does not exist");
    JZ_ASSIGN_OR_RETURN(Job j, from_row(rows[0]));
    bool ok = false;
    for (const auto& s : from) ok = ok || s == j.state;
    if (!ok) {
      return Status::failed_precondition("job " + id + " is " + j.state + ", not " +
                                         (from.empty() ? std::string("-") : from.front()));
    }
    return write_transition(c, j, t, actor, event_seq);
  }));
  events_.notify(event_seq);
  return {};
}

Status JobStore::set_message(const std::string& id, const std::string& message) {
  return db_.transact([&](store::Conn& c) -> Status {
    return c.exec("UPDATE jobs SET message = ? WHERE id = ? AND state = 'queued'", {message, id})
        .status();
  });
}

Result<std::vector<Job>> JobStore::in_states(const std::vector<std::string>& states,
                                             int64_t after) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE state IN (";
  store::Params p;
  for (size_t i = 0; i < states.size(); ++i) {
    sql += i ? ", ?" : "?";
    p.push_back(states[i]);
  }
  sql += ") AND queue_seq > ? ORDER BY queue_seq";
  p.push_back(after);
  return query_jobs(sql, p);
}

Result<std::vector<std::string>> JobStore::cancel_requested() {
  std::vector<std::string> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT id FROM jobs WHERE cancel_requested = 1 AND state IN "
                                "('queued', 'admitted', 'starting', 'running')"));
    for (const auto& r : rows) out.push_back(r.text("id"));
    return {};
  }));
  return out;
}

Result<store::Page<JobEvent>> JobStore::history(const std::string& id,
                                                const store::PageSpec& page) {
  static const store::RowMap<JobEvent> kEvent{{"seq", &JobEvent::seq},
                                              {"time_ms", &JobEvent::time_ms},
                                              {"from_state", &JobEvent::from},
                                              {"to_state", &JobEvent::to},
                                              {"reason", &JobEvent::reason},
                                              {"message", &JobEvent::message},
                                              {"exit_code", &JobEvent::exit_code}};
  store::Page<JobEvent> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out, store::query_page<JobEvent>(
                 c, kEvent, "SELECT " + kEvent.columns() + " FROM job_events WHERE job_id = ?",
                 {id}, "seq", [](const JobEvent& e) { return std::to_string(e.seq); }, page,
                 /*integer_key=*/true));
    return {};
  }));
  return out;
}

Json JobSettings::to_json() const {
  return {{"allow_egress", allow_egress},
          {"devenv_idle_s", devenv_idle_s},
          {"devenv_gpu_idle_percent", devenv_gpu_idle_percent},
          {"queued_alert_s", queued_alert_s}};
}

Result<std::vector<std::string>> JobStore::run_ids(const std::string& project_id) {
  std::vector<std::string> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT id, kind, attempt FROM jobs WHERE project_id = ?", {project_id}));
    for (const auto& r : rows) {
      if (r.text("kind") == "devenv") {
        out.push_back(r.text("id"));
        continue;
      }
      for (int64_t a = 1; a <= r.integer("attempt"); ++a)
        out.push_back(r.text("id") + "-" + std::to_string(a));
    }
    return {};
  }));
  return out;
}

Result<int64_t> JobStore::uid_offset(const std::string& project_id) {
  int64_t offset = -1;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT uid_offset FROM project_uids WHERE "
                                           "project_id = ?",
                                           {project_id}));
    if (!rows.empty()) {
      offset = rows[0].integer("uid_offset");
      return {};
    }
    JZ_ASSIGN_OR_RETURN(auto max,
                        c.query("SELECT COALESCE(MAX(uid_offset), -1) AS top FROM project_uids"));
    offset = max[0].integer("top") + 1;
    return c
        .exec("INSERT INTO project_uids (project_id, uid_offset) VALUES (?, ?)",
              {project_id, offset})
        .status();
  }));
  return offset;
}

Result<JobSettings> JobStore::settings(const std::string& project_id) {
  JobSettings s;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT allow_egress, devenv_idle_s, devenv_gpu_idle_percent, "
                                "queued_alert_s FROM project_job_settings WHERE project_id = ?",
                                {project_id}));
    if (!rows.empty()) {
      s.allow_egress = rows[0].integer("allow_egress") != 0;
      s.devenv_idle_s = rows[0].integer("devenv_idle_s");
      s.devenv_gpu_idle_percent = rows[0].integer("devenv_gpu_idle_percent");
      s.queued_alert_s = rows[0].integer("queued_alert_s");
    }
    return {};
  }));
  return s;
}

Status JobStore::set_settings(const std::string& project_id, const JobSettings& s) {
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM project_job_settings WHERE project_id = ?", {project_id}).status());
    return c
        .exec(
            "INSERT INTO project_job_settings (project_id, allow_egress, devenv_idle_s, "
            "devenv_gpu_idle_percent, queued_alert_s, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            {project_id, int64_t{s.allow_egress ? 1 : 0}, s.devenv_idle_s,
             s.devenv_gpu_idle_percent, s.queued_alert_s, clock_.now_unix_ms()})
        .status();
  });
}

Result<JobStore::StoredLogPolicy> JobStore::log_policy(const std::string& project_id,
                                                       const std::string& level) {
  StoredLogPolicy out;
  out.policy = logs::default_policy(level);
  std::string text;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT policy, updated_by, updated_at_ms FROM "
                                           "log_policies WHERE project_id = ? AND level = ?",
                                           {project_id, level}));
    if (!rows.empty()) {
      text = rows[0].text("policy");
      out.updated_by = rows[0].text("updated_by");
      out.updated_at_ms = rows[0].integer("updated_at_ms");
    }
    return {};
  }));
  if (text.empty()) return out;
  JZ_ASSIGN_OR_RETURN(Json j, json::parse(text, "stored log policy"));
  // Stored policies were checked when they were set; parse again without compiling.
  JZ_ASSIGN_OR_RETURN(out.policy, logs::parse_policy(j, false));
  out.edited = true;
  return out;
}

namespace {

iam::Event policy_event(const std::string& project, const std::string& level, const std::string& by,
                        const logs::LogPolicy* p) {
  iam::Event e;
  e.project = project;
  e.resource_type = "log_policy";
  e.resource_name = level;
  e.type = p ? "updated" : "deleted";
  e.reason = p ? "LogPolicyChanged" : "LogPolicyReset";
  e.actor = by;
  if (p) {
    e.message = std::string(logs::mode_name(p->mode)) + ", " + std::to_string(p->rules.size()) +
                " rule(s), detectors " + (p->detectors.enabled ? "on" : "off") +
                (p->keep_raw ? ", raw output kept" : "");
  } else {
    e.message = "back to the built-in policy";
  }
  return e;
}

}  // namespace

Status JobStore::set_log_policy(const std::string& project_id, const std::string& project,
                                const std::string& level, const logs::LogPolicy& policy,
                                const std::string& by) {
  iam::Event e = policy_event(project, level, by, &policy);
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM log_policies WHERE project_id = ? AND level = ?", {project_id, level})
            .status());
    JZ_RETURN_IF_ERROR(
        c.exec("INSERT INTO log_policies (project_id, level, policy, updated_by, updated_at_ms) "
               "VALUES (?, ?, ?, ?, ?)",
               {project_id, level, json::dump(policy.to_json()), by, clock_.now_unix_ms()})
            .status());
    return events_.append_in(c, e);
  }));
  events_.notify(e.seq);
  return {};
}

Status JobStore::reset_log_policy(const std::string& project_id, const std::string& project,
                                  const std::string& level, const std::string& by) {
  iam::Event e = policy_event(project, level, by, nullptr);
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM log_policies WHERE project_id = ? AND level = ?", {project_id, level})
            .status());
    return events_.append_in(c, e);
  }));
  events_.notify(e.seq);
  return {};
}

}  // namespace jz::jobs
