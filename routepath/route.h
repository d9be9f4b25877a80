// Route paths: how templates point into an algorithm's output and into annotations.
//
// Three forms (docs/ROUTE_PATHS.md):
//   - JSONPath (RFC 9535), starting with '$':          $.people[?@.age > 30].name
//   - the seed's short form, sugar for "$." + path:    people[0].age  ==  $.people[0].age
//   - XPath 1.0 for XML documents, after "xpath:":     xpath://object/bndbox/xmin
// Any of them may end in a type suffix that converts each matched value or fails with
// a typed error naming the value's normalized path: @num, @int, @str, @bool, @list,
// @obj, @box (a bounding box: see to_box()).
//
// Thread-safe once parsed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "routepath/jsonpath.h"
#include "routepath/xml.h"

namespace jz::routepath {

enum class Suffix { kNone, kNum, kInt, kStr, kBool, kList, kObj, kBox };
std::string_view suffix_name(Suffix s);  // "@num", or "" for kNone

// A JSON or an XML document.
class Document {
 public:
  explicit Document(Value json) : json_(std::move(json)) {}
  explicit Document(XmlDocument xml) : xml_(std::move(xml)) {}
  const Value& json() const { return xml_ ? xml_->json() : json_; }
  const XmlDocument* xml() const { return xml_ ? &*xml_ : nullptr; }

 private:
  Value json_;
  std::optional<XmlDocument> xml_;
};

enum class Format { kJson, kXml };
// Parses a document; errors name the line and column. `what` names it in messages.
Result<Document> parse_document(std::string_view text, Format format, std::string_view what,
                                const XmlOptions& xml = {});

// Parses each non-blank line of JSON-lines text as a document and calls
// fn(document, "WHAT line N"); stops at the first error (a parse error names the line).
Status for_each_json_line(std::string_view text, std::string_view what,
                          const std::function<Status(const Document&, const std::string&)>& fn);

class RoutePath {
 public:
  // Errors name the character position and what was expected.
  static Result<RoutePath> parse(std::string_view text);

  // The matched values, converted by the suffix. A value that does not convert is an
  // error: "$['people'][0]['age']: @num expects a number, got the string \"old\"".
  Result<std::vector<Value>> values(const Document& doc) const;
  // The matched values with their normalized paths (not for xpath: paths, whose
  // results have none; they are numbered "#1", "#2", ...).
  Result<std::vector<std::pair<std::string, Value>>> values_with_paths(const Document& doc) const;

  // Evaluates on JSON text and appends the matched values as one JSON array ("[1,2]").
  // Simple paths (names, indexes, wildcards) run on the text without building the
  // document (scan.h); others parse it. Numbers and strings are copied as written;
  // objects and arrays are written compactly. `what` names the text in errors.
  Status append_json_array(std::string_view json_text, std::string_view what,
                           std::string& out) const;

  const std::string& text() const { return text_; }
  Suffix suffix() const { return suffix_; }
  bool is_xpath() const { return !xpath_.empty(); }
  // The JSONPath the route path stands for ("" for xpath: paths).
  std::string jsonpath() const { return query_ ? query_->text() : ""; }

 private:
  std::string text_;
  Suffix suffix_ = Suffix::kNone;
  std::optional<Query> query_;
  std::optional<std::vector<Query::Step>> steps_;  // set when the scanner can run it
  std::string xpath_;
};

// Converts one value as `suffix` says; `where` names it in the error.
Result<Value> convert(const Value& v, Suffix suffix, std::string_view where);

// A box as {"x1","y1","x2","y2"} (numbers, x2 >= x1, y2 >= y1) from
// [x1, y1, x2, y2], {"x1","y1","x2","y2"}, {"xmin","ymin","xmax","ymax"},
// {"x","y","width","height"} or {"x","y","w","h"} (numbers or numeric strings).
Result<Value> to_box(const Value& v, std::string_view where);

}  // namespace jz::routepath
