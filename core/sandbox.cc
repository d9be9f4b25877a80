#include "core/sandbox.h"

#include <filesystem>
#include <set>

namespace jz {

namespace fs = std::filesystem;

namespace {

// /etc as a tmpfs: the host's entries (but the platform's /etc/jizhan and those the
// files replace), then the files, then read-only.
void add_etc(std::vector<std::string>& argv, const std::map<std::string, std::string>& files) {
  std::set<std::string> taken = {"jizhan"};  // first components under /etc
  for (const auto& [dest, host] : files) {
    const std::string rest = dest.substr(5);  // after "/etc/"
    taken.insert(rest.substr(0, rest.find('/')));
  }
  argv.insert(argv.end(), {"--tmpfs", "/etc"});
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/etc", ec)) {
    const std::string name = e.path().filename().string();
    if (taken.count(name)) continue;
    const std::string path = "/etc/" + name;
    std::error_code sec;
    auto st = e.symlink_status(sec);
    if (sec) continue;
    if (fs::is_symlink(st)) {
      argv.insert(argv.end(), {"--symlink", fs::read_symlink(path, sec).string(), path});
    } else if (fs::is_directory(st) || fs::is_regular_file(st)) {
      argv.insert(argv.end(), {"--ro-bind", path, path});
    }
  }
  std::set<std::string> dirs;
  for (const auto& [dest, host] : files) {
    for (fs::path d = fs::path(dest).parent_path(); d != "/etc" && d.has_relative_path();
         d = d.parent_path()) {
      dirs.insert(d.string());
    }
  }
  for (const auto& d : dirs) argv.insert(argv.end(), {"--dir", d});
  for (const auto& [dest, host] : files) argv.insert(argv.end(), {"--ro-bind", host, dest});
  argv.insert(argv.end(), {"--remount-ro", "/etc"});
}

}  // namespace

void add_system_binds(std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& etc_files) {
  for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}) {
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_symlink(st)) {
      argv.insert(argv.end(), {"--symlink", fs::read_symlink(p, ec).string(), p});
    } else if (std::string(p) == "/etc" && !etc_files.empty()) {
      add_etc(argv, etc_files);
    } else if (fs::is_directory(st)) {
      argv.insert(argv.end(), {"--ro-bind", p, p});
      if (std::string(p) == "/etc" && fs::is_directory("/etc/jizhan", ec)) {
        argv.insert(argv.end(), {"--tmpfs", "/etc/jizhan"});
      }
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
