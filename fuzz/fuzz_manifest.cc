// Fuzz target: package manifests. An accepted manifest round-trips through to_json().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sdk/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = jz::sdk::parse_manifest(text);
  if (!m.ok()) return 0;
  auto again = jz::sdk::parse_manifest(m->to_json().dump());
  if (!again.ok() || again->to_json() != m->to_json()) __builtin_trap();
  return 0;
}
