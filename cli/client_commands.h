// The client commands of `jizhan`: login, logout, whoami, user, workspace, project,
// member, role, token, quota, audit list|export, events, job, dataset and metrics. Each talks to a
// running server over HTTP (see cli/client.h for where the server and the token come from) and
// prints a table, or the server's JSON with `-o json`.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace jz::cli {

class ClientCommands {
 public:
  // Registers the commands on `app`; `audit` is the existing `jizhan audit` command,
  // which gains `list` and `export`.
  ClientCommands(CLI::App& app, CLI::App& audit);
  // True when the parsed command line chose one of these commands.
  bool chosen() const { return static_cast<bool>(action_); }
  // Runs it: 0 on success, 1 with a one-line error on standard error otherwise.
  int run() { return action_(); }

 private:
  struct Common {
    std::string server;
    std::string output = "table";
  };
  // Adds --server and -o to a leaf command and makes `body` its action.
  CLI::App* leaf(CLI::App& parent, const std::string& name, const std::string& description,
                 std::function<int(const Common&)> body);

  // job submit|list|get|history|logs|cancel|retry|wait and dataset create|list|get|
  // delete|files (client_commands.cc).
  void job_commands(CLI::App& app);
  // metrics runs|show|upload|import|export-tb (client_commands.cc).
  void metrics_commands(CLI::App& app);
  // autotest suite|algorithm|submit|list|show (autotest_command.cc).
  void autotest_commands(CLI::App& app);
  // store browse|publisher|listing|order|orders|revoke|activations|activate-offline
  // (store_command.cc).
  void store_commands(CLI::App& app);

  std::function<int()> action_;
  Common common_;
};

}  // namespace jz::cli
