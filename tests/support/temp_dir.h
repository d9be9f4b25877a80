// A temporary directory removed (recursively) when the object goes away.
#pragma once

#include <filesystem>
#include <string>

namespace jz::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "jz-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace jz::testing
