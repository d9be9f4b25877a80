// Competitions on the automatic test service (docs/AUTOTEST.md, "Competitions"): teams
// submit the results CSV their algorithm produced, scored against a suite's hidden
// annotations for a leaderboard per split (public during the competition, hidden shown
// after it closes), within a submission limit per team per day. When it closes, the top
// teams' packages are run again on the hidden split by the platform and each team's CSV is
// compared with the re-run's (eval/csv_diff.h: identical, within tolerance, modified); the
// verdict is a document signed with the platform's Ed25519 key, which `jizhan autotest
// verify-verdict` checks offline.
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/csv.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/autotest/autotest.h"
#include "sdk/signing.h"
#include "store/database.h"

namespace jz::autotest {

// A column of the results CSV: its name and the dotted path of its value in a result line
// of `jizhan algo run` ("result.algorithm_data.target_count"). The key column is `sample`.
struct CsvColumn {
  std::string name, path;
};

// The results CSV of a run: a header `sample,COLUMN...`, then one row a sample in sample
// order, numbers as JSON writes them, strings as they are, missing values empty.
Result<std::string> results_csv(std::string_view results_jsonl,
                                const std::vector<CsvColumn>& columns);
// A submitted CSV as the JSON lines a suite's template reads: {"sample": ID, "result": {...}}
// with each column's value at its path (a number when it reads as one). Errors name the
// line and column.
Result<std::string> csv_predictions(const Csv& csv, const std::vector<CsvColumn>& columns);

struct Competition {
  std::string id, project_id, project, name, title;
  std::string public_suite, hidden_suite;
  std::string rank_by = "accuracy";  // a metric's dotted name
  bool higher_is_better = true;
  int64_t opens_at_ms = 0, closes_at_ms = 0;
  int64_t daily_limit = 5;  // submissions per team per UTC day
  int64_t verify_top = 3;   // teams re-run when it closes
  std::vector<CsvColumn> columns;
  std::map<std::string, double> tolerances;               // column -> numeric tolerance
  std::map<std::string, std::vector<std::string>> teams;  // team -> usernames
  std::string state;                                      // open | verifying | verified
  std::string created_by;
  int64_t created_at_ms = 0;
  Json to_json() const;
  // The team `username` is in, or "".
  std::string team_of(const std::string& username) const;
};
// From a request body (`update`: a change of times, limits or teams). Errors name the field.
Result<Competition> parse_competition(const Json& body, const std::optional<Competition>& base);

struct Submission {
  std::string id, competition_id, team, user_id, username, split, algorithm, version;
  std::string csv_sha256, state, message;
  std::optional<double> score;
  Json metrics;
  int64_t created_at_ms = 0;
  Json to_json(bool with_score) const;
};

struct Verdict {
  std::string id, competition_id, team, submission_id, evaluation_id, state;  // running | done
  Json document;  // the signed envelope (done)
  int64_t created_at_ms = 0;
  Json to_json() const;
};

class CompetitionService {
 public:
  // `dir`: where submitted CSVs and the platform's verdict key live (DATA/autotest/competitions).
  CompetitionService(store::Database& db, Clock& clock, IdGenerator& ids, AutotestService& tests,
                     std::string dir, std::shared_ptr<spdlog::logger> logger);

  Status open();  // the verdict key: read, or made on first use
  Result<Competition> create(const std::string& project_id, const std::string& project,
                             const Json& body, const std::string& actor);
  Result<Competition> update(const std::string& project_id, const std::string& name,
                             const Json& body);
  Result<Competition> get(const std::string& project_id, const std::string& name);
  Result<std::vector<Competition>> list(const std::string& project_id);
  // A team member's results for a split: scored at once. failed_precondition outside the
  // competition's times; resource_exhausted past the team's daily limit;
  // permission_denied for someone in no team.
  Result<Submission> submit(const std::string& project_id, const std::string& name,
                            const std::string& user_id, const std::string& username,
                            const std::string& split, const std::string& algorithm,
                            const std::string& version, const std::string& csv);
  // Every submission (organisers), or those of `team`.
  Result<std::vector<Submission>> submissions(const std::string& project_id,
                                              const std::string& name,
                                              const std::optional<std::string>& team);
  // The leaderboard of a split: each team's best, ties broken by the earlier submission.
  // The hidden split's only after the competition closed, unless `organiser`.
  Result<Json> board(const std::string& project_id, const std::string& name,
                     const std::string& split, bool organiser);
  Result<std::vector<Verdict>> verdicts(const std::string& project_id, const std::string& name);
  // The key verdicts are signed with (a public key file's JSON).
  Json public_key() const;
  // Closes competitions that are due (their re-runs start) and signs the verdicts of
  // re-runs that ended.
  void tick();

 private:
  Status write(const Competition& c, bool fresh);
  Status close(Competition& c);
  Status finish_verdict(const Competition& c, Verdict& v);
  std::string submission_csv(const Competition& c, const std::string& submission_id) const;

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  AutotestService& tests_;
  std::string dir_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;  // submissions: the daily limit is counted and taken at once
  sdk::SigningKey key_;
};

}  // namespace jz::autotest
