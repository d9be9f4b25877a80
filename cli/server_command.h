// `jizhan server`: loads the configuration, opens the store, serves HTTP until
// SIGTERM or SIGINT, then shuts down gracefully.
#pragma once

#include "core/config.h"

namespace jz::cli {

// Returns the process exit status: 0 after a clean shutdown, 1 on a runtime error,
// 2 on a configuration error. Fatal errors are printed as one line on stderr.
int run_server(const ConfigSources& sources);

}  // namespace jz::cli
