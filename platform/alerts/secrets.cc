#include "platform/alerts/secrets.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/hash.h"

namespace jz::alerts {

Result<SecretBox> SecretBox::open_or_create(const std::string& path) {
  if (sodium_init() < 0) return Status::internal("libsodium cannot start");
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    randombytes_buf(key.data(), key.size());
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      const bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                      ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) return Status::internal("cannot write the secrets key " + path);
      return SecretBox(std::move(key));
    }
    if (errno != EEXIST) {
      return Status::internal("cannot create the secrets key " + path + ": " +
                              errno_message(errno));
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);  // another process made it
  }
  if (fd < 0)
    return Status::internal("cannot read the secrets key " + path + ": " + errno_message(errno));
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && st.st_size == static_cast<off_t>(key.size()) &&
                  ::read(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  ::close(fd);
  if (!ok) {
    return Status::failed_precondition("the secrets key " + path + " is not " +
                                       std::to_string(key.size()) +
                                       " bytes: restore it from a backup (sealed secrets "
                                       "cannot be opened without it)");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::failed_precondition("the secrets key " + path +
                                       " is readable by others: chmod 600 it");
  }
  return SecretBox(std::move(key));
}

SecretBox SecretBox::with_key(std::string key) {
  if (sodium_init() < 0) std::abort();
  key.resize(crypto_secretbox_KEYBYTES, '\0');
  return SecretBox(std::move(key));
}

std::string SecretBox::seal(const std::string& plain) const {
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nonce,
                        reinterpret_cast<const unsigned char*>(key_.data()));
  return "v1:" + base64_encode(out);
}

Result<std::string> SecretBox::open(const std::string& sealed) const {
  if (sealed.rfind("v1:", 0) != 0) return Status::internal("a sealed secret of an unknown form");
  JZ_ASSIGN_OR_RETURN(std::string raw, base64_decode(sealed.substr(3), "sealed secret"));
  if (raw.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Status::internal("a sealed secret is too short");
  }
  std::string plain(raw.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 raw.size() - crypto_secretbox_NONCEBYTES, nonce,
                                 reinterpret_cast<const unsigned char*>(key_.data())) != 0) {
    return Status::internal("a sealed secret does not open under this server's key");
  }
  return plain;
}

}  // namespace jz::alerts
