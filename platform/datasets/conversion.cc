#include "platform/datasets/conversion.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/archive.h"
#include "core/files.h"
#include "platform/jobs/spec.h"
#include "store/rows.h"

namespace jz::datasets {

namespace fs = std::filesystem;

namespace {

const store::RowMap<Conversion> kRow{{"id", &Conversion::id},
                                     {"project_id", &Conversion::project_id},
                                     {"dataset_id", &Conversion::dataset_id},
                                     {"number", &Conversion::number},
                                     {"job_id", &Conversion::job_id},
                                     {"state", &Conversion::state},
                                     {"message", &Conversion::message},
                                     {"result_version", &Conversion::result_version},
                                     {"files", &Conversion::files},
                                     {"created_by", &Conversion::created_by},
                                     {"created_at_ms", &Conversion::created_at_ms},
                                     {"finished_at_ms", &Conversion::finished_at_ms}};
const std::string kSelect = "SELECT " + kRow.columns("c.") +
                            ", c.request, d.name AS dataset FROM dataset_conversions c JOIN "
                            "datasets d ON d.id = c.dataset_id";

bool known_format(const std::string& f) {
  return f == "coco" || f == "voc" || f == "yolo" || f == "json";
}

Conversion conversion_of(const store::Row& row) {
  Conversion c;
  kRow.read(row, c);
  c.dataset = row.text("dataset");
  auto r = json::parse(row.text("request"));
  if (r.ok() && r->is_object()) {
    c.request.from = r->value("from", "");
    c.request.to = r->value("to", "");
    c.request.input = r->value("input", "");
    c.request.images = r->value("images", "");
    c.request.output = r->value("output", "");
    c.request.message = r->value("message", "");
  }
  return c;
}

}  // namespace

Json ConversionRequest::to_json() const {
  return {{"from", from},     {"to", to},         {"input", input},
          {"images", images}, {"output", output}, {"message", message}};
}

Result<ConversionRequest> parse_conversion_request(const Json& body) {
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  JZ_RETURN_IF_ERROR(
      json::only_fields(body, {"from", "to", "input", "images", "output", "message"}));
  ConversionRequest r;
  for (const char* field : {"from", "to"}) {
    const Json& v = body.value(field, Json());
    if (!v.is_string() || !known_format(v.get<std::string>())) {
      return Status::invalid_argument(std::string("field '") + field +
                                      "' must be coco, voc, yolo or json");
    }
    (std::string(field) == "from" ? r.from : r.to) = v.get<std::string>();
  }
  if (r.from == r.to) {
    return Status::invalid_argument("fields 'from' and 'to' are the same format: nothing to do");
  }
  for (const char* field : {"input", "images", "output", "message"}) {
    if (!body.contains(field)) continue;
    if (!body[field].is_string()) {
      return Status::invalid_argument(std::string("field '") + field + "' must be a string");
    }
    const std::string v = body[field].get<std::string>();
    if (std::string(field) == "message") {
      if (v.size() > 1000) {
        return Status::invalid_argument("field 'message' must be at most 1000 characters");
      }
      r.message = v;
      continue;
    }
    if (!v.empty()) {
      if (std::string why = relative_path_fault(v); !why.empty()) {
        return Status::invalid_argument(std::string("field '") + field +
                                        "' must be a path inside the version: " + why);
      }
    }
    (std::string(field) == "input"    ? r.input
     : std::string(field) == "images" ? r.images
                                      : r.output) = v;
  }
  if (r.input.empty()) {
    return Status::invalid_argument(
        "field 'input' must name the annotations in the version (the COCO .json file, or the "
        "folder of the others)");
  }
  if (r.output.empty()) r.output = "labels/" + r.to;
  return r;
}

Conversions::Conversions(store::Database& db, Clock& clock, IdGenerator& ids, jobs::JobStore& jobs,
                         jobs::Outputs& outputs, DatasetVersions& versions,
                         std::shared_ptr<spdlog::logger> logger, ConversionLimits limits,
                         std::chrono::milliseconds tick)
    : db_(db),
      clock_(clock),
      ids_(ids),
      jobs_(jobs),
      outputs_(outputs),
      versions_(versions),
      logger_(std::move(logger)),
      limits_(limits),
      ticker_(tick) {}

Conversions::~Conversions() { stop(); }

Result<Conversion> Conversions::start(const std::string& project_id, const std::string& project,
                                      const std::string& dataset, int64_t number,
                                      const ConversionRequest& r, const std::string& user_id,
                                      const std::string& username) {
  JZ_ASSIGN_OR_RETURN(Version v, versions_.get(project_id, dataset, number));
  if (v.archived_at_ms) {
    return Status::failed_precondition("version " + std::to_string(v.number) +
                                       " is archived; restore it first");
  }
  // The input must be in the version: the file itself, or files under the folder.
  JZ_ASSIGN_OR_RETURN(auto found, versions_.files(v, {.prefix = r.input, .limit = 2}));
  bool there = false;
  for (const auto& f : found) {
    there = there || f.path == r.input || f.path.rfind(r.input + "/", 0) == 0;
  }
  if (!there) {
    return Status::invalid_argument("field 'input': version " + std::to_string(v.number) +
                                    " of dataset '" + dataset + "' has no file or folder '" +
                                    r.input + "'");
  }
  const std::string mounted = dataset + "@" + std::to_string(v.number);
  const std::string root = "/data/" + mounted + "/";
  Json command = {"/opt/jizhan/bin/jizhan-algo",
                  "data",
                  "convert",
                  "--from",
                  r.from,
                  "--to",
                  r.to,
                  root + r.input,
                  "/output/converted"};
  if (!r.images.empty()) command.insert(command.end(), {"--images", root + r.images});
  JZ_ASSIGN_OR_RETURN(auto job, queue_service_job(jobs_, project_id, project, user_id, username,
                                                  "convert-" + dataset + "-v" +
                                                      std::to_string(v.number) + "-" + r.to,
                                                  command, mounted, 2048, int64_t{6} * 3600));
  Conversion c;
  c.id = ids_.next("cnv_");
  c.project_id = project_id;
  c.dataset_id = v.dataset_id;
  c.dataset = dataset;
  c.number = v.number;
  c.job_id = job.id;
  c.state = "queued";
  c.request = r;
  c.created_by = username;
  c.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "INSERT INTO dataset_conversions (id, project_id, dataset_id, number, job_id, "
            "state, message, request, result_version, files, created_by, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?, 'queued', '', ?, 0, 0, ?, ?)",
            {c.id, project_id, c.dataset_id, c.number, c.job_id, json::dump(r.to_json()), username,
             c.created_at_ms})
        .status();
  }));
  wake();
  return c;
}

Result<std::vector<Conversion>> Conversions::list(const std::string& project_id,
                                                  const std::string& dataset) {
  std::vector<Conversion> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, conn.query(kSelect + " WHERE c.project_id = ? AND d.name = ? "
                                                        "ORDER BY c.created_at_ms DESC, c.id "
                                                        "DESC LIMIT 100",
                                              {project_id, dataset}));
    for (const auto& row : rows) out.push_back(conversion_of(row));
    return {};
  }));
  return out;
}

Result<Conversion> Conversions::get(const std::string& project_id, const std::string& id) {
  std::optional<Conversion> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, conn.query(kSelect + " WHERE c.project_id = ? AND c.id = ?", {project_id, id}));
    if (!rows.empty()) out = conversion_of(rows.at(0));
    return {};
  }));
  if (!out) return Status::not_found("no conversion " + id + " in this project");
  return *out;
}

Status Conversions::finish(const Conversion& c, const std::string& state,
                           const std::string& message, int64_t version, int64_t files) {
  return db_.with_conn([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "UPDATE dataset_conversions SET state = ?, message = ?, result_version = ?, "
            "files = ?, finished_at_ms = ? WHERE id = ? AND state IN ('queued', 'running')",
            {state, message.substr(0, 2000), version, files, clock_.now_unix_ms(), c.id})
        .status();
  });
}

Status Conversions::ingest(const Conversion& c, const std::string& dir) {
  // What the job wrote, read as hostile input: regular files only, never through a link,
  // names a version may hold, bounded.
  Changes ch;
  ch.add_split = "labels";
  ch.message = c.request.message.empty()
                   ? "conversion " + c.id + " of version " + std::to_string(c.number) + ": " +
                         c.request.from + " to " + c.request.to
                   : c.request.message;
  int64_t bytes = 0;
  std::error_code ec;
  struct stat top {};
  if (::lstat(dir.c_str(), &top) != 0 || !S_ISDIR(top.st_mode)) {
    return finish(c, "failed", "the job wrote nothing (/output/converted); its log says why", 0, 0);
  }
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (fs::is_directory(st)) continue;
    // Lexically: fs::relative would resolve a link, naming what it points at.
    const std::string rel = it->path().lexically_relative(dir).generic_string();
    if (!fs::is_regular_file(st)) {
      return finish(c, "failed", "the job wrote '" + rel + "', which is not a plain file", 0, 0);
    }
    if (std::string why = relative_path_fault(rel); !why.empty()) {
      return finish(c, "failed", "the job wrote a file named '" + rel + "': " + why, 0, 0);
    }
    if (static_cast<int64_t>(ch.add.size()) >= limits_.max_files) {
      return finish(c, "failed",
                    "the job wrote more than " + std::to_string(limits_.max_files) + " files", 0,
                    0);
    }
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return finish(c, "failed", "cannot read '" + rel + "'", 0, 0);
    std::string content;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      bytes += n;
      if (bytes > limits_.max_bytes) break;
      content.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    if (bytes > limits_.max_bytes) {
      return finish(c, "failed",
                    "the job wrote more than " + std::to_string(limits_.max_bytes) + " bytes", 0,
                    0);
    }
    ch.add[c.request.output + "/" + rel] = std::move(content);
  }
  if (ch.add.empty()) {
    return finish(c, "failed", "the job wrote no file; its log says why", 0, 0);
  }
  auto v = versions_.derive(c.project_id, c.dataset, c.number, ch, c.created_by);
  if (!v.ok()) return finish(c, "failed", v.status().message(), 0, 0);
  return finish(c, "done", "", v->number, static_cast<int64_t>(ch.add.size()));
}

void Conversions::tick() {
  std::vector<Conversion> active;
  Status listed = db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, conn.query(kSelect + " WHERE c.state IN ('queued', "
                                                        "'running') ORDER BY c.id LIMIT 1000"));
    for (const auto& r : rows) active.push_back(conversion_of(r));
    return {};
  });
  if (!listed.ok() && logger_) logger_->warn("conversion: {}", listed.message());
  for (auto& c : active) {
    const JobTurn turn = job_turn(jobs_, outputs_, c.project_id, c.job_id, c.state == "queued",
                                  "the conversion job");
    Status s;
    if (turn.kind == JobTurn::kStarted) {
      s = mark_running(db_, "dataset_conversions", c.id);
    } else if (turn.kind == JobTurn::kSucceeded) {
      s = ingest(c, turn.output_dir + "/converted");
    } else if (turn.kind == JobTurn::kEnded) {
      s = finish(c, turn.state, turn.message, 0, 0);
    }
    if (!s.ok() && logger_) logger_->warn("conversion {}: {}", c.id, s.message());
  }
}

}  // namespace jz::datasets
