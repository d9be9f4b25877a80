#include "platform/datasets/versions.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/files.h"
#include "core/hash.h"
#include "store/rows.h"

namespace jz::datasets {

namespace fs = std::filesystem;

namespace {

const store::RowMap<Version> kVersion{{"id", &Version::id},
                                      {"project_id", &Version::project_id},
                                      {"dataset_id", &Version::dataset_id},
                                      {"number", &Version::number},
                                      {"parent", &Version::parent},
                                      {"message", &Version::message},
                                      {"manifest", &Version::manifest},
                                      {"files", &Version::files},
                                      {"bytes", &Version::bytes},
                                      {"new_bytes", &Version::new_bytes},
                                      {"added", &Version::added},
                                      {"removed", &Version::removed},
                                      {"changed", &Version::changed},
                                      {"created_by", &Version::created_by},
                                      {"created_at_ms", &Version::created_at_ms},
                                      {"archived_at_ms", &Version::archived_at_ms}};
const std::string kSelect = "SELECT " + kVersion.columns() + ", splits, tags FROM dataset_versions";

Version version_of(const store::Row& row, const std::string& dataset) {
  Version v;
  kVersion.read(row, v);
  v.dataset = dataset;
  auto splits = json::parse(row.text(row.index_of("splits")));
  auto tags = json::parse(row.text(row.index_of("tags")));
  v.splits = splits.ok() && splits->is_object() ? *splits : Json::object();
  v.tags = tags.ok() && tags->is_object() ? *tags : Json::object();
  return v;
}

}  // namespace

Status check_label(const std::string& what, const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64 && s[0] != '.' && s[0] != '-';
  for (char c : s)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (ok) return {};
  return Status::invalid_argument(what + " '" + s +
                                  "' must be 1-64 letters, digits, '_', '-' or '.', not starting "
                                  "with '.' or '-'");
}

namespace {

// A share in [0, 1) from the path alone: the same path falls in the same split in every
// version and on every server.
double share_of(const std::string& path) {
  const std::string h = sha256_hex(path);
  return static_cast<double>(std::stoull(h.substr(0, 13), nullptr, 16)) /
         static_cast<double>(uint64_t{1} << 52);
}

std::string top_folder(const std::string& path) {
  const size_t slash = path.find('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string split_for(const std::string& path, const SnapshotRequest& r) {
  if (!r.split_ratios.empty()) {
    double x = share_of(path), sum = 0;
    for (const auto& [name, share] : r.split_ratios) {
      sum += share;
      if (x < sum) return name;
    }
    return r.split_ratios.rbegin()->first;
  }
  std::string top = top_folder(path);
  if (top == "train" || top == "test") return top;
  if (top == "val" || top == "valid" || top == "validation") return "val";
  return "train";
}

void add_tag(std::vector<std::string>& tags, const std::string& t) {
  auto it = std::lower_bound(tags.begin(), tags.end(), t);
  if (it == tags.end() || *it != t) tags.insert(it, t);
}

Json manifest_json(const std::vector<VersionFile>& files) {
  Json out = Json::array();
  for (const auto& f : files) out.push_back(f.to_json());
  return Json{{"files", std::move(out)}};
}

Result<std::vector<VersionFile>> files_of(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) {
    return Status::internal(where + ": not a version manifest");
  }
  std::vector<VersionFile> out;
  out.reserve(j["files"].size());
  for (const auto& e : j["files"]) {
    VersionFile f;
    f.path = e.value("path", "");
    f.sha256 = e.value("sha256", "");
    f.size = e.value("size", int64_t{0});
    f.split = e.value("split", "");
    if (e.contains("tags") && e["tags"].is_array()) {
      for (const auto& t : e["tags"])
        if (t.is_string()) f.tags.push_back(t.get<std::string>());
    }
    if (f.path.empty() || f.sha256.size() != 64) {
      return Status::internal(where + ": an entry without a path or SHA-256");
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Json VersionFile::to_json() const {
  return {{"path", path}, {"sha256", sha256}, {"size", size}, {"split", split}, {"tags", tags}};
}

Json Version::to_json() const {
  return {{"id", id},
          {"dataset", dataset},
          {"number", number},
          {"parent", parent > 0 ? Json(parent) : Json(nullptr)},
          {"message", message},
          {"manifest", manifest},
          {"files", files},
          {"bytes", bytes},
          {"new_bytes", new_bytes},
          {"added", added},
          {"removed", removed},
          {"changed", changed},
          {"splits", splits},
          {"tags", tags},
          {"created_by", created_by},
          {"created_at_ms", created_at_ms},
          {"archived_at_ms", archived_at_ms ? Json(*archived_at_ms) : Json(nullptr)}};
}

Result<SnapshotRequest> parse_snapshot_request(const Json& body) {
  SnapshotRequest r;
  if (!body.is_object()) return Status::invalid_argument("the body must be a JSON object");
  for (const auto& [key, _] : body.items()) {
    if (key != "message" && key != "splits" && key != "tags" && key != "tag_by_folder") {
      return Status::invalid_argument("unknown field '" + key +
                                      "' (message, splits, tags, tag_by_folder)");
    }
  }
  if (body.contains("message")) {
    if (!body["message"].is_string() || body["message"].get<std::string>().size() > 1000) {
      return Status::invalid_argument("field 'message' must be text of at most 1000 characters");
    }
    r.message = body["message"];
  }
  if (body.contains("splits")) {
    const Json& s = body["splits"];
    if (!s.is_object() || s.empty() || s.size() > 16) {
      return Status::invalid_argument(
          "field 'splits' must map 1-16 split names to shares summing to 1, e.g. "
          "{\"train\": 0.8, \"val\": 0.1, \"test\": 0.1}");
    }
    double sum = 0;
    for (const auto& [name, share] : s.items()) {
      JZ_RETURN_IF_ERROR(check_label("field 'splits': split", name));
      if (!share.is_number() || share.get<double>() <= 0 || share.get<double>() > 1) {
        return Status::invalid_argument("field 'splits': the share of '" + name +
                                        "' must be a number in (0, 1]");
      }
      r.split_ratios[name] = share.get<double>();
      sum += share.get<double>();
    }
    if (std::abs(sum - 1) > 1e-6) {
      return Status::invalid_argument("field 'splits': the shares sum to " + json::dump(Json(sum)) +
                                      ", not 1");
    }
  }
  if (body.contains("tags")) {
    if (!body["tags"].is_array() || body["tags"].size() > 32) {
      return Status::invalid_argument("field 'tags' must list at most 32 tags");
    }
    for (const auto& t : body["tags"]) {
      if (!t.is_string()) return Status::invalid_argument("field 'tags' must list strings");
      JZ_RETURN_IF_ERROR(check_label("field 'tags': tag", t.get<std::string>()));
      r.tags.push_back(t);
    }
  }
  if (body.contains("tag_by_folder")) {
    if (!body["tag_by_folder"].is_boolean()) {
      return Status::invalid_argument("field 'tag_by_folder' must be true or false");
    }
    r.tag_by_folder = body["tag_by_folder"];
  }
  return r;
}

DatasetVersions::DatasetVersions(store::Database& db, Clock& clock, IdGenerator& ids,
                                 jobs::Datasets& datasets, VersionOptions options)
    : db_(db), clock_(clock), ids_(ids), datasets_(datasets), options_(std::move(options)) {
  datasets_.resolve_versions([this](const jobs::Dataset& d, int64_t number) -> Result<std::string> {
    std::optional<Version> v;
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
      JZ_ASSIGN_OR_RETURN(
          auto rows, c.query(kSelect + " WHERE dataset_id = ? AND number = ?", {d.id, number}));
      if (!rows.empty()) v = version_of(rows.at(0), d.name);
      return {};
    }));
    if (!v) {
      return Status::not_found("dataset '" + d.name + "' has no version " + std::to_string(number));
    }
    if (v->archived_at_ms) {
      return Status::failed_precondition("version " + std::to_string(number) + " of dataset '" +
                                         d.name + "' is archived; restore it first");
    }
    return tree(*v);
  });
}

std::string DatasetVersions::blob_path(const std::string& project_id,
                                       const std::string& sha) const {
  return options_.dir + "/blobs/" + project_id + "/" + sha.substr(0, 2) + "/" + sha;
}

std::string DatasetVersions::archive_path(const std::string& project_id,
                                          const std::string& sha) const {
  const std::string root =
      options_.archive_dir.empty() ? options_.dir + "/archive" : options_.archive_dir;
  return root + "/blobs/" + project_id + "/" + sha.substr(0, 2) + "/" + sha;
}

std::string DatasetVersions::tree(const Version& v) const {
  return options_.dir + "/trees/" + v.project_id + "/" + v.dataset_id + "/" +
         std::to_string(v.number);
}

Result<std::string> DatasetVersions::store_file(const std::string& project_id, int source_fd,
                                                int64_t size, int64_t* added) {
  const std::string tmp_dir = options_.dir + "/blobs/" + project_id + "/tmp";
  std::error_code ec;
  fs::create_directories(tmp_dir, ec);
  std::string tmp = tmp_dir + "/XXXXXX";
  const int out = ::mkstemp(tmp.data());
  if (out < 0) {
    return Status::unavailable("cannot write to the dataset store (" + tmp_dir +
                               "): " + errno_message(errno));
  }
  Sha256 h;
  std::string buf(1 << 20, '\0');
  int64_t copied = 0;
  Status st;
  while (st.ok()) {
    const ssize_t n = ::read(source_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status::unavailable(std::string("read failed: ") + errno_message(errno));
      break;
    }
    if (n == 0) break;
    h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    st = write_all(out, std::string_view(buf.data(), static_cast<size_t>(n)), "the dataset store");
    copied += n;
    if (copied > size + (int64_t{1} << 30))
      st = Status::unavailable("the file grows as it is read");
  }
  ::fchmod(out, 0444);
  ::close(out);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  const std::string sha = h.hex();
  const std::string dest = blob_path(project_id, sha);
  if (fs::exists(dest, ec)) {
    ::unlink(tmp.c_str());
    *added = 0;
    return sha;
  }
  fs::create_directories(fs::path(dest).parent_path(), ec);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::unavailable("cannot store a file in the dataset store: " + errno_message(e));
  }
  *added = copied;
  return sha;
}

Result<Version> DatasetVersions::snapshot(const std::string& project_id, const std::string& dataset,
                                          const SnapshotRequest& r, const std::string& actor,
                                          std::optional<int64_t> quota_left) {
  std::lock_guard lock(mu_);
  JZ_ASSIGN_OR_RETURN(jobs::Dataset d, datasets_.get(project_id, dataset));
  std::optional<Version> parent;
  std::map<std::string, VersionFile> before;
  if (auto last = get(project_id, dataset, 0); last.ok()) {
    parent = *last;
    JZ_ASSIGN_OR_RETURN(auto old, manifest(*parent));
    for (auto& f : old) before.emplace(f.path, std::move(f));
  }
  std::vector<VersionFile> files;
  std::vector<std::string> stored;  // blobs this snapshot added (removed again on failure)
  int64_t new_bytes = 0;
  auto fail = [&](Status s) -> Status {
    for (const auto& sha : stored) ::unlink(blob_path(project_id, sha).c_str());
    return s;
  };
  std::error_code ec;
  fs::recursive_directory_iterator it(d.path, fs::directory_options::none, ec);
  if (ec) return Status::unavailable("cannot read dataset '" + d.name + "': " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      return fail(Status::unavailable("cannot read dataset '" + d.name + "': " + ec.message()));
    const auto st = it->symlink_status(ec);
    // Links and special files are not part of a version (a link could reach outside).
    if (ec || !fs::is_regular_file(st)) continue;
    const std::string rel = it->path().lexically_relative(d.path).generic_string();
    if (files.size() >= options_.max_files) {
      return fail(Status::resource_exhausted(
          "dataset '" + d.name + "' has more than " + std::to_string(options_.max_files) +
          " files; a version holds at most that many (split the dataset)"));
    }
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return fail(Status::unavailable("cannot read '" + rel + "' of dataset '" + d.name +
                                      "': " + errno_message(errno)));
    }
    struct stat fst;
    if (::fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
      ::close(fd);
      continue;
    }
    if (fst.st_size > options_.max_file_bytes) {
      ::close(fd);
      return fail(Status::resource_exhausted("'" + rel + "' of dataset '" + d.name +
                                             "' is larger than a version's limit of " +
                                             std::to_string(options_.max_file_bytes) + " bytes"));
    }
    int64_t added = 0;
    auto sha = store_file(project_id, fd, fst.st_size, &added);
    ::close(fd);
    if (!sha.ok())
      return fail(Status(sha.status().code(), "'" + rel + "': " + sha.status().message()));
    if (added > 0) stored.push_back(*sha);
    new_bytes += added;
    if (quota_left && new_bytes > *quota_left) {
      return fail(Status::resource_exhausted(
          "this version would store " + std::to_string(new_bytes >> 20) +
          " MiB more than the project's storage quota allows; free some or ask for a larger "
          "storage_mib"));
    }
    VersionFile f;
    f.path = rel;
    f.sha256 = *sha;
    f.size = fst.st_size;
    if (auto b = before.find(rel); b != before.end() && b->second.sha256 == f.sha256) {
      f.split = b->second.split;
      f.tags = b->second.tags;
    } else {
      f.split = split_for(rel, r);
      for (const auto& t : r.tags) add_tag(f.tags, t);
      if (r.tag_by_folder && !top_folder(rel).empty()) {
        const std::string top = top_folder(rel);
        if (check_label("tag", top).ok()) add_tag(f.tags, top);
      }
    }
    files.push_back(std::move(f));
  }
  std::map<std::string, std::string> parent_shas;
  for (const auto& [path, f] : before) parent_shas.emplace(path, f.sha256);
  auto v = commit(d, std::move(files), parent, std::move(parent_shas), r.message, new_bytes, actor);
  if (!v.ok()) return fail(v.status());
  return v;
}

Result<Version> DatasetVersions::derive(const std::string& project_id, const std::string& dataset,
                                        int64_t base, const Changes& ch, const std::string& actor) {
  std::lock_guard lock(mu_);
  JZ_ASSIGN_OR_RETURN(jobs::Dataset d, datasets_.get(project_id, dataset));
  JZ_ASSIGN_OR_RETURN(Version from, get(project_id, dataset, base));
  JZ_ASSIGN_OR_RETURN(auto files, manifest(from));
  std::map<std::string, size_t> at;
  std::map<std::string, std::string> base_shas;
  for (size_t i = 0; i < files.size(); ++i) {
    at[files[i].path] = i;
    base_shas[files[i].path] = files[i].sha256;
  }
  auto find = [&](const std::string& path) -> Result<size_t> {
    auto it = at.find(path);
    if (it == at.end()) {
      return Status::invalid_argument("'" + path + "' is not a file of version " +
                                      std::to_string(from.number) + " of dataset '" + dataset +
                                      "'");
    }
    return it->second;
  };
  for (const auto& [path, split] : ch.set_split) {
    JZ_RETURN_IF_ERROR(check_label("split", split));
    JZ_ASSIGN_OR_RETURN(size_t i, find(path));
    files[i].split = split;
  }
  for (const auto& [path, tags] : ch.add_tags) {
    JZ_ASSIGN_OR_RETURN(size_t i, find(path));
    for (const auto& t : tags) {
      JZ_RETURN_IF_ERROR(check_label("tag", t));
      add_tag(files[i].tags, t);
    }
  }
  for (const auto& [path, tags] : ch.remove_tags) {
    JZ_ASSIGN_OR_RETURN(size_t i, find(path));
    for (const auto& t : tags) std::erase(files[i].tags, t);
  }
  std::vector<bool> gone(files.size(), false);
  for (const auto& path : ch.remove) {
    JZ_ASSIGN_OR_RETURN(size_t i, find(path));
    gone[i] = true;
  }
  std::vector<VersionFile> kept;
  kept.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i)
    if (!gone[i] && !ch.add.count(files[i].path)) kept.push_back(std::move(files[i]));
  std::vector<std::string> stored;  // blobs this version added (removed again on failure)
  auto fail = [&](Status s) -> Status {
    for (const auto& sha : stored) ::unlink(blob_path(project_id, sha).c_str());
    return s;
  };
  int64_t new_bytes = 0;
  if (!ch.add.empty()) JZ_RETURN_IF_ERROR(check_label("split", ch.add_split));
  for (const auto& [path, content] : ch.add) {
    const fs::path rel = fs::path(path).lexically_normal();
    if (path.empty() || path.size() > 1000 || rel.is_absolute() || rel.generic_string() != path ||
        *rel.begin() == "..") {
      return fail(
          Status::invalid_argument("'" + path + "' must be a relative path inside the dataset"));
    }
    const int fd = ::memfd_create("version-file", MFD_CLOEXEC);
    if (fd < 0) return fail(Status::unavailable("memfd_create: " + errno_message(errno)));
    Status w = write_all(fd, content, "a version's new file");
    if (w.ok() && ::lseek(fd, 0, SEEK_SET) != 0) w = Status::unavailable("lseek failed");
    int64_t added = 0;
    auto sha = w.ok() ? store_file(project_id, fd, static_cast<int64_t>(content.size()), &added)
                      : Result<std::string>(w);
    ::close(fd);
    if (!sha.ok())
      return fail(Status(sha.status().code(), "'" + path + "': " + sha.status().message()));
    if (added > 0) stored.push_back(*sha);
    new_bytes += added;
    kept.push_back({.path = path,
                    .sha256 = *sha,
                    .size = static_cast<int64_t>(content.size()),
                    .split = ch.add_split});
  }
  auto v = commit(d, std::move(kept), from, std::move(base_shas), ch.message, new_bytes, actor);
  if (!v.ok()) return fail(v.status());
  return v;
}

Status DatasetVersions::build_tree(const std::string& project_id, int64_t number,
                                   const std::string& dest, const std::vector<VersionFile>& files) {
  // The folder of links, built aside and renamed into place.
  const std::string building = dest + ".building";
  std::error_code ec;
  fs::remove_all(building, ec);
  fs::remove_all(dest, ec);
  for (const auto& f : files) {
    const fs::path to = fs::path(building) / f.path;
    fs::create_directories(to.parent_path(), ec);
    const std::string from = blob_path(project_id, f.sha256);
    if (::link(from.c_str(), to.c_str()) != 0) {
      fs::copy_file(from, to, ec);
      if (ec) {
        fs::remove_all(building, ec);
        return Status::unavailable("cannot make the folder of version " + std::to_string(number) +
                                   ": " + ec.message());
      }
    }
  }
  fs::create_directories(building, ec);
  // Jobs read the folder as an unprivileged user: folders 0755 (files are 0444), 0711 above.
  ::chmod(building.c_str(), 0755);
  for (fs::recursive_directory_iterator it(building, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0755);
  }
  for (fs::path p = fs::path(dest).parent_path(); p != fs::path(options_.dir).parent_path();
       p = p.parent_path()) {
    ::chmod(p.c_str(), 0711);
  }
  // The store's files reach the disk before the version that names them is recorded.
  if (const int fd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
  fs::rename(building, dest, ec);
  if (ec) {
    fs::remove_all(building, ec);
    return Status::unavailable("cannot make the folder of version " + std::to_string(number));
  }
  return {};
}

Result<Version> DatasetVersions::commit(const jobs::Dataset& d, std::vector<VersionFile> files,
                                        const std::optional<Version>& parent,
                                        std::map<std::string, std::string> before,
                                        const std::string& message, int64_t new_bytes,
                                        const std::string& actor) {
  std::sort(files.begin(), files.end(),
            [](const VersionFile& a, const VersionFile& b) { return a.path < b.path; });
  Version v;
  v.id = ids_.next("dsv_");
  v.project_id = d.project_id;
  v.dataset_id = d.id;
  v.dataset = d.name;
  v.parent = parent ? parent->number : 0;
  v.message = message;
  v.new_bytes = new_bytes;
  v.created_by = actor;
  v.created_at_ms = clock_.now_unix_ms();
  for (const auto& f : files) {
    ++v.files;
    v.bytes += f.size;
    v.splits[f.split] = v.splits.value(f.split, 0) + 1;
    for (const auto& t : f.tags) v.tags[t] = v.tags.value(t, 0) + 1;
    auto b = before.find(f.path);
    if (b == before.end()) {
      ++v.added;
    } else {
      if (b->second != f.sha256) ++v.changed;
      before.erase(b);
    }
  }
  v.removed = static_cast<int64_t>(before.size());
  const std::string text = json::dump(manifest_json(files));
  v.manifest = sha256_hex(text);
  const std::string manifests = options_.dir + "/manifests/" + d.project_id;
  std::error_code ec;
  fs::create_directories(manifests, ec);
  JZ_RETURN_IF_ERROR(write_file(manifests + "/" + v.manifest + ".json", text, 0444));
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        c.query("SELECT COALESCE(MAX(number), 0) AS n FROM dataset_versions "
                                "WHERE dataset_id = ?",
                                {d.id}));
    v.number = rows.at(0).integer("n") + 1;
    return {};
  }));
  const std::string dest = tree(v);
  JZ_RETURN_IF_ERROR(build_tree(d.project_id, v.number, dest, files));
  Status s = db_.transact([&](store::Conn& c) -> Status {
    return c
        .exec(
            "INSERT INTO dataset_versions (id, project_id, dataset_id, number, parent, message, "
            "manifest, files, bytes, new_bytes, added, removed, changed, splits, tags, "
            "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {v.id, v.project_id, v.dataset_id, v.number, v.parent, v.message, v.manifest, v.files,
             v.bytes, v.new_bytes, v.added, v.removed, v.changed, json::dump(v.splits),
             json::dump(v.tags), v.created_by, v.created_at_ms})
        .status();
  });
  if (!s.ok()) {
    fs::remove_all(dest, ec);
    return s;
  }
  return v;
}

Result<std::vector<Version>> DatasetVersions::list(const std::string& project_id,
                                                   const std::string& dataset) {
  JZ_ASSIGN_OR_RETURN(jobs::Dataset d, datasets_.get(project_id, dataset));
  std::vector<Version> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE project_id = ? AND dataset_id = ? "
                                                     "ORDER BY number DESC",
                                           {project_id, d.id}));
    for (const auto& row : rows) out.push_back(version_of(row, d.name));
    return {};
  }));
  return out;
}

Result<Version> DatasetVersions::get(const std::string& project_id, const std::string& dataset,
                                     int64_t number) {
  JZ_ASSIGN_OR_RETURN(jobs::Dataset d, datasets_.get(project_id, dataset));
  std::optional<Version> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    const std::string sql = kSelect + " WHERE project_id = ? AND dataset_id = ?" +
                            (number > 0 ? " AND number = ?" : " ORDER BY number DESC LIMIT 1");
    store::Params params = {project_id, d.id};
    if (number > 0) params.emplace_back(number);
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
    if (!rows.empty()) out = version_of(rows.at(0), d.name);
    return {};
  }));
  if (!out) {
    return Status::not_found(
        number > 0 ? "dataset '" + dataset + "' has no version " + std::to_string(number)
                   : "dataset '" + dataset + "' has no version yet (make one: POST .../versions)");
  }
  return *out;
}

Result<std::vector<VersionFile>> DatasetVersions::manifest(const Version& v) const {
  const std::string path = options_.dir + "/manifests/" + v.project_id + "/" + v.manifest + ".json";
  JZ_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto j = json::parse(text);
  if (!j.ok())
    return Status::internal("the manifest of version " + std::to_string(v.number) +
                            " is damaged: " + j.status().message());
  return files_of(*j, "the manifest of version " + std::to_string(v.number));
}

Result<std::vector<VersionFile>> DatasetVersions::files(const Version& v, const FileFilter& f) {
  JZ_ASSIGN_OR_RETURN(auto all, manifest(v));
  std::vector<VersionFile> out;
  for (auto& file : all) {
    if (out.size() >= f.limit) break;
    if (!f.after.empty() && file.path <= f.after) continue;
    if (!f.split.empty() && file.split != f.split) continue;
    if (!f.tag.empty() && !std::binary_search(file.tags.begin(), file.tags.end(), f.tag)) continue;
    if (!f.prefix.empty() && file.path.rfind(f.prefix, 0) != 0) continue;
    if (f.keep && !f.keep(file)) continue;
    out.push_back(std::move(file));
  }
  return out;
}

Result<std::string> DatasetVersions::file_path(const Version& v, const std::string& path) const {
  auto missing = [&] {
    return Status::not_found("version " + std::to_string(v.number) + " of dataset '" + v.dataset +
                             "' has no file '" + path + "'");
  };
  // Names as the manifest holds them: relative, without "." or ".." parts.
  if (path.empty() || path[0] == '/') return missing();
  for (const auto& part : fs::path(path)) {
    if (part == "." || part == "..") return missing();
  }
  if (v.archived_at_ms) {
    return Status::failed_precondition("version " + std::to_string(v.number) + " of dataset '" +
                                       v.dataset + "' is archived; restore it first");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(tree(v), ec);
  if (ec)
    return Status::unavailable("the folder of version " + std::to_string(v.number) + " is missing");
  const fs::path p = fs::canonical(root / path, ec);
  if (ec || !path_is_under(p, root) || !fs::is_regular_file(p, ec)) return missing();
  return p.string();
}

Result<std::string> DatasetVersions::busy_locked(store::Conn& c, const Version& v) {
  // People are labelling it: its images must stay until their task is done or deleted.
  JZ_ASSIGN_OR_RETURN(auto tasks, c.query("SELECT name FROM label_tasks WHERE dataset_id = ? "
                                          "AND number = ? AND state = 'open' ORDER BY name",
                                          {v.dataset_id, v.number}));
  if (!tasks.empty()) {
    return "it is being labelled (task " + tasks.at(0).text(0) +
           "); export or delete the task first";
  }
  // A curation's job reads its folder.
  JZ_ASSIGN_OR_RETURN(auto curations,
                      c.query("SELECT id FROM dataset_curations WHERE dataset_id = ? AND "
                              "number = ? AND state IN ('queued', 'running') ORDER BY id",
                              {v.dataset_id, v.number}));
  if (!curations.empty()) {
    return "it is being curated (" + curations.at(0).text(0) + "); wait for it or cancel its job";
  }
  JZ_ASSIGN_OR_RETURN(auto conversions,
                      c.query("SELECT id FROM dataset_conversions WHERE dataset_id = ? AND "
                              "number = ? AND state IN ('queued', 'running') ORDER BY id",
                              {v.dataset_id, v.number}));
  if (!conversions.empty()) {
    return "its annotations are being converted (" + conversions.at(0).text(0) +
           "); wait for it or cancel its job";
  }
  return std::string();
}

Result<std::string> DatasetVersions::busy(const Version& v) {
  std::string why;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(why, busy_locked(c, v));
    return {};
  }));
  return why;
}

Status DatasetVersions::remove(const std::string& project_id, const std::string& dataset,
                               int64_t number) {
  {
    std::lock_guard lock(mu_);
    JZ_ASSIGN_OR_RETURN(Version v, get(project_id, dataset, number));
    JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
      JZ_ASSIGN_OR_RETURN(std::string why, busy_locked(c, v));
      if (!why.empty()) {
        return Status::failed_precondition("version " + std::to_string(v.number) + " of dataset '" +
                                           dataset + "' cannot be deleted: " + why);
      }
      // What was derived from it goes with it (labels and proposals by their foreign keys).
      JZ_RETURN_IF_ERROR(c.exec("DELETE FROM label_tasks WHERE dataset_id = ? AND number = ?",
                                {v.dataset_id, v.number})
                             .status());
      for (const char* table : {"dataset_curations", "dataset_conversions"}) {
        JZ_RETURN_IF_ERROR(
            c.exec(std::string("DELETE FROM ") + table + " WHERE dataset_id = ? AND number = ?",
                   {v.dataset_id, v.number})
                .status());
      }
      return c.exec("DELETE FROM dataset_versions WHERE id = ?", {v.id}).status();
    }));
  }
  return collect_garbage(project_id);
}

namespace {

// Moves (or, when `keep` is set, copies) the file `from` to `to`, making its folder; a
// rename when both are on one file system. The copy is written aside and renamed, so `to`
// is either whole or absent.
Status move_file(const std::string& from, const std::string& to, bool keep) {
  std::error_code ec;
  fs::create_directories(fs::path(to).parent_path(), ec);
  if (fs::exists(to, ec)) {
    if (!keep) fs::remove(from, ec);
    return {};
  }
  if (!keep && ::rename(from.c_str(), to.c_str()) == 0) return {};
  const std::string tmp = to + ".part";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::unavailable("cannot copy " + fs::path(from).filename().string() + ": " +
                               ec.message());
  }
  ::chmod(to.c_str(), 0444);
  if (!keep) fs::remove(from, ec);
  return {};
}

}  // namespace

Result<Version> DatasetVersions::archive(const std::string& project_id, const std::string& dataset,
                                         int64_t number) {
  Version v;
  {
    std::lock_guard lock(mu_);
    JZ_ASSIGN_OR_RETURN(v, get(project_id, dataset, number));
    if (v.archived_at_ms) return v;
    JZ_ASSIGN_OR_RETURN(Version newest, get(project_id, dataset, 0));
    if (newest.number == v.number) {
      return Status::failed_precondition("version " + std::to_string(number) + " of dataset '" +
                                         dataset + "' is the newest; it cannot be archived");
    }
    JZ_ASSIGN_OR_RETURN(std::string why, busy(v));
    if (!why.empty()) {
      return Status::failed_precondition("version " + std::to_string(number) + " of dataset '" +
                                         dataset + "' cannot be archived: " + why);
    }
    JZ_ASSIGN_OR_RETURN(auto files, manifest(v));
    // Copied first (the active store keeps every file until the version is marked), so a
    // failure half-way leaves the version as it was; garbage collection then drops the
    // active copies no unarchived version holds.
    for (const auto& f : files) {
      JZ_RETURN_IF_ERROR(move_file(blob_path(project_id, f.sha256),
                                   archive_path(project_id, f.sha256), /*keep=*/true));
    }
    v.archived_at_ms = clock_.now_unix_ms();
    JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
      return c
          .exec("UPDATE dataset_versions SET archived_at_ms = ? WHERE id = ?",
                {*v.archived_at_ms, v.id})
          .status();
    }));
  }
  JZ_RETURN_IF_ERROR(collect_garbage(project_id));
  return v;
}

Result<Version> DatasetVersions::restore(const std::string& project_id, const std::string& dataset,
                                         int64_t number, std::optional<int64_t> quota_left) {
  Version v;
  {
    std::lock_guard lock(mu_);
    JZ_ASSIGN_OR_RETURN(v, get(project_id, dataset, number));
    if (!v.archived_at_ms) return v;
    JZ_ASSIGN_OR_RETURN(auto files, manifest(v));
    std::error_code ec;
    int64_t needed = 0;
    std::set<std::string> counted;
    for (const auto& f : files) {
      if (!fs::exists(blob_path(project_id, f.sha256), ec) && counted.insert(f.sha256).second) {
        needed += f.size;
      }
    }
    if (quota_left && needed > *quota_left) {
      return Status::resource_exhausted(
          "restoring version " + std::to_string(number) + " of dataset '" + dataset + "' needs " +
          std::to_string(needed) + " bytes of the project's storage quota; " +
          std::to_string(*quota_left) + " are left");
    }
    for (const auto& f : files) {
      const std::string active = blob_path(project_id, f.sha256);
      if (fs::exists(active, ec)) continue;
      const std::string archived = archive_path(project_id, f.sha256);
      auto sha = sha256_file(archived);
      if (!sha.ok() || *sha != f.sha256) {
        return Status::internal("the archived copy of '" + f.path + "' (version " +
                                std::to_string(number) + " of dataset '" + dataset +
                                "') is missing or damaged; the version stays archived");
      }
      JZ_RETURN_IF_ERROR(move_file(archived, active, /*keep=*/true));
    }
    JZ_RETURN_IF_ERROR(build_tree(project_id, v.number, tree(v), files));
    JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
      return c.exec("UPDATE dataset_versions SET archived_at_ms = NULL WHERE id = ?", {v.id})
          .status();
    }));
    v.archived_at_ms.reset();
  }
  // The archived copies no archived version holds any more.
  JZ_RETURN_IF_ERROR(collect_garbage(project_id));
  return v;
}

Result<std::map<std::string, int64_t>> DatasetVersions::first_seen(const std::string& project_id,
                                                                   const std::string& dataset) {
  JZ_ASSIGN_OR_RETURN(auto versions, list(project_id, dataset));
  std::map<std::string, int64_t> out;
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    JZ_ASSIGN_OR_RETURN(auto files, manifest(*it));
    for (const auto& f : files) out.emplace(f.path + "\n" + f.sha256, it->created_at_ms);
  }
  return out;
}

Status DatasetVersions::collect_garbage(const std::string& project_id) {
  std::lock_guard lock(mu_);
  std::vector<Version> versions;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(kSelect + " WHERE project_id = ?", {project_id}));
    for (const auto& row : rows) versions.push_back(version_of(row, ""));
    return {};
  }));
  // Unarchived versions hold their files in the store and their folders; archived ones
  // hold their files in the archive store; both hold their manifests.
  std::set<std::string> blobs, archived, manifests, trees;
  for (const auto& v : versions) {
    manifests.insert(v.manifest + ".json");
    if (!v.archived_at_ms) trees.insert(v.dataset_id + "/" + std::to_string(v.number));
    JZ_ASSIGN_OR_RETURN(auto files, manifest(v));
    for (const auto& f : files) (v.archived_at_ms ? archived : blobs).insert(f.sha256);
  }
  std::error_code ec;
  const std::string tree_root = options_.dir + "/trees/" + project_id;
  for (fs::directory_iterator ds(tree_root, ec), end; !ec && ds != end; ds.increment(ec)) {
    for (fs::directory_iterator n(ds->path(), ec); !ec && n != end; n.increment(ec)) {
      const std::string key = ds->path().filename().string() + "/" + n->path().filename().string();
      if (!trees.count(key)) fs::remove_all(n->path(), ec);
    }
  }
  auto sweep = [&](const std::string& root, const std::set<std::string>& held) {
    std::error_code e;
    for (fs::recursive_directory_iterator b(root, e), end; !e && b != end; b.increment(e)) {
      if (b->is_regular_file(e) && b->path().parent_path().filename() != "tmp" &&
          !held.count(b->path().filename().string())) {
        fs::remove(b->path(), e);
      }
    }
  };
  sweep(options_.dir + "/blobs/" + project_id, blobs);
  sweep(fs::path(archive_path(project_id, "00")).parent_path().parent_path().string(), archived);
  const std::string manifest_root = options_.dir + "/manifests/" + project_id;
  for (fs::directory_iterator m(manifest_root, ec), end; !ec && m != end; m.increment(ec)) {
    if (!manifests.count(m->path().filename().string())) fs::remove(m->path(), ec);
  }
  // Hashes and quality measures of contents no version holds any more.
  return db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT DISTINCT sha256 FROM dataset_facts WHERE project_id = ?", {project_id}));
    for (const auto& row : rows) {
      const std::string sha = row.text(0);
      if (blobs.count(sha) || archived.count(sha)) continue;
      JZ_RETURN_IF_ERROR(
          c.exec("DELETE FROM dataset_facts WHERE project_id = ? AND sha256 = ?", {project_id, sha})
              .status());
    }
    return Status();
  });
}

Result<int64_t> DatasetVersions::stored_bytes(const std::string& project_id) const {
  int64_t total = 0;
  for (const std::string& root :
       {options_.dir + "/blobs/" + project_id, options_.dir + "/manifests/" + project_id}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      struct stat st;
      if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        total += static_cast<int64_t>(st.st_blocks) * 512;
      }
    }
  }
  return total;
}

}  // namespace jz::datasets
