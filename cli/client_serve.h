// `jizhan client serve`: the customer's machine running what it bought (docs/STORE.md).
// Each source (a camera stream, a video file, a folder of images) is analysed by an
// installed algorithm in an isolated, sandboxed child, one JSON line per frame into
// OUTPUT/SOURCE.jsonl; endpoints answer requests over HTTP and gRPC (as `jizhan algo serve`).
// Every source and endpoint instance holds one of its licence's channels, and the calls of
// an algorithm share its licence's frames a second. Streams that fail or end are reopened
// (1 s, doubling to 30 s).
//
// Usage (frames analysed, channels held) is reported to the store that sold the licence
// every report interval and at exit; reports wait in usage/queue.jsonl while the store
// cannot be reached and are sent, once, when it can. Licences are renewed online from
// `renew_before` ahead of their end; a licence past its end keeps serving for the grace
// period and then stops its algorithm with a message that says what to do.
#pragma once

#include <string>
#include <vector>

namespace jz::cli {

struct ClientServeFlags {
  std::string dir;     // the install; empty: default_client_dir()
  std::string config;  // a plan file (sdk/serve_plan.h)
  std::vector<std::string> sources, endpoints;
  std::string out, grace, report_interval, renew_before;  // override the plan's
  double fps = 0;
  int64_t max_frames = 0;
  std::string timeout = "10s";
  int64_t memory_mb = 0;
  bool no_sandbox = false;
};

// Runs until Ctrl-C or SIGTERM, or until every source has ended when there are no
// endpoints. Exit 0 when everything ran to its end; 1 when something could not start, a
// source failed for good or a licence ended; 2 for a bad plan.
int client_serve(const ClientServeFlags& flags);

}  // namespace jz::cli
