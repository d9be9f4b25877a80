// `jizhan data hash|dedup` on a folder of images, through the real CLI (docs/DATA.md).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/server_process.h"
#include "tests/support/synthetic_scenes.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {
namespace {

namespace fs = std::filesystem;

SubprocessResult jizhan(std::vector<std::string> args) {
  args.insert(args.begin(), jizhan_binary());
  auto r = run_subprocess({.argv = args, .timeout = std::chrono::seconds(120)});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : SubprocessResult{};
}

void write(const std::string& path, const cv::Mat& img, const std::string& ext, int q = 92) {
  const auto bytes = encode(img, ext, q);
  ASSERT_TRUE(write_file(path, std::string(bytes.begin(), bytes.end())).ok());
}

TEST(DataCli, DedupGroupsCopiesOfAPictureAndKeepsTheLargest) {
  TempDir dir;
  const std::string d = dir.str() + "/photos";
  fs::create_directories(d + "/more");
  for (int i = 0; i < 6; ++i) write(d + "/p" + std::to_string(i) + ".jpg", scene(500 + i), ".jpg");
  const cv::Mat a = scene(500);
  write(d + "/more/p0-small.jpg", resized(a, 0.5), ".jpg");
  write(d + "/more/p0-cropped.png", cropped(a, 0.05), ".png");
  write(d + "/more/p0-q60.jpg", a, ".jpg", 60);
  fs::copy_file(d + "/p3.jpg", d + "/more/p3-again.jpg");
  ASSERT_TRUE(write_file(d + "/broken.jpg", "not a picture").ok());
  ASSERT_TRUE(write_file(d + "/notes.txt", "ignored").ok());

  auto r = jizhan({"data", "dedup", d, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipped broken.jpg: not an image"), std::string::npos) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(out["images"], 10);
  EXPECT_EQ(out["algorithm"], "dct64/1");
  ASSERT_EQ(out["groups"].size(), 2u) << out.dump(2);
  const Json& near = out["groups"][0];
  EXPECT_FALSE(near["exact"].get<bool>());
  EXPECT_EQ(near["members"].size(), 4u);
  EXPECT_TRUE(near["keep"] == "p0.jpg" || near["keep"] == "more/p0-q60.jpg") << near.dump(2);
  const Json& exact = out["groups"][1];
  EXPECT_TRUE(exact["exact"].get<bool>());
  EXPECT_EQ(exact["members"].size(), 2u);
  // A radius of 0 keeps only what hashes the same.
  EXPECT_LT(
      Json::parse(jizhan({"data", "dedup", d, "--radius", "0", "-o", "json"}).out)["groups"].size(),
      3u);
  const std::string table = jizhan({"data", "dedup", d}).out;
  EXPECT_NE(table.find("10 images, 2 duplicate groups (4 images a review could remove)"),
            std::string::npos)
      << table;

  auto h = jizhan({"data", "hash", d + "/p1.jpg", d + "/broken.jpg"});
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_EQ(h.out.size(), 16 + 2 + d.size() + 7 + 1) << h.out;
  EXPECT_NE(h.err.find("broken.jpg: not an image"), std::string::npos) << h.err;
  auto bad = jizhan({"data", "dedup", d, "--radius", "99"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--radius"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace jz::testing
