// XML documents for route paths: one mapping from XML to JSON, so the same paths
// apply to both (docs/ROUTE_PATHS.md, "XML"), and pugixml's XPath for `xpath:` paths.
//
// The mapping:
//   - the document is an object with one member, the root element: <a/> -> {"a": ...};
//   - an element with neither attributes nor child elements maps to its text, a string
//     (surrounding blank space removed): <w>48</w> -> "48";
//   - any other element maps to an object: attributes as "@name" members, child elements
//     as members named by their tag, and its own text (if not blank) as "#text";
//   - a tag that appears more than once among an element's children maps to an array of
//     them in document order; one that appears once maps to the element itself, unless
//     its name is in XmlOptions::arrays (then always an array: VOC's <object>);
//   - comments, processing instructions and the declaration are dropped; CDATA is text;
//     names keep their namespace prefix as written ("ns:tag").
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"
#include "routepath/jsonpath.h"

namespace pugi {
class xml_document;
}

namespace jz::routepath {

// Line and column (from 1) of a byte offset in `text`, for error messages.
std::pair<size_t, size_t> line_column(std::string_view text, size_t offset);

struct XmlOptions {
  std::set<std::string> arrays;  // tags always mapped to arrays
};

// A parsed XML document with its JSON mapping.
class XmlDocument {
 public:
  // Errors name the line and column and what pugixml expected.
  static Result<XmlDocument> parse(std::string_view text, const XmlOptions& options = {});
  const Value& json() const { return json_; }
  // Evaluates an XPath 1.0 expression: a node set gives one value per node (an
  // attribute's value; an element mapped as above; a text node's text), a number,
  // string or boolean gives one value.
  Result<std::vector<Value>> xpath(std::string_view expression) const;

 private:
  std::shared_ptr<pugi::xml_document> doc_;
  Value json_;
  XmlOptions options_;
};

}  // namespace jz::routepath
