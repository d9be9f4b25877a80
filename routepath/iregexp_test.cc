// I-Regexp (RFC 9485): syntax, Unicode, and linear-time matching.
#include "routepath/iregexp.h"

#include <gtest/gtest.h>

#include <chrono>

namespace jz::routepath {
namespace {

bool full(const std::string& p, const std::string& t) {
  auto r = IRegexp::compile(p);
  EXPECT_TRUE(r.has_value()) << p;
  return r && r->full_match(t);
}
bool search(const std::string& p, const std::string& t) {
  auto r = IRegexp::compile(p);
  EXPECT_TRUE(r.has_value()) << p;
  return r && r->search(t);
}

TEST(IRegexp, Basics) {
  EXPECT_TRUE(full("a.c", "abc"));
  EXPECT_FALSE(full("a.c", "a\nc"));
  EXPECT_TRUE(full("a.c",
                   "a\xF0\x9F\x98\x80"
                   "c"));  // '.' is one code point
  EXPECT_TRUE(full("(ab|cd)+", "abcdab"));
  EXPECT_FALSE(full("(ab|cd)+", "abc"));
  EXPECT_TRUE(full("a{2,3}", "aaa"));
  EXPECT_FALSE(full("a{2,3}", "aaaa"));
  EXPECT_TRUE(full("a{2,}", "aaaaa"));
  EXPECT_TRUE(full("[a-c]x[^0-9]", "bxz"));
  EXPECT_FALSE(full("[a-c]x[^0-9]", "bx5"));
  EXPECT_TRUE(full("[-a]", "-"));
  EXPECT_TRUE(full("[a-]", "-"));
  EXPECT_TRUE(full("\\p{Lu}\\p{Ll}+", "Hello"));
  EXPECT_FALSE(full("\\p{Lu}", "h"));
  EXPECT_TRUE(full("\\P{Lu}", "h"));
  EXPECT_TRUE(full("[\\p{Nd}x]+", "1x2"));
  EXPECT_TRUE(full("^a$", "a"));  // anchors
  EXPECT_TRUE(search("^ab", "abc"));
  EXPECT_FALSE(search("^b", "abc"));
  EXPECT_TRUE(search("c$", "abc"));
  EXPECT_FALSE(search("b$", "abc"));
  EXPECT_TRUE(full("a\\^", "a^"));
  EXPECT_TRUE(search("b+", "abbbc"));
  EXPECT_FALSE(search("d", "abc"));
  EXPECT_TRUE(search("", "abc"));
  EXPECT_TRUE(full("a\\.c\\\\", "a.c\\"));
}

TEST(IRegexp, RejectsWhatIsNotIRegexp) {
  for (const char* bad : {"(", ")", "a{", "a{2,1}", "[", "[]", "[z-a]", "\\d", "\\w", "*a", "a**",
                          "\\p{Xx}", "a{1001}", "(?:a)", "a\\"}) {
    std::string why;
    EXPECT_FALSE(IRegexp::compile(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(IRegexp, NoCatastrophicBacktracking) {
  // (a+)+b against a long run of a's is exponential for backtracking engines.
  auto r = IRegexp::compile("(a+)+b");
  ASSERT_TRUE(r.has_value());
  const std::string text(20000, 'a');
  EXPECT_FALSE(r->full_match(text));
  EXPECT_FALSE(r->search(text));
}

}  // namespace
}  // namespace jz::routepath
