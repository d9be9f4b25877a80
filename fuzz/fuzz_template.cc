// Fuzz target: evaluation templates (YAML or JSON). Any input gives a template or an
// error that names the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = jz::eval::parse_template(text, "fuzz.yaml");
  if (!t.ok() && t.status().message().rfind("fuzz.yaml", 0) != 0) __builtin_trap();
  if (t.ok()) {
    for (const auto& v : t->variables) (void)v.rule.describe();
  }
  return 0;
}
