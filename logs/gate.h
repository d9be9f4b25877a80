// Gates for patterns without a literal to anchor on (docs/LOGS.md, "Speed").
//
// A pattern such as `1[3-9][0-9]{9}` (a phone number) has no literal that Hyperscan can
// search for first, so it has to stay active on every digit of every line, and training
// logs are full of digits: four such patterns cost more than ninety literal-led ones. But
// every match of it contains a run of 11 digits, and few log lines have one. The vector
// pass of logs/classes.h flags the lines with a run of a gate class at least that long,
// and such patterns are scanned on the flagged lines only.
//
// required_run() finds, from the pattern's syntax, the length of a run of a class that
// every match must contain. It is conservative: any syntax it does not know, and any
// pattern that can match a newline (a match could then reach across lines), gives 0,
// and the pattern is scanned everywhere as before.
#pragma once

#include <bitset>
#include <string_view>

namespace jz::logs {

enum GateClass : int {
  kGateDigits = 0,    // [0-9]: IDs, phone and card numbers
  kGateDigitsSpaced,  // digits and a space after a digit: numbers written in groups (IBAN,
                      // card numbers); a run of spaces (a progress bar) is not one
  kGateDigitsDotted,  // [0-9.:]: addresses (IPv4, IP:port)
  kGateCount
};

// Whether byte `c`, after byte `prev`, is in the run of a gate class.
bool gate_member(GateClass g, unsigned char prev, unsigned char c);
// The shortest required run for which a pattern is gated on the class: shorter runs are
// common in logs (timestamps, step counters, metrics), so gating there would not pay.
int gate_min_run(GateClass c);

// The length of a run of gate class `g` that every match of `pattern` contains (0 when
// none is certain, the syntax is not understood, or the pattern can match a newline).
// `caseless`: the pattern is compiled case-insensitively. For kGateDigitsSpaced a space
// counts only where the pattern has a single space (` ` or ` ?`) between digits.
int required_run(std::string_view pattern, bool caseless, GateClass g);

// About the length of a literal every match of `pattern` contains: a run of single bytes
// (a letter in both cases counts; optional ones too, so `ab?c` gives 2 for "ac"/"abc").
// For choosing whether to gate, not for correctness. 0 when the syntax is not understood.
int required_literal(std::string_view pattern, bool caseless);
// A pattern with a literal this long is not gated: Hyperscan anchors on it.
constexpr int kAnchorLiteral = 3;

// The gate class for a pattern, or -1 for none (a literal to anchor on, no run certain);
// `run` gets the required run.
int choose_gate(std::string_view pattern, bool caseless, int* run);

}  // namespace jz::logs
