// RFC 4180 CSV: quoted fields with "" for a quote, CRLF or LF line ends. Errors name
// the line. Every row must have as many fields as the header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz {

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> row_lines;  // the line each row starts on

  // The column's index, or -1.
  int column(std::string_view name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
};
Result<Csv> parse_csv(std::string_view text, const std::string& what);

// One field as RFC 4180 writes it (quoted when it holds a comma, quote or line end).
std::string csv_field(std::string_view s);
// Fields joined with commas, ending with LF.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace jz
