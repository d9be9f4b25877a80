// Request and response schemas: the API's named JSON Schemas (OpenAPI 3.0 dialect) and a
// validator for the subset the routes use. One schema per body serves both the check
// before a handler runs and the OpenAPI document, so the two cannot disagree.
//
// Supported keywords: type (string, integer, number, boolean, object, array), nullable,
// properties, required, additionalProperties (false or a schema), items, enum, minimum,
// maximum, minLength, maxLength, minItems, maxItems, $ref (#/components/schemas/NAME),
// allOf, description, format and readOnly (documentation only; readOnly fields are
// accepted and ignored in requests).
//
// Thread safety: pure functions over constant data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::api::schema {

// Builders, to keep route tables short.
Json ref(const std::string& name);
Json str(const std::string& description = "");
Json integer(const std::string& description = "");
Json number(const std::string& description = "");
Json boolean(const std::string& description = "");
Json time(const std::string& description = "");  // RFC 3339
Json nullable(Json s);
Json one_of_strings(std::vector<std::string> values, const std::string& description = "");
Json array_of(Json items);
// An object that refuses unknown fields.
Json object(Json properties, const std::vector<std::string>& required = {});
// {"items":[NAME...],"next_page_token":string|null}
Json list_of(const std::string& item);

// The named schemas (#/components/schemas).
const Json& components();

// invalid_argument naming the first field (a dotted path) that does not fit.
Status validate(const Json& value, const Json& schema);

}  // namespace jz::api::schema
