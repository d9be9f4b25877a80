// Fuzz target: package archives (gzip tar) and signature.json. Whatever is accepted has
// only safe names; nothing crashes, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sdk/package.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  jz::sdk::PackageLimits limits;
  limits.max_entry_bytes = 1 << 20;
  limits.max_total_bytes = 4 << 20;
  limits.max_entries = 64;
  auto s = jz::sdk::read_package_entries(bytes, limits, [](const std::string& name, std::string) {
    if (!jz::sdk::check_package_path(name, "entry").ok()) __builtin_trap();
    return jz::Status{};
  });
  (void)s;
  (void)jz::sdk::inspect_package_bytes(bytes, {}, limits);
  (void)jz::sdk::parse_package_signature(bytes, nullptr);
  return 0;
}
