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

namespace {
constexpr size_t kMaxThrottleEntries = 100000;
constexpr int kSourceFactor = 5;  // an address may fail this many times the threshold
}  // namespace

Status Authenticator::throttled(const std::string& key, int64_t now, const std::string& who) {
  std::lock_guard lock(throttle_mu_);
  auto it = failures_.find(key);
  if (it == failures_.end() || it->second.next_allowed_ms <= now) return {};
  const int64_t seconds = (it->second.next_allowed_ms - now + 999) / 1000;
  return Status::resource_exhausted("too many failed logins " + who + "; try again in " +
                                    std::to_string(seconds) +
                                    " s (a platform admin can clear them)");
}

void Authenticator::fail(const std::string& key, int threshold, int64_t now) {
  const int64_t cap =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.lockout).count();
  std::lock_guard lock(throttle_mu_);
  if (failures_.size() >= kMaxThrottleEntries && !failures_.count(key)) {
    std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.last_ms > cap; });
    if (failures_.size() >= kMaxThrottleEntries) failures_.erase(failures_.begin());
  }
  Failures& f = failures_[key];
  // A quiet spell as long as the longest wait starts the count again.
  if (f.count > 0 && now - f.last_ms > cap) f = Failures{};
  ++f.count;
  f.last_ms = now;
  if (threshold > 0 && f.count >= threshold) {
    const int doublings = std::min(f.count - threshold, 30);
    f.next_allowed_ms = now + std::min<int64_t>(int64_t{1000} << doublings, cap);
  }
}

void Authenticator::unlock(const std::string& username) {
  const std::string prefix = "u\n" + username + "\n";
  std::lock_guard lock(throttle_mu_);
  std::erase_if(failures_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
}

Result<LoginResult> Authenticator::login(const std::string& username, const std::string& password,
                                         const std::string& source) {
  if (username.empty() || password.empty()) {
    return Status::invalid_argument("fields 'username' and 'password' are required");
  }
  const int64_t now = clock_.now_unix_ms();
  const std::string user_key = "u\n" + username + "\n" + source, source_key = "s\n" + source;
  // The same checks, in the same order, whether or not the user exists.
  JZ_RETURN_IF_ERROR(throttled(source_key, now, "from this address"));
  JZ_RETURN_IF_ERROR(throttled(user_key, now, "for this user from this address"));
  auto user = accounts_.user_by_name(username);
  if (!user.ok() && user.status().code() != Code::kNotFound) return user.status();
  const bool known = user.ok();
  if (!verify_password(known ? user->password_hash : dummy_hash_, password) || !known) {
    fail(user_key, options_.lockout_threshold, now);
    fail(source_key, options_.lockout_threshold * kSourceFactor, now);
    return bad_credentials();
  }
  if (user->state != "active") {
    return Status::permission_denied("account '" + username + "' is disabled");
  }
  {
    std::lock_guard lock(throttle_mu_);
    failures_.erase(user_key);
  }
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

void Authenticator::forget_user(const std::string& user_id) {
  std::lock_guard lock(cache_mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.principal.user_id == user_id; });
}

}  // namespace jz::iam
