// Dev environments end to end: Jupyter Notebook (examples/devenv/jupyter.json, Debian's
// jupyter-notebook) in a sandbox on a virtual GPU share, reached through the platform's
// proxy over HTTP and WebSockets by its owner, refused to everyone else, stopped when
// idle (kernel messages count, pings do not) and resumed with its notebooks.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "http/websocket_client.h"
#include "tests/support/platform_fixture.h"

namespace jz {
namespace {

using namespace std::chrono_literals;
const std::set<std::string> kEnded = {"succeeded", "failed", "cancelled"};

bool have_jupyter() { return ::access("/usr/bin/jupyter-notebook", X_OK) == 0; }

// Jupyter's XSRF pair: the _xsrf cookie its pages set, sent back as cookie and header.
struct Xsrf {
  std::string value;
};

Xsrf xsrf_of(int port, const std::string& token, const std::string& base) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get(base + "tree", {{"Authorization", "Bearer " + token}});
  Xsrf x;
  if (!r) return x;
  for (const auto& [k, v] : r->headers) {
    if (k == "Set-Cookie" && v.rfind("_xsrf=", 0) == 0) x.value = v.substr(6, v.find(';') - 6);
  }
  return x;
}

httplib::Result jupyter_call(int port, const std::string& token, const Xsrf& x,
                             const std::string& method, const std::string& path,
                             const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  httplib::Headers h = {{"Authorization", "Bearer " + token},
                        {"Cookie", "_xsrf=" + x.value},
                        {"X-XSRFToken", x.value}};
  if (method == "POST") return c.Post(path, h, body, "application/json");
  return c.Put(path, h, body, "application/json");
}

std::string execute_request(const std::string& code, int n) {
  return json::dump(Json{{"header",
                          {{"msg_id", "m" + std::to_string(n)},
                           {"username", "test"},
                           {"session", "s1"},
                           {"msg_type", "execute_request"},
                           {"version", "5.3"},
                           {"date", ""}}},
                         {"parent_header", Json::object()},
                         {"metadata", Json::object()},
                         {"content",
                          {{"code", code},
                           {"silent", false},
                           {"store_history", true},
                           {"user_expressions", Json::object()},
                           {"allow_stdin", false},
                           {"stop_on_error", true}}},
                         {"channel", "shell"},
                         {"buffers", Json::array()}});
}

// Runs `code` on the kernel behind `ws` and returns its execute_result's text.
std::string run_cell(http::WebSocketClient& ws, const std::string& code, int n) {
  EXPECT_TRUE(ws.send_text(execute_request(code, n)).ok());
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    auto m = ws.receive(10s);
    if (!m.ok()) return "(no answer: " + m.status().to_string() + ")";
    if (m->opcode != http::WsOpcode::kText) continue;
    Json j = Json::parse(m->payload, nullptr, false);
    if (!j.is_object()) continue;
    if (json::string_or(j["parent_header"], "msg_id") != "m" + std::to_string(n)) continue;
    const std::string type = json::string_or(j["header"], "msg_type");
    if (type == "execute_result") return j["content"]["data"]["text/plain"].get<std::string>();
    if (type == "error") return "(error: " + j["content"].dump() + ")";
  }
  return "(timed out)";
}

std::string session_of(int port, const std::string& user) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/v1/auth/login",
                  json::dump(Json{{"username", user}, {"password", "password-" + user}}),
                  "application/json");
  return r && r->status == 200 ? Json::parse(r->body)["token"].get<std::string>() : "";
}

TEST(DevEnv, JupyterRunsAKernelThroughTheProxyForItsOwnerOnlyIdlesOutAndResumes) {
  if (::geteuid() != 0) GTEST_SKIP() << "the proxy joins the sandbox's network namespace (root)";
  if (!have_jupyter()) GTEST_SKIP() << "jupyter-notebook is not installed (scripts/install-deps)";
  Platform p({"--set", "exec.virtual_gpus=1"});
  ASSERT_TRUE(p.server);
  const int port = p.server->port();
  Api dana = p.user("dana");
  Api pat = p.user("pat");
  Api vic = p.user("vic");
  Api olga = p.user("olga");
  p.project("lab", "dev",
            {{"dana", "project-developer"}, {"pat", "project-admin"}, {"vic", "project-viewer"}});
  auto spec = read_file(std::string(JZ_SOURCE_DIR) + "/examples/devenv/jupyter.json");
  ASSERT_TRUE(spec.ok());
  Json env = Json::parse(*spec);
  Json j = dana.call("POST", "/api/v1/projects/dev/jobs", env);
  const std::string id = j["id"].get<std::string>();
  ASSERT_EQ(j["url"], "/devenvs/" + id + "/");
  wait_states(dana, "dev", {id}, {"running"});
  Json running = dana.call("GET", "/api/v1/projects/dev/jobs/" + id);
  EXPECT_EQ(running["placement"].size(), 1u) << "on a share of the virtual GPU: " << running.dump();
  const std::string base = "/devenvs/" + id + "/";
  const std::string dana_token = session_of(port, "dana");
  // Jupyter answers through the proxy once it is up.
  int status = 0;
  for (int i = 0; i < 300 && status != 200; ++i) {
    dana.text(base + "api/status", &status);
    if (status != 200) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(status, 200) << "Jupyter did not come up; its log:\n"
                         << dana.text("/api/v1/projects/dev/jobs/" + id + "/logs");
  Xsrf x = xsrf_of(port, dana_token, base);
  ASSERT_FALSE(x.value.empty());
  // A notebook saved in the environment, and a kernel.
  auto saved = jupyter_call(port, dana_token, x, "PUT", base + "api/contents/kept.ipynb",
                            json::dump(Json{{"type", "notebook"},
                                            {"content",
                                             {{"cells", Json::array()},
                                              {"metadata", Json::object()},
                                              {"nbformat", 4},
                                              {"nbformat_minor", 5}}}}));
  ASSERT_TRUE(saved && saved->status < 300) << (saved ? saved->body : "no answer");
  auto k = jupyter_call(port, dana_token, x, "POST", base + "api/kernels", R"({"name":"python3"})");
  ASSERT_TRUE(k && k->status == 201) << (k ? k->body : "no answer");
  const std::string kernel = Json::parse(k->body)["id"].get<std::string>();
  const std::string channels = base + "api/kernels/" + kernel + "/channels?session_id=s1";

  // The owner's kernel runs 1+1: frames both ways through the proxy.
  http::WebSocketClient ws;
  Status connected =
      ws.connect("127.0.0.1", port, channels, {{"Authorization", "Bearer " + dana_token}}, 10s);
  ASSERT_TRUE(connected.ok()) << connected.to_string();
  EXPECT_EQ(run_cell(ws, "1+1", 1), "2");

  // Everyone else: refused, WebSocket and plain.
  int seat = 1;
  auto refused = [&](const std::vector<std::pair<std::string, std::string>>& headers) {
    http::WebSocketClient other;
    // Its own Jupyter session: one with the same id would replace the test's channel.
    const std::string mine =
        base + "api/kernels/" + kernel + "/channels?session_id=s" + std::to_string(++seat);
    Status s = other.connect("127.0.0.1", port, mine, headers, 5s);
    return s.ok() ? std::string("accepted") : s.message();
  };
  EXPECT_NE(refused({}).find("401"), std::string::npos) << "no token";
  EXPECT_NE(refused({{"Authorization", "Bearer " + session_of(port, "olga")}}).find("404"),
            std::string::npos)
      << "another tenant";
  EXPECT_NE(refused({{"Authorization", "Bearer " + session_of(port, "vic")}}).find("403"),
            std::string::npos)
      << "a viewer";
  // A project admin's console session: the environment's pages would run with it.
  const std::string pat_session = session_of(port, "pat");
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_NE(refused({{"Cookie", "jz_session=" + pat_session}, {"Origin", origin}}).find("403"),
            std::string::npos)
      << "an admin's browser";
  // The owner's own session from another site, or without saying where from.
  const std::string dana_session = session_of(port, "dana");
  EXPECT_NE(refused({{"Cookie", "jz_session=" + dana_session}, {"Origin", "http://evil.example"}})
                .find("403"),
            std::string::npos);
  EXPECT_NE(refused({{"Cookie", "jz_session=" + dana_session}}).find("403"), std::string::npos);
  EXPECT_EQ(refused({{"Cookie", "jz_session=" + dana_session}, {"Origin", origin}}), "accepted");
  // A project admin with a token reaches it (audited).
  pat.text(base + "api/status", &status);
  EXPECT_EQ(status, 200);
  vic.text(base + "api/status", &status);
  EXPECT_EQ(status, 403);
  olga.text(base + "api/status", &status);
  EXPECT_EQ(status, 404);

  // Idle after 4 s: kernel messages keep it up...
  Api admin = p.admin();
  EXPECT_EQ(run_cell(ws, "3+4", 2), "7");
  admin.call("PUT", "/api/v1/projects/dev/job-settings", {{"devenv_idle_s", 4}});
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(run_cell(ws, std::to_string(i) + "*2", 10 + i), std::to_string(i * 2));
    std::this_thread::sleep_for(1s);
  }
  EXPECT_EQ(dana.call("GET", "/api/v1/projects/dev/jobs/" + id)["state"], "running")
      << "kernel messages are activity";
  // ...pings on an open kernel channel do not.
  Json ended;
  for (int i = 0; i < 60; ++i) {
    (void)ws.send(http::WsOpcode::kPing, "");
    (void)ws.receive(200ms);
    ended = dana.call("GET", "/api/v1/projects/dev/jobs/" + id);
    if (kEnded.count(json::string_or(ended, "state"))) break;
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(ended["state"], "cancelled");
  EXPECT_EQ(ended["reason"], "Idle");

  // Resumed: the notebook is still there.
  admin.call("PUT", "/api/v1/projects/dev/job-settings", {{"devenv_idle_s", 3600}});
  dana.call("POST", "/api/v1/projects/dev/jobs/" + id + "/retry");
  wait_states(dana, "dev", {id}, {"running"});
  status = 0;
  for (int i = 0; i < 300 && status != 200; ++i) {
    dana.text(base + "api/contents/kept.ipynb", &status);
    if (status != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 200);
  dana.call("POST", "/api/v1/projects/dev/jobs/" + id + "/cancel");
  wait_states(dana, "dev", {id}, kEnded);
}

}  // namespace
}  // namespace jz
