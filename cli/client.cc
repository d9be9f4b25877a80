#include "cli/client.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace jz::cli {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return Status::failed_precondition("cannot create folder " + path + ": " + errno_message(errno));
}

// The server's error body {"error":{"code","message"}} as a Status; anything else
// as a message with the HTTP status.
Status error_from(const httplib::Result& res, const std::string& server) {
  if (!res) {
    std::string why = res.error() == httplib::Error::Connection ? "connection failed"
                      : res.error() == httplib::Error::Read     ? "no answer"
                                                                : httplib::to_string(res.error());
    return Status::unavailable("cannot reach the Jizhan server at " + server + " (" + why +
                               "): is it running? Pass --server URL or set JIZHAN_SERVER");
  }
  Json body = Json::parse(res->body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const Json& e = body["error"];
    std::string message = e.value("message", std::string("request failed"));
    Code code = code_from_name(e.value("code", std::string())).value_or(Code::kInternal);
    if (code == Code::kUnauthenticated) {
      message += " (run `jizhan login`, or set JIZHAN_TOKEN)";
    }
    return Status(code, message);
  }
  return Status::internal("the server answered HTTP " + std::to_string(res->status) +
                          " without an error body");
}

httplib::Headers auth_headers(const std::string& token) {
  httplib::Headers h = {{"User-Agent", "jizhan-cli"}};
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return h;
}

}  // namespace

Result<std::string> config_dir() {
  if (std::string d = env("JIZHAN_CONFIG_DIR"); !d.empty()) return d;
  if (std::string d = env("XDG_CONFIG_HOME"); !d.empty()) return d + "/jizhan";
  if (std::string d = env("HOME"); !d.empty()) return d + "/.config/jizhan";
  return Status::failed_precondition(
      "no folder for the login: set HOME, XDG_CONFIG_HOME or JIZHAN_CONFIG_DIR");
}

Result<std::optional<Credentials>> load_credentials(const std::string& dir) {
  const std::string path = dir + "/credentials.json";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<Credentials>();
    return Status::failed_precondition("cannot read " + path + ": " + errno_message(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = json::parse(ss.str(), path);
  if (!j.ok()) {
    return Status::failed_precondition(j.status().message() +
                                       " (delete it and run `jizhan login` again)");
  }
  Credentials c;
  for (auto [field, out] : {std::pair{"server", &c.server}, std::pair{"username", &c.username},
                            std::pair{"token", &c.token}, std::pair{"expires_at", &c.expires_at}}) {
    auto v = json::optional_string(*j, field);
    if (!v.ok()) return Status::failed_precondition(path + ": " + v.status().message());
    *out = v->value_or("");
  }
  return std::optional<Credentials>(c);
}

Status save_credentials(const std::string& dir, const Credentials& c) {
  // Create the parents of the default location ($HOME/.config) as needed.
  for (size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    JZ_RETURN_IF_ERROR(make_dir(dir.substr(0, pos)));
  }
  JZ_RETURN_IF_ERROR(make_dir(dir));
  const std::string path = dir + "/credentials.json";
  const std::string tmp = path + ".tmp";
  const std::string text = json::dump({{"server", c.server},
                                       {"username", c.username},
                                       {"token", c.token},
                                       {"expires_at", c.expires_at}}) +
                           "\n";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::failed_precondition("cannot write " + tmp + ": " + errno_message(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::failed_precondition("cannot write " + path + ": " +
                                       errno_message(ok ? errno : err));
  }
  return {};
}

Status remove_credentials(const std::string& dir) {
  const std::string path = dir + "/credentials.json";
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return {};
  return Status::failed_precondition("cannot remove " + path + ": " + errno_message(errno));
}

Result<std::string> normalize_server_url(std::string_view url) {
  std::string u(url);
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (u.rfind("https://", 0) == 0) {
    return Status::invalid_argument("server '" + std::string(url) +
                                    "': https is not supported by this client build; use "
                                    "http:// (behind a TLS proxy, talk to its plain side)");
  }
  if (u.rfind("http://", 0) == 0) u = u.substr(7);
  if (u.empty() || u.find_first_of("/?#@ ") != std::string::npos) {
    return Status::invalid_argument("server '" + std::string(url) +
                                    "' must be http://HOST:PORT, e.g. http://127.0.0.1:8080");
  }
  if (u.find(':') == std::string::npos || u.back() == ']') u += ":80";
  return "http://" + u;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<Json> ApiClient::call(const std::string& method, const std::string& path, const Json* body) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  cli.set_read_timeout(std::chrono::seconds(60));
  const auto headers = auth_headers(token_);
  const std::string text = body ? json::dump(*body) : std::string();
  auto send = [&]() -> httplib::Result {
    if (method == "POST") return cli.Post(path, headers, text, "application/json");
    if (method == "PUT") return cli.Put(path, headers, text, "application/json");
    if (method == "PATCH") return cli.Patch(path, headers, text, "application/json");
    if (method == "DELETE") return cli.Delete(path, headers);
    return cli.Get(path, headers);
  };
  if (method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" &&
      method != "DELETE") {
    return Status::internal("unsupported method " + method);
  }
  auto res = send();
  if (!res || res->status >= 300) return error_from(res, server_);
  if (res->body.empty()) return Json(nullptr);
  auto j = json::parse(res->body, "the server's response");
  if (!j.ok()) return Status::internal(j.status().message());
  return *j;
}

Result<Json> ApiClient::patch_bytes(const std::string& path, std::string_view bytes,
                                    const std::vector<std::pair<std::string, std::string>>& extra) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  cli.set_read_timeout(std::chrono::seconds(300));
  cli.set_write_timeout(std::chrono::seconds(60));
  auto headers = auth_headers(token_);
  for (const auto& [k, v] : extra) headers.emplace(k, v);
  auto res = cli.Patch(path, headers, bytes.data(), bytes.size(), "application/octet-stream");
  if (!res || res->status >= 300) return error_from(res, server_);
  if (res->body.empty()) return Json(nullptr);
  auto j = json::parse(res->body, "the server's response");
  if (!j.ok()) return Status::internal(j.status().message());
  return *j;
}

Result<Json> ApiClient::post_bytes(const std::string& path, std::string_view bytes,
                                   const std::string& content_type) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  cli.set_read_timeout(std::chrono::seconds(300));
  cli.set_write_timeout(std::chrono::seconds(60));
  auto res = cli.Post(path, auth_headers(token_), bytes.data(), bytes.size(), content_type);
  if (!res || res->status >= 300) return error_from(res, server_);
  if (res->body.empty()) return Json(nullptr);
  auto j = json::parse(res->body, "the server's response");
  if (!j.ok()) return Status::internal(j.status().message());
  return *j;
}

Result<std::string> ApiClient::get_text(const std::string& path, const std::string& header_name,
                                        std::string* header_value) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  cli.set_read_timeout(std::chrono::seconds(300));
  auto res = cli.Get(path, auth_headers(token_));
  if (!res || res->status >= 300) return error_from(res, server_);
  if (header_value) *header_value = res->get_header_value(header_name);
  return res->body;
}

Result<int64_t> ApiClient::download(const std::string& path, const std::string& dest) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  cli.set_read_timeout(std::chrono::seconds(300));
  std::ofstream out;
  std::string error_body;
  int http_status = 0;
  int64_t written = 0;
  auto res = cli.Get(
      path, auth_headers(token_),
      [&](const httplib::Response& r) {
        http_status = r.status;
        if (http_status < 300) out.open(dest, std::ios::binary | std::ios::trunc);
        return http_status >= 300 || out.good();
      },
      [&](const char* bytes, size_t n) {
        if (http_status >= 300) {
          error_body.append(bytes, n);
          return true;
        }
        out.write(bytes, static_cast<std::streamsize>(n));
        written += static_cast<int64_t>(n);
        return out.good();
      });
  if (http_status >= 300 || !res) {
    if (res && !error_body.empty()) res->body = error_body;
    return error_from(res, server_);
  }
  out.close();
  if (!out) return Status::unavailable("cannot write " + dest);
  return written;
}

Status ApiClient::stream(
    const std::string& path,
    const std::function<bool(const std::string&, const std::string&)>& on_event) {
  httplib::Client cli(server_);
  cli.set_connection_timeout(std::chrono::seconds(10));
  // The server sends a keep-alive comment every 15 s; a minute of silence is a fault.
  cli.set_read_timeout(std::chrono::seconds(60));
  auto headers = auth_headers(token_);
  headers.emplace("Accept", "text/event-stream");
  std::string buffer, event, data, error_body;
  bool stopped = false;
  int http_status = 0;
  auto res = cli.Get(
      path, headers,
      [&](const httplib::Response& r) {
        http_status = r.status;
        return true;
      },
      [&](const char* bytes, size_t n) {
        if (http_status >= 300) {
          error_body.append(bytes, n);
          return true;
        }
        buffer.append(bytes, n);
        for (size_t eol; (eol = buffer.find('\n')) != std::string::npos;) {
          std::string line = buffer.substr(0, eol);
          buffer.erase(0, eol + 1);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.empty()) {  // end of one event
            if (!data.empty() && !on_event(event.empty() ? "message" : event, data)) {
              stopped = true;
              return false;
            }
            event.clear();
            data.clear();
          } else if (line.rfind("event:", 0) == 0) {
            event = line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6);
          } else if (line.rfind("data:", 0) == 0) {
            if (!data.empty()) data += '\n';
            data += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
          }
        }
        return true;
      });
  if (stopped) return {};
  if (http_status >= 300 || !res) {
    if (res && !error_body.empty()) res->body = error_body;
    return error_from(res, server_);
  }
  return {};
}

}  // namespace jz::cli
