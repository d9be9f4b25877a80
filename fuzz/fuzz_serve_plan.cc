// Fuzz target: `jizhan client serve` plan files. Whatever parses either finishes into a plan
// whose every source has a safe, unique name, or is refused with a message.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "sdk/serve_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = jz::sdk::parse_serve_plan(text);
  if (!plan.ok()) {
    if (plan.status().message().empty()) __builtin_trap();
    return 0;
  }
  jz::Status s = jz::sdk::finish_serve_plan(*plan);
  if (!s.ok()) {
    if (s.message().empty()) __builtin_trap();
    return 0;
  }
  std::set<std::string> names;
  for (const auto& src : plan->sources) {
    if (src.name.empty() || src.name.find('/') != std::string::npos || src.name[0] == '.' ||
        !names.insert(src.name).second) {
      __builtin_trap();
    }
  }
  return 0;
}
