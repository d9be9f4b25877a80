// The JSON Schema subset algorithms declare their config and output with: type (one or a
// list), required, properties, additionalProperties (false or a schema), items, enum,
// const, minimum, maximum, minItems, maxItems, minLength, maxLength. Unknown keywords
// (description, default, title, ...) are ignored, as JSON Schema does.
#pragma once

#include <string>

#include "core/json.h"
#include "core/status.h"

namespace jz::sdk {

// OK, or invalid_argument naming the first place that does not match, as
// "$.algorithm_data.target_count: expected integer, got string".
Status validate_json(const Json& value, const Json& schema);

}  // namespace jz::sdk
