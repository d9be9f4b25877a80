// The algorithm store (mission I1, I2, F3, F4; docs/STORE.md): a project's tested
// algorithms listed for sale, orders that give customers activation codes, and the
// activation service that turns a code and a machine's fingerprint into a licence signed
// with the project's publisher key (sdk/licence.h) and a download of the signed package.
//
// - A listing is an algorithm of the project (its package name) with a title, a
//   description, details (inputs, hardware needs), price tiers (channels, frames a second,
//   term) and a visibility (public, the project's workspace, or named customer
//   workspaces). Each listed version is bound to an uploaded package (autotest/) signed by
//   the project's publisher key and to the evaluations it passed, their metrics copied in.
// - An order for a tier makes activation codes: one per seat, or one code for every seat.
//   A code's seats are machines: one activation per fingerprint, at most `seats` of them
//   (counted in one transaction, so simultaneous activations never exceed it); the same
//   machine again renews its licence. A revoked code, or one past its order's term,
//   activates and renews nothing, with the reason.
// - Licences last `licence_days` (renewed by activating again) and never past the order's
//   term; each names the machine, the tier's channels and frames a second, and the code's
//   SHA-256. Codes are kept sealed (the sellers can read them again), looked up by SHA-256.
// - Offline: the client writes a request signed with its install key; a seller answers it
//   with the licence (`offline_licence`).
//
// Thread-safety: every method from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/alerts/secrets.h"
#include "platform/autotest/autotest.h"
#include "sdk/licence.h"
#include "sdk/signing.h"
#include "store/database.h"

namespace jz::algostore {

struct Tier {
  std::string name;
  int64_t channels = 0;  // 0: unlimited
  double qps = 0;        // frames a second over all channels; 0: unlimited
  int64_t term_days = 365;
  std::string price;  // as the seller writes it ("1200 CNY/year")
  Json to_json() const;
};

struct Listing {
  std::string id, project_id, project, workspace_id, name;  // name: the package's name
  std::string title, description;
  Json details = Json::object();  // {"inputs": [...], "hardware": {...}, "tags": [...]}
  std::vector<Tier> tiers;
  std::string visibility = "workspace";  // public | workspace | customers
  std::vector<std::string> customers;    // workspace names, for visibility=customers
  std::string created_by;
  int64_t created_at_ms = 0, updated_at_ms = 0;
  Json versions = Json::array();  // filled by listing(): [{version, sha256, reports, ...}]
  Json to_json() const;
};

// Applies a listing's request body ({title, description, details, tiers, visibility,
// customers}; what it leaves out is kept) to `l`; each error names its field and `l` may
// be half changed then.
Status apply_listing_body(const Json& body, Listing& l);

struct Order {
  std::string id, listing_id, project_id, listing, tier, customer;
  int64_t seats = 0;
  std::string codes_per = "seat";  // seat | order
  int64_t channels = 0;
  double qps = 0;
  int64_t valid_until_ms = 0;
  std::string created_by;
  int64_t created_at_ms = 0;
  Json codes = Json::array();  // filled by order(): [{id, code, seats, used, state, ...}]
  Json to_json() const;
};

// What the activation service answers.
struct Activation {
  std::string licence_text;  // the signed licence (.jzlic)
  sdk::Licence licence;
  std::string listing, project, version, sha256;
  int64_t size = 0;
  std::string download;  // a one-hour download token for `GET /api/v1/store/downloads/{token}`
  sdk::PublicKey publisher;
  bool renewed = false;  // this machine had activated the code before
  Json to_json() const;
};

struct StoreOptions {
  int64_t licence_days = 30;  // a licence's life before it must be renewed
  std::chrono::minutes download_ttl{60};
};

class AlgorithmStore {
 public:
  AlgorithmStore(store::Database& db, Clock& clock, IdGenerator& ids,
                 autotest::AutotestService& autotest, alerts::SecretBox box, StoreOptions options,
                 std::shared_ptr<spdlog::logger> logger);

  // ---- the project's publisher key: signs its licences; its packages must carry it.
  // `key_text` is a signing key file (`jizhan algo keygen`); "" makes a new one.
  Result<Json> set_publisher(const std::string& project_id, const std::string& key_text,
                             const std::string& actor);
  // {name, key_id, public_key (base64)}; not_found before one is set.
  Result<Json> publisher(const std::string& project_id);

  // ---- listings
  // Creates or changes the listing of algorithm `name` (fields the body leaves out kept).
  Result<Listing> put_listing(const std::string& project_id, const std::string& project,
                              const std::string& workspace_id, const std::string& name,
                              const Json& body, const std::string& actor);
  Result<Listing> listing(const std::string& project_id, const std::string& name);
  Result<std::vector<Listing>> listings(const std::string& project_id);
  // Every listing the predicate lets the caller see, filtered by `q` (name, title,
  // description, tags) and `tag`.
  Result<std::vector<Listing>> store_front(const std::function<bool(const Listing&)>& visible,
                                           const std::string& q, const std::string& tag);
  Status delete_listing(const std::string& project_id, const std::string& name);
  // Lists a version: the package `name`-`version` uploaded to the project (ready, signed
  // by the publisher key) and the evaluations it passed (ids, each of this algorithm and
  // version, passed).
  Result<Listing> add_version(const std::string& project_id, const std::string& name,
                              const Json& body, const std::string& actor);

  // ---- orders and codes
  // {tier, customer, seats, codes_per?}; the codes are in the answer (and in order()).
  Result<Order> create_order(const std::string& project_id, const std::string& name,
                             const Json& body, const std::string& actor);
  Result<Order> order(const std::string& project_id, const std::string& id);
  Result<std::vector<Order>> orders(const std::string& project_id, const std::string& listing);
  // Revokes a code (its id, acd_...): no activation or renewal from now on.
  Status revoke_code(const std::string& project_id, const std::string& code_id,
                     const std::string& reason, const std::string& actor);
  // The machines that activated a code, with their usage totals.
  Result<Json> activations(const std::string& project_id, const std::string& code_id);

  // ---- the activation service (no account: the code is the credential)
  Result<Activation> activate(const std::string& code, const std::string& fingerprint);
  // Answers an offline request file (signed by the client's install key) of a code sold
  // by this project.
  Result<Activation> offline_licence(const std::string& project_id, const std::string& request);
  // The package behind a download token; not_found once it expired.
  Result<std::string> download_path(const std::string& token);
  // A client's usage: {code, fingerprint, licence, reports: [{from, to, frames, channels,
  // algorithm}]}; the code must hold an activation of that machine with that licence.
  Result<int64_t> report_usage(const Json& body);

 private:
  Result<sdk::SigningKey> publisher_key(store::Conn& c, const std::string& project_id);
  Result<Activation> activate_in(store::Conn& c, const std::string& code,
                                 const std::string& fingerprint, const std::string& project_id);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  autotest::AutotestService& autotest_;
  alerts::SecretBox box_;
  StoreOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace jz::algostore
