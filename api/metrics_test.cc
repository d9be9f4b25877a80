#include "api/metrics.h"

#include <gtest/gtest.h>

namespace jz::api {
namespace {

TEST(MetricsTest, HistogramIsCumulativeAndCountsMatch) {
  HttpMetrics m;
  m.observe("GET", "/healthz", 200, std::chrono::microseconds(300));  // <= 0.0005
  m.observe("GET", "/healthz", 200, std::chrono::milliseconds(3));    // <= 0.005
  m.observe("GET", "/healthz", 200, std::chrono::seconds(10));        // +Inf only
  m.observe("PUT", "/api/v1/settings/{key}", 400, std::chrono::milliseconds(1));
  std::string text = m.render("0.1.0", "abc", 12.5);
  EXPECT_NE(
      text.find("jizhan_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("route=\"/healthz\",status=\"200\",le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("route=\"/healthz\",status=\"200\",le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("route=\"/healthz\",status=\"200\",le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("route=\"/healthz\",status=\"200\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(
      text.find("jizhan_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\","
                "status=\"200\"} 3\n"),
      std::string::npos);
  EXPECT_NE(text.find("status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("jizhan_build_info{version=\"0.1.0\",revision=\"abc\"} 1\n"),
            std::string::npos);
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace jz::api
