#include "core/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/status.h"

namespace jz {

uint64_t Random::next_u64() {
  uint64_t v;
  fill(&v, sizeof v);
  return v;
}

void SecureRandom::fill(void* buf, size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // Without a working CSPRNG no token or id can be trusted; stopping is the only
      // safe answer.
      throw std::runtime_error(std::string("getrandom failed: ") + errno_message(errno));
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

SecureRandom& SecureRandom::instance() {
  static SecureRandom r;
  return r;
}

void SeededRandom::fill(void* buf, size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(engine_() & 0xff);
}

std::string random_hex(Random& rng, size_t n_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string bytes(n_bytes, '\0');
  rng.fill(bytes.data(), n_bytes);
  std::string out;
  out.reserve(n_bytes * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace jz
