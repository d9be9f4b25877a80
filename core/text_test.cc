#include "core/text.h"

#include <gtest/gtest.h>

namespace jz {
namespace {

TEST(TextTest, ControlsBecomeVisibleEscapes) {
  EXPECT_EQ(escape_controls("plain text, ünïcödé 中文"), "plain text, ünïcödé 中文");
  EXPECT_EQ(escape_controls("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(escape_controls("a\tb", {.keep_tab = true}), "a\tb");
  EXPECT_EQ(escape_controls("\x1b[31mred\x7f"), "\\x1b[31mred\\x7f");
  EXPECT_EQ(escape_controls(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(escape_controls("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_controls("\xc2\x9b"
                            "31m"),
            "\\u009b31m");                                        // 8-bit CSI in UTF-8
  EXPECT_EQ(escape_controls("\xc2\xa0"), "\xc2\xa0");             // NBSP is printable
  EXPECT_EQ(escape_controls("\xff\xc3"), "\\xff\\xc3");           // not UTF-8
  EXPECT_EQ(escape_controls("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(escape_controls("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_controls("a b", {.escape_space = true}), "a\\x20b");
  EXPECT_TRUE(is_printable("fine"));
  EXPECT_FALSE(is_printable("no\x1b"));
}

TEST(TextTest, EveryByteStringComesOutPrintableOnOneLine) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (const auto& s : {all, all + all.substr(0, 130), std::string("\xe4\xb8")}) {
    const std::string e = escape_controls(s);
    for (unsigned char c : e) {
      EXPECT_TRUE(c >= 0x20 && c != 0x7f) << static_cast<int>(c);
    }
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
}

TEST(ParseInt64, WholeTextOnly) {
  EXPECT_EQ(parse_int64("0"), 0);
  EXPECT_EQ(parse_int64("-12"), -12);
  EXPECT_EQ(parse_int64("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "+1", " 1", "1 ", "1x", "0x10", "9223372036854775808", "-"}) {
    EXPECT_EQ(parse_int64(bad), std::nullopt) << bad;
  }
}

TEST(TextTest, Utf8IsCheckedWhole) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain ascii"));
  EXPECT_TRUE(is_utf8("\xe8\xae\xa1\xe7\xae\x97 \xf0\x9f\x99\x82"));  // 计算 and an emoji
  EXPECT_FALSE(is_utf8("\xc0\xaf"));                                  // overlong '/'
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));                              // a surrogate
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));                          // past U+10FFFF
  EXPECT_FALSE(is_utf8("cut \xe8\xae"));                              // a sequence cut short
  EXPECT_FALSE(is_utf8("\x80"));                                      // a lone continuation
}

}  // namespace
}  // namespace jz

namespace jz {
namespace {

// One escape for the XML we write (VOC, JUnit) and the HTML reports.
TEST(Text, EscapeMarkupLeavesNoMarkupAndNoCharacterXmlRefuses) {
  EXPECT_EQ(escape_markup(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(escape_markup(std::string("a\0b\x01\x7f\tc\nd", 9)), "a b  \tc\nd");
  EXPECT_EQ(escape_markup("中文 ünï"), "中文 ünï");
}

}  // namespace
}  // namespace jz
