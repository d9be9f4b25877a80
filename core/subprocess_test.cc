#include "core/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace jz {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = run_subprocess({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
}

TEST(SubprocessTest, FeedsLargeStdinWithoutDeadlock) {
  std::string big(1 << 20, 'x');
  auto r = run_subprocess({.argv = {"cat"}, .stdin_data = big});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), big.size());
}

TEST(SubprocessTest, TimeoutKillsTheTree) {
  auto start = std::chrono::steady_clock::now();
  auto r = run_subprocess(
      {.argv = {"sh", "-c", "sleep 30 & sleep 30"}, .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(SubprocessTest, MissingProgramIsAStatus) {
  auto r = run_subprocess({.argv = {"/no/such/program"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot start '/no/such/program'"), std::string::npos);
}

TEST(SubprocessTest, EnvironmentIsPassed) {
  auto r = run_subprocess({.argv = {"sh", "-c", "printf %s \"$JZ_T\""}, .env = {{"JZ_T", "v"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "v");
}

TEST(SubprocessTest, SpawnSignalWait) {
  auto c = Child::spawn({.argv = {"sleep", "30"}});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->running());
  c->signal(SIGTERM);
  auto r = c->wait();
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(c->running());
}

}  // namespace
}  // namespace jz
