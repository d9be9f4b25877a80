#include "sdk/host.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/subprocess.h"
#include "sdk/library.h"

namespace jz::sdk {
namespace {

constexpr int kChildSock = 3, kChildShm = 4;
constexpr uint32_t kMaxMessage = 64u << 20;

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool send_message(int fd, const Json& j) {
  const std::string body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  const uint32_t n = static_cast<uint32_t>(body.size());
  return write_all(fd, &n, sizeof n) && write_all(fd, body.data(), body.size());
}

// Reads exactly n bytes, waiting at most until `deadline` (none when max()).
enum class ReadResult { kOk, kClosed, kTimeout };
ReadResult read_exact(int fd, void* out, size_t n, std::chrono::steady_clock::time_point deadline) {
  char* p = static_cast<char*>(out);
  while (n > 0) {
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ReadResult::kTimeout;
      pollfd pfd{fd, POLLIN, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return ReadResult::kTimeout;
    }
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return ReadResult::kClosed;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return ReadResult::kOk;
}

ReadResult read_message(int fd, Json& out, std::chrono::steady_clock::time_point deadline) {
  uint32_t n = 0;
  ReadResult r = read_exact(fd, &n, sizeof n, deadline);
  if (r != ReadResult::kOk) return r;
  if (n > kMaxMessage) return ReadResult::kClosed;
  std::string body(n, '\0');
  r = read_exact(fd, body.data(), n, deadline);
  if (r != ReadResult::kOk) return r;
  // The child is untrusted: a message nested too deeply is a broken one.
  if (json::depth_exceeded_at(body) != std::string::npos) return ReadResult::kClosed;
  out = Json::parse(body, nullptr, false);
  return out.is_discarded() ? ReadResult::kClosed : ReadResult::kOk;
}

size_t frame_bytes(const jz_frame& f) {
  const size_t rows = f.format == JZ_PIXEL_NV12 ? static_cast<size_t>(f.height) * 3 / 2
                                                : static_cast<size_t>(f.height);
  return rows * static_cast<size_t>(f.stride);
}

}  // namespace

Result<std::unique_ptr<IsolatedAlgo>> IsolatedAlgo::start(const HostOptions& options) {
  std::unique_ptr<IsolatedAlgo> a(new IsolatedAlgo());
  a->options_ = options;
  // The child may run in another folder (package_dir): relative paths are made absolute.
  for (std::string* p :
       {&a->options_.host_binary, &a->options_.library, &a->options_.package_dir}) {
    if (!p->empty() && (p->find('/') != std::string::npos || p == &a->options_.package_dir) &&
        (*p)[0] != '/') {
      *p = std::filesystem::absolute(*p).string();
    }
  }
  a->shm_fd_ = ::memfd_create("jizhan-frames", MFD_CLOEXEC);
  if (a->shm_fd_ < 0) return Status::internal("memfd_create: " + errno_message(errno));
  if (::ftruncate(a->shm_fd_, static_cast<off_t>(options.shared_memory_bytes)) != 0) {
    return Status::internal("ftruncate: " + errno_message(errno));
  }
  void* m = ::mmap(nullptr, options.shared_memory_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                   a->shm_fd_, 0);
  if (m == MAP_FAILED) return Status::internal("mmap: " + errno_message(errno));
  a->shm_ = static_cast<uint8_t*>(m);
  JZ_RETURN_IF_ERROR(a->launch());
  return a;
}

IsolatedAlgo::~IsolatedAlgo() {
  kill_child();
  if (shm_) ::munmap(shm_, options_.shared_memory_bytes);
  if (shm_fd_ >= 0) ::close(shm_fd_);
}

void IsolatedAlgo::kill_child() {
  if (sock_ >= 0) ::close(sock_);
  sock_ = -1;
  if (child_) {
    child_->signal(SIGKILL);
    child_->wait();
    child_.reset();
  }
  relay_.reset();  // the child's output is closed once its sandbox is gone
}

Status IsolatedAlgo::launch() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::internal("socketpair: " + errno_message(errno));
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return Status::internal("pipe: " + errno_message(errno));
  }
  SubprocessOptions o;
  o.argv = {options_.host_binary,
            "algo-host",
            options_.library,
            std::to_string(kChildSock),
            std::to_string(kChildShm),
            std::to_string(options_.shared_memory_bytes),
            std::to_string(options_.memory_limit_mb)};
  // Its stdout and stderr are ours to relay, never the caller's own output.
  o.pass_fds = {{sv[1], kChildSock}, {shm_fd_, kChildShm}, {out[1], 1}, {out[1], 2}};
  o.new_process_group = true;
  if (options_.sandbox.enabled) {
    auto prefix = sandbox_command(options_.sandbox, options_.host_binary, options_.library,
                                  options_.package_dir);
    if (!prefix.ok()) {
      for (int fd : {sv[0], sv[1], out[0], out[1]}) ::close(fd);
      return prefix.status();
    }
    o.argv.insert(o.argv.begin(), prefix->begin(), prefix->end());
  } else {
    if (!options_.package_dir.empty()) o.env["JIZHAN_PACKAGE_DIR"] = options_.package_dir;
    o.cwd = options_.package_dir;
  }
  auto child = Child::spawn(o);
  ::close(sv[1]);
  ::close(out[1]);
  relay_ = std::make_unique<OutputRelay>(out[0]);
  if (!child.ok()) {
    ::close(sv[0]);
    relay_.reset();
    return child.status();
  }
  child_.emplace(std::move(*child));
  sock_ = sv[0];
  // Loading a library and its models may take much longer than a frame does.
  auto created = call({{"op", "create"}, {"config", options_.config_json}},
                      std::max(options_.timeout, options_.start_timeout));
  if (!created.ok()) return created.status();
  description_ = (*created)["describe"];
  return {};
}

std::string IsolatedAlgo::death_reason() {
  if (!child_) return "the algorithm host is gone";
  auto r = child_->wait_for(std::chrono::milliseconds(500));
  if (!r) return "the algorithm host stopped answering";
  child_.reset();
  // bubblewrap reports a command killed by signal n as exit status 128 + n.
  const int sig = r->signal != 0 ? r->signal
                  : options_.sandbox.enabled && r->exit_code > 128 && r->exit_code < 128 + 65
                      ? r->exit_code - 128
                      : 0;
  if (sig != 0) {
    const char* name = ::sigabbrev_np(sig);
    return std::string("the algorithm crashed (SIG") + (name ? name : "?") + ")";
  }
  return "the algorithm host exited with status " + std::to_string(r->exit_code);
}

Result<Json> IsolatedAlgo::call(const Json& request, std::chrono::milliseconds timeout) {
  if (sock_ < 0) {
    ++restarts_;
    JZ_RETURN_IF_ERROR(launch());
  }
  if (!send_message(sock_, request)) {
    const std::string why = death_reason();
    kill_child();
    return Status::unavailable(why + "; a fresh host starts with the next call");
  }
  Json answer;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  switch (read_message(sock_, answer, deadline)) {
    case ReadResult::kOk:
      break;
    case ReadResult::kTimeout:
      kill_child();
      return Status::deadline_exceeded(
          "the algorithm did not answer within " + std::to_string(timeout.count()) +
          " ms and was stopped; a fresh host starts with the next call");
    case ReadResult::kClosed: {
      const std::string why = death_reason();
      kill_child();
      return Status::unavailable(why + "; a fresh host starts with the next call");
    }
  }
  if (!answer.value("ok", false)) {
    return status_from(answer.value("code", static_cast<int>(JZ_ALGO_FAILED)),
                       answer.value("message", std::string()));
  }
  return answer;
}

Result<std::string> IsolatedAlgo::process(const std::vector<jz_frame>& frames,
                                          const std::string& args) {
  if (frames.empty()) return Status::invalid_argument("no frames");
  // Frames already in the shared memory (frame_buffer()) go by offset; the others are
  // copied in after them.
  auto inside = [&](const jz_frame& f, size_t n) {
    return f.data >= shm_ && f.data + n <= shm_ + options_.shared_memory_bytes;
  };
  size_t offset = 0;
  for (const auto& f : frames) {
    const size_t n = frame_bytes(f);
    if (f.data && inside(f, n)) {
      offset = std::max(offset, static_cast<size_t>(f.data - shm_) + n);
    }
  }
  offset = (offset + 63) & ~size_t{63};
  Json list = Json::array();
  for (const auto& f : frames) {
    const size_t n = frame_bytes(f);
    if (!f.data || f.width <= 0 || f.height <= 0 || f.stride <= 0) {
      return Status::invalid_argument("bad frame geometry");
    }
    size_t at = 0;
    if (inside(f, n)) {
      at = static_cast<size_t>(f.data - shm_);
    } else {
      if (offset + n > options_.shared_memory_bytes) {
        return Status::resource_exhausted("frames of this call exceed the shared memory (" +
                                          std::to_string(options_.shared_memory_bytes) + " bytes)");
      }
      std::memcpy(shm_ + offset, f.data, n);
      at = offset;
      offset += (n + 63) & ~size_t{63};
    }
    list.push_back({{"offset", at},
                    {"width", f.width},
                    {"height", f.height},
                    {"stride", f.stride},
                    {"format", f.format},
                    {"ts", f.timestamp_us},
                    {"index", f.frame_index},
                    {"source", f.source_id ? f.source_id : ""}});
  }
  JZ_ASSIGN_OR_RETURN(
      Json answer, call({{"op", "process"}, {"frames", list}, {"args", args}}, options_.timeout));
  const std::string result = answer.value("result", std::string());
  Json parsed = json::depth_exceeded_at(result) == std::string::npos
                    ? Json::parse(result, nullptr, false)
                    : Json(Json::value_t::discarded);
  if (parsed.is_discarded() || !parsed.is_object()) {
    std::string head = result.substr(0, 80);
    return Status::internal("the algorithm returned malformed JSON (starting '" + head + "')");
  }
  return result;
}

// ---- the child -------------------------------------------------------------------

int run_algo_host(const std::string& library, int sock, int shm_fd, size_t shm_bytes,
                  int64_t memory_limit_mb) {
  if (memory_limit_mb > 0) {
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(memory_limit_mb) << 20;
    ::setrlimit(RLIMIT_AS, &lim);
  }
  void* m = ::mmap(nullptr, shm_bytes, PROT_READ, MAP_SHARED, shm_fd, 0);
  if (m == MAP_FAILED) return 2;
  const uint8_t* shm = static_cast<const uint8_t*>(m);
  // An error as the algorithm status the parent's status_from() turns back into it.
  auto reply_error = [&](const Status& s) {
    const Code c = s.code();
    std::string m = s.message();
    if (c == Code::kFailedPrecondition && m.rfind("not implemented: ", 0) == 0) {
      m = m.substr(17);  // status_from adds it again
    }
    const int code = c == Code::kInvalidArgument      ? JZ_ALGO_INVALID_ARGUMENT
                     : c == Code::kFailedPrecondition ? JZ_ALGO_NOT_IMPLEMENTED
                     : c == Code::kPermissionDenied   ? JZ_ALGO_UNAUTHORIZED
                     : c == Code::kResourceExhausted  ? JZ_ALGO_OVER_QUOTA
                     : c == Code::kDeadlineExceeded   ? JZ_ALGO_TIMEOUT
                                                      : JZ_ALGO_FAILED;
    send_message(sock, {{"ok", false}, {"code", code}, {"message", m}});
  };
  auto lib = AlgoLibrary::open(library);
  std::unique_ptr<AlgoInstance> inst;
  const auto forever = std::chrono::steady_clock::time_point::max();
  for (;;) {
    Json req;
    if (read_message(sock, req, forever) != ReadResult::kOk) return 0;  // the parent left
    const std::string op = req.value("op", "");
    if (!lib.ok()) {
      reply_error(lib.status());
      continue;
    }
    if (op == "create") {
      auto created = (*lib)->create(req.value("config", std::string("{}")));
      if (!created.ok()) {
        reply_error(created.status());
        continue;
      }
      inst = std::move(*created);
      send_message(sock, {{"ok", true}, {"describe", (*lib)->description()}});
    } else if (op == "process" && inst) {
      std::vector<jz_frame> frames;
      std::vector<std::string> sources;
      sources.reserve(req["frames"].size());
      for (const auto& f : req["frames"]) {
        jz_frame fr{};
        fr.struct_size = sizeof fr;
        fr.width = f.value("width", 0);
        fr.height = f.value("height", 0);
        fr.stride = f.value("stride", 0);
        fr.format = f.value("format", 0);
        const size_t off = f.value("offset", size_t{0});
        if (off + frame_bytes(fr) > shm_bytes) {
          reply_error(Status::invalid_argument("frame outside the shared memory"));
          frames.clear();
          break;
        }
        fr.data = shm + off;
        fr.timestamp_us = f.value("ts", int64_t{0});
        fr.frame_index = f.value("index", int64_t{0});
        sources.push_back(f.value("source", std::string()));
        fr.source_id = sources.back().c_str();
        frames.push_back(fr);
      }
      if (frames.empty()) continue;
      auto out = inst->process(frames, req.value("args", std::string()));
      if (!out.ok()) {
        reply_error(out.status());
        continue;
      }
      send_message(sock, {{"ok", true}, {"result", *out}});
    } else {
      reply_error(Status::invalid_argument("unknown request '" + op + "'"));
    }
  }
}

}  // namespace jz::sdk
