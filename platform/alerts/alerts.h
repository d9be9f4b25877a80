// Alerts and notifications: built-in rules over the platform's events, receivers per
// platform, workspace and project, and an outbox in the database that delivers every
// notification at least once.
//
// How a notification travels:
//  1. evaluate_once() reads the events after its cursor (events.seq), turns those a
//     rule matches into alerts (the rule's settings: the project's, else the platform's,
//     else the rule's defaults), and for every receiver that takes the alert (its scope
//     holds the event, it is enabled, the severity is at least its minimum, it takes the
//     rule) inserts a notification keyed by (receiver, "evt:<seq>:<rule>"); the cursor
//     moves in the same transaction. A crash repeats nothing and loses nothing: the
//     events are stored, the key refuses doubles.
//  2. deliver_once() sends the notifications that are due, each receiver in turn on one
//     of a few worker threads (a slow or failing receiver holds one worker, not the
//     others), at most `rate_per_minute` a minute per receiver; an answer of 2xx (and, for
//     the robots, an error code of 0) is a delivery, anything else a retry after an
//     exponential backoff with jitter, until max_attempts.
//
// Thread-safe. start() runs both every `tick` on a thread of its own.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/random.h"
#include "core/status.h"
#include "platform/alerts/channels.h"
#include "platform/alerts/promql.h"
#include "platform/alerts/secrets.h"
#include "platform/iam/tenancy.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::alerts {

// info < warning < critical; -1 for anything else.
int severity_rank(const std::string& s);

struct BuiltinRule {
  std::string id;
  std::string severity;              // the default
  bool enabled = true;               // by default
  std::vector<std::string> reasons;  // the event reasons it fires on
  std::string summary;               // what it means (English; the console translates by id)
  // A rule over metrics instead of events: its expression (PromQL subset) and for. Its
  // alerts go to the project their `project` label names (with that project's setting),
  // others to the platform.
  std::string expr;
  int64_t for_ms = 0;
  bool platform_only = false;  // of the platform's machines: no project or workspace sets it
};
const std::vector<BuiltinRule>& builtin_rules();

// A rule as one scope sees it.
struct RuleSetting {
  std::string rule;
  bool enabled = true;
  std::string severity;
  std::string set_by;  // default | platform | workspace | project: where it comes from
  Json to_json() const;
};

struct Receiver {
  std::string id, scope, scope_id, name, channel;
  Json config = Json::object();
  std::string secret_sealed;  // "" for none; never leaves the service
  std::string min_severity = "info";
  std::vector<std::string> rules;  // empty: every rule
  // Label matchers every alert it takes must satisfy (empty: any): `team="cv"`.
  std::vector<promql::Matcher> matchers;
  bool enabled = true;
  int rate_per_minute = 20;
  // Grouping as Alertmanager groups: alerts with the same values of these labels go out
  // together in one message ("..." alone: every label, a group per alert); empty: each
  // alert alone at once, never repeated. A new group waits group_wait for more; a group
  // that changed waits group_interval after its last message; one still firing is sent
  // again every repeat_interval (0: never).
  std::vector<std::string> group_by;
  int64_t group_wait_ms = 30'000, group_interval_ms = 300'000, repeat_interval_ms = 14'400'000;
  std::string language = "en";  // en | zh-CN: the words of its messages
  // The site's own wording for chat and mail (not the webhook's JSON): "title" and "text"
  // with {{ $status }}, {{ $severity }}, {{ $count }}, {{ $title }}, {{ $text }},
  // {{ $link }}, {{ $receiver }}, {{ $labels.NAME }}, {{ $annotations.NAME }} (common to
  // the message's alerts). Empty: the built-in words.
  Json templates = Json::object();
  std::string created_by;
  int64_t created_at_ms = 0;
  bool grouped() const { return !group_by.empty(); }
  Json to_json() const;  // has_secret, never the secret
};

struct Notification {
  std::string id, receiver_id, receiver_name, scope, scope_id, dedup_key, rule, severity, title,
      state;
  std::string message;  // the alert (JSON text)
  int64_t attempts = 0, next_attempt_ms = 0, created_at_ms = 0;
  std::optional<int64_t> delivered_at_ms;
  int64_t last_code = 0;
  std::string last_answer;
  Json to_json() const;
};

// A rule in the PromQL subset (promql.h), of the platform, a workspace or a project (whose
// rules see only its series: every selector gets project="NAME", workspace="NAME").
struct CustomRule {
  std::string id, scope, scope_id, name, expr;
  int64_t for_ms = 0;  // pending this long before firing
  std::string severity = "warning";
  Json labels = Json::object(), annotations = Json::object();
  bool enabled = true;
  std::string created_by;
  int64_t created_at_ms = 0;
  const BuiltinRule* builtin = nullptr;  // a built-in rule over metrics, evaluated as one
  Json to_json() const;
};

// An alert of a custom rule now: pending (its `for` not yet over) or firing.
struct ActiveAlert {
  std::string fingerprint, rule_id, rule, scope, scope_id, state;
  Json labels = Json::object(), annotations = Json::object();
  double value = 0;
  int64_t active_since_ms = 0, fired_at_ms = 0;
  Json to_json() const;
};

// A silence: while it lasts, alerts of its scope whose labels match all its matchers are
// not sent (the history shows them as silenced).
struct Silence {
  std::string id, scope, scope_id;
  std::vector<promql::Matcher> matchers;
  int64_t starts_at_ms = 0, ends_at_ms = 0;
  std::string created_by, comment;
  bool matches(const Json& labels) const;
  Json to_json(int64_t now_ms) const;
};

// A user's own notification (the console's bell): an alert about one of their jobs.
struct InboxItem {
  std::string id, rule, severity, title;
  Json labels = Json::object();
  std::string link;  // the console page it is about ("/projects/P/jobs/J")
  int64_t created_at_ms = 0;
  std::optional<int64_t> read_at_ms;
  Json to_json() const;
};

// A rule about jobs as one user follows it for their own jobs.
struct Subscription {
  std::string rule;
  bool subscribed = true;
  Json to_json() const;
};

// An inhibition rule of a scope, as Alertmanager's: while an alert of the scope that
// matches `source` fires, alerts of the scope that match `target` and have the same values
// of the `equal` labels are held back (recorded as inhibited, sent to nobody).
struct Inhibition {
  std::string id, scope, scope_id;
  std::vector<promql::Matcher> source, target;
  std::vector<std::string> equal;
  std::string comment, created_by;
  int64_t created_at_ms = 0;
  Json to_json() const;
};

struct AlertOptions {
  bool allow_private_networks = false;  // receivers on loopback and private networks
  int max_attempts = 10;
  std::chrono::milliseconds backoff_base{5000}, backoff_max{3600 * 1000};
  std::chrono::milliseconds tick{1000};
  std::chrono::milliseconds rule_interval{15000};  // custom rules are evaluated this often
  int delivery_threads = 4;
  int send_timeout_ms = 10000;
  std::string console_url;  // links in messages ("" for none)
  std::string ca_file;      // extra CA certificates for TLS receivers
};

class AlertService {
 public:
  AlertService(store::Database& db, Clock& clock, IdGenerator& ids, iam::Tenancy& tenancy,
               SecretBox box, AlertOptions options, std::shared_ptr<spdlog::logger> logger);
  ~AlertService();

  // ---- rules: scope "platform" (scope_id "") or "project" (the project's id) ----
  Result<std::vector<RuleSetting>> rules(const std::string& scope, const std::string& scope_id);
  // Sets what `patch` holds (enabled, severity); {"reset": true} drops this scope's setting.
  Result<RuleSetting> set_rule(const std::string& scope, const std::string& scope_id,
                               const std::string& rule, const Json& patch,
                               const std::string& actor);

  // ---- receivers ----
  // `body`: name, channel, config, secret, min_severity, rules, enabled, rate_per_minute.
  Result<Receiver> create_receiver(const std::string& scope, const std::string& scope_id,
                                   const Json& body, const std::string& actor);
  // Changes the fields `patch` holds ("secret": "" removes the secret).
  Result<Receiver> update_receiver(const std::string& scope, const std::string& scope_id,
                                   const std::string& name, const Json& patch);
  Status delete_receiver(const std::string& scope, const std::string& scope_id,
                         const std::string& name);
  Result<Receiver> receiver(const std::string& scope, const std::string& scope_id,
                            const std::string& name);
  Result<store::Page<Receiver>> receivers(const std::string& scope, const std::string& scope_id,
                                          const store::PageSpec& page);
  // Sends a test message now and says what the receiver answered.
  Result<Answer> test_receiver(const std::string& scope, const std::string& scope_id,
                               const std::string& name, const std::string& actor);

  // ---- custom rules ----
  // Where their series come from (none: custom rules never fire, previews say so).
  void attach_metrics(const promql::Source* source) { metrics_ = source; }
  // `body`: name, expr, for ("5m"), severity, labels, annotations, enabled.
  Result<CustomRule> create_custom_rule(const std::string& scope, const std::string& scope_id,
                                        const Json& body, const std::string& actor);
  Result<CustomRule> update_custom_rule(const std::string& scope, const std::string& scope_id,
                                        const std::string& name, const Json& patch);
  Status delete_custom_rule(const std::string& scope, const std::string& scope_id,
                            const std::string& name);
  Result<CustomRule> custom_rule(const std::string& scope, const std::string& scope_id,
                                 const std::string& name);
  Result<std::vector<CustomRule>> custom_rules(const std::string& scope,
                                               const std::string& scope_id);
  // What `expr` gives now in this scope (its `for` ignored): what would fire.
  Result<std::vector<promql::Sample>> preview(const std::string& scope, const std::string& scope_id,
                                              const std::string& expr);
  // The alerts of custom rules pending or firing now.
  Result<std::vector<ActiveAlert>> active(const std::string& scope, const std::string& scope_id);
  // Evaluates every enabled custom rule once, at now; how many alerts changed state.
  Result<int> evaluate_rules();
  // The scope's rules as a Prometheus rule file (YAML): its custom rules scoped as here,
  // and the built-in ones over jizhan_alert_events_total (metrics_text()).
  Result<std::string> export_rules(const std::string& scope, const std::string& scope_id);
  // jizhan_alert_events_total{project, reason}: the events the engine has read since the
  // server started, in the Prometheus text format.
  std::string metrics_text() const;

  // ---- silences ----
  // `body`: matchers (a list of {label, op: = != =~ !~, value}, or the text
  // `alertname="x", job=~"a.*"`), starts_at (default now), ends_at or duration ("2h"),
  // comment (required).
  Result<Silence> create_silence(const std::string& scope, const std::string& scope_id,
                                 const Json& body, const std::string& actor);
  // Ends a silence now.
  Status expire_silence(const std::string& scope, const std::string& scope_id,
                        const std::string& id);
  // The scope's silences that have not ended, and those ended in the last day.
  Result<std::vector<Silence>> silences(const std::string& scope, const std::string& scope_id);

  // ---- inhibition rules ----
  // `body`: source and target (matchers, as a silence's), equal (label names), comment.
  Result<Inhibition> create_inhibition(const std::string& scope, const std::string& scope_id,
                                       const Json& body, const std::string& actor);
  Status delete_inhibition(const std::string& scope, const std::string& scope_id,
                           const std::string& id);
  Result<std::vector<Inhibition>> inhibitions(const std::string& scope,
                                              const std::string& scope_id);

  // ---- alerts from Prometheus or Alertmanager ----
  // One alert as Alertmanager's API takes it (labels with alertname, annotations,
  // startsAt, endsAt, generatorURL), in a scope the caller may act in: notified to that
  // scope's receivers once per firing (its startsAt) and once when it ends (endsAt past).
  Status ingest(const std::string& scope, const std::string& scope_id, const Json& alert);
  // Many at once, in one transaction: alerts[i] in scopes[i] (scope, scope id).
  Status ingest_all(const std::vector<std::pair<std::string, std::string>>& scopes,
                    const std::vector<Json>& alerts);
  // invalid_argument naming what is wrong with an alert of that form.
  static Status check_incoming(const Json& alert);

  // ---- a user's own: their jobs' alerts (scope "user" holds their receivers) ----
  // The alerts of the rules they follow about their own jobs, newest first.
  Result<store::Page<InboxItem>> inbox(const std::string& user_id, const store::PageSpec& page,
                                       bool unread_only);
  Result<int64_t> unread(const std::string& user_id);
  // Marks these (only the user's own), or all, read; how many changed.
  Result<int64_t> mark_read(const std::string& user_id, const std::vector<std::string>& ids,
                            bool all);
  // The rules about jobs, each followed unless the user turned it off.
  Result<std::vector<Subscription>> subscriptions(const std::string& user_id);
  Result<Subscription> subscribe(const std::string& user_id, const std::string& rule, bool on);

  // ---- delivery history, newest first ----
  Result<store::Page<Notification>> notifications(const std::string& scope,
                                                  const std::string& scope_id,
                                                  const store::PageSpec& page);

  // ---- the engine ----
  // Events after the cursor into notifications (at most `batch` events); how many events
  // it read (queued() counts the notifications).
  Result<int> evaluate_once(int batch = 500);
  // Turns the groups that are due (group_wait, group_interval, repeat_interval) into
  // notifications; how many.
  Result<int> flush_groups();
  // Flushes the groups, then sends what is due now; how many receivers it sent to.
  int deliver_once();
  int64_t queued() const { return queued_; }
  Status start();
  void stop();

 private:
  struct Ctx;
  Result<Receiver> receiver_in(store::Conn& c, const std::string& scope,
                               const std::string& scope_id, const std::string& name);
  // The rule as a project (or, with no project, a workspace; neither: the platform) has
  // it: the project's setting wins over its workspace's, which wins over the platform's.
  Result<RuleSetting> setting_in(store::Conn& c, const BuiltinRule& r,
                                 const std::string& project_id, std::string workspace_id = "");
  Status apply(Receiver& r, const Json& body, bool creating);
  Status apply_rule(CustomRule& r, const Json& body, bool creating);
  // The matcher a scope puts on every selector (none for the platform).
  Result<std::optional<promql::Matcher>> scope_matcher(store::Conn& c, const std::string& scope,
                                                       const std::string& scope_id);
  Result<std::shared_ptr<const promql::Expr>> scoped_expr(store::Conn& c, const CustomRule& r);
  // What an alert of a scope goes to: the receivers whose scope holds it, and the
  // silences there now. Looked up once per scope in a batch (`cache`, may be null).
  struct Targets {
    std::vector<Receiver> receivers;
    std::vector<Silence> silences;
    std::set<std::string> down_hosts;     // node_down firing for these Hostnames
    std::vector<Inhibition> inhibitions;  // of the alert's scope and those above it
    std::vector<Json> firing;             // labels of the alerts firing there now
  };
  using TargetCache = std::map<std::string, Targets>;
  Status ingest_in(store::Conn& c, const std::string& scope, const std::string& scope_id,
                   const Json& alert, int& queued, TargetCache* cache);
  // `oneshot`: an alert of an event, sent once and never repeated or resolved.
  Status queue_in(store::Conn& c, const std::string& scope, const std::string& scope_id,
                  const std::string& rule, const std::string& severity, const std::string& key,
                  const std::string& title, const Json& alert, int& queued,
                  TargetCache* cache = nullptr, bool oneshot = false);
  // The receivers' notifications (or group entries) of one alert; `held`: "" (send),
  // "silenced" or "inhibited" (recorded, not sent).
  Status route_to(store::Conn& c, const std::vector<Receiver>& receivers, const std::string& rule,
                  const std::string& severity, const std::string& key, const std::string& title,
                  const Json& alert, const std::string& held, bool oneshot, int& queued);
  // The owner of a job, their subscriptions and receivers, looked up once in a batch.
  struct OwnerCache {
    std::map<std::string, std::string> owner_of;  // job id -> user id ("": none)
    struct User {
      std::map<std::string, bool> subscribed;
      std::vector<Receiver> receivers;
    };
    std::map<std::string, User> users;
  };
  // An alert about a job to its owner: their bell, and their receivers, if they follow it.
  Status notify_owner(store::Conn& c, const std::string& job_id, const BuiltinRule& rule,
                      const std::string& severity, const std::string& key, const std::string& title,
                      const Json& alert, const std::string& path, int& queued, OwnerCache& cache);
  // Puts an alert into the receiver's group for it.
  Status group_in(store::Conn& c, const Receiver& r, const std::string& severity,
                  const std::string& title, const Json& alert, bool oneshot, int64_t now);
  Answer send_to(const Receiver& r, const Message& m);
  void deliver_receiver(const std::string& receiver_id);
  void loop();

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  iam::Tenancy& tenancy_;
  SecretBox box_;
  AlertOptions options_;
  std::shared_ptr<spdlog::logger> logger_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread loop_;
  std::map<std::string, std::vector<int64_t>> sent_;
  std::atomic<int64_t> queued_{0};
  const promql::Source* metrics_ = nullptr;
  int64_t next_rules_ms_ = 0;
  mutable std::mutex counts_mu_;
  std::map<std::pair<std::string, std::string>, int64_t>
      event_counts_;  // project, reason  // receiver -> send times (rate limit)
};

}  // namespace jz::alerts
