// Job logs end to end, against the real `jizhan server` and real bubblewrap sandboxes:
// the red-team test (a job on a secret dataset tries 13 ways to get an image out through
// its log, under a data owner's whitelist, the built-in blacklist and the built-in secret
// whitelist), live follow over Server-Sent Events, search, and who may read what. (The
// gigabyte is tests/logs_flood_test.cc.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <sstream>

#include "core/files.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

const std::string kRedteam = std::string(JZ_SOURCE_DIR) + "/tests/redteam";

// A 32x32 RGB PNG of random pixels (seeded), one IDAT, filter 0: 3 KB that do not compress.
void make_image(const std::string& path) {
  auto r = run_subprocess(
      {.argv = {"/usr/bin/python3", "-c",
                "import random,struct,sys,zlib\n"
                "random.seed(8)\n"
                "w=h=32\n"
                "raw=b''.join(b'\\0'+bytes(random.randrange(256) for _ in range(3*w)) "
                "for _ in range(h))\n"
                "def chunk(k,d): return struct.pack('>I',len(d))+k+d+struct.pack('>I',"
                "zlib.crc32(k+d))\n"
                "png=b'\\x89PNG\\r\\n\\x1a\\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',w,h,8,2,0,0,0))"
                "+chunk(b'IDAT',zlib.compress(raw))+chunk(b'IEND',b'')\n"
                "open(sys.argv[1],'wb').write(png)\n",
                path}});
  ASSERT_TRUE(r.ok() && r->success()) << (r.ok() ? r->err : r.status().message());
}

// The most bytes of the image any of the red team's decoders gets back from `log`.
int recovered(const std::string& image, const std::string& log, const std::string& scratch) {
  EXPECT_TRUE(write_file(scratch, log, 0600).ok());
  auto r = run_subprocess({.argv = {"/usr/bin/python3", kRedteam + "/decode.py", image, scratch}});
  EXPECT_TRUE(r.ok() && r->success()) << (r.ok() ? r->err : r.status().message());
  return r.ok() ? std::atoi(r->out.c_str()) : -1;
}

const char* const kTricks[] = {"plain base64",
                               "base64 in 76-character lines",
                               "URL-safe base64",
                               "hex",
                               "gzip then base64",
                               "base64 with spaces",
                               "pixels as numbers",
                               "pixels as training metrics",
                               "data: URI",
                               "raw bytes on stderr",
                               "one very long line",
                               "many short lines",
                               "one bit per whitelisted line",
                               "hex in the letters a-p as metric names"};
constexpr int kTrickCount = 14;

TEST(Logs, ARedTeamJobCannotGetASecretImageOutThroughAWhitelist) {
  testing::TempDir data_root;
  fs::permissions(data_root.path(), fs::perms(0755));
  fs::create_directories(data_root.path() / "faces");
  fs::permissions(data_root.path() / "faces", fs::perms(0755));
  const std::string image = data_root.str() + "/faces/face.png";
  make_image(image);
  fs::permissions(image, fs::perms(0644));
  auto png = read_file(image);
  ASSERT_TRUE(png.ok());

  // One copy of the data a project: a folder belongs to one project's dataset.
  for (const char* name : {"strict", "blacklist", "builtin"}) {
    fs::create_directories(data_root.path() / name);
    fs::permissions(data_root.path() / name, fs::perms(0755));
    fs::copy_file(image, data_root.path() / name / "face.png");
    fs::permissions(data_root.path() / name / "face.png", fs::perms(0644));
  }
  Platform p;
  ASSERT_TRUE(p.server);
  p.user("olga");
  p.user("dev");
  // Three projects, the same secret data, three policies for the secret level:
  //   strict     a data owner's whitelist: lifecycle lines and an epoch counter only
  //   blacklist  the built-in policy of the internal level (blacklist + detectors)
  //   builtin    the built-in secret policy (whitelist of progress lines + detectors)
  for (const char* name : {"strict", "blacklist", "builtin"}) {
    p.project("lab", name, {{"olga", "data-owner"}, {"dev", "project-developer"}});
  }
  Api olga = p.user("olga");
  Api dev = p.user("dev");
  p.admin().call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", data_root.str()}});
  for (const char* name : {"strict", "blacklist", "builtin"}) {
    olga.call(
        "POST", std::string("/api/v1/projects/") + name + "/datasets",
        {{"name", "faces"}, {"path", data_root.str() + "/" + name}, {"security_level", "secret"}});
  }
  olga.call("PUT", "/api/v1/projects/strict/log-policies/secret",
            {{"mode", "whitelist"},
             {"keep_raw", true},
             {"rules",
              {{{"name", "lifecycle"}, {"pattern", "^training (started|finished)$"}},
               {{"name", "epoch"}, {"pattern", "^epoch [0-9]{1,4} done$"}}}}});
  Json internal = olga.call("GET", "/api/v1/projects/blacklist/log-policies/internal");
  olga.call("PUT", "/api/v1/projects/blacklist/log-policies/secret", internal["policy"]);
  // A developer may read the policies but not change them.
  int status = 0;
  dev.call("PUT", "/api/v1/projects/strict/log-policies/secret", {{"mode", "open"}}, &status);
  EXPECT_EQ(status, 403);
  EXPECT_EQ(dev.call("GET", "/api/v1/projects/strict/log-policies/secret")["policy"]["mode"],
            "whitelist");
  // Each policy states its leak budget: the data owner's whitelist allows 2 + 11,110 lines.
  Json budget = olga.call("GET", "/api/v1/projects/strict/log-policies/secret")["leak_budget"];
  EXPECT_TRUE(budget["bounded"].get<bool>()) << budget.dump();
  EXPECT_NEAR(budget["bits_per_line"].get<double>(), std::log2(11112.0), 1e-6) << budget.dump();
  Json builtin = olga.call("GET", "/api/v1/projects/builtin/log-policies/secret")["leak_budget"];
  EXPECT_LT(builtin["bits_per_line"].get<double>(), 620) << builtin.dump();
  EXPECT_LT(builtin["bits_per_s"].get<double>(), 12800) << builtin.dump();
  EXPECT_FALSE(
      olga.call("GET", "/api/v1/projects/blacklist/log-policies/secret")["leak_budget"]["bounded"]
          .get<bool>());

  // Every trick in every project, all queued at once. The job's program: png.py (reads the
  // pixels) and attack.py.
  const std::string attack =
      *read_file(kRedteam + "/png.py") + "\n" + *read_file(kRedteam + "/attack.py");
  std::map<std::string, std::vector<std::string>> ids;
  for (const char* project : {"strict", "blacklist", "builtin"}) {
    for (int t = 1; t <= kTrickCount; ++t) {
      Json body = job("trick-" + std::to_string(t),
                      {"/usr/bin/python3", "-c", attack, std::to_string(t), "/data/faces/face.png"},
                      0.2, 128);
      body["datasets"] = {"faces"};
      ids[project].push_back(
          dev.call("POST", std::string("/api/v1/projects/") + project + "/jobs", body)["id"]);
    }
  }
  testing::TempDir scratch;
  std::map<std::string, std::vector<int>> got;
  std::ostringstream table;
  table << "| # | trick | data owner's whitelist | built-in blacklist | built-in secret whitelist "
           "|\n|---|---|---|---|---|\n";
  for (const char* project : {"strict", "blacklist", "builtin"}) {
    auto done = wait_states(dev, project, ids[project], kTerminal);
    for (int t = 1; t <= kTrickCount; ++t) {
      const std::string& id = ids[project][t - 1];
      EXPECT_EQ(done[id]["state"], "succeeded") << project << " trick " << t;
      const std::string log =
          dev.text(std::string("/api/v1/projects/") + project + "/jobs/" + id + "/logs");
      got[project].push_back(recovered(image, log, scratch.str() + "/log"));
    }
  }
  for (int t = 1; t <= kTrickCount; ++t) {
    table << "| " << t << " | " << kTricks[t - 1] << " | " << got["strict"][t - 1] << " | "
          << got["blacklist"][t - 1] << " | " << got["builtin"][t - 1] << " |\n";
  }
  std::cout << "Bytes of the " << png->size() << "-byte image (or its 3072 pixel bytes) that "
            << "come back out of the stored log:\n"
            << table.str();
  // The acceptance: under the data owner's whitelist, none of the twelve tricks gets a
  // byte out. (13, an attacker who knows the whitelist and signals one bit per allowed
  // line, is the channel every whitelist leaves open; docs/SECURITY.md.)
  for (int t = 1; t <= 14; ++t) {
    if (t == 13) continue;
    EXPECT_EQ(got["strict"][t - 1], 0) << kTricks[t - 1] << " under the whitelist";
  }
  // Issue 17, item 10: metric names of any length carried the data under the built-in
  // secret whitelist; names now come from a vocabulary.
  EXPECT_EQ(got["builtin"][14 - 1], 0) << kTricks[13] << " under the built-in whitelist";
  // What the blacklist stops, and what it cannot (docs/SECURITY.md states the same).
  for (int t : {1, 2, 3, 4, 5, 6, 7, 9, 11}) {
    EXPECT_EQ(got["blacklist"][t - 1], 0) << kTricks[t - 1] << " under the blacklist";
  }
  // Raw bytes: the lines that happen to hold printable bytes only pass (a few bytes).
  EXPECT_LT(got["blacklist"][10 - 1], 32) << "raw bytes under the blacklist";
  EXPECT_GT(got["blacklist"][8 - 1], 1000) << "metrics-shaped lines are not a blacklist's to stop";
  EXPECT_GT(got["blacklist"][12 - 1], 1000) << "one byte per line is not a blacklist's to stop";
  EXPECT_GT(got["blacklist"][14 - 1], 1000) << "low-entropy words are not a blacklist's to stop";

  // The developer sees what was withheld as counts, never the content; the raw log is for
  // data owners only.
  const std::string plain = ids["strict"][0];
  Json stats = dev.call("GET", "/api/v1/projects/strict/jobs/" + plain + "/logs/stats");
  int64_t withheld = 0;
  for (const auto& [reason, count] : stats["withheld"].items()) {
    EXPECT_TRUE(reason.rfind("detector:", 0) == 0 || reason == "whitelist") << reason;
    withheld += count["lines"].get<int64_t>();
  }
  EXPECT_EQ(withheld, 1) << stats.dump();
  EXPECT_EQ(stats["passed_lines"], 1) << stats.dump();  // "training finished"
  // The server compiled the policy once; the job's supervisor loaded it.
  EXPECT_EQ(stats["filter"], "precompiled") << stats.dump();
  EXPECT_EQ(stats.dump().find(png->substr(0, 8)), std::string::npos);
  dev.text("/api/v1/projects/strict/jobs/" + plain + "/logs/raw", &status);
  EXPECT_EQ(status, 403);
  const std::string raw = olga.text("/api/v1/projects/strict/jobs/" + plain + "/logs/raw", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(recovered(image, raw, scratch.str() + "/raw"), static_cast<int>(png->size()));
  // Where the policy keeps no raw log there is none.
  olga.text("/api/v1/projects/blacklist/jobs/" + ids["blacklist"][0] + "/logs/raw", &status);
  EXPECT_EQ(status, 404);
}

// Live follow over Server-Sent Events, tail, a time window, regex, search across jobs.
TEST(Logs, FollowTailSearch) {
  Platform p;
  ASSERT_TRUE(p.server);
  p.project("lab", "watch", {});
  Api admin = p.admin();
  Json j = admin.call(
      "POST", "/api/v1/projects/watch/jobs",
      job("slow",
          {"sh", "-c", "for i in 1 2 3 4 5; do echo step $i; sleep 0.3; done; echo oops >&2"}));
  const std::string id = j["id"];
  // Follow from the start: every line, then the end event, while the job runs.
  httplib::Client c("127.0.0.1", p.server->port());
  c.set_read_timeout(60, 0);
  std::string events;
  auto r =
      c.Get("/api/v1/projects/watch/jobs/" + id + "/logs?follow=true",
            {{"Authorization", "Bearer " + p.server->token()}}, [&](const char* data, size_t n) {
              events.append(data, n);
              return true;
            });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(events.find("\"text\":\"step " + std::to_string(i) + "\""), std::string::npos)
        << events;
  }
  EXPECT_NE(events.find("\"stream\":\"stderr\""), std::string::npos);
  EXPECT_NE(events.find("event: end"), std::string::npos) << events;
  EXPECT_LT(events.find("step 5"), events.find("event: end"));
  // Resuming after the third line sends the rest only.
  std::string rest;
  r = c.Get("/api/v1/projects/watch/jobs/" + id + "/logs?follow=true",
            {{"Authorization", "Bearer " + p.server->token()}, {"Last-Event-ID", "3"}},
            [&](const char* data, size_t n) {
              rest.append(data, n);
              return true;
            });
  EXPECT_EQ(rest.find("step 3"), std::string::npos);
  EXPECT_NE(rest.find("step 4"), std::string::npos);

  const std::string base = "/api/v1/projects/watch/jobs/" + id + "/logs";
  EXPECT_EQ(admin.text(base + "?tail=2"), "step 5\noops\n");
  EXPECT_EQ(admin.text(base + "?regex=%5Estep%20%5B24%5D%24"), "step 2\nstep 4\n");
  EXPECT_EQ(admin.text(base + "?stream=stderr"), "oops\n");
  EXPECT_EQ(admin.text(base + "?q=step%203"), "step 3\n");
  Json page = admin.call("GET", base + "?format=json&from=2&limit=2");
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["seq"], 2);
  EXPECT_EQ(page["next_seq"], 4);
  EXPECT_EQ(page["last_seq"], 6);
  EXPECT_TRUE(page["complete"].is_boolean());
  const std::string t = page["items"][1]["time"];
  Json window = admin.call("GET", base + "?format=json&since=" + t + "&until=" + t);
  ASSERT_GE(window["items"].size(), 1u);
  EXPECT_EQ(window["items"][0]["text"], "step 3");
  int status = 0;
  admin.call("GET", base + "?regex=(unclosed", nullptr, &status);
  EXPECT_EQ(status, 400);
  admin.call("GET", base + "?since=yesterday", nullptr, &status);
  EXPECT_EQ(status, 400);
  // Issue 17, item 14: times past what the clock holds overflowed into "every line".
  Json late = admin.call("GET", base + "?format=json&since=9999-12-31T23:59:59Z", nullptr, &status);
  EXPECT_TRUE(status == 400 || (status == 200 && late["items"].empty())) << late.dump();
  Json early =
      admin.call("GET", base + "?format=json&until=0000-01-01T00:00:00Z", nullptr, &status);
  EXPECT_TRUE(status == 400 || (status == 200 && early["items"].empty())) << early.dump();
  Json all = admin.call("GET", base + "?format=json&since=1900-01-01T00:00:00Z");
  EXPECT_EQ(all["items"].size(), 6u) << all.dump();
  // Search across the project's jobs.
  Json other = admin.call("POST", "/api/v1/projects/watch/jobs", job("other", {"echo", "step 9"}));
  wait_states(admin, "watch", {other["id"]}, kTerminal);
  Json found = admin.call("GET", "/api/v1/projects/watch/logs/search?regex=step%20%5B59%5D");
  ASSERT_EQ(found["items"].size(), 2u) << found.dump();
  std::set<std::string> jobs_found;
  for (const auto& it : found["items"]) jobs_found.insert(it["job_id"].get<std::string>());
  EXPECT_EQ(jobs_found, (std::set<std::string>{id, other["id"]}));
}

}  // namespace
}  // namespace jz
