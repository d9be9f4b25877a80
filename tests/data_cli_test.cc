// `jizhan data hash|dedup` on a folder of images, through the real CLI (docs/DATA.md).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>

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
  fs::create_directories(fs::path(path).parent_path());
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

// COCO -> VOC -> YOLO -> image JSON -> COCO through the CLI, the YOLO step reading the
// images' sizes; a malformed file stops the conversion before anything is written.
TEST(DataCli, ConvertGoesThroughEveryFormatAndBack) {
  TempDir dir;
  const std::string d = dir.str();
  const Json coco = {
      {"images",
       {{{"id", 1}, {"file_name", "a.jpg"}, {"width", 320}, {"height", 240}},
        {{"id", 2}, {"file_name", "sub/b.png"}, {"width", 200}, {"height", 100}}}},
      {"categories", {{{"id", 1}, {"name", "car"}}, {{"id", 2}, {"name", "traffic light"}}}},
      {"annotations",
       {{{"id", 1}, {"image_id", 1}, {"category_id", 2}, {"bbox", {10, 20, 30, 40}}},
        {{"id", 2}, {"image_id", 2}, {"category_id", 1}, {"bbox", {0, 0, 200, 100}}},
        {{"id", 3}, {"image_id", 1}, {"category_id", 1}, {"bbox", {319, 239, 1, 1}}}}}};
  ASSERT_TRUE(write_file(d + "/in.json", coco.dump()).ok());
  auto ok = [&](std::vector<std::string> args) {
    auto r = jizhan(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_NE(ok({"data", "convert", "--from", "coco", "--to", "voc", d + "/in.json", d + "/voc"})
                .find("converted 2 images, 3 boxes, 2 categories"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(d + "/voc/sub/b.xml"));
  ok({"data", "convert", "--from", "voc", "--to", "yolo", d + "/voc", d + "/yolo"});
  EXPECT_EQ(*read_file(d + "/yolo/classes.txt"), "traffic light\ncar\n")
      << "VOC's order: as first seen";
  // YOLO keeps no sizes: the images give them.
  write(d + "/yolo-images/a.jpg", scene(1, 320, 240), ".jpg");
  write(d + "/yolo-images/sub/b.png", scene(2, 200, 100), ".png");
  ok({"data", "convert", "--from", "yolo", "--to", "json", d + "/yolo", d + "/json", "--images",
      d + "/yolo-images"});
  ok({"data", "convert", "--from", "json", "--to", "coco", d + "/json", d + "/out.json"});
  const Json back = Json::parse(*read_file(d + "/out.json"));
  ASSERT_EQ(back["annotations"].size(), 3u);
  std::map<std::string, std::vector<long>> boxes;  // file/category -> box
  for (const auto& a : back["annotations"]) {
    const std::string file = back["images"][a["image_id"].get<int>() - 1]["file_name"];
    const std::string cat = back["categories"][a["category_id"].get<int>() - 1]["name"];
    std::vector<long> box;
    for (const auto& v : a["bbox"]) box.push_back(std::lround(v.get<double>()));
    boxes[file + "/" + cat] = box;
  }
  EXPECT_EQ(boxes["a.jpg/traffic light"], (std::vector<long>{10, 20, 30, 40}));
  EXPECT_EQ(boxes["a.jpg/car"], (std::vector<long>{319, 239, 1, 1}));
  EXPECT_EQ(boxes["sub/b.png/car"], (std::vector<long>{0, 0, 200, 100}));

  // A malformed VOC file: named with its field; nothing written.
  ASSERT_TRUE(write_file(d + "/voc/sub/bad.xml",
                         "<annotation><filename>x.jpg</filename><size><width>9</width>"
                         "<height>9</height></size><object><name>car</name><bndbox><xmin>1</xmin>"
                         "<ymin>1</ymin><xmax>5</xmax></bndbox></object></annotation>")
                  .ok());
  auto bad =
      jizhan({"data", "convert", "--from", "voc", "--to", "coco", d + "/voc", d + "/no.json"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("sub/bad.xml: object[0].bndbox.ymax: missing"), std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(d + "/no.json"));
}

// `data quality` flags what is wrong with each image, and by how much, and passes the rest.
TEST(DataCli, QualityFlagsBlurryDarkSmallAndCutImages) {
  TempDir dir;
  const std::string d = dir.str() + "/photos";
  write(d + "/fine.jpg", scene(7), ".jpg");
  write(d + "/fine2.png", scene(8), ".png");
  cv::Mat blurred;
  cv::GaussianBlur(scene(9), blurred, cv::Size(0, 0), 4);
  write(d + "/sub/blurred.jpg", blurred, ".jpg");
  write(d + "/dark.jpg", brightened(scene(10), 0.15), ".jpg");
  write(d + "/tiny.jpg", scene(11, 40, 30), ".jpg");
  const auto whole = encode(scene(12), ".jpg", 92);
  ASSERT_TRUE(write_file(d + "/cut.jpg", std::string(whole.begin(), whole.begin() + 4000)).ok());
  auto r = jizhan({"data", "quality", d, "--brisque", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(out["images"], 6);
  EXPECT_EQ(out["flagged"], 4);
  std::map<std::string, std::string> problems;  // each image's, one a line
  for (const auto& i : out["items"]) {
    for (const auto& p : i["problems"]) problems[i["name"]] += "\n" + p.get<std::string>();
  }
  EXPECT_EQ(problems["fine.jpg"], "");
  EXPECT_EQ(problems["fine2.png"], "");
  EXPECT_NE(problems["sub/blurred.jpg"].find("\nblurry: sharpness"), std::string::npos);
  EXPECT_NE(problems["dark.jpg"].find("\ndark: mean"), std::string::npos) << problems["dark.jpg"];
  EXPECT_NE(problems["tiny.jpg"].find("\nsmall: 40x30"), std::string::npos);
  EXPECT_NE(problems["cut.jpg"].find("\ncorrupt: the file is cut short"), std::string::npos);
  // The threshold is the user's: a lower one passes the blurred image.
  const std::string table = jizhan({"data", "quality", d, "--min-sharpness", "0.5"}).out;
  EXPECT_NE(table.find("6 images, 3 flagged"), std::string::npos) << table;
  EXPECT_EQ(table.find("blurred.jpg"), std::string::npos) << table;
}

}  // namespace
}  // namespace jz::testing
