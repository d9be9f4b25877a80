// Fuzz target: log policy documents (PUT .../log-policies/{level}). An accepted policy
// round-trips through its stored form unchanged. (Patterns are not compiled here: the
// compiler is Hyperscan's, and its refusals are reported; see fuzz_log_records for the
// filter itself.)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "logs/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = jz::json::parse(text, "policy");
  if (!body.ok()) return 0;
  auto p = jz::logs::parse_policy(*body, false);
  if (!p.ok()) return 0;
  auto again = jz::logs::parse_policy(p->to_json(), false);
  if (!again.ok() || again->to_json() != p->to_json()) __builtin_trap();
  return 0;
}
