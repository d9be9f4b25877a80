#include "core/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/hash.h"

namespace jz {
namespace fs = std::filesystem;

std::string relative_path_fault(std::string_view p) {
  if (p.empty()) return "empty path";
  if (p.size() > 255) return "path longer than 255 bytes";
  if (p.front() == '/') return "'" + std::string(p) + "' is absolute; use a relative path";
  if (p.find('\\') != std::string_view::npos || p.find('\0') != std::string_view::npos) {
    return "backslashes and NUL bytes are not allowed in paths";
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view seg = p.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return "'" + std::string(p) + "' has an empty, '.' or '..' segment";
    }
    start = end + 1;
  }
  return "";
}

struct TarReader::Impl {
  std::unique_ptr<archive, int (*)(archive*)> a{archive_read_new(), archive_read_free};
  std::string noun;
  std::string expected = "a tar or tar.gz";

  Status bad(const std::string& what) const { return Status::invalid_argument(noun + ": " + what); }
  Status archive_error(const std::string& what) const {
    const char* m = archive_error_string(a.get());
    return bad(what + (m ? std::string(": ") + m : std::string()));
  }
};

TarReader::TarReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TarReader::TarReader(TarReader&&) noexcept = default;
TarReader::~TarReader() = default;

Result<TarReader> TarReader::from_memory(std::string_view bytes, std::string noun,
                                         std::string expected) {
  auto impl = std::make_unique<Impl>();
  impl->noun = std::move(noun);
  impl->expected = std::move(expected);
  archive_read_support_filter_gzip(impl->a.get());
  archive_read_support_format_tar(impl->a.get());
  if (archive_read_open_memory(impl->a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return impl->archive_error("cannot read the archive (not " + impl->expected + "?)");
  }
  return TarReader(std::move(impl));
}

Result<TarReader> TarReader::from_file(const std::string& path, std::string noun) {
  auto impl = std::make_unique<Impl>();
  impl->noun = std::move(noun);
  archive_read_support_filter_gzip(impl->a.get());
  archive_read_support_format_tar(impl->a.get());
  if (archive_read_open_filename(impl->a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::not_found("cannot open " + impl->noun + " " + path + ": " +
                             archive_error_string(impl->a.get()));
  }
  return TarReader(std::move(impl));
}

Status TarReader::walk(const ArchiveLimits& limits,
                       const std::function<Result<ArchiveSink>(const std::string&)>& open,
                       const std::function<Status(const std::string&, ArchiveSink&)>& close,
                       std::map<std::string, ArchiveEntry>& found, std::set<std::string>& dirs) {
  archive* a = impl_->a.get();
  const Impl& in = *impl_;
  const std::string holds = in.noun + "s hold regular files only";
  uint64_t total = 0;
  size_t entries = 0;
  archive_entry* e = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      return in.archive_error("cannot read the archive (not " + in.expected + "?)");
    if (++entries > limits.max_entries) {
      return in.bad("more than " + std::to_string(limits.max_entries) + " entries");
    }
    const char* raw = archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) {
      while (!name.empty() && name.back() == '/') name.pop_back();
    }
    // `tar -C DIR .` names every entry "./..." and the folder itself "." : the same
    // relative paths, spelled from the current folder.
    while (name.size() > 2 && name.compare(0, 2, "./") == 0) name.erase(0, 2);
    if (type == AE_IFDIR && name == ".") continue;
    if (const std::string why = relative_path_fault(name); !why.empty()) {
      return in.bad("entry '" + name + "': " + why);
    }
    if (archive_entry_hardlink(e) != nullptr) {
      return in.bad("entry '" + name + "' is a hard link; " + holds);
    }
    if (type == AE_IFLNK) return in.bad("entry '" + name + "' is a symbolic link; " + holds);
    if (type == AE_IFDIR) {
      if (found.count(name)) return in.bad("'" + name + "' is both a file and a folder");
      dirs.insert(name);
      continue;
    }
    if (type != AE_IFREG) return in.bad("entry '" + name + "' is not a regular file or folder");
    if (found.count(name) || dirs.count(name)) {
      return in.bad("entry '" + name + "' appears twice");
    }
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      if (found.count(name.substr(0, slash))) {
        return in.bad("'" + name.substr(0, slash) + "' is both a file and a folder");
      }
    }
    if (!archive_entry_size_is_set(e)) return in.bad("entry '" + name + "' has no size");
    const int64_t declared = archive_entry_size(e);
    const uint64_t special = limits.entry_cap ? limits.entry_cap(name) : 0;
    const uint64_t cap = special > 0 ? special : limits.max_entry_bytes;
    if (declared < 0 || static_cast<uint64_t>(declared) > cap) {
      return in.bad("entry '" + name + "' is " + std::to_string(declared) +
                    " bytes, over the limit of " + std::to_string(cap));
    }
    total += static_cast<uint64_t>(declared);
    if (total > limits.max_total_bytes) {
      return in.bad("the files add up to more than " + std::to_string(limits.max_total_bytes) +
                    " bytes");
    }
    JZ_ASSIGN_OR_RETURN(ArchiveSink sink, open(name));
    Sha256 hash;
    uint64_t size = 0;
    char buf[1 << 16];
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
      if (n < 0) {
        (void)close(name, sink);
        return in.archive_error("entry '" + name + "' cannot be read");
      }
      if (n == 0) break;
      const auto len = static_cast<size_t>(n);
      hash.update(std::string_view(buf, len));
      size += len;
      if (sink.memory) sink.memory->append(buf, len);
      for (size_t done = 0; sink.fd >= 0 && done < len;) {
        const ssize_t w = ::write(sink.fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          const int err = errno;
          (void)close(name, sink);
          return Status::failed_precondition("cannot write '" + name + "': " + errno_message(err));
        }
        done += static_cast<size_t>(w);
      }
    }
    found[name] = {hash.hex(), size};
    JZ_RETURN_IF_ERROR(close(name, sink));
  }
  return {};
}

Result<ArchiveSink> file_sink(const std::string& dest, const std::string& name) {
  const fs::path target = fs::path(dest) / name;
  fs::path built = dest;
  for (const auto& part : fs::path(name).parent_path()) {
    built /= part;
    if (::mkdir(built.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::failed_precondition("cannot create folder for " + name + ": " +
                                         errno_message(errno));
    }
    ::chmod(built.c_str(), 0755);
  }
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::failed_precondition("cannot write " + name + ": " + errno_message(errno));
  }
  ::fchmod(fd, 0644);
  return ArchiveSink{nullptr, fd};
}

Status close_sink(const std::string& name, ArchiveSink& sink) {
  if (sink.fd < 0) return {};
  const int r = ::close(sink.fd);
  sink.fd = -1;
  if (r != 0) return Status::failed_precondition("cannot write " + name);
  return {};
}

Status unpack_tar(std::string_view bytes, const std::string& dest, const ArchiveLimits& limits,
                  const std::string& noun) {
  JZ_ASSIGN_OR_RETURN(TarReader reader, TarReader::from_memory(bytes, noun));
  std::map<std::string, ArchiveEntry> found;
  std::set<std::string> dirs;
  return reader.walk(
      limits, [&](const std::string& name) { return file_sink(dest, name); }, close_sink, found,
      dirs);
}

Status unpack_tar_file(const std::string& archive, const std::string& dest,
                       const ArchiveLimits& limits, const std::string& noun) {
  JZ_ASSIGN_OR_RETURN(TarReader reader, TarReader::from_file(archive, noun));
  std::map<std::string, ArchiveEntry> found;
  std::set<std::string> dirs;
  return reader.walk(
      limits, [&](const std::string& name) { return file_sink(dest, name); }, close_sink, found,
      dirs);
}

}  // namespace jz
