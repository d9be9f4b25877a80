#include "tests/support/server_process.h"

#include <httplib.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.h"

namespace jz::testing {

std::string jizhan_binary() { return JZ_JIZHAN_BINARY; }
std::string source_dir() { return JZ_SOURCE_DIR; }

Result<std::unique_ptr<ServerProcess>> ServerProcess::start(
    const std::string& data_dir, const std::vector<std::string>& extra,
    const std::map<std::string, std::string>& env) {
  auto p = std::make_unique<ServerProcess>();
  p->port_ = free_port();
  p->log_path_ = data_dir + ".log";
  std::vector<std::string> argv = {
      jizhan_binary(), "server", "--listen", "127.0.0.1:" + std::to_string(p->port_),
      "--data-dir",    data_dir, "--set",    "log.access=false"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::remove(p->log_path_.c_str());
  auto child = Child::spawn({.argv = argv, .env = env, .output_file = p->log_path_});
  if (!child.ok()) return child.status();
  p->child_ = std::make_unique<Child>(std::move(child).value());
  httplib::Client c("127.0.0.1", p->port_);
  c.set_connection_timeout(0, 200000);
  for (int i = 0; i < 300; ++i) {
    if (auto r = c.Get("/healthz"); r && r->status == 200) {
      std::ifstream in(data_dir + "/admin-token");
      std::getline(in, p->token_);
      return p;
    }
    if (!p->child_->running()) {
      return Status::internal("jizhan server exited during start: " + p->log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::deadline_exceeded("jizhan server did not answer /healthz within 30 s: " +
                                   p->log());
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace jz::testing
