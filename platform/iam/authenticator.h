// Logins and bearer-token authentication.
//
// login() checks a username and password. Failures are counted per claimed username and
// source address, never per account alone, so nobody can lock someone else out: after
// `lockout_threshold` failures in a row for one name from one address, that pair waits
// 1 s, then 2, 4, ... up to `lockout` before each further try; an address that fails
// for many names (5 x the threshold) waits the same way for all. Unknown and known users
// get the same answers, including the throttle (no user-existence oracle), and take the
// same time. The counts live in this process (a restart clears them); platform admins
// clear a user's with unlock(). authenticate() turns a
// bearer secret into a Principal, trusting a resolved token for `token_cache` (a
// per-request store lookup halved the throughput of authenticated routes).
// Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "platform/iam/accounts.h"
#include "platform/iam/passwords.h"

namespace jz::iam {

struct Principal {
  std::string user_id;
  std::string username;
  std::string platform_role;
  std::string token_id;
  std::string token_kind;     // session | api
  std::string project_scope;  // empty: the token acts for the user everywhere
  bool is_platform_admin() const { return platform_role == kPlatformAdmin; }
};

struct AuthOptions {
  std::chrono::seconds session_ttl{std::chrono::hours(12)};
  int lockout_threshold = 5;
  std::chrono::seconds lockout{std::chrono::minutes(15)};
  HashCost hash_cost = HashCost::kInteractive;
  // How long a resolved token is trusted without asking the store again. Revocations
  // through this Authenticator (logout) apply at once; others, made by another server
  // or directly in the store, and disabled users, apply within this time. 0: no cache.
  std::chrono::milliseconds token_cache{std::chrono::seconds(10)};
  size_t token_cache_entries = 100000;
};

struct LoginResult {
  std::string token;
  int64_t expires_at_ms = 0;
  User user;
};

class Authenticator {
 public:
  Authenticator(Accounts& accounts, Clock& clock, AuthOptions options);

  // `source`: the client's address ("" in tests and tools).
  Result<LoginResult> login(const std::string& username, const std::string& password,
                            const std::string& source = "");
  // Forgets the failed logins counted for this username, from every address.
  void unlock(const std::string& username);
  Result<Principal> authenticate(const std::string& bearer_secret);
  // Revokes the token the principal authenticated with.
  Status logout(const Principal& principal);
  // Revokes any token by id, effective at once on this server.
  Status revoke(const std::string& token_id);
  // Drops what this server trusts of a user's tokens (disabled, password changed, role
  // changed): their next request asks the store again.
  void forget_user(const std::string& user_id);
  const AuthOptions& options() const { return options_; }
  Accounts& accounts() { return accounts_; }

 private:
  Accounts& accounts_;
  Clock& clock_;
  AuthOptions options_;
  std::string dummy_hash_;  // verified against when the user does not exist

  struct Failures {
    int count = 0;
    int64_t last_ms = 0;
    int64_t next_allowed_ms = 0;
  };
  // An error when `key` must wait; counts a failure with fail().
  Status throttled(const std::string& key, int64_t now, const std::string& who);
  void fail(const std::string& key, int threshold, int64_t now);
  std::mutex throttle_mu_;
  std::unordered_map<std::string, Failures> failures_;  // "u\n<name>\n<source>", "s\n<source>"

  struct Cached {
    Principal principal;
    int64_t valid_until_ms;
  };
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // by SHA-256 of the secret
};

}  // namespace jz::iam
