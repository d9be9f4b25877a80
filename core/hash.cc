#include "core/hash.h"

#include <sodium.h>

#include "core/files.h"

namespace jz {

struct Sha256::State {
  crypto_hash_sha256_state st;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  // libsodium picks its implementations once; thread-safe and idempotent.
  static const bool ready = sodium_init() >= 0;
  (void)ready;
  crypto_hash_sha256_init(&state_->st);
}
Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  crypto_hash_sha256_update(&state_->st, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::array<uint8_t, 32> Sha256::digest() {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256_final(&state_->st, out.data());
  return out;
}

std::string Sha256::hex() {
  const auto d = digest();
  return to_hex(d.data(), d.size());
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex();
}

Result<std::string> sha256_file(const std::string& path, uint64_t* size) {
  Sha256 h;
  uint64_t total = 0;
  JZ_RETURN_IF_ERROR(read_chunks(path, [&](const char* p, size_t n) {
    h.update(std::string_view(p, n));
    total += n;
  }));
  if (size) *size = total;
  return h.hex();
}

Result<std::string> base64_decode(std::string_view text, std::string_view what) {
  static const bool ready = sodium_init() >= 0;
  (void)ready;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return Status::invalid_argument(std::string(what) + " is not valid base64");
  }
  out.resize(len);
  return out;
}

}  // namespace jz
