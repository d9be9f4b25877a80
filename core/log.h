// Logging on spdlog, as human-readable text or as JSON lines (one object per line
// with "ts", "level", "logger", "msg" and any structured fields), chosen by config.
//
// Loggers are created once in main() and handed to the components that log; nothing
// here installs global state. spdlog loggers are thread-safe (the _mt sinks).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jz {

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string name = "jizhan";
};

Result<LogFormat> parse_log_format(std::string_view s);
Result<spdlog::level::level_enum> parse_log_level(std::string_view s);

// A logger writing to stderr.
std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options);
// A logger writing to the given sink (tests pass an ostream sink).
std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options, spdlog::sink_ptr sink);

// A message with key/value fields. In JSON format the fields become members of the
// line's object; in text format they are appended as key=value.
using LogFields = std::vector<std::pair<std::string, std::string>>;
void log_with_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
                     const LogFields& fields);

}  // namespace jz
