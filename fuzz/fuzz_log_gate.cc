// Fuzz target: the pattern reader behind the log filter's gates (logs/gate.h). The first
// line is a pattern, the rest log text. A gate may only make the filter faster: with and
// without gates it must pass and withhold exactly the same lines. The pattern's length
// picks the vector instructions the line pass uses (logs/classes.h), so that each of the
// paths this machine has is fuzzed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logs/classes.h"
#include "logs/filter.h"
#include "logs/gate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  if (nl == std::string_view::npos || nl > 200) return 0;
  const std::string pattern(in.substr(0, nl));
  const std::string_view text = in.substr(nl + 1);
  jz::logs::limit_vector_level(static_cast<int>(nl % 4));
  for (int g = 0; g < jz::logs::kGateCount; ++g) {
    for (bool caseless : {false, true}) {
      if (jz::logs::required_run(pattern, caseless, static_cast<jz::logs::GateClass>(g)) < 0) {
        __builtin_trap();
      }
    }
  }
  jz::logs::LogPolicy p;
  p.mode = jz::logs::LogPolicy::Mode::kBlacklist;
  p.detectors.enabled = false;
  // A redact rule when the text starts with 'r', caseless with 'i'.
  p.rules.push_back({"r", pattern, text.substr(0, 1) == "r", text.substr(0, 1) == "i"});
  auto with = jz::logs::LogFilter::compile(p, true);
  if (!with.ok()) return 0;
  auto without = jz::logs::LogFilter::compile(p, false);
  if (!without.ok()) __builtin_trap();  // the same patterns
  std::vector<std::string> a, b;
  (*with)->process_text(text, [&](std::string_view l) { a.emplace_back(l); });
  (*without)->process_text(text, [&](std::string_view l) { b.emplace_back(l); });
  if (a != b) __builtin_trap();
  const auto wa = (*with)->withheld(), wb = (*without)->withheld();
  if (wa.size() != wb.size()) __builtin_trap();
  for (const auto& [reason, w] : wa) {
    auto it = wb.find(reason);
    if (it == wb.end() || it->second.lines != w.lines || it->second.bytes != w.bytes) {
      __builtin_trap();
    }
  }
  return 0;
}
