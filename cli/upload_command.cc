#include "cli/upload_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/hash.h"
#include "core/subprocess.h"

namespace jz::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

// The progress line: a bar on a terminal, a line each 10% otherwise.
class Progress {
 public:
  Progress(std::string what, int64_t total, int64_t start)
      : what_(std::move(what)), total_(total), start_offset_(start), tty_(::isatty(2) != 0) {}
  void show(int64_t offset, bool done = false) {
    const auto now = Clock::now();
    const double secs = std::chrono::duration<double>(now - started_).count();
    const double rate = secs > 0 ? static_cast<double>(offset - start_offset_) / secs : 0;
    const int pct = total_ > 0 ? static_cast<int>(offset * 100 / total_) : 100;
    char line[256];
    const double eta = rate > 0 ? static_cast<double>(total_ - offset) / rate : 0;
    if (tty_) {
      if (!done && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      std::string bar(30, '.');
      for (int i = 0; i < pct * 30 / 100; ++i) bar[static_cast<size_t>(i)] = '#';
      std::snprintf(line, sizeof line, "\r%s %3d%% [%s] %s / %s  %s/s  ETA %d:%02d ", what_.c_str(),
                    pct, bar.c_str(), human(static_cast<double>(offset)).c_str(),
                    human(static_cast<double>(total_)).c_str(), human(rate).c_str(),
                    static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
      std::fputs(line, stderr);
      if (done) std::fputs("\n", stderr);
    } else if (pct / 10 > last_decile_ || done) {
      last_decile_ = pct / 10;
      std::snprintf(line, sizeof line, "%s %d%% (%s of %s, %s/s)\n", what_.c_str(), pct,
                    human(static_cast<double>(offset)).c_str(),
                    human(static_cast<double>(total_)).c_str(), human(rate).c_str());
      std::fputs(line, stderr);
    }
    std::fflush(stderr);
  }

 private:
  std::string what_;
  int64_t total_;
  int64_t start_offset_;
  bool tty_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_{};
  int last_decile_ = -1;
};

// A folder is packed into a tar file first (removed when the upload ends).
struct Packed {
  std::string path;
  bool temporary = false;
  ~Packed() {
    if (temporary) std::remove(path.c_str());
  }
};

Result<std::string> pack_folder(const std::string& dir) {
  const char* tmp = std::getenv("TMPDIR");
  std::string out = std::string(tmp && *tmp ? tmp : "/tmp") + "/jizhan-upload-XXXXXX";
  std::vector<char> name(out.begin(), out.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) return Status::unavailable("cannot make a temporary file: " + errno_message(errno));
  ::close(fd);
  out = name.data();
  std::fprintf(stderr, "packing %s with tar...\n", dir.c_str());
  SubprocessOptions o;
  o.argv = {"tar", "-cf", out, "-C", dir, "."};
  auto r = run_subprocess(o);
  if (!r.ok() || r->exit_code != 0) {
    std::remove(out.c_str());
    return Status::failed_precondition("tar could not pack " + dir + ": " +
                                       (r.ok() ? r->err : r.status().message()));
  }
  return out;
}

}  // namespace

Result<Json> upload_dataset(ApiClient& api, const UploadRequest& r) {
  // A server that refuses a chunk closes the connection while it is sent: an error to
  // report, not a signal to die of.
  std::signal(SIGPIPE, SIG_IGN);
  Packed file{r.path};
  std::error_code ec;
  if (fs::is_directory(r.path, ec)) {
    JZ_ASSIGN_OR_RETURN(file.path, pack_folder(r.path));
    file.temporary = true;
  }
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::not_found("cannot read " + file.path + ": " + errno_message(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  ::fstat(fd, &st);
  const int64_t size = st.st_size;
  if (size <= 0) return Status::invalid_argument(file.path + " is empty");

  const std::string base = "/api/v1/projects/" + url_encode(r.project);
  const std::string mine = base + "/datasets/" + url_encode(r.dataset) + "/upload";
  Json up;
  auto open = api.call("GET", mine);
  if (open.ok() && r.restart) {
    JZ_RETURN_IF_ERROR(
        api.call("DELETE", base + "/uploads/" + (*open)["id"].get<std::string>()).status());
    open = Status::not_found("restarted");
  }
  if (open.ok()) {
    if ((*open)["size"].get<int64_t>() != size) {
      return Status::failed_precondition("you have an unfinished upload of dataset '" + r.dataset +
                                         "' of " + std::to_string((*open)["size"].get<int64_t>()) +
                                         " bytes, and this file has " + std::to_string(size) +
                                         ": pass --restart to drop it and start again");
    }
    up = *open;
    std::fprintf(stderr, "resuming upload %s at %s of %s\n", up["id"].get<std::string>().c_str(),
                 human(up["offset"].get<double>()).c_str(),
                 human(static_cast<double>(size)).c_str());
  } else if (open.status().code() == Code::kNotFound) {
    Json body = {{"dataset", r.dataset}, {"size", size}, {"security_level", r.level}};
    JZ_ASSIGN_OR_RETURN(up, api.call("POST", base + "/uploads", &body));
  } else {
    return open.status();
  }
  const std::string url = base + "/uploads/" + up["id"].get<std::string>();
  int64_t offset = up["offset"].get<int64_t>();
  Progress progress("upload " + r.dataset, size, offset);
  std::string chunk;
  int tries = 0;
  while (true) {
    const size_t want =
        static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(r.chunk_bytes), size - offset));
    chunk.resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd, chunk.data() + got, want - got,
                                static_cast<off_t>(offset) + static_cast<off_t>(got));
      if (n <= 0)
        return Status::unavailable("cannot read " + file.path + ": " + errno_message(errno));
      got += static_cast<size_t>(n);
    }
    auto sent = api.patch_bytes(url, chunk,
                                {{"Upload-Offset", std::to_string(offset)},
                                 {"Upload-Checksum", "sha256 " + sha256_hex(chunk)}});
    if (sent.ok()) {
      tries = 0;
      offset = (*sent)["offset"].get<int64_t>();
      progress.show(offset, offset == size);
      if (!(*sent)["dataset"].is_null()) return (*sent)["dataset"];
      if (offset >= size) return Status::internal("the upload is complete but made no dataset");
      continue;
    }
    // Dropped connections and crossed offsets: ask where the upload is, go on from there.
    const Code code = sent.status().code();
    if (code != Code::kUnavailable && code != Code::kFailedPrecondition) return sent.status();
    if (++tries > r.retries) {
      return Status(code, sent.status().message() + " (gave up after " + std::to_string(r.retries) +
                              " tries; run the same command again to resume)");
    }
    if (code == Code::kUnavailable) {
      std::fprintf(stderr, "\nconnection lost (%s); retrying in %d s\n",
                   sent.status().message().c_str(), 1 << std::min(tries - 1, 5));
      std::this_thread::sleep_for(std::chrono::seconds(1 << std::min(tries - 1, 5)));
    }
    auto now = api.call("GET", url);
    if (now.ok()) offset = (*now)["offset"].get<int64_t>();
  }
}

}  // namespace jz::cli
