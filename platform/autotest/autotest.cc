#include "platform/autotest/autotest.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/hash.h"
#include "core/subprocess.h"
#include "eval/engine.h"
#include "eval/html_report.h"
#include "eval/template.h"
#include "platform/autotest/report.h"
#include "platform/jobs/spec.h"
#include "sdk/package.h"

namespace jz::autotest {

namespace fs = std::filesystem;

namespace {

std::string time_text(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

Status bad(const std::string& field, const std::string& why) {
  return Status::invalid_argument("field '" + field + "': " + why);
}

Json parse_object(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? Json::object() : j;
}

// A relative path inside a dataset: no "..", ".", empty parts or leading '/'.
bool valid_relative(const std::string& p) {
  if (p.size() > 1000 || p.front() == '/' || p.find('\0') != std::string::npos) return false;
  size_t start = 0;
  while (true) {
    const size_t slash = p.find('/', start);
    const std::string part = p.substr(start, slash == std::string::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

std::string extension_of(const std::string& file) {
  const size_t dot = file.rfind('.');
  return dot == std::string::npos ? "" : file.substr(dot);
}

const std::set<std::string>& annotation_extensions() {
  static const std::set<std::string> k = {".json", ".jsonl", ".ndjson", ".xml"};
  return k;
}

Json suite_spec(const Suite& s) {
  return {{"description", s.description},
          {"dataset", s.dataset},
          {"input", s.input},
          {"level", s.level},
          {"template", s.template_text},
          {"template_name", s.template_name},
          {"annotations_file", s.annotations_file},
          {"annotations_bytes", s.annotations_bytes},
          {"thresholds", s.thresholds},
          {"frame_timeout_s", s.frame_timeout_s},
          {"fps", s.fps},
          {"max_frames", s.max_frames},
          {"runtime_limit_s", s.runtime_limit_s}};
}

void read_spec(const Json& j, Suite& s) {
  s.description = json::string_or(j, "description");
  s.dataset = json::string_or(j, "dataset");
  s.input = json::string_or(j, "input");
  s.level = json::string_or(j, "level");
  s.template_text = json::string_or(j, "template");
  s.template_name = json::string_or(j, "template_name");
  s.annotations_file = json::string_or(j, "annotations_file");
  s.annotations_bytes = j.value("annotations_bytes", int64_t{0});
  s.thresholds.clear();
  if (j.contains("thresholds") && j["thresholds"].is_array()) {
    for (const auto& t : j["thresholds"]) {
      if (t.is_string()) s.thresholds.push_back(t.get<std::string>());
    }
  }
  s.frame_timeout_s = j.value("frame_timeout_s", int64_t{10});
  s.fps = j.value("fps", 0.0);
  s.max_frames = j.value("max_frames", int64_t{0});
  s.runtime_limit_s = j.value("runtime_limit_s", int64_t{3600});
}

struct SuiteRow {
  std::string id, project_id, name, spec, created_by;
  int64_t version = 0, created_at_ms = 0, updated_at_ms = 0;
};
const store::RowMap<SuiteRow> kSuiteRow{{"id", &SuiteRow::id},
                                        {"project_id", &SuiteRow::project_id},
                                        {"name", &SuiteRow::name},
                                        {"version", &SuiteRow::version},
                                        {"spec", &SuiteRow::spec},
                                        {"created_by", &SuiteRow::created_by},
                                        {"created_at_ms", &SuiteRow::created_at_ms},
                                        {"updated_at_ms", &SuiteRow::updated_at_ms}};
// The latest version's spec with the suite's row; `v.` the versions table.
const std::string kSuiteSelect =
    "SELECT s.id AS id, s.project_id AS project_id, s.name AS name, v.version AS version, "
    "v.spec AS spec, v.created_by AS created_by, s.created_at_ms AS created_at_ms, "
    "v.created_at_ms AS updated_at_ms FROM autotest_suites s JOIN autotest_suite_versions v ON "
    "v.suite_id = s.id";

Suite suite_of(const SuiteRow& r) {
  Suite s;
  s.id = r.id;
  s.project_id = r.project_id;
  s.name = r.name;
  s.version = r.version;
  s.created_by = r.created_by;
  s.created_at_ms = r.created_at_ms;
  s.updated_at_ms = r.updated_at_ms;
  read_spec(parse_object(r.spec), s);
  return s;
}

struct AlgorithmRow {
  std::string id, project_id, name, version, info, state, check_result, message, uploaded_by;
  int64_t created_at_ms = 0;
};
const store::RowMap<AlgorithmRow> kAlgorithmRow{{"id", &AlgorithmRow::id},
                                                {"project_id", &AlgorithmRow::project_id},
                                                {"name", &AlgorithmRow::name},
                                                {"version", &AlgorithmRow::version},
                                                {"info", &AlgorithmRow::info},
                                                {"state", &AlgorithmRow::state},
                                                {"check_result", &AlgorithmRow::check_result},
                                                {"message", &AlgorithmRow::message},
                                                {"uploaded_by", &AlgorithmRow::uploaded_by},
                                                {"created_at_ms", &AlgorithmRow::created_at_ms}};

Algorithm algorithm_of(const AlgorithmRow& r) {
  Algorithm a;
  a.id = r.id;
  a.project_id = r.project_id;
  a.name = r.name;
  a.version = r.version;
  const Json info = parse_object(r.info);
  a.publisher = json::string_or(info, "publisher");
  a.key_id = json::string_or(info, "key_id");
  a.sha256 = json::string_or(info, "sha256");
  a.size = info.value("size", int64_t{0});
  a.licence_required = info.value("licence_required", false);
  a.state = r.state;
  a.check = Json::parse(r.check_result, nullptr, false);
  if (a.check.is_discarded()) a.check = Json::array();
  a.message = r.message;
  a.uploaded_by = r.uploaded_by;
  a.created_at_ms = r.created_at_ms;
  return a;
}

struct EvaluationRow {
  std::string id, project_id, suite_id, algorithm_id, job_id, state, message, config, result,
      owner_id;
  int64_t suite_version = 0, created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  std::optional<std::string> suite, suite_spec, algorithm, algorithm_version, owner;
};
const store::RowMap<EvaluationRow> kEvaluationRow{
    {"id", &EvaluationRow::id},
    {"project_id", &EvaluationRow::project_id},
    {"suite_id", &EvaluationRow::suite_id},
    {"suite_version", &EvaluationRow::suite_version},
    {"algorithm_id", &EvaluationRow::algorithm_id},
    {"job_id", &EvaluationRow::job_id},
    {"state", &EvaluationRow::state},
    {"message", &EvaluationRow::message},
    {"config", &EvaluationRow::config},
    {"result", &EvaluationRow::result},
    {"owner_id", &EvaluationRow::owner_id},
    {"created_at_ms", &EvaluationRow::created_at_ms},
    {"finished_at_ms", &EvaluationRow::finished_at_ms},
    {"suite", &EvaluationRow::suite},
    {"suite_spec", &EvaluationRow::suite_spec},
    {"algorithm", &EvaluationRow::algorithm},
    {"algorithm_version", &EvaluationRow::algorithm_version},
    {"owner", &EvaluationRow::owner}};
const std::string kEvaluationSelect =
    "SELECT e.id AS id, e.project_id AS project_id, e.suite_id AS suite_id, e.suite_version AS "
    "suite_version, e.algorithm_id AS algorithm_id, e.job_id AS job_id, e.state AS state, "
    "e.message AS message, e.config AS config, e.result AS result, e.owner_id AS owner_id, "
    "e.created_at_ms AS created_at_ms, e.finished_at_ms AS finished_at_ms, s.name AS suite, "
    "v.spec AS suite_spec, a.name AS algorithm, a.version AS algorithm_version, u.username AS "
    "owner FROM autotest_evaluations e LEFT JOIN autotest_suites s ON s.id = e.suite_id LEFT "
    "JOIN autotest_suite_versions v ON v.suite_id = e.suite_id AND v.version = e.suite_version "
    "LEFT JOIN autotest_algorithms a ON a.id = e.algorithm_id LEFT JOIN users u ON u.id = "
    "e.owner_id";

Evaluation evaluation_of(const EvaluationRow& r) {
  Evaluation e;
  e.id = r.id;
  e.project_id = r.project_id;
  e.suite_id = r.suite_id;
  e.suite = r.suite.value_or("(deleted)");
  e.suite_version = r.suite_version;
  e.suite_level = json::string_or(parse_object(r.suite_spec.value_or("{}")), "level");
  if (e.suite_level.empty()) e.suite_level = "secret";  // a deleted suite's: the strictest
  e.algorithm_id = r.algorithm_id;
  e.algorithm = r.algorithm.value_or("(deleted)");
  e.algorithm_version = r.algorithm_version.value_or("");
  e.job_id = r.job_id;
  e.state = r.state;
  e.message = r.message;
  e.config = Json::parse(r.config, nullptr, false);
  if (e.config.is_discarded()) e.config = nullptr;
  e.result = parse_object(r.result);
  e.owner_id = r.owner_id;
  e.owner = r.owner.value_or("");
  e.created_at_ms = r.created_at_ms;
  e.finished_at_ms = r.finished_at_ms;
  return e;
}

}  // namespace

// ---- JSON ---------------------------------------------------------------------------

Json Suite::to_json(bool full) const {
  Json j = {{"id", id},
            {"name", name},
            {"version", version},
            {"description", description},
            {"dataset", dataset},
            {"input", input},
            {"level", level},
            {"template_name", template_name},
            {"annotations_file", annotations_file},
            {"annotations_bytes", annotations_bytes},
            {"thresholds", thresholds},
            {"created_by", created_by},
            {"created_at", time_text(created_at_ms)},
            {"updated_at", time_text(updated_at_ms)}};
  if (full) {
    j["template"] = template_text;
    j["frame_timeout_s"] = frame_timeout_s;
    j["fps"] = fps;
    j["max_frames"] = max_frames;
    j["runtime_limit_s"] = runtime_limit_s;
  }
  return j;
}

Json Algorithm::to_json() const {
  return {{"id", id},
          {"name", name},
          {"version", version},
          {"publisher", publisher},
          {"key_id", key_id},
          {"sha256", sha256},
          {"size", size},
          {"licence_required", licence_required},
          {"state", state},
          {"checks", check},
          {"message", message},
          {"uploaded_by", uploaded_by},
          {"created_at", time_text(created_at_ms)}};
}

Json Evaluation::to_json(bool full) const {
  const bool hidden = !full && suite_level != "open";
  Json r = result;
  if (hidden && !r.empty()) {
    Json red = redacted_report(r);
    if (r.contains("performance")) red["performance"] = round_numbers(r["performance"], 3);
    if (r.contains("errors") && r["errors"].is_object()) {
      Json errs = Json::object();
      for (const auto& [k, v] : r["errors"].items()) {
        if (k != "detail") errs[k] = round_numbers(v, 4);
      }
      red["errors"] = errs;
    }
    if (r.contains("thresholds")) red["thresholds"] = round_numbers(r["thresholds"], 4);
    if (r.contains("passed")) red["passed"] = r["passed"];
    r = std::move(red);
  } else if (r.contains("errors") && r["errors"].is_object() && !full) {
    r["errors"].erase("detail");
  }
  return {{"id", id},
          {"suite", suite},
          {"suite_version", suite_version},
          {"suite_level", suite_level},
          {"algorithm", algorithm},
          {"algorithm_version", algorithm_version},
          {"job_id", job_id},
          {"state", state},
          {"message", message},
          {"owner", owner},
          {"config", config},
          {"result", r.empty() ? Json() : r},
          {"full", !hidden},
          {"created_at", time_text(created_at_ms)},
          {"finished_at", finished_at_ms ? Json(time_text(*finished_at_ms)) : Json()}};
}

// ---- parsing ------------------------------------------------------------------------

Result<SuiteInput> parse_suite_input(const Json& body, bool update) {
  if (!body.is_object()) return Status::invalid_argument("a suite must be a JSON object");
  static const std::set<std::string> known = {
      "name",       "description",     "dataset", "input",      "template",       "annotations",
      "thresholds", "frame_timeout_s", "fps",     "max_frames", "runtime_limit_s"};
  for (const auto& [k, v] : body.items()) {
    if (!known.count(k)) {
      return bad(k,
                 "is unknown; a suite has: name, description, dataset, input, template, "
                 "annotations, thresholds, frame_timeout_s, fps, max_frames, runtime_limit_s");
    }
  }
  SuiteInput in;
  auto str = [&](const char* key, std::string& out, bool required, size_t max) -> Status {
    if (!body.contains(key)) {
      return required ? bad(key, "is required") : Status();
    }
    if (!body[key].is_string()) return bad(key, "must be a string");
    out = body[key].get<std::string>();
    if (out.size() > max) return bad(key, "is longer than " + std::to_string(max) + " bytes");
    return {};
  };
  JZ_RETURN_IF_ERROR(str("name", in.name, !update, 64));
  if (!update && !valid_name(in.name)) {
    return bad("name", "1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit");
  }
  JZ_RETURN_IF_ERROR(str("description", in.description, false, 2000));
  JZ_RETURN_IF_ERROR(str("dataset", in.dataset, !update, 200));
  JZ_RETURN_IF_ERROR(str("input", in.input, false, 1000));
  if (!in.input.empty() && !valid_relative(in.input)) {
    return bad("input", "must be a path inside the dataset (no leading '/', no '.' or '..')");
  }
  JZ_RETURN_IF_ERROR(str("template", in.template_text, !update, 1 << 20));
  if (!in.template_text.empty() || !update) {
    auto t = eval::parse_template(in.template_text, "template");
    if (!t.ok()) return bad("template", t.status().message());
    if (!t->builtin.empty()) {
      return bad("template",
                 "a built-in template reads COCO files; a suite's template reads the "
                 "algorithm's results (one JSON line a frame): write it out");
    }
    if (!t->predictions.id) {
      return bad("template",
                 "predictions.id is required: the algorithm's results are JSON lines (jizhan algo "
                 "run's), joined by their 'sample' (write `predictions: {id: sample}` and route "
                 "paths from the line, such as result.algorithm_data.target_count)");
    }
  }
  if (body.contains("annotations")) {
    const Json& a = body["annotations"];
    if (!a.is_object() || !a.contains("file") || !a["file"].is_string() || !a.contains("content") ||
        !a["content"].is_string() || a.size() != 2) {
      return bad("annotations", "must be {\"file\": NAME, \"content\": TEXT}");
    }
    in.annotations_file = a["file"].get<std::string>();
    bool ok = !in.annotations_file.empty() && in.annotations_file.size() <= 100 &&
              in.annotations_file[0] != '.';
    for (char c : in.annotations_file) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    }
    if (!ok || !annotation_extensions().count(extension_of(in.annotations_file))) {
      return bad("annotations.file",
                 "a file name of letters, digits, '.', '_' and '-' ending in .json, .jsonl, "
                 ".ndjson or .xml");
    }
    in.annotations = a["content"].get<std::string>();
  } else if (!update) {
    return bad("annotations", "is required: {\"file\": NAME, \"content\": TEXT}");
  }
  if (body.contains("thresholds")) {
    const Json& t = body["thresholds"];
    if (!t.is_array() || t.size() > 32) return bad("thresholds", "must be at most 32 strings");
    for (const auto& x : t) {
      if (!x.is_string()) return bad("thresholds", "must hold strings such as 'mAP >= 0.6'");
      auto th = parse_threshold(x.get<std::string>());
      if (!th.ok()) return bad("thresholds", th.status().message());
      in.thresholds.push_back(th->text);
    }
  }
  auto number = [&](const char* key, double lo, double hi, double& out) -> Status {
    if (!body.contains(key)) return {};
    if (!body[key].is_number() || body[key].get<double>() < lo || body[key].get<double>() > hi) {
      return bad(key,
                 "must be a number from " + json::dump(Json(lo)) + " to " + json::dump(Json(hi)));
    }
    out = body[key].get<double>();
    return {};
  };
  double timeout = 10, max_frames = 0, limit = 3600;
  JZ_RETURN_IF_ERROR(number("frame_timeout_s", 1, 600, timeout));
  JZ_RETURN_IF_ERROR(number("fps", 0, 1000, in.fps));
  JZ_RETURN_IF_ERROR(number("max_frames", 0, 1e9, max_frames));
  JZ_RETURN_IF_ERROR(number("runtime_limit_s", 60, 7 * 86400, limit));
  in.frame_timeout_s = static_cast<int64_t>(timeout);
  in.max_frames = static_cast<int64_t>(max_frames);
  in.runtime_limit_s = static_cast<int64_t>(limit);
  return in;
}

// ---- the service --------------------------------------------------------------------

AutotestService::AutotestService(store::Database& db, Clock& clock, IdGenerator& ids,
                                 jobs::JobStore& jobs, jobs::Datasets& datasets,
                                 jobs::Outputs& outputs, AutotestOptions options,
                                 std::shared_ptr<spdlog::logger> logger)
    : db_(db),
      clock_(clock),
      ids_(ids),
      jobs_(jobs),
      datasets_(datasets),
      outputs_(outputs),
      options_(std::move(options)),
      logger_(std::move(logger)) {}

AutotestService::~AutotestService() { stop(); }

std::string AutotestService::suite_dir(const std::string& suite_id, int64_t version) const {
  return options_.dir + "/suites/" + suite_id + "/" + std::to_string(version);
}
std::string AutotestService::algorithm_dir(const std::string& project_id, const std::string& name,
                                           const std::string& version) const {
  return options_.dir + "/algorithms/" + project_id + "/" + name + "/" + version;
}
std::string AutotestService::evaluation_dir(const std::string& id) const {
  return options_.dir + "/evaluations/" + id;
}

Result<Suite> AutotestService::write_suite(const std::string& project_id, const SuiteInput& in,
                                           const std::optional<Suite>& last,
                                           const std::string& actor) {
  Suite s;
  if (last) s = *last;
  s.project_id = project_id;
  if (!last) {
    s.id = ids_.next("suite_");
    s.name = in.name;
    s.version = 0;
    s.created_at_ms = clock_.now_unix_ms();
  }
  // What the input gives replaces; an update that leaves a field out keeps it.
  if (!last || !in.description.empty()) s.description = in.description;
  if (!in.dataset.empty()) s.dataset = in.dataset;
  if (!last || !in.input.empty()) s.input = in.input;
  if (!in.template_text.empty()) s.template_text = in.template_text;
  if (!last || !in.thresholds.empty()) s.thresholds = in.thresholds;
  s.frame_timeout_s = in.frame_timeout_s;
  s.fps = in.fps;
  s.max_frames = in.max_frames;
  s.runtime_limit_s = in.runtime_limit_s;
  auto d = datasets_.get(project_id, s.dataset);
  if (!d.ok()) {
    return Status::unprocessable("field 'dataset': no dataset '" + s.dataset +
                                 "' in this project (register or upload it first)");
  }
  s.level = d->security_level;
  auto t = eval::parse_template(s.template_text, "template");
  if (!t.ok()) return bad("template", t.status().message());
  s.template_name = t->name;
  s.version += 1;
  s.created_by = actor;
  s.updated_at_ms = clock_.now_unix_ms();
  // The annotations: this version's folder, from the input or the last version's file.
  const std::string dir = suite_dir(s.id, s.version);
  std::error_code ec;
  fs::remove_all(dir, ec);  // a version that failed half-way before
  fs::create_directories(dir, ec);
  if (ec) return Status::internal("cannot create " + dir + ": " + ec.message());
  std::string content;
  if (in.annotations) {
    if (static_cast<int64_t>(in.annotations->size()) > options_.max_annotations_bytes) {
      return bad("annotations",
                 "over " + std::to_string(options_.max_annotations_bytes >> 20) + " MiB");
    }
    s.annotations_file = in.annotations_file;
    content = *in.annotations;
  } else {
    JZ_ASSIGN_OR_RETURN(content, read_file(suite_dir(s.id, s.version - 1) + "/annotations" +
                                           extension_of(s.annotations_file)));
  }
  s.annotations_bytes = static_cast<int64_t>(content.size());
  JZ_RETURN_IF_ERROR(
      write_file(dir + "/annotations" + extension_of(s.annotations_file), content, 0600));
  const std::string spec = json::dump(suite_spec(s));
  Status stored = db_.transact([&](store::Conn& c) -> Status {
    if (!last) {
      auto w = c.exec(
          "INSERT INTO autotest_suites (id, project_id, name, version, created_by, "
          "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
          {s.id, project_id, s.name, s.version, actor, s.created_at_ms, s.updated_at_ms});
      if (!w.ok() && w.status().code() == Code::kAlreadyExists) {
        return Status::already_exists("a suite '" + s.name + "' exists in this project");
      }
      JZ_RETURN_IF_ERROR(w.status());
    } else {
      JZ_RETURN_IF_ERROR(c.exec("UPDATE autotest_suites SET version = ?, updated_at_ms = ? WHERE "
                                "id = ?",
                                {s.version, s.updated_at_ms, s.id})
                             .status());
    }
    return c
        .exec(
            "INSERT INTO autotest_suite_versions (suite_id, version, spec, created_by, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?)",
            {s.id, s.version, spec, actor, s.updated_at_ms})
        .status();
  });
  if (!stored.ok()) {
    fs::remove_all(dir, ec);
    if (!last) fs::remove_all(options_.dir + "/suites/" + s.id, ec);
    return stored;
  }
  return s;
}

Result<Suite> AutotestService::create_suite(const std::string& project_id, const SuiteInput& in,
                                            const std::string& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  return write_suite(project_id, in, std::nullopt, actor);
}

Result<Suite> AutotestService::update_suite(const std::string& project_id, const std::string& name,
                                            const SuiteInput& in, const std::string& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  JZ_ASSIGN_OR_RETURN(Suite last, suite(project_id, name));
  return write_suite(project_id, in, last, actor);
}

Result<Suite> AutotestService::suite(const std::string& project_id, const std::string& name,
                                     int64_t version) {
  Suite out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    const std::string which = version > 0 ? "v.version = ?" : "v.version = s.version";
    store::Params p{project_id, name};
    if (version > 0) p.emplace_back(version);
    JZ_ASSIGN_OR_RETURN(
        auto row,
        store::query_one(
            c, kSuiteRow, kSuiteSelect + " WHERE s.project_id = ? AND s.name = ? AND " + which, p,
            "no suite '" + name + "'" + (version > 0 ? " version " + std::to_string(version) : "") +
                " in this project"));
    out = suite_of(row);
    return {};
  }));
  return out;
}

Result<store::Page<Suite>> AutotestService::suites(const std::string& project_id,
                                                   const store::PageSpec& page) {
  store::Page<Suite> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql = kSuiteSelect + " WHERE s.project_id = ? AND v.version = s.version";
    store::Params p{project_id};
    if (!page.after.empty()) {
      sql += " AND s.name > ?";
      p.emplace_back(page.after);
    }
    sql += " ORDER BY s.name LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kSuiteRow, sql, p));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      out.items.push_back(suite_of(rows[i]));
    }
    if (rows.size() > static_cast<size_t>(limit)) out.next_after = out.items.back().name;
    return {};
  }));
  return out;
}

Result<std::vector<Suite>> AutotestService::suite_versions(const std::string& project_id,
                                                           const std::string& name) {
  std::vector<Suite> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        store::query_all(c, kSuiteRow,
                         kSuiteSelect + " WHERE s.project_id = ? AND s.name = ? ORDER BY "
                                        "v.version DESC LIMIT 1000",
                         {project_id, name}));
    for (const auto& r : rows) out.push_back(suite_of(r));
    return {};
  }));
  if (out.empty()) return Status::not_found("no suite '" + name + "' in this project");
  return out;
}

Status AutotestService::delete_suite(const std::string& project_id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  JZ_ASSIGN_OR_RETURN(Suite s, suite(project_id, name));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM autotest_evaluations WHERE "
                                           "suite_id = ? AND state IN ('queued', 'running', "
                                           "'scoring')",
                                           {s.id}));
    if (rows[0].integer("n") > 0) {
      return Status::failed_precondition("suite '" + name +
                                         "' has evaluations that have not ended; cancel them or "
                                         "wait for them");
    }
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM autotest_suite_versions WHERE suite_id = ?", {s.id}).status());
    return c.exec("DELETE FROM autotest_suites WHERE id = ?", {s.id}).status();
  }));
  std::error_code ec;
  fs::remove_all(options_.dir + "/suites/" + s.id, ec);
  return {};
}

// ---- algorithms ---------------------------------------------------------------------

Result<Algorithm> AutotestService::upload_algorithm(const std::string& project_id,
                                                    std::string_view bytes,
                                                    const std::string& actor) {
  if (bytes.empty()) {
    return Status::invalid_argument("the body must be a .jzpkg package (jizhan algo pack)");
  }
  if (static_cast<int64_t>(bytes.size()) > options_.max_package_bytes) {
    return Status::invalid_argument("the package is over " +
                                    std::to_string(options_.max_package_bytes >> 20) + " MiB");
  }
  auto info = sdk::inspect_package_bytes(bytes, {});
  if (!info.ok()) {
    return Status::invalid_argument("not a valid package: " + info.status().message());
  }
  const sdk::Manifest& m = info->manifest;
  const std::string sha = sha256_hex(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto existing = algorithm(project_id, m.name, m.version);
  if (existing.ok()) {
    if (existing->sha256 == sha) return *existing;
    return Status::already_exists(m.name + " " + m.version +
                                  " was uploaded before with other contents; give the new "
                                  "package a new version");
  }
  const std::string dir = algorithm_dir(project_id, m.name, m.version);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status::internal("cannot create " + dir + ": " + ec.message());
  // Jobs read it as their sandbox user: the folders up to it are passable, it is readable.
  for (fs::path p = dir; p.string().size() > options_.dir.size(); p = p.parent_path()) {
    ::chmod(p.c_str(), 0755);
  }
  ::chmod(options_.dir.c_str(), 0711);
  ::chmod((options_.dir + "/algorithms").c_str(), 0711);
  JZ_RETURN_IF_ERROR(write_file(dir + "/package.jzpkg", bytes, 0644));
  Algorithm a;
  a.id = ids_.next("algo_");
  a.project_id = project_id;
  a.name = m.name;
  a.version = m.version;
  a.publisher = info->signature.publisher;
  a.key_id = info->signature.key_id;
  a.sha256 = sha;
  a.size = static_cast<int64_t>(bytes.size());
  a.licence_required = m.licence_required;
  a.state = "checking";
  a.check = Json::array();
  a.uploaded_by = actor;
  a.created_at_ms = clock_.now_unix_ms();
  const Json info_json = {{"publisher", a.publisher},
                          {"key_id", a.key_id},
                          {"sha256", a.sha256},
                          {"size", a.size},
                          {"licence_required", a.licence_required}};
  Status stored = db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO autotest_algorithms (id, project_id, name, version, info, state, "
            "check_result, message, uploaded_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, "
            "'[]', '', ?, ?)",
            {a.id, project_id, a.name, a.version, json::dump(info_json), a.state, actor,
             a.created_at_ms})
        .status();
  });
  if (!stored.ok()) {
    fs::remove_all(dir, ec);
    return stored;
  }
  wake();
  return a;
}

Result<Algorithm> AutotestService::algorithm(const std::string& project_id, const std::string& name,
                                             const std::string& version) {
  Algorithm out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto row, store::query_one(c, kAlgorithmRow,
                                   "SELECT " + kAlgorithmRow.columns() +
                                       " FROM autotest_algorithms WHERE project_id = ? AND name = "
                                       "? AND version = ?",
                                   {project_id, name, version},
                                   "no algorithm " + name + " " + version + " in this project"));
    out = algorithm_of(row);
    return {};
  }));
  return out;
}

Result<store::Page<Algorithm>> AutotestService::algorithms(const std::string& project_id,
                                                           const store::PageSpec& page) {
  store::Page<Algorithm> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql =
        "SELECT " + kAlgorithmRow.columns() + " FROM autotest_algorithms WHERE project_id = ?";
    store::Params p{project_id};
    if (!page.after.empty()) {
      sql += " AND id < ?";
      p.emplace_back(page.after);
    }
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kAlgorithmRow, sql, p));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      out.items.push_back(algorithm_of(rows[i]));
    }
    if (rows.size() > static_cast<size_t>(limit)) out.next_after = out.items.back().id;
    return {};
  }));
  return out;
}

Status AutotestService::delete_algorithm(const std::string& project_id, const std::string& name,
                                         const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  JZ_ASSIGN_OR_RETURN(Algorithm a, algorithm(project_id, name, version));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM autotest_evaluations WHERE "
                                           "algorithm_id = ? AND state IN ('queued', 'running', "
                                           "'scoring')",
                                           {a.id}));
    if (rows[0].integer("n") > 0) {
      return Status::failed_precondition(name + " " + version +
                                         " has evaluations that have not ended; cancel them or "
                                         "wait for them");
    }
    return c.exec("DELETE FROM autotest_algorithms WHERE id = ?", {a.id}).status();
  }));
  std::error_code ec;
  fs::remove_all(algorithm_dir(project_id, name, version), ec);
  return {};
}

Status AutotestService::check_algorithm(const Algorithm& a) {
  const std::string pkg = algorithm_dir(a.project_id, a.name, a.version) + "/package.jzpkg";
  SubprocessOptions o;
  o.argv = {options_.algo_binary, "algo", "check", pkg, "-o", "json", "--allow-untrusted"};
  if (!options_.check_sandbox) o.argv.push_back("--no-sandbox");
  o.timeout = std::chrono::minutes(5);
  std::string state = "failed", message;
  Json checks = Json::array();
  auto r = run_subprocess(o);
  if (!r.ok()) {
    message = "the checks could not run: " + r.status().message();
  } else {
    Json out = Json::parse(r->out, nullptr, false);
    if (out.is_object() && out.contains("checks")) out = out["checks"];
    if (out.is_array()) checks = out;
    int failed = 0;
    for (const auto& c : checks) failed += !c.value("passed", false);
    if (r->timed_out) {
      message = "the checks did not end within 5 minutes";
    } else if (r->success() && !checks.empty() && failed == 0) {
      state = "ready";
      message = std::to_string(checks.size()) + " checks passed";
    } else if (!checks.empty()) {
      message = std::to_string(failed) + " of " + std::to_string(checks.size()) + " checks failed";
    } else {
      std::string err = r->err.substr(0, 2000);
      message =
          "the checks failed: " + (err.empty() ? "exit " + std::to_string(r->exit_code) : err);
    }
  }
  return db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "UPDATE autotest_algorithms SET state = ?, check_result = ?, message = ? WHERE id = "
            "? AND state = 'checking'",
            {state, json::dump(checks), message, a.id})
        .status();
  });
}

// ---- evaluations --------------------------------------------------------------------

Result<Evaluation> AutotestService::evaluate(const std::string& project_id,
                                             const std::string& project, const EvaluationRequest& r,
                                             const std::string& user_id,
                                             const std::string& username) {
  auto s = suite(project_id, r.suite, r.suite_version);
  if (!s.ok()) return Status::unprocessable("field 'suite': " + s.status().message());
  auto a = algorithm(project_id, r.algorithm, r.version);
  if (!a.ok()) return Status::unprocessable("field 'algorithm': " + a.status().message());
  if (a->state == "checking") {
    return Status::failed_precondition(a->name + " " + a->version +
                                       " is still being checked; try again in a moment");
  }
  if (a->state != "ready") {
    return Status::failed_precondition(a->name + " " + a->version +
                                       " did not pass its checks: " + a->message);
  }
  if (!r.config.is_null() && !r.config.is_object()) {
    return bad("config", "must be a JSON object merged over the package's default config");
  }
  std::string input = "/data/" + s->dataset;
  if (!s->input.empty()) input += "/" + s->input;
  Json command = {"/opt/jizhan/bin/jizhan-algo",
                  "algo",
                  "run",
                  "--package",
                  "/algorithm/package.jzpkg",
                  "--allow-untrusted",
                  "--no-sandbox",
                  "--input",
                  input,
                  "--out",
                  "/output/results.jsonl",
                  "--summary",
                  "/output/summary.json",
                  "--timeout",
                  std::to_string(s->frame_timeout_s) + "s"};
  if (s->fps > 0) command.insert(command.end(), {"--fps", json::dump(Json(s->fps))});
  if (s->max_frames > 0)
    command.insert(command.end(), {"--max-frames", std::to_string(s->max_frames)});
  if (r.config.is_object()) command.insert(command.end(), {"--config", json::dump(r.config)});
  std::string name = "eval-" + s->name + "-" + a->name + "-" + a->version;
  if (name.size() > 100) name.resize(100);
  Json body = {
      {"name", name},
      {"kind", "eval"},
      {"command", command},
      {"datasets", {s->dataset}},
      {"resources",
       r.resources.is_object() ? r.resources : Json{{"cpu", 1}, {"memory_mib", 4096}, {"gpus", 0}}},
      {"runtime_limit_s", s->runtime_limit_s},
      {"restart_policy", "never"},
      {"algorithm", {{"name", a->name}, {"version", a->version}}}};
  auto spec = jobs::parse_job_request(body);
  if (!spec.ok()) return Status::invalid_argument(spec.status().message());
  if (!datasets_.get(project_id, s->dataset).ok()) {
    return Status::failed_precondition("the suite's dataset '" + s->dataset +
                                       "' no longer exists in this project");
  }
  JZ_ASSIGN_OR_RETURN(auto job,
                      jobs_.create(project_id, project, user_id, username, *spec, username));
  Evaluation e;
  e.id = ids_.next("eval_");
  e.project_id = project_id;
  e.suite_id = s->id;
  e.suite = s->name;
  e.suite_version = s->version;
  e.suite_level = s->level;
  e.algorithm_id = a->id;
  e.algorithm = a->name;
  e.algorithm_version = a->version;
  e.job_id = job.id;
  e.state = "queued";
  e.config = r.config;
  e.owner_id = user_id;
  e.owner = username;
  e.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO autotest_evaluations (id, project_id, suite_id, suite_version, "
            "algorithm_id, job_id, state, message, config, result, owner_id, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, '{}', ?, ?)",
            {e.id, project_id, e.suite_id, e.suite_version, e.algorithm_id, e.job_id, e.state,
             json::dump(e.config), user_id, e.created_at_ms})
        .status();
  }));
  wake();
  return e;
}

Result<Evaluation> AutotestService::evaluation(const std::string& project_id,
                                               const std::string& id) {
  Evaluation out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto row, store::query_one(c, kEvaluationRow,
                                   kEvaluationSelect + " WHERE e.project_id = ? AND e.id = ?",
                                   {project_id, id}, "no evaluation " + id + " in this project"));
    out = evaluation_of(row);
    return {};
  }));
  return out;
}

Result<store::Page<Evaluation>> AutotestService::evaluations(const std::string& project_id,
                                                             const EvaluationFilter& f,
                                                             const store::PageSpec& page) {
  store::Page<Evaluation> out;
  const int limit = std::max(1, page.limit);
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    std::string sql = kEvaluationSelect + " WHERE e.project_id = ?";
    store::Params p{project_id};
    if (!f.suite.empty()) {
      sql += " AND s.name = ?";
      p.emplace_back(f.suite);
    }
    if (!f.algorithm.empty()) {
      sql += " AND a.name = ?";
      p.emplace_back(f.algorithm);
    }
    if (!f.owner_id.empty()) {
      sql += " AND e.owner_id = ?";
      p.emplace_back(f.owner_id);
    }
    if (!f.state.empty()) {
      sql += " AND e.state = ?";
      p.emplace_back(f.state);
    }
    if (!page.after.empty()) {
      sql += " AND e.id < ?";
      p.emplace_back(page.after);
    }
    sql += " ORDER BY e.id DESC LIMIT " + std::to_string(limit + 1);
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kEvaluationRow, sql, p));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      out.items.push_back(evaluation_of(rows[i]));
    }
    if (rows.size() > static_cast<size_t>(limit)) out.next_after = out.items.back().id;
    return {};
  }));
  return out;
}

Result<std::string> AutotestService::report_file(const Evaluation& e,
                                                 const std::string& name) const {
  if (name != "report.json" && name != "report.html" && name != "samples.csv") {
    return Status::not_found("an evaluation has report.json, report.html and samples.csv");
  }
  const std::string path = evaluation_dir(e.id) + "/" + name;
  if (!fs::exists(path))
    return Status::not_found("evaluation " + e.id + " has no " + name + " (yet)");
  return path;
}

Result<std::string> AutotestService::report_html(const Evaluation& e, bool full) const {
  if (full) {
    JZ_ASSIGN_OR_RETURN(std::string path, report_file(e, "report.html"));
    return read_file(path);
  }
  return eval::html_report(e.to_json(false)["result"]);
}

Status AutotestService::finish(Evaluation& e, const std::string& state, const std::string& message,
                               const Json& result) {
  e.state = state;
  e.message = message;
  e.result = result;
  e.finished_at_ms = clock_.now_unix_ms();
  return db_.with_conn([&](store::Conn& c) -> Status {
    return c
        .exec(
            "UPDATE autotest_evaluations SET state = ?, message = ?, result = ?, "
            "finished_at_ms = ? WHERE id = ?",
            {state, message, json::dump(result), *e.finished_at_ms, e.id})
        .status();
  });
}

std::string AutotestService::annotations_path(const Suite& s) const {
  return suite_dir(s.id, s.version) + "/annotations" + extension_of(s.annotations_file);
}

Result<std::string> AutotestService::results_path(const Evaluation& e) {
  JZ_ASSIGN_OR_RETURN(auto out, outputs_.get(e.project_id, e.job_id));
  const std::string path = out.dir + "/results.jsonl";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::not_found("evaluation " + e.id + " left no results");
  }
  return path;
}

Status AutotestService::score(Evaluation& e) {
  auto out = outputs_.get(e.project_id, e.job_id);
  if (!out.ok()) return Status::unavailable("the job's outputs are not recorded yet");
  JZ_ASSIGN_OR_RETURN(Suite s, suite(e.project_id, e.suite, e.suite_version));
  const std::string results = out->dir + "/results.jsonl";
  struct stat st {};
  // The job wrote these: regular files only, never through a link, and bounded.
  if (::lstat(results.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return finish(e, "error", "the evaluation left no results (see its job's log)",
                  Json{{"errors", {{"detail", "no regular file results.jsonl in the outputs"}}}});
  }
  if (st.st_size > (int64_t{4} << 30)) {
    return finish(e, "error", "the results are over 4 GiB", Json::object());
  }
  const std::string summary_path = out->dir + "/summary.json";
  RunSummary summary;
  if (::lstat(summary_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20)) {
    auto text = read_file(summary_path);
    auto parsed = text.ok() ? parse_run_summary(*text) : Result<RunSummary>(text.status());
    if (!parsed.ok()) {
      return finish(e, "error", "the run's summary could not be read",
                    Json{{"errors", {{"detail", parsed.status().message()}}}});
    }
    summary = *parsed;
  } else {
    return finish(e, "error", "the evaluation left no summary (see its job's log)", Json::object());
  }
  auto t = eval::parse_template(s.template_text, "template");
  if (!t.ok()) return finish(e, "error", "the suite's template: " + t.status().message(), {});
  const std::string annotations = annotations_path(s);
  const std::string dir = evaluation_dir(e.id);
  auto report = eval::run_evaluation(*t, results, annotations, dir);
  if (!report.ok()) {
    // The message may quote the results, which the algorithm wrote: kept for data owners.
    return finish(e, "error", "the results could not be scored",
                  Json{{"errors", {{"detail", report.status().message().substr(0, 4000)}}}});
  }
  const Json& rep = report->report;
  Json errors = {{"count", summary.errors},
                 {"by_kind", summary.errors_by_kind},
                 {"frames", summary.frames},
                 {"restarts", summary.restarts},
                 {"rate", summary.frames > 0 ? static_cast<double>(summary.errors) /
                                                   static_cast<double>(summary.frames)
                                             : 0.0}};
  Json perf = summary.performance;
  if (gpu_memory_) {
    auto job = jobs_.get(e.job_id);
    const auto mib = job.ok() ? gpu_memory_(*job) : std::nullopt;
    if (mib) perf["gpu_memory_mib"] = std::round(*mib);
  }
  Json extra = perf;
  extra["errors"] = summary.errors;
  extra["error_rate"] = errors["rate"];
  std::vector<Threshold> thresholds;
  for (const auto& text : s.thresholds) {
    auto th = parse_threshold(text);
    if (th.ok()) thresholds.push_back(*th);
  }
  const auto judged =
      judge(thresholds, threshold_view(rep.value("metrics", Json::object()), extra));
  bool passed = true;
  for (const auto& j : judged) passed = passed && j.passed;
  Json result = {{"metrics", rep.value("metrics", Json::object())},
                 {"samples", rep.value("samples", Json::object())},
                 {"task", rep.value("task", "")},
                 {"template_name", rep.value("template_name", "")},
                 {"performance", perf},
                 {"errors", errors},
                 {"thresholds", thresholds_json(judged)},
                 {"passed", passed}};
  if (rep.contains("worst_samples")) result["worst_samples"] = rep["worst_samples"];
  std::string message = passed ? "every threshold passed" : "";
  if (!passed) {
    for (const auto& j : judged) {
      if (j.passed) continue;
      message +=
          (message.empty() ? "" : "; ") + j.threshold + " failed (" +
          (j.value ? json::dump(round_numbers(Json(*j.value), 4)) : std::string("no such metric")) +
          ")";
    }
  }
  if (thresholds.empty()) message = "scored (the suite has no thresholds)";
  return finish(e, passed ? "passed" : "failed", message, result);
}

void AutotestService::tick() {
  // Packages waiting for their checks, one at a time (a check may take minutes).
  std::vector<Algorithm> checking;
  Status listed = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(c, kAlgorithmRow,
                                         "SELECT " + kAlgorithmRow.columns() +
                                             " FROM autotest_algorithms WHERE state = 'checking' "
                                             "ORDER BY id LIMIT 1"));
    for (const auto& r : rows) checking.push_back(algorithm_of(r));
    return {};
  });
  if (!listed.ok()) logger_->warn("autotest: {}", listed.message());
  for (const auto& a : checking) {
    if (Status s = check_algorithm(a); !s.ok())
      logger_->warn("autotest: checking {}: {}", a.id, s.message());
  }
  std::vector<Evaluation> active;
  listed = db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        store::query_all(c, kEvaluationRow,
                         kEvaluationSelect + " WHERE e.state IN ('queued', 'running', 'scoring') "
                                             "ORDER BY e.id LIMIT 1000"));
    for (const auto& r : rows) active.push_back(evaluation_of(r));
    return {};
  });
  if (!listed.ok()) logger_->warn("autotest: {}", listed.message());
  busy_ = !active.empty() || !checking.empty();
  for (auto& e : active) {
    auto job = jobs_.get(e.job_id);
    if (!job.ok()) {
      (void)finish(e, "error", "its job is gone", Json::object());
      continue;
    }
    const std::string& js = job->state;
    Status s;
    if (js == "running" && e.state == "queued") {
      s = db_.with_conn([&](store::Conn& c) -> Status {
        return c
            .exec(
                "UPDATE autotest_evaluations SET state = 'running' WHERE id = ? AND state = "
                "'queued'",
                {e.id})
            .status();
      });
    } else if (js == "succeeded") {
      s = score(e);
      if (s.code() == Code::kUnavailable) continue;  // its outputs come at the next tick
    } else if (js == "failed") {
      const bool timed_out = job->reason == "DeadlineExceeded";
      s = finish(e, "error",
                 timed_out ? "the evaluation ran past its time limit (" +
                                 std::to_string(job->spec.runtime_limit_s) + " s)"
                           : "the evaluation job failed (" + job->message + ")",
                 Json::object());
    } else if (js == "cancelled") {
      s = finish(e, "cancelled", "its job was cancelled", Json::object());
    } else if (js == "lost") {
      s = finish(e, "error", "its job was lost (" + job->message + ")", Json::object());
    }
    if (!s.ok()) logger_->warn("autotest: evaluation {}: {}", e.id, s.message());
  }
}

void AutotestService::loop() {
  while (!stop_) {
    tick();
    if (also_) also_();
    // While evaluations run, their ends are noticed within 50 ms (the verdict is what a
    // user waits for); otherwise at the tick.
    std::unique_lock<std::mutex> lock(wake_mu_);
    const auto wait =
        busy_ ? std::min(options_.tick, std::chrono::milliseconds(50)) : options_.tick;
    wake_cv_.wait_for(lock, wait, [this] { return woken_ || stop_.load(); });
    woken_ = false;
  }
}

Status AutotestService::start() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return Status::internal("cannot create " + options_.dir + ": " + ec.message());
  ::chmod(options_.dir.c_str(), 0711);
  thread_ = std::thread([this] { loop(); });
  return {};
}

void AutotestService::stop() {
  stop_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

void AutotestService::wake() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  woken_ = true;
  wake_cv_.notify_all();
}

}  // namespace jz::autotest
