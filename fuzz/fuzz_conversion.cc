// Fuzz target: a request to convert a version's annotations (POST .../conversions, from a
// data owner). A refusal says why; what is accepted names two different known formats and
// paths inside the version, and reads back the same from what it writes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/archive.h"
#include "core/json.h"
#include "platform/datasets/conversion.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = jz::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "in");
  if (!j.ok()) return 0;
  auto r = jz::datasets::parse_conversion_request(*j);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (r->from == r->to || r->input.empty() || r->output.empty()) __builtin_trap();
  for (const auto* p : {&r->input, &r->output, &r->images}) {
    if (!p->empty() && !jz::relative_path_fault(*p).empty()) __builtin_trap();
  }
  auto back = jz::datasets::parse_conversion_request(r->to_json());
  if (!back.ok() || back->to_json() != r->to_json()) __builtin_trap();
  return 0;
}
