#include "platform/iam/audit.h"

#include "platform/iam/passwords.h"

namespace jz::iam {
namespace {

constexpr const char* kColumns =
    "seq, id, time_ms, user_name, source_ip, user_agent, verb, resource_type, resource_name, "
    "workspace, project, request_summary, response_status, latency_us, request_id, prev_hash, "
    "hash";
const std::string kGenesis(64, '0');

AuditRecord from_row(const store::Row& r) {
  AuditRecord a;
  a.seq = r.integer(0);
  a.id = r.text(1);
  a.time_ms = r.integer(2);
  a.user = r.text(3);
  a.source_ip = r.text(4);
  a.user_agent = r.text(5);
  a.verb = r.text(6);
  a.resource_type = r.text(7);
  a.resource_name = r.text(8);
  a.workspace = r.text(9);
  a.project = r.text(10);
  a.request_summary = r.text(11);
  a.response_status = r.integer(12);
  a.latency_us = r.integer(13);
  a.request_id = r.text(14);
  a.prev_hash = r.text(15);
  a.hash = r.text(16);
  return a;
}

bool secret_name(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* s : {"password", "secret", "token", "key", "credential"}) {
    if (name.find(s) != std::string::npos) return true;
  }
  return false;
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
                        c.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
    int64_t seq = last.empty() ? 0 : last[0].integer(0);
    std::string prev = last.empty() ? kGenesis : last[0].text(1);
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

Result<AuditVerdict> AuditLog::verify() {
  AuditVerdict v;
  int64_t expected_seq = 1;
  std::string prev = kGenesis;
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
      std::string reason;
      if (r.seq != expected_seq) {
        reason = "sequence jumps from " + std::to_string(expected_seq - 1) + " to " +
                 std::to_string(r.seq) + " (records were deleted)";
      } else if (r.prev_hash != prev) {
        reason =
            "its previous-hash does not match the record before it (records were "
            "deleted, inserted or reordered)";
      } else if (compute_hash(r) != r.hash) {
        reason = "its content does not match its hash (the record was changed)";
      }
      if (!reason.empty()) {
        v.intact = false;
        v.first_bad = r;
        v.reason = reason;
        return v;
      }
      ++v.records;
      ++expected_seq;
      prev = r.hash;
      after = r.seq;
    }
  }
}

}  // namespace jz::iam
