// `jizhan sched bench` prints the promised JSON line and checks the invariants it ends with.
#include <gtest/gtest.h>

#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/server_process.h"

namespace jz::testing {
namespace {

TEST(SchedCli, BenchPrintsOneJsonLine) {
  for (std::vector<std::string> extra :
       {std::vector<std::string>{}, {"--shares", "--policy", "spread"}}) {
    std::vector<std::string> argv = {jizhan_binary(), "sched", "bench",      "--nodes", "20",
                                     "--jobs",        "2000",  "--projects", "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_subprocess({.argv = argv, .timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->exit_code, 0) << r->err;
    Json j = Json::parse(r->out);
    for (const char* k : {"placements", "seconds", "placements_per_second", "peak_rss_mib",
                          "bytes_per_pending_job"}) {
      EXPECT_TRUE(j.contains(k)) << k;
    }
    EXPECT_GT(j["placements"].get<int64_t>(), 50);
    EXPECT_EQ(j["invariants"], "hold");
  }
  auto bad = run_subprocess({.argv = {jizhan_binary(), "sched", "bench", "--nodes", "0"},
                             .timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 2);
  EXPECT_NE(bad->err.find("must be 1 or more"), std::string::npos);
}

}  // namespace
}  // namespace jz::testing
