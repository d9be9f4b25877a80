#include "api/metrics.h"

#include <cstdio>

namespace jz::api {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void HttpMetrics::observe(const std::string& method, const std::string& route, int status,
                          std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  size_t bucket = kBuckets.size();
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      bucket = i;
      break;
    }
  }
  std::lock_guard lock(mu_);
  Series& s = series_[{method, route, status}];
  ++s.count;
  s.sum_seconds += seconds;
  if (bucket < kBuckets.size()) ++s.buckets[bucket];
}

namespace {
std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

std::string HttpMetrics::render(std::string_view version, std::string_view revision,
                                double start_time_seconds) const {
  std::string out;
  out += "# HELP jizhan_build_info Version and source revision of the running server.\n";
  out += "# TYPE jizhan_build_info gauge\n";
  out += "jizhan_build_info{version=\"" + escape_label_value(version) + "\",revision=\"" +
         escape_label_value(revision) + "\"} 1\n";
  out +=
      "# HELP jizhan_process_start_time_seconds Start time of the process since the Unix epoch.\n";
  out += "# TYPE jizhan_process_start_time_seconds gauge\n";
  out += "jizhan_process_start_time_seconds " + fmt_double(start_time_seconds) + "\n";

  std::lock_guard lock(mu_);
  out += "# HELP jizhan_http_requests_total HTTP requests served, by method, route and status.\n";
  out += "# TYPE jizhan_http_requests_total counter\n";
  for (const auto& [key, s] : series_) {
    const auto& [method, route, status] = key;
    out += "jizhan_http_requests_total{method=\"" + escape_label_value(method) + "\",route=\"" +
           escape_label_value(route) + "\",status=\"" + std::to_string(status) + "\"} " +
           std::to_string(s.count) + "\n";
  }
  out +=
      "# HELP jizhan_http_request_duration_seconds Time from routing to response, by method, "
      "route and status.\n";
  out += "# TYPE jizhan_http_request_duration_seconds histogram\n";
  for (const auto& [key, s] : series_) {
    const auto& [method, route, status] = key;
    std::string labels = "method=\"" + escape_label_value(method) + "\",route=\"" +
                         escape_label_value(route) + "\",status=\"" + std::to_string(status) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += s.buckets[i];
      out += "jizhan_http_request_duration_seconds_bucket{" + labels + ",le=\"" +
             fmt_double(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "jizhan_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(s.count) + "\n";
    out += "jizhan_http_request_duration_seconds_sum{" + labels + "} " + fmt_double(s.sum_seconds) +
           "\n";
    out += "jizhan_http_request_duration_seconds_count{" + labels + "} " + std::to_string(s.count) +
           "\n";
  }
  return out;
}

std::string connection_gauges(const http::ServerStats& st) {
  return "# HELP jizhan_http_connections Open HTTP connections.\n"
         "# TYPE jizhan_http_connections gauge\njizhan_http_connections " +
         std::to_string(st.connections) +
         "\n# HELP jizhan_http_streams Open live streams (events, log follows).\n"
         "# TYPE jizhan_http_streams gauge\njizhan_http_streams " +
         std::to_string(st.streams) +
         "\n# HELP jizhan_http_busy_threads Threads running a handler.\n"
         "# TYPE jizhan_http_busy_threads gauge\njizhan_http_busy_threads " +
         std::to_string(st.busy_threads) + "\n";
}

}  // namespace jz::api
