// The data sandbox as a whole, against the real `jizhan server`, real bubblewrap sandboxes
// and a real algorithm sandbox (issue 17's red-team test): a `secret` dataset holds 4 KiB
// of random bytes, and from every seat (a developer, a viewer and a project admin of its
// project; a workspace member and a data owner of another tenant) every way in that the
// attacker's-eye probe used is tried: the files API, the dataset's metadata, job logs (the
// filtered log, the raw log, log search), the metrics channel (tag names, notes,
// configuration, values), dev environments and their proxy, granting
// oneself the data-owner role, registering the folder (or the folder around it) in
// another project, an upload that links to it, a job of another project reading it or
// another job's outputs by path, a swapped dataset folder, and an algorithm library run
// with `jizhan algo run`. Every answer is searched for any 8 bytes of the secret (raw, hex
// or base64); none may hold one. docs/SECURITY.md, "Threat model", lists the same table.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <random>
#include <sstream>

#include "core/files.h"
#include "core/subprocess.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += {d[c >> 4], d[c & 15]};
  return out;
}

std::string base64(std::string_view s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i + 2 < s.size(); i += 3) {
    const uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  return out;
}

// Whether `text` holds 8 consecutive bytes of `secret`: raw, in hex, or in base64 (12
// characters of the secret's own base64, which any aligned encoding of 9 bytes contains).
bool leaks(const std::string& text, const std::string& secret) {
  const std::string h = hex(secret), b = base64(secret);
  for (size_t i = 0; i + 8 <= secret.size(); i += 4) {
    if (text.find(secret.substr(i, 8)) != std::string::npos) return true;
    if (text.find(h.substr(2 * i, 16)) != std::string::npos) return true;
  }
  for (size_t i = 0; i + 12 <= b.size(); i += 4) {
    if (text.find(b.substr(i, 12)) != std::string::npos) return true;
  }
  return false;
}

struct Attempt {
  std::string seat, channel;
  int status = 0;
  std::string body;
};

TEST(DataSandbox, NoSeatReadsAByteOfASecretDataset) {
  if (::geteuid() != 0) GTEST_SKIP() << "the proxy and per-project users need root";
  testing::TempDir ours, theirs;
  for (auto* d : {&ours, &theirs}) fs::permissions(d->path(), fs::perms(0755));
  fs::create_directories(ours.path() / "secret");
  fs::create_directories(theirs.path() / "mine");
  for (auto p : {ours.path() / "secret", theirs.path() / "mine"})
    fs::permissions(p, fs::perms(0755));
  std::mt19937_64 rng(17);
  std::string secret(4096, '\0');
  for (auto& c : secret) c = static_cast<char>(rng());
  const std::string secret_file = ours.str() + "/secret/data.bin";
  ASSERT_TRUE(write_file(secret_file, secret, 0644).ok());
  ASSERT_TRUE(leaks("xx" + hex(secret.substr(100, 9)) + "yy", secret)) << "the detector works";

  Platform p;
  ASSERT_TRUE(p.server);
  for (const char* u : {"olga", "dev", "view", "padm", "mallory", "eve"}) p.user(u);
  p.project("lab", "vault",
            {{"olga", "data-owner"},
             {"dev", "project-developer"},
             {"view", "project-viewer"},
             {"padm", "project-admin"}});
  p.project("rival", "theirs", {{"eve", "data-owner"}});
  Api admin = p.admin();
  admin.call("POST", "/api/v1/workspaces/rival/members",
             {{"username", "mallory"}, {"role", "workspace-regular"}});
  admin.call("POST", "/api/v1/workspaces/lab/dataset-roots", {{"path", ours.str()}});
  admin.call("POST", "/api/v1/workspaces/rival/dataset-roots", {{"path", theirs.str()}});
  std::map<std::string, Api> seat;
  for (const char* u : {"olga", "dev", "view", "padm", "mallory", "eve"})
    seat.emplace(u, p.user(u));
  seat.at("olga").call(
      "POST", "/api/v1/projects/vault/datasets",
      {{"name", "secret"}, {"path", ours.str() + "/secret"}, {"security_level", "secret"}});
  // A developer's job on the secret data: prints it, copies it to its outputs.
  Json copy = job("copy", {"sh", "-c",
                           "cat /data/secret/data.bin; od -An -tx1 /data/secret/data.bin; "
                           "cp /data/secret/data.bin /output/copy.bin; echo training finished"});
  copy["datasets"] = {"secret"};
  Json cj = seat.at("dev").call("POST", "/api/v1/projects/vault/jobs", copy);
  const std::string copy_id = cj["id"];
  auto done = wait_states(seat.at("dev"), "vault", {copy_id}, kTerminal);
  ASSERT_EQ(done[copy_id]["state"], "succeeded") << done[copy_id].dump();
  const std::string copy_out = p.data + "/jobs/" + copy_id + "-1/output/copy.bin";
  ASSERT_EQ(*read_file(copy_out), secret) << "the job had the data (so a leak could happen)";

  // The same developer's job sends the data out through its metrics channel
  // (exec/metrics_channel.h): as tag names, notes, configuration strings and names, and one
  // byte per value. Under `secret` only vocabulary names, numbers and filtered notes pass.
  Json exfil = job("exfil",
                   {"/usr/bin/python3", "-c",
                    "import binascii, jizhan\n"
                    "data = open('/data/secret/data.bin', 'rb').read()\n"
                    "h = binascii.hexlify(data).decode()\n"
                    "run = jizhan.init()\n"
                    "for i in range(0, 512, 16):\n"
                    "    run.log({'x' + h[i:i + 16]: 1, 'loss/' + h[i:i + 16]: 1})\n"
                    "    run.note(h[i:i + 64])\n"
                    "    run.config({h[i:i + 16]: h[i:i + 64], 'lr': h[i:i + 64]})\n"
                    "for b in data[:400]:\n"
                    "    run.log({'loss': b})\n"
                    "run.finish()\n"},
                   0.2, 128);
  exfil["datasets"] = {"secret"};
  Json ej = seat.at("dev").call("POST", "/api/v1/projects/vault/jobs", exfil);
  const std::string exfil_id = ej["id"];
  auto edone = wait_states(seat.at("dev"), "vault", {exfil_id}, kTerminal);
  ASSERT_EQ(edone[exfil_id]["state"], "succeeded") << edone[exfil_id].dump();
  {
    // What the bounds let through: numbers of the vocabulary's names, within the rate.
    Json run = seat.at("dev").call("GET", "/api/v1/projects/vault/runs/" + exfil_id);
    EXPECT_EQ(run["tags"], Json({"loss"})) << run.dump();
    EXPECT_EQ(run["config"], Json::object()) << run.dump();
    EXPECT_EQ(run["notes"], Json::array()) << run.dump();
    EXPECT_LE(run["points"].get<int64_t>(), 200 + 20 * 60) << run.dump();
  }

  std::vector<Attempt> tried;
  auto get = [&](const std::string& who, const std::string& channel, const std::string& path) {
    int status = 0;
    std::string body = seat.at(who).text(path, &status);
    tried.push_back({who, channel, status, body});
  };
  auto call = [&](const std::string& who, const std::string& channel, const std::string& method,
                  const std::string& path, const Json& body) {
    int status = 0;
    Json j = seat.at(who).call(method, path, body, &status);
    tried.push_back({who, channel, status, j.dump()});
    return status;
  };
  const std::string v = "/api/v1/projects/vault";
  for (const char* who : {"dev", "view", "padm", "mallory", "eve"}) {
    get(who, "files API: list", v + "/datasets/secret/files");
    get(who, "files API: download", v + "/datasets/secret/files/data.bin");
    get(who, "dataset metadata (path)", v + "/datasets/secret");
    get(who, "job log", v + "/jobs/" + copy_id + "/logs");
    get(who, "raw job log", v + "/jobs/" + copy_id + "/logs/raw");
    get(who, "log search", v + "/logs/search?q=" + hex(secret.substr(0, 4)).substr(0, 8));
    get(who, "job log download", v + "/jobs/" + copy_id + "/logs/download");
    get(who, "the metrics channel: the run", v + "/runs/" + exfil_id);
    get(who, "the metrics channel: its runs", v + "/runs");
    get(who, "the metrics channel: a series", v + "/runs/" + exfil_id + "/series?tag=loss");
    // Dev environments never mount secret data.
    Json env = {
        {"name", "peek"},
        {"kind", "devenv"},
        {"datasets", {"secret"}},
        {"command", {"sh", "-c", "cd /data && exec python3 -m http.server \"$JIZHAN_PORT\""}},
        {"resources", {{"cpu", 0.1}, {"memory_mib", 128}}}};
    EXPECT_NE(call(who, "dev environment on the secret data", "POST", v + "/jobs", env), 201)
        << who;
    // Nobody makes themselves a data owner without holding its rights.
    EXPECT_NE(call(who, "grant oneself data-owner", "POST", v + "/members",
                   {{"username", who}, {"role", "data-owner"}}),
              201)
        << who;
  }
  EXPECT_EQ(seat.at("dev").text(v + "/datasets/secret").find(ours.str()), std::string::npos);
  // Another tenant: a project of one's own, then the secret folder (or the root around it)
  // registered there; a job there reading the folder or the outputs by path.
  seat.at("mallory").call("POST", "/api/v1/workspaces/rival/projects", {{"name", "mine"}});
  EXPECT_NE(
      call("mallory", "grant oneself data-owner in one's own project", "POST",
           "/api/v1/projects/mine/members", {{"username", "mallory"}, {"role", "data-owner"}}),
      201);
  for (const std::string& path : {ours.str() + "/secret", ours.str()}) {
    EXPECT_NE(call("eve", "register the folder in another tenant", "POST",
                   "/api/v1/projects/theirs/datasets",
                   {{"name", "stolen"}, {"path", path}, {"security_level", "open"}}),
              201)
        << path;
  }
  Json probe = job("probe", {"sh", "-c",
                             "cat " + secret_file + " " + copy_out + " 2>&1; ls -la " + p.data +
                                 "/jobs 2>&1; echo done"});
  Json pj = seat.at("mallory").call("POST", "/api/v1/projects/mine/jobs", probe);
  auto pdone = wait_states(seat.at("mallory"), "mine", {pj["id"]}, kTerminal);
  tried.push_back({"mallory", "a job of another project reads the folder and the outputs by path",
                   0,
                   seat.at("mallory").text("/api/v1/projects/mine/jobs/" +
                                           pj["id"].get<std::string>() + "/logs")});
  // A data owner of another tenant swaps their own dataset for a symlink to ours.
  int status = 0;
  seat.at("eve").call(
      "POST", "/api/v1/projects/theirs/datasets",
      {{"name", "mine"}, {"path", theirs.str() + "/mine"}, {"security_level", "open"}}, &status);
  ASSERT_EQ(status, 201);
  fs::remove(theirs.path() / "mine");
  fs::create_directory_symlink(ours.path() / "secret", theirs.path() / "mine");
  Json swap = job("swap", {"sh", "-c", "cat /data/mine/data.bin"});
  swap["datasets"] = {"mine"};
  Json sj = admin.call("POST", "/api/v1/projects/theirs/jobs", swap);
  auto sdone = wait_states(admin, "theirs", {sj["id"]}, kTerminal);
  EXPECT_EQ(sdone[sj["id"]]["state"], "failed") << sdone[sj["id"]].dump();
  tried.push_back(
      {"eve", "a dataset folder swapped for a symlink", 0,
       admin.text("/api/v1/projects/theirs/jobs/" + sj["id"].get<std::string>() + "/logs") +
           sdone[sj["id"]].dump()});
  // An upload that links to the data.
  auto evil = run_subprocess(
      {.argv = {"/usr/bin/python3", "-c",
                "import tarfile,sys\n"
                "t=tarfile.open(sys.argv[1],'w:gz')\n"
                "for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):\n"
                "  l=tarfile.TarInfo('x%d' % kind[0]); l.type=kind; l.linkname=sys.argv[2]\n"
                "  t.addfile(l)\n"
                "t.close()\n",
                theirs.str() + "/evil.tar.gz", secret_file}});
  ASSERT_TRUE(evil.ok() && evil->success()) << (evil.ok() ? evil->err : "");
  {
    httplib::Client c("127.0.0.1", p.server->port());
    for (const char* who : {"eve", "olga"}) {
      Json t = seat.at(who).call("POST", "/api/v1/tokens", {{"name", "up"}});
      auto r = c.Post(std::string("/api/v1/projects/") +
                          (who == std::string("eve") ? "theirs" : "vault") +
                          "/datasets/linked/archive?security_level=open",
                      {{"Authorization", "Bearer " + t["token"].get<std::string>()}},
                      *read_file(theirs.str() + "/evil.tar.gz"), "application/gzip");
      tried.push_back({who, "an upload of links to the data", r ? r->status : 0, r ? r->body : ""});
      EXPECT_EQ(r ? r->status : 0, 400) << who;
    }
  }
  // A hostile algorithm library run by a developer with access to the machine.
  {
    std::string ppm = "P6\n8 8\n255\n" + std::string(8 * 8 * 3, '\x40');
    ASSERT_TRUE(write_file(theirs.str() + "/frame.ppm", ppm, 0644).ok());
    auto r = run_subprocess(
        {.argv = {testing::jizhan_binary(), "algo", "run", "--package", JZ_FAULTY, "--input",
                  theirs.str() + "/frame.ppm", "--out", "-", "--config",
                  json::dump(Json{{"hostile", {{"read", {secret_file, copy_out}}}}})},
         .timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << r->err;
    EXPECT_NE(r->out.find("\"read\""), std::string::npos) << r->out;
    EXPECT_EQ(r->out.find("true"), std::string::npos) << "the library read a file: " << r->out;
    tried.push_back({"a hostile algorithm", "jizhan algo run reads the folder and the outputs",
                     r->exit_code, r->out + r->err});
  }

  std::ostringstream table;
  table << "| seat | channel | answer | secret bytes |\n|---|---|---|---|\n";
  for (const auto& t : tried) {
    const bool leaked = leaks(t.body, secret);
    table << "| " << t.seat << " | " << t.channel << " | " << t.status << " | "
          << (leaked ? "**LEAKED**" : "0") << " |\n";
    EXPECT_FALSE(leaked) << t.seat << " through " << t.channel << ": " << t.body.substr(0, 300);
  }
  std::cout << table.str();
  EXPECT_GT(tried.size(), 45u);
  EXPECT_EQ(pdone[pj["id"]]["state"], "succeeded");
}

}  // namespace
}  // namespace jz
