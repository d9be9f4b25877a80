#include "core/hash.h"

#include <gtest/gtest.h>

#include <fstream>

namespace jz {
namespace {

std::string hex20(const std::array<uint8_t, 20>& d) { return to_hex(d.data(), d.size()); }

TEST(HashTest, Sha256OfBytesStreamsAndFiles) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex(), sha256_hex("abc"));

  const std::string path = ::testing::TempDir() + "/hash_test_file";
  std::ofstream(path) << "abc";
  uint64_t size = 0;
  auto f = sha256_file(path, &size);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*f, sha256_hex("abc"));
  EXPECT_EQ(size, 3u);
}

TEST(HashTest, AFileThatCannotBeReadIsAnErrorNamingIt) {
  auto missing = sha256_file("/nonexistent/x");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/x"), std::string::npos);
  // A folder opens but does not read.
  auto folder = sha256_file("/");
  EXPECT_FALSE(folder.ok());
}

TEST(HashTest, Sha1KnownAnswers) {
  // FIPS 180-2 appendix A.1 and A.2; the empty string; 1,000,000 'a' spans many blocks.
  EXPECT_EQ(hex20(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex20(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex20(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex20(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(HashTest, Base64) {
  // RFC 4648 section 10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace jz
