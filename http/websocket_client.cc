#include "http/websocket_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/hash.h"
#include "http/message.h"

namespace jz::http {

namespace {
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point end) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()));
}
}  // namespace

WebSocketClient::~WebSocketClient() {
  if (fd_ >= 0) ::close(fd_);
}

Status WebSocketClient::connect(const std::string& host, int port, const std::string& target,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string where = host + ":" + std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Status::invalid_argument("cannot resolve " + where + ": " + gai_strerror(rc));
  }
  int err = 0;
  for (addrinfo* ai = res; ai && fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      err = errno;
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) return Status::unavailable("cannot connect to " + where + ": " + errno_message(err));
  int yes = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);

  std::string nonce(16, '\0');
  for (char& c : nonce) c = static_cast<char>(rng_());
  const std::string key = base64_encode(nonce);
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + where +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                        key + "\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  request += "\r\n";
  if (Status s = write_all(request); !s.ok()) return s;

  size_t head_end = std::string::npos;
  while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos) {
    auto more = read_some(left_until(end));
    if (!more.ok()) return more.status().with_context("waiting for the upgrade answer");
    if (!*more) break;
  }
  if (head_end == std::string::npos) {
    return Status::failed_precondition("the server closed without answering the upgrade: " +
                                       pending_);
  }
  const std::string head = pending_.substr(0, head_end + 4);
  pending_.erase(0, head_end + 4);
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    // Take the refusal's body when it came along, for the message.
    while (!eof_ && read_some(std::chrono::milliseconds(200)).value_or(false)) {
    }
    return Status::failed_precondition("upgrade refused: " + head.substr(0, head.find("\r\n")) +
                                       (pending_.empty() ? "" : " " + pending_));
  }
  auto accept = websocket_accept(key);
  // Field names are case-insensitive (Tornado writes "Sec-Websocket-Accept").
  bool accepted = false;
  for (size_t at = head.find("\r\n"); accept.ok() && at != std::string::npos;) {
    const size_t next = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, next == std::string::npos ? 0 : next - at - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos && iequals(line.substr(0, colon), "Sec-WebSocket-Accept")) {
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      accepted = line.substr(v) == *accept;
    }
    at = next;
  }
  if (!accepted) {
    return Status::failed_precondition("the 101 answer lacks the right Sec-WebSocket-Accept");
  }
  return {};
}

Status WebSocketClient::write_all(std::string_view bytes) const {
  if (fd_ < 0) return Status::failed_precondition("not connected");
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::unavailable("cannot send: " + errno_message(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status WebSocketClient::send(WsOpcode opcode, std::string_view payload, bool fin) {
  return write_all(ws_masked_frame(opcode, payload, static_cast<uint32_t>(rng_()), fin));
}

Status WebSocketClient::send_raw(std::string_view bytes) { return write_all(bytes); }

Result<size_t> WebSocketClient::send_raw_nowait(std::string_view bytes) const {
  if (fd_ < 0) return Status::failed_precondition("not connected");
  while (true) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return Status::unavailable("cannot send: " + errno_message(errno));
  }
}

Result<bool> WebSocketClient::read_some(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  int rc = 0;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return Status::deadline_exceeded("nothing arrived in time");
  char buf[64 << 10];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  pending_.append(buf, static_cast<size_t>(n));
  return true;
}

Result<WsMessage> WebSocketClient::receive(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (true) {
    if (next_ < ready_.size()) {
      WsMessage m = std::move(ready_[next_++]);
      if (next_ == ready_.size()) {
        ready_.clear();
        next_ = 0;
      }
      if (m.opcode == WsOpcode::kPing && auto_pong_) {
        if (Status s = send(WsOpcode::kPong, m.payload); !s.ok()) return s;
      }
      return m;
    }
    if (!pending_.empty()) {
      if (auto e = decoder_.feed(pending_, ready_)) {
        return Status::failed_precondition("the server sent a bad frame: " + e->reason);
      }
      pending_.clear();
      continue;
    }
    auto more = read_some(left_until(end));
    if (!more.ok()) return more.status();
    if (!*more) return Status::unavailable("the server closed the connection");
  }
}

Result<uint16_t> WebSocketClient::close(uint16_t code, std::string_view reason,
                                        std::chrono::milliseconds timeout) {
  if (Status s = send(WsOpcode::kClose, ws_close_payload(code, reason)); !s.ok()) return s;
  const auto end = Clock::now() + timeout;
  while (true) {
    auto m = receive(left_until(end));
    if (!m.ok()) return m.status();
    if (m->opcode == WsOpcode::kClose) return ws_close_code(m->payload);
  }
}

bool WebSocketClient::closed_within(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (!eof_) {
    auto more = read_some(left_until(end));
    if (!more.ok()) return false;
  }
  return true;
}

}  // namespace jz::http
