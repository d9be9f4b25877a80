#include "sdk/manifest.h"

#include <cctype>

#include "core/archive.h"

namespace jz::sdk {
namespace {

Status bad(const std::string& field, const std::string& what) {
  return Status::invalid_argument("manifest.json: field '" + field + "': " + what);
}

bool semver(std::string_view v) {
  // MAJOR.MINOR.PATCH with digits, then optionally -PRERELEASE of [0-9A-Za-z.-].
  size_t pos = 0;
  for (int part = 0; part < 3; ++part) {
    const size_t start = pos;
    while (pos < v.size() && std::isdigit(static_cast<unsigned char>(v[pos]))) ++pos;
    if (pos == start || pos - start > 9) return false;
    if (v[start] == '0' && pos - start > 1) return false;
    if (part < 2) {
      if (pos >= v.size() || v[pos] != '.') return false;
      ++pos;
    }
  }
  if (pos == v.size()) return true;
  if (v[pos] != '-' || pos + 1 == v.size()) return false;
  for (++pos; pos < v.size(); ++pos) {
    const char c = v[pos];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

bool valid_package_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

bool valid_version(std::string_view version) { return version.size() <= 64 && semver(version); }

Status check_package_path(std::string_view p, std::string_view field) {
  if (const std::string why = relative_path_fault(p); !why.empty())
    return bad(std::string(field), why);
  return {};
}

Json Manifest::to_json() const {
  Json models_json = Json::array();
  for (const auto& m : models) models_json.push_back({{"path", m.path}, {"sha256", m.sha256}});
  return {{"name", name},
          {"version", version},
          {"abi_version", abi_version},
          {"library", library},
          {"models", models_json},
          {"config_schema", config_schema},
          {"default_config", default_config},
          {"inputs", inputs},
          {"output_schema", output_schema},
          {"licence", {{"required", licence_required}}}};
}

Result<Manifest> parse_manifest(std::string_view text) {
  auto parsed = json::parse(text, "manifest.json");
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (!j.is_object()) return Status::invalid_argument("manifest.json must be a JSON object");
  static const char* kKnown[] = {"name",          "version",       "abi_version",    "library",
                                 "models",        "config_schema", "default_config", "inputs",
                                 "output_schema", "licence",       "description"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) return bad(it.key(), "unknown field");
  }
  Manifest m;
  auto str = [&](const char* f, std::string& out) -> Status {
    if (!j.contains(f) || !j[f].is_string()) return bad(f, "required, a string");
    out = j[f].get<std::string>();
    return {};
  };
  JZ_RETURN_IF_ERROR(str("name", m.name));
  if (m.name.empty() || m.name.size() > 64) return bad("name", "1 to 64 characters");
  if (!valid_package_name(m.name)) return bad("name", "use a-z, 0-9, '_' and '-' only");
  JZ_RETURN_IF_ERROR(str("version", m.version));
  if (!semver(m.version)) return bad("version", "'" + m.version + "' is not MAJOR.MINOR.PATCH");
  if (!j.contains("abi_version") || !j["abi_version"].is_number_integer()) {
    return bad("abi_version", "required, an integer");
  }
  m.abi_version = j["abi_version"].get<int>();
  if (m.abi_version < 1) return bad("abi_version", "must be 1 or more");
  JZ_RETURN_IF_ERROR(str("library", m.library));
  JZ_RETURN_IF_ERROR(check_package_path(m.library, "library"));
  if (j.contains("models")) {
    if (!j["models"].is_array()) return bad("models", "a list of {path, sha256}");
    for (size_t i = 0; i < j["models"].size(); ++i) {
      const Json& e = j["models"][i];
      const std::string at = "models[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("path") || !e["path"].is_string() ||
          !e.contains("sha256") || !e["sha256"].is_string()) {
        return bad(at, "needs a string 'path' and a string 'sha256'");
      }
      Manifest::Model model{e["path"].get<std::string>(), e["sha256"].get<std::string>()};
      JZ_RETURN_IF_ERROR(check_package_path(model.path, at + ".path"));
      bool hex = model.sha256.size() == 64;
      for (char c : model.sha256)
        hex = hex && (std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'));
      if (!hex) return bad(at + ".sha256", "must be 64 lowercase hex digits");
      m.models.push_back(std::move(model));
    }
  }
  for (auto [f, out] :
       {std::pair{"config_schema", &m.config_schema},
        std::pair{"default_config", &m.default_config}, std::pair{"inputs", &m.inputs},
        std::pair{"output_schema", &m.output_schema}}) {
    if (!j.contains(f)) continue;
    if (!j[f].is_object()) return bad(f, "must be a JSON object");
    *out = j[f];
  }
  if (j.contains("licence")) {
    const Json& l = j["licence"];
    if (!l.is_object() || (l.contains("required") && !l["required"].is_boolean())) {
      return bad("licence", "must be {\"required\": true|false}");
    }
    m.licence_required = l.value("required", false);
  }
  return m;
}

}  // namespace jz::sdk
