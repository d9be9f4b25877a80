#include "sdk/runtime.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/clock.h"
#include "core/files.h"
#include "sdk/package.h"

namespace jz::sdk {
namespace fs = std::filesystem;

Result<std::string> OpenedAlgorithm::config(const std::string& overrides) const {
  Json c = default_config.is_object() ? default_config : Json::object();
  if (!overrides.empty()) {
    Json o = Json::parse(overrides, nullptr, false);
    if (o.is_discarded() || !o.is_object()) {
      return Status::invalid_argument(
          "--config must be a JSON object, e.g. '{\"threshold\": 0.5}'");
    }
    c.merge_patch(o);
  }
  return c.dump();
}

Result<std::shared_ptr<void>> hold_channels(const std::string& dir, const Licence& l, int wanted);

Result<OpenedAlgorithm> open_algorithm(const OpenOptions& o) {
  OpenedAlgorithm out;
  std::error_code ec;
  if (!fs::is_regular_file(o.package, ec)) {
    return Status::not_found("package " + o.package +
                             " does not exist (give a .jzpkg file, or a "
                             "shared library while developing)");
  }
  const std::string ext = fs::path(o.package).extension().string();
  if (ext == ".so") {
    // While developing, the library's own folder stands in for the package folder (its
    // models lie beside it, as build/examples/algorithms/face_detect_pkg shows).
    out.library = fs::absolute(o.package).string();
    out.package_dir = fs::path(out.library).parent_path().string();
    return out;
  }
  if (ext != ".jzpkg") {
    return Status::invalid_argument("package " + o.package +
                                    ": expected a .jzpkg file (`jizhan algo pack`) or a .so");
  }
  JZ_ASSIGN_OR_RETURN(auto keys, load_trusted_keys(o.trust));
  keys.insert(keys.end(), o.trusted_keys.begin(), o.trusted_keys.end());
  JZ_ASSIGN_OR_RETURN(std::string templ, make_temp_dir("jizhan-pkg"));
  out.cleanup = std::shared_ptr<void>(nullptr, [templ](void*) {
    std::error_code ignored;
    fs::remove_all(templ, ignored);
  });
  JZ_ASSIGN_OR_RETURN(PackageInfo info,
                      unpack_package(o.package, templ + "/pkg", keys, o.allow_untrusted));
  out.package_dir = info.root;
  out.library = info.root + "/" + info.manifest.library;
  out.default_config = info.manifest.default_config;
  out.publisher = info.signature.public_key;
  out.manifest = info.manifest;
  if (info.manifest.licence_required || o.require_licence) {
    LicenceUse use;
    use.algorithm = info.manifest.name;
    use.version = info.manifest.version;
    if (o.machine.empty()) {
      JZ_ASSIGN_OR_RETURN(use.machine, machine_fingerprint());
    } else {
      use.machine = o.machine;
    }
    use.now = SystemClock().now();
    use.channels = o.channels;
    use.grace = o.licence_grace;
    const std::string dir = o.licence_dir.empty() ? licence_dir() : o.licence_dir;
    JZ_ASSIGN_OR_RETURN(out.licence, find_licence(dir, *out.publisher, use));
    if (out.licence->channels > 0) {
      JZ_ASSIGN_OR_RETURN(auto slots, hold_channels(dir, *out.licence, o.channels));
      out.channel_slots = std::move(slots);
    }
  }
  return out;
}

// A licence's channels are counted across every process on this machine: each user holds
// one lock file per channel (flock, so a killed process frees its channels at once).
Result<std::shared_ptr<void>> hold_channels(const std::string& dir, const Licence& l, int wanted) {
  const std::string locks = dir + "/.channels";
  std::error_code ec;
  fs::create_directories(locks, ec);
  auto fds = std::make_shared<std::vector<int>>();
  std::shared_ptr<void> guard(nullptr, [fds](void*) {
    for (int fd : *fds) ::close(fd);
  });
  for (int slot = 0; slot < l.channels && static_cast<int>(fds->size()) < wanted; ++slot) {
    const std::string path = locks + "/" + l.id + "." + std::to_string(slot) + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return Status::failed_precondition("cannot open " + path + ": " + errno_message(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fds->push_back(fd);
    } else {
      ::close(fd);
    }
  }
  if (static_cast<int>(fds->size()) < wanted) {
    const int free_now = static_cast<int>(fds->size());
    return Status::resource_exhausted(
        "licence " + l.id + " allows " + std::to_string(l.channels) + " channel" +
        (l.channels == 1 ? "" : "s") + " on this machine and " +
        std::to_string(l.channels - free_now) + " are in use by other runs; " +
        std::to_string(wanted) + " requested (over limit)");
  }
  return guard;
}

}  // namespace jz::sdk
