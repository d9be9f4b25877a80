// The isolated host: an algorithm that crashes, hangs or returns garbage on some frames
// costs those frames only; the host restarts it and carries on.
#include "sdk/host.h"

#include <gtest/gtest.h>

#include "tests/support/server_process.h"

namespace jz::sdk {
namespace {

HostOptions options(const std::string& config) {
  HostOptions o;
  o.library = JZ_FAULTY;
  o.config_json = config;
  o.host_binary = testing::jizhan_binary();
  o.timeout = std::chrono::milliseconds(1500);
  o.shared_memory_bytes = 8 << 20;
  return o;
}

std::vector<uint8_t> pixels(int w, int h, uint8_t v) {
  return std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, v);
}

jz_frame frame(const std::vector<uint8_t>& px, int w, int h, int64_t index) {
  jz_frame f{};
  f.struct_size = sizeof f;
  f.width = w;
  f.height = h;
  f.stride = w * 3;
  f.format = JZ_PIXEL_BGR24;
  f.data = px.data();
  f.frame_index = index;
  return f;
}

TEST(IsolatedAlgo, SurvivesACrashAndAHang) {
  auto algo = IsolatedAlgo::start(options(R"({"crash_on":[3],"hang_on":[5]})"));
  ASSERT_TRUE(algo.ok()) << algo.status().message();
  EXPECT_EQ((*algo)->description()["name"], "faulty");
  const auto px = pixels(16, 8, 2);
  int results = 0, errors = 0;
  for (int i = 1; i <= 10; ++i) {
    auto out = (*algo)->process({frame(px, 16, 8, i)});
    if (out.ok()) {
      ++results;
      Json j = Json::parse(*out);
      EXPECT_EQ(j["model_data"]["frame"], i);
      EXPECT_EQ(j["model_data"]["row0_sum"], 16 * 3 * 2) << "pixels crossed in shared memory";
      continue;
    }
    ++errors;
    if (i == 3) {
      EXPECT_EQ(out.status().code(), Code::kUnavailable) << out.status().message();
#if !defined(JZ_ASAN)  // (AddressSanitizer turns the SIGSEGV into its own exit)
      EXPECT_NE(out.status().message().find("crashed (SIGSEGV)"), std::string::npos)
          << out.status().message();
#endif
    } else {
      EXPECT_EQ(i, 5);
      EXPECT_EQ(out.status().code(), Code::kDeadlineExceeded) << out.status().message();
    }
  }
  EXPECT_EQ(results, 8);
  EXPECT_EQ(errors, 2);
  EXPECT_EQ((*algo)->restarts(), 2);
}

TEST(IsolatedAlgo, MalformedOutputAndBadConfigAreErrors) {
  auto algo = IsolatedAlgo::start(options(R"({"bad_json_on":[2]})"));
  ASSERT_TRUE(algo.ok()) << algo.status().message();
  const auto px = pixels(4, 4, 0);
  auto bad = (*algo)->process({frame(px, 4, 4, 2)});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("malformed JSON"), std::string::npos);
  EXPECT_TRUE((*algo)->process({frame(px, 4, 4, 3)}).ok());
  EXPECT_EQ((*algo)->restarts(), 0) << "bad output does not need a restart";
  auto refused = IsolatedAlgo::start(options(R"({"crash_on":"3"})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("crash_on"), std::string::npos);
  // Frames larger than the shared memory are refused before they reach the child.
  const auto huge = pixels(2048, 2048, 0);
  auto too_big = (*algo)->process({frame(huge, 2048, 2048, 4)});
  EXPECT_EQ(too_big.status().code(), Code::kResourceExhausted);
}

#if !defined(JZ_ASAN)
// (AddressSanitizer reserves terabytes of address space, so an address-space limit
// cannot be tested under it.)
TEST(IsolatedAlgo, MemoryBlowUpCostsOneFrame) {
  auto o = options(R"({"leak_on":[1]})");
  o.memory_limit_mb = 512;
  auto algo = IsolatedAlgo::start(o);
  ASSERT_TRUE(algo.ok()) << algo.status().message();
  const auto px = pixels(4, 4, 0);
  auto blown = (*algo)->process({frame(px, 4, 4, 1)});
  ASSERT_FALSE(blown.ok());
  EXPECT_TRUE((*algo)->process({frame(px, 4, 4, 2)}).ok());
}
#endif

}  // namespace
}  // namespace jz::sdk
