#include "http/netns_dial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace jz::http {

namespace {

Result<int> connect_loopback(int port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status::unavailable(std::string("cannot make a socket: ") + errno_message(errno));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect()
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::unavailable("nothing answers on port " + std::to_string(port) + " (" +
                               errno_message(err) + ")");
  }
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

struct Ask {
  int port = 0;
  std::chrono::milliseconds timeout{};
  std::promise<Result<int>> answer;
};

}  // namespace

class NetnsDialer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(std::chrono::milliseconds idle) : idle_(idle) {}

  Result<int> dial(const std::string& netns, int port, std::chrono::milliseconds timeout) {
    if (netns.empty()) return connect_loopback(port, timeout);
    struct stat st {};
    if (::stat(netns.c_str(), &st) != 0) {
      return Status::unavailable("the sandbox's network namespace is gone (" + netns + ")");
    }
    const Key key{st.st_dev, st.st_ino};
    std::future<Result<int>> answer;
    {
      std::lock_guard lock(mu_);
      if (closing_) return Status::unavailable("the server is shutting down");
      auto& w = workers_[key];
      if (!w) {
        w = std::make_shared<Worker>();
        ++threads_;
        std::thread([self = shared_from_this(), key, w, netns] {
          self->run(key, w, netns);
        }).detach();
      }
      auto ask = std::make_unique<Ask>();
      ask->port = port;
      ask->timeout = timeout;
      answer = ask->answer.get_future();
      w->asks.push_back(std::move(ask));
      w->cv.notify_one();
    }
    if (answer.wait_for(timeout + std::chrono::seconds(1)) != std::future_status::ready) {
      return Status::unavailable("the sandbox did not take a connection in time");
    }
    return answer.get();
  }

  void close_all() {
    std::unique_lock lock(mu_);
    closing_ = true;
    for (auto& [k, w] : workers_) w->cv.notify_all();
    gone_.wait(lock, [&] { return threads_ == 0; });
  }

  int threads() const {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  using Key = std::pair<dev_t, ino_t>;
  struct Worker {
    std::condition_variable cv;
    std::deque<std::unique_ptr<Ask>> asks;
  };

  void run(Key key, const std::shared_ptr<Worker>& w, const std::string& netns) {
    Status entered;
    const int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      entered = Status::unavailable("cannot enter the sandbox's network namespace " + netns + ": " +
                                    errno_message(errno));
    }
    if (fd >= 0) ::close(fd);
    std::unique_lock lock(mu_);
    while (true) {
      if (w->asks.empty()) {
        const bool woke = w->cv.wait_for(lock, idle_, [&] { return closing_ || !w->asks.empty(); });
        if (!woke || (closing_ && w->asks.empty())) break;
      }
      auto ask = std::move(w->asks.front());
      w->asks.pop_front();
      lock.unlock();
      ask->answer.set_value(entered.ok() ? connect_loopback(ask->port, ask->timeout)
                                         : Result<int>(entered));
      lock.lock();
      if (!entered.ok()) break;
    }
    // Leaving: questions that came meanwhile are answered with the reason.
    for (auto& ask : w->asks) {
      ask->answer.set_value(Status::unavailable("the sandbox's connection thread ended; retry"));
    }
    w->asks.clear();
    auto it = workers_.find(key);
    if (it != workers_.end() && it->second == w) workers_.erase(it);
    --threads_;
    gone_.notify_all();
  }

  std::chrono::milliseconds idle_;
  mutable std::mutex mu_;
  std::condition_variable gone_;
  std::map<Key, std::shared_ptr<Worker>> workers_;
  int threads_ = 0;
  bool closing_ = false;
};

NetnsDialer::NetnsDialer(std::chrono::milliseconds idle) : impl_(std::make_shared<Impl>(idle)) {}
NetnsDialer::~NetnsDialer() { impl_->close_all(); }
Result<int> NetnsDialer::dial(const std::string& netns, int port,
                              std::chrono::milliseconds timeout) {
  return impl_->dial(netns, port, timeout);
}
int NetnsDialer::threads() const { return impl_->threads(); }

}  // namespace jz::http
