// Resumable uploads (tus-style): a client announces a file and its size, sends it in
// chunks at explicit offsets (each checked against the bytes already stored, with an
// optional SHA-256 per chunk), learns where to go on after a dropped connection, and the
// upload becomes what it was for once the last byte is in: today a dataset, unpacked from
// the tar or tar.gz archive it is (Datasets::create_from_archive_file).
//
// Bytes go straight to a file under the uploads folder (upload_dir/.partial/ID); the file's
// length is the offset, so nothing is lost or counted twice across a restart of the server.
// Memory is one chunk per request in flight (bounded by server.max_body_bytes).
// Thread-safe; two chunks of one upload at once are taken one after the other.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/id.h"
#include "platform/jobs/datasets.h"
#include "store/database.h"

namespace jz::jobs {

struct Upload {
  std::string id;  // upl_...
  std::string project_id;
  std::string dataset;  // the dataset it becomes
  std::string security_level;
  int64_t size = 0;
  int64_t offset = 0;  // bytes received (the partial file's length)
  std::string user_id;
  std::string username;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;  // unfinished uploads are dropped after this
  bool resumed = false;       // create() found it unfinished (not stored)
};

// What a chunk did: the new offset, and the dataset when it was the last one.
struct ChunkResult {
  int64_t offset = 0;
  std::optional<Dataset> dataset;
};

class Uploads {
 public:
  Uploads(store::Database& db, Clock& clock, IdGenerator& ids, Datasets& datasets, std::string dir,
          std::chrono::hours keep = std::chrono::hours(24));

  // A new upload of `size` bytes that becomes dataset `dataset` of the project, or the
  // caller's unfinished one of the same dataset, size and level (its offset tells where to
  // go on; created_at_ms tells it apart). already_exists when the dataset exists, or the
  // caller's unfinished upload of it differs; resource_exhausted past the storage quota
  // (`quota_left`) or datasets.upload_max_bytes.
  Result<Upload> create(const std::string& project_id, const std::string& dataset, int64_t size,
                        const std::string& security_level, const std::string& user_id,
                        const std::string& username, std::optional<int64_t> quota_left,
                        uint64_t max_bytes);
  // The upload with its current offset; not_found unless it is of this project and user.
  Result<Upload> get(const std::string& project_id, const std::string& id,
                     const std::string& user_id);
  // The caller's unfinished upload of this dataset, if any (how a client resumes).
  Result<std::optional<Upload>> find(const std::string& project_id, const std::string& dataset,
                                     const std::string& user_id);
  // Appends `bytes` at `offset`, which must be the current offset (failed_precondition
  // naming it otherwise); `sha256_hex` (when not empty) must be the chunk's. The last chunk
  // turns the upload into its dataset (an error then keeps the upload, so it can be
  // looked at, and says why).
  Result<ChunkResult> append(const std::string& project_id, const std::string& id,
                             const std::string& user_id, int64_t offset, std::string_view bytes,
                             const std::string& sha256_hex, std::optional<int64_t> quota_left);
  // Drops an unfinished upload and its bytes.
  Status remove(const std::string& project_id, const std::string& id, const std::string& user_id);
  // Drops uploads past their expiry (create() and the server's start call it).
  Result<int> expire();

 private:
  std::string partial(const std::string& id) const;
  std::shared_ptr<std::mutex> lock_of(const std::string& id);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  Datasets& datasets_;
  std::string dir_;
  std::chrono::hours keep_;
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<std::mutex>> locks_;
};

}  // namespace jz::jobs
