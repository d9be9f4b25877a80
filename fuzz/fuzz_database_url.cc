// Fuzz target: database URLs (--db, store.url). Never crash; never echo a password.
#include <cstddef>
#include <cstdint>
#include <string>

#include "store/database.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string url(reinterpret_cast<const char*>(data), size);
  auto r = jz::store::parse_database_url(url);
  const std::string secret = ":hunter2@";
  if (url.find(secret) != std::string::npos && url.rfind("postgres", 0) == 0) {
    std::string shown = r.ok() ? r->redacted : r.status().message();
    // The password as it stood in the URL (between ':' and '@') must not be shown.
    if (shown.find(secret) != std::string::npos) __builtin_trap();
  }
  return 0;
}
