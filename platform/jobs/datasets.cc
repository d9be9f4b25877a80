#include "platform/jobs/datasets.h"

#include <sys/stat.h>

#include <filesystem>

#include "core/files.h"
#include "platform/iam/tenancy.h"
#include "sdk/package.h"

namespace jz::jobs {

namespace fs = std::filesystem;

int security_rank(const std::string& level) {
  if (level == "open") return 0;
  if (level == "internal") return 1;
  if (level == "secret") return 2;
  return -1;
}

namespace {

bool is_under(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

Dataset from_row(const store::Row& r) {
  return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.integer(6)};
}

constexpr const char* kColumns =
    "id, project_id, name, path, security_level, created_by, created_at_ms";

}  // namespace

Result<Dataset> Datasets::create(const std::string& project_id, const std::string& name,
                                 const std::string& path, const std::string& security_level,
                                 const std::string& created_by, bool platform_admin) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("name", name));
  if (security_rank(security_level) < 0) {
    return Status::invalid_argument("field 'security_level' must be open, internal or secret");
  }
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
    if (is_under(real, data) || is_under(data, real)) {
      return Status::permission_denied(
          "field 'path': '" + path +
          "' holds or is inside the platform's data folder, which is never a dataset");
    }
  }
  if (!platform_admin) {
    bool allowed = false;
    for (const auto& root : policy_.roots) {
      const fs::path r = fs::weakly_canonical(root, ec);
      if (!ec && is_under(real, r)) allowed = true;
    }
    if (!allowed) {
      std::string list;
      for (const auto& r : policy_.roots) list += (list.empty() ? "" : ", ") + r;
      return Status::permission_denied(
          "field 'path': '" + path + "' is not under a dataset root (" +
          (list.empty() ? "none configured: an operator sets datasets.roots" : list) +
          "); ask a platform admin to register it or to add a root");
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

Status Datasets::insert(const Dataset& d) {
  return db_.transact([&](store::Conn& c) -> Status {
    auto r = c.exec(
        std::string("INSERT INTO datasets (") + kColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
        {d.id, d.project_id, d.name, d.path, d.security_level, d.created_by, d.created_at_ms});
    if (!r.ok() && r.status().code() == Code::kAlreadyExists) {
      return Status::already_exists("dataset '" + d.name + "' already exists in this project");
    }
    return r.status();
  });
}

Result<Dataset> Datasets::create_from_archive(const std::string& project_id,
                                              const std::string& name, std::string_view archive,
                                              const std::string& security_level,
                                              const std::string& created_by) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("name", name));
  if (security_rank(security_level) < 0) {
    return Status::invalid_argument(
        "query parameter 'security_level' must be open, internal or "
        "secret");
  }
  if (policy_.upload_dir.empty()) {
    return Status::failed_precondition("this server keeps no uploaded datasets");
  }
  if (get(project_id, name).ok()) {
    return Status::already_exists("dataset '" + name + "' already exists in this project");
  }
  const fs::path dest = fs::path(policy_.upload_dir) / project_id / name;
  std::error_code ec;
  if (fs::exists(dest, ec)) fs::remove_all(dest, ec);  // a refused upload's leftovers
  fs::create_directories(dest, ec);
  if (ec) return Status::unavailable("cannot create " + dest.string() + ": " + ec.message());
  // Jobs read it as an unprivileged user: folders 0755, files 0644, and 0711 above.
  for (fs::path p = dest.parent_path(); p != fs::path(policy_.upload_dir).parent_path();
       p = p.parent_path()) {
    ::chmod(p.c_str(), 0711);
  }
  ::chmod(dest.c_str(), 0755);
  sdk::PackageLimits limits;
  limits.max_entries = 1000000;
  Status unpacked = sdk::read_package_entries(
      archive, limits, [&](const std::string& entry, std::string bytes) -> Status {
        const fs::path file = dest / entry;
        for (fs::path dir = file.parent_path(); dir != dest; dir = dir.parent_path()) {
          fs::create_directories(dir, ec);
          ::chmod(dir.c_str(), 0755);
        }
        return write_file(file.string(), bytes, 0644, true, false);
      });
  if (!unpacked.ok()) {
    fs::remove_all(dest, ec);
    return Status::invalid_argument("the archive was refused, nothing was kept: " +
                                    unpacked.message());
  }
  Dataset d{ids_.next("ds_"), project_id,          name, dest.string(), security_level,
            created_by,       clock_.now_unix_ms()};
  if (Status s = insert(d); !s.ok()) {
    fs::remove_all(dest, ec);
    return s;
  }
  return d;
}

Result<Dataset> Datasets::get(const std::string& project_id, const std::string& name) {
  std::optional<Dataset> d;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(std::string("SELECT ") + kColumns +
                                               " FROM datasets WHERE project_id = ? AND name = ?",
                                           {project_id, name}));
    if (!rows.empty()) d = from_row(rows[0]);
    return {};
  }));
  if (!d) return Status::not_found("dataset '" + name + "' does not exist in this project");
  return *d;
}

Result<std::vector<Dataset>> Datasets::list(const std::string& project_id) {
  std::vector<Dataset> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(std::string("SELECT ") + kColumns +
                                               " FROM datasets WHERE project_id = ? ORDER BY name",
                                           {project_id}));
    for (const auto& r : rows) out.push_back(from_row(r));
    return {};
  }));
  return out;
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
      is_under(d.path, fs::weakly_canonical(policy_.upload_dir, ec))) {
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
    f.path = fs::relative(it->path(), d.path, ec).string();
    f.size = fs::is_regular_file(st) ? static_cast<int64_t>(it->file_size(ec)) : 0;
    out.push_back(f);
  }
  return out;
}

Result<std::string> Datasets::file_path(const Dataset& d, const std::string& relative) {
  std::error_code ec;
  const fs::path p = fs::canonical(fs::path(d.path) / relative, ec);
  if (ec || !is_under(p, d.path) || !fs::is_regular_file(p, ec)) {
    return Status::not_found("dataset '" + d.name + "' has no file '" + relative + "'");
  }
  return p.string();
}

}  // namespace jz::jobs
