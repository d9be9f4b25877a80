// Test support: a real SMTP server (Debian's python3-aiosmtpd, tests/support/smtp_server.py)
// for the tests of notifications by mail.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "core/json.h"
#include "core/subprocess.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {

// The JSON objects of a file written one a line (lines that are not objects skipped).
inline std::vector<Json> read_json_lines(const std::filesystem::path& path) {
  std::vector<Json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    Json l = Json::parse(line, nullptr, false);
    if (l.is_object()) out.push_back(std::move(l));
  }
  return out;
}

// The text of a mail as the SMTP server logged it ("data": headers, a blank line, the body
// in base64), decoded.
inline Result<std::string> mail_body(const std::string& data) {
  const size_t body = std::min(data.find("\n\n"), data.find("\r\n\r\n"));
  if (body == std::string::npos) return Status::invalid_argument("a mail without a body");
  std::string b64;
  for (char ch : data.substr(body)) {
    if (!std::isspace(static_cast<unsigned char>(ch))) b64 += ch;
  }
  return base64_decode(b64, "mail body");
}

// A real SMTP server (aiosmtpd) that requires STARTTLS and AUTH, with a certificate made
// for 127.0.0.1 that the sender trusts through ca_file (alerts.ca_file).
class SmtpServer {
 public:
  SmtpServer() {
    const std::string cert = (dir_.path() / "cert.pem").string(),
                      key = (dir_.path() / "key.pem").string();
    auto made =
        run_subprocess({.argv = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                 "-days", "1", "-keyout", key, "-out", cert},
                        .timeout = std::chrono::seconds(60)});
    EXPECT_TRUE(made.ok() && made->success()) << (made.ok() ? made->err : made.status().message());
    SubprocessOptions o;
    o.argv = {"/usr/bin/python3",
              source_dir() + "/tests/support/smtp_server.py",
              "--port-file",
              (dir_.path() / "port").string(),
              "--log",
              (dir_.path() / "log").string(),
              "--cert",
              cert,
              "--key",
              key,
              "--user",
              "alerts",
              "--password",
              "mail-secret"};
    auto c = Child::spawn(o);
    EXPECT_TRUE(c.ok());
    child_.emplace(std::move(*c));
    for (int i = 0; i < 400 && !std::filesystem::exists(dir_.path() / "port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::ifstream(dir_.path() / "port") >> port_;
    EXPECT_GT(port_, 0) << "the SMTP server did not start";
    ca_ = cert;
  }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  const std::string& ca() const { return ca_; }
  std::vector<Json> log() const { return read_json_lines(dir_.path() / "log"); }

 private:
  testing::TempDir dir_;
  std::optional<Child> child_;
  int port_ = 0;
  std::string ca_;
};

}  // namespace jz::testing
