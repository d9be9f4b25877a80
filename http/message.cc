#include "http/message.h"

#include <algorithm>

namespace jz::http {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// A field value's characters: visible ASCII, obs-text, space and tab.
bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// The target's characters: visible ASCII only (no space, no controls, no obs-text).
bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

ParseError bad(std::string message) { return {400, std::move(message)}; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void Headers::set(std::string_view name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return iequals(f.first, name); });
  fields_.emplace_back(std::string(name), std::move(value));
}

std::optional<std::string> Request::cookie(std::string_view name) const {
  for (const auto& [k, v] : headers.fields()) {
    if (!iequals(k, "Cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
      while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return std::nullopt;
}

const std::string* Headers::find(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

size_t Headers::count(std::string_view name) const {
  return std::count_if(fields_.begin(), fields_.end(),
                       [&](const auto& f) { return iequals(f.first, name); });
}

bool Request::has_param(std::string_view name) const {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

std::string Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

bool Request::keep_alive() const {
  const std::string* c = headers.find("Connection");
  if (minor_version == 0) return c && iequals(trim_ows(*c), "keep-alive");
  if (!c) return true;
  // A list: "close" anywhere closes.
  std::string_view rest = *c;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (iequals(trim_ows(rest.substr(0, comma)), "close")) return false;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return true;
}

size_t find_head_end(std::string_view buf, size_t from) {
  // Back up so a CRLFCRLF split across two reads is found.
  size_t pos = from >= 3 ? from - 3 : 0;
  size_t at = buf.find("\r\n\r\n", pos);
  return at == std::string_view::npos ? 0 : at + 4;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = percent_decode(pair.substr(0, eq), true);
    auto v = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

std::optional<ParseError> parse_head(std::string_view head, const ParseLimits& limits, Request& out,
                                     Framing& framing, uint64_t& length) {
  framing = Framing::kNone;
  length = 0;
  // ---- request line ----
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return bad("the request line does not end in CRLF");
  std::string_view line = head.substr(0, eol);
  if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
    return bad("the request line holds a bare CR or LF");
  }
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return bad("the request line has no method");
  std::string_view method = line.substr(0, sp1);
  if (method.size() > 16 || !std::all_of(method.begin(), method.end(), is_tchar)) {
    return bad("the request method is not a token");
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad("the request line has no HTTP version");
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (target.size() > limits.max_target) {
    return ParseError{
        414, "the request target is longer than " + std::to_string(limits.max_target) + " bytes"};
  }
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(),
                   [](char c) { return is_target_char(static_cast<unsigned char>(c)); })) {
    return bad("the request target must be a path starting with '/', in visible ASCII");
  }
  if (version == "HTTP/1.1") {
    out.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    out.minor_version = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.') {
    return ParseError{
        505, "HTTP version " + std::string(version.substr(5)) + " is not supported; use HTTP/1.1"};
  } else {
    return bad("the request line must end in HTTP/1.1 or HTTP/1.0");
  }
  out.method = std::string(method);
  out.target = std::string(target);
  size_t qm = target.find('?');
  out.path = std::string(target.substr(0, qm));
  out.query = qm == std::string_view::npos ? std::string() : std::string(target.substr(qm + 1));
  auto params = parse_query(out.query);
  if (!params) return bad("the query string holds a malformed percent escape");
  out.params = std::move(*params);

  // ---- fields ----
  out.headers.clear();
  size_t pos = eol + 2;
  while (true) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) return bad("a header line does not end in CRLF");
    std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    if (field.empty()) break;
    if (field.front() == ' ' || field.front() == '\t') {
      return bad("folded header lines (obs-fold) are not accepted");
    }
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return bad("a header line has no 'name:'");
    }
    std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) {
      return bad("header name '" + std::string(name.substr(0, 64)) +
                 "' is not a token (whitespace before ':' is not accepted)");
    }
    std::string_view value = field.substr(colon + 1);
    if (!std::all_of(value.begin(), value.end(),
                     [](char c) { return is_value_char(static_cast<unsigned char>(c)); })) {
      return bad("header '" + std::string(name) + "' holds a control character");
    }
    if (out.headers.fields().size() >= limits.max_headers) {
      return ParseError{431, "the request has more than " + std::to_string(limits.max_headers) +
                                 " header fields"};
    }
    out.headers.add(std::string(name), std::string(trim_ows(value)));
  }
  if (pos != head.size()) return bad("bytes follow the blank line that ends the head");

  if (out.minor_version == 1) {
    if (out.headers.count("Host") != 1) return bad("an HTTP/1.1 request needs one Host header");
  } else if (out.headers.count("Host") > 1) {
    return bad("the request has more than one Host header");
  }

  // ---- body framing ----
  const size_t lengths = out.headers.count("Content-Length");
  const size_t codings = out.headers.count("Transfer-Encoding");
  if (lengths > 1) return bad("the request has more than one Content-Length header");
  if (codings > 0 && lengths > 0) {
    return bad("the request has both Transfer-Encoding and Content-Length");
  }
  if (codings > 1) return bad("the request has more than one Transfer-Encoding header");
  if (codings == 1) {
    if (out.minor_version == 0) return bad("Transfer-Encoding is not allowed in HTTP/1.0");
    if (!iequals(out.headers.get("Transfer-Encoding"), "chunked")) {
      return ParseError{501, "Transfer-Encoding '" + out.headers.get("Transfer-Encoding") +
                                 "' is not supported; send chunked or a Content-Length"};
    }
    framing = Framing::kChunked;
    return std::nullopt;
  }
  if (lengths == 1) {
    const std::string v = out.headers.get("Content-Length");
    if (v.empty() || v.size() > 18 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("Content-Length '" + v.substr(0, 32) + "' is not a decimal number of bytes");
    }
    length = std::stoull(v);
    if (length > limits.max_body) {
      return ParseError{413, "the request body (" + std::to_string(length) +
                                 " bytes) is larger than the limit of " +
                                 std::to_string(limits.max_body) +
                                 " bytes (server.max_body_bytes)"};
    }
    framing = length > 0 ? Framing::kLength : Framing::kNone;
    return std::nullopt;
  }
  if (out.method == "POST" || out.method == "PUT" || out.method == "PATCH") {
    return ParseError{411,
                      out.method + " needs a Content-Length header (or chunked Transfer-Encoding)"};
  }
  return std::nullopt;
}

std::optional<ParseError> ChunkedDecoder::feed(std::string_view in, size_t& consumed,
                                               std::string& body) {
  consumed = 0;
  constexpr size_t kMaxLine = 4096;
  while (consumed < in.size() && state_ != State::kDone) {
    std::string_view rest = in.substr(consumed);
    switch (state_) {
      case State::kSize: {
        size_t eol = rest.find("\r\n");
        if (eol == std::string_view::npos) {
          if (rest.size() > kMaxLine) return bad("a chunk size line is longer than 4096 bytes");
          return std::nullopt;
        }
        std::string_view line = rest.substr(0, eol);
        std::string_view digits = line.substr(0, line.find(';'));
        if (digits.empty() || digits.size() > 15) return bad("a chunk size is not hexadecimal");
        uint64_t n = 0;
        for (char c : digits) {
          int v = hex_value(c);
          if (v < 0) return bad("a chunk size is not hexadecimal");
          n = n * 16 + static_cast<uint64_t>(v);
        }
        if (line.find_first_of("\r\n") != std::string_view::npos) {
          return bad("a chunk size line holds a bare CR or LF");
        }
        if (n > max_body_ || body.size() + n > max_body_) {
          return ParseError{413, "the request body is larger than the limit of " +
                                     std::to_string(max_body_) + " bytes (server.max_body_bytes)"};
        }
        consumed += eol + 2;
        left_ = n;
        state_ = n == 0 ? State::kTrailer : State::kData;
        break;
      }
      case State::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(left_, rest.size()));
        body.append(rest.data(), take);
        consumed += take;
        left_ -= take;
        if (left_ == 0) state_ = State::kDataEnd;
        break;
      }
      case State::kDataEnd: {
        if (rest.size() < 2) return std::nullopt;
        if (rest.substr(0, 2) != "\r\n") return bad("a chunk does not end in CRLF");
        consumed += 2;
        state_ = State::kSize;
        break;
      }
      case State::kTrailer: {
        size_t eol = rest.find("\r\n");
        if (eol == std::string_view::npos) {
          if (trailer_bytes_ + rest.size() > kMaxLine)
            return bad("the chunked trailer is too long");
          return std::nullopt;
        }
        trailer_bytes_ += eol + 2;
        if (trailer_bytes_ > kMaxLine) return bad("the chunked trailer is too long");
        consumed += eol + 2;
        if (eol == 0) state_ = State::kDone;  // trailer fields are read and ignored
        break;
      }
      case State::kDone:
        break;
    }
  }
  return std::nullopt;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

}  // namespace jz::http
