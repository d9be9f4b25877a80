// Secrets at rest (channel passwords, robot secrets, webhook keys): sealed with
// XSalsa20-Poly1305 (libsodium's secretbox) under a key kept in a file of the data
// folder (mode 0600, created on first use). A sealed value is "v1:" and the base64 of
// nonce and ciphertext; one that was altered, or sealed under another key, does not open.
//
// Thread-safe after construction.
#pragma once

#include <string>

#include "core/status.h"

namespace jz::alerts {

class SecretBox {
 public:
  // Reads the key at `path`, or creates it (32 random bytes, mode 0600).
  static Result<SecretBox> open_or_create(const std::string& path);
  // A box with this key (32 bytes), for tests.
  static SecretBox with_key(std::string key);

  std::string seal(const std::string& plain) const;
  Result<std::string> open(const std::string& sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace jz::alerts
