// A customer's client install (docs/STORE.md): the folder `jizhan client` keeps bought
// algorithms in, its install key and machine fingerprint, and delivering a licence with its
// package into it (checked against each other, the publisher and this machine).
//
// Layout: install.key/.pub (0600; with the machine's id it makes the fingerprint, so a
// copied folder is another machine), licences/ (as `jizhan license activate` keeps them),
// algorithms/NAME/ (package.jzpkg, install.json: version, SHA-256, publisher key, server
// and code for renewals), usage/queue.jsonl (usage reports not yet sent), results/ (what
// `jizhan client serve` found, by default).
#pragma once

#include <string>

#include "core/json.h"
#include "core/status.h"
#include "sdk/signing.h"

namespace jz::cli {

// --dir's default: $JIZHAN_CLIENT_DIR, else $XDG_DATA_HOME/jizhan/client, else
// ~/.local/share/jizhan/client.
std::string default_client_dir();

struct Install {
  std::string dir;
  sdk::SigningKey key;
  std::string fingerprint;
  std::string licences() const { return dir + "/licences"; }
  std::string algorithm_dir(const std::string& name) const { return dir + "/algorithms/" + name; }
  std::string package(const std::string& name) const {
    return algorithm_dir(name) + "/package.jzpkg";
  }
};

// Opens (creating on first use) the install at `dir`.
Result<Install> open_install(const std::string& dir);
// An installed algorithm's install.json; not installed: not_found, saying so.
Result<Json> read_install(const Install& in, const std::string& name);

struct Delivery {
  std::string licence_text, code, package_file, expected_sha256, server;
  sdk::PublicKey publisher;
};
// Checks a licence and its package against each other, the publisher and this install,
// then installs both. Nothing is changed when a check fails; each failure says which.
Result<Json> install_delivery(const Install& in, const Delivery& d);
// Activates (or renews) `code` at `server` and installs what it answers.
Result<Json> activate_online(const Install& in, const std::string& server_url,
                             const std::string& code);

}  // namespace jz::cli
