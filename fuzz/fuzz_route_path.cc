// Fuzz target: route paths (JSONPath, the short form, suffixes, xpath:) parsed and run
// on a fixed document. Every normalized path a query returns must itself parse and
// select exactly the value it names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routepath/route.h"

namespace {
const jz::routepath::Value& document() {
  static const auto* doc = new jz::routepath::Value(jz::routepath::Value::parse(
      R"({"a":[1,2.5,"x",{"b":null,"c":[true,false]}],"o":{"k'":"v","n":-3,"d":{"e":[]}},
          "s":"Hello \u00e9\ud83d\ude00","box":{"x":1,"y":2,"width":3,"height":4}})"));
  return *doc;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = jz::routepath::Query::parse(text);
  if (q.ok()) {
    for (const auto& m : q->select_with_paths(document())) {
      auto again = jz::routepath::Query::parse(m.path);
      if (!again.ok() || !again->singular()) __builtin_trap();
      auto one = again->select(document());
      if (one.size() != 1 || one[0] != m.value) __builtin_trap();
    }
  }
  auto r = jz::routepath::RoutePath::parse(text);
  if (r.ok()) {
    jz::routepath::Document doc(document());
    (void)r->values(doc);
  }
  return 0;
}
