// Fixed-size values in byte strings, in the machine's order (little-endian on every machine
// we build for): the record formats of the log and run stores and of TensorBoard files.
#pragma once

#include <cstring>
#include <string>

namespace jz {

template <typename T>
void put_bytes(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <typename T>
T get_bytes(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace jz
