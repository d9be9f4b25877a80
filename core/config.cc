#include "core/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

extern char** environ;

namespace jz {
namespace {

// Levenshtein distance, for "did you mean" hints on misspelt keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(const ConfigSchema& schema, std::string_view name) {
  const ConfigKey* best = nullptr;
  size_t best_d = 4;  // only suggest close matches
  for (const auto& k : schema.keys()) {
    size_t d = edit_distance(k.name, name);
    if (d < best_d) best_d = d, best = &k;
  }
  if (!best) return " (see docs/CONFIG.md or `jizhan config keys` for the known keys)";
  return " (did you mean '" + best->name + "'? see docs/CONFIG.md)";
}

std::string type_name(const ConfigKey& k) {
  switch (k.type) {
    case ConfigType::kString:
      return "a string";
    case ConfigType::kInt:
      return "an integer";
    case ConfigType::kBool:
      return "true or false";
    case ConfigType::kEnum: {
      std::string s = "one of ";
      for (size_t i = 0; i < k.choices.size(); ++i) {
        if (i) s += ", ";
        s += k.choices[i];
      }
      return s;
    }
  }
  return "a value";
}

Status unknown_key(const ConfigSchema& schema, std::string_view key, std::string_view source) {
  return Status::invalid_argument(std::string(source) + ": unknown config key '" +
                                  std::string(key) + "'" + suggestion(schema, key));
}

void flatten(const YAML::Node& node, const std::string& prefix, const ConfigSchema& schema,
             std::string_view origin, std::vector<std::pair<std::string, std::string>>& out,
             Status& err) {
  if (!err.ok()) return;
  for (const auto& item : node) {
    std::string name;
    try {
      name = item.first.as<std::string>();
    } catch (const YAML::Exception&) {
      err = Status::invalid_argument(std::string(origin) + ": line " +
                                     std::to_string(item.first.Mark().line + 1) +
                                     ": keys must be plain names");
      return;
    }
    std::string full = prefix.empty() ? name : prefix + "." + name;
    const YAML::Node& v = item.second;
    if (v.IsMap()) {
      flatten(v, full, schema, origin, out, err);
      if (!err.ok()) return;
      continue;
    }
    const ConfigKey* key = schema.find(full);
    std::string where = std::string(origin) + ": line " + std::to_string(v.Mark().line + 1);
    if (!key) {
      err = unknown_key(schema, full, where);
      return;
    }
    if (!v.IsScalar()) {
      err = Status::invalid_argument(where + ": config key '" + full + "' must be " +
                                     type_name(*key) + ", got a " +
                                     (v.IsSequence() ? "list" : "null value"));
      return;
    }
    out.emplace_back(full, v.Scalar());
  }
}

}  // namespace

ConfigSchema& ConfigSchema::add(ConfigKey key) {
  keys_.push_back(std::move(key));
  return *this;
}

const ConfigKey* ConfigSchema::find(std::string_view name) const {
  for (const auto& k : keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string ConfigSchema::env_name(std::string_view name) {
  std::string s = "JIZHAN_";
  for (char c : name) {
    s.push_back(c == '.' || c == '-'
                    ? '_'
                    : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return s;
}

Result<std::string> check_config_value(const ConfigKey& key, std::string_view value,
                                       std::string_view source) {
  auto bad = [&](const std::string& extra = "") {
    return Status::invalid_argument(std::string(source) + ": config key '" + key.name +
                                    "' must be " + type_name(key) + ", got '" + std::string(value) +
                                    "'" + extra);
  };
  switch (key.type) {
    case ConfigType::kString:
      return std::string(value);
    case ConfigType::kBool: {
      std::string v(value);
      std::transform(v.begin(), v.end(), v.begin(), ::tolower);
      if (v == "true" || v == "yes" || v == "on" || v == "1") return std::string("true");
      if (v == "false" || v == "no" || v == "off" || v == "0") return std::string("false");
      return bad();
    }
    case ConfigType::kInt: {
      if (value.empty() || value.size() > 19) return bad();
      size_t i = value[0] == '-' ? 1 : 0;
      if (i == value.size()) return bad();
      for (size_t j = i; j < value.size(); ++j) {
        if (!std::isdigit(static_cast<unsigned char>(value[j]))) return bad();
      }
      int64_t n = std::stoll(std::string(value));
      if (n < key.min || n > key.max) {
        return bad(" (allowed range " + std::to_string(key.min) + ".." + std::to_string(key.max) +
                   ")");
      }
      return std::to_string(n);
    }
    case ConfigType::kEnum:
      for (const auto& c : key.choices) {
        if (c == value) return std::string(value);
      }
      return bad();
  }
  return bad();
}

Result<std::vector<std::pair<std::string, std::string>>> parse_config_yaml(
    const ConfigSchema& schema, std::string_view text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(std::string(origin) + ": line " +
                                    std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (root.IsNull()) return out;  // an empty file is a valid, empty config
  if (!root.IsMap()) {
    return Status::invalid_argument(std::string(origin) +
                                    ": the top level must be a map of keys (server:, store:, ...)");
  }
  Status err;
  try {
    flatten(root, "", schema, origin, out, err);
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(std::string(origin) + ": not valid YAML: " + e.msg);
  }
  if (!err.ok()) return err;
  return out;
}

Result<Config> load_config(const ConfigSchema& schema, const ConfigSources& sources) {
  Config cfg;
  for (const auto& k : schema.keys()) {
    cfg.entries_[k.name] = Config::Entry{k, k.default_value, "default"};
  }
  auto set = [&](const std::string& key, const std::string& value,
                 const std::string& source) -> Status {
    const ConfigKey* k = schema.find(key);
    if (!k) return unknown_key(schema, key, source);
    JZ_ASSIGN_OR_RETURN(std::string v, check_config_value(*k, value, source));
    cfg.entries_[key] = Config::Entry{*k, std::move(v), source};
    return {};
  };

  if (sources.file) {
    std::ifstream in(*sources.file);
    if (!in) {
      return Status::invalid_argument("config file '" + *sources.file +
                                      "' cannot be read: check the path given to --config");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string origin = "config file '" + *sources.file + "'";
    JZ_ASSIGN_OR_RETURN(auto pairs, parse_config_yaml(schema, ss.str(), origin));
    for (const auto& [k, v] : pairs) JZ_RETURN_IF_ERROR(set(k, v, origin));
  }

  for (const auto& [name, value] : sources.env) {
    if (name.rfind("JIZHAN_", 0) != 0) continue;
    if (std::find(sources.reserved_env.begin(), sources.reserved_env.end(), name) !=
        sources.reserved_env.end()) {
      continue;
    }
    const ConfigKey* match = nullptr;
    for (const auto& k : schema.keys()) {
      if (ConfigSchema::env_name(k.name) == name) match = &k;
    }
    if (!match) {
      return Status::invalid_argument("environment variable " + name +
                                      " is not a Jizhan config key: unset it or fix its name "
                                      "(JIZHAN_ plus the key in upper case with '_' for '.'; "
                                      "see docs/CONFIG.md)");
    }
    JZ_RETURN_IF_ERROR(set(match->name, value, "environment variable " + name));
  }

  for (const auto& o : sources.overrides) JZ_RETURN_IF_ERROR(set(o.key, o.value, o.source));
  return cfg;
}

const Config::Entry& Config::entry(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    // A key missing from the schema is a programming error, not a user error.
    throw std::logic_error("config key not declared in schema: " + std::string(key));
  }
  return it->second;
}

const std::string& Config::get_string(std::string_view key) const { return entry(key).value; }
int64_t Config::get_int(std::string_view key) const { return std::stoll(entry(key).value); }
bool Config::get_bool(std::string_view key) const { return entry(key).value == "true"; }
const std::string& Config::source_of(std::string_view key) const { return entry(key).source; }

std::vector<std::string> Config::describe() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) {
    std::string v = e.key.secret && !e.value.empty() ? "***" : e.value;
    out.push_back(name + " = " + v + "  (" + e.source + ")");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> process_environment() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

}  // namespace jz
