#include "platform/iam/authenticator.h"

#include <algorithm>

namespace jz::iam {
namespace {
Status bad_credentials() { return Status::unauthenticated("invalid username or password"); }
}  // namespace

Authenticator::Authenticator(Accounts& accounts, Clock& clock, AuthOptions options)
    : accounts_(accounts), clock_(clock), options_(options) {
  dummy_hash_ = hash_password("not-a-real-password-0000", options_.hash_cost).value_or("");
}

Result<LoginResult> Authenticator::login(const std::string& username, const std::string& password) {
  if (username.empty() || password.empty()) {
    return Status::invalid_argument("fields 'username' and 'password' are required");
  }
  auto user = accounts_.user_by_name(username);
  if (!user.ok()) {
    if (user.status().code() != Code::kNotFound) return user.status();
    (void)verify_password(dummy_hash_, password);  // same cost as a real check
    return bad_credentials();
  }
  const int64_t now = clock_.now_unix_ms();
  if (user->locked_until_ms > now) {
    int64_t minutes = (user->locked_until_ms - now + 59999) / 60000;
    return Status::resource_exhausted("account '" + username + "' is locked after " +
                                      std::to_string(user->failed_logins) +
                                      " failed logins; try again in " + std::to_string(minutes) +
                                      " minute(s) or ask a platform admin");
  }
  if (!verify_password(user->password_hash, password)) {
    auto updated = accounts_.record_failed_login(
        user->id, options_.lockout_threshold,
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.lockout).count());
    if (updated.ok() && updated->locked_until_ms > now) {
      return Status::resource_exhausted(
          "account '" + username + "' is now locked after " +
          std::to_string(updated->failed_logins) + " failed logins; try again in " +
          std::to_string(options_.lockout.count() / 60) + " minute(s) or ask a platform admin");
    }
    return bad_credentials();
  }
  if (user->state != "active") {
    return Status::permission_denied("account '" + username + "' is disabled");
  }
  if (user->failed_logins != 0) JZ_RETURN_IF_ERROR(accounts_.reset_failed_logins(user->id));
  LoginResult out;
  out.expires_at_ms =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_ttl).count();
  JZ_ASSIGN_OR_RETURN(out.token,
                      accounts_.issue_token(user->id, "session", "login", "", out.expires_at_ms));
  out.user = std::move(user).value();
  return out;
}

Result<Principal> Authenticator::authenticate(const std::string& bearer_secret) {
  const int64_t now = clock_.now_unix_ms();
  const bool caching = options_.token_cache.count() > 0;
  std::string key;
  if (caching) {
    key = sha256_hex(bearer_secret);
    std::lock_guard lock(cache_mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (it->second.valid_until_ms > now) return it->second.principal;
      cache_.erase(it);
    }
  }
  JZ_ASSIGN_OR_RETURN(auto found, accounts_.resolve_token(bearer_secret));
  auto& [token, user] = found;
  Principal p;
  p.user_id = user.id;
  p.username = user.username;
  p.platform_role = user.platform_role;
  p.token_id = token.id;
  p.token_kind = token.kind;
  p.project_scope = token.project;
  if (caching) {
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= options_.token_cache_entries) cache_.clear();
    cache_[key] = Cached{p, std::min(now + options_.token_cache.count(), token.expires_at_ms)};
  }
  return p;
}

Status Authenticator::logout(const Principal& principal) { return revoke(principal.token_id); }

Status Authenticator::revoke(const std::string& token_id) {
  JZ_RETURN_IF_ERROR(accounts_.revoke_token(token_id));
  std::lock_guard lock(cache_mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.principal.token_id == token_id; });
  return {};
}

}  // namespace jz::iam
