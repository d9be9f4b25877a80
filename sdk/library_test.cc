// The algorithm ABI end to end in one process: loading color_blobs, describe(),
// create/process/update_config/destroy, errors as statuses, instances on threads.
#include "sdk/library.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace jz::sdk {
namespace {

// A BGR frame, black, with filled rectangles.
struct Image {
  int width, height;
  std::vector<uint8_t> pixels;
  Image(int w, int h) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3, 0) {}
  void fill(int x, int y, int w, int h, uint8_t b, uint8_t g, uint8_t r) {
    for (int yy = y; yy < y + h; ++yy) {
      for (int xx = x; xx < x + w; ++xx) {
        uint8_t* p = &pixels[(static_cast<size_t>(yy) * width + xx) * 3];
        p[0] = b, p[1] = g, p[2] = r;
      }
    }
  }
  jz_frame frame(int format = JZ_PIXEL_BGR24) const {
    jz_frame f{};
    f.struct_size = sizeof f;
    f.width = width;
    f.height = height;
    f.stride = width * 3;
    f.format = format;
    f.data = pixels.data();
    return f;
  }
};

std::shared_ptr<AlgoLibrary> load() {
  auto lib = AlgoLibrary::open(JZ_COLOR_BLOBS);
  EXPECT_TRUE(lib.ok()) << lib.status().message();
  return lib.ok() ? *lib : nullptr;
}

TEST(AlgoLibrary, DescribesItself) {
  auto lib = load();
  ASSERT_TRUE(lib);
  const Json& d = lib->description();
  EXPECT_EQ(d["name"], "color_blobs");
  EXPECT_EQ(d["abi_version"], JZ_ALGO_ABI_VERSION);
  EXPECT_TRUE(d["config_schema"]["properties"].contains("min_area"));
  EXPECT_TRUE(d["output_schema"]["required"].is_array());
}

TEST(AlgoLibrary, FindsRectanglesExactly) {
  auto lib = load();
  ASSERT_TRUE(lib);
  auto inst = lib->create(R"({"colors":["red","blue"],"min_area":20})");
  ASSERT_TRUE(inst.ok()) << inst.status().message();
  Image img(64, 48);
  img.fill(5, 6, 10, 4, 0, 0, 255);   // red 10x4
  img.fill(40, 20, 8, 8, 255, 0, 0);  // blue 8x8
  img.fill(30, 40, 3, 3, 0, 0, 255);  // red 3x3: below min_area, model_data only
  auto out = (*inst)->process({img.frame()});
  ASSERT_TRUE(out.ok()) << out.status().message();
  Json j = Json::parse(*out);
  EXPECT_EQ(j["algorithm_data"]["target_count"], 2);
  EXPECT_EQ(j["algorithm_data"]["is_alert"], true);
  const Json& t = j["algorithm_data"]["target_info"];
  EXPECT_EQ(t[0],
            Json::parse(R"({"x":5,"y":6,"width":10,"height":4,"name":"red","confidence":1.0})"));
  EXPECT_EQ(t[1]["name"], "blue");
  EXPECT_EQ(t[1]["width"], 8);
  EXPECT_EQ(j["model_data"]["objects"].size(), 3u);
  // Per-call arguments override the config for that call only.
  auto only_blue = (*inst)->process({img.frame()}, R"({"colors":["blue"]})");
  EXPECT_EQ(Json::parse(*only_blue)["algorithm_data"]["target_count"], 1);
  EXPECT_EQ(Json::parse(*(*inst)->process({img.frame()}))["algorithm_data"]["target_count"], 2);
  // A region of interest (left half) keeps the blue blob out of algorithm_data only.
  auto left = (*inst)->process({img.frame()}, R"j({"roi":"POLYGON((0 0,0.5 0,0.5 1,0 1,0 0))"})j");
  ASSERT_TRUE(left.ok()) << left.status().message();
  EXPECT_EQ(Json::parse(*left)["algorithm_data"]["target_count"], 1);
  EXPECT_EQ(Json::parse(*left)["model_data"]["objects"].size(), 3u);
  auto bad_roi = (*inst)->process({img.frame()}, R"j({"roi":"POLYGON((0 0,2 0,1 1,0 0))"})j");
  ASSERT_FALSE(bad_roi.ok());
  EXPECT_NE(bad_roi.status().message().find("config 'roi': ROI at character"), std::string::npos)
      << bad_roi.status().message();
  // RGB frames have the channels the other way round.
  Image rgb(8, 8);
  rgb.fill(0, 0, 8, 8, 255, 0, 0);  // bytes 255,0,0: red in RGB
  auto red = (*inst)->process({rgb.frame(JZ_PIXEL_RGB24)}, R"({"colors":["red"]})");
  EXPECT_EQ(Json::parse(*red)["algorithm_data"]["target_count"], 1);
}

TEST(AlgoLibrary, ErrorsAreStatusesWithMessages) {
  auto lib = load();
  ASSERT_TRUE(lib);
  auto bad = lib->create(R"({"colors":["purple"]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("unknown colour \"purple\""), std::string::npos)
      << bad.status().message();
  auto inst = lib->create();
  ASSERT_TRUE(inst.ok());
  Image img(8, 8);
  auto gray = (*inst)->process({img.frame(JZ_PIXEL_GRAY8)});
  ASSERT_FALSE(gray.ok());
  EXPECT_NE(gray.status().message().find("not implemented: color_blobs takes BGR24"),
            std::string::npos);
  auto two = (*inst)->process({img.frame(), img.frame()});
  EXPECT_EQ(two.status().code(), Code::kInvalidArgument);
  auto none = (*inst)->process({});
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  // A refused config change keeps the old config.
  EXPECT_EQ((*inst)->update_config(R"({"min_area":0})").code(), Code::kInvalidArgument);
  EXPECT_TRUE((*inst)->update_config(R"({"min_area":100})").ok());
  auto missing = AlgoLibrary::open("/nonexistent/algo.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot load algorithm"), std::string::npos);
}

TEST(AlgoLibrary, InstancesRunInParallel) {
  auto lib = load();
  ASSERT_TRUE(lib);
  Image img(320, 240);
  img.fill(10, 10, 50, 30, 0, 255, 0);
  img.fill(200, 100, 40, 40, 0, 0, 255);
  const std::string want = *(*lib->create())->process({img.frame()});
  std::vector<std::thread> threads;
  std::atomic<int> same{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto inst = lib->create();
      for (int i = 0; i < 20; ++i) same += *(*inst)->process({img.frame()}) == want;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(same, 80);
}

}  // namespace
}  // namespace jz::sdk
