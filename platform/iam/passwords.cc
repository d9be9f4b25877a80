#include "platform/iam/passwords.h"

#include <sodium.h>

#include <stdexcept>

#include "core/random.h"

namespace jz::iam {
namespace {
void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    return true;
  }();
  (void)ready;
}
}  // namespace

Result<std::string> hash_password(std::string_view password, HashCost cost) {
  ensure_sodium();
  unsigned long long ops = cost == HashCost::kInteractive ? crypto_pwhash_OPSLIMIT_INTERACTIVE
                                                          : crypto_pwhash_OPSLIMIT_MIN;
  size_t mem = cost == HashCost::kInteractive ? crypto_pwhash_MEMLIMIT_INTERACTIVE
                                              : crypto_pwhash_MEMLIMIT_MIN;
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), ops, mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::resource_exhausted("not enough memory to hash a password");
  }
  return std::string(out);
}

bool verify_password(std::string_view encoded, std::string_view password) {
  ensure_sodium();
  std::string enc(encoded);  // needs a NUL-terminated string
  return crypto_pwhash_str_verify(enc.c_str(), password.data(), password.size()) == 0;
}

Status check_password_policy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return Status::invalid_argument("field 'password' must be at least " +
                                    std::to_string(kMinPasswordLength) + " characters long");
  }
  if (password.size() > kMaxPasswordLength) {
    return Status::invalid_argument("field 'password' must be at most " +
                                    std::to_string(kMaxPasswordLength) + " characters long");
  }
  for (unsigned char c : password) {
    if (c < 0x20 || c == 0x7f) {
      return Status::invalid_argument("field 'password' must not contain control characters");
    }
  }
  return {};
}

std::string random_password() {
  static constexpr char kAlphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
  constexpr size_t kN = sizeof kAlphabet - 1;
  std::string out;
  auto& rng = SecureRandom::instance();
  while (out.size() < 20) {
    unsigned char b;
    rng.fill(&b, 1);
    if (b < 256 - 256 % kN) out.push_back(kAlphabet[b % kN]);  // no modulo bias
  }
  return out;
}

}  // namespace jz::iam
