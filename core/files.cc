#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace jz {
namespace {

std::string why(int err) { return errno_message(err); }

}  // namespace

Status read_chunks(const std::string& path, const std::function<void(const char*, size_t)>& chunk) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::not_found("cannot read " + path + ": " + why(errno));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::not_found("cannot read " + path + ": " + why(err));
    }
    if (n == 0) break;
    chunk(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return {};
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

Result<std::string> read_file(const std::string& path) {
  std::string out;
  JZ_RETURN_IF_ERROR(read_chunks(path, [&](const char* p, size_t n) { out.append(p, n); }));
  return out;
}

Result<std::string> make_temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(templ.data())) {
    return Status::failed_precondition("cannot create a folder like " + templ + ": " + why(errno));
  }
  return templ;
}

Status write_file(const std::string& path, std::string_view data, unsigned mode, bool exclusive,
                  bool durable) {
  struct stat st;
  if (exclusive && ::lstat(path.c_str(), &st) == 0) {
    return Status::already_exists(path + " already exists; remove it first or choose another name");
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::failed_precondition("cannot write " + path + ": " + why(errno));
  ::fchmod(fd, mode);  // the umask must not widen or narrow what the caller asked for
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::failed_precondition("cannot write " + path + ": " + why(err));
    }
    done += static_cast<size_t>(n);
  }
  if ((durable && ::fsync(fd) != 0) || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::failed_precondition("cannot write " + path + ": " + why(err));
  }
  if (exclusive ? ::link(tmp.c_str(), path.c_str()) != 0
                : ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) {
      return Status::already_exists(path +
                                    " already exists; remove it first or choose another name");
    }
    return Status::failed_precondition("cannot write " + path + ": " + why(err));
  }
  if (exclusive) ::unlink(tmp.c_str());
  return {};
}

Status write_all(int fd, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::internal("cannot write " + what + ": " + errno_message(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

bool path_is_under(const std::string& path, const std::string& root) {
  const std::filesystem::path p(path), r(root);
  auto q = p.begin();
  for (const auto& c : r) {
    if (c.empty()) continue;  // a trailing separator
    if (q == p.end() || *q != c) return false;
    ++q;
  }
  return true;
}

}  // namespace jz
