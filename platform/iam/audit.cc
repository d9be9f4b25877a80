#include "platform/iam/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/hash.h"
#include "platform/iam/passwords.h"
#include "store/rows.h"

namespace jz::iam {
namespace {

const std::string kGenesis(64, '0');

const store::RowMap<AuditRecord> kAudit{{"seq", &AuditRecord::seq},
                                        {"id", &AuditRecord::id},
                                        {"time_ms", &AuditRecord::time_ms},
                                        {"user_name", &AuditRecord::user},
                                        {"source_ip", &AuditRecord::source_ip},
                                        {"user_agent", &AuditRecord::user_agent},
                                        {"verb", &AuditRecord::verb},
                                        {"resource_type", &AuditRecord::resource_type},
                                        {"resource_name", &AuditRecord::resource_name},
                                        {"workspace", &AuditRecord::workspace},
                                        {"project", &AuditRecord::project},
                                        {"request_summary", &AuditRecord::request_summary},
                                        {"response_status", &AuditRecord::response_status},
                                        {"latency_us", &AuditRecord::latency_us},
                                        {"request_id", &AuditRecord::request_id},
                                        {"prev_hash", &AuditRecord::prev_hash},
                                        {"hash", &AuditRecord::hash}};

// The INSERT's column order too.
const std::string kColumns = kAudit.columns();

AuditRecord from_row(const store::Row& r) { return kAudit(r); }

bool secret_name(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* s : {"password", "secret", "token", "key", "credential", "kubeconfig"}) {
    if (name.find(s) != std::string::npos) return true;
  }
  // Activation codes (the store's) and offline activation requests, which carry one.
  return name == "code" || name == "request";
}

}  // namespace

Json AuditRecord::to_json() const {
  return {{"seq", seq},
          {"id", id},
          {"time", format_rfc3339(Clock::WallTime(std::chrono::milliseconds(time_ms)))},
          {"time_ms", time_ms},
          {"user", user},
          {"source_ip", source_ip},
          {"user_agent", user_agent},
          {"verb", verb},
          {"resource_type", resource_type},
          {"resource_name", resource_name},
          {"workspace", workspace},
          {"project", project},
          {"request_summary", request_summary},
          {"response_status", response_status},
          {"latency_us", latency_us},
          {"request_id", request_id},
          {"prev_hash", prev_hash},
          {"hash", hash}};
}

std::string AuditLog::compute_hash(const AuditRecord& r) {
  Json j = r.to_json();
  j.erase("hash");
  j.erase("time");  // derived from time_ms
  // nlohmann::json objects keep keys sorted, so the dump is canonical.
  return sha256_hex(json::dump(j));
}

std::string AuditLog::summarize_body(std::string_view body) {
  if (body.empty()) return "{}";
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded()) return json::dump({{"_invalid_json_bytes", body.size()}});
  if (!parsed.is_object())
    return json::dump({{"_body_type", std::string(json::type_phrase(parsed))}});
  Json out = Json::object();
  for (auto& [k, v] : parsed.items()) {
    if (secret_name(k)) {
      out[k] = "***";
    } else if (v.is_string()) {
      std::string s = v.get<std::string>();
      out[k] = s.size() > 200 ? s.substr(0, 200) + "..." : s;
    } else if (v.is_object() || v.is_array()) {
      out[k] = v.is_object() ? "{...}" : "[...]";
    } else {
      out[k] = v;
    }
  }
  return json::dump(out);
}

Result<AuditRecord> AuditLog::append(AuditRecord r) {
  JZ_ASSIGN_OR_RETURN(auto stored, append_batch({std::move(r)}));
  return std::move(stored.front());
}

Result<std::vector<AuditRecord>> AuditLog::append_batch(std::vector<AuditRecord> records) {
  for (auto& r : records) {
    r.id = ids_.next("aud_");
    if (r.time_ms == 0) r.time_ms = clock_.now_unix_ms();
  }
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    if (c.dialect() == store::Dialect::kPostgres) {
      JZ_RETURN_IF_ERROR(c.query("SELECT pg_advisory_xact_lock(7321002)").status());
    }
    JZ_ASSIGN_OR_RETURN(auto last,
                        c.query("SELECT seq AS last_seq, hash AS last_hash FROM audit ORDER BY "
                                "seq DESC LIMIT 1"));
    if (last.empty()) {  // everything archived: continue from the last checkpoint
      JZ_ASSIGN_OR_RETURN(last, c.query("SELECT last_seq, last_hash FROM audit_archives ORDER BY "
                                        "last_seq DESC LIMIT 1"));
    }
    int64_t seq = last.empty() ? 0 : last[0].integer("last_seq");
    std::string prev = last.empty() ? kGenesis : last[0].text("last_hash");
    for (auto& r : records) {
      r.seq = ++seq;
      r.prev_hash = prev;
      r.hash = compute_hash(r);
      prev = r.hash;
      JZ_RETURN_IF_ERROR(
          c.exec(std::string("INSERT INTO audit (") + kColumns +
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 {r.seq, r.id, r.time_ms, r.user, r.source_ip, r.user_agent, r.verb,
                  r.resource_type, r.resource_name, r.workspace, r.project, r.request_summary,
                  r.response_status, r.latency_us, r.request_id, r.prev_hash, r.hash})
              .status());
    }
    return {};
  }));
  return records;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void AuditLog::set_error_handler(std::function<void(const Status&, size_t)> handler) {
  std::lock_guard lock(queue_mu_);
  on_error_ = std::move(handler);
}

void AuditLog::append_async(AuditRecord record) {
  if (record.time_ms == 0) record.time_ms = clock_.now_unix_ms();
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(record));
    ++queued_;
    if (!writer_.joinable()) writer_ = std::thread([this] { writer_loop(); });
  }
  queue_cv_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(queue_mu_);
  const uint64_t target = queued_;
  flushed_cv_.wait(lock, [&] { return settled_ >= target; });
}

void AuditLog::writer_loop() {
  constexpr size_t kMaxBatch = 512;
  constexpr auto kLinger = std::chrono::milliseconds(10);
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Linger briefly so concurrent requests share one commit (and one disk sync).
    if (!stopping_ && queue_.size() < kMaxBatch) {
      queue_cv_.wait_for(lock, kLinger, [&] { return stopping_ || queue_.size() >= kMaxBatch; });
    }
    std::vector<AuditRecord> batch;
    if (queue_.size() <= kMaxBatch) {
      batch.swap(queue_);
    } else {
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + kMaxBatch));
      queue_.erase(queue_.begin(), queue_.begin() + kMaxBatch);
    }
    lock.unlock();
    Status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s = append_batch(batch).status();
      if (s.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    }
    lock.lock();
    if (!s.ok() && on_error_) on_error_(s, batch.size());
    settled_ += batch.size();
    flushed_cv_.notify_all();
  }
}

Result<std::vector<AuditRecord>> AuditLog::query(const AuditQuery& q) {
  if (q.limit < 1 || q.limit > 1000) {
    return Status::invalid_argument("page size must be between 1 and 1000");
  }
  std::string sql = std::string("SELECT ") + kColumns + " FROM audit WHERE seq > ?";
  store::Params params = {q.after_seq};
  auto eq = [&](const char* col, const std::string& v) {
    if (v.empty()) return;
    sql += std::string(" AND ") + col + " = ?";
    params.emplace_back(v);
  };
  eq("user_name", q.user);
  eq("verb", q.verb);
  eq("resource_type", q.resource_type);
  eq("project", q.project);
  eq("workspace", q.workspace);
  eq("source_ip", q.source_ip);
  if (q.status) {
    sql += " AND response_status = ?";
    params.emplace_back(*q.status);
  }
  if (q.since_ms) {
    sql += " AND time_ms >= ?";
    params.emplace_back(*q.since_ms);
  }
  if (q.until_ms) {
    sql += " AND time_ms < ?";
    params.emplace_back(*q.until_ms);
  }
  sql += " ORDER BY seq LIMIT ?";
  params.emplace_back(int64_t{q.limit});
  std::vector<AuditRecord> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
    for (const auto& r : rows) out.push_back(from_row(r));
    return {};
  }));
  return out;
}

namespace {

const store::RowMap<AuditArchive> kArchive{{"last_seq", &AuditArchive::last_seq},
                                           {"first_seq", &AuditArchive::first_seq},
                                           {"first_prev_hash", &AuditArchive::first_prev_hash},
                                           {"last_hash", &AuditArchive::last_hash},
                                           {"records", &AuditArchive::records},
                                           {"first_time_ms", &AuditArchive::first_time_ms},
                                           {"last_time_ms", &AuditArchive::last_time_ms},
                                           {"file", &AuditArchive::file},
                                           {"file_sha256", &AuditArchive::file_sha256},
                                           {"archived_at_ms", &AuditArchive::archived_at_ms}};

const std::string kArchiveColumns = kArchive.columns();  // the INSERT's order too

AuditArchive archive_from_row(const store::Row& r) { return kArchive(r); }

// Why `r` does not continue a chain at (expected_seq, prev); empty when it does.
std::string chain_fault(const AuditRecord& r, int64_t expected_seq, const std::string& prev) {
  if (r.seq != expected_seq) {
    return "sequence jumps from " + std::to_string(expected_seq - 1) + " to " +
           std::to_string(r.seq) + " (records were deleted)";
  }
  if (r.prev_hash != prev) {
    return "its previous-hash does not match the record before it (records were deleted, "
           "inserted or reordered)";
  }
  if (AuditLog::compute_hash(r) != r.hash) {
    return "its content does not match its hash (the record was changed)";
  }
  return "";
}

}  // namespace

Result<AuditRecord> AuditRecord::from_json(const Json& j) {
  if (!j.is_object()) return Status::invalid_argument("an audit record must be a JSON object");
  AuditRecord r;
  for (auto [field, out] :
       {std::pair{"seq", &r.seq}, std::pair{"time_ms", &r.time_ms},
        std::pair{"response_status", &r.response_status}, std::pair{"latency_us", &r.latency_us}}) {
    JZ_ASSIGN_OR_RETURN(*out, json::required_int(j, field));
  }
  for (auto [field, out] :
       {std::pair{"id", &r.id}, std::pair{"user", &r.user}, std::pair{"source_ip", &r.source_ip},
        std::pair{"user_agent", &r.user_agent}, std::pair{"verb", &r.verb},
        std::pair{"resource_type", &r.resource_type}, std::pair{"resource_name", &r.resource_name},
        std::pair{"workspace", &r.workspace}, std::pair{"project", &r.project},
        std::pair{"request_summary", &r.request_summary}, std::pair{"request_id", &r.request_id},
        std::pair{"prev_hash", &r.prev_hash}, std::pair{"hash", &r.hash}}) {
    JZ_ASSIGN_OR_RETURN(*out, json::required_string(j, field));
  }
  return r;
}

Result<std::vector<AuditArchive>> AuditLog::archives() {
  std::vector<AuditArchive> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query(std::string("SELECT ") + kArchiveColumns +
                                           " FROM audit_archives ORDER BY last_seq"));
    for (const auto& r : rows) out.push_back(archive_from_row(r));
    return {};
  }));
  return out;
}

Result<AuditVerdict> AuditLog::verify(bool check_archive_files) {
  return verify_chain(check_archive_files, 0);
}

Result<AuditVerdict> AuditLog::verify_chain(bool check_archive_files, int64_t until_seq) {
  AuditVerdict v;
  int64_t expected_seq = 1;
  std::string prev = kGenesis;
  auto broken = [&](std::optional<AuditRecord> r, std::string reason) {
    v.intact = false;
    v.first_bad = std::move(r);
    v.reason = std::move(reason);
    return v;
  };

  JZ_ASSIGN_OR_RETURN(auto archives, this->archives());
  for (const auto& a : archives) {
    const std::string where = "archive " + a.file;
    if (a.first_seq != expected_seq || a.first_prev_hash != prev) {
      return broken(std::nullopt, where + " does not continue the chain (seq " +
                                      std::to_string(a.first_seq) + ", expected " +
                                      std::to_string(expected_seq) + "): checkpoints were changed");
    }
    if (check_archive_files) {
      std::ifstream in(a.file, std::ios::binary);
      if (!in) {
        return broken(std::nullopt, where + " cannot be read (" + errno_message(errno) +
                                        "): restore it, or verify without archive files");
      }
      Sha256 sha;
      int64_t n = 0;
      for (std::string line; std::getline(in, line);) {
        sha.update(line);
        sha.update("\n");
        auto j = json::parse(line, where);
        if (!j.ok()) return broken(std::nullopt, j.status().message());
        auto r = AuditRecord::from_json(*j);
        if (!r.ok()) return broken(std::nullopt, where + ": " + r.status().message());
        if (std::string fault = chain_fault(*r, expected_seq, prev); !fault.empty()) {
          return broken(*r, where + ": " + fault);
        }
        prev = r->hash;
        ++expected_seq;
        ++n;
      }
      if (sha.hex() != a.file_sha256) {
        return broken(std::nullopt, where +
                                        " was changed since it was written (its SHA-256 "
                                        "differs from the checkpoint's)");
      }
      if (n != a.records || prev != a.last_hash) {
        return broken(std::nullopt, where + " holds " + std::to_string(n) +
                                        " records that do not end at the checkpoint");
      }
    }
    expected_seq = a.last_seq + 1;
    prev = a.last_hash;
    v.archived_records += a.records;
    ++v.archives;
  }

  int64_t after = 0;
  for (;;) {
    std::vector<store::Row> rows;
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
      JZ_ASSIGN_OR_RETURN(rows, c.query(std::string("SELECT ") + kColumns +
                                            " FROM audit WHERE seq > ? ORDER BY seq LIMIT 1000",
                                        {after}));
      return {};
    }));
    if (rows.empty()) return v;
    for (const auto& row : rows) {
      AuditRecord r = from_row(row);
      if (until_seq > 0 && r.seq > until_seq) return v;
      if (std::string fault = chain_fault(r, expected_seq, prev); !fault.empty()) {
        return broken(r, fault);
      }
      ++v.records;
      ++expected_seq;
      prev = r.hash;
      after = r.seq;
    }
  }
}

Result<std::optional<AuditArchive>> AuditLog::archive(int64_t before_ms, const std::string& dir) {
  // The segment: from the first live record up to just before the first record that
  // is not old enough.
  int64_t first = 0, last = 0;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto range,
                        c.query("SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit"));
    if (range.empty() || range[0].is_null("first")) return {};
    first = range[0].integer("first");
    last = range[0].integer("last");
    JZ_ASSIGN_OR_RETURN(
        auto young, c.query("SELECT MIN(seq) AS first FROM audit WHERE time_ms >= ?", {before_ms}));
    if (!young.empty() && !young[0].is_null("first")) last = young[0].integer("first") - 1;
    return {};
  }));
  if (first == 0 || last < first) return std::optional<AuditArchive>();

  JZ_ASSIGN_OR_RETURN(AuditVerdict v, verify_chain(false, last));
  if (!v.intact) {
    return Status::failed_precondition(
        "the audit chain is broken" +
        (v.first_bad ? " at seq " + std::to_string(v.first_bad->seq) : std::string()) + ": " +
        v.reason + "; nothing was archived (run `jizhan audit verify` and investigate)");
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::failed_precondition("cannot create " + dir + ": " + ec.message());
  char name[64];
  std::snprintf(name, sizeof name, "audit-%012lld-%012lld.jsonl", static_cast<long long>(first),
                static_cast<long long>(last));
  const std::string path = std::filesystem::absolute(dir + "/" + name).string();
  const std::string tmp = path + ".tmp";
  AuditArchive a;
  a.first_seq = first;
  a.last_seq = last;
  a.file = path;
  a.archived_at_ms = clock_.now_unix_ms();
  {
    FILE* f = std::fopen(tmp.c_str(), "wbx");
    if (!f) return Status::failed_precondition("cannot write " + tmp + ": " + errno_message(errno));
    Sha256 sha;
    bool ok = true;
    for (int64_t after = first - 1; ok && after < last;) {
      std::vector<store::Row> rows;
      Status s = db_.with_conn([&](store::Conn& c) -> Status {
        JZ_ASSIGN_OR_RETURN(rows, c.query(std::string("SELECT ") + kColumns +
                                              " FROM audit WHERE seq > ? AND seq <= ? ORDER BY "
                                              "seq LIMIT 1000",
                                          {after, last}));
        return {};
      });
      if (!s.ok() || rows.empty()) {
        std::fclose(f);
        std::remove(tmp.c_str());
        return s.ok() ? Status::failed_precondition("audit records vanished while archiving") : s;
      }
      for (const auto& row : rows) {
        AuditRecord r = from_row(row);
        if (a.records == 0) {
          a.first_prev_hash = r.prev_hash;
          a.first_time_ms = r.time_ms;
        }
        a.last_hash = r.hash;
        a.last_time_ms = r.time_ms;
        ++a.records;
        const std::string line = json::dump(r.to_json()) + "\n";
        sha.update(line);
        ok = ok && std::fwrite(line.data(), 1, line.size(), f) == line.size();
        after = r.seq;
      }
    }
    ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      return Status::failed_precondition("cannot write " + path + ": " +
                                         errno_message(ok ? errno : err));
    }
    a.file_sha256 = sha.hex();
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  // Checkpoint and delete in one transaction, under the appenders' lock, after
  // checking that the segment is still exactly what was written.
  Status s = db_.transact([&](store::Conn& c) -> Status {
    if (c.dialect() == store::Dialect::kPostgres) {
      JZ_RETURN_IF_ERROR(c.query("SELECT pg_advisory_xact_lock(7321002)").status());
    }
    JZ_ASSIGN_OR_RETURN(
        auto check,
        c.query("SELECT COUNT(*) AS n, MIN(seq) AS first FROM audit WHERE seq <= ?", {last}));
    JZ_ASSIGN_OR_RETURN(auto tail, c.query("SELECT hash FROM audit WHERE seq = ?", {last}));
    if (check.empty() || check[0].integer("n") != a.records || check[0].integer("first") != first ||
        tail.empty() || tail[0].text("hash") != a.last_hash) {
      return Status::failed_precondition(
          "the audit records changed while they were archived; nothing was archived");
    }
    JZ_RETURN_IF_ERROR(
        c.exec(std::string("INSERT INTO audit_archives (") + kArchiveColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               {a.last_seq, a.first_seq, a.first_prev_hash, a.last_hash, a.records, a.first_time_ms,
                a.last_time_ms, a.file, a.file_sha256, a.archived_at_ms})
            .status());
    return c.exec("DELETE FROM audit WHERE seq <= ?", {last}).status();
  });
  if (!s.ok()) {
    std::remove(path.c_str());
    return s;
  }
  return std::optional<AuditArchive>(a);
}

}  // namespace jz::iam
