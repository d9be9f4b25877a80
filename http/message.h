// HTTP/1.1 messages and the strict request parser of the platform's HTTP core.
//
// The parser refuses what proxies and servers may read differently (request smuggling):
// two Content-Length headers, Transfer-Encoding together with Content-Length, codings
// other than chunked, folded header lines, bare LF line ends, whitespace before a colon,
// control characters. A body-carrying method (POST, PUT, PATCH) needs a length: 411
// otherwise. Each refusal is an HTTP status and a message saying what was wrong.
//
// Thread safety: plain values; the parser functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jz::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of this name with one.
  void set(std::string_view name, std::string value);
  // The first field of this name, or nullptr.
  const std::string* find(std::string_view name) const;
  std::string get(std::string_view name) const {
    const std::string* v = find(name);
    return v ? *v : std::string();
  }
  bool has(std::string_view name) const { return find(name) != nullptr; }
  size_t count(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  void clear() { fields_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;
  std::string target;  // as sent: path and query, percent-encoded
  std::string path;    // the target up to '?', still percent-encoded
  std::string query;   // after '?', without it
  int minor_version = 1;
  Headers headers;
  std::string body;
  std::string remote_addr;
  int remote_port = 0;
  uint64_t connection_id = 0;  // for Server::wake
  // The query parameters, decoded ('+' is a space), in order; filled by parse_head.
  std::vector<std::pair<std::string, std::string>> params;

  bool has_param(std::string_view name) const;
  // The first value of a query parameter, "" when absent.
  std::string param(std::string_view name) const;
  std::string header(std::string_view name) const { return headers.get(name); }
  bool keep_alive() const;
  // The value of cookie `name` from the Cookie headers (RFC 6265: "a=1; b=2", an optional
  // pair of double quotes around a value); nullopt when absent. The first one wins.
  std::optional<std::string> cookie(std::string_view name) const;
};

// How a request's body is delimited.
enum class Framing { kNone, kLength, kChunked };

struct ParseError {
  int status = 400;
  std::string message;
};

struct ParseLimits {
  size_t max_target = 8 << 10;
  size_t max_headers = 100;
  uint64_t max_body = 8 << 20;
};

// Where the blank line that ends a head is, scanning from `from`: the offset just after
// it, or 0 while the head is incomplete. A bare LF is reported as an error by parse_head,
// not here.
size_t find_head_end(std::string_view buf, size_t from = 0);

// Parses a complete head (request line, fields, the blank line) into `out`, and says how
// the body is delimited (`length` for kLength). nullopt when the head is acceptable.
std::optional<ParseError> parse_head(std::string_view head, const ParseLimits& limits, Request& out,
                                     Framing& framing, uint64_t& length);

// Percent-decoding; nullopt for a malformed escape. `plus_is_space` for query strings.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

// Splits a query string into decoded parameters; nullopt for a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q);

// An incremental decoder of a chunked body: feed() what arrives, until done().
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(uint64_t max_body) : max_body_(max_body) {}
  // Consumes from `in` (as much as it can), appending data to `body`. Returns the number
  // of bytes consumed, or an error (400 malformed, 413 larger than the limit).
  std::optional<ParseError> feed(std::string_view in, size_t& consumed, std::string& body);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t left_ = 0;
  uint64_t max_body_;
  size_t trailer_bytes_ = 0;
};

// The reason phrase of a status ("Not Found"), "" for unknown ones.
std::string_view reason_phrase(int status);

}  // namespace jz::http
