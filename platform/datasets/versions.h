// Dataset versions (mission G1, docs/DATA.md "Versions"): immutable snapshots of a
// dataset's files, each with a split (train / val / test / ...) and coarse tags per file.
//
// Files are content-addressed: each distinct file of a project is stored once, under its
// SHA-256, so a version costs only the files it adds. A version is a manifest (a sorted
// list of path, SHA-256, size, split, tags; itself stored by its hash) and a read-only
// folder of hard links to the stored files, which is what a job mounts and a data owner
// downloads from. Nothing is shared between projects: the same picture in two projects
// is stored twice, so no project can learn from a version's cost what another holds.
//
// Files under DIR (VersionOptions::dir):
//   blobs/<project id>/<aa>/<sha256>        the files, read-only
//   manifests/<project id>/<sha256>.json    the manifests
//   trees/<dataset id>/<number>/...         each version's folder of links
//
// A version is made from the dataset's folder as it is now (`snapshot`: a file that was in
// the last version at the same path with the same content keeps its split and tags; new
// files get theirs from the request), or from another version by changes (`derive`:
// files removed, splits and tags changed, as the review queue and lifecycle rules do).
// Deleting a version deletes its folder and the stored files no other version holds, and
// what was derived from it: curations of it and labelling tasks over it (hashes and
// quality measures go when no version holds their file any more).
//
// Archiving a version (lifecycle rules, platform/datasets/lifecycle.h) moves its files to
// the archive store (VersionOptions::archive_dir, which may be a cheaper disk; laid out as
// blobs/) and removes its folder: its manifest stays, so it is still listed with its
// files, but no job can mount it and no file of it can be downloaded until it is restored.
//
// Thread-safety: every method from any thread; versions of one service are made one at a
// time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "core/status.h"
#include "platform/jobs/datasets.h"
#include "store/database.h"

namespace jz::datasets {

struct VersionFile {
  std::string path;  // relative, '/'-separated
  std::string sha256;
  int64_t size = 0;
  std::string split;
  std::vector<std::string> tags;  // sorted, unique
  Json to_json() const;
};

struct Version {
  std::string id, project_id, dataset_id, dataset;
  int64_t number = 0;
  int64_t parent = 0;  // the version it was made from or compared with (0: none)
  std::string message;
  std::string manifest;  // the manifest's SHA-256
  int64_t files = 0, bytes = 0;
  int64_t new_bytes = 0;  // bytes of files no earlier version of the project stored
  int64_t added = 0, removed = 0, changed = 0;  // against the parent, by path
  Json splits = Json::object();                 // split -> files
  Json tags = Json::object();                   // tag -> files
  std::string created_by;
  int64_t created_at_ms = 0;
  std::optional<int64_t> archived_at_ms;  // set while archived
  Json to_json() const;
};

// How a snapshot assigns splits and tags to files the last version did not have.
struct SnapshotRequest {
  std::string message;
  // Split name -> share (0..1, summing to 1): each new file's split is drawn from the
  // SHA-256 of its path, so a path always falls in the same split. Empty: by the top
  // folder when it is train, val (valid, validation), or test, else "train".
  std::map<std::string, double> split_ratios;
  std::vector<std::string> tags;  // put on every new file
  bool tag_by_folder = false;     // a new file in a folder gets the top folder's name as tag
};
// From a request body; errors name the field.
Result<SnapshotRequest> parse_snapshot_request(const Json& body);

// Split and tag names: 1-64 letters, digits, '_', '-', '.', not starting with '.' or '-';
// invalid_argument "WHAT 'S' must be ..." otherwise (versions and lifecycle rules alike).
Status check_label(const std::string& what, const std::string& s);

// Changes that make a version from another.
struct Changes {
  std::string message;
  std::set<std::string> remove;                                           // paths
  std::map<std::string, std::string> set_split;                           // path -> split
  std::map<std::string, std::vector<std::string>> add_tags, remove_tags;  // path -> tags
  // Files written into the version (path -> content; an existing path is replaced), e.g.
  // a labelling task's annotations. They go to `add_split` with no tags.
  std::map<std::string, std::string> add;
  std::string add_split = "train";
};

struct FileFilter {
  std::string split, tag, prefix;
  std::function<bool(const VersionFile&)> keep;  // more conditions (none: every file)
  std::string after;                             // the last path of the previous page
  size_t limit = 1000;
};

struct VersionOptions {
  std::string dir;               // DATA/datasets
  std::string archive_dir;       // archived versions' files ("": DIR/archive)
  size_t max_files = 2'000'000;  // per version
  int64_t max_file_bytes = int64_t{64} << 30;
};

class DatasetVersions {
 public:
  // Also tells `datasets` how "NAME@N" finds a version's folder (jobs mount it).
  DatasetVersions(store::Database& db, Clock& clock, IdGenerator& ids, jobs::Datasets& datasets,
                  VersionOptions options);

  // A new version of the dataset's folder as it is now. `quota_left`: bytes the project's
  // storage quota still allows (none: unlimited); a snapshot that would store more is
  // refused and leaves nothing behind.
  Result<Version> snapshot(const std::string& project_id, const std::string& dataset,
                           const SnapshotRequest& r, const std::string& actor,
                           std::optional<int64_t> quota_left = std::nullopt);
  // A new version: version `base` with `changes` (paths it names must be in `base`).
  Result<Version> derive(const std::string& project_id, const std::string& dataset, int64_t base,
                         const Changes& changes, const std::string& actor);
  // Newest first.
  Result<std::vector<Version>> list(const std::string& project_id, const std::string& dataset);
  // `number` 0: the newest.
  Result<Version> get(const std::string& project_id, const std::string& dataset, int64_t number);
  // The version's files by path, filtered, one page.
  Result<std::vector<VersionFile>> files(const Version& v, const FileFilter& f);
  // The stored file behind `path` (for download): not_found when the version has none.
  Result<std::string> file_path(const Version& v, const std::string& path) const;
  // The read-only folder of the version's files (what a job mounts).
  std::string tree(const Version& v) const;
  // Deletes the version, its folder, the stored files no other version holds, and the
  // curations and labelling tasks of it; failed_precondition while a task labels it or a
  // curation of it is running.
  Status remove(const std::string& project_id, const std::string& dataset, int64_t number);
  // Moves the version's files to the archive store and removes its folder (the files
  // another version still holds stay in the store too). failed_precondition for the
  // newest version, one being labelled or curated; archiving an archived one does nothing.
  Result<Version> archive(const std::string& project_id, const std::string& dataset,
                          int64_t number);
  // Brings an archived version's files back (each checked against its SHA-256) and
  // rebuilds its folder; `quota_left` as for snapshot. Restoring one that is not archived
  // does nothing.
  Result<Version> restore(const std::string& project_id, const std::string& dataset, int64_t number,
                          std::optional<int64_t> quota_left = std::nullopt);
  // The reasons a version must stay as it is (an open labelling task, a running
  // curation); "" when there is none.
  Result<std::string> busy(const Version& v);
  // When each content first appeared at its path in the dataset: PATH + '\n' + SHA-256 ->
  // the creation time of the oldest version holding it (what lifecycle rules age files by).
  Result<std::map<std::string, int64_t>> first_seen(const std::string& project_id,
                                                    const std::string& dataset);
  // Deletes stored files, manifests and folders of the project that no version holds any
  // more (a deleted dataset's versions go with it in the database; their files go here).
  Status collect_garbage(const std::string& project_id);
  // Bytes the project's stored files take (they count to its storage quota).
  Result<int64_t> stored_bytes(const std::string& project_id) const;

 private:
  Result<std::vector<VersionFile>> manifest(const Version& v) const;
  // Stores the manifest and the folder, and records the version. `before`: the parent's
  // files (path -> SHA-256), as the caller already read them, for what changed.
  Result<Version> commit(const jobs::Dataset& d, std::vector<VersionFile> files,
                         const std::optional<Version>& parent,
                         std::map<std::string, std::string> before, const std::string& message,
                         int64_t new_bytes, const std::string& actor);
  // Copies `source` into the project's store (hashing what it copies); its SHA-256, and
  // whether it was new, by `added`.
  Result<std::string> store_file(const std::string& project_id, int source_fd, int64_t size,
                                 int64_t* added);
  std::string blob_path(const std::string& project_id, const std::string& sha) const;
  std::string archive_path(const std::string& project_id, const std::string& sha) const;
  // Makes `dest` the folder of links to `files` (built aside, renamed into place).
  Status build_tree(const std::string& project_id, int64_t number, const std::string& dest,
                    const std::vector<VersionFile>& files);
  Result<std::string> busy_locked(store::Conn& c, const Version& v);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  jobs::Datasets& datasets_;
  VersionOptions options_;
  std::mutex mu_;  // one version made (or removed) at a time
};

}  // namespace jz::datasets
