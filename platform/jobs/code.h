// Project code (mission H1, C1): each project has one git repository, bare, under the
// platform's data folder. Developers push and pull over the platform's HTTP with their
// token (git's smart HTTP protocol, served by `git http-backend`); a job names a ref, the
// API resolves it to a commit that the job records, and the runner mounts a read-only
// snapshot of that commit at /code; dev environments mount the repository itself at
// /code.git (read-write when their owner may push), so `git push` inside one needs no
// network.
//
// Because dev environments write into the repository, nothing in it is trusted: every git
// command the platform runs on it (serving clones and pushes, resolving refs, listing
// commits, writing snapshots) runs in a bubblewrap sandbox that sees the system folders
// read-only, that repository and the one folder it writes, with no network, as the
// project's sandbox user. A hook, a config entry or an `alternates` file put there by a
// job can reach nothing else.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::jobs {

struct CodeOptions {
  std::string root;  // the repositories, <root>/<project id>.git; snapshots beside them
  std::string bwrap = "bwrap";
  // The user (and group) git runs as for a project when the server runs as root (the
  // project's jobs' user); -1: this process's user.
  std::function<int64_t(const std::string& project_id)> uid_of;
  std::chrono::seconds timeout{600};  // one git command at most
  int max_running = 4;                // git commands at once (unavailable beyond)
};

struct Commit {
  std::string id, author, subject;
  int64_t time_s = 0;
};

struct Branch {
  std::string name, commit;
};

// One request of git's smart HTTP protocol, as the CGI `git http-backend` takes it.
struct GitHttpRequest {
  std::string method, path_info, query, content_type, content_encoding, git_protocol;
  std::string body;
  std::string remote_user;
  bool may_push = false;
};

// `git http-backend`'s answer; the body waits in a file already unlinked (`fd`, from
// `offset`), so a large clone is streamed, never held in memory.
struct GitHttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  int fd = -1;
  int64_t offset = 0, size = 0;
};

// The head of a CGI answer ("Status: 404 Not Found", "Name: value" lines, an empty line;
// CRLF or LF): the status (200 when not given), the other fields, and where the body
// starts. invalid_argument when `text` holds no complete head or a malformed line.
struct CgiHead {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t body_offset = 0;
};
Result<CgiHead> parse_cgi_head(std::string_view text);

class CodeRepos {
 public:
  explicit CodeRepos(CodeOptions options);

  // The repository's folder (created on first use).
  std::string repo_path(const std::string& project_id) const;
  // Creates the project's empty repository (branch main) unless it exists.
  Status ensure(const std::string& project_id);
  // The commit `ref` names (a branch, tag, or full or abbreviated commit id); not_found
  // when it names none, failed_precondition when nothing was pushed yet.
  Result<std::string> resolve(const std::string& project_id, const std::string& ref);
  Result<std::vector<Branch>> branches(const std::string& project_id);
  // The newest `limit` commits reachable from `ref`.
  Result<std::vector<Commit>> log(const std::string& project_id, const std::string& ref, int limit);
  // A folder holding the tree of `commit` (a full id), written once and shared by every
  // job that runs that commit; read-only for jobs (they mount it so).
  Result<std::string> snapshot(const std::string& project_id, const std::string& commit);
  std::string snapshot_path(const std::string& project_id, const std::string& commit) const {
    return snapshots_dir(project_id) + "/" + commit;
  }
  // Removes snapshots not used for `age` (by modification time, renewed at each use),
  // except those in `keep` (folders of running jobs). Returns how many went.
  int prune_snapshots(std::chrono::seconds age, const std::vector<std::string>& keep) const;
  // Runs `git http-backend` for one request of the project's repository.
  Result<GitHttpReply> http_backend(const std::string& project_id, const GitHttpRequest& req);

 private:
  struct Run {
    int exit_code = -1;
    std::string out, err;
  };
  // git (argv after "git") in the sandbox, the repository at /repo (writable when
  // `write_repo`), `out_dir` (when set) writable at /out, `in_file` read-only at /in.
  Result<Run> git(const std::string& project_id, const std::vector<std::string>& args,
                  bool write_repo, const std::string& out_dir = "",
                  const std::vector<std::pair<std::string, std::string>>& env = {},
                  const std::string& in_file = "", const std::string& shell = "");
  std::string snapshots_dir(const std::string& project_id) const;
  CodeOptions options_;
  std::mutex mu_;
  int running_ = 0;
};

}  // namespace jz::jobs
