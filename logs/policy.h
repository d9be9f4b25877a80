// Log policies (mission A5, D2): what of a job's output reaches the log store, chosen by
// the security level of the job's strictest dataset and edited by the project's data
// owners. docs/LOGS.md.
//
//   open       every line passes (only the line length is bounded)
//   blacklist  lines matching a rule are dropped, or the matching part redacted
//   whitelist  only lines that a rule matches whole pass
// In blacklist and whitelist modes the built-in leak detectors (base64 and base64url
// runs, hex dumps, number dumps, data: URIs, image signatures in text and raw form, raw
// control bytes, long high-entropy tokens, over-long lines) withhold a line too, and the
// caps bound what a job can write. Patterns are compiled by Hyperscan (vectorscan), which
// matches in linear time and refuses constructs that would not (back-references,
// look-around).
//
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::logs {

struct LogRule {
  std::string name;     // [a-z0-9_.-]{1,64}: what the withheld counts are reported under
  std::string pattern;  // a regular expression (PCRE syntax, linear-time subset)
  bool redact = false;  // blacklist: replace the matched text instead of dropping the line
  bool ignore_case = false;
};

struct Detectors {
  bool enabled = false;
  int base64_min = 64;        // base64 / base64url runs of this many characters
  int hex_min = 64;           // hex digits in a row (or 32 hex byte pairs with separators)
  int numbers_min = 32;       // numbers in a row on one line (pixel dumps)
  int entropy_min = 32;       // tokens at least this long are checked for entropy...
  double entropy_bits = 4.5;  // ...and withheld at this many bits per character or more
  int long_line = 1024;       // lines longer than this (bytes) are withheld
};

struct LogPolicy {
  enum class Mode { kOpen, kBlacklist, kWhitelist };
  Mode mode = Mode::kOpen;
  std::vector<LogRule> rules;
  Detectors detectors;
  int max_line_bytes = 16384;    // capture: longer lines are cut into pieces this long
  int64_t rate_bytes_per_s = 0;  // 0: unlimited; otherwise the job is slowed to this
  int64_t total_bytes = 0;       // 0: unlimited; lines past it are withheld
  bool keep_raw = false;         // also keep the unfiltered output (data owners only)

  Json to_json() const;
};

const char* mode_name(LogPolicy::Mode m);

// Parses a policy document (the body of PUT .../log-policies/{level}). Unknown fields and
// out-of-range values are errors naming the field. Patterns are checked for syntax by
// compiling them (compile_check below), so a stored policy always compiles.
Result<LogPolicy> parse_policy(const Json& body, bool check_patterns = true);

// The built-in policy of a security level ("open", "internal", "secret") before a data
// owner edits it.
LogPolicy default_policy(const std::string& level);

// The metric names the built-in secret whitelist lets through ("loss", "acc", ...; also
// the names a job on secret data may give its metrics: exec/metrics_channel.h).
const std::vector<std::string>& metric_names();

}  // namespace jz::logs
