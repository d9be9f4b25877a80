#include "platform/iam/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace jz::iam {

Status write_private_file(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::failed_precondition("cannot create '" + path + "': " + errno_message(errno));
  }
  bool ok = fchmod(fd, 0600) == 0 &&
            write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            fsync(fd) == 0;
  int err = errno;
  close(fd);
  if (!ok) return Status::failed_precondition("cannot write '" + path + "': " + errno_message(err));
  return {};
}

Result<BootstrapResult> bootstrap_admin(Accounts& accounts, Clock& clock,
                                        const std::string& data_dir,
                                        const std::optional<std::string>& admin_password,
                                        HashCost cost, std::chrono::seconds token_ttl) {
  BootstrapResult result;
  JZ_ASSIGN_OR_RETURN(int64_t users, accounts.count_users());
  if (users > 0) return result;

  std::string password;
  if (admin_password) {
    Status policy = check_password_policy(*admin_password);
    if (!policy.ok()) {
      return Status::invalid_argument("JIZHAN_ADMIN_PASSWORD: " + policy.message());
    }
    password = *admin_password;
  } else {
    password = random_password();
    result.password_generated = true;
  }
  JZ_ASSIGN_OR_RETURN(std::string hash, hash_password(password, cost));
  User admin;
  admin.username = "admin";
  admin.display_name = "Administrator";
  admin.platform_role = std::string(kPlatformAdmin);
  admin.password_hash = std::move(hash);
  JZ_ASSIGN_OR_RETURN(admin, accounts.create_user(std::move(admin)));
  namespace fs = std::filesystem;
  if (result.password_generated) {
    JZ_RETURN_IF_ERROR(write_private_file((fs::path(data_dir) / "initial-admin-password").string(),
                                          password + "\n"));
  }
  int64_t expires = clock.now_unix_ms() +
                    std::chrono::duration_cast<std::chrono::milliseconds>(token_ttl).count();
  JZ_ASSIGN_OR_RETURN(std::string token,
                      accounts.issue_token(admin.id, "api", "bootstrap", "", expires));
  JZ_RETURN_IF_ERROR(
      write_private_file((fs::path(data_dir) / "admin-token").string(), token + "\n"));
  result.created = true;
  return result;
}

}  // namespace jz::iam
