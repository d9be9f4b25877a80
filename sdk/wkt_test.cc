// Regions of interest: WKT polygons in normalised coordinates.
#include "jizhan/wkt.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Roi, ParsesPolygonsAndMultiPolygons) {
  auto tri = jizhan::Roi::parse("POLYGON((0 0, 1 0, 0 1, 0 0))");
  ASSERT_TRUE(tri.has_value());
  EXPECT_TRUE(tri->contains(0.2, 0.2));
  EXPECT_FALSE(tri->contains(0.8, 0.8));
  // A square with a hole, and a second square.
  auto multi = jizhan::Roi::parse(
      "multipolygon(((0 0,0.5 0,0.5 0.5,0 0.5,0 0),(0.1 0.1,0.2 0.1,0.2 0.2,0.1 0.2,0.1 0.1)),"
      "((0.6 0.6,1 0.6,1 1,0.6 1,0.6 0.6)))");
  ASSERT_TRUE(multi.has_value());
  EXPECT_TRUE(multi->contains(0.3, 0.3));
  EXPECT_FALSE(multi->contains(0.15, 0.15)) << "inside the hole";
  EXPECT_TRUE(multi->contains(0.8, 0.9));
  EXPECT_FALSE(multi->contains(0.55, 0.55));
  EXPECT_TRUE(jizhan::Roi::everything().contains(0.5, 0.5));
}

TEST(Roi, ErrorsSayWhereAndWhat) {
  for (auto [text, where, what] :
       {std::tuple{"POLYGON((0 0,1 0,1 1,0 0)", "character 26", "expected ')'"},
        std::tuple{"POLYGON((0 0,2 0,1 1,0 0))", "character 14", "outside [0, 1]"},
        std::tuple{"POLYGON((0 0,1 0,0 0))", "", "at least 4 points"},
        std::tuple{"POLYGON((0 0,1 0,1 1,0 1))", "", "end where it starts"},
        std::tuple{"CIRCLE(0.5 0.5 0.1)", "character 1", "expected POLYGON"},
        std::tuple{"POLYGON((0 0,1 0,1 1,0 0)) x", "", "unexpected text"},
        std::tuple{"POLYGON((a b))", "", "expected a number"}}) {
    std::string error;
    EXPECT_FALSE(jizhan::Roi::parse(text, &error).has_value()) << text;
    EXPECT_NE(error.find(where), std::string::npos) << text << ": " << error;
    EXPECT_NE(error.find(what), std::string::npos) << text << ": " << error;
  }
}

}  // namespace
