// `jizhan eval run` (the automatic test engine on files) and `jizhan eval diff-csv`
// (competition verification: a submitted result CSV against a rerun).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace jz::cli {

class EvalCommands {
 public:
  explicit EvalCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  std::function<int()> action_;
  std::string template_, predictions_, annotations_, out_;
  std::string submitted_, rerun_, key_;
  std::vector<std::string> tolerances_;
};

}  // namespace jz::cli
