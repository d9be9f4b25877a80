#include "core/sandbox.h"

#include <filesystem>

namespace jz {

namespace fs = std::filesystem;

void add_system_binds(std::vector<std::string>& argv) {
  for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}) {
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_symlink(st)) {
      argv.insert(argv.end(), {"--symlink", fs::read_symlink(p, ec).string(), p});
    } else if (fs::is_directory(st)) {
      argv.insert(argv.end(), {"--ro-bind", p, p});
    }
  }
}

void add_gpu_devices(std::vector<std::string>& argv) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("nvidia", 0) == 0) argv.insert(argv.end(), {"--dev-bind", e.path(), e.path()});
  }
}

}  // namespace jz
