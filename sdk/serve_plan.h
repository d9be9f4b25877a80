// What `jizhan client serve` runs (docs/STORE.md): the customer's sources (camera streams,
// video files, image folders), each analysed by an installed algorithm, and endpoints that
// answer requests over HTTP and gRPC; where results go; how often usage is reported; how
// long an expired licence keeps serving while it is renewed.
//
// A plan is a JSON file (--config) and/or flags (--source ALGORITHM=INPUT,
// --endpoint ALGORITHM=HOST:PORT):
//   {"sources": [{"name": "gate", "algorithm": "face_detect",
//                 "input": "rtsp://cam1/live", "fps": 5, "max_frames": 0,
//                 "args": {...}, "config": {...}}],
//    "endpoints": [{"algorithm": "face_detect", "http": "127.0.0.1:8090",
//                   "grpc": "", "instances": 1, "token_file": "", "config": {...}}],
//    "output": "results", "report_interval": "60s", "grace": "72h",
//    "renew_before": "7d"}
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::sdk {

struct PlanSource {
  std::string name;  // the results file's name (NAME.jsonl); default ALGORITHM-N
  std::string algorithm;
  std::string input;       // a file, a folder or a stream URL
  double fps = 0;          // at most this many frames a second; 0: every frame
  int64_t max_frames = 0;  // stop after this many; 0: at the end (a stream: never)
  std::string args;        // a JSON object for every call, or empty
  std::string config;      // a JSON object merged over the package's default config
};

struct PlanEndpoint {
  std::string algorithm;
  std::string http, grpc;  // HOST:PORT; at least one
  int instances = 1;       // each holds one licence channel
  std::string token_file;  // clients must send this token (needed off loopback)
  std::string config;
};

struct ServePlan {
  std::vector<PlanSource> sources;
  std::vector<PlanEndpoint> endpoints;
  std::string output;  // results folder; empty: INSTALL_DIR/results
  std::chrono::milliseconds report_interval{std::chrono::seconds(60)};
  std::chrono::milliseconds grace{std::chrono::hours(72)};
  std::chrono::milliseconds renew_before{std::chrono::hours(24 * 7)};
};

// Parses a plan file's JSON; each error names the field and what it takes.
Result<ServePlan> parse_serve_plan(std::string_view text);
// --source ALGORITHM=INPUT
Status add_source_flag(ServePlan& plan, std::string_view flag);
// --endpoint ALGORITHM=HOST:PORT (HTTP)
Status add_endpoint_flag(ServePlan& plan, std::string_view flag);
// A plan's duration: parse_duration's texts, and "0" (or "0s") where `allow_zero` (a grace
// period of none).
Result<std::chrono::milliseconds> parse_plan_duration(std::string_view text, bool allow_zero);
// Names the unnamed sources and checks the whole: something to serve, known-looking names,
// unique source names, intervals within sense.
Status finish_serve_plan(ServePlan& plan);

}  // namespace jz::sdk
