// The command-line client's side of the HTTP API: where the server is, the stored
// login, and JSON calls that turn the server's error bodies into Status messages.
//
// Credentials live in CONFIG_DIR/credentials.json, mode 0600 in a 0700 folder, where
// CONFIG_DIR is $JIZHAN_CONFIG_DIR, else $XDG_CONFIG_HOME/jizhan, else
// $HOME/.config/jizhan. The server is --server, else $JIZHAN_SERVER, else the one
// stored at login, else http://127.0.0.1:8080. The token is $JIZHAN_TOKEN, else the
// stored one (only for the server it was issued by).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::cli {

inline constexpr char kDefaultServer[] = "http://127.0.0.1:8080";

struct Credentials {
  std::string server;  // "http://host:port"
  std::string username;
  std::string token;
  std::string expires_at;  // RFC 3339, as the server said
};

// The folder described above; an error when no variable names one.
Result<std::string> config_dir();
// nullopt when there is no credentials file; an error when it is unreadable or bad.
Result<std::optional<Credentials>> load_credentials(const std::string& dir);
// Writes atomically (temporary file, then rename) with mode 0600.
Status save_credentials(const std::string& dir, const Credentials& c);
// Removes the file; OK when it was not there.
Status remove_credentials(const std::string& dir);

// "host:port", "http://host:port/" -> "http://host:port"; errors name what is wrong
// (https is not supported by this build: put a TLS proxy in front of the server).
Result<std::string> normalize_server_url(std::string_view url);

// Percent-encodes a query or path component.
std::string url_encode(std::string_view s);

class ApiClient {
 public:
  ApiClient(std::string server, std::string token)
      : server_(std::move(server)), token_(std::move(token)) {}

  const std::string& server() const { return server_; }

  // Sends a request with an optional JSON body. 2xx: the parsed body (null for 204);
  // otherwise the server's error message with its HTTP status mapped to a Status code.
  Result<Json> call(const std::string& method, const std::string& path, const Json* body = nullptr);
  // PATCH with a raw body and extra headers (a chunk of a resumable upload).
  Result<Json> patch_bytes(const std::string& path, std::string_view bytes,
                           const std::vector<std::pair<std::string, std::string>>& headers);
  // POST with a raw body of `content_type` (records as JSON lines); the answer as call().
  Result<Json> post_bytes(const std::string& path, std::string_view bytes,
                          const std::string& content_type);
  // GET returning the raw body (for JSON-lines exports) and a response header.
  Result<std::string> get_text(const std::string& path, const std::string& header_name,
                               std::string* header_value);
  // GET streamed into the file `dest` (created, or truncated), never held in memory;
  // returns the bytes written. An error answer leaves no file.
  Result<int64_t> download(const std::string& path, const std::string& dest);
  // Follows a Server-Sent Events stream, calling on_event(event name, data) for each
  // event until it returns false, the server closes the stream, or an error occurs.
  Status stream(const std::string& path,
                const std::function<bool(const std::string&, const std::string&)>& on_event);

 private:
  std::string server_;
  std::string token_;
};

}  // namespace jz::cli
