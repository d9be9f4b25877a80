#include "platform/training/runs.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/files.h"
#include "store/rows.h"

namespace jz::training {

namespace {

std::string time_text(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

struct RunRow {
  std::string id, project_id, name, owner_id, owner, job_id, state, config, store_dir;
  std::optional<int64_t> progress_done, progress_total, finished_at_ms;
  int64_t records_offset = 0, created_at_ms = 0, updated_at_ms = 0;
};
const store::RowMap<RunRow> kRunRow{{"r.id", &RunRow::id},
                                    {"r.project_id", &RunRow::project_id},
                                    {"r.name", &RunRow::name},
                                    {"r.owner_id", &RunRow::owner_id},
                                    {"u.username", &RunRow::owner},
                                    {"r.job_id", &RunRow::job_id},
                                    {"r.state", &RunRow::state},
                                    {"r.config", &RunRow::config},
                                    {"r.store_dir", &RunRow::store_dir},
                                    {"r.progress_done", &RunRow::progress_done},
                                    {"r.progress_total", &RunRow::progress_total},
                                    {"r.finished_at_ms", &RunRow::finished_at_ms},
                                    {"r.records_offset", &RunRow::records_offset},
                                    {"r.created_at_ms", &RunRow::created_at_ms},
                                    {"r.updated_at_ms", &RunRow::updated_at_ms}};
// Columns are read back by their unqualified names.
const store::RowMap<RunRow> kRunRead{{"id", &RunRow::id},
                                     {"project_id", &RunRow::project_id},
                                     {"name", &RunRow::name},
                                     {"owner_id", &RunRow::owner_id},
                                     {"username", &RunRow::owner},
                                     {"job_id", &RunRow::job_id},
                                     {"state", &RunRow::state},
                                     {"config", &RunRow::config},
                                     {"store_dir", &RunRow::store_dir},
                                     {"progress_done", &RunRow::progress_done},
                                     {"progress_total", &RunRow::progress_total},
                                     {"finished_at_ms", &RunRow::finished_at_ms},
                                     {"records_offset", &RunRow::records_offset},
                                     {"created_at_ms", &RunRow::created_at_ms},
                                     {"updated_at_ms", &RunRow::updated_at_ms}};
const std::string kSelect =
    "SELECT " + kRunRow.columns() + " FROM training_runs r LEFT JOIN users u ON u.id = r.owner_id";

Json object_of(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_object() ? j : Json::object();
}

Run run_of(const RunRow& r) {
  Run out;
  out.id = r.id;
  out.project_id = r.project_id;
  out.name = r.name;
  out.owner_id = r.owner_id;
  out.owner = r.owner;
  out.job_id = r.job_id;
  out.state = r.state;
  out.config = object_of(r.config);
  out.store_dir = r.store_dir;
  out.records_offset = r.records_offset;
  out.progress_done = r.progress_done;
  out.progress_total = r.progress_total;
  out.created_at_ms = r.created_at_ms;
  out.updated_at_ms = r.updated_at_ms;
  out.finished_at_ms = r.finished_at_ms;
  return out;
}

}  // namespace

Json Run::to_json() const {
  Json j = {{"id", id},
            {"name", name},
            {"owner", owner},
            {"job_id", job_id.empty() ? Json() : Json(job_id)},
            {"state", state},
            {"config", config},
            {"last", last},
            {"points", points},
            {"created_at", time_text(created_at_ms)},
            {"updated_at", time_text(updated_at_ms)},
            {"finished_at", finished_at_ms ? Json(time_text(*finished_at_ms)) : Json()},
            {"progress", Json()}};
  if (channel.is_object()) j["channel"] = channel;
  if (progress_total) {
    j["progress"] = {{"done", progress_done.value_or(0)}, {"total", *progress_total}};
  }
  return j;
}

RunService::RunService(store::Database& db, Clock& clock, IdGenerator& ids, RunOptions options)
    : db_(db), clock_(clock), ids_(ids), options_(std::move(options)) {}

RunService::~RunService() = default;

Result<Run> RunService::create(const std::string& project_id, const std::string& name,
                               const std::string& owner_id, const std::string& job_id) {
  const std::string id = ids_.next("run_");
  const int64_t now = clock_.now_unix_ms();
  std::string chosen = name;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    if (chosen.empty()) {
      JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM training_runs WHERE "
                                             "project_id = ?",
                                             {project_id}));
      chosen = "run-" + std::to_string(rows[0].integer("n") + 1);
    }
    auto w = c.exec(
        "INSERT INTO training_runs (id, project_id, name, owner_id, job_id, state, config, "
        "progress_done, progress_total, store_dir, records_offset, created_at_ms, updated_at_ms, "
        "finished_at_ms) VALUES (?, ?, ?, ?, ?, 'running', '{}', NULL, NULL, '', 0, ?, ?, NULL)",
        {id, project_id, chosen, owner_id, job_id, now, now});
    if (!w.ok() && w.status().code() == Code::kAlreadyExists) {
      return Status::already_exists("run '" + chosen + "' already exists in this project");
    }
    return w.status();
  }));
  return get(project_id, chosen);
}

Result<Run> RunService::get(const std::string& project_id, const std::string& name) {
  Result<Run> out = Status::not_found("no run '" + name + "' in this project");
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, c.query(kSelect + " WHERE r.project_id = ? AND r.name = ?", {project_id, name}));
    if (!rows.empty()) out = run_of(kRunRead(rows[0]));
    return {};
  }));
  if (out.ok()) {
    JZ_RETURN_IF_ERROR(sync(*out));
    fill_from_store(*out);
  }
  return out;
}

Result<store::Page<Run>> RunService::list(const std::string& project_id,
                                          const store::PageSpec& page, const std::string& job_id) {
  store::Page<Run> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql = kSelect + " WHERE r.project_id = ?";
    store::Params params{project_id};
    if (!job_id.empty()) {
      sql += " AND r.job_id = ?";
      params.emplace_back(job_id);
    }
    if (!page.after.empty()) {
      sql += " AND r.id < ?";
      params.emplace_back(page.after);
    }
    sql += " ORDER BY r.id DESC LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      out.items.push_back(run_of(kRunRead(rows[i])));
    }
    if (rows.size() > static_cast<size_t>(limit)) out.next_after = out.items.back().id;
    return {};
  }));
  for (Run& r : out.items) {
    JZ_RETURN_IF_ERROR(sync(r));
    fill_from_store(r);
  }
  return out;
}

void RunService::fill_from_store(Run& run) const {
  const RunSummary sum = summarize(dir_of(run));
  if (!run.store_dir.empty()) {
    auto stats = read_file(run.store_dir + "/stats.json");
    if (stats.ok()) run.channel = Json::parse(*stats, nullptr, false);
    if (run.channel.is_discarded()) run.channel = Json();
  }
  run.points = sum.points;
  run.last = Json::object();
  for (const auto& [tag, p] : sum.last) {
    run.last[tag] = {{"step", p.step}, {"value", value_json(p.value)}, {"time", p.wall_us / 1000}};
  }
}

Status RunService::apply(store::Conn& c, const Run& run, const std::vector<Record>& records,
                         std::optional<int64_t> records_offset) {
  Json config = run.config;
  std::optional<int64_t> done = run.progress_done, total = run.progress_total;
  bool finish = false;
  std::vector<std::string> notes;
  for (const Record& r : records) {
    switch (r.kind) {
      case Record::Kind::kLog:
      case Record::Kind::kPoints:
        break;
      case Record::Kind::kConfig:
        for (const auto& [k, v] : r.config.items()) {
          if (config.size() < kMaxConfigKeys || config.contains(k)) config[k] = v;
        }
        break;
      case Record::Kind::kNote:
        notes.push_back(r.text);
        break;
      case Record::Kind::kProgress:
        done = r.done;
        total = r.total;
        break;
      case Record::Kind::kFinish:
        finish = true;
        break;
    }
  }
  const int64_t now_ms = clock_.now_unix_ms();
  JZ_ASSIGN_OR_RETURN(auto counted, c.query("SELECT COUNT(*) AS n FROM training_notes WHERE "
                                            "run_id = ?",
                                            {run.id}));
  int64_t seq = counted[0].integer("n");
  for (const std::string& text : notes) {
    if (static_cast<size_t>(seq) >= options_.max_notes) break;  // a job's: the rest are dropped
    JZ_RETURN_IF_ERROR(c.exec("INSERT INTO training_notes (run_id, seq, time_ms, text) VALUES "
                              "(?, ?, ?, ?)",
                              {run.id, ++seq, now_ms, text})
                           .status());
  }
  const bool finished = finish || run.state != "running";
  store::Params p{json::dump(config),
                  done ? store::Value(*done) : store::Value(),
                  total ? store::Value(*total) : store::Value(),
                  store::Value(now_ms),
                  finished ? std::string("finished") : std::string("running"),
                  run.finished_at_ms ? store::Value(*run.finished_at_ms)
                  : finish           ? store::Value(now_ms)
                                     : store::Value(),
                  store::Value(records_offset.value_or(run.records_offset)),
                  run.id};
  return c
      .exec(
          "UPDATE training_runs SET config = ?, progress_done = ?, progress_total = ?, "
          "updated_at_ms = ?, state = ?, finished_at_ms = ?, records_offset = ? WHERE id = ?",
          p)
      .status();
}

Status RunService::sync(Run& run) {
  if (run.store_dir.empty()) return {};
  const std::string path = run.store_dir + "/records.jsonl";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || static_cast<int64_t>(size) <= run.records_offset) return {};
  std::lock_guard lock(sync_mu_);
  // What came since the last look (at most 8 MiB at a time), whole lines only: the
  // supervisor may be mid-line.
  std::ifstream in(path, std::ios::binary);
  in.seekg(run.records_offset);
  std::string text(static_cast<size_t>(std::min<int64_t>(
                       static_cast<int64_t>(size) - run.records_offset, int64_t{8} << 20)),
                   '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  const size_t end = text.rfind('\n');
  if (end == std::string::npos) return {};
  std::vector<Record> records;
  const std::string_view fresh(text.data(), end + 1);
  size_t at = 0;
  while (at < fresh.size()) {
    const size_t nl = fresh.find('\n', at);
    auto j = json::parse(fresh.substr(at, nl - at), "a record");
    at = nl + 1;
    if (!j.ok()) continue;  // written by our supervisor: cannot happen; skipped if it does
    auto r = parse_record(*j);
    if (r.ok()) records.push_back(std::move(*r));
  }
  const int64_t offset = run.records_offset + static_cast<int64_t>(end) + 1;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    // Taken by another caller meanwhile?
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kRunRow.columns() +
                                               " FROM training_runs r LEFT JOIN users u ON u.id = "
                                               "r.owner_id WHERE r.id = ?",
                                           {run.id}));
    if (rows.empty()) return {};
    Run now = run_of(kRunRead(rows[0]));
    if (now.records_offset != run.records_offset) {
      run = now;
      return {};
    }
    JZ_RETURN_IF_ERROR(apply(c, now, records, offset));
    return {};
  }));
  return db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE r.id = ?", {run.id}));
    if (!rows.empty()) run = run_of(kRunRead(rows[0]));
    return {};
  });
}

Status RunService::job_started(const std::string& project_id, const std::string& job_id,
                               const std::string& owner_id, const std::string& store_dir) {
  const int64_t now = clock_.now_unix_ms();
  return db_.transact([&](store::Conn& c) -> Status {
    // Seen again after a restart: as it was. A new attempt (another folder): from its start.
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT store_dir FROM training_runs WHERE "
                                           "project_id = ? AND name = ?",
                                           {project_id, job_id}));
    if (!rows.empty() && rows[0].text("store_dir") == store_dir) return {};
    JZ_ASSIGN_OR_RETURN(auto n, c.exec("UPDATE training_runs SET store_dir = ?, "
                                       "records_offset = 0, state = 'running', "
                                       "finished_at_ms = NULL, updated_at_ms = ? WHERE "
                                       "project_id = ? AND name = ?",
                                       {store_dir, now, project_id, job_id}));
    if (n > 0) return {};
    return c
        .exec(
            "INSERT INTO training_runs (id, project_id, name, owner_id, job_id, state, config, "
            "progress_done, progress_total, store_dir, records_offset, created_at_ms, "
            "updated_at_ms, finished_at_ms) VALUES (?, ?, ?, ?, ?, 'running', '{}', NULL, NULL, "
            "?, 0, ?, ?, NULL)",
            {ids_.next("run_"), project_id, job_id, owner_id, job_id, store_dir, now, now})
        .status();
  });
}

Status RunService::job_ended(const std::string& project_id, const std::string& job_id) {
  auto run = get(project_id, job_id);  // takes what the folder still holds
  if (!run.ok()) return run.status().code() == Code::kNotFound ? Status() : run.status();
  if (run->state != "running") return {};
  return db_.transact(
      [&](store::Conn& c) { return apply(c, *run, {Record{.kind = Record::Kind::kFinish}}, {}); });
}

Result<IngestResult> RunService::ingest(const Run& run, const std::vector<Record>& records) {
  if (records.size() > options_.max_records) {
    return Status::invalid_argument("at most " + std::to_string(options_.max_records) +
                                    " records in one call; send the rest in another");
  }
  if (!run.store_dir.empty()) {
    return Status::failed_precondition("run '" + run.name +
                                       "' is its job's: the job logs to it from inside (the "
                                       "client finds the job's metrics socket)");
  }
  std::lock_guard lock(mu_);
  // The run as stored now (another call may have finished it).
  JZ_ASSIGN_OR_RETURN(Run now, get(run.project_id, run.name));
  if (now.state != "running") {
    return Status::failed_precondition("run '" + run.name +
                                       "' has finished: it takes no more records (start a new "
                                       "run)");
  }
  if (writers_.size() >= 256 && !writers_.count(run.id)) writers_.clear();  // closes them
  auto& writer = writers_[run.id];
  if (!writer) {
    JZ_ASSIGN_OR_RETURN(writer, RunWriter::open(dir_of(run)));
  }
  // Bounds first, so a call that breaks one stores nothing.
  std::set<std::string> new_tags;
  size_t notes = 0, config_keys = 0;
  for (const Record& r : records) {
    if (r.kind == Record::Kind::kNote) ++notes;
    if (r.kind == Record::Kind::kConfig) config_keys += r.config.size();
    if (r.kind == Record::Kind::kPoints) {
      if (writer->count(r.tag) == 0) new_tags.insert(r.tag);
      continue;
    }
    for_each_point(r, [&](const std::string& tag, int64_t, int64_t, double) {
      if (writer->count(tag) == 0) new_tags.insert(tag);
    });
  }
  const size_t existing_tags = writer->tag_count();
  if (existing_tags + new_tags.size() > options_.max_tags) {
    return Status::resource_exhausted(
        "run '" + run.name + "' would have " + std::to_string(existing_tags + new_tags.size()) +
        " tags; a run may have at most " + std::to_string(options_.max_tags) +
        " (log fewer distinct names, e.g. one tag per metric rather than per step)");
  }
  if (now.config.size() + config_keys > kMaxConfigKeys) {
    Json merged = now.config;
    for (const Record& r : records) {
      if (r.kind != Record::Kind::kConfig) continue;
      for (const auto& [k, v] : r.config.items()) merged[k] = v;
    }
    if (merged.size() > kMaxConfigKeys) {
      return Status::resource_exhausted("a run's configuration may have at most " +
                                        std::to_string(kMaxConfigKeys) + " values");
    }
  }
  if (notes > 0) {
    int64_t stored = 0;
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
      JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM training_notes WHERE "
                                             "run_id = ?",
                                             {run.id}));
      stored = rows[0].integer("n");
      return {};
    }));
    if (static_cast<size_t>(stored) + notes > options_.max_notes) {
      return Status::resource_exhausted("run '" + run.name + "' may keep at most " +
                                        std::to_string(options_.max_notes) + " notes");
    }
  }
  const int64_t now_us = clock_.now_unix_ms() * 1000;
  IngestResult out;
  Status written;
  for (const Record& r : records) {
    for_each_point(r, [&](const std::string& tag, int64_t step, int64_t wall, double v) {
      if (!written.ok()) return;
      written = writer->append(tag, {step, wall ? wall : now_us, v});
      ++out.points;
    });
  }
  JZ_RETURN_IF_ERROR(written);
  JZ_RETURN_IF_ERROR(writer->flush());
  out.tags = writer->tag_count();
  JZ_RETURN_IF_ERROR(
      db_.transact([&](store::Conn& c) { return apply(c, now, records, std::nullopt); }));
  for (const Record& r : records) {
    if (r.kind == Record::Kind::kFinish) writers_.erase(run.id);
  }
  return out;
}

Result<std::vector<std::string>> RunService::tags(const Run& run) const {
  return read_tags(dir_of(run));
}

Result<Series> RunService::series(const Run& run, const std::string& tag,
                                  const SeriesQuery& q) const {
  return read_series(dir_of(run), tag, q);
}

Result<std::vector<Note>> RunService::notes(const Run& run) {
  std::vector<Note> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT time_ms, text FROM training_notes WHERE "
                                           "run_id = ? ORDER BY seq",
                                           {run.id}));
    for (const auto& r : rows) out.push_back({r.integer("time_ms"), r.text("text")});
    return {};
  }));
  return out;
}

}  // namespace jz::training
