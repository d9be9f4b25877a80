#include "http/file_stream.h"

#include <unistd.h>

#include <algorithm>

namespace jz::http {

FileStream::~FileStream() {
  if (fd_ >= 0) ::close(fd_);
}

Stream::Step FileStream::next(std::string& out) {
  constexpr int64_t kStep = int64_t{256} * 1024;
  if (left_ <= 0) return {.done = true};
  const size_t want = static_cast<size_t>(std::min(left_, kStep));
  const size_t at = out.size();
  out.resize(at + want);
  const ssize_t n = ::pread(fd_, out.data() + at, want, offset_);
  if (n <= 0) {
    // The file shrank or broke under us: end the body here (the client sees it short).
    out.resize(at);
    return {.done = true};
  }
  out.resize(at + static_cast<size_t>(n));
  offset_ += n;
  left_ -= n;
  return {.done = left_ <= 0};
}

}  // namespace jz::http
