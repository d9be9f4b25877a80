#include "platform/iam/accounts.h"

#include "core/random.h"
#include "platform/iam/passwords.h"
#include "store/rows.h"

namespace jz::iam {
namespace {

const store::RowMap<User> kUser{{"id", &User::id},
                                {"username", &User::username},
                                {"display_name", &User::display_name},
                                {"email", &User::email},
                                {"state", &User::state},
                                {"platform_role", &User::platform_role},
                                {"password_hash", &User::password_hash},
                                {"failed_logins", &User::failed_logins},
                                {"locked_until_ms", &User::locked_until_ms},
                                {"created_at_ms", &User::created_at_ms},
                                {"updated_at_ms", &User::updated_at_ms}};

const std::string kUserSelect = "SELECT " + kUser.columns() + " FROM users";

// The users matching `where` ("WHERE id = ?"): the one SELECT every lookup shares.
Result<std::vector<User>> select_users(store::Conn& c, const std::string& where,
                                       const store::Params& params) {
  return store::query_all(c, kUser, kUserSelect + " " + where, params);
}

Status invalid_token() {
  return Status::unauthenticated(
      "the bearer token is unknown, expired or revoked: log in again (POST /api/v1/auth/login)");
}

}  // namespace

Status Accounts::validate_username(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return Status::invalid_argument("field 'username' must be 1 to 63 characters long");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
      return Status::invalid_argument(
          "field 'username' may hold a-z, 0-9, '.', '_' and '-' and must start with a letter "
          "or digit; '" +
          std::string(name) + "' has '" + std::string(1, c) + "' at position " +
          std::to_string(i + 1));
    }
  }
  return {};
}

namespace {

// What a stored user must be, whether made or changed.
Status validate_user(const User& u) {
  JZ_RETURN_IF_ERROR(Accounts::validate_username(u.username));
  if (u.state != "active" && u.state != "disabled") {
    return Status::invalid_argument("field 'state' must be active or disabled, got '" + u.state +
                                    "'");
  }
  if (u.platform_role != kPlatformAdmin && u.platform_role != kPlatformRegular) {
    return Status::invalid_argument(
        "field 'platform_role' must be platform-admin or platform-regular, got '" +
        u.platform_role + "'");
  }
  if (u.display_name.size() > 256) {
    return Status::invalid_argument("field 'display_name' must be at most 256 characters");
  }
  if (u.email.size() > 254) {
    return Status::invalid_argument("field 'email' must be at most 254 characters");
  }
  return {};
}

}  // namespace

Result<User> Accounts::create_user(User u) {
  JZ_RETURN_IF_ERROR(validate_user(u));
  u.id = ids_.next("usr_");
  u.created_at_ms = u.updated_at_ms = clock_.now_unix_ms();
  Status s = db_.transact([&](store::Conn& c) {
    return c
        .exec(
            "INSERT INTO users (" + kUser.columns() + ") VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
            {u.id, u.username, u.display_name, u.email, u.state, u.platform_role, u.password_hash,
             u.created_at_ms, u.updated_at_ms})
        .status();
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::already_exists("user '" + u.username + "' already exists");
  }
  JZ_RETURN_IF_ERROR(s);
  return u;
}

Result<User> Accounts::update_user(const std::string& username, const UserChange& change) {
  JZ_ASSIGN_OR_RETURN(User u, user_by_name(username));
  if (change.display_name) u.display_name = *change.display_name;
  if (change.email) u.email = *change.email;
  if (change.state) u.state = *change.state;
  if (change.platform_role) u.platform_role = *change.platform_role;
  if (change.password_hash) u.password_hash = *change.password_hash;
  JZ_RETURN_IF_ERROR(validate_user(u));
  u.updated_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) {
    return c
        .exec(
            "UPDATE users SET display_name = ?, email = ?, state = ?, platform_role = ?, "
            "password_hash = ?, updated_at_ms = ? WHERE id = ?",
            {u.display_name, u.email, u.state, u.platform_role, u.password_hash, u.updated_at_ms,
             u.id})
        .status();
  }));
  return u;
}

Result<int64_t> Accounts::revoke_tokens_of(const std::string& user_id, const std::string& kind,
                                           const std::string& keep_id) {
  int64_t n = 0;
  const int64_t now = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        n, c.exec("UPDATE tokens SET revoked_at_ms = ? WHERE user_id = ? AND revoked_at_ms IS NULL "
                  "AND (? = '' OR kind = ?) AND id <> ?",
                  {now, user_id, kind, kind, keep_id}));
    return {};
  }));
  return n;
}

Result<int64_t> Accounts::count_active_admins() {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM users WHERE platform_role "
                                           "= ? AND state = 'active'",
                                           {std::string(kPlatformAdmin)}));
    n = rows.at(0).integer("n");
    return {};
  }));
  return n;
}

Result<User> Accounts::user_by_name(const std::string& username) {
  JZ_ASSIGN_OR_RETURN(auto found, one_user("WHERE username = ?", username));
  if (!found) return Status::not_found("user '" + username + "' does not exist");
  return std::move(*found);
}

Result<std::optional<User>> Accounts::one_user(const std::string& where, const std::string& value) {
  std::vector<User> found;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(found, select_users(c, where, {value}));
    return {};
  }));
  if (found.empty()) return std::optional<User>();
  return std::optional<User>(std::move(found.front()));
}

Result<User> Accounts::user_by_id(const std::string& id) {
  JZ_ASSIGN_OR_RETURN(auto found, one_user("WHERE id = ?", id));
  if (!found) return Status::not_found("user id '" + id + "' does not exist");
  return std::move(*found);
}

Result<store::Page<User>> Accounts::users(const store::PageSpec& page) {
  store::Page<User> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(out, store::query_page<User>(
                                 c, kUser, kUserSelect + " WHERE 1 = 1", {}, "username",
                                 [](const User& u) { return u.username; }, page));
    return {};
  }));
  return out;
}

Result<int64_t> Accounts::count_users() {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) AS n FROM users"));
    n = rows.at(0).integer("n");
    return {};
  }));
  return n;
}

Result<std::string> Accounts::issue_token(const std::string& user_id, const std::string& kind,
                                          const std::string& name, const std::string& project,
                                          int64_t expires_at_ms, Token* token) {
  Token t;
  t.id = ids_.next("tok_");
  t.user_id = user_id;
  t.kind = kind;
  t.name = name;
  t.project = project;
  t.expires_at_ms = expires_at_ms;
  t.created_at_ms = clock_.now_unix_ms();
  std::string secret = "jzt_" + random_hex(SecureRandom::instance(), 32);
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) {
    return c
        .exec(
            "INSERT INTO tokens (id, user_id, kind, name, project, secret_hash, expires_at_ms, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            {t.id, t.user_id, t.kind, t.name, t.project, sha256_hex(secret), t.expires_at_ms,
             t.created_at_ms})
        .status();
  }));
  if (token) *token = t;
  return secret;
}

Result<std::pair<Token, User>> Accounts::resolve_token(const std::string& secret) {
  if (secret.size() != 68 || secret.rfind("jzt_", 0) != 0) return invalid_token();
  const int64_t now = clock_.now_unix_ms();
  std::optional<std::pair<Token, User>> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    // The token's columns are renamed (token_*) so that they do not meet the user's.
    static const store::RowMap<Token> kJoinedToken{{"token_id", &Token::id},
                                                   {"user_id", &Token::user_id},
                                                   {"kind", &Token::kind},
                                                   {"token_name", &Token::name},
                                                   {"project", &Token::project},
                                                   {"expires_at_ms", &Token::expires_at_ms},
                                                   {"token_created_at_ms", &Token::created_at_ms}};
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT t.id AS token_id, t.user_id, t.kind, t.name AS token_name, t.project, "
                "t.expires_at_ms, t.created_at_ms AS token_created_at_ms, " +
                    kUser.columns("u.") +
                    " FROM tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.secret_hash = ? AND t.revoked_at_ms IS NULL AND t.expires_at_ms > ? "
                    "AND u.state = 'active'",
                {sha256_hex(secret), now}));
    if (rows.empty()) return {};
    out.emplace(kJoinedToken(rows[0]), kUser(rows[0]));
    return {};
  }));
  if (!out) return invalid_token();
  return *out;
}

namespace {
const store::RowMap<Token> kToken{{"id", &Token::id},
                                  {"user_id", &Token::user_id},
                                  {"kind", &Token::kind},
                                  {"name", &Token::name},
                                  {"project", &Token::project},
                                  {"expires_at_ms", &Token::expires_at_ms},
                                  {"revoked_at_ms", &Token::revoked_at_ms},
                                  {"created_at_ms", &Token::created_at_ms}};
const std::string kTokenSelect = "SELECT " + kToken.columns() + " FROM tokens";
}  // namespace

Result<store::Page<Token>> Accounts::tokens_of(const std::string& user_id,
                                               const store::PageSpec& page,
                                               const std::string& only_id) {
  std::string sql = kTokenSelect + " WHERE user_id = ?";
  store::Params params{user_id};
  if (!only_id.empty()) {
    sql += " AND id = ?";
    params.emplace_back(only_id);
  }
  store::Page<Token> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out, store::query_page<Token>(
                 c, kToken, sql, params, "id", [](const Token& t) { return t.id; }, page));
    return {};
  }));
  return out;
}

Result<Token> Accounts::token_by_id(const std::string& token_id) {
  std::optional<Token> t;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(t, store::query_one(c, kToken, kTokenSelect + " WHERE id = ?", {token_id},
                                            "token '" + token_id + "' does not exist"));
    return {};
  }));
  return std::move(*t);
}

Status Accounts::revoke_token(const std::string& token_id) {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n, c.exec("UPDATE tokens SET revoked_at_ms = ? WHERE id = ? AND "
                                  "revoked_at_ms IS NULL",
                                  {clock_.now_unix_ms(), token_id}));
    return {};
  }));
  if (n == 0) return Status::not_found("token '" + token_id + "' does not exist or is revoked");
  return {};
}

}  // namespace jz::iam
