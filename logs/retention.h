// Retention of job logs: the logs of ended runs (their folder holds exit.json) go once
// they are older than the age limit, then the oldest go until all ended runs' logs fit
// the size limit. A run whose log went gets logs-expired.json (why and when), so a reader
// can say so instead of showing an empty log. Running jobs' logs are never touched.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace jz::logs {

struct RetentionResult {
  int removed_by_age = 0;
  int removed_by_size = 0;
  int64_t bytes_freed = 0;
  int64_t bytes_kept = 0;  // ended runs' logs still there
};

// `max_age` 0 and `max_bytes` 0: no limit of that kind.
RetentionResult apply_retention(const std::string& jobs_dir, std::chrono::seconds max_age,
                                int64_t max_bytes, std::chrono::system_clock::time_point now);

}  // namespace jz::logs
