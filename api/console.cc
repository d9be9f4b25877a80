#include "api/console.h"

#include <filesystem>
#include <system_error>

#include "core/files.h"

namespace jz::api {

namespace fs = std::filesystem;

namespace {

const char* content_type(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_api_path(const std::string& path) {
  for (const char* prefix : {"/api/", "/devenvs/", "/git/"}) {
    if (path.rfind(prefix, 0) == 0) return true;
  }
  return path == "/api" || path == "/metrics" || path == "/healthz" || path == "/readyz";
}

void secure(http::Response& r) {
  r.headers.set("Content-Security-Policy", ConsoleAssets::kContentSecurityPolicy);
  r.headers.set("X-Content-Type-Options", "nosniff");
  r.headers.set("Referrer-Policy", "same-origin");
  r.headers.set("X-Frame-Options", "DENY");
}

}  // namespace

const char* const ConsoleAssets::kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

ConsoleAssets::ConsoleAssets(const std::string& dir) {
  std::vector<std::string> candidates;
  if (!dir.empty()) {
    candidates.push_back(dir);
  } else if (const std::string exe = self_executable(); !exe.empty()) {
    const fs::path prefix = fs::path(exe).parent_path().parent_path();
    candidates.push_back((prefix / "console").string());
    candidates.push_back((prefix / "share" / "jizhan" / "console").string());
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!fs::exists(fs::path(c) / "index.html", ec)) continue;
    if (load(c).ok()) {
      where_ = c;
      return;
    }
    files_.clear();
  }
  where_.clear();
  for (const auto& c : candidates) where_ += (where_.empty() ? "" : " or ") + c;
}

Status ConsoleAssets::load(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() == ".gz") continue;
    JZ_ASSIGN_OR_RETURN(std::string body, read_file(it->path().string()));
    const std::string rel = fs::relative(it->path(), dir, ec).generic_string();
    File f{.body = std::move(body),
           .type = content_type(it->path()),
           .immutable = rel.rfind("assets/", 0) == 0};
    if (auto gz = read_file(it->path().string() + ".gz"); gz.ok()) f.gzip = std::move(*gz);
    files_.emplace("/" + rel, std::move(f));
  }
  if (ec)
    return Status::unavailable("cannot read the console's files in " + dir + ": " + ec.message());
  return {};
}

http::Response ConsoleAssets::answer(const File& f, const http::Request& req) const {
  http::Response r;
  r.headers.set("Content-Type", f.type);
  r.headers.set("Cache-Control", f.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.set("Vary", "Accept-Encoding");
  const bool gzip =
      !f.gzip.empty() && req.header("Accept-Encoding").find("gzip") != std::string::npos;
  if (gzip) r.headers.set("Content-Encoding", "gzip");
  r.body = gzip ? f.gzip : f.body;
  secure(r);
  return r;
}

std::optional<http::Response> ConsoleAssets::serve(const http::Request& req) const {
  if (req.method != "GET" || is_api_path(req.path)) return std::nullopt;
  if (auto it = files_.find(req.path); it != files_.end()) return answer(it->second, req);
  const size_t slash = req.path.rfind('/');
  const bool page = req.path.find('.', slash) == std::string::npos;
  if (page) {
    if (auto it = files_.find("/index.html"); it != files_.end()) return answer(it->second, req);
  }
  http::Response r;
  r.headers.set("Content-Type", page ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
  r.headers.set("Cache-Control", "no-cache");
  if (page) {
    // No console in this installation: say how to get one (the API works regardless).
    r.status = 503;
    r.body =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Jizhan</title>"
        "</head><body><h1>Jizhan</h1><p>The web console is not built in this installation "
        "(looked in " +
        html_escape(where_) +
        "). Build it with <code>make run</code>, or set <code>server.console_dir</code>. "
        "The API at <code>/api/v1/</code> works without it.</p></body></html>";
  } else {
    r.status = 404;
    r.body = "no such file in the console\n";
  }
  secure(r);
  return r;
}

}  // namespace jz::api
