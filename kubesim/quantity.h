// Kubernetes resource quantities ("500m", "2", "1.5", "512Mi", "1G", "1e3").
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace jz::kubesim {

// The quantity in thousandths of its unit ("500m" -> 500, "2" -> 2000, "1Ki" -> 1024000),
// rounded up; errors name the text. Values past 2^62 thousandths are refused.
Result<int64_t> parse_quantity_milli(std::string_view text);

}  // namespace jz::kubesim
