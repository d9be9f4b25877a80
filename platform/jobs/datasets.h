// Datasets (mission D1, the minimum the job sandbox needs): a folder on the server,
// registered by a data owner of a project, with a security level. Jobs of the project
// mount it read-only; only data owners list or download its files.
//
// Registration rules: the path must be absolute and an existing folder. Data owners
// register only under a root that a platform admin assigned to their project's workspace
// (after resolving symlinks); platform admins may register any folder, except inside (or
// above) the platform's own data folder. For everyone: a folder inside or above a dataset
// of another project is refused (no project takes over another's data), and inside the
// same project a folder that overlaps a registered dataset may not get a lower level (the
// data keeps its strictest level). The sandbox user must be able to read it (others may
// read it and pass through every folder above it), or jobs would fail later with a less
// clear error.
//
// Thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/archive.h"
#include "core/clock.h"
#include "core/id.h"
#include "store/database.h"
#include "store/rows.h"

namespace jz::jobs {

struct Dataset {
  std::string id, project_id, name, path, security_level, created_by;
  int64_t created_at_ms = 0;
  // The folder's identity when it was registered: a job mounts exactly that folder (a
  // folder swapped for another, or for a symlink, is refused). 0: not recorded.
  int64_t folder_dev = 0, folder_ino = 0;
  int64_t bytes = 0;  // an uploaded dataset's size on disk (it counts to the storage quota)
};

// "open" < "internal" < "secret"; -1 when unknown.
int security_rank(const std::string& level);

// OK when a dev environment may mount `d`: people reach an environment interactively while
// it runs, so whatever it mounts is as good as downloaded; only open data (a data owner's
// published samples) goes there. Internal and secret data are for batch jobs.
Status devenv_may_mount(const Dataset& d);

// Bytes the files under `folder` take on disk (allocated blocks; sparse files count what
// they hold).
int64_t disk_bytes(const std::string& folder);

struct DatasetPolicy {
  std::string data_dir;    // the platform's own folder: never a registered dataset
  std::string upload_dir;  // where uploaded archives are unpacked (the platform's)
  // Bounds on what one uploaded archive may unpack to: bytes in all (also per file),
  // files, and bytes per byte of the archive (0: no ratio bound).
  uint64_t upload_max_bytes = uint64_t{16} << 30;
  size_t upload_max_entries = 1000000;
  uint64_t upload_max_ratio = 200;
};

// A folder under which a workspace's data owners may register datasets.
struct DatasetRoot {
  std::string path, workspace_id, created_by;
  int64_t created_at_ms = 0;
};

struct DatasetFile {
  std::string path;  // relative to the dataset
  int64_t size = 0;
};

class Datasets {
 public:
  Datasets(store::Database& db, Clock& clock, IdGenerator& ids, DatasetPolicy policy)
      : db_(db), clock_(clock), ids_(ids), policy_(std::move(policy)) {}

  Result<Dataset> create(const std::string& project_id, const std::string& workspace_id,
                         const std::string& name, const std::string& path,
                         const std::string& security_level, const std::string& created_by,
                         bool platform_admin);

  // Roots are assigned by platform admins (the API checks who calls). A root is an
  // existing absolute folder (symlinks resolved), neither inside nor above the data folder
  // nor another workspace's root.
  Result<DatasetRoot> add_root(const std::string& workspace_id, const std::string& path,
                               const std::string& created_by);
  // The workspace's roots by path, one keyset page.
  Result<store::Page<DatasetRoot>> roots(const std::string& workspace_id,
                                         const store::PageSpec& page = {.after = "",
                                                                        .limit = 1000});
  // Datasets already registered under it stay registered.
  Status remove_root(const std::string& workspace_id, const std::string& path);
  // A dataset from an uploaded tar or tar.gz archive, unpacked into
  // upload_dir/<project id>/<name> with the package rules (sdk/package.h: relative names
  // only, no "..", no links of any kind, no devices) and the policy's bounds, streamed to
  // disk (bounded memory). The name is reserved first (a second upload of it gets
  // already_exists and touches nothing), the files go to a private folder that is renamed
  // into place at the end; on any refusal nothing is kept.
  // `quota_left`: bytes the project's storage quota still allows (none: unlimited).
  Result<Dataset> create_from_archive(const std::string& project_id, const std::string& name,
                                      std::string_view archive, const std::string& security_level,
                                      const std::string& created_by,
                                      std::optional<int64_t> quota_left = std::nullopt);
  // The same for an archive in a file (a finished resumable upload, platform/jobs/uploads.h),
  // read from disk as it unpacks.
  Result<Dataset> create_from_archive_file(const std::string& project_id, const std::string& name,
                                           const std::string& archive_path,
                                           const std::string& security_level,
                                           const std::string& created_by,
                                           std::optional<int64_t> quota_left = std::nullopt);
  // A dataset by name; "NAME@N" is version N of dataset NAME (platform/datasets/versions.h):
  // the dataset with its name as given and its path the version's read-only folder, which
  // is what a job naming it mounts at /data/NAME@N.
  Result<Dataset> get(const std::string& project_id, const std::string& name);
  // How "NAME@N" finds version N's folder (set once at start; without it such names are
  // not found).
  void resolve_versions(
      std::function<Result<std::string>(const Dataset& d, int64_t number)> folder_of) {
    version_folder_ = std::move(folder_of);
  }
  // The project's datasets by name, one keyset page.
  Result<store::Page<Dataset>> list(const std::string& project_id, const store::PageSpec& page);
  // The bytes of the project's uploaded datasets (they count to its storage quota).
  Result<int64_t> total_bytes(const std::string& project_id);
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
  // Stores `d` when it overlaps no dataset of another project and lowers the level of
  // none of its own project's, in one transaction with those checks.
  Status insert(Dataset& d);
  // The folder `path` names, symlinks resolved, when it may hold datasets at all.
  Result<std::filesystem::path> real_folder(const std::string& path) const;
  DatasetPolicy policy_;
  // create_from_archive's body: `unpack` fills the folder it is given.
  Result<Dataset> create_unpacked(
      const std::string& project_id, const std::string& name, uint64_t archive_bytes,
      const std::string& security_level, const std::string& created_by,
      std::optional<int64_t> quota_left,
      const std::function<Status(const std::string& dest, const ArchiveLimits& limits)>& unpack);
  std::function<Result<std::string>(const Dataset&, int64_t)> version_folder_;
  std::mutex uploads_mu_;
  std::set<std::string> uploads_;  // "<project id>/<name>" of uploads in progress
};

}  // namespace jz::jobs
