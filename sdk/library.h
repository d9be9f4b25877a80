// Loading an algorithm library (include/jizhan/algo.h) into this process: dlopen, the ABI
// version check, describe(), and instances whose calls return jz::Status.
//
// In-process use is for the conformance checker, tests and benchmarks; the host runs
// algorithms in a child process so that a crash cannot take it down (issue 5).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "jizhan/algo.h"

namespace jz::sdk {

// An algorithm status as a jz::Status with the instance's message.
Status status_from(int code, const std::string& message);

class AlgoInstance;

class AlgoLibrary : public std::enable_shared_from_this<AlgoLibrary> {
 public:
  // Errors: the file cannot be loaded, a function is missing, the ABI version differs,
  // or describe() is not a JSON object with name, version and abi_version.
  static Result<std::shared_ptr<AlgoLibrary>> open(const std::string& path);
  ~AlgoLibrary();

  const Json& description() const { return description_; }
  const std::string& path() const { return path_; }
  Result<std::unique_ptr<AlgoInstance>> create(const std::string& config_json = "{}");

 private:
  friend class AlgoInstance;
  AlgoLibrary() = default;
  void* handle_ = nullptr;
  std::string path_;
  Json description_;
  int (*create_)(const char*, jz_algo**) = nullptr;
  int (*process_)(jz_algo*, const jz_frame*, size_t, const char*, const char**) = nullptr;
  int (*update_)(jz_algo*, const char*) = nullptr;
  const char* (*last_error_)(jz_algo*) = nullptr;
  void (*destroy_)(jz_algo*) = nullptr;
};

// One instance; use from one thread at a time (the ABI's contract).
class AlgoInstance {
 public:
  ~AlgoInstance();
  AlgoInstance(const AlgoInstance&) = delete;
  AlgoInstance& operator=(const AlgoInstance&) = delete;

  // The output JSON text (copied out of the instance).
  Result<std::string> process(const std::vector<jz_frame>& frames, const std::string& args = "");
  Status update_config(const std::string& config_json);

 private:
  friend class AlgoLibrary;
  AlgoInstance(std::shared_ptr<AlgoLibrary> lib, jz_algo* algo)
      : lib_(std::move(lib)), algo_(algo) {}
  std::shared_ptr<AlgoLibrary> lib_;  // keeps the library loaded while the instance lives
  jz_algo* algo_;
};

}  // namespace jz::sdk
