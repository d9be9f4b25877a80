// Fuzz target: the vGPU library's configuration (/etc/jizhan/vgpu.conf and JZ_VGPU_*
// variables, gpu/vgpu/config.h), read inside every process of a GPU share. Whatever the
// text, the parser stays in its buffers, core limits are 0 (none) or 1-99, strings end
// inside their fields, and a size it accepts is what its digits and unit say.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gpu/vgpu/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  jz_vgpu_config c;
  std::memset(&c, 0, sizeof c);
  const char* why = nullptr;
  const int bad = jz_vgpu_parse_config(text, size, &c, &why);
  if (bad != 0 && why == nullptr) __builtin_trap();
  for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
    if (c.core_limit[i] < 0 || c.core_limit[i] > 99) __builtin_trap();
    if (::strnlen(c.uuids[i], sizeof c.uuids[i]) == sizeof c.uuids[i]) __builtin_trap();
  }
  if (::strnlen(c.region, sizeof c.region) == sizeof c.region) __builtin_trap();
  if (::strnlen(c.driver, sizeof c.driver) == sizeof c.driver) __builtin_trap();
  uint64_t bytes = 0;
  if (jz_vgpu_parse_size(text, size, &bytes, &why) == 0) {
    // Digits then an optional unit: the value is at least the digits' own.
    uint64_t digits = 0;
    size_t i = 0;
    while (i < size && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) ++i;
    for (; i < size && text[i] >= '0' && text[i] <= '9'; ++i)
      digits = digits * 10 + (text[i] - '0');
    if (bytes < digits) __builtin_trap();
  }
  return 0;
}
