#include "core/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
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

// Issue 17, item 11: a decoded request path with %0a forged a second access-log line, and
// ANSI escapes reached the terminal of whoever tails the log.
TEST(LogTest, TextFieldsCannotForgeLinesFieldsOrTerminalControls) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = make_logger({.format = LogFormat::kText}, sink);
  log_with_fields(*logger, spdlog::level::info, "request",
                  {{"path",
                    "/x\n2026-01-01T00:00:00.000 info  [jizhan] request path=/admin "
                    "status=200\x1b[2J\xc2\x9b"
                    "31m"},
                   {"status", "404"}});
  logger->info("refused name '{}'", "a\nb\x1b]52;c;aGk=\x07");
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << "a C1 CSI passed";
  EXPECT_EQ(text.find(" status=200"), std::string::npos) << "a space started a forged field";
  EXPECT_NE(text.find(" status=404"), std::string::npos) << text;
  EXPECT_NE(text.find("\\x1b[2J"), std::string::npos) << text;
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
