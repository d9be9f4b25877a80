#include "sdk/library.h"

#include <dlfcn.h>

namespace jz::sdk {

Status status_from(int code, const std::string& message) {
  const std::string m = message.empty() ? "the algorithm failed without a message" : message;
  switch (code) {
    case JZ_ALGO_OK:
      return {};
    case JZ_ALGO_INVALID_ARGUMENT:
      return Status::invalid_argument(m);
    case JZ_ALGO_NOT_IMPLEMENTED:
      return Status::failed_precondition("not implemented: " + m);
    case JZ_ALGO_UNAUTHORIZED:
      return Status::permission_denied(m);
    case JZ_ALGO_OVER_QUOTA:
      return Status::resource_exhausted(m);
    case JZ_ALGO_TIMEOUT:
      return Status::deadline_exceeded(m);
    case JZ_ALGO_FAILED:
      return Status::internal(m);
    default:
      return Status::internal("unknown algorithm status " + std::to_string(code) + ": " + m);
  }
}

Result<std::shared_ptr<AlgoLibrary>> AlgoLibrary::open(const std::string& path) {
  std::shared_ptr<AlgoLibrary> lib(new AlgoLibrary());
  lib->path_ = path;
  lib->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle_) {
    const char* why = ::dlerror();
    return Status::invalid_argument("cannot load algorithm " + path + ": " +
                                    (why ? why : "unknown error"));
  }
  auto sym = [&](const char* name) -> void* { return ::dlsym(lib->handle_, name); };
  auto version = reinterpret_cast<int (*)()>(sym("jz_algo_abi_version"));
  auto describe = reinterpret_cast<const char* (*)()>(sym("jz_algo_describe"));
  lib->create_ = reinterpret_cast<decltype(lib->create_)>(sym("jz_algo_create"));
  lib->process_ = reinterpret_cast<decltype(lib->process_)>(sym("jz_algo_process"));
  lib->update_ = reinterpret_cast<decltype(lib->update_)>(sym("jz_algo_update_config"));
  lib->last_error_ = reinterpret_cast<decltype(lib->last_error_)>(sym("jz_algo_last_error"));
  lib->destroy_ = reinterpret_cast<decltype(lib->destroy_)>(sym("jz_algo_destroy"));
  const std::pair<const char*, bool> needed[] = {
      {"jz_algo_abi_version", version != nullptr},
      {"jz_algo_describe", describe != nullptr},
      {"jz_algo_create", lib->create_ != nullptr},
      {"jz_algo_process", lib->process_ != nullptr},
      {"jz_algo_update_config", lib->update_ != nullptr},
      {"jz_algo_last_error", lib->last_error_ != nullptr},
      {"jz_algo_destroy", lib->destroy_ != nullptr}};
  for (const auto& [name, found] : needed) {
    if (!found) {
      return Status::invalid_argument(path + " does not export " + name +
                                      " (see include/jizhan/algo.h)");
    }
  }
  if (version() != JZ_ALGO_ABI_VERSION) {
    return Status::invalid_argument(path + " was built for algorithm ABI " +
                                    std::to_string(version()) + "; this platform speaks " +
                                    std::to_string(JZ_ALGO_ABI_VERSION));
  }
  const char* d = describe();
  auto j = json::parse(d ? d : "", "jz_algo_describe() of " + path);
  if (!j.ok()) return j.status();
  for (const char* f : {"name", "version"}) {
    if (!j->contains(f) || !(*j)[f].is_string()) {
      return Status::invalid_argument("jz_algo_describe() of " + path + " lacks the string '" + f +
                                      "'");
    }
  }
  lib->description_ = std::move(*j);
  return lib;
}

AlgoLibrary::~AlgoLibrary() {
  if (handle_) ::dlclose(handle_);
}

Result<std::unique_ptr<AlgoInstance>> AlgoLibrary::create(const std::string& config_json) {
  jz_algo* algo = nullptr;
  const int code = create_(config_json.c_str(), &algo);
  if (code != JZ_ALGO_OK) {
    const std::string message = algo ? last_error_(algo) : "";
    if (algo) destroy_(algo);
    return status_from(code, "creating " + description_.value("name", path_) + ": " + message);
  }
  if (!algo) return Status::internal("jz_algo_create returned OK without an instance");
  return std::unique_ptr<AlgoInstance>(new AlgoInstance(shared_from_this(), algo));
}

AlgoInstance::~AlgoInstance() { lib_->destroy_(algo_); }

Result<std::string> AlgoInstance::process(const std::vector<jz_frame>& frames,
                                          const std::string& args) {
  const char* out = nullptr;
  const int code = lib_->process_(algo_, frames.data(), frames.size(),
                                  args.empty() ? nullptr : args.c_str(), &out);
  if (code != JZ_ALGO_OK) return status_from(code, lib_->last_error_(algo_));
  if (!out) return Status::internal("jz_algo_process returned OK without a result");
  return std::string(out);
}

Status AlgoInstance::update_config(const std::string& config_json) {
  const int code = lib_->update_(algo_, config_json.c_str());
  return status_from(code, lib_->last_error_(algo_));
}

}  // namespace jz::sdk
