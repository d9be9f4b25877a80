#include "cli/client_install.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "cli/client.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/hash.h"
#include "sdk/licence.h"
#include "sdk/manifest.h"
#include "sdk/package.h"

namespace jz::cli {

namespace fs = std::filesystem;

std::string default_client_dir() {
  if (const char* d = std::getenv("JIZHAN_CLIENT_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    return std::string(x) + "/jizhan/client";
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return std::string(h) + "/.local/share/jizhan/client";
  }
  return "jizhan-client";
}

Result<Install> open_install(const std::string& dir) {
  Install in;
  in.dir = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::failed_precondition("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const std::string key = dir + "/install.key";
  if (!fs::exists(key, ec)) {
    JZ_RETURN_IF_ERROR(
        sdk::write_key_pair(sdk::generate_signing_key("jizhan-client"), dir + "/install"));
  }
  JZ_ASSIGN_OR_RETURN(in.key, sdk::read_signing_key(key));
  JZ_ASSIGN_OR_RETURN(std::string machine, sdk::machine_fingerprint());
  in.fingerprint = sdk::client_fingerprint(machine, in.key.pub);
  return in;
}

Result<Json> read_install(const Install& in, const std::string& name) {
  if (!sdk::valid_package_name(name))
    return Status::invalid_argument("'" + name + "' is not an algorithm name");
  auto text = read_file(in.algorithm_dir(name) + "/install.json");
  if (!text.ok()) {
    return Status::not_found(name + " is not installed here (" + in.dir +
                             "; `jizhan client list`)");
  }
  return json::parse(*text, "install.json");
}

Result<Json> install_delivery(const Install& in, const Delivery& d) {
  sdk::SignedDocument doc;
  JZ_ASSIGN_OR_RETURN(sdk::Licence l, sdk::parse_licence(d.licence_text, &doc));
  if (!sdk::licence_signed_by(doc, d.publisher)) {
    return Status::permission_denied(
        "licence " + l.id + ": its signature does not match the publisher's key '" +
        d.publisher.name + "': it was changed after it was issued; nothing installed");
  }
  if (l.machine != in.fingerprint) {
    return Status::permission_denied(
        "licence " + l.id + " is for machine " + l.machine + ", this install is " + in.fingerprint +
        ": an answer meant for another machine (replayed or copied); activate this machine "
        "with its own code");
  }
  if (!sdk::valid_package_name(l.algorithm))
    return Status::invalid_argument("licence: bad algorithm name");
  uint64_t size = 0;
  JZ_ASSIGN_OR_RETURN(std::string actual, sha256_file(d.package_file, &size));
  if (!d.expected_sha256.empty() && actual != d.expected_sha256) {
    return Status::permission_denied(
        "the package downloaded is not the one the store sold (SHA-256 " + actual.substr(0, 16) +
        "..., expected " + d.expected_sha256.substr(0, 16) +
        "...): it was swapped or damaged on the way; nothing installed");
  }
  JZ_ASSIGN_OR_RETURN(std::string tmp, make_temp_dir("jizhan-client"));
  auto info = sdk::unpack_package(d.package_file, tmp + "/pkg", {d.publisher});
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!info.ok()) {
    return Status::permission_denied("the package is not signed by the publisher of its licence (" +
                                     d.publisher.name + "): " + info.status().message());
  }
  if (info->manifest.name != l.algorithm) {
    return Status::permission_denied("the package is " + info->manifest.name +
                                     ", the licence is for " + l.algorithm);
  }
  // The publisher is pinned at the first install: an update signed by another key is not
  // this algorithm.
  if (auto before = read_install(in, l.algorithm); before.ok()) {
    const std::string pinned = json::string_or((*before)["publisher"], "key_id");
    if (!pinned.empty() && pinned != d.publisher.key_id) {
      return Status::permission_denied(l.algorithm + " was installed from publisher key " + pinned +
                                       "; this one is signed by " + d.publisher.key_id +
                                       ": refused (remove it first to "
                                       "change publishers)");
    }
  }
  sdk::LicenceUse use{.algorithm = l.algorithm,
                      .version = info->manifest.version,
                      .machine = in.fingerprint,
                      .now = SystemClock().now(),
                      .channels = 1};
  JZ_ASSIGN_OR_RETURN(sdk::Licence stored, sdk::activate_licence(d.licence_text, d.code,
                                                                 in.licences(), &d.publisher, use));
  const std::string dest = in.algorithm_dir(l.algorithm);
  fs::create_directories(dest, ec);
  if (ec) return Status::failed_precondition("cannot create " + dest + ": " + ec.message());
  fs::copy_file(d.package_file, dest + "/package.jzpkg.new", fs::copy_options::overwrite_existing,
                ec);
  if (!ec) fs::rename(dest + "/package.jzpkg.new", dest + "/package.jzpkg", ec);
  if (ec) return Status::failed_precondition("cannot install into " + dest + ": " + ec.message());
  JZ_ASSIGN_OR_RETURN(std::string code, sdk::normalize_activation_code(d.code));
  Json record = {{"name", l.algorithm},
                 {"version", info->manifest.version},
                 {"sha256", actual},
                 {"size", size},
                 {"licence_id", stored.id},
                 {"valid_until", format_rfc3339(stored.valid_until)},
                 {"channels", stored.channels},
                 {"qps", stored.qps},
                 {"customer", stored.customer},
                 {"publisher", sdk::public_key_json(d.publisher)},
                 {"server", d.server},
                 {"code", code},
                 {"installed_at", format_rfc3339(SystemClock().now())}};
  JZ_RETURN_IF_ERROR(write_file(dest + "/install.json", record.dump(2) + "\n", 0600));
  return record;
}

Result<Json> activate_online(const Install& in, const std::string& server_url,
                             const std::string& code) {
  JZ_ASSIGN_OR_RETURN(std::string server, normalize_server_url(server_url));
  JZ_ASSIGN_OR_RETURN(std::string normal, sdk::normalize_activation_code(code));
  ApiClient api(server, "");
  const Json body = {{"code", normal}, {"fingerprint", in.fingerprint}};
  JZ_ASSIGN_OR_RETURN(Json a, api.call("POST", "/api/v1/activate", &body));
  Delivery d;
  d.licence_text = json::string_or(a, "licence");
  d.code = normal;
  d.expected_sha256 = json::string_or(a, "sha256");
  d.server = server;
  if (!a.contains("publisher") || !a["publisher"].is_object()) {
    return Status::failed_precondition("the store's answer names no publisher key");
  }
  JZ_ASSIGN_OR_RETURN(d.publisher, sdk::parse_public_key(a["publisher"].dump()));
  const std::string download = json::string_or(a, "download");
  if (download.rfind("/api/v1/store/downloads/", 0) != 0) {
    return Status::failed_precondition("the store's answer has no download link");
  }
  JZ_ASSIGN_OR_RETURN(std::string tmp, make_temp_dir("jizhan-download"));
  d.package_file = tmp + "/package.jzpkg";
  auto got = api.download(download, d.package_file);
  Result<Json> out = got.ok() ? install_delivery(in, d) : Result<Json>(got.status());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (out.ok()) (*out)["renewed"] = a.value("renewed", false);
  return out;
}

}  // namespace jz::cli
