// `jizhan client ...`: the customer's side of the algorithm store (docs/STORE.md), run on
// the customer's machine from a plain copy of jizhan and jizhan-algo.
//
//   jizhan client fingerprint                       this install's machine fingerprint
//   jizhan client activate CODE --server URL        online: licence, download, checks, install
//   jizhan client activate CODE --offline FILE      writes a signed activation request
//   jizhan client install --licence F --package P   installs what a seller answered offline
//   jizhan client list | update (renew) | remove NAME
//   jizhan client serve --source ALGORITHM=INPUT ...   runs them (cli/client_serve.h)
//
// The install folder is cli/client_install.h's.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/client_serve.h"

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
  int serve();

  std::function<int()> action_;
  std::string dir_, server_, code_, offline_, licence_, package_, name_, output_ = "table";
  ClientServeFlags serve_;
};

}  // namespace jz::cli
