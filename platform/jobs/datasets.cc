#include "platform/jobs/datasets.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/archive.h"
#include "core/files.h"
#include "core/text.h"
#include "platform/iam/tenancy.h"

namespace jz::jobs {

namespace fs = std::filesystem;

int security_rank(const std::string& level) {
  if (level == "open") return 0;
  if (level == "internal") return 1;
  if (level == "secret") return 2;
  return -1;
}

namespace {

const store::RowMap<Dataset> kDataset{{"id", &Dataset::id},
                                      {"project_id", &Dataset::project_id},
                                      {"name", &Dataset::name},
                                      {"path", &Dataset::path},
                                      {"security_level", &Dataset::security_level},
                                      {"created_by", &Dataset::created_by},
                                      {"created_at_ms", &Dataset::created_at_ms},
                                      {"folder_dev", &Dataset::folder_dev},
                                      {"folder_ino", &Dataset::folder_ino},
                                      {"bytes", &Dataset::bytes}};
const std::string kColumns = kDataset.columns();
const std::string kDatasetSelect = "SELECT " + kColumns + " FROM datasets";

const store::RowMap<DatasetRoot> kRoot{{"path", &DatasetRoot::path},
                                       {"workspace_id", &DatasetRoot::workspace_id},
                                       {"created_by", &DatasetRoot::created_by},
                                       {"created_at_ms", &DatasetRoot::created_at_ms}};

// Records the folder's device and inode.
void identify(Dataset& d) {
  struct stat st;
  if (::lstat(d.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    d.folder_dev = static_cast<int64_t>(st.st_dev);
    d.folder_ino = static_cast<int64_t>(st.st_ino);
  }
}

}  // namespace

Result<Dataset> Datasets::create(const std::string& project_id, const std::string& workspace_id,
                                 const std::string& name, const std::string& path,
                                 const std::string& security_level, const std::string& created_by,
                                 bool platform_admin) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("name", name));
  if (security_rank(security_level) < 0) {
    return Status::invalid_argument("field 'security_level' must be open, internal or secret");
  }
  JZ_ASSIGN_OR_RETURN(fs::path real, real_folder(path));
  if (!platform_admin) {
    std::vector<DatasetRoot> mine;
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
      JZ_ASSIGN_OR_RETURN(mine, store::query_all(c, kRoot,
                                                 "SELECT " + kRoot.columns() +
                                                     " FROM dataset_roots WHERE workspace_id = ?",
                                                 {workspace_id}));
      return {};
    }));
    bool allowed = false;
    for (const auto& root : mine) allowed = allowed || path_is_under(real, root.path);
    if (!allowed) {
      std::string list;
      for (const auto& r : mine) list += (list.empty() ? "" : ", ") + r.path;
      return Status::permission_denied(
          "field 'path': '" + path + "' is not under a dataset root of this workspace (" +
          (list.empty() ? "none assigned: a platform admin assigns roots with POST "
                          "/api/v1/workspaces/{workspace}/dataset-roots"
                        : list) +
          "); ask a platform admin to register it or to assign a root");
    }
  }
  // The sandbox user reads it: others must read the folder and pass every one above.
  struct stat st;
  if (::stat(real.c_str(), &st) != 0 || (st.st_mode & 05) != 05) {
    return Status::failed_precondition(
        "field 'path': jobs run as an unprivileged user, who "
        "cannot read '" +
        real.string() + "' (make it readable by others: chmod o+rx)");
  }
  for (fs::path p = real.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (::stat(p.c_str(), &st) != 0 || (st.st_mode & 01) == 0) {
      return Status::failed_precondition(
          "field 'path': jobs run as an unprivileged user, who "
          "cannot pass through '" +
          p.string() + "' (chmod o+x it, or register a folder elsewhere)");
    }
  }
  Dataset d{ids_.next("ds_"), project_id,          name, real.string(), security_level,
            created_by,       clock_.now_unix_ms()};
  JZ_RETURN_IF_ERROR(insert(d));
  return d;
}

Result<std::filesystem::path> Datasets::real_folder(const std::string& path) const {
  if (path.empty() || path[0] != '/') {
    return Status::invalid_argument("field 'path' must be an absolute folder on the server");
  }
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec || !fs::is_directory(real, ec)) {
    return Status::invalid_argument("field 'path': '" + path + "' is not a folder on the server");
  }
  if (!policy_.data_dir.empty()) {
    const fs::path data = fs::weakly_canonical(policy_.data_dir, ec);
    if (path_is_under(real, data) || path_is_under(data, real)) {
      return Status::permission_denied(
          "field 'path': '" + path +
          "' holds or is inside the platform's data folder, which is never a dataset");
    }
  }
  return real;
}

Status Datasets::insert(Dataset& d) {
  identify(d);
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT project_id, name, path, security_level FROM datasets"));
    for (const auto& r : rows) {
      const fs::path other = r.text("path");
      if (!path_is_under(d.path, other) && !path_is_under(other, d.path)) continue;
      const std::string where = path_is_under(d.path, other) ? "inside" : "above";
      if (r.text("project_id") != d.project_id) {
        // Named neither the project nor the dataset: they may be another tenant's.
        return Status::permission_denied("field 'path': '" + d.path + "' is " + where +
                                         " a dataset of another project, and data belongs to "
                                         "one project");
      }
      if (security_rank(d.security_level) < security_rank(r.text("security_level"))) {
        return Status::permission_denied("field 'security_level': '" + d.path + "' is " + where +
                                         " dataset '" + r.text("name") + "', which is " +
                                         r.text("security_level") +
                                         "; the same data is never registered at a lower level");
      }
    }
    auto w = c.exec(std::string("INSERT INTO datasets (") + kColumns +
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    {d.id, d.project_id, d.name, d.path, d.security_level, d.created_by,
                     d.created_at_ms, d.folder_dev, d.folder_ino, d.bytes});
    if (!w.ok() && w.status().code() == Code::kAlreadyExists) {
      return Status::already_exists("dataset '" + d.name + "' already exists in this project");
    }
    return w.status();
  });
}

Result<DatasetRoot> Datasets::add_root(const std::string& workspace_id, const std::string& path,
                                       const std::string& created_by) {
  JZ_ASSIGN_OR_RETURN(fs::path real, real_folder(path));
  DatasetRoot root{real.string(), workspace_id, created_by, clock_.now_unix_ms()};
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT path, workspace_id FROM dataset_roots"));
    for (const auto& r : rows) {
      const fs::path other = r.text("path");
      if (!path_is_under(real, other) && !path_is_under(other, real)) continue;
      if (r.text("workspace_id") == workspace_id && other == real) {
        return Status::already_exists("'" + root.path + "' is already a root of this workspace");
      }
      return Status::failed_precondition(
          "field 'path': '" + root.path + "' overlaps the root '" + other.string() +
          (r.text("workspace_id") == workspace_id
               ? "' of this workspace"
               : "' of another workspace; a folder belongs to one workspace"));
    }
    return c
        .exec(
            "INSERT INTO dataset_roots (path, workspace_id, created_by, created_at_ms) VALUES "
            "(?, ?, ?, ?)",
            {root.path, root.workspace_id, root.created_by, root.created_at_ms})
        .status();
  }));
  return root;
}

Result<store::Page<DatasetRoot>> Datasets::roots(const std::string& workspace_id,
                                                 const store::PageSpec& page) {
  store::Page<DatasetRoot> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out,
        store::query_page<DatasetRoot>(
            c, kRoot, "SELECT " + kRoot.columns() + " FROM dataset_roots WHERE workspace_id = ?",
            {workspace_id}, "path", [](const DatasetRoot& r) { return r.path; }, page));
    return {};
  }));
  return out;
}

Status Datasets::remove_root(const std::string& workspace_id, const std::string& path) {
  int64_t n = 0;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(n, c.exec("DELETE FROM dataset_roots WHERE workspace_id = ? AND path = ?",
                                  {workspace_id, path}));
    return {};
  }));
  if (n == 0) return Status::not_found("'" + path + "' is not a dataset root of this workspace");
  return {};
}

Result<Dataset> Datasets::create_from_archive(const std::string& project_id,
                                              const std::string& name, std::string_view archive,
                                              const std::string& security_level,
                                              const std::string& created_by,
                                              std::optional<int64_t> quota_left) {
  return create_unpacked(project_id, name, archive.size(), security_level, created_by, quota_left,
                         [&](const std::string& dest, const ArchiveLimits& limits) {
                           return unpack_tar(archive, dest, limits, "archive");
                         });
}

Result<Dataset> Datasets::create_from_archive_file(const std::string& project_id,
                                                   const std::string& name,
                                                   const std::string& archive_path,
                                                   const std::string& security_level,
                                                   const std::string& created_by,
                                                   std::optional<int64_t> quota_left) {
  std::error_code ec;
  const uint64_t size = fs::file_size(archive_path, ec);
  if (ec) return Status::unavailable("cannot read " + archive_path + ": " + ec.message());
  return create_unpacked(project_id, name, size, security_level, created_by, quota_left,
                         [&](const std::string& dest, const ArchiveLimits& limits) {
                           return unpack_tar_file(archive_path, dest, limits, "archive");
                         });
}

Result<Dataset> Datasets::create_unpacked(
    const std::string& project_id, const std::string& name, uint64_t archive_bytes,
    const std::string& security_level, const std::string& created_by,
    std::optional<int64_t> quota_left,
    const std::function<Status(const std::string& dest, const ArchiveLimits& limits)>& unpack) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("name", name));
  if (security_rank(security_level) < 0) {
    return Status::invalid_argument(
        "query parameter 'security_level' must be open, internal or "
        "secret");
  }
  if (quota_left && *quota_left <= 0) {
    return Status::resource_exhausted(
        "the project's storage quota is used up (job outputs, logs and uploaded datasets); "
        "free some or ask for a larger storage_mib");
  }
  if (policy_.upload_dir.empty()) {
    return Status::failed_precondition("this server keeps no uploaded datasets");
  }
  if (get(project_id, name).ok()) {
    return Status::already_exists("dataset '" + name + "' already exists in this project");
  }
  // The name is reserved before anything is written: a second upload of the same name
  // is refused here and never touches the first one's files.
  const std::string key = project_id + "/" + name;
  {
    std::lock_guard lock(uploads_mu_);
    if (!uploads_.insert(key).second) {
      return Status::already_exists("dataset '" + name +
                                    "' is being uploaded right now; wait for that upload");
    }
  }
  struct Release {
    Datasets* self;
    std::string key;
    ~Release() {
      std::lock_guard lock(self->uploads_mu_);
      self->uploads_.erase(key);
    }
  } release{this, key};
  const fs::path project_dir = fs::path(policy_.upload_dir) / project_id;
  const fs::path dest = project_dir / name;
  std::error_code ec;
  fs::create_directories(project_dir, ec);
  if (ec) return Status::unavailable("cannot create " + project_dir.string() + ": " + ec.message());
  // Jobs read it as an unprivileged user: folders 0755, files 0644, and 0711 above.
  for (fs::path p = project_dir; p != fs::path(policy_.upload_dir).parent_path();
       p = p.parent_path()) {
    ::chmod(p.c_str(), 0711);
  }
  // Unpacked into a private folder, then renamed into place in one step.
  const fs::path tmp = project_dir / (".upload-" + ids_.next("tmp_"));
  if (::mkdir(tmp.c_str(), 0700) != 0) {
    return Status::unavailable("cannot create " + tmp.string() + ": " + errno_message(errno));
  }
  auto discard = [&](Status s) -> Status {
    fs::remove_all(tmp, ec);
    return s;
  };
  ArchiveLimits limits;
  limits.max_entries = policy_.upload_max_entries;
  limits.max_entry_bytes = limits.max_total_bytes = policy_.upload_max_bytes;
  if (policy_.upload_max_ratio > 0) {
    // A small archive that expands enormously is a bomb, not a dataset.
    limits.max_total_bytes =
        std::min<uint64_t>(limits.max_total_bytes,
                           std::max<uint64_t>(archive_bytes, 1 << 20) * policy_.upload_max_ratio);
  }
  if (quota_left) {
    limits.max_total_bytes = std::min<uint64_t>(limits.max_total_bytes, *quota_left);
  }
  Status unpacked = unpack(tmp.string(), limits);
  if (!unpacked.ok()) {
    std::string why = unpacked.message();
    if (quota_left && why.find("add up to more than") != std::string::npos &&
        limits.max_total_bytes == static_cast<uint64_t>(*quota_left)) {
      return discard(Status::resource_exhausted(
          "the archive unpacks to more than the " + std::to_string(*quota_left) +
          " bytes the project's storage quota has left; nothing was kept"));
    }
    if (why.find("add up to more than") != std::string::npos && policy_.upload_max_ratio > 0) {
      why += " (at most " + std::to_string(policy_.upload_max_ratio) +
             " times the archive's size, datasets.upload_max_ratio, and " +
             std::to_string(policy_.upload_max_bytes) + " bytes, datasets.upload_max_bytes)";
    }
    return discard(Status::invalid_argument("the archive was refused, nothing was kept: " + why));
  }
  ::chmod(tmp.c_str(), 0755);
  // A folder left by an upload that never finished (the server stopped): no dataset
  // points at it, and no upload of this name runs now.
  fs::remove_all(dest, ec);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    return discard(
        Status::unavailable("cannot move the upload into place: " + errno_message(errno)));
  }
  Dataset d{ids_.next("ds_"), project_id,          name, dest.string(), security_level,
            created_by,       clock_.now_unix_ms()};
  d.bytes = disk_bytes(dest.string());
  if (Status s = insert(d); !s.ok()) {
    fs::remove_all(dest, ec);
    return s;
  }
  return d;
}

Status devenv_may_mount(const Dataset& d) {
  if (security_rank(d.security_level) == 0) return {};
  return Status::permission_denied("dataset '" + d.name + "' is " + d.security_level +
                                   "; dev environments mount open datasets only (ask a data "
                                   "owner for an open sample, or run a batch job on it)");
}

int64_t disk_bytes(const std::string& folder) {
  int64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<int64_t>(st.st_blocks) * 512;
  }
  return total;
}

Result<Dataset> Datasets::get(const std::string& project_id, const std::string& name) {
  if (const size_t at = name.find('@'); at != std::string::npos) {
    const std::string base = name.substr(0, at);
    const auto number = parse_int64(name.substr(at + 1));
    if (!number || *number < 1 || base.empty()) {
      return Status::not_found("'" + name +
                               "' names no dataset version: write NAME@N, N 1, 2, ...");
    }
    JZ_ASSIGN_OR_RETURN(Dataset d, get(project_id, base));
    if (!version_folder_) return Status::not_found("this server keeps no dataset versions");
    JZ_ASSIGN_OR_RETURN(d.path, version_folder_(d, *number));
    d.name = name;
    d.folder_dev = d.folder_ino = 0;  // the platform's own folder, never swapped
    d.bytes = 0;
    return d;
  }
  std::optional<Dataset> d;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        d, store::query_one(c, kDataset, kDatasetSelect + " WHERE project_id = ? AND name = ?",
                            {project_id, name},
                            "dataset '" + name + "' does not exist in this project"));
    return {};
  }));
  return std::move(*d);
}

Result<store::Page<Dataset>> Datasets::list(const std::string& project_id,
                                            const store::PageSpec& page) {
  store::Page<Dataset> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out, store::query_page<Dataset>(
                 c, kDataset, kDatasetSelect + " WHERE project_id = ?", {project_id}, "name",
                 [](const Dataset& d) { return d.name; }, page));
    return {};
  }));
  return out;
}

Result<int64_t> Datasets::total_bytes(const std::string& project_id) {
  int64_t total = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT COALESCE(SUM(bytes), 0) AS total FROM datasets WHERE project_id = ?",
                {project_id}));
    total = rows.at(0).integer("total");
    return {};
  }));
  return total;
}

Status Datasets::remove(const std::string& project_id, const std::string& name) {
  JZ_ASSIGN_OR_RETURN(Dataset d, get(project_id, name));
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(int64_t n, c.exec("DELETE FROM datasets WHERE project_id = ? AND name = ?",
                                          {project_id, name}));
    if (n == 0) return Status::not_found("dataset '" + name + "' does not exist in this project");
    return {};
  }));
  // An uploaded dataset's files are the platform's; a registered folder is its owner's.
  std::error_code ec;
  if (!policy_.upload_dir.empty() &&
      path_is_under(d.path, fs::weakly_canonical(policy_.upload_dir, ec))) {
    fs::remove_all(d.path, ec);
  }
  return {};
}

Result<std::vector<DatasetFile>> Datasets::files(const Dataset& d, size_t limit) {
  std::vector<DatasetFile> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(d.path, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Status::unavailable("cannot read dataset '" + d.name + "': " + ec.message());
  for (; it != fs::recursive_directory_iterator() && out.size() < limit; it.increment(ec)) {
    if (ec) break;
    const auto st = it->symlink_status(ec);
    if (ec || fs::is_directory(st)) continue;
    DatasetFile f;
    // Lexically: fs::relative() resolves symlinks, which named a link by its target.
    f.path = it->path().lexically_relative(d.path).string();
    f.size = fs::is_regular_file(st) ? static_cast<int64_t>(it->file_size(ec)) : 0;
    out.push_back(f);
  }
  return out;
}

Result<std::string> Datasets::file_path(const Dataset& d, const std::string& relative) {
  std::error_code ec;
  const fs::path p = fs::canonical(fs::path(d.path) / relative, ec);
  if (ec || !path_is_under(p, d.path) || !fs::is_regular_file(p, ec)) {
    return Status::not_found("dataset '" + d.name + "' has no file '" + relative + "'");
  }
  return p.string();
}

}  // namespace jz::jobs
