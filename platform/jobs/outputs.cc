#include "platform/jobs/outputs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/hash.h"
#include "platform/jobs/datasets.h"

namespace jz::jobs {

namespace fs = std::filesystem;

namespace {

const store::RowMap<JobOutputs> kOutputs{{"job_id", &JobOutputs::job_id},
                                         {"project_id", &JobOutputs::project_id},
                                         {"dir", &JobOutputs::dir},
                                         {"level", &JobOutputs::level},
                                         {"state", &JobOutputs::state},
                                         {"files", &JobOutputs::files},
                                         {"bytes", &JobOutputs::bytes},
                                         {"truncated", &JobOutputs::truncated},
                                         {"skipped", &JobOutputs::skipped},
                                         {"recorded_at_ms", &JobOutputs::recorded_at_ms},
                                         {"expires_at_ms", &JobOutputs::expires_at_ms}};
const std::string kOutputsSelect = "SELECT " + kOutputs.columns() + " FROM job_outputs";

const store::RowMap<OutputFile> kFile{
    {"path", &OutputFile::path}, {"size", &OutputFile::size}, {"sha256", &OutputFile::sha256}};

const store::RowMap<Release> kRelease{{"id", &Release::id},
                                      {"project_id", &Release::project_id},
                                      {"job_id", &Release::job_id},
                                      {"state", &Release::state},
                                      {"reason", &Release::reason},
                                      {"requested_by", &Release::requested_by},
                                      {"requester", &Release::requester},
                                      {"reviewer", &Release::reviewer},
                                      {"comment", &Release::comment},
                                      {"created_at_ms", &Release::created_at_ms},
                                      {"decided_at_ms", &Release::decided_at_ms}};
const std::string kReleaseSelect = "SELECT " + kRelease.columns() + " FROM releases";

// Opens `relative` below the folder `root_fd`, one component at a time, following no
// symlink; a regular file only.
Result<int> open_beneath(int root_fd, const std::string& relative) {
  if (relative.empty() || relative[0] == '/') return Status::invalid_argument("bad path");
  int dir = ::dup(root_fd);
  size_t start = 0;
  for (;;) {
    const size_t slash = relative.find('/', start);
    const std::string part =
        relative.substr(start, slash == std::string::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") {
      ::close(dir);
      return Status::invalid_argument("'" + relative + "' is not a path inside the outputs");
    }
    const bool last = slash == std::string::npos;
    const int fd =
        ::openat(dir, part.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? 0 : O_DIRECTORY));
    ::close(dir);
    if (fd < 0) return Status::not_found("'" + relative + "' is no longer among the outputs");
    if (last) {
      struct stat st;
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::not_found("'" + relative + "' is not a file among the outputs");
      }
      return fd;
    }
    dir = fd;
    start = slash + 1;
  }
}

}  // namespace

std::string stricter_level(const std::string& a, const std::string& b) {
  return security_rank(b) > security_rank(a) ? b : a;
}

Json Release::to_json() const {
  Json j = {{"id", id},         {"job_id", job_id},       {"state", state},
            {"reason", reason}, {"requester", requester}, {"created_at_ms", created_at_ms}};
  if (reviewer) j["reviewer"] = *reviewer;
  if (comment) j["comment"] = *comment;
  if (decided_at_ms) j["decided_at_ms"] = *decided_at_ms;
  return j;
}

Result<JobOutputs> Outputs::record(const std::string& job_id, const std::string& project_id,
                                   const std::string& dir, const std::string& level) {
  JobOutputs o;
  o.job_id = job_id;
  o.project_id = project_id;
  o.dir = dir;
  o.level = security_rank(level) < 0 ? "open" : level;
  o.state = security_rank(o.level) >= 1 ? "held" : "open";
  o.recorded_at_ms = clock_.now_unix_ms();
  if (options_.retention.count() > 0) {
    o.expires_at_ms =
        o.recorded_at_ms +
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
  }
  std::vector<OutputFile> files;
  int64_t links = 0, others = 0;
  std::error_code ec;
  // The job is over: nothing writes the folder now (a dev environment's next run starts
  // after this). Links are never followed and not kept.
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_symlink(st)) {
      ++links;
      continue;
    }
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) {
      ++others;
      continue;
    }
    if (files.size() >= options_.max_files) {
      o.truncated = true;
      break;
    }
    OutputFile f;
    f.path = fs::relative(it->path(), dir, ec).string();
    uint64_t size = 0;
    auto sum = sha256_file(it->path().string(), &size);
    if (!sum.ok()) continue;  // went while we looked
    f.size = static_cast<int64_t>(size);
    f.sha256 = *sum;
    o.bytes += f.size;
    files.push_back(std::move(f));
  }
  o.files = static_cast<int64_t>(files.size());
  if (links > 0 || others > 0) {
    o.skipped = std::to_string(links) + " symbolic link(s) and " + std::to_string(others) +
                " special file(s) are not kept";
  }
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM job_output_files WHERE job_id = ?", {job_id}).status());
    JZ_RETURN_IF_ERROR(c.exec("DELETE FROM job_outputs WHERE job_id = ?", {job_id}).status());
    JZ_RETURN_IF_ERROR(
        c.exec("INSERT INTO job_outputs (job_id, project_id, dir, level, state, files, bytes, "
               "truncated, skipped, recorded_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?, ?)",
               {o.job_id, o.project_id, o.dir, o.level, o.state, o.files, o.bytes,
                int64_t{o.truncated ? 1 : 0}, o.skipped, o.recorded_at_ms,
                o.expires_at_ms ? store::Value(*o.expires_at_ms) : store::Value()})
            .status());
    for (const auto& f : files) {
      JZ_RETURN_IF_ERROR(c.exec("INSERT INTO job_output_files (job_id, path, size, sha256) "
                                "VALUES (?, ?, ?, ?)",
                                {job_id, f.path, f.size, f.sha256})
                             .status());
    }
    // An earlier attempt's pending request was about other bytes.
    return c
        .exec(
            "UPDATE releases SET state = 'superseded' WHERE job_id = ? AND state = "
            "'pending'",
            {job_id})
        .status();
  }));
  return o;
}

Result<JobOutputs> Outputs::get(const std::string& project_id, const std::string& job_id) {
  JobOutputs out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out,
        store::query_one(c, kOutputs, kOutputsSelect + " WHERE job_id = ? AND project_id = ?",
                         {job_id, project_id},
                         "job " + job_id + " has no outputs yet (they are recorded when it ends)"));
    return {};
  }));
  return out;
}

Result<store::Page<OutputFile>> Outputs::files(const std::string& job_id,
                                               const store::PageSpec& page) {
  store::Page<OutputFile> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out, store::query_page<OutputFile>(
                 c, kFile, "SELECT " + kFile.columns() + " FROM job_output_files WHERE job_id = ?",
                 {job_id}, "path", [](const OutputFile& f) { return f.path; }, page));
    return {};
  }));
  return out;
}

Result<std::pair<int, int64_t>> Outputs::open_file(const JobOutputs& o, const std::string& path) {
  if (o.state == "expired") {
    return Status::not_found("the outputs of job " + o.job_id +
                             " were removed after the retention period (jobs.output_retention_h)");
  }
  // Only what was recorded is served.
  bool listed = false;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(auto rows, c.query("SELECT path FROM job_output_files WHERE job_id = ? "
                                           "AND path = ?",
                                           {o.job_id, path}));
    listed = !rows.empty();
    return {};
  }));
  if (!listed) return Status::not_found("job " + o.job_id + " has no output '" + path + "'");
  const int root = ::open(o.dir.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
  if (root < 0) return Status::not_found("the outputs folder of job " + o.job_id + " is gone");
  auto fd = open_beneath(root, path);
  ::close(root);
  if (!fd.ok()) return fd.status();
  struct stat st;
  ::fstat(*fd, &st);
  return std::make_pair(*fd, static_cast<int64_t>(st.st_size));
}

Result<Release> Outputs::request(const std::string& project_id, const std::string& job_id,
                                 const std::string& user_id, const std::string& username,
                                 const std::string& reason) {
  if (reason.empty() || reason.size() > 2000) {
    return Status::invalid_argument(
        "field 'reason' must say in 1 to 2000 characters what the outputs are and why they "
        "should leave");
  }
  Release r;
  r.id = ids_.next("rel_");
  r.project_id = project_id;
  r.job_id = job_id;
  r.state = "pending";
  r.reason = reason;
  r.requested_by = user_id;
  r.requester = username;
  r.created_at_ms = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        auto o,
        store::query_one(c, kOutputs, kOutputsSelect + " WHERE job_id = ? AND project_id = ?",
                         {job_id, project_id},
                         "job " + job_id +
                             " has no outputs yet (they are recorded when "
                             "it ends)"));
    if (o.state != "held") {
      return Status::failed_precondition("the outputs of job " + job_id + " are " + o.state +
                                         ", not held: there is nothing to release");
    }
    JZ_ASSIGN_OR_RETURN(auto pending, c.query("SELECT id FROM releases WHERE job_id = ? AND state "
                                              "= 'pending'",
                                              {job_id}));
    if (!pending.empty()) {
      return Status::already_exists("release request " + pending[0].text(0) +
                                    " for these outputs is waiting for a data owner");
    }
    return c
        .exec(
            "INSERT INTO releases (id, project_id, job_id, state, reason, requested_by, "
            "requester, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            {r.id, r.project_id, r.job_id, r.state, r.reason, r.requested_by, r.requester,
             r.created_at_ms})
        .status();
  }));
  return r;
}

Result<Release> Outputs::decide(const std::string& project_id, const std::string& release_id,
                                const std::string& reviewer_id, const std::string& reviewer,
                                bool approve, const std::string& comment) {
  if (comment.size() > 2000) {
    return Status::invalid_argument("field 'comment' may have 2000 characters at most");
  }
  Release r;
  JZ_RETURN_IF_ERROR(db_.transact([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        r, store::query_one(c, kRelease, kReleaseSelect + " WHERE id = ? AND project_id = ?",
                            {release_id, project_id},
                            "no release request '" + release_id + "' in this project"));
    if (r.state != "pending") {
      return Status::failed_precondition("release request " + release_id + " is already " +
                                         r.state);
    }
    if (r.requested_by == reviewer_id) {
      return Status::permission_denied(
          "you asked for this release: another data owner of the project must review it");
    }
    r.state = approve ? "approved" : "refused";
    r.reviewer = reviewer;
    r.comment = comment;
    r.decided_at_ms = clock_.now_unix_ms();
    JZ_RETURN_IF_ERROR(c.exec("UPDATE releases SET state = ?, reviewer = ?, comment = ?, "
                              "decided_at_ms = ? WHERE id = ?",
                              {r.state, reviewer, comment, *r.decided_at_ms, r.id})
                           .status());
    if (!approve) return {};
    return c
        .exec("UPDATE job_outputs SET state = 'released' WHERE job_id = ? AND state = 'held'",
              {r.job_id})
        .status();
  }));
  return r;
}

Result<Release> Outputs::release(const std::string& project_id, const std::string& release_id) {
  Release r;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        r, store::query_one(c, kRelease, kReleaseSelect + " WHERE id = ? AND project_id = ?",
                            {release_id, project_id},
                            "no release request '" + release_id + "' in this project"));
    return {};
  }));
  return r;
}

Result<store::Page<Release>> Outputs::releases(const std::string& project_id,
                                               const std::string& state, const std::string& job_id,
                                               const store::PageSpec& page) {
  std::string sql = kReleaseSelect + " WHERE project_id = ?";
  store::Params params{project_id};
  if (!state.empty()) {
    sql += " AND state = ?";
    params.emplace_back(state);
  }
  if (!job_id.empty()) {
    sql += " AND job_id = ?";
    params.emplace_back(job_id);
  }
  store::Page<Release> out;
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        out, store::query_page<Release>(
                 c, kRelease, sql, params, "id", [](const Release& r) { return r.id; }, page));
    return {};
  }));
  return out;
}

Result<int> Outputs::expire() {
  std::vector<JobOutputs> due;
  const int64_t now = clock_.now_unix_ms();
  JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
    JZ_ASSIGN_OR_RETURN(
        due, store::query_all(c, kOutputs,
                              kOutputsSelect + " WHERE expires_at_ms IS NOT NULL AND "
                                               "expires_at_ms <= ? AND state <> 'expired'",
                              {now}));
    return {};
  }));
  int n = 0;
  for (const auto& o : due) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(o.dir, ec)) fs::remove_all(e.path(), ec);
    JZ_RETURN_IF_ERROR(db_.with_conn([&](store::Conn& c) -> Status {
      return c.exec("UPDATE job_outputs SET state = 'expired' WHERE job_id = ?", {o.job_id})
          .status();
    }));
    ++n;
  }
  return n;
}

}  // namespace jz::jobs
