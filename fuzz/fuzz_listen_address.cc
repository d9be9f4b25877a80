// Fuzz target: HOST:PORT listen addresses. Accepted ports are always in range.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string host;
  int port = -1;
  jz::Status s = jz::http::parse_listen_address(
      std::string_view(reinterpret_cast<const char*>(data), size), host, port);
  if (s.ok() && (port < 0 || port > 65535)) __builtin_trap();
  return 0;
}
