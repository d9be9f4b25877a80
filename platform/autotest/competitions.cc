#include "platform/autotest/competitions.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/files.h"
#include "core/hash.h"
#include "eval/csv_diff.h"
#include "eval/engine.h"
#include "eval/template.h"
#include "platform/autotest/report.h"
#include "store/rows.h"

namespace jz::autotest {

namespace fs = std::filesystem;

namespace {

std::string time_text(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

Status bad(const std::string& field, const std::string& why) {
  return Status::invalid_argument("field '" + field + "': " + why);
}

bool valid_path(const std::string& p) {
  if (p.empty() || p.size() > 200 || p.rfind("result.", 0) != 0) return false;
  for (const auto& part : split_dotted(p)) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    }
  }
  return true;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string value_text(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

Json json_field(const Json& obj, const char* key, const Json& fallback) {
  auto it = obj.find(key);
  return it == obj.end() ? fallback : *it;
}

struct CompetitionRow {
  std::string id, project_id, name, spec, state, created_by;
  int64_t created_at_ms = 0;
};
const store::RowMap<CompetitionRow> kCompetitionRow{
    {"id", &CompetitionRow::id},
    {"project_id", &CompetitionRow::project_id},
    {"name", &CompetitionRow::name},
    {"spec", &CompetitionRow::spec},
    {"state", &CompetitionRow::state},
    {"created_by", &CompetitionRow::created_by},
    {"created_at_ms", &CompetitionRow::created_at_ms}};

Json spec_of(const Competition& c) {
  Json cols = Json::array();
  for (const auto& col : c.columns) cols.push_back({{"name", col.name}, {"path", col.path}});
  return {{"project", c.project},
          {"title", c.title},
          {"public_suite", c.public_suite},
          {"hidden_suite", c.hidden_suite},
          {"rank_by", c.rank_by},
          {"higher_is_better", c.higher_is_better},
          {"opens_at_ms", c.opens_at_ms},
          {"closes_at_ms", c.closes_at_ms},
          {"daily_limit", c.daily_limit},
          {"verify_top", c.verify_top},
          {"columns", cols},
          {"tolerances", c.tolerances},
          {"teams", c.teams}};
}

Competition competition_of(const CompetitionRow& r) {
  Competition c;
  c.id = r.id;
  c.project_id = r.project_id;
  c.name = r.name;
  c.state = r.state;
  c.created_by = r.created_by;
  c.created_at_ms = r.created_at_ms;
  Json s = Json::parse(r.spec, nullptr, false);
  if (!s.is_object()) return c;
  c.project = json::string_or(s, "project");
  c.title = json::string_or(s, "title");
  c.public_suite = json::string_or(s, "public_suite");
  c.hidden_suite = json::string_or(s, "hidden_suite");
  c.rank_by = json::string_or(s, "rank_by", "accuracy");
  c.higher_is_better = s.value("higher_is_better", true);
  c.opens_at_ms = s.value("opens_at_ms", int64_t{0});
  c.closes_at_ms = s.value("closes_at_ms", int64_t{0});
  c.daily_limit = s.value("daily_limit", int64_t{5});
  c.verify_top = s.value("verify_top", int64_t{3});
  const Json columns = json_field(s, "columns", Json::array());
  const Json tolerances = json_field(s, "tolerances", Json::object());
  const Json teams = json_field(s, "teams", Json::object());
  for (const auto& col : columns) {
    c.columns.push_back({json::string_or(col, "name"), json::string_or(col, "path")});
  }
  for (const auto& [k, v] : tolerances.items()) {
    if (v.is_number()) c.tolerances[k] = v.get<double>();
  }
  for (const auto& [team, users] : teams.items()) {
    for (const auto& u : users) {
      if (u.is_string()) c.teams[team].push_back(u.get<std::string>());
    }
  }
  return c;
}

struct SubmissionRow {
  std::string id, competition_id, team, user_id, username, split, algorithm, version, csv_sha256,
      state, message, metrics;
  std::optional<std::string> score;
  int64_t created_at_ms = 0;
};
const store::RowMap<SubmissionRow> kSubmissionRow{
    {"id", &SubmissionRow::id},
    {"competition_id", &SubmissionRow::competition_id},
    {"team", &SubmissionRow::team},
    {"user_id", &SubmissionRow::user_id},
    {"username", &SubmissionRow::username},
    {"split", &SubmissionRow::split},
    {"algorithm", &SubmissionRow::algorithm},
    {"version", &SubmissionRow::version},
    {"csv_sha256", &SubmissionRow::csv_sha256},
    {"state", &SubmissionRow::state},
    {"message", &SubmissionRow::message},
    {"metrics", &SubmissionRow::metrics},
    {"score", &SubmissionRow::score},
    {"created_at_ms", &SubmissionRow::created_at_ms}};

Submission submission_of(const SubmissionRow& r) {
  Submission s;
  s.id = r.id;
  s.competition_id = r.competition_id;
  s.team = r.team;
  s.user_id = r.user_id;
  s.username = r.username;
  s.split = r.split;
  s.algorithm = r.algorithm;
  s.version = r.version;
  s.csv_sha256 = r.csv_sha256;
  s.state = r.state;
  s.message = r.message;
  if (r.score && !r.score->empty()) s.score = std::stod(*r.score);
  s.metrics = Json::parse(r.metrics, nullptr, false);
  if (s.metrics.is_discarded()) s.metrics = Json::object();
  s.created_at_ms = r.created_at_ms;
  return s;
}

struct VerdictRow {
  std::string id, competition_id, team, submission_id, evaluation_id, state, document;
  int64_t created_at_ms = 0;
};
const store::RowMap<VerdictRow> kVerdictRow{{"id", &VerdictRow::id},
                                            {"competition_id", &VerdictRow::competition_id},
                                            {"team", &VerdictRow::team},
                                            {"submission_id", &VerdictRow::submission_id},
                                            {"evaluation_id", &VerdictRow::evaluation_id},
                                            {"state", &VerdictRow::state},
                                            {"document", &VerdictRow::document},
                                            {"created_at_ms", &VerdictRow::created_at_ms}};

Verdict verdict_of(const VerdictRow& r) {
  Verdict v;
  v.id = r.id;
  v.competition_id = r.competition_id;
  v.team = r.team;
  v.submission_id = r.submission_id;
  v.evaluation_id = r.evaluation_id;
  v.state = r.state;
  v.document = Json::parse(r.document, nullptr, false);
  if (v.document.is_discarded()) v.document = nullptr;
  v.created_at_ms = r.created_at_ms;
  return v;
}

// A result line's value at a dotted path; null when absent.
Json value_at(const Json& line, const std::string& path) {
  const Json* cur = &line;
  for (const auto& part : split_dotted(path)) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return *cur;
}

}  // namespace

// ---- CSV ----------------------------------------------------------------------------

Result<std::string> results_csv(std::string_view results_jsonl,
                                const std::vector<CsvColumn>& columns) {
  std::map<std::string, std::vector<std::string>> rows;
  size_t line_no = 0, start = 0;
  while (start < results_jsonl.size()) {
    size_t end = results_jsonl.find('\n', start);
    if (end == std::string_view::npos) end = results_jsonl.size();
    ++line_no;
    const std::string_view line = results_jsonl.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("sample") || !j["sample"].is_string()) {
      return Status::invalid_argument("results line " + std::to_string(line_no) +
                                      ": not a result line with a sample");
    }
    std::vector<std::string> row;
    row.reserve(columns.size());
    for (const auto& c : columns) row.push_back(value_text(value_at(j, c.path)));
    rows[j["sample"].get<std::string>()] = std::move(row);
  }
  std::string out = "sample";
  for (const auto& c : columns) out += "," + csv_field(c.name);
  out += "\n";
  for (const auto& [sample, row] : rows) {
    out += csv_field(sample);
    for (const auto& v : row) out += "," + csv_field(v);
    out += "\n";
  }
  return out;
}

Result<std::string> csv_predictions(const Csv& csv, const std::vector<CsvColumn>& columns) {
  const int key = csv.column("sample");
  if (key < 0) return Status::invalid_argument("the CSV has no 'sample' column");
  std::vector<int> at;
  for (const auto& c : columns) {
    const int i = csv.column(c.name);
    if (i < 0) return Status::invalid_argument("the CSV has no '" + c.name + "' column");
    at.push_back(i);
  }
  std::string out;
  std::set<std::string> seen;
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    const auto& row = csv.rows[r];
    const std::string where =
        "CSV line " + std::to_string(r < csv.row_lines.size() ? csv.row_lines[r] : r + 2);
    if (row.size() != csv.header.size()) {
      return Status::invalid_argument(where + ": " + std::to_string(row.size()) +
                                      " fields, the header has " +
                                      std::to_string(csv.header.size()));
    }
    const std::string& sample = row[static_cast<size_t>(key)];
    if (sample.empty()) return Status::invalid_argument(where + ": an empty sample");
    if (!seen.insert(sample).second) {
      return Status::invalid_argument(where + ": sample '" + sample + "' twice");
    }
    Json line = {{"sample", sample}};
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::string& text = row[static_cast<size_t>(at[c])];
      if (text.empty()) continue;
      Json value = text;
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (end == text.c_str() + text.size() && std::isfinite(d))
        value = Json::parse(text, nullptr, false);
      if (value.is_discarded()) value = d;
      Json* cur = &line;
      const auto parts = split_dotted(columns[c].path);
      for (size_t p = 0; p + 1 < parts.size(); ++p) {
        Json& next = (*cur)[parts[p]];
        if (!next.is_object()) next = Json::object();
        cur = &next;
      }
      (*cur)[parts.back()] = value;
    }
    out += line.dump() + "\n";
  }
  return out;
}

// ---- JSON ---------------------------------------------------------------------------

Json Competition::to_json() const {
  Json j = spec_of(*this);
  j.erase("opens_at_ms");
  j.erase("closes_at_ms");
  j.erase("project");
  j["id"] = id;
  j["name"] = name;
  j["opens_at"] = time_text(opens_at_ms);
  j["closes_at"] = time_text(closes_at_ms);
  j["state"] = state;
  j["created_by"] = created_by;
  j["created_at"] = time_text(created_at_ms);
  return j;
}

std::string Competition::team_of(const std::string& username) const {
  for (const auto& [team, users] : teams) {
    if (std::find(users.begin(), users.end(), username) != users.end()) return team;
  }
  return "";
}

Json Submission::to_json(bool with_score) const {
  return {{"id", id},
          {"team", team},
          {"user", username},
          {"split", split},
          {"algorithm", algorithm},
          {"version", version},
          {"csv_sha256", csv_sha256},
          {"state", state},
          {"message", message},
          {"score", with_score && score ? Json(*score) : Json()},
          {"created_at", time_text(created_at_ms)}};
}

Json Verdict::to_json() const {
  return {{"id", id},
          {"team", team},
          {"submission", submission_id},
          {"evaluation", evaluation_id},
          {"state", state},
          {"document", document},
          {"created_at", time_text(created_at_ms)}};
}

Result<Competition> parse_competition(const Json& body, const std::optional<Competition>& base) {
  if (!body.is_object()) return Status::invalid_argument("a competition must be a JSON object");
  static const std::set<std::string> known = {
      "name",     "title",     "public_suite", "hidden_suite", "rank_by", "higher_is_better",
      "opens_at", "closes_at", "daily_limit",  "verify_top",   "columns", "tolerances",
      "teams"};
  for (const auto& [k, v] : body.items()) {
    if (!known.count(k)) {
      return bad(k,
                 "is unknown; a competition has: name, title, public_suite, hidden_suite, "
                 "rank_by, higher_is_better, opens_at, closes_at, daily_limit, verify_top, "
                 "columns, tolerances, teams");
    }
  }
  Competition c = base.value_or(Competition{});
  const bool update = base.has_value();
  auto str = [&](const char* key, std::string& out, bool required) -> Status {
    if (!body.contains(key)) return required && !update ? bad(key, "is required") : Status();
    if (update &&
        (std::string(key) == "name" || std::string(key).find("suite") != std::string::npos ||
         std::string(key) == "rank_by")) {
      return bad(key, "is kept for the competition's life");
    }
    if (!body[key].is_string() || body[key].get<std::string>().size() > 200) {
      return bad(key, "must be a string of at most 200 bytes");
    }
    out = body[key].get<std::string>();
    return {};
  };
  JZ_RETURN_IF_ERROR(str("name", c.name, true));
  if (!valid_name(c.name)) {
    return bad("name", "1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit");
  }
  JZ_RETURN_IF_ERROR(str("title", c.title, false));
  JZ_RETURN_IF_ERROR(str("public_suite", c.public_suite, true));
  JZ_RETURN_IF_ERROR(str("hidden_suite", c.hidden_suite, true));
  JZ_RETURN_IF_ERROR(str("rank_by", c.rank_by, false));
  if (body.contains("higher_is_better")) {
    if (!body["higher_is_better"].is_boolean())
      return bad("higher_is_better", "must be true or false");
    c.higher_is_better = body["higher_is_better"].get<bool>();
  }
  for (auto [key, slot] :
       {std::pair{"opens_at", &c.opens_at_ms}, std::pair{"closes_at", &c.closes_at_ms}}) {
    if (!body.contains(key)) {
      if (!update) return bad(key, "is required (RFC 3339, such as 2027-03-01T00:00:00Z)");
      continue;
    }
    auto t = body[key].is_string()
                 ? parse_rfc3339(body[key].get<std::string>())
                 : Result<Clock::WallTime>(Status::invalid_argument("not a string"));
    if (!t.ok()) return bad(key, "must be an RFC 3339 time: " + t.status().message());
    *slot = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
  }
  if (c.closes_at_ms <= c.opens_at_ms) return bad("closes_at", "must be after opens_at");
  for (auto [key, slot, hi] : {std::tuple{"daily_limit", &c.daily_limit, int64_t{1000}},
                               std::tuple{"verify_top", &c.verify_top, int64_t{100}}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_number_integer() || body[key].get<int64_t>() < 1 ||
        body[key].get<int64_t>() > hi) {
      return bad(key, "must be a whole number from 1 to " + std::to_string(hi));
    }
    *slot = body[key].get<int64_t>();
  }
  if (body.contains("columns")) {
    if (update) return bad("columns", "is kept for the competition's life");
    const Json& cols = body["columns"];
    if (!cols.is_array() || cols.empty() || cols.size() > 32) {
      return bad("columns", "must be 1 to 32 of {\"name\": COLUMN, \"path\": result.PATH}");
    }
    std::set<std::string> names = {"sample"};
    for (const auto& col : cols) {
      const std::string n = col.is_object() ? json::string_or(col, "name") : "";
      const std::string p = col.is_object() ? json::string_or(col, "path") : "";
      if (n.empty() || n.size() > 64 || !names.insert(n).second) {
        return bad("columns", "each needs a name of its own (not 'sample')");
      }
      if (!valid_path(p)) {
        return bad("columns", "column '" + n +
                                  "': the path must be dotted keys from the result line, "
                                  "such as result.algorithm_data.target_count");
      }
      c.columns.push_back({n, p});
    }
  } else if (!update) {
    return bad("columns", "is required: the results CSV's columns");
  }
  if (body.contains("tolerances")) {
    const Json& t = body["tolerances"];
    if (!t.is_object()) return bad("tolerances", "must map columns to numbers");
    c.tolerances.clear();
    for (const auto& [k, v] : t.items()) {
      if (!v.is_number() || v.get<double>() < 0)
        return bad("tolerances", "'" + k + "' must be a number from 0");
      c.tolerances[k] = v.get<double>();
    }
  }
  if (body.contains("teams")) {
    const Json& t = body["teams"];
    if (!t.is_object() || t.empty() || t.size() > 1000)
      return bad("teams", "must map team names to user names");
    c.teams.clear();
    std::set<std::string> everyone;
    for (const auto& [team, users] : t.items()) {
      if (team.empty() || team.size() > 64 || !users.is_array() || users.empty()) {
        return bad("teams", "team '" + team + "' needs a name and at least one user");
      }
      for (const auto& u : users) {
        if (!u.is_string() || !everyone.insert(u.get<std::string>()).second) {
          return bad("teams", "a user is in one team at most ('" +
                                  (u.is_string() ? u.get<std::string>() : "?") + "')");
        }
        c.teams[team].push_back(u.get<std::string>());
      }
    }
  } else if (!update) {
    return bad("teams", "is required: {\"TEAM\": [\"USER\", ...]}");
  }
  return c;
}

// ---- the service --------------------------------------------------------------------

CompetitionService::CompetitionService(store::Database& db, Clock& clock, IdGenerator& ids,
                                       AutotestService& tests, std::string dir,
                                       std::shared_ptr<spdlog::logger> logger)
    : db_(db),
      clock_(clock),
      ids_(ids),
      tests_(tests),
      dir_(std::move(dir)),
      logger_(std::move(logger)) {}

Status CompetitionService::open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::internal("cannot create " + dir_ + ": " + ec.message());
  const std::string prefix = dir_ + "/verdict";
  if (!fs::exists(prefix + ".key")) {
    JZ_RETURN_IF_ERROR(sdk::write_key_pair(sdk::generate_signing_key("jizhan-verdicts"), prefix));
  }
  JZ_ASSIGN_OR_RETURN(key_, sdk::read_signing_key(prefix + ".key"));
  return {};
}

Json CompetitionService::public_key() const { return sdk::public_key_json(key_.pub); }

Status CompetitionService::write(const Competition& c, bool fresh) {
  return db_.with_conn([&](store::Conn& conn) -> Status {
    if (fresh) {
      auto w = conn.exec(
          "INSERT INTO autotest_competitions (id, project_id, name, spec, state, created_by, "
          "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
          {c.id, c.project_id, c.name, json::dump(spec_of(c)), c.state, c.created_by,
           c.created_at_ms});
      if (!w.ok() && w.status().code() == Code::kAlreadyExists) {
        return Status::already_exists("a competition '" + c.name + "' exists in this project");
      }
      return w.status();
    }
    return conn
        .exec("UPDATE autotest_competitions SET spec = ?, state = ? WHERE id = ?",
              {json::dump(spec_of(c)), c.state, c.id})
        .status();
  });
}

Result<Competition> CompetitionService::create(const std::string& project_id,
                                               const std::string& project, const Json& body,
                                               const std::string& actor) {
  JZ_ASSIGN_OR_RETURN(Competition c, parse_competition(body, std::nullopt));
  for (const auto& s : {c.public_suite, c.hidden_suite}) {
    auto suite = tests_.suite(project_id, s);
    if (!suite.ok()) return Status::unprocessable("no suite '" + s + "' in this project");
  }
  c.id = ids_.next("comp_");
  c.project_id = project_id;
  c.project = project;
  c.state = "open";
  c.created_by = actor;
  c.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(write(c, true));
  return c;
}

Result<Competition> CompetitionService::get(const std::string& project_id,
                                            const std::string& name) {
  Competition out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto row,
        store::query_one(c, kCompetitionRow,
                         "SELECT " + kCompetitionRow.columns() +
                             " FROM autotest_competitions WHERE "
                             "project_id = ? AND name = ?",
                         {project_id, name}, "no competition '" + name + "' in this project"));
    out = competition_of(row);
    return {};
  }));
  return out;
}

Result<Competition> CompetitionService::update(const std::string& project_id,
                                               const std::string& name, const Json& body) {
  std::lock_guard<std::mutex> lock(mu_);
  JZ_ASSIGN_OR_RETURN(Competition c, get(project_id, name));
  if (c.state != "open")
    return Status::failed_precondition("competition '" + name + "' has closed");
  JZ_ASSIGN_OR_RETURN(Competition changed, parse_competition(body, c));
  JZ_RETURN_IF_ERROR(write(changed, false));
  return changed;
}

Result<std::vector<Competition>> CompetitionService::list(const std::string& project_id) {
  std::vector<Competition> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(c, kCompetitionRow,
                                                    "SELECT " + kCompetitionRow.columns() +
                                                        " FROM autotest_competitions WHERE "
                                                        "project_id = ? ORDER BY name LIMIT 1000",
                                                    {project_id}));
    for (const auto& r : rows) out.push_back(competition_of(r));
    return {};
  }));
  return out;
}

std::string CompetitionService::submission_csv(const Competition& c, const std::string& id) const {
  return dir_ + "/" + c.id + "/" + id + ".csv";
}

Result<Submission> CompetitionService::submit(const std::string& project_id,
                                              const std::string& name, const std::string& user_id,
                                              const std::string& username, const std::string& split,
                                              const std::string& algorithm,
                                              const std::string& version,
                                              const std::string& csv_text) {
  std::lock_guard<std::mutex> lock(mu_);
  JZ_ASSIGN_OR_RETURN(Competition c, get(project_id, name));
  const int64_t now = clock_.now_unix_ms();
  if (now < c.opens_at_ms) {
    return Status::failed_precondition("competition '" + name + "' opens at " +
                                       time_text(c.opens_at_ms));
  }
  if (now >= c.closes_at_ms || c.state != "open") {
    return Status::failed_precondition("competition '" + name + "' closed at " +
                                       time_text(c.closes_at_ms));
  }
  const std::string team = c.team_of(username);
  if (team.empty()) {
    return Status::permission_denied("you are in no team of competition '" + name + "'");
  }
  if (split != "public" && split != "hidden") return bad("split", "must be public or hidden");
  auto a = tests_.algorithm(project_id, algorithm, version);
  if (!a.ok()) return Status::unprocessable("field 'algorithm': " + a.status().message());
  if (a->state != "ready") {
    return Status::failed_precondition(algorithm + " " + version + " has not passed its checks (" +
                                       a->state + ")");
  }
  // The team's submissions since midnight UTC.
  const int64_t day = now - now % (int64_t{86400} * 1000);
  int64_t today = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        conn.query("SELECT COUNT(*) AS n FROM autotest_submissions WHERE "
                                   "competition_id = ? AND team = ? AND created_at_ms >= ?",
                                   {c.id, team, day}));
    today = rows[0].integer("n");
    return {};
  }));
  if (today >= c.daily_limit) {
    return Status::resource_exhausted("team " + team + " has made its " +
                                      std::to_string(c.daily_limit) +
                                      " submissions of the day; the next one is possible after " +
                                      time_text(day + int64_t{86400} * 1000));
  }
  if (csv_text.size() > (size_t{64} << 20)) return bad("csv", "over 64 MiB");
  auto csv = parse_csv(csv_text, "csv");
  if (!csv.ok()) return bad("csv", csv.status().message());
  JZ_ASSIGN_OR_RETURN(std::string predictions, csv_predictions(*csv, c.columns));
  Submission s;
  s.id = ids_.next("sub_");
  s.competition_id = c.id;
  s.team = team;
  s.user_id = user_id;
  s.username = username;
  s.split = split;
  s.algorithm = algorithm;
  s.version = version;
  s.csv_sha256 = sha256_hex(csv_text);
  s.created_at_ms = now;
  // Scored at once against the split's annotations.
  const std::string dir = dir_ + "/" + c.id + "/" + s.id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  JZ_RETURN_IF_ERROR(write_file(submission_csv(c, s.id), csv_text, 0600));
  JZ_RETURN_IF_ERROR(write_file(dir + "/predictions.jsonl", predictions, 0600));
  JZ_ASSIGN_OR_RETURN(
      Suite suite, tests_.suite(project_id, split == "public" ? c.public_suite : c.hidden_suite));
  auto t = eval::parse_template(suite.template_text, "template");
  auto report = t.ok() ? eval::run_evaluation(*t, dir + "/predictions.jsonl",
                                              tests_.annotations_path(suite), dir + "/report")
                       : Result<eval::EvalOutput>(t.status());
  if (report.ok()) {
    s.metrics = report->report.value("metrics", Json::object());
    s.score = metric_value(s.metrics, c.rank_by);
    s.state = s.score ? "scored" : "error";
    s.message = s.score ? "" : "the report has no metric '" + c.rank_by + "'";
  } else {
    s.state = "error";
    s.message = "the CSV could not be scored";
    s.metrics = Json::object();
  }
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    return conn
        .exec(
            "INSERT INTO autotest_submissions (id, competition_id, team, user_id, username, split, "
            "algorithm, version, csv_sha256, state, message, metrics, score, created_at_ms) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {s.id, c.id, team, user_id, username, split, algorithm, version, s.csv_sha256, s.state,
             s.message, json::dump(s.metrics),
             s.score ? store::Value(json::dump(Json(*s.score))) : store::Value(std::monostate{}),
             now})
        .status();
  }));
  return s;
}

Result<std::vector<Submission>> CompetitionService::submissions(
    const std::string& project_id, const std::string& name,
    const std::optional<std::string>& team) {
  JZ_ASSIGN_OR_RETURN(Competition c, get(project_id, name));
  std::vector<Submission> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    std::string sql = "SELECT " + kSubmissionRow.columns() +
                      " FROM autotest_submissions WHERE competition_id = ?";
    store::Params p{c.id};
    if (team) {
      sql += " AND team = ?";
      p.emplace_back(*team);
    }
    sql += " ORDER BY created_at_ms, id LIMIT 10000";
    JZ_ASSIGN_OR_RETURN(auto rows, store::query_all(conn, kSubmissionRow, sql, p));
    for (const auto& r : rows) out.push_back(submission_of(r));
    return {};
  }));
  return out;
}

Result<Json> CompetitionService::board(const std::string& project_id, const std::string& name,
                                       const std::string& split, bool organiser) {
  JZ_ASSIGN_OR_RETURN(Competition c, get(project_id, name));
  if (split != "public" && split != "hidden") {
    return Status::invalid_argument("query parameter 'split' must be public or hidden");
  }
  const bool closed = clock_.now_unix_ms() >= c.closes_at_ms;
  if (split == "hidden" && !closed && !organiser) {
    return Status::failed_precondition(
        "the hidden split's board is shown when the competition closes, at " +
        time_text(c.closes_at_ms));
  }
  JZ_ASSIGN_OR_RETURN(auto all, submissions(project_id, name, std::nullopt));
  // Each team's best: a higher (or lower) score, then the earlier submission.
  std::map<std::string, Submission> best;
  auto better = [&](const Submission& a, const Submission& b) {
    if (*a.score != *b.score) return c.higher_is_better ? *a.score > *b.score : *a.score < *b.score;
    return a.created_at_ms < b.created_at_ms || (a.created_at_ms == b.created_at_ms && a.id < b.id);
  };
  for (const auto& s : all) {
    if (s.split != split || !s.score) continue;
    auto it = best.find(s.team);
    if (it == best.end() || better(s, it->second)) best[s.team] = s;
  }
  std::vector<Submission> ranked;
  ranked.reserve(best.size());
  for (auto& [team, s] : best) ranked.push_back(s);
  std::sort(ranked.begin(), ranked.end(), better);
  JZ_ASSIGN_OR_RETURN(auto vs, verdicts(project_id, name));
  Json items = Json::array();
  for (size_t i = 0; i < ranked.size(); ++i) {
    Json row = {{"rank", i + 1},
                {"team", ranked[i].team},
                {"score", *ranked[i].score},
                {"submission", ranked[i].id},
                {"algorithm", ranked[i].algorithm},
                {"version", ranked[i].version},
                {"submitted_at", time_text(ranked[i].created_at_ms)},
                {"verdict", nullptr}};
    for (const auto& v : vs) {
      if (v.submission_id == ranked[i].id && v.document.is_object()) {
        Json p = Json::parse(json::string_or(v.document, "payload"), nullptr, false);
        if (p.is_object()) row["verdict"] = json::string_or(p, "verdict");
      } else if (v.submission_id == ranked[i].id) {
        row["verdict"] = "re-running";
      }
    }
    items.push_back(row);
  }
  return Json{{"competition", c.name},
              {"split", split},
              {"rank_by", c.rank_by},
              {"closed", closed},
              {"items", items}};
}

Result<std::vector<Verdict>> CompetitionService::verdicts(const std::string& project_id,
                                                          const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Competition c, get(project_id, name));
  std::vector<Verdict> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(conn, kVerdictRow,
                                         "SELECT " + kVerdictRow.columns() +
                                             " FROM autotest_verdicts WHERE competition_id = ? "
                                             "ORDER BY created_at_ms, id",
                                         {c.id}));
    for (const auto& r : rows) out.push_back(verdict_of(r));
    return {};
  }));
  return out;
}

Status CompetitionService::close(Competition& c) {
  JZ_ASSIGN_OR_RETURN(Json hidden, board(c.project_id, c.name, "hidden", true));
  int64_t n = 0;
  for (const auto& row : hidden["items"]) {
    if (n++ >= c.verify_top) break;
    JZ_ASSIGN_OR_RETURN(auto subs,
                        submissions(c.project_id, c.name, row["team"].get<std::string>()));
    const auto it = std::find_if(subs.begin(), subs.end(), [&](const Submission& s) {
      return s.id == row["submission"].get<std::string>();
    });
    if (it == subs.end()) continue;
    AutotestService::EvaluationRequest r;
    r.suite = c.hidden_suite;
    r.algorithm = it->algorithm;
    r.version = it->version;
    Verdict v;
    v.id = ids_.next("vrd_");
    v.competition_id = c.id;
    v.team = it->team;
    v.submission_id = it->id;
    v.state = "running";
    v.created_at_ms = clock_.now_unix_ms();
    auto e = tests_.evaluate(c.project_id, c.project, r, it->user_id, it->username);
    if (e.ok()) v.evaluation_id = e->id;
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& conn) -> Status {
      return conn
          .exec(
              "INSERT INTO autotest_verdicts (id, competition_id, team, submission_id, "
              "evaluation_id, "
              "state, document, created_at_ms) VALUES (?, ?, ?, ?, ?, 'running', 'null', ?)",
              {v.id, c.id, v.team, v.submission_id, v.evaluation_id, v.created_at_ms})
          .status();
    }));
    if (!e.ok()) JZ_RETURN_IF_ERROR(finish_verdict(c, v));
  }
  c.state = "verifying";
  return write(c, false);
}

Status CompetitionService::finish_verdict(const Competition& c, Verdict& v) {
  std::string verdict, detail, rerun_sha;
  Json diff = Json::object();
  if (v.evaluation_id.empty()) {
    verdict = "rerun failed";
    detail = "the package could not be evaluated again";
  } else {
    JZ_ASSIGN_OR_RETURN(Evaluation e, tests_.evaluation(c.project_id, v.evaluation_id));
    if (e.state == "queued" || e.state == "running" || e.state == "scoring") return {};  // later
    auto results = tests_.results_path(e);
    auto text = results.ok() ? read_file(*results) : Result<std::string>(results.status());
    auto csv = text.ok() ? results_csv(*text, c.columns) : Result<std::string>(text.status());
    if (!csv.ok() || (e.state != "passed" && e.state != "failed")) {
      verdict = "rerun failed";
      detail = e.message;
    } else {
      rerun_sha = sha256_hex(*csv);
      JZ_RETURN_IF_ERROR(
          write_file(dir_ + "/" + c.id + "/" + v.submission_id + ".rerun.csv", *csv, 0600));
      auto d = eval::diff_csv_files(submission_csv(c, v.submission_id),
                                    dir_ + "/" + c.id + "/" + v.submission_id + ".rerun.csv",
                                    "sample", c.tolerances);
      if (!d.ok()) {
        verdict = "modified";
        detail = d.status().message();
      } else {
        verdict = d->verdict;
        diff = {{"rows_compared", d->rows_compared},
                {"differences", d->differences},
                {"outside_tolerance", d->outside_tolerance}};
      }
    }
  }
  JZ_ASSIGN_OR_RETURN(auto subs, submissions(c.project_id, c.name, v.team));
  std::string algorithm, version, csv_sha;
  for (const auto& s : subs) {
    if (s.id == v.submission_id)
      algorithm = s.algorithm, version = s.version, csv_sha = s.csv_sha256;
  }
  auto pkg = tests_.algorithm(c.project_id, algorithm, version);
  const Json payload = {{"kind", "jizhan.competition.verdict"},
                        {"project", c.project},
                        {"competition", c.name},
                        {"team", v.team},
                        {"submission", v.submission_id},
                        {"algorithm", algorithm},
                        {"version", version},
                        {"package_sha256", pkg.ok() ? pkg->sha256 : ""},
                        {"submitted_csv_sha256", csv_sha},
                        {"rerun_csv_sha256", rerun_sha},
                        {"evaluation", v.evaluation_id},
                        {"verdict", verdict},
                        {"detail", detail},
                        {"comparison", diff},
                        {"signed_at", time_text(clock_.now_unix_ms())}};
  v.document = sdk::sign_document(key_, payload.dump());
  v.state = "done";
  return db_.with_conn([&](store::Conn& conn) -> Status {
    return conn
        .exec("UPDATE autotest_verdicts SET state = 'done', document = ? WHERE id = ?",
              {json::dump(v.document), v.id})
        .status();
  });
}

void CompetitionService::tick() {
  std::vector<Competition> due;
  Status s = db_.with_conn([&](store::Conn& conn) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(conn, kCompetitionRow,
                                         "SELECT " + kCompetitionRow.columns() +
                                             " FROM autotest_competitions WHERE state IN "
                                             "('open', 'verifying') LIMIT 1000"));
    for (const auto& r : rows) due.push_back(competition_of(r));
    return {};
  });
  if (!s.ok()) logger_->warn("competitions: {}", s.message());
  const int64_t now = clock_.now_unix_ms();
  for (auto& c : due) {
    if (c.state == "open") {
      if (now < c.closes_at_ms) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (Status closed = close(c); !closed.ok()) {
        logger_->warn("competition {}: closing: {}", c.name, closed.message());
      }
      continue;
    }
    auto vs = verdicts(c.project_id, c.name);
    if (!vs.ok()) continue;
    bool all_done = true;
    for (auto& v : *vs) {
      if (v.state == "running") {
        if (Status f = finish_verdict(c, v); !f.ok())
          logger_->warn("verdict {}: {}", v.id, f.message());
      }
      all_done = all_done && v.state == "done";
    }
    if (all_done) {
      c.state = "verified";
      (void)write(c, false);
    }
  }
}

}  // namespace jz::autotest
