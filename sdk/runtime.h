// What `jizhan algo run|check|serve` share: turning --package (a signed .jzpkg, or a bare
// shared library during development) into a library to load, its folder, its default
// config and, when its manifest asks for one, a licence that allows this use.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "sdk/licence.h"
#include "sdk/manifest.h"
#include "sdk/signing.h"

namespace jz::sdk {

struct OpenOptions {
  std::string package;                  // FILE.jzpkg or LIBRARY.so
  std::vector<std::string> trust;       // extra trusted public key files
  bool allow_untrusted = false;         // run a package whose signer is not trusted
  int channels = 1;                     // licence channels to hold (streams, served instances)
  std::string licence_dir;              // empty: licence_dir()
  std::string machine;                  // the fingerprint licences must name; empty: this machine's
  std::vector<PublicKey> trusted_keys;  // trusted besides `trust` and the trusted-keys folder
  bool require_licence = false;         // even when the manifest does not ask for one
  std::chrono::seconds licence_grace{0};  // accept a licence this long past its end
};

struct OpenedAlgorithm {
  std::string library;
  std::string package_dir;  // the unpacked package, or a bare library's folder
  std::optional<Manifest> manifest;
  std::optional<PublicKey> publisher;
  std::optional<Licence> licence;  // when the manifest requires one
  Json default_config = Json::object();
  std::shared_ptr<void> cleanup;        // removes the unpacked folder with the last copy
  std::shared_ptr<void> channel_slots;  // the licence channels held while this lives

  // The default config with `overrides` (a JSON object's text) merged over it.
  Result<std::string> config(const std::string& overrides) const;
};

Result<OpenedAlgorithm> open_algorithm(const OpenOptions& options);

}  // namespace jz::sdk
