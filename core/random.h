// Randomness sources. SecureRandom reads the kernel CSPRNG (getrandom) and is what
// tokens and ids use; tests may pass a SeededRandom for reproducible sequences.
// SecureRandom is thread-safe; SeededRandom is not.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace jz {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(void* buf, size_t n) = 0;
  uint64_t next_u64();
};

class SecureRandom final : public Random {
 public:
  void fill(void* buf, size_t n) override;
  static SecureRandom& instance();
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  void fill(void* buf, size_t n) override;

 private:
  std::mt19937_64 engine_;
};

// n random bytes from `rng` as 2n lowercase hex digits.
std::string random_hex(Random& rng, size_t n_bytes);

}  // namespace jz
