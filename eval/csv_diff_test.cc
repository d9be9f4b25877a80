// Competition CSV verification: parsing and verdicts.
#include "eval/csv_diff.h"

#include <gtest/gtest.h>

namespace jz::eval {
namespace {

Csv csv(const std::string& text) {
  auto c = parse_csv(text, "t.csv");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.value_or(Csv{});
}

TEST(CsvDiff, ParsesQuotesAndLineEnds) {
  auto c = csv("id,name,score\r\n1,\"a, \"\"b\"\"\",0.5\r\n2,\"multi\nline\",1\n");
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0][1], "a, \"b\"");
  EXPECT_EQ(c.rows[1][1], "multi\nline");
  EXPECT_EQ(c.row_lines[1], 3u);
  for (auto [bad, what] :
       {std::pair{"a,b\n1\n", "line 2: 1 fields"}, std::pair{"a\n\"x\n", "not closed"},
        std::pair{"a\nx\"y\n", "quote inside"}, std::pair{"", "empty"}}) {
    auto r = parse_csv(bad, "t.csv");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  }
}

TEST(CsvDiff, Verdicts) {
  const Csv sub = csv("image,label,score\n1,cat,0.91\n2,dog,0.50\n");
  auto same = diff_csv(sub, csv("image,label,score\n2,dog,0.50\n1,cat,0.91\n"), "image", {});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->verdict, "identical");
  EXPECT_EQ(same->rows_compared, 2u);
  auto close =
      diff_csv(sub, csv("image,label,score\n1,cat,0.90\n2,dog,0.5\n"), "image", {{"score", 0.02}});
  EXPECT_EQ(close->verdict, "within tolerance");
  EXPECT_EQ(close->differences, 2u);
  auto far =
      diff_csv(sub, csv("image,label,score\n1,cat,0.80\n2,dog,0.5\n"), "image", {{"score", 0.02}});
  EXPECT_EQ(far->verdict, "modified");
  EXPECT_NE(far->lines[0].find("row image=1 column 'score'"), std::string::npos) << far->lines[0];
  auto label = diff_csv(sub, csv("image,label,score\n1,dog,0.91\n2,dog,0.50\n"), "image", {});
  EXPECT_EQ(label->verdict, "modified");
  auto missing = diff_csv(sub, csv("image,label,score\n1,cat,0.91\n"), "image", {});
  EXPECT_EQ(missing->verdict, "modified");
  EXPECT_NE(missing->lines[0].find("only in the submitted CSV"), std::string::npos);
  auto bad_key = diff_csv(sub, sub, "img", {});
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("no column 'img'"), std::string::npos);
  // Found by fuzz_csv: repeated column names compared the wrong columns.
  auto twice = diff_csv(csv(",,\n,$,\n"), csv(",,\n,$,\n"), "", {});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("has the column '' twice"), std::string::npos)
      << twice.status().message();
  auto dup = diff_csv(csv("image,x\n1,a\n1,b\n"), sub, "image", {});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("lines 2 and 3"), std::string::npos);
}

}  // namespace
}  // namespace jz::eval
