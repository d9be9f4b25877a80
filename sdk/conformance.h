// `jizhan algo check`: the conformance checks every algorithm must pass before it is
// packaged or published (like the seed's own test tool, which developers may not modify).
//
//   describe      describe() is a JSON object with name, version, abi_version, the config
//                 and output schemas (and agrees with the package manifest)
//   create        the default config creates an instance
//   bad-config    malformed configs and wrongly typed config values: invalid argument
//   bad-calls     no frames, frames without pixels, malformed per-call arguments, more
//                 frames than declared: invalid argument (or not implemented)
//   pixel-formats declared formats work; the others: invalid argument or not implemented
//   output        every output matches the declared output schema and the convention
//                 (algorithm_data.is_alert/target_count/target_info, model_data)
//   repeatable    the same frame gives the same output, call after call
//   entry-points  config given at create, by update_config, or per call: same output
//   threads       several instances on several threads: the single-threaded outputs
//   lifecycle     create/process/destroy cycles: memory growth under a bound
//
// The checks run in a child process, so an algorithm that crashes fails the check it
// crashed in instead of taking the checker down.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "jizhan/algo.h"
#include "sdk/sandbox.h"

namespace jz::sdk {

struct SampleFrame {
  int width = 0, height = 0;
  std::vector<uint8_t> bgr;  // width * 3 bytes per row
};

struct CheckOptions {
  std::string library;
  std::string package_dir;  // working folder and $JIZHAN_PACKAGE_DIR; empty: unchanged
  std::string config_json = "{}";
  Json manifest;                     // null when checking a bare library
  std::vector<SampleFrame> samples;  // real inputs; synthetic frames are always added
  int repeats = 3;
  int threads = 4;
  int lifecycle_cycles = 50;
  double max_growth_mib = 32;
  std::chrono::seconds timeout{300};  // for all checks together
  // The checks run in a bubblewrap sandbox (sdk/sandbox.h), in a `jizhan algo-check-child`
  // started from `host_binary`; without one (--no-sandbox), in a forked child.
  AlgoSandbox sandbox;
  std::string host_binary;
};

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string detail;
  double seconds = 0;
};

// Runs every check in a child process, reporting each as it finishes. The error is for
// the checker itself (cannot fork, no bubblewrap); failed checks are results. What the
// algorithm prints goes to stderr, escaped.
Result<std::vector<CheckResult>> run_conformance(
    const CheckOptions& options, const std::function<void(const CheckResult&)>& on_result = {});

// The sandboxed child's side: reads the options from `options_fd` and writes the results
// to `results_fd` (`jizhan algo-check-child OPTIONS_FD RESULTS_FD`).
int run_conformance_child(int options_fd, int results_fd);

}  // namespace jz::sdk
