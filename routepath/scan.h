// Route paths on raw JSON text: a validating scanner that runs simple queries (child
// segments with one name, index or wildcard selector each, such as
// $.algorithm_data.target_info[*].confidence) without building the document.
//
// The whole document is still checked as strictly as the full parser checks it
// (structure, literals, numbers, string escapes, surrogate pairs, UTF-8, no raw control
// characters), so a malformed line is an error on either path. What differs is the
// cost: values outside the path are only skipped. Results are the text of each matched
// value, in the order the full evaluator gives; a repeated member name selects the last
// occurrence, as the full parser keeps it. A member name repeated under a wildcard (where
// the parser's first-position, last-value rule would have to be replayed) returns
// failed_precondition: the caller evaluates such a document the full way.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "routepath/jsonpath.h"

namespace jz::routepath {

Status scan_select(std::string_view doc, const std::vector<Query::Step>& steps,
                   std::vector<std::string_view>& out);

}  // namespace jz::routepath
