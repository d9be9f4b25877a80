// Fuzz target: the raw-text JSON scanner behind simple route paths. It must accept
// exactly what the full parser accepts, and select the same values (or hand the
// document to the full parser, for member names repeated under a wildcard).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routepath/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view doc(reinterpret_cast<const char*>(data), size);
  static const char* kQueries[] = {"$", "$.a", "$[*]", "$.a[-1].b", "$[0][*].x", "$['a']['a']"};
  // nlohmann stops at a NUL byte; parse_document and the scanner both reject one.
  const bool accepted =
      jz::routepath::Value::accept(doc) && doc.find('\0') == std::string_view::npos;
  jz::routepath::Value parsed;
  if (accepted) parsed = jz::routepath::Value::parse(doc);
  for (const char* text : kQueries) {
    auto q = jz::routepath::Query::parse(text);
    std::vector<std::string_view> raw;
    const jz::Status st = jz::routepath::scan_select(doc, *q->simple_steps(), raw);
    if (st.code() == jz::Code::kFailedPrecondition) continue;  // left to the full parser
    const bool ok = st.ok();
    if (ok != accepted) __builtin_trap();
    if (!ok) continue;
    auto want = q->select(parsed);
    if (want.size() != raw.size()) __builtin_trap();
    for (size_t i = 0; i < raw.size(); ++i) {
      if (jz::routepath::Value::parse(raw[i]) != *want[i]) __builtin_trap();
    }
  }
  return 0;
}
