// Fuzz target: licence files and activation codes. An accepted licence round-trips through
// to_json(); an accepted code normalises to itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sdk/licence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto code = jz::sdk::normalize_activation_code(text); code.ok()) {
    auto again = jz::sdk::normalize_activation_code(*code);
    if (!again.ok() || *again != *code) __builtin_trap();
  }
  jz::sdk::SignedDocument doc;
  auto l = jz::sdk::parse_licence(text, &doc);
  if (!l.ok()) return 0;
  jz::Json envelope = {{"payload", l->to_json().dump()},
                       {"key_id", doc.key_id},
                       {"signature", jz::base64_encode(doc.signature)}};
  auto again = jz::sdk::parse_licence(envelope.dump());
  if (!again.ok() || again->to_json() != l->to_json()) __builtin_trap();
  return 0;
}
