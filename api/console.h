// The web console's built files (web/, built into BUILD/console), served by `jizhan
// server` on its own port. They are read into memory at start-up and answered on the I/O
// path, like /healthz: no thread, no database. Every path outside /api/, /devenvs/,
// /metrics, /healthz and /readyz belongs to the console; a path that names no file and has
// no extension is a page of the single-page app and gets index.html (deep links work).
//
// Caching: files under assets/ carry a content hash in their names and are cached for a
// year; index.html is revalidated every time. Compressed: a file's `.gz` sibling (the
// build writes them) is sent to clients that accept gzip. Every answer carries a
// Content-Security-Policy without inline scripts or styles and without other origins
// (sites run offline).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "core/status.h"
#include "http/server.h"

namespace jz::api {

class ConsoleAssets {
 public:
  // Loads the files under `dir`. An empty `dir` looks beside the program: PREFIX/console
  // (a build tree: build/release/console) and PREFIX/share/jizhan/console (an install),
  // PREFIX being the folder above the program's. Not finding a console is not an error:
  // `loaded()` says so, and the pages say how to build it.
  explicit ConsoleAssets(const std::string& dir);

  // The answer for a console path; nullopt for the API's paths and for methods other
  // than GET.
  std::optional<http::Response> serve(const http::Request& req) const;

  bool loaded() const { return !files_.empty(); }
  // Where the files came from, or what was looked at when none were found.
  const std::string& where() const { return where_; }
  size_t file_count() const { return files_.size(); }

  static const char* const kContentSecurityPolicy;

 private:
  struct File {
    std::string body;
    std::string gzip;  // the precompressed body; "" when none
    std::string type;
    bool immutable = false;
  };
  Status load(const std::string& dir);
  http::Response answer(const File& f, const http::Request& req) const;

  std::unordered_map<std::string, File> files_;  // by URL path ("/assets/x.js")
  std::string where_;
};

}  // namespace jz::api
