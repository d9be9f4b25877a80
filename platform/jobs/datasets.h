// Datasets (mission D1, the minimum the job sandbox needs): a folder on the server,
// registered by a data owner of a project, with a security level. Jobs of the project
// mount it read-only; only data owners list or download its files.
//
// Registration rules: the path must be absolute, an existing folder, and (after
// resolving symlinks) lie under one of the roots an operator configured; platform
// admins may register any folder, except inside the platform's own data folder. The
// sandbox user must be able to read it (others may read it and pass through every
// folder above it), or jobs would fail later with a less clear error.
//
// Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "store/database.h"

namespace jz::jobs {

struct Dataset {
  std::string id, project_id, name, path, security_level, created_by;
  int64_t created_at_ms = 0;
};

// "open" < "internal" < "secret"; -1 when unknown.
int security_rank(const std::string& level);

struct DatasetPolicy {
  std::vector<std::string> roots;  // folders data owners may register from
  std::string data_dir;            // the platform's own folder: never a registered dataset
  std::string upload_dir;          // where uploaded archives are unpacked (the platform's)
};

struct DatasetFile {
  std::string path;  // relative to the dataset
  int64_t size = 0;
};

class Datasets {
 public:
  Datasets(store::Database& db, Clock& clock, IdGenerator& ids, DatasetPolicy policy)
      : db_(db), clock_(clock), ids_(ids), policy_(std::move(policy)) {}

  Result<Dataset> create(const std::string& project_id, const std::string& name,
                         const std::string& path, const std::string& security_level,
                         const std::string& created_by, bool platform_admin);
  // A dataset from an uploaded tar or tar.gz archive, unpacked into
  // upload_dir/<project id>/<name> with the package rules (sdk/package.h: relative names
  // only, no "..", no links of any kind, no devices, bounded sizes and counts); on any
  // refusal nothing is kept.
  Result<Dataset> create_from_archive(const std::string& project_id, const std::string& name,
                                      std::string_view archive, const std::string& security_level,
                                      const std::string& created_by);
  Result<Dataset> get(const std::string& project_id, const std::string& name);
  Result<std::vector<Dataset>> list(const std::string& project_id);
  // Unregisters it; an uploaded dataset's files go too, a registered folder stays.
  Status remove(const std::string& project_id, const std::string& name);
  // The files (regular files; symlinks are listed as they are, never followed), at most
  // `limit`.
  Result<std::vector<DatasetFile>> files(const Dataset& d, size_t limit = 10000);
  // The absolute path of one file for download: refused when it leaves the dataset
  // (.., symlinks out of it) or is not a regular file.
  Result<std::string> file_path(const Dataset& d, const std::string& relative);

  const DatasetPolicy& policy() const { return policy_; }

 private:
  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  Status insert(const Dataset& d);
  DatasetPolicy policy_;
};

}  // namespace jz::jobs
