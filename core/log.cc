#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/text.h"

namespace jz {
namespace {

// Marks a message whose payload is already a JSON object of fields (see
// log_with_fields). The byte cannot occur in text a user typed into a log message
// because messages are built by our code.
constexpr char kFieldsMarker = '\x1e';

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    Json line;
    line["ts"] = format_rfc3339(std::chrono::time_point_cast<Clock::WallTime::duration>(msg.time));
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    if (!payload.empty() && payload.front() == kFieldsMarker) {
      auto parsed = Json::parse(payload.substr(1), nullptr, false);
      if (parsed.is_object()) {
        for (auto& [k, v] : parsed.items()) line[k] = v;
      }
    } else {
      line["msg"] = std::string(payload);
    }
    std::string s = json::dump(line);
    dest.append(s.data(), s.data() + s.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter() : inner_("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v") {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.empty() || payload.front() != kFieldsMarker) {
      if (is_printable(payload)) {
        inner_.format(msg, dest);
        return;
      }
      // A message may quote input (a name in an error): escaped like the fields.
      const std::string text = escape_controls(payload);
      spdlog::details::log_msg copy = msg;
      copy.payload = spdlog::string_view_t(text.data(), text.size());
      inner_.format(copy, dest);
      return;
    }
    auto parsed = Json::parse(payload.substr(1), nullptr, false);
    std::string text;
    if (parsed.is_object()) {
      text = parsed.value("msg", "");
      text = escape_controls(text);
      for (auto& [k, v] : parsed.items()) {
        if (k == "msg") continue;
        // Field values come from outside (a request's path): one line, no terminal
        // controls, and a space cannot start a forged field.
        EscapeOptions o;
        o.escape_space = true;
        text += " " + k + "=" + escape_controls(v.is_string() ? v.get<std::string>() : v.dump(), o);
      }
    }
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(text.data(), text.size());
    inner_.format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  spdlog::pattern_formatter inner_;
};

}  // namespace

Result<LogFormat> parse_log_format(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return Status::invalid_argument("log format must be 'text' or 'json', got '" + std::string(s) +
                                  "'");
}

Result<spdlog::level::level_enum> parse_log_level(std::string_view s) {
  static const std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off},
  };
  for (const auto& [name, level] : kLevels) {
    if (name == s) return level;
  }
  return Status::invalid_argument(
      "log level must be one of trace, debug, info, warn, error, "
      "off; got '" +
      std::string(s) + "'");
}

std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options) {
  return make_logger(options, std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options, spdlog::sink_ptr sink) {
  if (options.format == LogFormat::kJson) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(std::make_unique<TextFormatter>());
  }
  auto logger = std::make_shared<spdlog::logger>(options.name, std::move(sink));
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::info);
  return logger;
}

void log_with_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
                     const LogFields& fields) {
  if (!logger.should_log(level)) return;
  Json obj;
  obj["msg"] = std::string(msg);
  for (const auto& [k, v] : fields) obj[k] = v;
  std::string payload(1, kFieldsMarker);
  payload += json::dump(obj);
  logger.log(level, "{}", payload);
}

}  // namespace jz
