#include "platform/iam/events.h"

#include <algorithm>

#include "store/rows.h"

namespace jz::iam {

Json Event::to_json() const {
  Json j = {{"seq", seq},
            {"id", id},
            {"time", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(time_ms)))},
            {"project", project},
            {"resource_type", resource_type},
            {"resource_name", resource_name},
            {"type", type},
            {"reason", reason},
            {"message", message},
            {"actor", actor}};
  if (!workspace.empty()) j["workspace"] = workspace;
  if (!subject.empty()) j["subject"] = subject;
  return j;
}

Status EventLog::append_in(store::Conn& c, Event& e) {
  e.id = ids_.next("evt_");
  e.time_ms = clock_.now_unix_ms();
  if (c.dialect() == store::Dialect::kPostgres) {
    JZ_RETURN_IF_ERROR(c.query("SELECT pg_advisory_xact_lock(7321003)").status());
  }
  JZ_ASSIGN_OR_RETURN(auto last, c.query("SELECT COALESCE(MAX(seq), 0) AS top FROM events"));
  e.seq = last[0].integer("top") + 1;
  return c
      .exec(
          "INSERT INTO events (seq, id, time_ms, project, workspace, subject, resource_type, "
          "resource_name, type, reason, message, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?)",
          {e.seq, e.id, e.time_ms, e.project, e.workspace, e.subject, e.resource_type,
           e.resource_name, e.type, e.reason, e.message, e.actor})
      .status();
}

void EventLog::notify(int64_t seq) {
  {
    std::lock_guard lock(mu_);
    if (seq > last_seq_) last_seq_ = seq;
  }
  cv_.notify_all();
}

Result<Event> EventLog::append(Event e) {
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) { return append_in(c, e); }));
  notify(e.seq);
  return e;
}

Result<int64_t> EventLog::newest(const std::string& project) {
  int64_t seq = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE project = ?", {project}));
    if (!rows.empty()) seq = rows[0].integer("seq");
    return {};
  }));
  return seq;
}

namespace {

const store::RowMap<Event> kEvent{{"seq", &Event::seq},
                                  {"id", &Event::id},
                                  {"time_ms", &Event::time_ms},
                                  {"project", &Event::project},
                                  {"workspace", &Event::workspace},
                                  {"subject", &Event::subject},
                                  {"resource_type", &Event::resource_type},
                                  {"resource_name", &Event::resource_name},
                                  {"type", &Event::type},
                                  {"reason", &Event::reason},
                                  {"message", &Event::message},
                                  {"actor", &Event::actor}};

}  // namespace

Result<std::vector<Event>> EventLog::list(const std::string& project, int64_t after_seq,
                                          int limit) {
  return list_of(Of::kProject, project, after_seq, limit);
}

Result<std::vector<Event>> EventLog::list_of(Of of, const std::string& key, int64_t after_seq,
                                             int limit) {
  if (limit < 1 || limit > 1000) {
    return Status::invalid_argument("page size must be between 1 and 1000");
  }
  std::vector<Event> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_all(c, kEvent,
                                              "SELECT " + kEvent.columns() + " FROM events WHERE " +
                                                  (of == Of::kProject     ? "project"
                                                   : of == Of::kWorkspace ? "workspace"
                                                                          : "subject") +
                                                  " = ? AND seq > ? ORDER BY seq LIMIT ?",
                                              {key, after_seq, int64_t{limit}}));
    return {};
  }));
  return out;
}

Result<std::vector<Event>> EventLog::tail(const std::string& project, int limit) {
  if (limit < 1 || limit > 1000) return Status::invalid_argument("tail must be between 1 and 1000");
  std::vector<Event> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_all(c, kEvent,
                                              "SELECT " + kEvent.columns() +
                                                  " FROM events WHERE project = ? "
                                                  "ORDER BY seq DESC LIMIT ?",
                                              {project, int64_t{limit}}));
    return {};
  }));
  std::reverse(out.begin(), out.end());
  return out;
}

void EventLog::wait(int64_t after_seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const uint64_t wake = wakeups_;
  cv_.wait_for(lock, timeout, [&] { return last_seq_ > after_seq || wakeups_ != wake; });
}

void EventLog::wake_all() {
  {
    std::lock_guard lock(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

}  // namespace jz::iam
