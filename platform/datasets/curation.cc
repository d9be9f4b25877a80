#include "platform/datasets/curation.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "core/files.h"
#include "platform/jobs/spec.h"
#include "store/rows.h"

namespace jz::datasets {

namespace {

// The report comes out of a sandbox that decoded untrusted images: it is read as hostile.
constexpr int64_t kMaxReportBytes = int64_t{1} << 30;
constexpr size_t kMaxReason = 500;

const store::RowMap<Curation> kCuration{{"id", &Curation::id},
                                        {"project_id", &Curation::project_id},
                                        {"dataset_id", &Curation::dataset_id},
                                        {"number", &Curation::number},
                                        {"job_id", &Curation::job_id},
                                        {"state", &Curation::state},
                                        {"message", &Curation::message},
                                        {"applied_version", &Curation::applied_version},
                                        {"created_by", &Curation::created_by},
                                        {"created_at_ms", &Curation::created_at_ms},
                                        {"finished_at_ms", &Curation::finished_at_ms}};
const std::string kCurationSelect =
    "SELECT " + kCuration.columns("c.") +
    ", c.options, c.summary, d.name AS dataset FROM dataset_curations c JOIN datasets d ON "
    "d.id = c.dataset_id";

const store::RowMap<Proposal> kProposal{{"path", &Proposal::path},
                                        {"kind", &Proposal::kind},
                                        {"reason", &Proposal::reason},
                                        {"keep", &Proposal::keep},
                                        {"distance", &Proposal::distance},
                                        {"decision", &Proposal::decision},
                                        {"decided_by", &Proposal::decided_by},
                                        {"decided_at_ms", &Proposal::decided_at_ms}};

Result<CurationOptions> options_of(const Json& j) { return parse_curation_options(j); }

Curation curation_of(const store::Row& row) {
  Curation c;
  kCuration.read(row, c);
  c.dataset = row.text(row.index_of("dataset"));
  auto o = json::parse(row.text(row.index_of("options")));
  if (o.ok()) {
    auto parsed = options_of(*o);
    if (parsed.ok()) c.options = *parsed;
  }
  auto s = json::parse(row.text(row.index_of("summary")));
  c.summary = s.ok() && s->is_object() ? *s : Json::object();
  return c;
}

std::string clip(std::string s) {
  if (s.size() > kMaxReason) s.resize(kMaxReason);
  return s;
}

}  // namespace

Json CurationOptions::to_json() const {
  return {{"radius", radius},
          {"min_sharpness", min_sharpness},
          {"min_brightness", min_brightness},
          {"max_brightness", max_brightness},
          {"min_width", min_width},
          {"min_height", min_height},
          {"brisque", brisque},
          {"max_brisque", max_brisque}};
}

Result<CurationOptions> parse_curation_options(const Json& body, const CurationOptions& base) {
  CurationOptions o = base;
  if (body.is_null()) return o;
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  JZ_RETURN_IF_ERROR(
      json::only_fields(body, {"radius", "min_sharpness", "min_brightness", "max_brightness",
                               "min_width", "min_height", "brisque", "max_brisque"}));
  auto number = [&](const char* field, double lo, double hi, auto& into) -> Status {
    if (!body.contains(field)) return {};
    const Json& v = body[field];
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
      auto text = [](double x) { return std::to_string(static_cast<int64_t>(x)); };
      return Status::invalid_argument(std::string("field '") + field + "' must be a number from " +
                                      text(lo) + " to " + text(hi));
    }
    into = static_cast<std::remove_reference_t<decltype(into)>>(v.get<double>());
    return {};
  };
  JZ_RETURN_IF_ERROR(number("radius", 0, 32, o.radius));
  JZ_RETURN_IF_ERROR(number("min_sharpness", 0, 1e6, o.min_sharpness));
  JZ_RETURN_IF_ERROR(number("min_brightness", 0, 255, o.min_brightness));
  JZ_RETURN_IF_ERROR(number("max_brightness", 0, 255, o.max_brightness));
  JZ_RETURN_IF_ERROR(number("min_width", 0, 100000, o.min_width));
  JZ_RETURN_IF_ERROR(number("min_height", 0, 100000, o.min_height));
  JZ_RETURN_IF_ERROR(number("max_brisque", 0, 200, o.max_brisque));
  if (body.contains("brisque")) {
    if (!body["brisque"].is_boolean()) {
      return Status::invalid_argument("field 'brisque' must be true or false");
    }
    o.brisque = body["brisque"];
  }
  if (o.min_brightness > o.max_brightness) {
    return Status::invalid_argument("field 'min_brightness' is above 'max_brightness'");
  }
  return o;
}

CurationService::CurationService(store::Database& db, Clock& clock, IdGenerator& ids,
                                 jobs::JobStore& jobs, jobs::Outputs& outputs,
                                 DatasetVersions& versions, std::shared_ptr<spdlog::logger> logger,
                                 std::chrono::milliseconds tick)
    : db_(db),
      clock_(clock),
      ids_(ids),
      jobs_(jobs),
      outputs_(outputs),
      versions_(versions),
      logger_(std::move(logger)),
      ticker_(tick) {}

CurationService::~CurationService() { stop(); }

Json ImageFacts::to_json() const {
  return {{"algorithm", algorithm}, {"phash", phash},         {"width", width},
          {"height", height},       {"sharpness", sharpness}, {"brightness", brightness},
          {"problems", problems}};
}

Result<std::map<std::string, ImageFacts>> CurationService::facts(
    const std::string& project_id, const std::set<std::string>& shas) {
  std::map<std::string, ImageFacts> out;
  if (shas.empty()) return out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    // In slices, so a page of files is one or two queries whatever the project holds.
    std::vector<std::string> list(shas.begin(), shas.end());
    for (size_t i = 0; i < list.size(); i += 500) {
      std::string marks;
      store::Params params = {project_id};
      for (size_t k = i; k < std::min(list.size(), i + 500); ++k) {
        marks += marks.empty() ? "?" : ", ?";
        params.emplace_back(list[k]);
      }
      JZ_ASSIGN_OR_RETURN(auto rows,
                          conn.query("SELECT sha256, algorithm, phash, width, height, sharpness, "
                                     "brightness, problems FROM dataset_facts WHERE project_id = ? "
                                     "AND sha256 IN (" +
                                         marks + ") ORDER BY measured_at_ms",
                                     params));
      for (const auto& r : rows) {
        ImageFacts f;
        f.algorithm = r.text(1);
        f.phash = r.text(2);
        f.width = r.integer(3);
        f.height = r.integer(4);
        f.sharpness = std::strtod(r.text(5).c_str(), nullptr);
        f.brightness = std::strtod(r.text(6).c_str(), nullptr);
        f.problems = r.text(7);
        out[r.text(0)] = std::move(f);  // the newest measure wins
      }
    }
    return {};
  }));
  return out;
}

Result<std::map<std::string, std::string>> CurationService::duplicate_groups(
    const std::string& project_id, const std::string& dataset, int64_t number) {
  std::map<std::string, std::string> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto newest,
        conn.query("SELECT c.id FROM dataset_curations c JOIN datasets d ON d.id = c.dataset_id "
                   "WHERE c.project_id = ? AND d.name = ? AND c.number = ? AND c.state IN "
                   "('review', 'applied') ORDER BY c.created_at_ms DESC, c.id DESC LIMIT 1",
                   {project_id, dataset, number}));
    if (newest.empty()) return {};
    JZ_ASSIGN_OR_RETURN(auto rows, conn.query("SELECT path, keep FROM dataset_proposals WHERE "
                                              "curation_id = ? AND kind = 'duplicate'",
                                              {newest.at(0).text(0)}));
    for (const auto& r : rows) {
      out[r.text(0)] = r.text(1);
      out[r.text(1)] = r.text(1);
    }
    return {};
  }));
  return out;
}

Result<CurationDefaults> CurationService::defaults(const std::string& project_id,
                                                   const std::string& dataset) {
  CurationDefaults out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        conn.query("SELECT c.options, c.updated_by, c.updated_at_ms FROM "
                                   "dataset_curation_defaults c JOIN datasets d ON d.id = "
                                   "c.dataset_id WHERE d.project_id = ? AND d.name = ?",
                                   {project_id, dataset}));
    if (rows.empty()) return {};
    auto stored = json::parse(rows.at(0).text(0));
    if (!stored.ok())
      return Status::internal("the stored thresholds of '" + dataset + "' are damaged");
    JZ_ASSIGN_OR_RETURN(out.options, parse_curation_options(*stored));
    out.updated_by = rows.at(0).text(1);
    out.updated_at_ms = rows.at(0).integer(2);
    return {};
  }));
  return out;
}

Result<CurationDefaults> CurationService::set_defaults(const std::string& project_id,
                                                       const std::string& dataset,
                                                       const CurationOptions& o,
                                                       const std::string& actor) {
  CurationDefaults out{o, actor, clock_.now_unix_ms()};
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, conn.query("SELECT id FROM datasets WHERE project_id = ? AND "
                                              "name = ?",
                                              {project_id, dataset}));
    if (rows.empty()) return Status::not_found("no dataset '" + dataset + "' in this project");
    const std::string id = rows.at(0).text(0);
    JZ_RETURN_IF_ERROR(
        conn.exec("DELETE FROM dataset_curation_defaults WHERE dataset_id = ?", {id}).status());
    return conn
        .exec(
            "INSERT INTO dataset_curation_defaults (dataset_id, project_id, options, "
            "updated_by, updated_at_ms) VALUES (?, ?, ?, ?, ?)",
            {id, project_id, json::dump(o.to_json()), actor, out.updated_at_ms})
        .status();
  }));
  return out;
}

Result<Curation> CurationService::start(const std::string& project_id, const std::string& project,
                                        const std::string& dataset, int64_t number,
                                        const CurationOptions& o, const std::string& user_id,
                                        const std::string& username) {
  JZ_ASSIGN_OR_RETURN(Version v, versions_.get(project_id, dataset, number));
  const std::string mounted = dataset + "@" + std::to_string(v.number);
  const auto num = [](double x) { return json::dump(Json(x)); };
  Json command = {"/opt/jizhan/bin/jizhan-algo",
                  "data",
                  "curate",
                  "/data/" + mounted,
                  "--out",
                  "/output/curation.json",
                  "--radius",
                  std::to_string(o.radius),
                  "--min-sharpness",
                  num(o.min_sharpness),
                  "--min-brightness",
                  num(o.min_brightness),
                  "--max-brightness",
                  num(o.max_brightness),
                  "--min-width",
                  std::to_string(o.min_width),
                  "--min-height",
                  std::to_string(o.min_height),
                  "--max-brisque",
                  num(o.max_brisque)};
  if (o.brisque) command.push_back("--brisque");
  JZ_ASSIGN_OR_RETURN(
      auto job, queue_service_job(jobs_, project_id, project, user_id, username,
                                  "curate-" + dataset + "-v" + std::to_string(v.number), command,
                                  mounted, 2048, int64_t{24} * 3600));
  Curation c;
  c.id = ids_.next("cur_");
  c.project_id = project_id;
  c.dataset_id = v.dataset_id;
  c.dataset = dataset;
  c.number = v.number;
  c.job_id = job.id;
  c.state = "queued";
  c.options = o;
  c.created_by = username;
  c.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "INSERT INTO dataset_curations (id, project_id, dataset_id, number, job_id, state, "
            "message, options, summary, applied_version, created_by, created_at_ms) VALUES (?, ?, "
            "?, ?, ?, 'queued', '', ?, '{}', 0, ?, ?)",
            {c.id, project_id, c.dataset_id, c.number, c.job_id, json::dump(o.to_json()), username,
             c.created_at_ms})
        .status();
  }));
  wake();
  return c;
}

Result<Curation> CurationService::get(const std::string& project_id, const std::string& id) {
  std::optional<Curation> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        conn.query(kCurationSelect + " WHERE c.project_id = ? AND c.id = ?", {project_id, id}));
    if (!rows.empty()) out = curation_of(rows.at(0));
    return {};
  }));
  if (!out) return Status::not_found("no curation " + id + " in this project");
  return *out;
}

Result<std::vector<Curation>> CurationService::list(const std::string& project_id,
                                                    const std::string& dataset) {
  std::vector<Curation> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, conn.query(kCurationSelect +
                                  " WHERE c.project_id = ? AND d.name = ? ORDER BY c.created_at_ms "
                                  "DESC, c.id DESC LIMIT 100",
                              {project_id, dataset}));
    for (const auto& r : rows) out.push_back(curation_of(r));
    return {};
  }));
  return out;
}

Result<std::vector<Proposal>> CurationService::proposals(const Curation& c,
                                                         const std::string& decision) {
  std::vector<Proposal> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    std::string sql =
        "SELECT " + kProposal.columns() + " FROM dataset_proposals WHERE curation_id = ?";
    store::Params params = {c.id};
    if (!decision.empty()) {
      sql += " AND decision = ?";
      params.emplace_back(decision);
    }
    JZ_ASSIGN_OR_RETURN(out, store::query_all(conn, kProposal, sql + " ORDER BY path", params));
    return {};
  }));
  return out;
}

Status CurationService::refresh_summary(store::Conn& conn, const std::string& id) {
  JZ_ASSIGN_OR_RETURN(auto rows,
                      conn.query("SELECT summary FROM dataset_curations WHERE id = ?", {id}));
  if (rows.empty()) return {};
  auto s = json::parse(rows.at(0).text(0));
  Json summary = s.ok() && s->is_object() ? *s : Json::object();
  JZ_ASSIGN_OR_RETURN(auto counts, conn.query("SELECT decision, COUNT(*) AS n FROM "
                                              "dataset_proposals WHERE curation_id = ? GROUP BY "
                                              "decision",
                                              {id}));
  summary["pending"] = summary["confirmed"] = summary["rejected"] = 0;
  int64_t total = 0;
  for (const auto& r : counts) {
    summary[r.text("decision")] = r.integer("n");
    total += r.integer("n");
  }
  summary["proposals"] = total;
  return conn
      .exec("UPDATE dataset_curations SET summary = ? WHERE id = ?", {json::dump(summary), id})
      .status();
}

Status CurationService::decide(const std::string& project_id, const std::string& id,
                               const std::map<std::string, std::string>& decisions,
                               const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Curation c, get(project_id, id));
  if (c.state != "review") {
    return Status::failed_precondition("curation " + id + " is " + c.state +
                                       "; decisions are taken while it is in review");
  }
  for (const auto& [path, d] : decisions) {
    if (d != "confirmed" && d != "rejected" && d != "pending") {
      return Status::invalid_argument("the decision on '" + path +
                                      "' must be confirmed, rejected or pending");
    }
  }
  const int64_t now = clock_.now_unix_ms();
  return db_.transact([&](store::Conn& conn) -> Status {
    for (const auto& [path, d] : decisions) {
      JZ_ASSIGN_OR_RETURN(
          int64_t n,
          conn.exec(
              "UPDATE dataset_proposals SET decision = ?, decided_by = ?, decided_at_ms = ? "
              "WHERE curation_id = ? AND path = ?",
              {d, d == "pending" ? std::string() : actor,
               d == "pending" ? store::Value(std::monostate{}) : store::Value(now), id, path}));
      if (n == 0) {
        return Status::invalid_argument("'" + path + "' is not a proposal of curation " + id);
      }
    }
    return refresh_summary(conn, id);
  });
}

Result<Version> CurationService::apply(const std::string& project_id, const std::string& id,
                                       const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Curation c, get(project_id, id));
  if (c.state != "review") {
    return Status::failed_precondition("curation " + id + " is " + c.state +
                                       "; only one in review is applied");
  }
  JZ_ASSIGN_OR_RETURN(auto confirmed, proposals(c, "confirmed"));
  if (confirmed.empty()) {
    return Status::failed_precondition(
        "no proposal of curation " + id +
        " is confirmed: confirm the removals first (nothing is removed without that)");
  }
  Changes ch;
  ch.message = "curation " + id + " of version " + std::to_string(c.number) + ": " +
               std::to_string(confirmed.size()) + " removed after review";
  for (const auto& p : confirmed) ch.remove.insert(p.path);
  JZ_ASSIGN_OR_RETURN(Version v, versions_.derive(project_id, c.dataset, c.number, ch, actor));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "UPDATE dataset_curations SET state = 'applied', applied_version = ? WHERE id = ? AND "
            "state = 'review'",
            {v.number, id})
        .status();
  }));
  return v;
}

Status CurationService::finish(const Curation& c, const std::string& state,
                               const std::string& message) {
  return db_.transact([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "UPDATE dataset_curations SET state = ?, message = ?, finished_at_ms = ? WHERE id = ? "
            "AND state IN ('queued', 'running')",
            {state, message, clock_.now_unix_ms(), c.id})
        .status();
  });
}

Status CurationService::ingest(Curation& c, const std::string& report_path) {
  struct stat st {};
  if (::lstat(report_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return finish(c, "failed", "the curation job left no report (curation.json)");
  }
  if (st.st_size > kMaxReportBytes) {
    return finish(c, "failed", "the curation report is larger than 1 GiB");
  }
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(report_path));
  auto report = json::parse(text, "the curation report");
  if (!report.ok() || !report->is_object() || !(*report)["files"].is_array() ||
      !(*report)["groups"].is_array()) {
    return finish(c, "failed", "the curation report is not one `jizhan-algo data curate` writes");
  }
  // Only the version's own files: a path the version does not hold is ignored.
  JZ_ASSIGN_OR_RETURN(Version v, versions_.get(c.project_id, c.dataset, c.number));
  JZ_ASSIGN_OR_RETURN(auto files, versions_.files(v, {.limit = SIZE_MAX}));
  std::map<std::string, std::string> sha_of;
  for (const auto& f : files) sha_of[f.path] = f.sha256;
  const std::string algorithm = json::string_or(*report, "algorithm", "") + "/" +
                                std::to_string((*report).value("algorithm_version", 0));
  std::map<std::string, Proposal> found;
  int64_t flagged = 0, groups = 0;
  struct Fact {
    std::string sha, phash;
    int64_t width = 0, height = 0;
    double sharpness = 0, brightness = 0;
    std::string problems;
  };
  std::vector<Fact> facts;
  for (const auto& f : (*report)["files"]) {
    if (!f.is_object()) continue;
    const std::string path = json::string_or(f, "path");
    auto known = sha_of.find(path);
    if (known == sha_of.end()) continue;
    std::string problems;
    if (f.contains("problems") && f["problems"].is_array()) {
      for (const auto& p : f["problems"]) {
        if (p.is_string()) problems += (problems.empty() ? "" : "; ") + p.get<std::string>();
      }
    }
    Fact fact{known->second, json::string_or(f, "phash").substr(0, 16)};
    if (f.value("width", Json()).is_number_integer()) fact.width = f["width"];
    if (f.value("height", Json()).is_number_integer()) fact.height = f["height"];
    if (f.value("sharpness", Json()).is_number()) fact.sharpness = f["sharpness"];
    if (f.value("brightness", Json()).is_number()) fact.brightness = f["brightness"];
    fact.problems = clip(problems);
    facts.push_back(fact);
    if (!problems.empty()) {
      ++flagged;
      found[path] = Proposal{path, "quality", clip(problems), "", 0, "pending", "", {}};
    }
  }
  for (const auto& g : (*report)["groups"]) {
    if (!g.is_object() || !g["members"].is_array()) continue;
    const std::string keep = json::string_or(g, "keep");
    if (!sha_of.count(keep)) continue;
    ++groups;
    for (const auto& m : g["members"]) {
      if (!m.is_object()) continue;
      const std::string path = json::string_or(m, "path");
      if (!sha_of.count(path) || path == keep) continue;
      const bool exact = sha_of[path] == sha_of[keep];
      const int distance = m.value("distance", Json()).is_number_integer()
                               ? std::clamp(m["distance"].get<int>(), 0, 64)
                               : 0;
      std::string reason =
          exact ? "exact duplicate of " + keep
                : "near-duplicate of " + keep + " (" + std::to_string(distance) + " bits)";
      Proposal& p = found[path];
      if (!p.reason.empty()) reason += "; " + p.reason;
      p = Proposal{path, "duplicate", clip(reason), keep, distance, "pending", "", {}};
    }
  }
  Json summary = {{"images", static_cast<int64_t>(sha_of.size())},
                  {"flagged", flagged},
                  {"groups", groups},
                  {"algorithm", clip(algorithm)}};
  return db_.transact([&](store::Conn& conn) -> Status {
    JZ_RETURN_IF_ERROR(
        conn.exec("DELETE FROM dataset_proposals WHERE curation_id = ?", {c.id}).status());
    for (const auto& [path, p] : found) {
      JZ_RETURN_IF_ERROR(conn.exec("INSERT INTO dataset_proposals (curation_id, path, kind, "
                                   "reason, keep, distance, decision, decided_by) VALUES (?, ?, ?, "
                                   "?, ?, ?, 'pending', '')",
                                   {c.id, path, p.kind, p.reason, p.keep, p.distance})
                             .status());
    }
    for (const auto& f : facts) {
      JZ_RETURN_IF_ERROR(conn.exec("DELETE FROM dataset_facts WHERE project_id = ? AND sha256 = ? "
                                   "AND algorithm = ?",
                                   {c.project_id, f.sha, algorithm})
                             .status());
      JZ_RETURN_IF_ERROR(
          conn.exec("INSERT INTO dataset_facts (project_id, sha256, algorithm, phash, width, "
                    "height, sharpness, brightness, problems, measured_at_ms) VALUES (?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?)",
                    {c.project_id, f.sha, algorithm, f.phash, f.width, f.height, f.sharpness,
                     f.brightness, f.problems, clock_.now_unix_ms()})
              .status());
    }
    JZ_RETURN_IF_ERROR(conn.exec("UPDATE dataset_curations SET state = 'review', summary = ?, "
                                 "finished_at_ms = ? WHERE id = ?",
                                 {json::dump(summary), clock_.now_unix_ms(), c.id})
                           .status());
    return refresh_summary(conn, c.id);
  });
}

void CurationService::tick() {
  std::vector<Curation> active;
  Status listed = db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, conn.query(kCurationSelect + " WHERE c.state IN ('queued', 'running') ORDER BY "
                                                "c.id LIMIT 1000"));
    for (const auto& r : rows) active.push_back(curation_of(r));
    return {};
  });
  if (!listed.ok()) logger_->warn("curation: {}", listed.message());
  for (auto& c : active) {
    const JobTurn turn =
        job_turn(jobs_, outputs_, c.project_id, c.job_id, c.state == "queued", "the curation job");
    Status s;
    if (turn.kind == JobTurn::kStarted) {
      s = mark_running(db_, "dataset_curations", c.id);
    } else if (turn.kind == JobTurn::kSucceeded) {
      s = ingest(c, turn.output_dir + "/curation.json");
    } else if (turn.kind == JobTurn::kEnded) {
      s = finish(c, turn.state, turn.message);
    }
    if (!s.ok()) logger_->warn("curation {}: {}", c.id, s.message());
  }
}

Status CurationService::start_thread() {
  ticker_.start([this] { tick(); });
  return {};
}

void CurationService::stop() { ticker_.stop(); }

void CurationService::wake() { ticker_.wake(); }

}  // namespace jz::datasets
