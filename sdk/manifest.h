// The manifest of an algorithm package (manifest.json inside a .jzpkg): what the package
// holds and promises. Parsing validates every field and names the one that is wrong.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::sdk {

struct Manifest {
  std::string name;     // [a-z0-9_-]{1,64}
  std::string version;  // semantic version: 1.2.3 (optionally -pre)
  int abi_version = 0;
  std::string library;  // relative path inside the package
  struct Model {
    std::string path;    // relative path inside the package
    std::string sha256;  // 64 lowercase hex digits
  };
  std::vector<Model> models;
  Json config_schema = Json::object();
  Json default_config = Json::object();
  Json inputs = Json::object();
  Json output_schema = Json::object();
  bool licence_required = false;

  Json to_json() const;
};

// A path inside a package: relative, no "..", no empty or "." segments, no backslashes,
// at most 255 bytes. The same rule guards unpacking.
Status check_package_path(std::string_view path, std::string_view field);

// Parses manifest.json text; errors read "manifest.json: field 'models[1].sha256': ...".
Result<Manifest> parse_manifest(std::string_view text);

// A package name: 1 to 64 of a-z, 0-9, '_' and '-'.
bool valid_package_name(std::string_view name);
// A semantic version: MAJOR.MINOR.PATCH, optionally -PRERELEASE of [0-9A-Za-z.-].
bool valid_version(std::string_view version);

}  // namespace jz::sdk
