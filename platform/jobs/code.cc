#include "platform/jobs/code.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "core/sandbox.h"
#include "core/subprocess.h"
#include "platform/jobs/spec.h"

namespace jz::jobs {

namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// A folder the project's git user may pass through (and, for its own, write).
Status own_folder(const std::string& path, int64_t uid, unsigned mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::unavailable("cannot create " + path + ": " + ec.message());
  ::chmod(path.c_str(), mode);
  if (uid >= 0 && ::chown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
    return Status::internal("cannot hand " + path + " to user " + std::to_string(uid) + ": " +
                            errno_message(errno));
  }
  return {};
}

}  // namespace

Result<CgiHead> parse_cgi_head(std::string_view text) {
  size_t end = text.find("\r\n\r\n"), skip = 4;
  const size_t lf = text.find("\n\n");
  if (lf != std::string_view::npos && (end == std::string_view::npos || lf < end)) {
    end = lf;
    skip = 2;
  }
  if (end == std::string_view::npos) return Status::invalid_argument("no end of the head");
  CgiHead out;
  out.body_offset = end + skip;
  size_t start = 0;
  while (start < end) {
    size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos || eol > end) eol = end;
    std::string_view line = text.substr(start, eol - start);
    start = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::invalid_argument("a head line without a field name");
    }
    std::string name(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    for (char c : name) {
      if (c <= ' ' || c == 0x7f) return Status::invalid_argument("a bad field name");
    }
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < ' ' && c != '\t') || c == 0x7f) {
        return Status::invalid_argument("a control character in a field");
      }
    }
    if (name == "Status") {
      if (value.size() < 3 || !std::isdigit(static_cast<unsigned char>(value[0])) ||
          !std::isdigit(static_cast<unsigned char>(value[1])) ||
          !std::isdigit(static_cast<unsigned char>(value[2])) ||
          (value.size() > 3 && value[3] != ' ')) {
        return Status::invalid_argument("a bad Status line");
      }
      out.status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
      if (out.status < 100 || out.status > 599) return Status::invalid_argument("a bad status");
    } else {
      out.headers.emplace_back(std::move(name), std::string(value));
    }
  }
  return out;
}

CodeRepos::CodeRepos(CodeOptions options) : options_(std::move(options)) {}

std::string CodeRepos::repo_path(const std::string& project_id) const {
  return options_.root + "/" + project_id + ".git";
}

std::string CodeRepos::snapshots_dir(const std::string& project_id) const {
  return options_.root + "/" + project_id + ".snapshots";
}

Result<CodeRepos::Run> CodeRepos::git(const std::string& project_id,
                                      const std::vector<std::string>& args, bool write_repo,
                                      const std::string& out_dir,
                                      const std::vector<std::pair<std::string, std::string>>& env,
                                      const std::string& in_file, const std::string& shell) {
  {
    std::lock_guard lock(mu_);
    if (running_ >= options_.max_running) {
      return Status::unavailable("the platform is busy with " + std::to_string(running_) +
                                 " git operations; try again in a moment");
    }
    ++running_;
  }
  struct Done {
    CodeRepos* self;
    ~Done() {
      std::lock_guard lock(self->mu_);
      --self->running_;
    }
  } done{this};
  const int64_t uid = options_.uid_of ? options_.uid_of(project_id) : -1;
  SubprocessOptions o;
  if (uid >= 0) {
    o.argv = {"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(uid),
              "--clear-groups"};
  }
  o.argv.insert(o.argv.end(), {options_.bwrap, "--unshare-all", "--die-with-parent",
                               "--new-session", "--cap-drop", "ALL"});
  add_system_binds(o.argv);
  o.argv.insert(o.argv.end(),
                {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                 write_repo ? "--bind" : "--ro-bind", repo_path(project_id), "/repo"});
  if (!out_dir.empty()) o.argv.insert(o.argv.end(), {"--bind", out_dir, "/out"});
  if (!in_file.empty()) o.argv.insert(o.argv.end(), {"--ro-bind", in_file, "/in"});
  o.argv.insert(o.argv.end(), {"--clearenv",
                               "--setenv",
                               "PATH",
                               "/usr/bin:/bin",
                               "--setenv",
                               "HOME",
                               "/tmp",
                               "--setenv",
                               "GIT_DIR",
                               "/repo",
                               "--setenv",
                               "GIT_CONFIG_NOSYSTEM",
                               "1",
                               "--setenv",
                               "GIT_CONFIG_GLOBAL",
                               "/dev/null",
                               "--setenv",
                               "GIT_TERMINAL_PROMPT",
                               "0",
                               "--setenv",
                               "LC_ALL",
                               "C"});
  for (const auto& [k, v] : env) o.argv.insert(o.argv.end(), {"--setenv", k, v});
  o.argv.insert(o.argv.end(), {"--chdir", "/tmp", "--"});
  if (!shell.empty()) {
    o.argv.insert(o.argv.end(), {"/bin/sh", "-c", shell});
  } else {
    o.argv.insert(o.argv.end(), {"git", "-c", "safe.directory=*"});
    o.argv.insert(o.argv.end(), args.begin(), args.end());
  }
  o.replace_env = true;
  o.env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
  o.timeout = options_.timeout;
  JZ_ASSIGN_OR_RETURN(auto r, run_subprocess(o));
  if (r.timed_out) {
    return Status::deadline_exceeded("git took longer than " +
                                     std::to_string(options_.timeout.count()) + " s");
  }
  return Run{r.exit_code, std::move(r.out), std::move(r.err)};
}

Status CodeRepos::ensure(const std::string& project_id) {
  const std::string repo = repo_path(project_id);
  struct stat st;
  if (::lstat((repo + "/HEAD").c_str(), &st) == 0) return {};
  const int64_t uid = options_.uid_of ? options_.uid_of(project_id) : -1;
  JZ_RETURN_IF_ERROR(own_folder(options_.root, -1, 0711));
  JZ_RETURN_IF_ERROR(own_folder(repo, uid, 0700));
  JZ_ASSIGN_OR_RETURN(
      auto r, git(project_id, {"init", "--quiet", "--bare", "--initial-branch=main"}, true));
  if (r.exit_code != 0) {
    return Status::internal("cannot create the project's repository: " + trimmed(r.err));
  }
  // Pushes are checked as they arrive; a repository never packs its refs by itself (jobs
  // see one layout).
  for (const auto& kv : {std::pair<std::string, std::string>{"receive.fsckObjects", "true"},
                         {"gc.auto", "0"},
                         {"receive.autogc", "false"}}) {
    JZ_ASSIGN_OR_RETURN(auto c, git(project_id, {"config", kv.first, kv.second}, true));
    if (c.exit_code != 0) return Status::internal("cannot configure the repository: " + c.err);
  }
  return {};
}

Result<std::string> CodeRepos::resolve(const std::string& project_id, const std::string& ref) {
  if (!valid_ref(ref)) {
    return Status::invalid_argument("'" + ref +
                                    "' is not a branch, tag or commit name (letters, digits and "
                                    ". _ / -)");
  }
  JZ_RETURN_IF_ERROR(ensure(project_id));
  JZ_ASSIGN_OR_RETURN(
      auto r,
      git(project_id, {"rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}"},
          false));
  const std::string id = trimmed(r.out);
  if (r.exit_code == 0 && is_commit_id(id)) return id;
  JZ_ASSIGN_OR_RETURN(auto b, branches(project_id));
  if (b.empty()) {
    return Status::failed_precondition(
        "nothing was pushed to the project's repository yet: push your code first (git push "
        "with the clone URL the project's code page shows)");
  }
  std::string names;
  for (const auto& x : b) names += (names.empty() ? "" : ", ") + x.name;
  return Status::not_found(
      "'" + ref + "' names no commit of the project's repository (branches: " + names + ")");
}

Result<std::vector<Branch>> CodeRepos::branches(const std::string& project_id) {
  JZ_RETURN_IF_ERROR(ensure(project_id));
  JZ_ASSIGN_OR_RETURN(auto r, git(project_id,
                                  {"for-each-ref", "--count=200",
                                   "--format=%(refname:short)%00%(objectname)", "refs/heads"},
                                  false));
  if (r.exit_code != 0) return Status::internal("cannot list branches: " + trimmed(r.err));
  std::vector<Branch> out;
  for (const auto& line : split(trimmed(r.out), '\n')) {
    const auto f = split(line, '\0');
    if (f.size() == 2) out.push_back({f[0], f[1]});
  }
  return out;
}

Result<std::vector<Commit>> CodeRepos::log(const std::string& project_id, const std::string& ref,
                                           int limit) {
  JZ_ASSIGN_OR_RETURN(std::string head, resolve(project_id, ref));
  JZ_ASSIGN_OR_RETURN(auto r, git(project_id,
                                  {"log", "--no-color", "-n", std::to_string(limit),
                                   "--format=%H%x00%an%x00%at%x00%s", head, "--"},
                                  false));
  if (r.exit_code != 0) return Status::internal("cannot list commits: " + trimmed(r.err));
  std::vector<Commit> out;
  for (const auto& line : split(trimmed(r.out), '\n')) {
    const auto f = split(line, '\0');
    if (f.size() != 4) continue;
    out.push_back({f[0], f[1], f[3], std::strtoll(f[2].c_str(), nullptr, 10)});
  }
  return out;
}

Result<std::string> CodeRepos::snapshot(const std::string& project_id, const std::string& commit) {
  if (!is_commit_id(commit)) return Status::invalid_argument("'" + commit + "' is not a commit id");
  const std::string dir = snapshots_dir(project_id);
  const std::string final_dir = snapshot_path(project_id, commit);
  struct stat st;
  if (::lstat(final_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    ::utimensat(AT_FDCWD, final_dir.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // in use again
    return final_dir;
  }
  const int64_t uid = options_.uid_of ? options_.uid_of(project_id) : -1;
  JZ_RETURN_IF_ERROR(ensure(project_id));
  JZ_RETURN_IF_ERROR(own_folder(dir, -1, 0711));
  std::string tmp = dir + "/.tmp-" + commit + "-XXXXXX";
  if (!::mkdtemp(tmp.data())) {
    return Status::unavailable("cannot create a folder in " + dir + ": " + errno_message(errno));
  }
  JZ_RETURN_IF_ERROR(own_folder(tmp, uid, 0755));
  // The tree through a private index: nothing in the repository is written.
  JZ_ASSIGN_OR_RETURN(auto r,
                      git(project_id, {}, false, tmp, {{"GIT_INDEX_FILE", "/tmp/index"}}, "",
                          "git -c safe.directory='*' read-tree " + commit +
                              " && git -c safe.directory='*' --work-tree=/out "
                              "checkout-index --all"));
  std::error_code ec;
  if (r.exit_code != 0) {
    fs::remove_all(tmp, ec);
    return Status::internal("cannot check out commit " + commit + ": " + trimmed(r.err));
  }
  ::chmod(tmp.c_str(), 0755);
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    fs::remove_all(tmp, ec);  // another job's snapshot of the same commit won
    if (::lstat(final_dir.c_str(), &st) != 0) {
      return Status::internal("cannot keep the snapshot of " + commit + ": " +
                              errno_message(errno));
    }
  }
  return final_dir;
}

int CodeRepos::prune_snapshots(std::chrono::seconds age,
                               const std::vector<std::string>& keep) const {
  std::error_code ec;
  int removed = 0;
  const auto cutoff = fs::file_time_type::clock::now() - age;
  for (const auto& project : fs::directory_iterator(options_.root, ec)) {
    const std::string name = project.path().filename().string();
    if (name.size() < 10 || name.substr(name.size() - 10) != ".snapshots") continue;
    for (const auto& snap : fs::directory_iterator(project.path(), ec)) {
      if (std::find(keep.begin(), keep.end(), snap.path().string()) != keep.end()) continue;
      const auto t = fs::last_write_time(snap.path(), ec);
      if (ec || t > cutoff) continue;
      fs::remove_all(snap.path(), ec);
      if (!ec) ++removed;
    }
  }
  return removed;
}

Result<GitHttpReply> CodeRepos::http_backend(const std::string& project_id,
                                             const GitHttpRequest& req) {
  JZ_RETURN_IF_ERROR(ensure(project_id));
  const int64_t uid = options_.uid_of ? options_.uid_of(project_id) : -1;
  const std::string tmp_root = options_.root + "/.tmp";
  JZ_RETURN_IF_ERROR(own_folder(tmp_root, -1, 0711));
  std::string work = tmp_root + "/http-XXXXXX";
  if (!::mkdtemp(work.data())) {
    return Status::unavailable("cannot create a folder in " + tmp_root + ": " +
                               errno_message(errno));
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  JZ_RETURN_IF_ERROR(own_folder(work, uid, 0700));
  JZ_RETURN_IF_ERROR(write_file(work + "/request", req.body, 0600, false, false));
  if (uid >= 0) {
    (void)::chown((work + "/request").c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid));
  }
  // Pushes only for those who may: the setting comes from the environment, above anything
  // a job may have written into the repository's own config.
  std::vector<std::pair<std::string, std::string>> env = {
      {"GIT_PROJECT_ROOT", "/"},
      {"GIT_HTTP_EXPORT_ALL", "1"},
      {"PATH_INFO", "/repo" + req.path_info},
      {"REQUEST_METHOD", req.method},
      {"QUERY_STRING", req.query},
      {"CONTENT_TYPE", req.content_type},
      {"CONTENT_LENGTH", std::to_string(req.body.size())},
      {"REMOTE_USER", req.remote_user},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"GIT_CONFIG_COUNT", "3"},
      {"GIT_CONFIG_KEY_0", "http.receivepack"},
      {"GIT_CONFIG_VALUE_0", req.may_push ? "true" : "false"},
      {"GIT_CONFIG_KEY_1", "http.uploadpack"},
      {"GIT_CONFIG_VALUE_1", "true"},
      {"GIT_CONFIG_KEY_2", "safe.directory"},
      {"GIT_CONFIG_VALUE_2", "*"}};
  if (!req.content_encoding.empty())
    env.emplace_back("HTTP_CONTENT_ENCODING", req.content_encoding);
  if (!req.git_protocol.empty()) env.emplace_back("GIT_PROTOCOL", req.git_protocol);
  JZ_ASSIGN_OR_RETURN(auto r, git(project_id, {}, req.may_push, work, env, work + "/request",
                                  "unset GIT_DIR; exec git http-backend </in >/out/response"));
  const std::string resp = work + "/response";
  const int fd = ::open(resp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || r.exit_code != 0) {
    if (fd >= 0) ::close(fd);
    return Status::internal("git http-backend failed: " + trimmed(r.err));
  }
  std::string head(16384, '\0');
  const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  auto parsed = parse_cgi_head(head);
  if (!parsed.ok()) {
    ::close(fd);
    return Status::internal("git http-backend answered badly (" + parsed.status().message() +
                            "): " + trimmed(r.err));
  }
  GitHttpReply out;
  out.status = parsed->status;
  out.headers = std::move(parsed->headers);
  struct stat st;
  ::fstat(fd, &st);
  out.fd = fd;
  out.offset = static_cast<int64_t>(parsed->body_offset);
  out.size = static_cast<int64_t>(st.st_size) - out.offset;
  return out;
}

}  // namespace jz::jobs
