// Password hashing with argon2id (libsodium's crypto_pwhash_str), and the password
// policy. Encoded hashes carry their own parameters and salt, so stored hashes stay
// verifiable when the cost settings change. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/hash.h"  // sha256_hex (token lookups)
#include "core/status.h"

namespace jz::iam {

enum class HashCost {
  kInteractive,  // libsodium's interactive limits: ~64 MiB, the production default
  kMinimum,      // the smallest argon2id allows; for tests, never for real passwords
};

Result<std::string> hash_password(std::string_view password, HashCost cost);
// True when `password` matches `encoded` (a crypto_pwhash_str string).
bool verify_password(std::string_view encoded, std::string_view password);

inline constexpr size_t kMinPasswordLength = 12;
inline constexpr size_t kMaxPasswordLength = 256;
// A clear message when the password is too short, too long or not valid UTF-8 text.
Status check_password_policy(std::string_view password);

// A random password for the first admin: 20 characters from an unambiguous alphabet.
std::string random_password();

}  // namespace jz::iam
