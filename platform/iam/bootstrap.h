// First start: when the platform has no users, create `admin` (platform-admin).
// Its password is JIZHAN_ADMIN_PASSWORD when set; otherwise a random one, written to
// DATA_DIR/initial-admin-password (mode 0600) and reported to the caller once. An API
// token for admin (named "bootstrap", for scripts) is written to DATA_DIR/admin-token
// (mode 0600).
#pragma once

#include <optional>
#include <string>

#include "platform/iam/accounts.h"
#include "platform/iam/passwords.h"

namespace jz::iam {

struct BootstrapResult {
  bool created = false;
  bool password_generated = false;  // true: it is in DATA_DIR/initial-admin-password
};

Result<BootstrapResult> bootstrap_admin(Accounts& accounts, Clock& clock,
                                        const std::string& data_dir,
                                        const std::optional<std::string>& admin_password,
                                        HashCost cost, std::chrono::seconds token_ttl);

// Writes `content` to a new file with mode 0600 (fails if it exists).
Status write_private_file(const std::string& path, const std::string& content);

}  // namespace jz::iam
