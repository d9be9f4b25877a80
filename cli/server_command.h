// `jizhan server`: loads the configuration, opens the store, serves HTTP until
// SIGTERM or SIGINT, then shuts down gracefully.
#pragma once

#include <chrono>
#include <string>

#include "core/config.h"

namespace jz::cli {

// Returns the process exit status: 0 after a clean shutdown, 1 on a runtime error,
// 2 on a configuration error. Fatal errors are printed as one line on stderr.
int run_server(const ConfigSources& sources);

// `jizhan audit verify`: walks the audit chain in the store the configuration names.
// Exit 0 when intact; 1 naming the first bad record otherwise; 2 on bad configuration.
int run_audit_verify(const ConfigSources& sources, bool check_archive_files);
// `jizhan audit archive`: moves records older than `older_than` into a file in
// `out_dir` (default: the configured audit.archive_dir).
int run_audit_archive(const ConfigSources& sources, std::chrono::milliseconds older_than,
                      const std::string& out_dir);

}  // namespace jz::cli
