// `jizhan algo pack|inspect|verify|run|check|serve` and `jizhan license
// keygen|issue|inspect|activate|fingerprint` (docs/ALGORITHM_SDK.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace jz::cli {

class AlgoCommands {
 public:
  explicit AlgoCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  int pack();
  int inspect(bool verify);
  int run_frames();
  int check();
  int serve();
  int keygen();
  int issue();
  int licence_inspect();
  int activate();

  std::function<int()> action_;
  // shared by several commands
  std::string package_, out_, key_, input_, args_, config_, output_ = "table";
  std::string summary_;  // algo run: the summary as JSON, to this file
  std::vector<std::string> trust_;
  bool allow_untrusted_ = false;
  bool no_sandbox_ = false;
  // algo pack
  std::string dir_;
  // algo run
  double fps_ = 0;
  int64_t max_frames_ = 0;
  std::string timeout_ = "10s";
  int64_t memory_mb_ = 0;
  // algo serve
  std::string grpc_, http_, token_file_;
  int instances_ = 1;
  // algo check
  int threads_ = 4, cycles_ = 50;
  double max_growth_ = 32;
  // license
  std::string name_, algorithm_, versions_, customer_, machine_, valid_from_, valid_for_,
      valid_until_, licence_file_, code_;
  int channels_ = 0;
  double qps_ = 0;
};

}  // namespace jz::cli
