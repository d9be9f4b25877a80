// Users and their tokens, stored in the platform database (migration 2).
//
// A token secret is "jzt_" followed by 64 hex digits (256 random bits). Only its
// SHA-256 is stored, so a copy of the database does not hand out working tokens.
// Session tokens come from a login; API tokens are named, for scripts, and may be
// scoped to one project. Both expire and can be revoked.
//
// Thread-safe: every call is one statement or transaction on the shared Database.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::iam {

inline constexpr std::string_view kPlatformAdmin = "platform-admin";
inline constexpr std::string_view kPlatformRegular = "platform-regular";

struct User {
  std::string id;  // usr_...
  std::string username;
  std::string display_name;
  std::string email;
  std::string state = "active";  // active | disabled
  std::string platform_role = std::string(kPlatformRegular);
  std::string password_hash;
  // The account lock's columns, no longer written: failed logins are throttled by the
  // Authenticator per name and address (issue 17). Kept until a migration drops them.
  int64_t failed_logins = 0;
  int64_t locked_until_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct Token {
  std::string id;  // tok_...
  std::string user_id;
  std::string kind;  // session | api
  std::string name;
  std::string project;  // empty: not scoped
  int64_t expires_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
  int64_t created_at_ms = 0;
};

class Accounts {
 public:
  Accounts(store::Database& db, Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids) {}

  // Checks the username ([a-z0-9][a-z0-9._-]{0,62}); fills id and times.
  Result<User> create_user(User user);
  Result<User> user_by_name(const std::string& username);
  Result<User> user_by_id(const std::string& id);
  Result<int64_t> count_users();
  // What update_user may change; unset fields stay.
  struct UserChange {
    std::optional<std::string> display_name;
    std::optional<std::string> email;
    std::optional<std::string> state;  // active | disabled
    std::optional<std::string> platform_role;
    std::optional<std::string> password_hash;
  };
  // Applies `change` to the user (validated as create_user does) and returns it.
  Result<User> update_user(const std::string& username, const UserChange& change);
  // Revokes the user's unrevoked tokens of `kind` ("" for every kind) except `keep_id`;
  // returns how many.
  Result<int64_t> revoke_tokens_of(const std::string& user_id, const std::string& kind,
                                   const std::string& keep_id = "");
  // Platform admins that are active (the last one may not be disabled or demoted).
  Result<int64_t> count_active_admins();
  // Every user, by username.
  // Users by name, one keyset page.
  Result<store::Page<User>> users(const store::PageSpec& page);

  // Issues a token and returns its secret (shown once, never stored).
  Result<std::string> issue_token(const std::string& user_id, const std::string& kind,
                                  const std::string& name, const std::string& project,
                                  int64_t expires_at_ms, Token* token = nullptr);
  // The token and its user for a secret that exists, is not revoked or expired, and
  // whose user is active; unauthenticated otherwise (one message for every case).
  Result<std::pair<Token, User>> resolve_token(const std::string& secret);
  Status revoke_token(const std::string& token_id);
  // A user's tokens, newest first (no secrets: only hashes are stored).
  // The user's tokens by id (oldest first), one keyset page; `only_id` narrows it to one.
  Result<store::Page<Token>> tokens_of(const std::string& user_id, const store::PageSpec& page,
                                       const std::string& only_id = "");
  Result<Token> token_by_id(const std::string& token_id);

  static Status validate_username(std::string_view username);

 private:
  // The user where `where` ("WHERE id = ?") holds for `value`, if any.
  Result<std::optional<User>> one_user(const std::string& where, const std::string& value);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
};

}  // namespace jz::iam
