// A job writes 1 GB of log lines as fast as it can, through the real server, sandbox and
// supervisor: no line the policy allows is lost. It loads both cores for half a minute, so
// ctest runs it alone (RUN_SERIAL): timing-sensitive tests beside it would starve.
#include <gtest/gtest.h>
#include <httplib.h>

#include "tests/support/platform_fixture.h"

#ifndef JZ_LOG_FLOOD_BLOCKS
#define JZ_LOG_FLOOD_BLOCKS 1000  // 1 GB
#endif

namespace jz {
namespace {

// A job writes 1 GB of log lines as fast as it can through a blacklist with the
// detectors on; every line the policy allows is in the store, once, in order.
TEST(Logs, NoAllowedLineIsLostWhenAJobWritesAGigabyte) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.project("lab", "flood", {});
  Api admin = p.admin();
  admin.call("PUT", "/api/v1/projects/flood/log-policies/open",
             {{"mode", "blacklist"}, {"rules", {{{"name", "drop"}, {"pattern", "DROP$"}}}}});
  // 10^7 lines of 100 bytes (1000 blocks of 10^4); every 7th ends in DROP.
  const int64_t blocks = JZ_LOG_FLOOD_BLOCKS, total = blocks * 10000;
  const std::string writer =
      "import sys\n"
      "out = sys.stdout.buffer\n"
      "pad = 'x' * 49\n"
      "for block in range(" +
      std::to_string(blocks) +
      "):\n"
      "    lines = []\n"
      "    for i in range(block * 10000, block * 10000 + 10000):\n"
      "        tail = 'DROP' if i % 7 == 0 else 'KEEP'\n"
      "        lines.append('%09d epoch 1 step %09d loss 0.1234 %s %s\\n' % (i, i, pad, tail))\n"
      "    out.write(''.join(lines).encode())\n";
  Json body = job("flood", {"/usr/bin/python3", "-c", writer}, 1, 256);
  Json j = admin.call("POST", "/api/v1/projects/flood/jobs", body);
  const std::string id = j["id"];
  auto done = wait_states(admin, "flood", {id}, kTerminal, 600s);
  ASSERT_EQ(done[id]["state"], "succeeded") << done[id].dump();

  httplib::Client c("127.0.0.1", p.server->port());
  c.set_read_timeout(300, 0);
  int64_t next = 0, lines = 0, bytes = 0;
  bool in_order = true;
  std::string partial;
  auto r =
      c.Get("/api/v1/projects/flood/jobs/" + id + "/logs/download",
            {{"Authorization", "Bearer " + p.server->token()}}, [&](const char* data, size_t n) {
              bytes += static_cast<int64_t>(n);
              partial.append(data, n);
              size_t at = 0;
              for (size_t nl; (nl = partial.find('\n', at)) != std::string::npos; at = nl + 1) {
                // The next line the policy allows: skip multiples of 7.
                if (next % 7 == 0) ++next;
                const int64_t seen = std::strtoll(partial.c_str() + at, nullptr, 10);
                if (seen != next || partial.compare(nl - 4, 4, "KEEP") != 0) in_order = false;
                ++next;
                ++lines;
              }
              partial.erase(0, at);
              return true;
            });
  ASSERT_TRUE(r) << "no answer";
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(partial.empty());
  EXPECT_TRUE(in_order) << "a line is missing or out of order near " << next;
  const int64_t dropped = (total + 6) / 7;  // the multiples of 7 below total
  EXPECT_EQ(lines, total - dropped);
  Json stats = admin.call("GET", "/api/v1/projects/flood/jobs/" + id + "/logs/stats");
  EXPECT_EQ(stats["input_bytes"], total * 100);
  EXPECT_EQ(stats["withheld"]["rule:drop"]["lines"], dropped) << stats.dump();
  EXPECT_EQ(stats["withheld"].size(), 1u) << stats.dump();
}

}  // namespace
}  // namespace jz
