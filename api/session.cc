#include "api/session.h"

#include "core/hash.h"
#include "http/websocket.h"

namespace jz::api {

namespace {

// Constant-time comparison: the CSRF token must not leak byte by byte through timing.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// An Origin header, when a browser sent one, must name this server (scheme and the Host
// the browser addressed).
bool same_origin(const http::Request& req) {
  const std::string origin = req.header("Origin");
  if (origin.empty()) return true;
  const std::string host = req.header("Host");
  return origin == "http://" + host || origin == "https://" + host;
}

}  // namespace

bool is_change(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

std::string csrf_token_for(std::string_view session_token) {
  return sha256_hex("jizhan-csrf\n" + std::string(session_token));
}

std::string session_cookie(const std::string& token, std::chrono::seconds max_age, bool secure) {
  return std::string(kSessionCookie) + "=" + token +
         "; Path=/; Max-Age=" + std::to_string(std::max<int64_t>(0, max_age.count())) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string cleared_session_cookie(bool secure) {
  return session_cookie("", std::chrono::seconds(0), secure);
}

Result<Caller> authenticate_request(const http::Request& req, iam::Authenticator& auth,
                                    http::Headers& extra) {
  const std::string h = req.header("Authorization");
  // git over HTTP (/git/): git sends the token as the password of Basic auth, after a
  // challenge; the console's cookie never counts there.
  if (req.path.rfind("/git/", 0) == 0) {
    constexpr std::string_view kBasic = "Basic ";
    std::string token;
    if (h.compare(0, kBasic.size(), kBasic) == 0) {
      const auto decoded = base64_decode(h.substr(kBasic.size()), "the Basic credentials");
      const size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
      if (colon != std::string::npos) token = decoded->substr(colon + 1);
    } else if (h.rfind("Bearer ", 0) == 0) {
      token = h.substr(7);
    }
    if (token.empty()) {
      extra.set("WWW-Authenticate", "Basic realm=\"Jizhan\", charset=\"UTF-8\"");
      return Status::unauthenticated(
          "git needs your API token as the password (any user name): create one with "
          "'jizhan token create' or in the console's account page");
    }
    auto p = auth.authenticate(token);
    if (!p.ok()) {
      extra.set("WWW-Authenticate", "Basic realm=\"Jizhan\", charset=\"UTF-8\"");
      return p.status();
    }
    return Caller{.principal = std::move(*p)};
  }
  if (!h.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) {
      extra.set("WWW-Authenticate", "Bearer");
      return Status::unauthenticated(
          "the Authorization header must be 'Bearer TOKEN': log in with POST "
          "/api/v1/auth/login, or use an API token");
    }
    auto p = auth.authenticate(h.substr(kBearer.size()));
    if (!p.ok()) {
      extra.set("WWW-Authenticate", "Bearer");
      return p.status();
    }
    return Caller{.principal = std::move(*p)};
  }
  const auto cookie = req.cookie(kSessionCookie);
  if (!cookie || cookie->empty()) {
    extra.set("WWW-Authenticate", "Bearer");
    return Status::unauthenticated(
        "this endpoint needs 'Authorization: Bearer TOKEN' (log in with POST "
        "/api/v1/auth/login, or use an API token) or the console's session: sign in again");
  }
  auto p = auth.authenticate(*cookie);
  if (!p.ok()) {
    extra.set("WWW-Authenticate", "Bearer");
    return Status::unauthenticated("your console session ended (" + p.status().message() +
                                   "): sign in again");
  }
  if (p->token_kind != "session") {
    return Status::unauthenticated("the session cookie must hold a login's session: sign in again");
  }
  Caller caller{
      .principal = std::move(*p), .via_cookie = true, .csrf_token = csrf_token_for(*cookie)};
  // A dev environment's own pages (Jupyter's scripts) cannot send the console's CSRF
  // token: there a change, or a WebSocket, must name this origin (browsers send Origin
  // with both), on top of the cookie's SameSite=Strict.
  if (req.path.rfind("/devenvs/", 0) == 0) {
    if ((is_change(req.method) || http::is_websocket_upgrade(req)) &&
        (req.header("Origin").empty() || !same_origin(req))) {
      return Status::permission_denied(
          "a change or WebSocket to a dev environment made with the console's session must "
          "come from this site (Origin '" +
          req.header("Origin") + "')");
    }
    return caller;
  }
  if (is_change(req.method)) {
    if (!same_origin(req)) {
      return Status::permission_denied("a change from another site (Origin '" +
                                       req.header("Origin") + "') is refused");
    }
    if (!same_secret(req.header(kCsrfHeader), caller.csrf_token)) {
      return Status::permission_denied(
          "a change made with the console's session needs its X-CSRF-Token header (the "
          "console sends it; reload the page); scripts use 'Authorization: Bearer TOKEN'");
    }
  }
  return caller;
}

}  // namespace jz::api
