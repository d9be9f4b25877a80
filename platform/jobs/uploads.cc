#include "platform/jobs/uploads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/hash.h"
#include "platform/iam/tenancy.h"
#include "store/rows.h"

namespace jz::jobs {

namespace fs = std::filesystem;

namespace {

const store::RowMap<Upload> kUpload{{"id", &Upload::id},
                                    {"project_id", &Upload::project_id},
                                    {"dataset", &Upload::dataset},
                                    {"security_level", &Upload::security_level},
                                    {"size", &Upload::size},
                                    {"user_id", &Upload::user_id},
                                    {"username", &Upload::username},
                                    {"created_at_ms", &Upload::created_at_ms},
                                    {"expires_at_ms", &Upload::expires_at_ms}};
const std::string kUploadSelect = "SELECT " + kUpload.columns() + " FROM uploads";

int64_t length_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

}  // namespace

Uploads::Uploads(store::Database& db, Clock& clock, IdGenerator& ids, Datasets& datasets,
                 std::string dir, std::chrono::hours keep)
    : db_(db), clock_(clock), ids_(ids), datasets_(datasets), dir_(std::move(dir)), keep_(keep) {}

std::string Uploads::partial(const std::string& id) const { return dir_ + "/" + id; }

std::shared_ptr<std::mutex> Uploads::lock_of(const std::string& id) {
  std::lock_guard lock(mu_);
  std::erase_if(locks_, [](const auto& kv) { return kv.second.expired(); });
  auto& weak = locks_[id];
  auto strong = weak.lock();
  if (!strong) {
    strong = std::make_shared<std::mutex>();
    weak = strong;
  }
  return strong;
}

Result<Upload> Uploads::create(const std::string& project_id, const std::string& dataset,
                               int64_t size, const std::string& security_level,
                               const std::string& user_id, const std::string& username,
                               std::optional<int64_t> quota_left, uint64_t max_bytes) {
  JZ_RETURN_IF_ERROR(iam::validate_resource_name("dataset", dataset));
  if (security_rank(security_level) < 0) {
    return Status::invalid_argument("field 'security_level' must be open, internal or secret");
  }
  if (size <= 0) return Status::invalid_argument("field 'size' must be at least 1 byte");
  // Uploads left unfinished past their time go whenever a new one starts (and at start-up).
  JZ_RETURN_IF_ERROR(expire().status());
  if (static_cast<uint64_t>(size) > max_bytes) {
    return Status::resource_exhausted("an upload holds at most " + std::to_string(max_bytes) +
                                      " bytes (datasets.upload_max_bytes); this one would be " +
                                      std::to_string(size));
  }
  if (quota_left && size > *quota_left) {
    return Status::resource_exhausted("the upload (" + std::to_string(size) +
                                      " bytes) is more than the " + std::to_string(*quota_left) +
                                      " bytes the project's storage quota has left");
  }
  if (datasets_.get(project_id, dataset).ok()) {
    return Status::already_exists("dataset '" + dataset + "' already exists in this project");
  }
  JZ_ASSIGN_OR_RETURN(auto open, find(project_id, dataset, user_id));
  // The same upload announced again (a client that lost its id): resume it.
  if (open && open->size == size && open->security_level == security_level) {
    open->resumed = true;
    return *open;
  }
  if (open) {
    return Status::already_exists("you are uploading dataset '" + dataset + "' already (upload " +
                                  open->id + ", " + std::to_string(open->offset) + " of " +
                                  std::to_string(open->size) +
                                  " bytes): resume it, or delete it to start again");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::unavailable("cannot create " + dir_ + ": " + ec.message());
  Upload u;
  u.id = ids_.next("upl_");
  u.project_id = project_id;
  u.dataset = dataset;
  u.security_level = security_level;
  u.size = size;
  u.user_id = user_id;
  u.username = username;
  u.created_at_ms = clock_.now_unix_ms();
  u.expires_at_ms =
      u.created_at_ms + std::chrono::duration_cast<std::chrono::milliseconds>(keep_).count();
  const int fd = ::open(partial(u.id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::unavailable("cannot create the upload's file: " + errno_message(errno));
  ::close(fd);
  Status s = db_.transact([&](store::Conn& c) {
    return c
        .exec("INSERT INTO uploads (" + kUpload.columns() + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              {u.id, u.project_id, u.dataset, u.security_level, u.size, u.user_id, u.username,
               u.created_at_ms, u.expires_at_ms})
        .status();
  });
  if (!s.ok()) {
    ::unlink(partial(u.id).c_str());
    return s;
  }
  return u;
}

Result<Upload> Uploads::get(const std::string& project_id, const std::string& id,
                            const std::string& user_id) {
  std::optional<Upload> u;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows,
                        store::query_all(c, kUpload,
                                         kUploadSelect + " WHERE id = ? AND "
                                                         "project_id = ? AND user_id = ?",
                                         {id, project_id, user_id}));
    if (!rows.empty()) u = std::move(rows[0]);
    return {};
  }));
  // Another user's upload, or another project's, looks missing.
  if (!u) return Status::not_found("upload '" + id + "' does not exist");
  u->offset = length_of(partial(u->id));
  return *u;
}

Result<std::optional<Upload>> Uploads::find(const std::string& project_id,
                                            const std::string& dataset,
                                            const std::string& user_id) {
  std::optional<Upload> u;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto rows, store::query_all(c, kUpload,
                                    kUploadSelect + " WHERE project_id = ? AND dataset = ? AND "
                                                    "user_id = ? ORDER BY created_at_ms DESC",
                                    {project_id, dataset, user_id}));
    if (!rows.empty()) u = std::move(rows[0]);
    return {};
  }));
  if (u) u->offset = length_of(partial(u->id));
  return u;
}

Result<ChunkResult> Uploads::append(const std::string& project_id, const std::string& id,
                                    const std::string& user_id, int64_t offset,
                                    std::string_view bytes, const std::string& sha256_hex_expected,
                                    std::optional<int64_t> quota_left) {
  auto guard = lock_of(id);
  std::lock_guard lock(*guard);
  JZ_ASSIGN_OR_RETURN(Upload u, get(project_id, id, user_id));
  if (offset != u.offset) {
    return Status::failed_precondition("the upload is at byte " + std::to_string(u.offset) +
                                       ", not " + std::to_string(offset) +
                                       " (Upload-Offset): ask for its offset and go on from there");
  }
  if (u.offset + static_cast<int64_t>(bytes.size()) > u.size) {
    return Status::invalid_argument("the chunk ends at byte " +
                                    std::to_string(u.offset + static_cast<int64_t>(bytes.size())) +
                                    ", past the upload's size of " + std::to_string(u.size));
  }
  if (!sha256_hex_expected.empty() && sha256_hex(bytes) != sha256_hex_expected) {
    return Status::invalid_argument(
        "the chunk's SHA-256 differs from Upload-Checksum: it was damaged on the way and not "
        "stored; send it again");
  }
  const int fd = ::open(partial(id).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::unavailable("cannot open the upload's file: " + errno_message(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(u.offset + static_cast<int64_t>(done)));
    if (n <= 0) {
      const int err = errno;
      // What was written of a chunk that failed goes: the offset stays where it was.
      [[maybe_unused]] int t = ::ftruncate(fd, static_cast<off_t>(u.offset));
      ::close(fd);
      return Status::unavailable("cannot store the chunk: " + errno_message(err));
    }
    done += static_cast<size_t>(n);
  }
  ::fdatasync(fd);
  ::close(fd);
  ChunkResult out;
  out.offset = u.offset + static_cast<int64_t>(bytes.size());
  if (out.offset < u.size) return out;
  // The last byte: the dataset, unpacked from the archive the upload is.
  JZ_ASSIGN_OR_RETURN(auto d,
                      datasets_.create_from_archive_file(project_id, u.dataset, partial(id),
                                                         u.security_level, u.username, quota_left));
  out.dataset = std::move(d);
  JZ_RETURN_IF_ERROR(remove(project_id, id, user_id));
  return out;
}

Status Uploads::remove(const std::string& project_id, const std::string& id,
                       const std::string& user_id) {
  JZ_RETURN_IF_ERROR(get(project_id, id, user_id).status());
  JZ_RETURN_IF_ERROR(db_.transact(
      [&](store::Conn& c) { return c.exec("DELETE FROM uploads WHERE id = ?", {id}).status(); }));
  ::unlink(partial(id).c_str());
  return {};
}

Result<int> Uploads::expire() {
  std::vector<Upload> old;
  const int64_t now = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        old, store::query_all(c, kUpload, kUploadSelect + " WHERE expires_at_ms < ?", {now}));
    return {};
  }));
  for (const auto& u : old) JZ_RETURN_IF_ERROR(remove(u.project_id, u.id, u.user_id));
  return static_cast<int>(old.size());
}

}  // namespace jz::jobs
