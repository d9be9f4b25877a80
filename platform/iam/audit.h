// The audit trail: an append-only, hash-chained record of every mutating request and
// every authentication event.
//
// Each record holds the Kubernetes audit fields plus the tenant fields, a sequence
// number, the hash of the record before it, and its own hash: SHA-256 over the
// canonical JSON of all its fields including that previous hash. Changing a field,
// deleting a record or reordering records breaks the chain at that point, which
// verify() reports. (Removing records from the end leaves a shorter chain that still
// verifies; keep exported heads elsewhere to detect that.)
//
// Retention: archive() moves a verified prefix of the chain into a JSON-lines file and
// keeps a checkpoint row (first and last seq, the hash the live chain continues from,
// the file's SHA-256). Records are never dropped without such a file; verify() checks
// that checkpoints and the live chain link up, and re-reads every archive file.
//
// Thread-safe: appends serialise on the store (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
// advisory lock), so the chain has one order. append_async() queues records for a
// writer thread that stores each batch in one transaction (one disk sync for many
// records: this is what keeps the trail's cost under 20% of a write-heavy API);
// flush() waits for everything queued so far.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "store/database.h"

namespace jz::iam {

struct AuditRecord {
  int64_t seq = 0;
  std::string id;  // aud_...
  int64_t time_ms = 0;
  std::string user;  // username, or "" when unauthenticated
  std::string source_ip;
  std::string user_agent;
  std::string verb;  // create | update | delete | login | login_failed | logout | ...
  std::string resource_type;
  std::string resource_name;
  std::string workspace;
  std::string project;
  std::string request_summary;  // JSON text, secrets removed
  int64_t response_status = 0;
  int64_t latency_us = 0;
  std::string request_id;
  std::string prev_hash;
  std::string hash;

  Json to_json() const;
  // The inverse of to_json (archive files); errors name the field.
  static Result<AuditRecord> from_json(const Json& j);
};

// One archived segment of the chain.
struct AuditArchive {
  int64_t first_seq = 0, last_seq = 0, records = 0;
  int64_t first_time_ms = 0, last_time_ms = 0, archived_at_ms = 0;
  std::string first_prev_hash, last_hash;
  std::string file;  // absolute path of the JSON-lines file
  std::string file_sha256;
};

struct AuditQuery {
  std::string user, verb, resource_type, project, source_ip;
  std::string workspace;          // only records of requests in this workspace (its name)
  std::optional<int64_t> status;  // the response's HTTP status
  std::optional<int64_t> since_ms, until_ms;
  int64_t after_seq = 0;  // page token
  int limit = 100;
};

struct AuditVerdict {
  bool intact = true;
  int64_t records = 0;           // live records that verify
  int64_t archived_records = 0;  // records in archives that verify
  int64_t archives = 0;
  std::optional<AuditRecord> first_bad;  // as stored (absent for a missing archive file)
  std::string reason;                    // what is wrong, naming the archive file if any
};

class AuditLog {
 public:
  AuditLog(store::Database& db, Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids) {}
  // Stores what is queued, then stops the writer.
  ~AuditLog();

  // Fills seq, id, time (when 0), prev_hash and hash, and stores the record.
  Result<AuditRecord> append(AuditRecord record);
  // Stores records in order in one transaction.
  Result<std::vector<AuditRecord>> append_batch(std::vector<AuditRecord> records);
  // Queues a record (its time is taken now) for the writer thread.
  void append_async(AuditRecord record);
  // Returns once every record queued before the call is stored (or given up on).
  void flush();
  // Called with the error when a batch could not be stored after retries.
  void set_error_handler(std::function<void(const Status&, size_t lost)> handler);
  Result<std::vector<AuditRecord>> query(const AuditQuery& q);
  // Walks the whole chain in order, a page at a time: archive checkpoints, then (with
  // `check_archive_files`) the content of every archive file, then the live records.
  Result<AuditVerdict> verify(bool check_archive_files = true);
  // Moves the records older than `before_ms` (the longest prefix of the chain whose
  // records are all older) into DIR/audit-FIRST-LAST.jsonl, after verifying them;
  // refuses when that part of the chain is broken. nullopt when nothing is old enough.
  Result<std::optional<AuditArchive>> archive(int64_t before_ms, const std::string& dir);
  Result<std::vector<AuditArchive>> archives();

  // The hash a record should have (over every field but `hash`).
  static std::string compute_hash(const AuditRecord& r);
  // A JSON summary of a request body for the trail: top-level fields only, values of
  // fields whose names suggest secrets replaced by "***", long strings cut.
  static std::string summarize_body(std::string_view body);

 private:
  void writer_loop();
  // Checks checkpoints, archive files (optionally) and live records up to `until_seq`
  // (0: all).
  Result<AuditVerdict> verify_chain(bool check_archive_files, int64_t until_seq);

  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_, flushed_cv_;
  std::vector<AuditRecord> queue_;
  uint64_t queued_ = 0, settled_ = 0;  // records ever queued; stored or given up on
  bool stopping_ = false;
  std::thread writer_;
  std::function<void(const Status&, size_t)> on_error_;
};

}  // namespace jz::iam
