// Fuzz target: job request bodies (POST /api/v1/projects/{project}/jobs). An accepted
// request round-trips through its stored form (to_json) unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "platform/jobs/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = jz::json::parse(text, "job");
  if (!body.ok()) return 0;
  auto j = jz::jobs::parse_job_request(*body);
  if (!j.ok()) return 0;
  auto again = jz::jobs::parse_job_request(j->to_json());
  if (!again.ok() || again->to_json() != j->to_json()) __builtin_trap();
  return 0;
}
