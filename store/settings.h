// Platform settings: named JSON values that operators set at run time (the first
// repository; later repositories follow its shape). Keys are 1-128 characters of
// [a-z0-9._-]; values are JSON texts up to 64 KiB. Every write bumps `revision`.
//
// Thread-safe: each call is one transaction on the shared Database.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "store/database.h"

namespace jz::store {

struct Setting {
  std::string key;
  std::string value_json;
  int64_t revision = 0;
  int64_t updated_at_ms = 0;
};

struct SettingsPage {
  std::vector<Setting> items;
  std::string next_page_token;  // empty on the last page
};

class SettingsRepo {
 public:
  static constexpr size_t kMaxKeyLength = 128;
  static constexpr size_t kMaxValueBytes = size_t{64} * 1024;

  SettingsRepo(Database& db, Clock& clock) : db_(db), clock_(clock) {}

  // Creates or replaces; returns the stored row.
  Result<Setting> put(const std::string& key, const std::string& value_json);
  Result<Setting> get(const std::string& key);
  // Keys in ascending order after `page_token` (a key), at most `limit` (1..1000).
  Result<SettingsPage> list(const std::string& page_token, int limit);
  Status remove(const std::string& key);

  static Status validate_key(std::string_view key);

 private:
  Database& db_;
  Clock& clock_;
};

}  // namespace jz::store
