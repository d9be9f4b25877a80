// Archives as people make them with tar(1), unpacked by the one reader of packages and
// dataset uploads.
#include "core/archive.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/files.h"

namespace jz {
namespace {

namespace fs = std::filesystem;

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = make_temp_dir("jz-archive-test");
    ASSERT_TRUE(d.ok());
    dir_ = *d;
    fs::create_directories(dir_ + "/src/sub");
    ASSERT_TRUE(write_file(dir_ + "/src/a.txt", "alpha").ok());
    ASSERT_TRUE(write_file(dir_ + "/src/sub/b.txt", "beta").ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs tar with `args` (in the test folder) and returns the archive's bytes.
  std::string tar(const std::string& args) {
    const std::string cmd = "cd '" + dir_ + "' && tar " + args + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto bytes = read_file(dir_ + "/out.tar");
    EXPECT_TRUE(bytes.ok());
    return bytes.value_or("");
  }

  Status unpack(const std::string& bytes, const std::string& into) {
    fs::create_directories(into);
    return unpack_tar(bytes, into, ArchiveLimits{}, "dataset archive");
  }

  std::string dir_;
};

TEST_F(ArchiveTest, TheCurrentFolderFormUnpacks) {
  // `tar -C DIR .` is how most people pack a folder: its entries start with "./", and
  // the first is "./" itself.
  for (const char* flags : {"-cf", "-czf"}) {
    SCOPED_TRACE(flags);
    const std::string into = dir_ + "/into" + flags;
    ASSERT_TRUE(unpack(tar(std::string(flags) + " out.tar -C src ."), into).ok());
    EXPECT_EQ(read_file(into + "/a.txt").value_or(""), "alpha");
    EXPECT_EQ(read_file(into + "/sub/b.txt").value_or(""), "beta");
  }
  ASSERT_TRUE(unpack(tar("-cf out.tar -C src a.txt sub"), dir_ + "/plain").ok());
  EXPECT_EQ(read_file(dir_ + "/plain/sub/b.txt").value_or(""), "beta");
}

TEST_F(ArchiveTest, PathsThatLeaveTheFolderAreStillRefused) {
  const std::string up = tar("-cf out.tar --transform=s,^,../, -C src a.txt");
  Status s = unpack(up, dir_ + "/up");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("'..'"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir_ + "/a.txt"));
  const std::string inner = tar("-cf out.tar --transform=s,^,./sub/../../, -C src a.txt");
  EXPECT_EQ(unpack(inner, dir_ + "/inner").code(), Code::kInvalidArgument);
  const std::string abs = tar("-cf out.tar -P " + dir_ + "/src/a.txt");
  s = unpack(abs, dir_ + "/abs");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("absolute"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace jz
