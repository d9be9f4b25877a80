// Fuzz target: the PromQL subset of alert rules (platform/alerts/promql.h). What parses
// formats to text that parses again to the same text (export writes it for Prometheus),
// and evaluates over a small source without failing or crashing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "platform/alerts/promql.h"

namespace pq = jz::alerts::promql;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto e = pq::parse(text);
  if (!e.ok()) return 0;
  const std::string f = pq::format(**e);
  auto again = pq::parse(f);
  if (!again.ok() || pq::format(**again) != f) __builtin_trap();
  static const pq::MemorySource* src = [] {
    auto* s = new pq::MemorySource();
    s->add("m", {{"a", "1"}, {"b", "x"}}, {{0, 1}, {60000, 2}, {120000, 5}});
    s->add("m", {{"a", "2"}}, {{0, 3}, {120000, 1}});
    s->add("x_total", {{"a", "1"}}, {{0, 0}, {60000, 10}, {120000, 4}});
    return s;
  }();
  (void)pq::evaluate(**e, *src, 120000);
  return 0;
}
