// Notification channels: how one message becomes a request to a receiver (pure, so each
// payload and signature is tested byte for byte) and how that request is sent (libcurl).
//
// Channels and what their configuration holds (`secret` is stored encrypted, never shown):
//   webhook   url; secret (optional): HMAC-SHA256 of "<timestamp>.<body>" in
//             X-Jizhan-Signature: sha256=<hex>, the timestamp in X-Jizhan-Timestamp.
//             The body is Alertmanager's webhook payload, version "4".
//   slack     url (an incoming webhook); {"text": ...}
//   dingtalk  url (the robot's, with access_token); secret (optional): the robot's
//             signing secret: &timestamp=<ms>&sign=<url-encoded base64 of HMAC-SHA256 of
//             "<ms>\n<secret>" keyed by the secret>; markdown messages.
//   wecom     url (the group robot's, with key=); markdown messages.
//   feishu    url; secret (optional): "sign" = base64 of HMAC-SHA256 keyed by
//             "<seconds>\n<secret>" over an empty message; text messages.
//   email     smtp_url (smtp:// with STARTTLS required, or smtps://), from, to (a list),
//             username; secret: the password. Plain-text mail with the console link.
//
// Thread-safe: no shared state besides libcurl's global init (done once).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace jz::alerts {

// The channel names, in the order the API lists them.
const std::vector<std::string>& channel_names();

// Checks a receiver's configuration for its channel: invalid_argument naming the field.
Status check_config(const std::string& channel, const Json& config, bool has_secret);

// One notification as every channel words it.
struct Message {
  std::string status = "firing";  // firing | resolved
  std::string severity;           // info | warning | critical
  std::string title;              // one line
  std::string text;               // plain text, several lines
  std::string link;               // the console page it is about ("" for none)
  std::string receiver;           // the receiver's name
  std::string group_key;
  std::string language = "en";  // en | zh-CN
  // Alertmanager's alert objects (status, labels, annotations, startsAt, ...): one, or a
  // group's, whose common labels are `group_labels`.
  Json alerts = Json::array();
  Json group_labels = Json::object();
};

// What every alert's `field` object ("labels", "annotations") holds with the same value.
Json common_of(const Json& alerts, const char* field);

// The channels' fixed words in a language (en, zh-CN): FIRING, RESOLVED, the severities.
std::string word(const std::string& language, const std::string& english);

struct Outgoing {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // email only
  std::string mail_from, username, password;
  std::vector<std::string> mail_to;
};

// The request for `channel`; `now_ms` stamps signatures.
Result<Outgoing> build_request(const std::string& channel, const Json& config,
                               const std::string& secret, const Message& m, int64_t now_ms);

// HMAC-SHA256 (libsodium), raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_encode(std::string_view s);

struct SendOptions {
  int timeout_ms = 10000;
  // Loopback, private, link-local and unique-local addresses are refused unless allowed
  // (alerts.allow_private_networks): a receiver's URL must not reach the server's own
  // network. Checked on the address connected to, so a name that resolves there is
  // refused too.
  bool allow_private = false;
  std::string ca_file;  // extra CA certificates (PEM), "" for the system's
};

struct Answer {
  bool ok = false;
  int code = 0;        // HTTP status or SMTP reply code; 0 when nothing was answered
  std::string detail;  // the receiver's answer (truncated) or why nothing was sent
};

// Sends one request (HTTP POST or SMTP); never throws.
Answer send(const std::string& channel, const Outgoing& out, const SendOptions& o);

}  // namespace jz::alerts
