// Every key `jizhan server` reads, declared once: types, defaults and help. It needs
// nothing but core/config.h, so the configuration parser's fuzz target links it alone.
// docs/CONFIG.md is generated from it (`jizhan config keys --markdown`).
#pragma once

#include "core/config.h"

namespace jz::cli {

const ConfigSchema& server_schema();

}  // namespace jz::cli
