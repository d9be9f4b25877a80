// The detectors that look at runs of a class of bytes (base64, base64url and hex runs,
// long tokens for the entropy check, number dumps, control bytes, invalid UTF-8), done in
// two steps: a vector pass over the whole block that finds the few lines where such a
// run could be (long runs without blanks, long runs of number characters, control or
// non-ASCII bytes), then exact checks on those lines only. A regular-expression engine
// has to keep such classes active on every byte of ordinary logs; this pass costs about
// one instruction a byte.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "logs/filter.h"
#include "logs/gate.h"

namespace jz::logs {

enum LineFlags : uint8_t {
  kLongToken = 1,   // a run without blanks of at least token_min bytes
  kNumberRun = 2,   // a run of number characters ([0-9.,;|+- \t]) of at least number_span
  kNonAscii = 4,    // bytes >= 0x80: UTF-8 to check
  kControl = 8,     // control bytes other than tab, CR and escape, or DEL
  kHexGroups = 16,  // a run of hex digits and separators ([0-9a-fA-F :,-]) of 40 bytes
  kB64Groups = 32,  // a run of base64 characters and blanks of group_span bytes
};

// Appends to `out` the offset of every '\n' in `data` (a vector pass: about 10 GB/s,
// where a memchr call per line is bound by its call cost on short lines).
void find_newlines(std::string_view data, std::vector<uint32_t>& out);

// Sets flags[i] for each line of `block` (as LogFilter::process takes it): a superset of
// the lines the exact checks below fire on. token_min, number_span and group_span are
// the run lengths looked for (0: none, the detectors are off). With `gates`, also sets
// bit g of gates[i] when line i has a run of at least gate_runs[g] bytes of gate class g
// (logs/gate.h; 0 = not looked for). Runs up to 64 bytes are found exactly; of a longer
// length, a line with 64 bytes of the class in one 64-byte word of the block is flagged
// too (such a line gets the exact checks, or its gated patterns, for nothing).
void flag_lines(std::string_view block, const std::vector<LineRef>& lines, int token_min,
                int number_span, int group_span, uint8_t* flags, const int* gate_runs = nullptr,
                uint8_t* gates = nullptr);

// The widest vector instructions flag_lines may use from now on (0: SSE2, 1: AVX2, 2:
// AVX-512BW and CD, 3: AVX-512 with VBMI; it never uses more than the processor has).
// Returns the limit before. For tests, which run every path the machine can.
int limit_vector_level(int level);

// The exact checks. Each returns true when the detector fires on `line`.
bool has_class_run(std::string_view line, int base64_min, int hex_min, int* kind);  // 0 b64, 1 hex
bool has_number_run(std::string_view line, int numbers_min);
bool valid_utf8(std::string_view line);
// Hex byte pairs with one separator ([ :,-]) between, `pairs` in a row; or xxd-style
// groups of four hex digits and a space, eight in a row.
bool has_hex_groups(std::string_view line, int pairs);
// Groups of four base64 characters with blanks between, `groups` in a row.
bool has_b64_groups(std::string_view line, int groups);

}  // namespace jz::logs
