// Competition verification: compares the result CSV a team submitted with the CSV a
// rerun of its algorithm produced, joined on a key column, field by field, with
// per-column numeric tolerances. Verdicts: "identical", "within tolerance" (numeric
// differences no larger than the tolerance, or the same number written differently),
// "modified" (anything else: a value beyond tolerance, a missing or extra row or column).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/csv.h"
#include "core/status.h"

namespace jz::eval {

using jz::Csv;  // the parser lives in core/csv.h
using jz::parse_csv;

struct CsvDiff {
  std::string verdict;  // identical | within tolerance | modified
  size_t rows_compared = 0, differences = 0, outside_tolerance = 0;
  std::vector<std::string> lines;  // one per difference (the first 1000)
};

Result<CsvDiff> diff_csv(const Csv& submitted, const Csv& rerun, const std::string& key,
                         const std::map<std::string, double>& tolerance);
Result<CsvDiff> diff_csv_files(const std::string& submitted, const std::string& rerun,
                               const std::string& key,
                               const std::map<std::string, double>& tolerance);

}  // namespace jz::eval
