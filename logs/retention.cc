#include "logs/retention.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "logs/store.h"

namespace jz::logs {

namespace fs = std::filesystem;

namespace {

struct Ended {
  std::string dir;
  int64_t ended_s = 0;
  int64_t bytes = 0;
};

void expire(const Ended& e, const char* reason, std::chrono::system_clock::time_point now) {
  std::error_code ec;
  fs::remove_all(e.dir + "/logs", ec);
  fs::remove_all(e.dir + "/raw", ec);
  (void)write_file(e.dir + "/logs-expired.json",
                   json::dump(Json{{"reason", reason}, {"at", format_rfc3339(now)}}), 0600, false,
                   false);
}

}  // namespace

RetentionResult apply_retention(const std::string& jobs_dir, std::chrono::seconds max_age,
                                int64_t max_bytes, std::chrono::system_clock::time_point now) {
  RetentionResult r;
  std::vector<Ended> ended;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(jobs_dir, ec)) {
    const std::string dir = entry.path().string();
    struct stat st {};
    if (::stat((dir + "/exit.json").c_str(), &st) != 0) continue;  // running, or never ran
    if (::access((dir + "/logs").c_str(), F_OK) != 0) continue;
    ended.push_back(
        {dir, static_cast<int64_t>(st.st_mtime), log_size(dir + "/logs") + log_size(dir + "/raw")});
  }
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::sort(ended.begin(), ended.end(),
            [](const Ended& a, const Ended& b) { return a.ended_s < b.ended_s; });
  int64_t total = 0;
  std::vector<Ended> kept;
  for (const auto& e : ended) {
    if (max_age.count() > 0 && now_s - e.ended_s > max_age.count()) {
      expire(e, "age", now);
      ++r.removed_by_age;
      r.bytes_freed += e.bytes;
    } else {
      kept.push_back(e);
      total += e.bytes;
    }
  }
  for (const auto& e : kept) {
    if (max_bytes <= 0 || total <= max_bytes) break;
    expire(e, "size", now);
    ++r.removed_by_size;
    r.bytes_freed += e.bytes;
    total -= e.bytes;
  }
  r.bytes_kept = total;
  return r;
}

}  // namespace jz::logs
