// The leak budget of a whitelist (issue 17): how much a job can say through the lines its
// rules let pass, whatever it wants to say. A whitelist stops every line it does not
// allow; what it cannot stop is the choice among the lines it allows. That choice carries
// at most log2(number of allowed lines) bits per line, which this file counts exactly for
// the regular-expression subset that whitelists are written in (literals, classes, \d \w
// \s, ., groups, alternation, ? * + {m,n}, ^ and $), by walking the rules' automaton over
// every line length up to the longest line that can pass. A job's rate and total caps
// then bound bits per second and bits in all. Counts are upper bounds: the leak detectors
// may withhold some allowed lines too.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"
#include "logs/policy.h"

namespace jz::logs {

struct LineCapacity {
  double bits_per_line = 0;  // log2 of the number of distinct lines that pass
  // The densest a job can signal, in bits per byte of output (a line and its newline),
  // choosing lines of any length: the capacity R with sum over lines 2^(-R (len + 1)) = 1.
  // Times the rate cap it is bits per second; times the total cap, bits in all.
  double bits_per_byte = 0;
  size_t shortest_line = 0;  // bytes of the shortest line that passes
  size_t longest_line = 0;   // the longest line counted (the policy's line limit)
  double bits_per_s = 0;     // bits_per_byte x rate_bytes_per_s; 0 when no rate cap
  double total_bits = 0;     // bits_per_byte x total_bytes; 0 when no total cap
};

// The capacity of lines of at most `max_len` bytes matching any of `patterns` (whitelist
// semantics: a rule passes a line it matches anywhere unless anchored). invalid_argument
// names a construct outside the subset (the budget is then unknown, not zero).
Result<LineCapacity> whitelist_capacity(const std::vector<LogRule>& rules, size_t max_len);

// The same for a policy: its whitelist rules, its line limit (the long-line detector's
// when detectors run), and its caps. failed_precondition unless the policy is a whitelist.
Result<LineCapacity> policy_capacity(const LogPolicy& policy);

}  // namespace jz::logs
