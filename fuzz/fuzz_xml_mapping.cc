// Fuzz target: XML documents through the JSON mapping and XPath. The mapping of any
// document that parses is a one-member object that serialises to valid JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routepath/route.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  jz::routepath::XmlOptions opts;
  opts.arrays = {"object"};
  auto d = jz::routepath::XmlDocument::parse(text, opts);
  if (d.ok()) {
    if (!d->json().is_object() || d->json().size() != 1) __builtin_trap();
    std::string dumped =
        d->json().dump(-1, ' ', false, jz::routepath::Value::error_handler_t::replace);
    auto back = jz::routepath::Value::parse(dumped, nullptr, false);
    if (back.is_discarded()) __builtin_trap();
    (void)d->xpath("//object/name");
    (void)d->xpath("count(//*)");
  }
  // The same bytes as an XPath expression over a fixed document.
  static const auto* fixed = new jz::routepath::XmlDocument(
      *jz::routepath::XmlDocument::parse("<a x='1'><b>2</b><b>3</b><c><d/></c></a>"));
  (void)fixed->xpath(text);
  return 0;
}
