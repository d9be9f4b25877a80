#include "kubesim/quantity.h"

#include <cctype>
#include <cmath>
#include <string>

namespace jz::kubesim {

Result<int64_t> parse_quantity_milli(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::invalid_argument("quantity '" + std::string(text.substr(0, 64)) + "': " + why +
                                    " (e.g. 500m, 2, 512Mi, 1G)");
  };
  if (text.empty() || text.size() > 64) return bad("empty or too long");
  size_t i = 0;
  if (text[0] == '+' || text[0] == '-') {
    if (text[0] == '-') return bad("negative");
    ++i;
  }
  const size_t num_start = i;
  bool digits = false, dot = false;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    if (text[i] == '.') {
      if (dot) return bad("two decimal points");
      dot = true;
    } else {
      digits = true;
    }
    ++i;
  }
  if (!digits) return bad("no number");
  const std::string number(text.substr(num_start, i - num_start));
  const std::string_view suffix = text.substr(i);
  long double scale = 1;
  int exponent = 0;
  if (suffix.empty()) {
  } else if (suffix == "m") {
    scale = 1e-3L;
  } else if (suffix == "k") {
    scale = 1e3L;
  } else if (suffix == "M") {
    scale = 1e6L;
  } else if (suffix == "G") {
    scale = 1e9L;
  } else if (suffix == "T") {
    scale = 1e12L;
  } else if (suffix == "P") {
    scale = 1e15L;
  } else if (suffix == "Ki" || suffix == "Mi" || suffix == "Gi" || suffix == "Ti" ||
             suffix == "Pi" || suffix == "Ei") {
    const std::string units = "KMGTPE";
    scale = std::ldexp(1.0L, 10 * (static_cast<int>(units.find(suffix[0])) + 1));
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    const std::string e(suffix.substr(1));
    if (e.empty() || e.size() > 3) return bad("bad exponent");
    size_t k = (e[0] == '-' || e[0] == '+') ? 1 : 0;
    if (k == e.size()) return bad("bad exponent");
    for (; k < e.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(e[k]))) return bad("bad exponent");
    }
    exponent = std::stoi(e);
  } else {
    return bad("unknown suffix");
  }
  long double v = std::stold(number) * scale * std::pow(10.0L, exponent) * 1000.0L;
  if (!(v < std::ldexp(1.0L, 62))) return bad("too large");
  return static_cast<int64_t>(std::ceil(v - 1e-9L));
}

}  // namespace jz::kubesim
