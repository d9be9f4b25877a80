// Whole-file helpers and path containment.
#include "core/files.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace jz {
namespace {

TEST(Files, PathIsUnderComparesWholeComponents) {
  EXPECT_TRUE(path_is_under("/data/a/b.png", "/data"));
  EXPECT_TRUE(path_is_under("/data/a", "/data/"));
  EXPECT_TRUE(path_is_under("/data", "/data"));
  EXPECT_TRUE(path_is_under("/data", "/data/")) << "a trailing separator is the same folder";
  EXPECT_FALSE(path_is_under("/database", "/data"));
  EXPECT_FALSE(path_is_under("/dat", "/data"));
  EXPECT_FALSE(path_is_under("/", "/data"));
  EXPECT_FALSE(path_is_under("/other/data", "/data"));
  EXPECT_TRUE(path_is_under("/anything", "/"));
}

TEST(Files, WrittenFilesReadBackAndMissingOnesNameThemselves) {
  auto dir = make_temp_dir("jz-files");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(*dir + "/a", "bytes").ok());
  EXPECT_EQ(read_file(*dir + "/a").value_or(""), "bytes");
  EXPECT_EQ(write_file(*dir + "/a", "x", 0644, /*exclusive=*/true).code(), Code::kAlreadyExists);
  auto missing = read_file(*dir + "/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(*dir + "/none"), std::string::npos);
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace jz
