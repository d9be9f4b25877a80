// The compiled form of a log policy: decides, line by line, what of a job's output
// passes. All rules and detectors are one Hyperscan database, scanned once over a block
// of many lines (so a line costs a few nanoseconds beyond the scan), in linear time.
//
// Semantics, for a line L (its bytes without the newline):
//  - a blacklist rule withholds L when it matches inside L (a match of a pattern that can
//    span a newline is charged to the line it ends in: it may withhold more, never less);
//  - a whitelist rule lets L pass only when it matches all of L;
//  - a detector withholds L in both modes (and a piece of an over-long line is withheld
//    with the rest of that line);
//  - past the policy's total cap every line is withheld.
// What is withheld is counted per rule ("rule:NAME", "detector:KIND", "whitelist",
// "cap:total"), lines and bytes, never kept.
//
// Not thread-safe: one filter per job (it owns its scratch space).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "logs/policy.h"

namespace jz::logs {

// One line of a block handed to LogFilter::process.
struct LineRef {
  uint32_t offset = 0;     // into the block
  uint32_t length = 0;     // without the newline that follows it in the block
  bool continued = false;  // a later piece of a line longer than max_line_bytes
  bool cut = false;        // a piece that a later piece continues
};

struct Withheld {
  int64_t lines = 0;
  int64_t bytes = 0;
};

class LogFilter {
 public:
  // `gates`: patterns without a literal to anchor on, that need a long run of digits (or
  // of digits and spaces, dots, colons), are scanned only on the lines that have such a run
  // (logs/gate.h); the result is the same, faster. Off only to test that it is the same.
  static Result<std::unique_ptr<LogFilter>> compile(const LogPolicy& policy, bool gates = true);
  // The compiled patterns as bytes, for another process on this machine (the job's
  // supervisor): load() takes them back for the same policy, in a millisecond instead of
  // the tens a compile takes, and refuses them for any other policy.
  Result<std::string> serialize() const;
  static Result<std::unique_ptr<LogFilter>> load(const LogPolicy& policy, std::string_view bytes);
  ~LogFilter();

  const LogPolicy& policy() const { return policy_; }

  // `block` holds the lines, each followed by '\n' (the last one too). Calls pass(i, text)
  // for each line i that passes, in order; `text` is the line, redacted where a redact
  // rule matched.
  void process(std::string_view block, const std::vector<LineRef>& lines,
               const std::function<void(size_t, std::string_view)>& pass);

  // Convenience: splits `text` at '\n' (no piece handling) and filters it.
  void process_text(std::string_view text, const std::function<void(std::string_view)>& pass);

  // What was withheld so far, by reason (only reasons that withheld something).
  std::map<std::string, Withheld> withheld() const;
  int64_t passed_lines() const { return passed_lines_; }
  int64_t passed_bytes() const { return passed_bytes_; }

  struct Impl;

 private:
  explicit LogFilter(LogPolicy policy);
  Status init();  // scratch space and reasons, once the databases and gates are there
  LogPolicy policy_;
  std::unique_ptr<Impl> impl_;
  int64_t passed_lines_ = 0, passed_bytes_ = 0;
  bool capped_ = false;
  bool gates_ = true;
};

// Compiles the policy's patterns, for parse_policy: an error names the rule and says
// why ("back-references are not supported: ...").
Status compile_check(const LogPolicy& policy);

// Shannon entropy of `s` in bits per byte.
double entropy_bits(std::string_view s);

// Whether entropy_bits(s) >= bits. The number of distinct bytes d bounds the entropy
// (at most log2 d), which settles most tokens of logs (paths, progress bars) without
// the sum.
bool entropy_reaches(std::string_view s, double bits);

}  // namespace jz::logs
