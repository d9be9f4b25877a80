// Fuzz target: the head of a CGI answer (git http-backend's, relayed as an HTTP answer).
// What it accepts has a status from 100 to 599, a body offset inside the input, and no
// field that could break the HTTP answer it becomes (no CR, LF or other control).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/jobs/code.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto head = jz::jobs::parse_cgi_head(text);
  if (!head.ok()) return 0;
  if (head->status < 100 || head->status > 599 || head->body_offset > size) __builtin_trap();
  for (const auto& [name, value] : head->headers) {
    if (name.empty()) __builtin_trap();
    for (char c : name + value) {
      if ((static_cast<unsigned char>(c) < ' ' && c != '\t') || c == 0x7f) __builtin_trap();
    }
  }
  return 0;
}
