// The build's version and source revision, compiled in by CMake.
#pragma once

#include <string_view>

namespace jz {
std::string_view version();       // "0.1.0"
std::string_view git_revision();  // short commit hash, or "unknown" outside a checkout
}  // namespace jz
