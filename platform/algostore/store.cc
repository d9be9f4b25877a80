#include "platform/algostore/store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "core/hash.h"
#include "core/random.h"
#include "sdk/licence.h"
#include "store/rows.h"

namespace jz::algostore {

namespace {

using store::Conn;
using store::Params;

constexpr int64_t kDayMs = 86'400'000;

Json parse_json_column(const std::string& text, const Json& fallback) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

std::string iso(int64_t ms) {
  return format_rfc3339(Clock::WallTime(std::chrono::milliseconds(ms)));
}

Result<std::vector<Tier>> parse_tiers(const Json& v) {
  if (!v.is_array() || v.empty() || v.size() > 20) {
    return Status::invalid_argument("field 'tiers' must list 1 to 20 price tiers");
  }
  std::vector<Tier> out;
  for (const auto& t : v) {
    if (!t.is_object()) return Status::invalid_argument("field 'tiers': each tier is an object");
    JZ_RETURN_IF_ERROR(json::only_fields(t, {"name", "channels", "qps", "term_days", "price"}));
    Tier tier;
    tier.name = json::string_or(t, "name");
    if (tier.name.empty() || tier.name.size() > 64) {
      return Status::invalid_argument("field 'tiers': each tier needs a 'name' (1 to 64)");
    }
    for (const auto& o : out) {
      if (o.name == tier.name) {
        return Status::invalid_argument("field 'tiers': two tiers named '" + tier.name + "'");
      }
    }
    if (t.contains("channels")) {
      if (!t["channels"].is_number_integer() || t["channels"].get<int64_t>() < 0 ||
          t["channels"].get<int64_t>() > 100000) {
        return Status::invalid_argument("field 'tiers[" + tier.name +
                                        "].channels' must be 0 (unlimited) to 100000");
      }
      tier.channels = t["channels"].get<int64_t>();
    }
    if (t.contains("qps")) {
      if (!t["qps"].is_number() || t["qps"].get<double>() < 0 ||
          !std::isfinite(t["qps"].get<double>())) {
        return Status::invalid_argument("field 'tiers[" + tier.name +
                                        "].qps' must be a number >= 0 (0: unlimited)");
      }
      tier.qps = t["qps"].get<double>();
    }
    if (t.contains("term_days")) {
      if (!t["term_days"].is_number_integer() || t["term_days"].get<int64_t>() < 1 ||
          t["term_days"].get<int64_t>() > 36500) {
        return Status::invalid_argument("field 'tiers[" + tier.name +
                                        "].term_days' must be 1 to 36500");
      }
      tier.term_days = t["term_days"].get<int64_t>();
    }
    tier.price = json::string_or(t, "price");
    out.push_back(std::move(tier));
  }
  return out;
}

Json tiers_json(const std::vector<Tier>& tiers) {
  Json out = Json::array();
  for (const auto& t : tiers) out.push_back(t.to_json());
  return out;
}

const store::RowMap<Listing> kListing{{"id", &Listing::id},
                                      {"project_id", &Listing::project_id},
                                      {"project", &Listing::project},
                                      {"workspace_id", &Listing::workspace_id},
                                      {"name", &Listing::name},
                                      {"title", &Listing::title},
                                      {"description", &Listing::description},
                                      {"visibility", &Listing::visibility},
                                      {"created_by", &Listing::created_by},
                                      {"created_at_ms", &Listing::created_at_ms},
                                      {"updated_at_ms", &Listing::updated_at_ms}};

// The JSON columns of a listing row.
Listing read_listing(const store::Row& r) {
  Listing l = kListing(r);
  l.details = parse_json_column(r.text(r.index_of("details")), Json::object());
  for (const auto& t : parse_json_column(r.text(r.index_of("tiers")), Json::array())) {
    Tier tier;
    tier.name = json::string_or(t, "name");
    tier.channels = t.value("channels", int64_t{0});
    tier.qps = t.value("qps", 0.0);
    tier.term_days = t.value("term_days", int64_t{365});
    tier.price = json::string_or(t, "price");
    l.tiers.push_back(std::move(tier));
  }
  for (const auto& c : parse_json_column(r.text(r.index_of("customers")), Json::array())) {
    if (c.is_string()) l.customers.push_back(c.get<std::string>());
  }
  return l;
}

const std::string kListingColumns = kListing.columns() + ", details, tiers, customers";

const store::RowMap<Order> kOrder{{"id", &Order::id},
                                  {"listing_id", &Order::listing_id},
                                  {"project_id", &Order::project_id},
                                  {"tier", &Order::tier},
                                  {"customer", &Order::customer},
                                  {"seats", &Order::seats},
                                  {"codes_per", &Order::codes_per},
                                  {"channels", &Order::channels},
                                  {"qps", &Order::qps},
                                  {"valid_until_ms", &Order::valid_until_ms},
                                  {"created_by", &Order::created_by},
                                  {"created_at_ms", &Order::created_at_ms}};

struct CodeRow {
  std::string id, sha256, order_id, project_id, sealed, state, reason;
  int64_t seats = 0, created_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
};
const store::RowMap<CodeRow> kCode{{"id", &CodeRow::id},
                                   {"sha256", &CodeRow::sha256},
                                   {"order_id", &CodeRow::order_id},
                                   {"project_id", &CodeRow::project_id},
                                   {"sealed", &CodeRow::sealed},
                                   {"state", &CodeRow::state},
                                   {"reason", &CodeRow::reason},
                                   {"seats", &CodeRow::seats},
                                   {"created_at_ms", &CodeRow::created_at_ms},
                                   {"revoked_at_ms", &CodeRow::revoked_at_ms}};

struct ActivationRow {
  std::string id, code_id, fingerprint, licence_id, version;
  int64_t created_at_ms = 0, renewed_at_ms = 0, valid_until_ms = 0;
};
const store::RowMap<ActivationRow> kActivation{{"id", &ActivationRow::id},
                                               {"code_id", &ActivationRow::code_id},
                                               {"fingerprint", &ActivationRow::fingerprint},
                                               {"licence_id", &ActivationRow::licence_id},
                                               {"version", &ActivationRow::version},
                                               {"created_at_ms", &ActivationRow::created_at_ms},
                                               {"renewed_at_ms", &ActivationRow::renewed_at_ms},
                                               {"valid_until_ms", &ActivationRow::valid_until_ms}};

bool valid_fingerprint(const std::string& f) {
  if (f.size() < 8 || f.size() > 64) return false;
  for (char c : f) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// A listing's versions, newest first, each with its reports.
Result<Json> versions_of(Conn& c, const std::string& listing_id) {
  JZ_ASSIGN_OR_RETURN(auto vs, c.query("SELECT version, sha256, size, reports, notes, "
                                       "created_by, created_at_ms FROM store_versions WHERE "
                                       "listing_id = ?",
                                       {listing_id}));
  std::vector<Json> versions;
  versions.reserve(vs.size());
  for (const auto& v : vs) {
    versions.push_back({{"version", v.text(0)},
                        {"sha256", v.text(1)},
                        {"size", v.integer(2)},
                        {"reports", parse_json_column(v.text(3), Json::array())},
                        {"notes", v.text(4)},
                        {"created_by", v.text(5)},
                        {"created_at", iso(v.integer(6))}});
  }
  std::sort(versions.begin(), versions.end(), [](const Json& a, const Json& b) {
    return sdk::compare_versions(a["version"].get<std::string>(), b["version"].get<std::string>()) >
           0;
  });
  return Json(std::move(versions));
}

// The newest listed version of a listing (or not_found with the reason).
struct VersionRow {
  std::string version, algorithm_id, sha256;
  int64_t size = 0;
};

Result<VersionRow> latest_version(Conn& c, const std::string& listing_id, const std::string& name) {
  JZ_ASSIGN_OR_RETURN(
      auto rows,
      c.query("SELECT version, algorithm_id, sha256, size FROM store_versions WHERE listing_id = ?",
              {listing_id}));
  if (rows.empty()) {
    return Status::failed_precondition("'" + name +
                                       "' has no version in the store yet: its seller must list "
                                       "one");
  }
  VersionRow best;
  for (const auto& r : rows) {
    const std::string v = r.text(0);
    if (best.version.empty() || sdk::compare_versions(v, best.version) > 0) {
      best = {v, r.text(1), r.text(2), r.integer(3)};
    }
  }
  return best;
}

}  // namespace

Json Tier::to_json() const {
  return {{"name", name},
          {"channels", channels},
          {"qps", qps},
          {"term_days", term_days},
          {"price", price}};
}

Json Listing::to_json() const {
  Json c = Json::array();
  for (const auto& x : customers) c.push_back(x);
  return {{"id", id},
          {"project", project},
          {"name", name},
          {"title", title},
          {"description", description},
          {"details", details},
          {"tiers", tiers_json(tiers)},
          {"visibility", visibility},
          {"customers", c},
          {"versions", versions},
          {"created_by", created_by},
          {"created_at", iso(created_at_ms)},
          {"updated_at", iso(updated_at_ms)}};
}

Json Order::to_json() const {
  return {{"id", id},
          {"listing", listing},
          {"tier", tier},
          {"customer", customer},
          {"seats", seats},
          {"codes_per", codes_per},
          {"channels", channels},
          {"qps", qps},
          {"valid_until", iso(valid_until_ms)},
          {"codes", codes},
          {"created_by", created_by},
          {"created_at", iso(created_at_ms)}};
}

Json Activation::to_json() const {
  return {{"licence", licence_text},
          {"licence_id", licence.id},
          {"valid_until", format_rfc3339(licence.valid_until)},
          {"algorithm", listing},
          {"project", project},
          {"version", version},
          {"sha256", sha256},
          {"size", size},
          {"download", "/api/v1/store/downloads/" + download},
          {"publisher", sdk::public_key_json(publisher)},
          {"renewed", renewed}};
}

Status apply_listing_body(const Json& body, Listing& l) {
  JZ_RETURN_IF_ERROR(json::only_fields(
      body, {"title", "description", "details", "tiers", "visibility", "customers"}));
  if (body.contains("title")) {
    if (!body["title"].is_string() || body["title"].get<std::string>().empty() ||
        body["title"].get<std::string>().size() > 200) {
      return Status::invalid_argument("field 'title' must be 1 to 200 characters");
    }
    l.title = body["title"];
  }
  if (body.contains("description")) {
    if (!body["description"].is_string() || body["description"].get<std::string>().size() > 20000) {
      return Status::invalid_argument("field 'description' must be text of at most 20000 bytes");
    }
    l.description = body["description"];
  }
  if (body.contains("details")) {
    if (!body["details"].is_object() || body["details"].dump().size() > 20000) {
      return Status::invalid_argument(
          "field 'details' must be an object ({inputs, hardware, tags}) of at most 20000 bytes");
    }
    if (body["details"].contains("tags")) {
      const Json& tags = body["details"]["tags"];
      bool ok = tags.is_array() && tags.size() <= 20;
      for (const auto& t : tags) ok = ok && t.is_string() && !t.get<std::string>().empty();
      if (!ok) return Status::invalid_argument("field 'details.tags' must list up to 20 words");
    }
    l.details = body["details"];
  }
  if (body.contains("tiers")) {
    JZ_ASSIGN_OR_RETURN(l.tiers, parse_tiers(body["tiers"]));
  }
  if (body.contains("visibility")) {
    const std::string v =
        body["visibility"].is_string() ? body["visibility"].get<std::string>() : std::string();
    if (v != "public" && v != "workspace" && v != "customers") {
      return Status::invalid_argument(
          "field 'visibility' must be public, workspace (the project's) or customers (the "
          "workspaces in 'customers')");
    }
    l.visibility = v;
  }
  if (body.contains("customers")) {
    if (!body["customers"].is_array() || body["customers"].size() > 500) {
      return Status::invalid_argument("field 'customers' must list up to 500 workspace names");
    }
    l.customers.clear();
    for (const auto& c : body["customers"]) {
      if (!c.is_string() || c.get<std::string>().empty()) {
        return Status::invalid_argument("field 'customers' must list workspace names");
      }
      l.customers.push_back(c);
    }
  }
  if (l.visibility == "customers" && l.customers.empty()) {
    return Status::invalid_argument(
        "visibility 'customers' needs the customers' workspaces in 'customers'");
  }
  return {};
}

AlgorithmStore::AlgorithmStore(store::Database& db, Clock& clock, IdGenerator& ids,
                               autotest::AutotestService& autotest, alerts::SecretBox box,
                               StoreOptions options, std::shared_ptr<spdlog::logger> logger)
    : db_(db),
      clock_(clock),
      ids_(ids),
      autotest_(autotest),
      box_(std::move(box)),
      options_(options),
      logger_(std::move(logger)) {}

// ---- publisher keys

Result<Json> AlgorithmStore::set_publisher(const std::string& project_id,
                                           const std::string& key_text, const std::string& actor) {
  sdk::SigningKey key;
  if (key_text.empty()) {
    key = sdk::generate_signing_key("publisher-" + project_id);
  } else {
    auto parsed = sdk::parse_signing_key(key_text);
    if (!parsed.ok()) {
      return Status::invalid_argument("field 'signing_key': " + parsed.status().message() +
                                      " (a key file of `jizhan algo keygen`, the .key one)");
    }
    key = *parsed;
  }
  const std::string sealed = box_.seal(sdk::signing_key_json(key).dump());
  const int64_t now = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("DELETE FROM store_publishers WHERE project_id = ?", {project_id}).status());
    return c
        .exec(
            "INSERT INTO store_publishers (project_id, name, key_id, public_key, sealed, "
            "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            {project_id, key.pub.name, key.pub.key_id, base64_encode(key.pub.key), sealed, actor,
             now})
        .status();
  }));
  Json out = sdk::public_key_json(key.pub);
  // A key made here is shown once, so that its developers can sign packages with it.
  if (key_text.empty()) out["signing_key"] = sdk::signing_key_json(key);
  return out;
}

Result<Json> AlgorithmStore::publisher(const std::string& project_id) {
  Json out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(sdk::SigningKey k, publisher_key(c, project_id));
    out = sdk::public_key_json(k.pub);
    return {};
  }));
  return out;
}

Result<sdk::SigningKey> AlgorithmStore::publisher_key(Conn& c, const std::string& project_id) {
  JZ_ASSIGN_OR_RETURN(
      auto rows, c.query("SELECT sealed FROM store_publishers WHERE project_id = ?", {project_id}));
  if (rows.empty()) {
    return Status::failed_precondition(
        "the project has no publisher key: set one first (PUT .../store/publisher, `jizhan "
        "store publisher set`)");
  }
  JZ_ASSIGN_OR_RETURN(std::string text, box_.open(rows[0].text(0)));
  return sdk::parse_signing_key(text);
}

// ---- listings

Result<Listing> AlgorithmStore::put_listing(const std::string& project_id,
                                            const std::string& project,
                                            const std::string& workspace_id,
                                            const std::string& name, const Json& body,
                                            const std::string& actor) {
  JZ_RETURN_IF_ERROR(json::only_fields(
      body, {"title", "description", "details", "tiers", "visibility", "customers"}));
  Listing l;
  bool exists = false;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kListingColumns +
                                               " FROM store_listings WHERE project_id = ? AND "
                                               "name = ?",
                                           {project_id, name}));
    if (!rows.empty()) {
      l = read_listing(rows[0]);
      exists = true;
    }
    return {};
  }));
  if (!exists) {
    if (!body.contains("title") || !body.contains("tiers")) {
      return Status::invalid_argument(
          "a new listing needs 'title' and 'tiers' (each {name, channels, qps, term_days, "
          "price})");
    }
    l.id = ids_.next("lst_");
    l.project_id = project_id;
    l.project = project;
    l.workspace_id = workspace_id;
    l.name = name;
    l.created_by = actor;
    l.created_at_ms = clock_.now_unix_ms();
  }
  JZ_RETURN_IF_ERROR(apply_listing_body(body, l));
  l.updated_at_ms = clock_.now_unix_ms();
  Json customers = Json::array();
  for (const auto& c : l.customers) customers.push_back(c);
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    if (exists) {
      return c
          .exec(
              "UPDATE store_listings SET title = ?, description = ?, details = ?, tiers = ?, "
              "visibility = ?, customers = ?, updated_at_ms = ? WHERE id = ?",
              {l.title, l.description, l.details.dump(), tiers_json(l.tiers).dump(), l.visibility,
               customers.dump(), l.updated_at_ms, l.id})
          .status();
    }
    auto ins = c.exec(
        "INSERT INTO store_listings (id, project_id, project, workspace_id, name, title, "
        "description, details, tiers, visibility, customers, created_by, created_at_ms, "
        "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {l.id, l.project_id, l.project, l.workspace_id, l.name, l.title, l.description,
         l.details.dump(), tiers_json(l.tiers).dump(), l.visibility, customers.dump(), l.created_by,
         l.created_at_ms, l.updated_at_ms});
    if (!ins.ok() && ins.status().code() == Code::kAlreadyExists) {
      return Status::already_exists("the listing '" + l.name + "' was created meanwhile; retry");
    }
    return ins.status();
  }));
  return listing(project_id, name);
}

Result<Listing> AlgorithmStore::listing(const std::string& project_id, const std::string& name) {
  Listing l;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kListingColumns +
                                               " FROM store_listings WHERE project_id = ? AND "
                                               "name = ?",
                                           {project_id, name}));
    if (rows.empty()) return Status::not_found("no listing '" + name + "' in this project");
    l = read_listing(rows[0]);
    JZ_ASSIGN_OR_RETURN(l.versions, versions_of(c, l.id));
    return {};
  }));
  return l;
}

Result<std::vector<Listing>> AlgorithmStore::listings(const std::string& project_id) {
  std::vector<Listing> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kListingColumns +
                                               " FROM store_listings WHERE project_id = ? "
                                               "ORDER BY name",
                                           {project_id}));
    for (const auto& r : rows) {
      out.push_back(read_listing(r));
      JZ_ASSIGN_OR_RETURN(out.back().versions, versions_of(c, out.back().id));
    }
    return {};
  }));
  return out;
}

Result<std::vector<Listing>> AlgorithmStore::store_front(
    const std::function<bool(const Listing&)>& visible, const std::string& q,
    const std::string& tag) {
  std::vector<Listing> all;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT " + kListingColumns +
                                           " FROM store_listings ORDER BY updated_at_ms DESC, id"));
    for (const auto& r : rows) all.push_back(read_listing(r));
    return {};
  }));
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  const std::string needle = lower(q);
  std::vector<Listing> out;
  for (auto& l : all) {
    if (!visible(l)) continue;
    const Json tags = l.details.value("tags", Json::array());
    if (!tag.empty()) {
      bool has = false;
      for (const auto& t : tags)
        has = has || (t.is_string() && lower(t.get<std::string>()) == lower(tag));
      if (!has) continue;
    }
    if (!needle.empty()) {
      const std::string hay =
          lower(l.name + "\n" + l.title + "\n" + l.description + "\n" + tags.dump());
      if (hay.find(needle) == std::string::npos) continue;
    }
    out.push_back(std::move(l));
  }
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    for (auto& l : out) {
      JZ_ASSIGN_OR_RETURN(l.versions, versions_of(c, l.id));
    }
    return {};
  }));
  // Nothing to sell yet: not in the store front.
  std::erase_if(out, [](const Listing& l) { return l.versions.empty(); });
  return out;
}

Status AlgorithmStore::delete_listing(const std::string& project_id, const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Listing l, listing(project_id, name));
  return db_.transact([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto orders,
                        c.query("SELECT COUNT(*) FROM store_orders WHERE listing_id = ?", {l.id}));
    if (!orders.empty() && orders[0].integer(0) > 0) {
      return Status::failed_precondition(
          "'" + name + "' has " + orders[0].text(0) +
          " order(s): customers hold its codes; hide it instead (visibility workspace)");
    }
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM store_versions WHERE listing_id = ?", {l.id}).status());
    return c.exec("DELETE FROM store_listings WHERE id = ?", {l.id}).status();
  });
}

Result<Listing> AlgorithmStore::add_version(const std::string& project_id, const std::string& name,
                                            const Json& body, const std::string& actor) {
  JZ_RETURN_IF_ERROR(json::only_fields(body, {"version", "evaluations", "notes"}));
  JZ_ASSIGN_OR_RETURN(std::string version, json::required_string(body, "version"));
  JZ_ASSIGN_OR_RETURN(Listing l, listing(project_id, name));
  auto algo = autotest_.algorithm(project_id, name, version);
  if (!algo.ok()) {
    return Status::failed_precondition("no package " + name + " " + version +
                                       " in this project: upload it first (`jizhan autotest "
                                       "algorithm upload`)");
  }
  if (algo->state != "ready") {
    return Status::failed_precondition("package " + name + " " + version + " is " + algo->state +
                                       (algo->message.empty() ? "" : " (" + algo->message + ")") +
                                       ": only a package that passed its checks is sold");
  }
  sdk::SigningKey key;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(key, publisher_key(c, project_id));
    return {};
  }));
  if (algo->key_id != key.pub.key_id) {
    return Status::failed_precondition(
        "package " + name + " " + version + " is signed by '" + algo->publisher + "' (" +
        algo->key_id + "), not by the project's publisher key '" + key.pub.name + "' (" +
        key.pub.key_id + "): a customer's licence and package must name one publisher");
  }
  Json reports = Json::array();
  const Json evaluations = body.value("evaluations", Json::array());
  if (!evaluations.is_array() || evaluations.size() > 50) {
    return Status::invalid_argument("field 'evaluations' must list up to 50 evaluation ids");
  }
  for (const auto& id : evaluations) {
    if (!id.is_string()) return Status::invalid_argument("field 'evaluations' lists ids");
    auto e = autotest_.evaluation(project_id, id.get<std::string>());
    if (!e.ok()) {
      return Status::invalid_argument("evaluation " + id.get<std::string>() +
                                      " is not one of this project's");
    }
    if (e->algorithm != name || e->algorithm_version != version) {
      return Status::invalid_argument("evaluation " + e->id + " tested " + e->algorithm + " " +
                                      e->algorithm_version + ", not " + name + " " + version);
    }
    if (e->state != "passed") {
      return Status::invalid_argument("evaluation " + e->id + " is " + e->state +
                                      ": a listing shows only evaluations that passed");
    }
    // The redacted view: a listing is seen by customers, never the suite's samples.
    Json view = e->to_json(false);
    reports.push_back({{"evaluation", e->id},
                       {"suite", e->suite},
                       {"suite_version", e->suite_version},
                       {"state", e->state},
                       {"metrics", view["result"].value("metrics", Json::object())},
                       {"performance", view["result"].value("performance", Json::object())},
                       {"finished_at", e->finished_at_ms ? iso(*e->finished_at_ms) : ""}});
  }
  const std::string notes = json::string_or(body, "notes");
  if (notes.size() > 20000) return Status::invalid_argument("field 'notes' is over 20000 bytes");
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    auto ins = c.exec(
        "INSERT INTO store_versions (listing_id, version, algorithm_id, sha256, size, reports, "
        "notes, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {l.id, version, algo->id, algo->sha256, algo->size, reports.dump(), notes, actor,
         clock_.now_unix_ms()});
    if (!ins.ok() && ins.status().code() == Code::kAlreadyExists) {
      return Status::already_exists(name + " " + version + " is listed already");
    }
    return ins.status();
  }));
  return listing(project_id, name);
}

// ---- orders and codes

Result<Order> AlgorithmStore::create_order(const std::string& project_id, const std::string& name,
                                           const Json& body, const std::string& actor) {
  JZ_RETURN_IF_ERROR(json::only_fields(body, {"tier", "customer", "seats", "codes_per"}));
  JZ_ASSIGN_OR_RETURN(Listing l, listing(project_id, name));
  JZ_ASSIGN_OR_RETURN(std::string tier_name, json::required_string(body, "tier"));
  const Tier* tier = nullptr;
  for (const auto& t : l.tiers) tier = t.name == tier_name ? &t : tier;
  if (!tier) {
    std::string names;
    for (const auto& t : l.tiers) names += (names.empty() ? "" : ", ") + t.name;
    return Status::invalid_argument("field 'tier': '" + name + "' has no tier '" + tier_name +
                                    "' (it has " + names + ")");
  }
  JZ_ASSIGN_OR_RETURN(std::string customer, json::required_string(body, "customer"));
  if (customer.size() > 200) return Status::invalid_argument("field 'customer' is too long");
  JZ_ASSIGN_OR_RETURN(int64_t seats, json::required_int(body, "seats"));
  if (seats < 1 || seats > 10000) {
    return Status::invalid_argument("field 'seats' must be 1 to 10000 machines");
  }
  const std::string codes_per = json::string_or(body, "codes_per", "seat");
  if (codes_per != "seat" && codes_per != "order") {
    return Status::invalid_argument(
        "field 'codes_per' must be seat (a code for each machine) or order (one code for all)");
  }
  Order o;
  o.id = ids_.next("ord_");
  o.listing_id = l.id;
  o.project_id = project_id;
  o.listing = l.name;
  o.tier = tier->name;
  o.customer = customer;
  o.seats = seats;
  o.codes_per = codes_per;
  o.channels = tier->channels;
  o.qps = tier->qps;
  o.created_by = actor;
  o.created_at_ms = clock_.now_unix_ms();
  o.valid_until_ms = o.created_at_ms + tier->term_days * kDayMs;
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(
        c.exec("INSERT INTO store_orders (id, listing_id, project_id, tier, "
               "customer, seats, codes_per, channels, qps, valid_until_ms, "
               "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?)",
               {o.id, o.listing_id, o.project_id, o.tier, o.customer, o.seats, o.codes_per,
                o.channels, o.qps, o.valid_until_ms, o.created_by, o.created_at_ms})
            .status());
    const int64_t n = codes_per == "seat" ? seats : 1;
    for (int64_t i = 0; i < n; ++i) {
      const std::string code = sdk::new_activation_code();
      JZ_RETURN_IF_ERROR(
          c.exec("INSERT INTO store_codes (id, sha256, order_id, project_id, sealed, seats, "
                 "state, reason, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, 'active', '', ?)",
                 {ids_.next("acd_"), sha256_hex(code), o.id, project_id, box_.seal(code),
                  codes_per == "seat" ? int64_t{1} : seats, o.created_at_ms})
              .status());
    }
    return {};
  }));
  return order(project_id, o.id);
}

namespace {

// An order's listing name and codes (opened), each with its seats in use: one query for
// the codes, one for their activation counts.
Status fill_order(Conn& c, const alerts::SecretBox& box, Order& o) {
  JZ_ASSIGN_OR_RETURN(auto name,
                      c.query("SELECT name FROM store_listings WHERE id = ?", {o.listing_id}));
  if (!name.empty()) o.listing = name[0].text(0);
  JZ_ASSIGN_OR_RETURN(auto codes,
                      store::query_all(c, kCode,
                                       "SELECT " + kCode.columns() +
                                           " FROM store_codes WHERE order_id = ? ORDER BY id",
                                       {o.id}));
  JZ_ASSIGN_OR_RETURN(auto counts,
                      c.query("SELECT a.code_id, COUNT(*) FROM store_activations a JOIN "
                              "store_codes k ON k.id = a.code_id WHERE k.order_id = ? GROUP BY "
                              "a.code_id",
                              {o.id}));
  std::map<std::string, int64_t> used;
  for (const auto& r : counts) used[r.text(0)] = r.integer(1);
  o.codes.clear();
  for (const auto& k : codes) {
    auto plain = box.open(k.sealed);
    Json code = {{"id", k.id},       {"code", plain.ok() ? *plain : std::string()},
                 {"seats", k.seats}, {"used", used.count(k.id) ? used[k.id] : 0},
                 {"state", k.state}, {"reason", k.reason}};
    if (k.revoked_at_ms) code["revoked_at"] = iso(*k.revoked_at_ms);
    o.codes.push_back(std::move(code));
  }
  return {};
}

}  // namespace

Result<Order> AlgorithmStore::order(const std::string& project_id, const std::string& id) {
  Order o;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        o, store::query_one(
               c, kOrder,
               "SELECT " + kOrder.columns() + " FROM store_orders WHERE id = ? AND project_id = ?",
               {id, project_id}, "no order " + id + " in this project"));
    return fill_order(c, box_, o);
  }));
  return o;
}

Result<std::vector<Order>> AlgorithmStore::orders(const std::string& project_id,
                                                  const std::string& listing_name) {
  std::vector<Order> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    std::string sql = "SELECT " + kOrder.columns() + " FROM store_orders WHERE project_id = ?";
    Params p{project_id};
    if (!listing_name.empty()) {
      sql += " AND listing_id IN (SELECT id FROM store_listings WHERE project_id = ? AND name = ?)";
      p.emplace_back(project_id);
      p.emplace_back(listing_name);
    }
    JZ_ASSIGN_OR_RETURN(out, store::query_all(c, kOrder, sql + " ORDER BY id DESC", p));
    for (auto& o : out) {
      JZ_RETURN_IF_ERROR(fill_order(c, box_, o));
    }
    return {};
  }));
  return out;
}

Status AlgorithmStore::revoke_code(const std::string& project_id, const std::string& code_id,
                                   const std::string& reason, const std::string& actor) {
  if (reason.size() > 500) return Status::invalid_argument("field 'reason' is over 500 bytes");
  return db_.transact([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto n, c.exec("UPDATE store_codes SET state = 'revoked', reason = ?, "
                       "revoked_by = ?, revoked_at_ms = ? WHERE id = ? AND "
                       "project_id = ?",
                       {reason.empty() ? std::string("revoked by the seller") : reason, actor,
                        clock_.now_unix_ms(), code_id, project_id}));
    if (n == 0) return Status::not_found("no code " + code_id + " in this project");
    return {};
  });
}

Result<Json> AlgorithmStore::activations(const std::string& project_id,
                                         const std::string& code_id) {
  Json out = Json::array();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto code, c.query("SELECT id FROM store_codes WHERE id = ? AND "
                                           "project_id = ?",
                                           {code_id, project_id}));
    if (code.empty()) return Status::not_found("no code " + code_id + " in this project");
    JZ_ASSIGN_OR_RETURN(
        auto rows, store::query_all(c, kActivation,
                                    "SELECT " + kActivation.columns() +
                                        " FROM store_activations WHERE code_id = ? ORDER BY id",
                                    {code_id}));
    for (const auto& a : rows) {
      JZ_ASSIGN_OR_RETURN(auto usage, c.query("SELECT COUNT(*), COALESCE(SUM(frames), 0), "
                                              "COALESCE(MAX(channels), 0), MAX(to_ms) FROM "
                                              "store_usage WHERE activation_id = ?",
                                              {a.id}));
      Json u = {{"reports", usage[0].integer(0)},
                {"frames", usage[0].integer(1)},
                {"max_channels", usage[0].integer(2)}};
      if (!usage[0].is_null(3)) u["last_until"] = iso(usage[0].integer(3));
      out.push_back({{"id", a.id},
                     {"fingerprint", a.fingerprint},
                     {"licence_id", a.licence_id},
                     {"version", a.version},
                     {"activated_at", iso(a.created_at_ms)},
                     {"renewed_at", iso(a.renewed_at_ms)},
                     {"valid_until", iso(a.valid_until_ms)},
                     {"usage", u}});
    }
    return {};
  }));
  return out;
}

// ---- activation

Result<Activation> AlgorithmStore::activate(const std::string& code,
                                            const std::string& fingerprint) {
  Result<Activation> out = Status::internal("unset");
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    out = activate_in(c, code, fingerprint, "");
    return out.status();
  }));
  return out;
}

Result<Activation> AlgorithmStore::offline_licence(const std::string& project_id,
                                                   const std::string& request) {
  JZ_ASSIGN_OR_RETURN(sdk::ActivationRequest r, sdk::parse_activation_request(request));
  Result<Activation> out = Status::internal("unset");
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    out = activate_in(c, r.code, r.fingerprint, project_id);
    return out.status();
  }));
  return out;
}

Result<Activation> AlgorithmStore::activate_in(Conn& c, const std::string& raw_code,
                                               const std::string& fingerprint,
                                               const std::string& project_id) {
  JZ_ASSIGN_OR_RETURN(std::string code, sdk::normalize_activation_code(raw_code));
  if (!valid_fingerprint(fingerprint)) {
    return Status::invalid_argument(
        "field 'fingerprint' must be the machine's fingerprint (8 to 64 hex digits and '-'; "
        "`jizhan client fingerprint`)");
  }
  const bool postgres = db_.dialect() == store::Dialect::kPostgres;
  // The code's row is the lock that counts its seats: PostgreSQL locks it, SQLite's one
  // writer (BEGIN IMMEDIATE) holds every row already.
  JZ_ASSIGN_OR_RETURN(auto codes, store::query_all(c, kCode,
                                                   "SELECT " + kCode.columns() +
                                                       " FROM store_codes WHERE sha256 = ?" +
                                                       (postgres ? " FOR UPDATE" : ""),
                                                   {sha256_hex(code)}));
  if (codes.empty() || (!project_id.empty() && codes[0].project_id != project_id)) {
    return Status::not_found("activation code " + code.substr(0, 4) +
                             "-...: no such code in this store (check it with the seller)");
  }
  const CodeRow& k = codes[0];
  if (k.state == "revoked") {
    return Status::permission_denied("activation code " + code.substr(0, 4) + "-... was revoked" +
                                     (k.revoked_at_ms ? " on " + iso(*k.revoked_at_ms) : "") +
                                     ": " + k.reason);
  }
  JZ_ASSIGN_OR_RETURN(
      Order o,
      store::query_one(c, kOrder, "SELECT " + kOrder.columns() + " FROM store_orders WHERE id = ?",
                       {k.order_id}, "the code's order is gone"));
  const int64_t now = clock_.now_unix_ms();
  if (now >= o.valid_until_ms) {
    return Status::permission_denied("activation code " + code.substr(0, 4) +
                                     "-...: its order's term ended on " + iso(o.valid_until_ms) +
                                     "; renew the order with the seller");
  }
  JZ_ASSIGN_OR_RETURN(
      auto lrows,
      c.query("SELECT " + kListingColumns + " FROM store_listings WHERE id = ?", {o.listing_id}));
  if (lrows.empty()) return Status::failed_precondition("the code's listing is gone");
  const Listing l = read_listing(lrows[0]);
  JZ_ASSIGN_OR_RETURN(VersionRow v, latest_version(c, l.id, l.name));
  JZ_ASSIGN_OR_RETURN(
      auto existing,
      store::query_all(c, kActivation,
                       "SELECT " + kActivation.columns() +
                           " FROM store_activations WHERE code_id = ? ORDER BY created_at_ms",
                       {k.id}));
  const ActivationRow* mine = nullptr;
  for (const auto& a : existing) mine = a.fingerprint == fingerprint ? &a : mine;
  if (!mine && static_cast<int64_t>(existing.size()) >= k.seats) {
    return Status::failed_precondition(
        "activation code " + code.substr(0, 4) + "-... is in use on all its " +
        std::to_string(k.seats) + " machine(s) (" + std::to_string(existing.size()) +
        " activated): ask the seller for more seats, or for the code to be moved");
  }
  JZ_ASSIGN_OR_RETURN(sdk::SigningKey key, publisher_key(c, o.project_id));
  sdk::IssueOptions io;
  io.key = key;
  io.activation_code = code;
  io.licence.id = mine ? mine->licence_id : std::string();
  io.licence.algorithm = l.name;
  io.licence.customer = o.customer;
  io.licence.machine = fingerprint;
  io.licence.valid_from = Clock::WallTime(std::chrono::milliseconds(now));
  const int64_t until = std::min(o.valid_until_ms, now + options_.licence_days * kDayMs);
  io.licence.valid_until = Clock::WallTime(std::chrono::milliseconds(until));
  io.licence.channels = static_cast<int>(o.channels);
  io.licence.qps = o.qps;
  JZ_ASSIGN_OR_RETURN(sdk::Issued issued, sdk::issue_licence(io));
  const std::string token = random_hex(SecureRandom::instance(), 24);
  const int64_t token_until =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(options_.download_ttl).count();
  if (mine) {
    JZ_RETURN_IF_ERROR(c.exec("UPDATE store_activations SET renewed_at_ms = ?, valid_until_ms = "
                              "?, version = ?, download_sha256 = ?, download_until_ms = ? WHERE "
                              "id = ?",
                              {now, until, v.version, sha256_hex(token), token_until, mine->id})
                           .status());
  } else {
    JZ_RETURN_IF_ERROR(
        c.exec("INSERT INTO store_activations (id, code_id, fingerprint, licence_id, version, "
               "download_sha256, download_until_ms, created_at_ms, renewed_at_ms, "
               "valid_until_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               {ids_.next("act_"), k.id, fingerprint, issued.licence.id, v.version,
                sha256_hex(token), token_until, now, now, until})
            .status());
  }
  Activation a;
  a.licence_text = issued.file_text;
  a.licence = issued.licence;
  a.listing = l.name;
  a.project = l.project;
  a.version = v.version;
  a.sha256 = v.sha256;
  a.size = v.size;
  a.download = token;
  a.publisher = key.pub;
  a.renewed = mine != nullptr;
  if (logger_) {
    logger_->info("store: {} {} of {} for machine {} (code {})", mine ? "renewed" : "activated",
                  issued.licence.id, l.name, fingerprint, k.id);
  }
  return a;
}

Result<std::string> AlgorithmStore::download_path(const std::string& token) {
  std::string path;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT a.version, a.download_until_ms, l.project_id, l.name, "
                                "k.state FROM store_activations a JOIN store_codes k ON k.id = "
                                "a.code_id JOIN store_orders o ON o.id = k.order_id JOIN "
                                "store_listings l ON l.id = o.listing_id WHERE "
                                "a.download_sha256 = ?",
                                {sha256_hex(token)}));
    if (rows.empty() || rows[0].integer(1) <= clock_.now_unix_ms() || rows[0].text(4) != "active") {
      return Status::not_found(
          "this download link is unknown or expired: activate again for a new one");
    }
    JZ_ASSIGN_OR_RETURN(auto algo,
                        autotest_.algorithm(rows[0].text(2), rows[0].text(3), rows[0].text(0)));
    path = autotest_.package_path(algo);
    return {};
  }));
  return path;
}

Result<int64_t> AlgorithmStore::report_usage(const Json& body) {
  JZ_RETURN_IF_ERROR(json::only_fields(body, {"code", "fingerprint", "licence", "reports"}));
  JZ_ASSIGN_OR_RETURN(std::string raw, json::required_string(body, "code"));
  JZ_ASSIGN_OR_RETURN(std::string code, sdk::normalize_activation_code(raw));
  JZ_ASSIGN_OR_RETURN(std::string fingerprint, json::required_string(body, "fingerprint"));
  JZ_ASSIGN_OR_RETURN(std::string licence, json::required_string(body, "licence"));
  const Json reports = body.value("reports", Json::array());
  if (!reports.is_array() || reports.empty() || reports.size() > 1000) {
    return Status::invalid_argument("field 'reports' must list 1 to 1000 usage reports");
  }
  int64_t stored = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT a.id, a.code_id, a.licence_id FROM "
                                           "store_activations a JOIN store_codes k ON k.id = "
                                           "a.code_id WHERE k.sha256 = ? AND a.fingerprint = ?",
                                           {sha256_hex(code), fingerprint}));
    if (rows.empty() || rows[0].text(2) != licence) {
      return Status::permission_denied(
          "no activation of this code on this machine with that licence: activate first");
    }
    const int64_t now = clock_.now_unix_ms();
    for (const auto& r : reports) {
      if (!r.is_object()) return Status::invalid_argument("field 'reports': each is an object");
      JZ_RETURN_IF_ERROR(
          json::only_fields(r, {"id", "from", "to", "frames", "channels", "algorithm"}));
      auto t0 = parse_rfc3339(json::string_or(r, "from"));
      auto t1 = parse_rfc3339(json::string_or(r, "to"));
      if (!t0.ok() || !t1.ok() || *t1 < *t0) {
        return Status::invalid_argument(
            "field 'reports': 'from' and 'to' must be RFC 3339 times, from <= to");
      }
      const int64_t frames = r.value("frames", int64_t{-1});
      const int64_t channels = r.value("channels", int64_t{0});
      if (frames < 0 || channels < 0) {
        return Status::invalid_argument("field 'reports': 'frames' and 'channels' are counts");
      }
      // A report the client sends again (it queues them while offline) is kept once.
      const std::string id = json::string_or(r, "id");
      if (id.empty() || id.size() > 64) {
        return Status::invalid_argument("field 'reports': each needs the client's 'id'");
      }
      const std::string key = rows[0].text(0) + "/" + id;
      JZ_ASSIGN_OR_RETURN(auto seen, c.query("SELECT 1 FROM store_usage WHERE id = ?", {key}));
      if (!seen.empty()) continue;
      JZ_RETURN_IF_ERROR(
          c.exec("INSERT INTO store_usage (id, activation_id, code_id, algorithm, from_ms, "
                 "to_ms, frames, channels, received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 {key, rows[0].text(0), rows[0].text(1), json::string_or(r, "algorithm"),
                  std::chrono::duration_cast<std::chrono::milliseconds>(t0->time_since_epoch())
                      .count(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(t1->time_since_epoch())
                      .count(),
                  frames, channels, now})
              .status());
      ++stored;
    }
    return {};
  }));
  return stored;
}

}  // namespace jz::algostore
