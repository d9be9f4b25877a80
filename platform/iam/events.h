// Lifecycle events of resources (created, updated, deleted, state changes) with a
// reason and a message, in one platform-wide order (seq). An event belongs to a project
// (its jobs, members, code...), to a workspace (its members, projects, dataset roots;
// a project's events name their workspace too), and may be about a user (`subject`: their
// account, tokens and memberships), so each of them can list what concerns them. Readers page
// with after_seq; live readers (Server-Sent Events) wait() for a newer seq.
//
// Thread-safe. wait() wakes on appends made through this object, and otherwise
// polls, so events written by another server reach live readers within `poll`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"
#include "store/database.h"

namespace jz::iam {

struct Event {
  int64_t seq = 0;
  std::string id;
  int64_t time_ms = 0;
  std::string project;    // "" for events of a workspace or a user only
  std::string workspace;  // the workspace it happened in, "" for a user's own events
  std::string subject;    // the user it is about, if any
  std::string resource_type, resource_name;
  std::string type;    // created | updated | deleted | state
  std::string reason;  // CamelCase, machine-readable: "MemberAdded"
  std::string message;
  std::string actor;
  Json to_json() const;
};

class EventLog {
 public:
  EventLog(store::Database& db, Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids) {}

  Result<Event> append(Event e);
  // Appends inside the caller's transaction (`e` gets its id, time and seq); call
  // notify(e.seq) once that transaction committed.
  Status append_in(store::Conn& c, Event& e);
  void notify(int64_t seq);
  Result<std::vector<Event>> list(const std::string& project, int64_t after_seq, int limit);
  // A workspace's events (its own and its projects'), and those about one user.
  enum class Of { kProject, kWorkspace, kUser };
  Result<std::vector<Event>> list_of(Of of, const std::string& key, int64_t after_seq, int limit);
  // The project's last `limit` events, oldest first.
  Result<std::vector<Event>> tail(const std::string& project, int limit);
  // The project's newest event's seq (0 when it has none): where a reader of only what
  // happens from now on starts.
  Result<int64_t> newest(const std::string& project);
  // Blocks until an event newer than `after_seq` may exist, `timeout` passes, or
  // wake_all() is called. Returns quickly; callers re-query with list().
  void wait(int64_t after_seq, std::chrono::milliseconds timeout);
  // Releases every waiter (server shutdown).
  void wake_all();
  // The newest seq appended through this object (0 before the first).
  int64_t last_seq() const { return last_seq_; }

 private:
  store::Database& db_;
  Clock& clock_;
  IdGenerator& ids_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int64_t> last_seq_{0};
  std::atomic<uint64_t> wakeups_{0};
};

}  // namespace jz::iam
