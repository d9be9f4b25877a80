#include "core/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

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

// Found by the isolated algorithm host: a descriptor that sat on another's target number
// was overwritten before it was handed over. Here two pipes swap numbers in the child.
TEST(ChildTest, PassesDescriptorsEvenWhenTheyCross) {
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
  SubprocessOptions o;
  // In the child, a's write end gets b's number and b's write end gets a's.
  o.argv = {"sh", "-c",
            "echo to-a >&" + std::to_string(b[1]) + "; echo to-b >&" + std::to_string(a[1])};
  o.pass_fds = {{b[1], a[1]}, {a[1], b[1]}};
  auto child = Child::spawn(o);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_EQ(child->wait().exit_code, 0);
  close(a[1]);
  close(b[1]);
  char buf[64] = {};
  ASSERT_GT(read(a[0], buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "to-a\n");
  char buf2[64] = {};
  ASSERT_GT(read(b[0], buf2, sizeof buf2 - 1), 0);
  EXPECT_STREQ(buf2, "to-b\n");
  close(a[0]);
  close(b[0]);
}

}  // namespace
}  // namespace jz
