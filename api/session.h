// How a request proves who sends it. Scripts and the `jizhan` client send
// `Authorization: Bearer TOKEN` (a login's session token or an API token). The web console
// never holds a token: its login sets the session token in an HttpOnly, SameSite=Strict
// cookie (Secure with server.secure_cookies), and every change it makes carries the
// session's CSRF token in `X-CSRF-Token`. The CSRF token is derived from the session
// token, so only a page that was given it (by the login answer or by whoami) knows it;
// a change that comes with the cookie but without it, or from another origin, is refused.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/message.h"
#include "platform/iam/authenticator.h"

namespace jz::api {

inline constexpr std::string_view kSessionCookie = "jz_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// Whether a request may change something (not GET, HEAD or OPTIONS): such requests need
// the CSRF token with a cookie session, and are audited.
bool is_change(const std::string& method);

// The CSRF token of a session (64 hex characters).
std::string csrf_token_for(std::string_view session_token);

// Set-Cookie values that start and end a browser session.
std::string session_cookie(const std::string& token, std::chrono::seconds max_age, bool secure);
std::string cleared_session_cookie(bool secure);

struct Caller {
  iam::Principal principal;
  bool via_cookie = false;
  std::string csrf_token;  // set when via_cookie
};

// Authenticates `req` by its bearer token, else by its session cookie. unauthenticated
// (with WWW-Authenticate added to `extra`) when neither proves a caller;
// permission_denied when a change made with the cookie lacks the CSRF token or comes from
// another origin.
Result<Caller> authenticate_request(const http::Request& req, iam::Authenticator& auth,
                                    http::Headers& extra);

}  // namespace jz::api
