// Whole-file reads and writes with errors that name the file.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jz {

// Reads the file in chunks, calling `chunk` for each; errors name the file.
Status read_chunks(const std::string& path, const std::function<void(const char*, size_t)>& chunk);

// The running program's path (/proc/self/exe); "" when the system does not say.
std::string self_executable();

// The file's bytes; not_found (naming the file and the reason) when it cannot be read.
Result<std::string> read_file(const std::string& path);

// Writes `data` to a temporary file beside `path`, fsyncs it and renames it over `path`,
// so readers see the old or the new content, never a part. `mode` applies to the new file.
// With `exclusive`, an existing `path` is an already_exists error and is left alone.
// Without `durable` the data is not synced to the disk first: the write is still atomic
// and survives a crash of the process, not of the machine.
Status write_file(const std::string& path, std::string_view data, unsigned mode = 0644,
                  bool exclusive = false, bool durable = true);

// Writes all of `data` to `fd` (again after short writes and EINTR); errors name `what`.
Status write_all(int fd, std::string_view data, const std::string& what);

// Whether `path` is `root` or inside it, comparing whole components as written (no
// resolving: pass paths already made canonical). "/data/a" is under "/data" and "/data/",
// "/database" is not.
bool path_is_under(const std::string& path, const std::string& root);

// A new private folder under $TMPDIR (else /tmp) named PREFIX-XXXXXX.
Result<std::string> make_temp_dir(const std::string& prefix);

}  // namespace jz
