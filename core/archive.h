// Reading tar and tar.gz archives under rules, for algorithm packages (sdk/package.h) and
// dataset uploads (platform/jobs/datasets.h) alike: names relative, without "..", empty or
// "." segments, backslashes or NUL; regular files and folders only (no links of any kind,
// no devices); no name twice, no name both a file and a folder; bounded entries, entry
// sizes and total size. Each file's bytes go where the caller says (memory, a file under a
// folder, or nowhere) and are hashed (SHA-256) on the way.
//
// A library of its own (jz_archive, libarchive), so that programs built on core/ alone do
// not carry libarchive.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz {

// Why `path` is not an acceptable relative path; "" when it is.
std::string relative_path_fault(std::string_view path);

struct ArchiveLimits {
  uint64_t max_entry_bytes = uint64_t{4} << 30;   // one file
  uint64_t max_total_bytes = uint64_t{16} << 30;  // all files
  size_t max_entries = 10000;
  // A tighter limit for some names (a package's manifest); 0 for the default.
  std::function<uint64_t(const std::string&)> entry_cap;
};

struct ArchiveEntry {
  std::string sha256;
  uint64_t size = 0;
};

// Where one entry's bytes go: into `memory` when set, to `fd` when >= 0, else only the hash.
struct ArchiveSink {
  std::string* memory = nullptr;
  int fd = -1;
};

class TarReader {
 public:
  // `noun` starts every error ("package: entry 'x' is a symbolic link"); `expected` names
  // what the bytes should be, for the error when they are not an archive.
  static Result<TarReader> from_memory(std::string_view bytes, std::string noun,
                                       std::string expected = "a tar or tar.gz");
  static Result<TarReader> from_file(const std::string& path, std::string noun);
  TarReader(TarReader&&) noexcept;
  ~TarReader();

  // Walks every entry with the rules; `open` gives each file's sink, `close` is called
  // after its last byte (or on an error). Fills `found` (files) and `dirs` (folders).
  Status walk(const ArchiveLimits& limits,
              const std::function<Result<ArchiveSink>(const std::string&)>& open,
              const std::function<Status(const std::string&, ArchiveSink&)>& close,
              std::map<std::string, ArchiveEntry>& found, std::set<std::string>& dirs);

 private:
  struct Impl;
  explicit TarReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A sink writing entry `name` to a new file under `dest`: folders made one component at a
// time (0755), never through a link, the file created exclusively (0644).
Result<ArchiveSink> file_sink(const std::string& dest, const std::string& name);
// Closes a file sink; an error names the entry.
Status close_sink(const std::string& name, ArchiveSink& sink);

// Unpacks a tar or tar.gz in memory into the existing, empty folder `dest` with the rules
// above, streaming each file to disk. On error what was written stays for the caller to
// remove with `dest`.
Status unpack_tar(std::string_view bytes, const std::string& dest, const ArchiveLimits& limits,
                  const std::string& noun);

// The same for an archive in a file, read from disk as it unpacks (bounded memory).
Status unpack_tar_file(const std::string& archive, const std::string& dest,
                       const ArchiveLimits& limits, const std::string& noun);

}  // namespace jz
