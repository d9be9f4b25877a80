// `jizhan client ...`: the customer's side of the algorithm store (docs/STORE.md), run on
// the customer's machine from a plain copy of jizhan and jizhan-algo.
//
//   jizhan client fingerprint                       this install's machine fingerprint
//   jizhan client activate CODE --server URL        online: licence, download, checks, install
//   jizhan client activate CODE --offline FILE      writes a signed activation request
//   jizhan client install --licence F --package P   installs what a seller answered offline
//   jizhan client list | renew | remove NAME
//
// The install folder (--dir, else $JIZHAN_CLIENT_DIR, else ~/.local/share/jizhan/client)
// holds the install key (install.key, 0600: with the machine's id it makes the fingerprint,
// so a copied folder is another machine), licences/ (as `jizhan license activate` keeps
// them) and algorithms/NAME/ (package.jzpkg, install.json: version, SHA-256, publisher key,
// server and code for renewals).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace jz::cli {

class StoreClientCommands {
 public:
  explicit StoreClientCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  int fingerprint();
  int activate();
  int install();
  int list();
  int renew();
  int remove();

  std::function<int()> action_;
  std::string dir_, server_, code_, offline_, licence_, package_, name_, output_ = "table";
};

}  // namespace jz::cli
