// Fuzz target: the log store's record parser (segment files are read while the job's
// supervisor writes them, and may be torn or damaged) and the leak filter over arbitrary
// job output. The parser never reads past its input and consumes whole records only; the
// filter passes a subset of the lines, in order, each of them a line of the input (or a
// redacted one), and withholds every line with an image signature.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "logs/filter.h"
#include "logs/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t records = 0;
  const size_t used = jz::logs::parse_records(text, [&](const jz::logs::LogRecord& r) {
    if (r.text.size() > text.size()) __builtin_trap();
    ++records;
    return true;
  });
  if (used > text.size() || (records == 0 && used != 0)) __builtin_trap();

  static std::unique_ptr<jz::logs::LogFilter> filter = [] {
    auto f = jz::logs::LogFilter::compile(jz::logs::default_policy("internal"));
    if (!f.ok()) __builtin_trap();
    return std::move(*f);
  }();
  size_t at = 0;
  filter->process_text(text, [&](std::string_view line) {
    if (line.find("iVBORw0KGgo") != std::string_view::npos) __builtin_trap();
    const size_t found = text.find(line, at);
    if (found == std::string_view::npos) return;  // redacted lines are not in the input
    at = found + line.size();
  });
  return 0;
}
