// Resumable uploads end to end against a real server: an archive sent in chunks arrives
// intact after a connection dropped in the middle of a chunk and after the client was
// killed and run again; offsets, checksums and seats are checked on the way.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"
#include "tests/support/server_process.h"

namespace jz {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kChunk = 1 << 20;

// Sends a PATCH that promises a whole chunk, then hangs up after part of it.
void drop_mid_chunk(int port, const std::string& path, const std::string& token, int64_t offset,
                    const std::string& chunk) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string head = "PATCH " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           token + "\r\nUpload-Offset: " + std::to_string(offset) +
                           "\r\nContent-Length: " + std::to_string(chunk.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const size_t part = chunk.size() / 3;
  ASSERT_EQ(::send(fd, chunk.data(), part, MSG_NOSIGNAL), static_cast<ssize_t>(part));
  ::close(fd);
}

TEST(Uploads, AnArchiveArrivesIntactAfterADroppedConnectionAndAKilledClient) {
  // A refused chunk closes the connection under a client still sending.
  ::signal(SIGPIPE, SIG_IGN);
  Platform p({"--set", "server.max_body_bytes=1200000"});
  ASSERT_TRUE(p.server);
  const int port = p.server->port();
  p.user("olga");
  p.user("dev");
  p.user("other-owner");
  p.user("outsider");
  p.project("lab", "vision",
            {{"olga", "data-owner"}, {"dev", "project-developer"}, {"other-owner", "data-owner"}});
  Api olga = p.user("olga");
  Api dev = p.user("dev");
  Api other = p.user("other-owner");
  Api outsider = p.user("outsider");

  // An archive of incompressible files, 24 MiB.
  testing::TempDir dir;
  const std::string src = dir.str() + "/src";
  std::filesystem::create_directories(src + "/sub");
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> sums;
  for (const char* name : {"a.bin", "sub/b.bin", "c.bin"}) {
    std::string bytes(8 << 20, '\0');
    for (size_t i = 0; i < bytes.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(bytes.data() + i, &v, 8);
    }
    ASSERT_TRUE(write_file(src + "/" + name, bytes).ok());
    sums[name] = sha256_hex(bytes);
  }
  const std::string archive = dir.str() + "/data.tar";
  SubprocessOptions tar;
  tar.argv = {"tar", "-cf", archive, "-C", src, "."};
  ASSERT_TRUE(run_subprocess(tar)->success());
  auto whole = read_file(archive);
  ASSERT_TRUE(whole.ok());
  const auto size = static_cast<int64_t>(whole->size());

  // Announced by a data owner; a developer may not, nor someone outside.
  const Json announce = {{"dataset", "big"}, {"size", size}, {"security_level", "secret"}};
  int status = 0;
  dev.call("POST", "/api/v1/projects/vision/uploads", announce, &status);
  EXPECT_EQ(status, 403);
  outsider.call("POST", "/api/v1/projects/vision/uploads", announce, &status);
  EXPECT_EQ(status, 404);
  Json up = olga.call("POST", "/api/v1/projects/vision/uploads", announce, &status);
  ASSERT_EQ(status, 201) << up.dump();
  const std::string id = up["id"].get<std::string>();
  const std::string path = "/api/v1/projects/vision/uploads/" + id;
  EXPECT_EQ(up["offset"], 0);
  // Nobody else sees or feeds it, not even another data owner of the project.
  other.call("GET", path, nullptr, &status);
  EXPECT_EQ(status, 404);
  dev.call("GET", path, nullptr, &status);
  EXPECT_EQ(status, 403);

  httplib::Client c("127.0.0.1", port);
  const std::string olga_token = [&] {
    auto r = c.Post("/api/v1/auth/login", R"({"username":"olga","password":"password-olga"})",
                    "application/json");
    return Json::parse(r->body)["token"].get<std::string>();
  }();
  auto send = [&](int64_t offset, const std::string& chunk, const std::string& sum) {
    httplib::Headers h = {{"Authorization", "Bearer " + olga_token},
                          {"Upload-Offset", std::to_string(offset)}};
    if (!sum.empty()) h.emplace("Upload-Checksum", "sha256 " + sum);
    return c.Patch(path, h, chunk, "application/octet-stream");
  };
  auto chunk_at = [&](int64_t offset) {
    return whole->substr(static_cast<size_t>(offset), static_cast<size_t>(kChunk));
  };
  int64_t offset = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string chunk = chunk_at(offset);
    auto r = send(offset, chunk, sha256_hex(chunk));
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    offset = Json::parse(r->body)["offset"].get<int64_t>();
  }
  EXPECT_EQ(offset, 8 * kChunk);
  // Announced again (a client that lost its id): the same upload, at its offset; another
  // size is another file, refused while this one is unfinished.
  Json announced = olga.call("POST", "/api/v1/projects/vision/uploads", announce, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(announced["id"], id);
  EXPECT_EQ(announced["offset"], offset);
  Json other_size = announce;
  other_size["size"] = size + 1;
  olga.call("POST", "/api/v1/projects/vision/uploads", other_size, &status);
  EXPECT_EQ(status, 409);
  // Interrupted once: the connection drops in the middle of a chunk. Nothing of it counts.
  drop_mid_chunk(port, path, olga_token, offset, chunk_at(offset));
  std::this_thread::sleep_for(200ms);
  Json now = olga.call("GET", path);
  EXPECT_EQ(now["offset"], offset) << "a chunk that did not arrive whole is not stored";
  // The wrong offset is refused, naming the right one; so is a damaged chunk.
  auto wrong = send(offset + 5, chunk_at(offset + 5), "");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 409);
  EXPECT_NE(wrong->body.find("at byte " + std::to_string(offset)), std::string::npos)
      << wrong->body;
  std::string damaged = chunk_at(offset);
  const std::string good_sum = sha256_hex(damaged);
  damaged[100] ^= 1;
  auto bad = send(offset, damaged, good_sum);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("SHA-256"), std::string::npos);
  EXPECT_EQ(olga.call("GET", path)["offset"], offset);
  // A chunk over server.max_body_bytes is refused whole (413, then the server closes the
  // connection, which a client still sending may see as a reset instead).
  auto big = send(offset, whole->substr(static_cast<size_t>(offset), 2 << 20), "");
  if (big) {
    EXPECT_EQ(big->status, 413);
  }
  EXPECT_EQ(olga.call("GET", path)["offset"], offset);

  // Interrupted twice: the client resumes; kill it once it has sent a few chunks.
  const std::string cfg = dir.str() + "/cfg";
  SubprocessOptions cli;
  cli.argv = {testing::jizhan_binary(),
              "dataset",
              "upload",
              "vision",
              "big",
              archive,
              "--chunk-mib",
              "1",
              "--level",
              "secret"};
  cli.env = {{"JIZHAN_SERVER", "http://127.0.0.1:" + std::to_string(port)},
             {"JIZHAN_TOKEN", olga_token},
             {"JIZHAN_CONFIG_DIR", cfg}};
  cli.output_file = dir.str() + "/cli-1.log";
  auto first = Child::spawn(cli);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  int64_t seen = offset;
  for (int i = 0; i < 500 && seen < offset + 3 * kChunk; ++i) {
    std::this_thread::sleep_for(10ms);
    seen = olga.call("GET", path)["offset"].get<int64_t>();
  }
  first->signal(SIGKILL);
  (void)first->wait();
  const int64_t after_kill = olga.call("GET", path)["offset"].get<int64_t>();
  EXPECT_GT(after_kill, offset);
  ASSERT_LT(after_kill, size) << "the client finished before it could be interrupted";
  EXPECT_EQ(after_kill % kChunk, 0) << "only whole chunks count";

  // Run again: it finds the unfinished upload and goes on from its offset.
  cli.output_file.clear();
  SubprocessOptions again = cli;
  auto second = run_subprocess(again);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->exit_code, 0) << second->err << second->out;
  EXPECT_NE(second->err.find("resuming upload " + id), std::string::npos) << second->err;

  // The dataset is there, secret, its files as they were.
  Json files = olga.call("GET", "/api/v1/projects/vision/datasets/big/files");
  ASSERT_EQ(files["items"].size(), 3u) << files.dump();
  Json ds = olga.call("GET", "/api/v1/projects/vision/datasets/big");
  EXPECT_EQ(ds["security_level"], "secret");
  for (const auto& [name, sum] : sums) {
    auto got = read_file(ds["path"].get<std::string>() + "/" + name);
    ASSERT_TRUE(got.ok()) << name;
    EXPECT_EQ(sha256_hex(*got), sum) << name;
  }
  // The upload is gone with its bytes.
  olga.call("GET", path, nullptr, &status);
  EXPECT_EQ(status, 404);
  olga.call("GET", "/api/v1/projects/vision/datasets/big/upload", nullptr, &status);
  EXPECT_EQ(status, 404);
  // A second upload of the same name is refused at once.
  olga.call("POST", "/api/v1/projects/vision/uploads", announce, &status);
  EXPECT_EQ(status, 409);
}

}  // namespace
}  // namespace jz
