// Fuzz target: what the automatic test service parses (platform/autotest): pass
// thresholds, the run summary an evaluation job leaves (the algorithm shares its folder),
// a suite's request body; and the redacted report of any JSON, which must hold no string
// of the input outside known keys, labels with support and counts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "platform/autotest/autotest.h"
#include "platform/autotest/report.h"

namespace at = jz::autotest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto t = at::parse_threshold(text);
  if (t.ok()) {
    // The normalised text parses to the same threshold.
    auto again = at::parse_threshold(t->text);
    if (!again.ok() || again->text != t->text || again->path != t->path) __builtin_trap();
  }
  (void)at::parse_run_summary(text);
  jz::Json j = jz::Json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    (void)at::parse_suite_input(j, false);
    (void)at::parse_suite_input(j, true);
    const jz::Json r = at::redacted_report(j);
    if (!r.is_object() || !r.contains("redacted")) __builtin_trap();
    (void)at::judge({}, j);
  }
  return 0;
}
