// Fuzz target: the API test server's parsers (kubesim/): label and field selectors and
// resource quantities. A parsed selector matches without crashing; a quantity is never
// negative.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kubesim/kubesim.h"
#include "kubesim/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const jz::Json labels = {{"app", "web"}, {"tier", "front"}, {"a", ""}};
  if (auto s = jz::kubesim::Selector::parse(text); s.ok()) (void)s->matches(labels);
  static const jz::Json pod = {{"metadata", {{"name", "p"}}}, {"spec", {{"nodeName", "n"}}}};
  if (auto f = jz::kubesim::FieldSelector::parse(text); f.ok()) (void)f->matches(pod);
  if (auto q = jz::kubesim::parse_quantity_milli(text); q.ok() && *q < 0) __builtin_trap();
  return 0;
}
