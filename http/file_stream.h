// A body read from an open file as the client takes it (downloads of job outputs, git's
// packs): 256 KiB at a time, so a file of any size costs the server one buffer.
#pragma once

#include <cstdint>

#include "http/server.h"

namespace jz::http {

class FileStream : public Stream {
 public:
  // Owns `fd` (closed when the stream goes); sends `size` bytes from `offset`.
  FileStream(int fd, int64_t offset, int64_t size) : fd_(fd), offset_(offset), left_(size) {}
  ~FileStream() override;
  FileStream(const FileStream&) = delete;
  FileStream& operator=(const FileStream&) = delete;
  Step next(std::string& out) override;

 private:
  int fd_;
  int64_t offset_, left_;
};

}  // namespace jz::http
