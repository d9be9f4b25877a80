// JSON-lines text (what `jizhan algo run` and `jizhan client serve` write) as values.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"

namespace jz::testing {

inline std::vector<Json> lines_of(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(Json::parse(l));
  }
  return out;
}

}  // namespace jz::testing
