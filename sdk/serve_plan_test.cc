#include "sdk/serve_plan.h"

#include <gtest/gtest.h>

namespace jz::sdk {
namespace {

TEST(ServePlan, AFileAndFlagsMakeOnePlan) {
  auto plan = parse_serve_plan(R"({
    "sources": [{"name": "gate", "algorithm": "face_detect", "input": "rtsp://cam1/live",
                 "fps": 5, "max_frames": 100, "args": {"roi": "x"}, "config": {"t": 0.5}},
                {"algorithm": "face_detect", "input": "/data/clips"}],
    "endpoints": [{"algorithm": "face_detect", "http": "127.0.0.1:8090", "instances": 2}],
    "output": "out", "report_interval": "30s", "grace": "2d", "renew_before": "3d"})");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(add_source_flag(*plan, "color_blobs=http://127.0.0.1:9/live.ts").ok());
  ASSERT_TRUE(add_endpoint_flag(*plan, "color_blobs=127.0.0.1:0").ok());
  ASSERT_TRUE(finish_serve_plan(*plan).ok());
  ASSERT_EQ(plan->sources.size(), 3u);
  EXPECT_EQ(plan->sources[0].name, "gate");
  EXPECT_EQ(plan->sources[0].fps, 5);
  EXPECT_EQ(plan->sources[0].max_frames, 100);
  EXPECT_EQ(plan->sources[0].args, R"({"roi":"x"})");
  EXPECT_EQ(plan->sources[1].name, "face_detect-1");
  EXPECT_EQ(plan->sources[2].name, "color_blobs-1");
  EXPECT_EQ(plan->sources[2].input, "http://127.0.0.1:9/live.ts");
  ASSERT_EQ(plan->endpoints.size(), 2u);
  EXPECT_EQ(plan->endpoints[0].instances, 2);
  EXPECT_EQ(plan->endpoints[1].http, "127.0.0.1:0");
  EXPECT_EQ(plan->output, "out");
  EXPECT_EQ(plan->report_interval, std::chrono::seconds(30));
  EXPECT_EQ(plan->grace, std::chrono::hours(48));
  EXPECT_EQ(plan->renew_before, std::chrono::hours(72));
  auto none = parse_serve_plan(R"({"grace": "0"})");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->grace, std::chrono::milliseconds(0)) << "no grace period at all";
  EXPECT_FALSE(parse_serve_plan(R"({"report_interval": "0"})").ok());
}

TEST(ServePlan, EachMistakeIsNamed) {
  const struct {
    const char* text;
    const char* needle;
  } cases[] = {
      {"[]", "must be a JSON object"},
      {"{\"source\": []}", "source"},
      {R"({"sources": [{"input": "x"}]})", "sources[0]: "},
      {R"({"sources": [{"algorithm": "a", "input": "x", "fps": -1}]})", "'fps' must be"},
      {R"({"sources": [{"algorithm": "a", "input": "x", "max_frames": 1.5}]})", "'max_frames'"},
      {R"({"sources": [{"algorithm": "a", "input": "x", "args": "[]"}]})", "'args' must be"},
      {R"({"endpoints": [{"algorithm": "a", "instances": 0}]})", "'instances' must be"},
      {R"({"grace": 5})", "'grace' must be a duration"},
      {R"({"report_interval": "soon"})", "'report_interval': 'soon' is not a duration"},
  };
  for (const auto& c : cases) {
    auto p = parse_serve_plan(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.needle), std::string::npos)
        << c.text << ": " << p.status().message();
  }
  const struct {
    std::function<void(ServePlan&)> make;
    const char* needle;
  } finish[] = {
      {[](ServePlan&) {}, "nothing to serve"},
      {[](ServePlan& p) { p.sources.push_back({.algorithm = "../x", .input = "a"}); },
       "is not an algorithm name"},
      {[](ServePlan& p) {
         p.sources.push_back({.name = "a", .algorithm = "f", .input = "1"});
         p.sources.push_back({.name = "a", .algorithm = "f", .input = "2"});
       },
       "two sources are named 'a'"},
      {[](ServePlan& p) { p.sources.push_back({.name = "../up", .algorithm = "f", .input = "1"}); },
       "source name '../up'"},
      {[](ServePlan& p) { p.endpoints.push_back({.algorithm = "f"}); }, "give 'http' or 'grpc'"},
      {[](ServePlan& p) { p.endpoints.push_back({.algorithm = "f", .http = "localhost"}); },
       "is not HOST:PORT"},
      {[](ServePlan& p) { p.endpoints.push_back({.algorithm = "f", .http = "h:70000"}); },
       "is not HOST:PORT"},
  };
  for (const auto& c : finish) {
    ServePlan p;
    c.make(p);
    Status s = finish_serve_plan(p);
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << c.needle << ": " << s.message();
  }
  ServePlan p;
  EXPECT_NE(add_source_flag(p, "face_detect").message().find("ALGORITHM=INPUT"), std::string::npos);
  EXPECT_NE(add_endpoint_flag(p, "=1.2.3.4:5").message().find("ALGORITHM=HOST:PORT"),
            std::string::npos);
}

}  // namespace
}  // namespace jz::sdk
