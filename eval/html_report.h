// One self-contained HTML file from a report.json: summary, per-variable tables,
// per-class precision/recall/F1, confusion matrices and precision-recall curves as
// inline SVG, and the worst samples. No scripts, fonts or images from elsewhere.
#pragma once

#include <string>

#include "core/json.h"

namespace jz::eval {

std::string html_report(const Json& report);

}  // namespace jz::eval
