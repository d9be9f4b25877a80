#include "core/csv.h"

namespace jz {

Result<Csv> parse_csv(std::string_view t, const std::string& what) {
  Csv csv;
  std::vector<std::string> row;
  std::string field;
  size_t line = 1, row_line = 1;
  bool quoted = false, was_quoted = false, any = false;
  auto end_row = [&]() -> Status {
    row.push_back(std::move(field));
    field.clear();
    if (csv.header.empty()) {
      csv.header = std::move(row);
    } else {
      if (row.size() != csv.header.size()) {
        return Status::invalid_argument(what + " line " + std::to_string(row_line) + ": " +
                                        std::to_string(row.size()) + " fields, the header has " +
                                        std::to_string(csv.header.size()));
      }
      csv.rows.push_back(std::move(row));
      csv.row_lines.push_back(row_line);
    }
    row.clear();
    any = false;
    was_quoted = false;
    return {};
  };
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < t.size() && t[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (!field.empty() || was_quoted) {
        return Status::invalid_argument(what + " line " + std::to_string(line) +
                                        ": a quote inside an unquoted field (quote the whole "
                                        "field and double the quote)");
      }
      quoted = was_quoted = any = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
      if (any || !field.empty() || !row.empty()) JZ_RETURN_IF_ERROR(end_row());
      ++line;
      row_line = line;
    } else {
      if (was_quoted) {
        return Status::invalid_argument(what + " line " + std::to_string(line) +
                                        ": text after a closing quote");
      }
      field += c;
      any = true;
    }
  }
  if (quoted) {
    return Status::invalid_argument(what + " line " + std::to_string(row_line) +
                                    ": a quoted field is not closed");
  }
  if (any || !field.empty() || !row.empty()) JZ_RETURN_IF_ERROR(end_row());
  if (csv.header.empty()) return Status::invalid_argument(what + ": empty, expected a header row");
  return csv;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\n";
}

}  // namespace jz
