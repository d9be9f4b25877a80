// Fuzz target: a dataset's lifecycle rules as a data owner sends them (PUT .../lifecycle).
// A refusal says why; what is accepted writes back (to_json) to rules that parse to the
// same thing, and no accepted rule archives single files or mixes file and version fields.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "platform/datasets/lifecycle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = jz::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "in");
  if (!j.ok()) return 0;
  auto p = jz::datasets::parse_lifecycle_policy(*j);
  if (!p.ok()) {
    if (p.status().message().empty()) __builtin_trap();
    return 0;
  }
  jz::Json rules = jz::Json::array();
  for (const auto& r : p->rules) {
    if (r.file_rule() && (r.action == "archive" || r.version > 0 || r.keep_newest > 0)) {
      __builtin_trap();
    }
    rules.push_back(r.to_json());
  }
  auto back =
      jz::datasets::parse_lifecycle_policy(jz::Json{{"rules", rules}, {"automatic", p->automatic}});
  if (!back.ok() || back->rules.size() != p->rules.size() || back->automatic != p->automatic) {
    __builtin_trap();
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    if (back->rules[i].to_json() != rules[i]) __builtin_trap();
  }
  return 0;
}
