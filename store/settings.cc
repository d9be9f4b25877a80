#include "store/settings.h"

namespace jz::store {
namespace {
Setting from_row(const Row& r) {
  return {r.text("key"), r.text("value"), r.integer("revision"), r.integer("updated_at_ms")};
}
}  // namespace

Status SettingsRepo::validate_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) {
    return Status::invalid_argument("setting key must be 1 to " + std::to_string(kMaxKeyLength) +
                                    " characters long, got " + std::to_string(key.size()));
  }
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::invalid_argument("setting key '" + std::string(key) +
                                      "' has a character other than a-z, 0-9, '.', '_', '-' at "
                                      "position " +
                                      std::to_string(i + 1));
    }
  }
  return {};
}

Result<Setting> SettingsRepo::put(const std::string& key, const std::string& value_json) {
  JZ_RETURN_IF_ERROR(validate_key(key));
  if (value_json.size() > kMaxValueBytes) {
    return Status::invalid_argument("setting value is " + std::to_string(value_json.size()) +
                                    " bytes; the limit is " + std::to_string(kMaxValueBytes));
  }
  Setting out;
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("INSERT INTO settings (key, value, revision, updated_at_ms) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "revision = settings.revision + 1, updated_at_ms = excluded.updated_at_ms "
                "RETURNING key, value, revision, updated_at_ms",
                {key, value_json, clock_.now_unix_ms()}));
    out = from_row(rows.at(0));
    return {};
  }));
  return out;
}

Result<Setting> SettingsRepo::get(const std::string& key) {
  JZ_RETURN_IF_ERROR(validate_key(key));
  std::optional<Setting> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT key, value, revision, updated_at_ms FROM "
                                           "settings WHERE key = ?",
                                           {key}));
    if (!rows.empty()) out = from_row(rows[0]);
    return {};
  }));
  if (!out) return Status::not_found("setting '" + key + "' does not exist");
  return *out;
}

Result<SettingsPage> SettingsRepo::list(const std::string& page_token, int limit) {
  if (limit < 1 || limit > 1000) {
    return Status::invalid_argument("page size must be between 1 and 1000, got " +
                                    std::to_string(limit));
  }
  SettingsPage page;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT key, value, revision, updated_at_ms FROM settings "
                                "WHERE key > ? ORDER BY key LIMIT ?",
                                {page_token, int64_t{limit} + 1}));
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
      page.items.push_back(from_row(rows[i]));
    }
    if (rows.size() > static_cast<size_t>(limit)) page.next_page_token = page.items.back().key;
    return {};
  }));
  return page;
}

Status SettingsRepo::remove(const std::string& key) {
  JZ_RETURN_IF_ERROR(validate_key(key));
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n, c.exec("DELETE FROM settings WHERE key = ?", {key}));
    return {};
  }));
  if (n == 0) return Status::not_found("setting '" + key + "' does not exist");
  return {};
}

}  // namespace jz::store
