// Layered configuration with a declared schema.
//
// A program declares every key once (name, type, default, help) in a ConfigSchema.
// load_config() then applies, lowest precedence first: the defaults, a YAML file
// (nested maps: `server: {listen: ...}` is key `server.listen`), environment
// variables `JIZHAN_<KEY>` (dots become underscores, upper case:
// JIZHAN_SERVER_LISTEN), and command-line overrides. Unknown keys and wrongly typed
// values are errors whose one-line message names the key, where it came from and
// what to do. A loaded Config is immutable and safe to read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jz {

enum class ConfigType { kString, kInt, kBool, kEnum };

struct ConfigKey {
  std::string name;  // "server.listen"
  ConfigType type = ConfigType::kString;
  std::string default_value;         // in the same text form a file or variable would use
  std::string help;                  // one sentence, shown by `--help` and in docs/CONFIG.md
  std::vector<std::string> choices;  // kEnum only
  int64_t min = INT64_MIN;           // kInt only
  int64_t max = INT64_MAX;           // kInt only
  bool secret = false;               // redacted when the config is printed
};

class ConfigSchema {
 public:
  ConfigSchema& add(ConfigKey key);
  const ConfigKey* find(std::string_view name) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }
  // The environment variable that overrides `name`: "JIZHAN_SERVER_LISTEN".
  static std::string env_name(std::string_view name);

 private:
  std::vector<ConfigKey> keys_;
};

// Where a value came from, for error messages and `jizhan config show`.
struct ConfigOverride {
  std::string key;
  std::string value;
  std::string source;  // "flag --listen"
};

struct ConfigSources {
  std::optional<std::string> file;                       // YAML file path; absent means none
  std::vector<std::pair<std::string, std::string>> env;  // name/value pairs, e.g. environ
  std::vector<ConfigOverride> overrides;                 // applied last, in order
  // JIZHAN_* variables that are not config keys but are read elsewhere (never errors).
  std::vector<std::string> reserved_env;
};

class Config {
 public:
  const std::string& get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  // "file config.yaml", "environment JIZHAN_X", "flag --x" or "default".
  const std::string& source_of(std::string_view key) const;
  // Every key as "key = value  (source)", secrets shown as "***".
  std::vector<std::string> describe() const;

 private:
  friend Result<Config> load_config(const ConfigSchema&, const ConfigSources&);
  // Entries hold a copy of their key, so a Config outlives the schema it was loaded with.
  struct Entry {
    ConfigKey key;
    std::string value;
    std::string source;
  };
  const Entry& entry(std::string_view key) const;
  std::map<std::string, Entry, std::less<>> entries_;
};

Result<Config> load_config(const ConfigSchema& schema, const ConfigSources& sources);

// Parses the YAML text of a config file into flat (key, value) pairs, checking keys
// against the schema. `origin` names the file in messages. Exposed for fuzzing.
Result<std::vector<std::pair<std::string, std::string>>> parse_config_yaml(
    const ConfigSchema& schema, std::string_view text, std::string_view origin);

// Checks `value` against the key's type; returns the normalised text ("true", "42").
Result<std::string> check_config_value(const ConfigKey& key, std::string_view value,
                                       std::string_view source);

// Reads the process environment into name/value pairs.
std::vector<std::pair<std::string, std::string>> process_environment();

}  // namespace jz
