#include "core/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "core/json.h"

namespace jz {
namespace {

TEST(LogTest, JsonLinesCarryFieldsAndEscape) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = make_logger({.format = LogFormat::kJson, .name = "test"}, sink);
  logger->info("plain \"quoted\"\nline");
  log_with_fields(*logger, spdlog::level::warn, "request", {{"status", "200"}, {"id", "r1"}});
  std::istringstream lines(out.str());
  std::string l1, l2;
  std::getline(lines, l1);
  std::getline(lines, l2);
  auto j1 = json::parse(l1);
  ASSERT_TRUE(j1.ok()) << l1;
  EXPECT_EQ((*j1)["msg"], "plain \"quoted\"\nline");
  EXPECT_EQ((*j1)["level"], "info");
  EXPECT_EQ((*j1)["logger"], "test");
  auto j2 = json::parse(l2);
  ASSERT_TRUE(j2.ok()) << l2;
  EXPECT_EQ((*j2)["status"], "200");
  EXPECT_EQ((*j2)["msg"], "request");
}

TEST(LogTest, TextAppendsFields) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = make_logger({.format = LogFormat::kText}, sink);
  log_with_fields(*logger, spdlog::level::info, "request", {{"status", "404"}});
  EXPECT_NE(out.str().find("request status=404"), std::string::npos) << out.str();
}

TEST(LogTest, LevelsFilterAndParse) {
  EXPECT_EQ(*parse_log_level("debug"), spdlog::level::debug);
  EXPECT_FALSE(parse_log_level("loud").ok());
  EXPECT_FALSE(parse_log_format("xml").ok());
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = make_logger({.level = spdlog::level::warn}, sink);
  logger->info("hidden");
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace jz
