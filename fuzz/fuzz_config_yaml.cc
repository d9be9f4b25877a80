// Fuzz target: the config file parser must never crash, whatever the YAML.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/server_schema.h"
#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = jz::parse_config_yaml(jz::cli::server_schema(), text, "fuzz");
  if (r.ok()) {
    // Every accepted key must be a declared one, and values must type-check or fail cleanly.
    for (const auto& [key, value] : *r) {
      const jz::ConfigKey* k = jz::cli::server_schema().find(key);
      if (!k) __builtin_trap();
      (void)jz::check_config_value(*k, value, "fuzz");
    }
  }
  return 0;
}
