#include "sdk/licence.h"

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "core/random.h"

namespace jz::sdk {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32
constexpr size_t kCodeSymbols = 14;                               // 70 bits

int symbol_value(char c) {
  const char* p = std::strchr(kAlphabet, c);
  return (p && c) ? static_cast<int>(p - kAlphabet) : -1;
}

// Two check characters: sum of (position + 1) * value mod 1021, a prime above 16 * 31, so
// every single wrong character (a difference of 1..31 times a weight of 1..14) and every swap
// of two different neighbours (a difference times 1) changes the sum.
std::string check_symbols(std::string_view symbols) {
  int sum = 0;
  for (size_t i = 0; i < symbols.size(); ++i)
    sum += static_cast<int>(i + 1) * symbol_value(symbols[i]);
  sum %= 1021;
  return {kAlphabet[sum / 32], kAlphabet[sum % 32]};
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool semver(std::string_view v) { return compare_versions(v, v) == 0 && !v.empty(); }

Status refuse(const Licence& l, const std::string& why) {
  return Status::permission_denied("licence " + l.id + " " + why);
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto split = [](std::string_view v, long nums[3], std::string_view& pre) -> bool {
    size_t dash = v.find('-');
    pre = dash == std::string_view::npos ? std::string_view() : v.substr(dash + 1);
    std::string core(v.substr(0, dash));
    int parts = 0;
    size_t pos = 0;
    while (parts < 3) {
      size_t end = core.find('.', pos);
      std::string p = core.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (p.empty() || p.size() > 9 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
      nums[parts++] = std::stol(p);
      if (end == std::string::npos) break;
      pos = end + 1;
    }
    return parts == 3 && core.find('.', pos) == std::string::npos &&
           std::count(core.begin(), core.end(), '.') == 2;
  };
  long x[3] = {0, 0, 0}, y[3] = {0, 0, 0};
  std::string_view px, py;
  bool okx = split(a, x, px), oky = split(b, y, py);
  if (!okx || !oky) return okx == oky ? a.compare(b) : (okx ? 1 : -1);
  for (int i = 0; i < 3; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  if (px.empty() != py.empty()) return px.empty() ? 1 : -1;  // 1.0.0-rc1 < 1.0.0
  int c = px.compare(py);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string Licence::versions_text() const {
  std::string s = ">=" + min_version;
  if (!below_version.empty()) s += " <" + below_version;
  return s;
}

Json Licence::to_json() const {
  return {{"type", "jizhan-licence"},
          {"id", id},
          {"algorithm", algorithm},
          {"versions", {{"min", min_version}, {"below", below_version}}},
          {"customer", customer},
          {"machine", machine},
          {"valid_from", format_rfc3339(valid_from)},
          {"valid_until", format_rfc3339(valid_until)},
          {"limits", {{"channels", channels}, {"qps", qps}}},
          {"activation_sha256", activation_sha256},
          {"issuer", issuer},
          {"key_id", key_id}};
}

std::string new_activation_code() {
  unsigned char bytes[kCodeSymbols];
  SecureRandom::instance().fill(bytes, sizeof bytes);
  std::string symbols;
  for (unsigned char b : bytes) symbols += kAlphabet[b & 31];
  symbols += check_symbols(symbols);
  std::string out;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += symbols[i];
  }
  return out;
}

Result<std::string> normalize_activation_code(std::string_view code) {
  std::string s;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    if (symbol_value(c) < 0) {
      return Status::invalid_argument(
          std::string("activation code: '") + c +
          "' is not a code character (codes use 0-9 and A-Z without I, L, O and U)");
    }
    s += c;
  }
  if (s.size() != kCodeSymbols + 2) {
    return Status::invalid_argument("activation code: " + std::to_string(s.size()) +
                                    " characters; a code has " + std::to_string(kCodeSymbols + 2) +
                                    " (XXXX-XXXX-XXXX-XXXX)");
  }
  if (check_symbols(std::string_view(s).substr(0, kCodeSymbols)) != s.substr(kCodeSymbols)) {
    return Status::invalid_argument(
        "activation code: the check characters do not match: a character was mistyped");
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += s[i];
  }
  return out;
}

namespace {
// The first 16 hex digits of a hash, upper case, in groups of four: "3F2A-...".
std::string hex_groups(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < 16 && i < hex.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return out;
}
}  // namespace

Result<std::string> machine_fingerprint() {
  // The machine id systemd or D-Bus keeps; without one (a bare container), the network
  // interfaces' hardware addresses and the host name.
  std::string id;
  // A container whose /etc/machine-id does not outlive it names a file on a volume that
  // does (JIZHAN_MACHINE_ID_FILE): it must exist and hold at least 16 characters.
  if (const char* own = std::getenv("JIZHAN_MACHINE_ID_FILE"); own && *own) {
    auto text = read_file(own);
    if (!text.ok()) {
      return Status::failed_precondition("JIZHAN_MACHINE_ID_FILE: " + text.status().message());
    }
    id = *text;
    while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
    if (id.size() < 16) {
      return Status::failed_precondition(std::string("JIZHAN_MACHINE_ID_FILE: ") + own +
                                         " must hold an id of at least 16 characters (`cat "
                                         "/proc/sys/kernel/random/uuid > FILE` makes one)");
    }
  }
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    if (!id.empty()) break;
    auto text = read_file(path);
    if (!text.ok()) continue;
    id = *text;
    while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
    if (id.size() >= 16) break;
    id.clear();
  }
  if (id.empty()) {
    std::vector<std::string> macs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/sys/class/net", ec)) {
      if (e.path().filename() == "lo") continue;
      auto mac = read_file((e.path() / "address").string());
      if (mac.ok() && mac->rfind("00:00:00:00:00:00", 0) != 0) macs.push_back(*mac);
    }
    std::sort(macs.begin(), macs.end());
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    for (const auto& m : macs) id += m;
    if (!macs.empty()) id += std::string("@") + host;
  }
  if (id.empty()) {
    return Status::failed_precondition(
        "cannot tell this machine apart: /etc/machine-id is missing or empty and there is no "
        "network interface (create it with `systemd-machine-id-setup` or `dbus-uuidgen "
        "--ensure=/etc/machine-id`)");
  }
  return hex_groups(sha256_hex("jizhan-machine-v1:" + id));
}

Result<Issued> issue_licence(IssueOptions o) {
  Licence& l = o.licence;
  if (l.algorithm.empty()) return Status::invalid_argument("licence: the algorithm is required");
  if (!semver(l.min_version)) {
    return Status::invalid_argument("licence: minimum version '" + l.min_version +
                                    "' is not MAJOR.MINOR.PATCH");
  }
  if (!l.below_version.empty() &&
      (!semver(l.below_version) || compare_versions(l.below_version, l.min_version) <= 0)) {
    return Status::invalid_argument("licence: upper version '" + l.below_version +
                                    "' must be a version above " + l.min_version);
  }
  if (l.valid_until <= l.valid_from) {
    return Status::invalid_argument("licence: it must end after it starts");
  }
  if (l.channels < 0 || l.qps < 0) {
    return Status::invalid_argument("licence: limits cannot be negative (0 is unlimited)");
  }
  Issued out;
  if (o.activation_code.empty()) {
    out.activation_code = new_activation_code();
  } else {
    JZ_ASSIGN_OR_RETURN(out.activation_code, normalize_activation_code(o.activation_code));
  }
  if (l.id.empty()) l.id = "L-" + random_hex(SecureRandom::instance(), 6);
  l.activation_sha256 = sha256_hex(out.activation_code);
  l.issuer = o.key.pub.name;
  l.key_id = o.key.pub.key_id;
  out.licence = l;
  out.file_text = sign_document(o.key, l.to_json().dump()).dump(2) + "\n";
  return out;
}

std::string make_activation_request(const SigningKey& install_key, std::string_view code,
                                    const std::string& fingerprint, Clock::WallTime now) {
  const Json payload = {{"type", "jizhan-activation-request"},
                        {"code", std::string(code)},
                        {"fingerprint", fingerprint},
                        {"install_key", public_key_json(install_key.pub)},
                        {"created_at", format_rfc3339(now)}};
  return sign_document(install_key, payload.dump()).dump(2) + "\n";
}

Result<ActivationRequest> parse_activation_request(std::string_view text) {
  JZ_ASSIGN_OR_RETURN(SignedDocument d, parse_signed_document(text, "activation request"));
  const Json p = Json::parse(d.payload, nullptr, false);
  if (p.is_discarded() || !p.is_object() ||
      json::string_or(p, "type") != "jizhan-activation-request") {
    return Status::invalid_argument(
        "activation request: payload is not an activation request (make one with `jizhan "
        "client activate CODE --offline FILE`)");
  }
  ActivationRequest r;
  if (!p.contains("install_key") || !p["install_key"].is_object()) {
    return Status::invalid_argument("activation request: no 'install_key'");
  }
  JZ_ASSIGN_OR_RETURN(r.install_key, parse_public_key(p["install_key"].dump()));
  if (r.install_key.key_id != d.key_id || !signature_valid(d, r.install_key)) {
    return Status::invalid_argument(
        "activation request: the signature does not match its install key: the file was "
        "changed after the client wrote it");
  }
  JZ_ASSIGN_OR_RETURN(r.code, normalize_activation_code(json::string_or(p, "code")));
  r.fingerprint = json::string_or(p, "fingerprint");
  if (r.fingerprint.empty() || r.fingerprint.size() > 128) {
    return Status::invalid_argument("activation request: 'fingerprint' is missing");
  }
  r.created_at = json::string_or(p, "created_at");
  return r;
}

std::string client_fingerprint(std::string_view machine, const PublicKey& install_key) {
  return hex_groups(
      sha256_hex("jizhan-client-v1:" + std::string(machine) + "\n" + install_key.key_id));
}

Result<Licence> parse_licence(std::string_view text, SignedDocument* doc) {
  JZ_ASSIGN_OR_RETURN(SignedDocument d, parse_signed_document(text, "licence"));
  Json p = Json::parse(d.payload, nullptr, false);
  if (p.is_discarded() || !p.is_object() || json::string_or(p, "type") != "jizhan-licence") {
    return Status::invalid_argument("licence: payload is not a licence");
  }
  auto bad = [](const std::string& field, const std::string& what) {
    return Status::invalid_argument("licence: field '" + field + "': " + what);
  };
  Licence l;
  auto str = [&](const char* f, std::string& out) -> Status {
    if (!p.contains(f) || !p[f].is_string()) return bad(f, "required, a string");
    out = p[f].get<std::string>();
    return {};
  };
  JZ_RETURN_IF_ERROR(str("id", l.id));
  JZ_RETURN_IF_ERROR(str("algorithm", l.algorithm));
  JZ_RETURN_IF_ERROR(str("customer", l.customer));
  JZ_RETURN_IF_ERROR(str("machine", l.machine));
  JZ_RETURN_IF_ERROR(str("activation_sha256", l.activation_sha256));
  JZ_RETURN_IF_ERROR(str("key_id", l.key_id));
  if (l.key_id != d.key_id) return bad("key_id", "differs from the signature's key");
  if (p.contains("issuer") && p["issuer"].is_string()) l.issuer = p["issuer"];
  const Json& v = p.contains("versions") ? p["versions"] : Json();
  if (!v.is_object() || !v.contains("min") || !v["min"].is_string() ||
      !semver(v["min"].get<std::string>()) || !v.contains("below") || !v["below"].is_string()) {
    return bad("versions", "needs 'min' (a version) and 'below' (a version or empty)");
  }
  l.min_version = v["min"];
  l.below_version = v["below"];
  if (!l.below_version.empty() && !semver(l.below_version)) {
    return bad("versions.below", "not a version");
  }
  for (auto [f, out] :
       {std::pair{"valid_from", &l.valid_from}, std::pair{"valid_until", &l.valid_until}}) {
    std::string t;
    JZ_RETURN_IF_ERROR(str(f, t));
    auto w = parse_rfc3339(t);
    if (!w.ok()) return bad(f, w.status().message());
    *out = *w;
  }
  const Json& lim = p.contains("limits") ? p["limits"] : Json();
  if (!lim.is_object() || !lim.contains("channels") || !lim["channels"].is_number_integer() ||
      !lim.contains("qps") || !lim["qps"].is_number() || lim["channels"].get<int64_t>() < 0 ||
      lim["channels"].get<int64_t>() > 1000000 || lim["qps"].get<double>() < 0) {
    return bad("limits", "needs 'channels' (an integer >= 0) and 'qps' (a number >= 0)");
  }
  l.channels = lim["channels"].get<int>();
  l.qps = lim["qps"].get<double>();
  if (doc) *doc = std::move(d);
  return l;
}

bool licence_signed_by(const SignedDocument& doc, const PublicKey& key) {
  return doc.key_id == key.key_id && signature_valid(doc, key);
}

Status check_licence(const Licence& l, const LicenceUse& use) {
  if (l.algorithm != use.algorithm) {
    return refuse(l, "is for algorithm '" + l.algorithm + "', not '" + use.algorithm + "'");
  }
  if (compare_versions(use.version, l.min_version) < 0 ||
      (!l.below_version.empty() && compare_versions(use.version, l.below_version) >= 0)) {
    return refuse(
        l, "covers " + l.algorithm + " versions " + l.versions_text() + ", not " + use.version);
  }
  if (l.machine != "*" && l.machine != use.machine) {
    return refuse(l, "is for machine " + l.machine + "; this machine is " + use.machine +
                         " (`jizhan license fingerprint`)");
  }
  if (use.now < l.valid_from) {
    return refuse(l, "is not valid before " + format_rfc3339(l.valid_from));
  }
  if (use.now >= l.valid_until + use.grace) {
    return refuse(
        l, "expired on " + format_rfc3339(l.valid_until) +
               (use.grace.count() > 0 ? " and its grace period of " + format_duration(use.grace) +
                                            " ended on " + format_rfc3339(l.valid_until + use.grace)
                                      : std::string()) +
               "; ask " + (l.issuer.empty() ? std::string("the vendor") : l.issuer) +
               " for a renewal");
  }
  if (l.channels > 0 && use.channels > l.channels) {
    return Status::resource_exhausted("licence " + l.id + " allows " + std::to_string(l.channels) +
                                      " channel" + (l.channels == 1 ? "" : "s") + "; " +
                                      std::to_string(use.channels) + " requested (over limit)");
  }
  return {};
}

std::string licence_dir() {
  if (std::string d = env("JIZHAN_CONFIG_DIR"); !d.empty()) return d + "/licences";
  if (std::string d = env("XDG_CONFIG_HOME"); !d.empty()) return d + "/jizhan/licences";
  if (std::string d = env("HOME"); !d.empty()) return d + "/.config/jizhan/licences";
  return "";
}

Result<Licence> activate_licence(std::string_view licence_text, std::string_view code,
                                 const std::string& dir, const PublicKey* publisher,
                                 const std::optional<LicenceUse>& use) {
  JZ_ASSIGN_OR_RETURN(std::string normal, normalize_activation_code(code));
  SignedDocument doc;
  JZ_ASSIGN_OR_RETURN(Licence l, parse_licence(licence_text, &doc));
  if (sha256_hex(normal) != l.activation_sha256) {
    return Status::permission_denied("activation code: it belongs to another licence than " + l.id);
  }
  if (publisher && !licence_signed_by(doc, *publisher)) {
    return refuse(l, "is not signed by " + publisher->name + " (key " + publisher->key_id +
                         "): tampered, or from someone else");
  }
  if (use) JZ_RETURN_IF_ERROR(check_licence(l, *use));
  if (dir.empty()) return Status::failed_precondition("no folder for licences: set HOME");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::failed_precondition("cannot create " + dir + ": " + ec.message());
  Json record = {{"licence", Json::parse(licence_text, nullptr, false)},
                 {"activation_code", normal}};
  JZ_RETURN_IF_ERROR(
      write_file(dir + "/" + l.algorithm + "--" + l.id + ".json", record.dump(2) + "\n", 0600));
  return l;
}

Result<Licence> find_licence(const std::string& dir, const PublicKey& publisher,
                             const LicenceUse& use) {
  std::vector<std::string> names;
  if (DIR* d = dir.empty() ? nullptr : ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(use.algorithm + "--", 0) == 0 && n.size() > 5 &&
          n.compare(n.size() - 5, 5, ".json") == 0) {
        names.push_back(n);
      }
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string reasons;
  std::optional<Status> first;
  for (const auto& n : names) {
    auto why = [&](const Status& s) {
      reasons += "\n  " + n + ": " + s.message();
      if (!first) first = s;
    };
    auto text = read_file(dir + "/" + n);
    if (!text.ok()) {
      why(text.status());
      continue;
    }
    Json record = Json::parse(*text, nullptr, false);
    if (record.is_discarded() || !record.is_object() || !record.contains("licence") ||
        !record.contains("activation_code") || !record["activation_code"].is_string()) {
      why(Status::invalid_argument("not an activated licence record (activate it again)"));
      continue;
    }
    SignedDocument doc;
    auto l = parse_licence(record["licence"].dump(), &doc);
    if (!l.ok()) {
      why(l.status());
      continue;
    }
    if (!licence_signed_by(doc, publisher)) {
      why(refuse(*l, "is not signed by the package's publisher " + publisher.name + " (key " +
                         publisher.key_id + "): it was tampered with, or comes from someone else"));
      continue;
    }
    if (sha256_hex(record["activation_code"].get<std::string>()) != l->activation_sha256) {
      why(refuse(*l, "was not activated with its own code (`jizhan license activate`)"));
      continue;
    }
    Status s = check_licence(*l, use);
    if (!s.ok()) {
      why(s);
      continue;
    }
    return l;
  }
  if (names.empty()) {
    return Status::permission_denied("no licence for " + use.algorithm + " is installed in " + dir +
                                     "; activate one with `jizhan license activate CODE --licence "
                                     "FILE`");
  }
  return Status(first->code(), "no installed licence allows " + use.algorithm + " " + use.version +
                                   " here:" + reasons);
}

}  // namespace jz::sdk
