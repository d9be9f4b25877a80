// Hashes, once for the whole code base: SHA-256 of bytes, of a stream and of a file (read
// errors are errors, naming the file), and SHA-1 for the WebSocket handshake (RFC 6455
// fixes it there; it protects nothing and must not be used to).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz {

// Streaming SHA-256: update() any number of times, then hex() or digest() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  std::array<uint8_t, 32> digest();
  std::string hex();  // lower-case, 64 characters

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view bytes);
// The file's SHA-256 (hex) and, when `size` is given, its length; not_found naming the
// file when it cannot be read to the end.
Result<std::string> sha256_file(const std::string& path, uint64_t* size = nullptr);

// SHA-1, for Sec-WebSocket-Accept only.
std::array<uint8_t, 20> sha1(std::string_view bytes);

// Base64 (RFC 4648, standard alphabet, padded).
std::string base64_encode(std::string_view bytes);
// Its inverse; invalid_argument naming `what` when `text` is not base64.
Result<std::string> base64_decode(std::string_view text, std::string_view what);

// Lower-case hex of any bytes.
std::string to_hex(const uint8_t* bytes, size_t n);

}  // namespace jz
