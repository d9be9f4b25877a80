// I-Regexp (RFC 9485), the interoperable regular expressions of JSONPath's match()
// and search() functions.
//
// Compiled to a small program and run as a Pike VM over Unicode code points, so a
// match costs O(pattern x text) whatever the pattern: no backtracking blow-up.
// Supported: branches (|), groups, * + ? {n} {n,} {n,m} (m at most 1000), '.', which
// matches any character but \n and \r, character classes with ranges and negation,
// single-character escapes, and \p{..} / \P{..} Unicode general categories (from ICU).
// As in I-Regexp, ^ and $ are ordinary characters.
//
// Thread-safe once compiled.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jz::routepath {

class IRegexp {
 public:
  // nullopt when `pattern` is not a valid I-Regexp (or not valid UTF-8); `error`, when
  // given, says why.
  static std::optional<IRegexp> compile(std::string_view pattern, std::string* error = nullptr);

  // The whole of `text` (UTF-8) matches; false for invalid UTF-8.
  bool full_match(std::string_view text) const;
  // Some substring of `text` matches.
  bool search(std::string_view text) const;

  struct Program;

 private:
  std::shared_ptr<const Program> program_;
};

// Decodes UTF-8 to code points; false on malformed input (overlong forms, surrogates,
// values beyond U+10FFFF, truncated sequences).
bool decode_utf8(std::string_view text, std::u32string& out);
void append_utf8(std::string& out, char32_t cp);

}  // namespace jz::routepath
