// HTTP request metrics in the Prometheus text exposition format (version 0.0.4):
// jizhan_http_requests_total (counter) and jizhan_http_request_duration_seconds
// (histogram), both labelled by method, route (the route pattern, never the raw path,
// so cardinality stays bounded) and status.
//
// Thread-safe: observe() may be called from every request thread at once.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "http/server.h"

namespace jz::api {

class HttpMetrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void observe(const std::string& method, const std::string& route, int status,
               std::chrono::nanoseconds latency);
  // The exposition text, with build information and process start time prepended.
  std::string render(std::string_view version, std::string_view revision,
                     double start_time_seconds) const;

 private:
  struct Series {
    uint64_t count = 0;
    double sum_seconds = 0;
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, Series> series_;
};

// The HTTP core's gauges: open connections, open streams, threads running a handler.
std::string connection_gauges(const http::ServerStats& stats);

// Escapes a label value per the exposition format (backslash, quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace jz::api
