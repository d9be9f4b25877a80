#include "platform/alerts/channels.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

#include "core/hash.h"

namespace jz::alerts {

namespace {

const std::vector<std::string> kChannels = {"webhook", "slack",  "dingtalk",
                                            "wecom",   "feishu", "email"};

Status need_string(const Json& config, const char* field, const std::string& channel) {
  if (!config.contains(field) || !config[field].is_string() ||
      config[field].get<std::string>().empty()) {
    return Status::invalid_argument("config." + std::string(field) + ": required for a " + channel +
                                    " receiver");
  }
  return {};
}

Status need_url(const Json& config, const std::string& channel, bool smtp = false) {
  const char* field = smtp ? "smtp_url" : "url";
  JZ_RETURN_IF_ERROR(need_string(config, field, channel));
  const std::string url = config[field].get<std::string>();
  const bool ok = smtp ? url.rfind("smtp://", 0) == 0 || url.rfind("smtps://", 0) == 0
                       : url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (!ok || url.size() > 2048 || url.find_first_of(" \r\n\t") != std::string::npos) {
    return Status::invalid_argument(
        "config." + std::string(field) + ": '" + url.substr(0, 100) + "' is not " +
        (smtp ? "an smtp:// or smtps:// URL" : "an http:// or https:// URL"));
  }
  return {};
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string headline(const Message& m) {
  const std::string status = word(m.language, m.status == "resolved" ? "RESOLVED" : "FIRING");
  return "[" + status + "] [" + word(m.language, m.severity) + "] " + first_line(m.title);
}

std::string plain(const Message& m) {
  std::string out = headline(m) + "\n" + m.text;
  if (!m.link.empty()) out += "\n" + m.link;
  return out;
}

std::string markdown(const Message& m) {
  std::string out = "### " + headline(m) + "\n\n" + m.text;
  if (!m.link.empty()) out += "\n\n[Jizhan](" + m.link + ")";
  return out;
}

Json alertmanager_payload(const Message& m) {
  const Json labels = common_of(m.alerts, "labels");
  Json group = m.group_labels;
  if (group.empty()) group = {{"alertname", labels.value("alertname", "")}};
  return {{"version", "4"},         {"groupKey", m.group_key},
          {"truncatedAlerts", 0},   {"status", m.status},
          {"receiver", m.receiver}, {"groupLabels", group},
          {"commonLabels", labels}, {"commonAnnotations", common_of(m.alerts, "annotations")},
          {"externalURL", m.link},  {"alerts", m.alerts}};
}

std::string rfc2047(const std::string& s) { return "=?UTF-8?B?" + base64_encode(s) + "?="; }

std::string mail_of(const Json& config, const Message& m, int64_t now_ms) {
  const std::string from = config.value("from", "");
  std::string to;
  for (const auto& t : config.value("to", Json::array())) {
    to += (to.empty() ? "" : ", ") + t.get<std::string>();
  }
  char date[64];
  const time_t secs = static_cast<time_t>(now_ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  std::string body = base64_encode(plain(m) + "\n");
  std::string wrapped;
  for (size_t i = 0; i < body.size(); i += 76) wrapped += body.substr(i, 76) + "\r\n";
  return "Date: " + std::string(date) + "\r\nFrom: " + from + "\r\nTo: " + to +
         "\r\nSubject: " + rfc2047(headline(m)) + "\r\nMessage-ID: <" +
         sha256_hex(m.group_key + std::to_string(now_ms)).substr(0, 32) +
         "@jizhan>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         wrapped;
}

// ---- sending ---------------------------------------------------------------------

bool is_private(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    const auto in = [a](uint32_t net, int bits) {
      return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
    };
    return in(0x00000000, 8) || in(0x7f000000, 8) || in(0x0a000000, 8) || in(0xac100000, 12) ||
           in(0xc0a80000, 16) || in(0xa9fe0000, 16) || in(0x64400000, 10) || a >= 0xe0000000;
  }
  if (sa->sa_family == AF_INET6) {
    const uint8_t* b = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr;
    static const uint8_t kZero[16] = {};
    if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true;  // :: ::1
    if ((b[0] & 0xfe) == 0xfc) return true;                                         // fc00::/7
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;                         // fe80::/10
    if (b[0] == 0xff) return true;                                                  // multicast
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, 12) == 0) {
      sockaddr_in v4{};
      v4.sin_family = AF_INET;
      std::memcpy(&v4.sin_addr, b + 12, 4);
      return is_private(reinterpret_cast<const sockaddr*>(&v4));
    }
    return false;
  }
  return true;  // anything else is not ours to reach
}

struct Call {
  bool allow_private = false;
  bool refused = false;
  std::string answer;
  std::string upload;
  size_t uploaded = 0;
};

curl_socket_t open_socket(void* p, curlsocktype, curl_sockaddr* addr) {
  auto* call = static_cast<Call*>(p);
  if (!call->allow_private && is_private(&addr->addr)) {
    call->refused = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

size_t on_body(char* data, size_t size, size_t n, void* p) {
  auto* call = static_cast<Call*>(p);
  const size_t len = size * n;
  if (call->answer.size() < 2048)
    call->answer.append(data, std::min(len, 2048 - call->answer.size()));
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* p) {
  auto* call = static_cast<Call*>(p);
  const size_t len = std::min(size * n, call->upload.size() - call->uploaded);
  std::copy_n(call->upload.data() + call->uploaded, len, buf);
  call->uploaded += len;
  return len;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0) std::abort();
  });
}

}  // namespace

const std::vector<std::string>& channel_names() { return kChannels; }

Json common_of(const Json& alerts, const char* field) {
  Json out;
  for (const auto& a : alerts) {
    const Json mine = a.value(field, Json::object());
    if (out.is_null()) {
      out = mine;
      continue;
    }
    for (auto it = out.begin(); it != out.end();) {
      it = mine.contains(it.key()) && mine[it.key()] == it.value() ? std::next(it) : out.erase(it);
    }
  }
  return out.is_object() ? out : Json::object();
}

std::string word(const std::string& language, const std::string& english) {
  if (language != "zh-CN") return english;
  static const std::vector<std::pair<std::string, std::string>> kZh = {{"FIRING", "告警"},
                                                                       {"RESOLVED", "已恢复"},
                                                                       {"info", "提示"},
                                                                       {"warning", "警告"},
                                                                       {"critical", "严重"}};
  for (const auto& [en, zh] : kZh) {
    if (en == english) return zh;
  }
  return english;
}

Status check_config(const std::string& channel, const Json& config, bool has_secret) {
  if (!config.is_object()) return Status::invalid_argument("config: must be an object");
  if (channel == "webhook" || channel == "slack" || channel == "dingtalk" || channel == "wecom" ||
      channel == "feishu") {
    return need_url(config, channel);
  }
  if (channel == "email") {
    JZ_RETURN_IF_ERROR(need_url(config, channel, true));
    JZ_RETURN_IF_ERROR(need_string(config, "from", channel));
    const Json to = config.value("to", Json());
    if (!to.is_array() || to.empty() || to.size() > 100) {
      return Status::invalid_argument("config.to: a list of 1 to 100 addresses");
    }
    for (const auto& t : to) {
      if (!t.is_string() || t.get<std::string>().find('@') == std::string::npos ||
          t.get<std::string>().find_first_of("\r\n<>,") != std::string::npos) {
        return Status::invalid_argument("config.to: '" + t.dump() + "' is not an address");
      }
    }
    const std::string from = config["from"].get<std::string>();
    if (from.find('@') == std::string::npos || from.find_first_of("\r\n<>,") != std::string::npos) {
      return Status::invalid_argument("config.from: '" + from + "' is not an address");
    }
    if (config.contains("username") && !has_secret) {
      return Status::invalid_argument("secret: the SMTP password is needed with a username");
    }
    return {};
  }
  return Status::invalid_argument("channel: '" + channel +
                                  "' is not one of webhook, slack, dingtalk, wecom, feishu, email");
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  global_init();
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<Outgoing> build_request(const std::string& channel, const Json& config,
                               const std::string& secret, const Message& m, int64_t now_ms) {
  JZ_RETURN_IF_ERROR(check_config(channel, config, !secret.empty()));
  Outgoing out;
  out.headers.push_back({"Content-Type", "application/json"});
  if (channel == "email") {
    out.url = config["smtp_url"].get<std::string>();
    out.mail_from = config["from"].get<std::string>();
    for (const auto& t : config["to"]) out.mail_to.push_back(t.get<std::string>());
    out.username = config.value("username", "");
    out.password = secret;
    out.headers.clear();
    out.body = mail_of(config, m, now_ms);
    return out;
  }
  out.url = config["url"].get<std::string>();
  if (channel == "webhook") {
    out.body = json::dump(alertmanager_payload(m));
    if (!secret.empty()) {
      const std::string ts = std::to_string(now_ms / 1000);
      out.headers.push_back({"X-Jizhan-Timestamp", ts});
      const std::string mac = hmac_sha256(secret, ts + "." + out.body);
      out.headers.push_back(
          {"X-Jizhan-Signature",
           "sha256=" + to_hex(reinterpret_cast<const uint8_t*>(mac.data()), mac.size())});
    }
  } else if (channel == "slack") {
    out.body = json::dump(Json{{"text", plain(m)}});
  } else if (channel == "dingtalk") {
    out.body = json::dump(Json{{"msgtype", "markdown"},
                               {"markdown", {{"title", headline(m)}, {"text", markdown(m)}}}});
    if (!secret.empty()) {
      const std::string ts = std::to_string(now_ms);
      const std::string sign = base64_encode(hmac_sha256(secret, ts + "\n" + secret));
      out.url += std::string(out.url.find('?') == std::string::npos ? "?" : "&") +
                 "timestamp=" + ts + "&sign=" + url_encode(sign);
    }
  } else if (channel == "wecom") {
    out.body = json::dump(Json{{"msgtype", "markdown"}, {"markdown", {{"content", markdown(m)}}}});
  } else if (channel == "feishu") {
    Json body = {{"msg_type", "text"}, {"content", {{"text", plain(m)}}}};
    if (!secret.empty()) {
      const std::string ts = std::to_string(now_ms / 1000);
      body["timestamp"] = ts;
      body["sign"] = base64_encode(hmac_sha256(ts + "\n" + secret, ""));
    }
    out.body = json::dump(body);
  }
  return out;
}

Answer send(const std::string& channel, const Outgoing& out, const SendOptions& o) {
  global_init();
  Answer a;
  CURL* curl = curl_easy_init();
  if (!curl) {
    a.detail = "cannot start a transfer (libcurl)";
    return a;
  }
  Call call;
  call.allow_private = o.allow_private;
  curl_slist* headers = nullptr;
  curl_slist* rcpt = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, out.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(o.timeout_ms, 5000)));
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &call);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  if (channel == "email") {
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!out.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, out.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, out.password.c_str());
    }
    const std::string from = "<" + out.mail_from + ">";
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    for (const auto& t : out.mail_to) rcpt = curl_slist_append(rcpt, ("<" + t + ">").c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    call.upload = out.body;
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &call);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    const CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    a.code = static_cast<int>(code);
    a.ok = rc == CURLE_OK;
    a.detail = rc == CURLE_OK ? "accepted by the mail server"
               : call.refused ? "refused: the mail server's address is in a private network "
                                "(alerts.allow_private_networks)"
                              : std::string(curl_easy_strerror(rc));
  } else {
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    for (const auto& [k, v] : out.headers)
      headers = curl_slist_append(headers, (k + ": " + v).c_str());
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "jizhan-alerts/1");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, out.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(out.body.size()));
    const CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    a.code = static_cast<int>(code);
    if (rc != CURLE_OK) {
      a.detail = call.refused ? "refused: the receiver's address is in a private network "
                                "(alerts.allow_private_networks)"
                              : std::string(curl_easy_strerror(rc));
    } else {
      a.detail = call.answer;
      a.ok = code >= 200 && code < 300;
      // DingTalk, WeCom and Feishu answer 200 with an error code in the body.
      if (a.ok && (channel == "dingtalk" || channel == "wecom" || channel == "feishu")) {
        const Json j = Json::parse(call.answer, nullptr, false);
        if (j.is_object()) {
          const int64_t err =
              j.contains("errcode") ? j.value("errcode", int64_t{0}) : j.value("code", int64_t{0});
          a.ok = err == 0;
        }
      }
    }
  }
  curl_slist_free_all(headers);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  return a;
}

}  // namespace jz::alerts
