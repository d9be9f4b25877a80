// JSONPath queries as RFC 9535 defines them: root and current-node identifiers, child
// and descendant segments, name, wildcard, index, slice and filter selectors, filter
// expressions with comparisons and logical operators, the five standard functions
// (length, count, match, search, value; match and search take I-Regexps), and
// normalized paths. Passes the whole JSONPath compliance test suite (tests/data).
//
// Documents are nlohmann::ordered_json, so object members keep their document order
// and wildcards visit them in that order.
//
//   auto q = Query::parse("$.people[?@.age > 30].name");
//   for (const Value* v : q->select(doc)) ...
//
// A parsed Query is immutable and safe to use from many threads at once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::routepath {

using Value = nlohmann::ordered_json;

struct Match {
  const Value* value;
  std::string path;  // normalized path, e.g. $['people'][0]['age']
};

class Query {
 public:
  // Parses a query. Errors say where (character position, from 1) and what was
  // expected: "at character 7: expected ']' after the index".
  static Result<Query> parse(std::string_view text);

  // The selected nodes, in the order RFC 9535 defines.
  std::vector<const Value*> select(const Value& root) const;
  // The selected nodes with their normalized paths.
  std::vector<Match> select_with_paths(const Value& root) const;

  // True when the query can select at most one node (only name and index selectors).
  bool singular() const;

  // A query made only of child segments with one name, index or wildcard selector each
  // ($.a[0].b[*].c) can run on raw JSON text without building a document (see
  // scan.h); its steps, or nullopt for any other query.
  struct Step {
    enum Kind { kName, kIndex, kWildcard } kind;
    std::string name;
    int64_t index = 0;
  };
  std::optional<std::vector<Step>> simple_steps() const;
  const std::string& text() const { return text_; }

  struct Ast;

 private:
  std::shared_ptr<const Ast> ast_;
  std::string text_;
};

// A normalized path's quoting of a member name: 'a\'b'.
std::string normalized_name(std::string_view name);

}  // namespace jz::routepath
