#include "cli/store_client.h"

#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include "cli/client.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "sdk/licence.h"
#include "sdk/manifest.h"
#include "sdk/package.h"

namespace jz::cli {

namespace fs = std::filesystem;

namespace {

int fail(const std::string& cmd, const Status& s) {
  std::cerr << cmd << ": " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

std::string default_dir() {
  if (const char* d = std::getenv("JIZHAN_CLIENT_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    return std::string(x) + "/jizhan/client";
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return std::string(h) + "/.local/share/jizhan/client";
  }
  return "jizhan-client";
}

// This install: its folder, its key and the fingerprint the store knows it by.
struct Install {
  std::string dir;
  sdk::SigningKey key;
  std::string fingerprint;
  std::string licences() const { return dir + "/licences"; }
  std::string algorithm_dir(const std::string& name) const { return dir + "/algorithms/" + name; }
};

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

struct Delivery {
  std::string licence_text, code, package_file, expected_sha256, server;
  sdk::PublicKey publisher;
};

// Checks a licence and its package against each other, the publisher and this install,
// then installs both. Nothing is changed when a check fails; each failure says which.
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

// Activates (or renews) `code` at `server` and installs what it answers.
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

void print_install(const Json& r, bool renewed) {
  std::cout << (renewed ? "renewed " : "installed ") << r.value("name", "") << " "
            << r.value("version", "") << " (licence " << r.value("licence_id", "")
            << ", valid until " << r.value("valid_until", "") << "; channels "
            << (r.value("channels", 0) ? std::to_string(r.value("channels", 0)) : "unlimited")
            << ")\n";
}

}  // namespace

StoreClientCommands::StoreClientCommands(CLI::App& app) {
  auto* client = app.add_subcommand(
      "client",
      "The customer's side of the algorithm store: activate bought algorithms on this machine, "
      "install, renew and list them (docs/STORE.md)");
  client->require_subcommand(1);
  auto dir_flag = [&](CLI::App* c) {
    c->add_option("--dir", dir_,
                  "The install folder (default $JIZHAN_CLIENT_DIR, else "
                  "~/.local/share/jizhan/client)")
        ->option_text("DIR");
  };
  auto* fp = client->add_subcommand(
      "fingerprint", "Print this install's machine fingerprint (what a licence is bound to)");
  dir_flag(fp);
  fp->callback([this] { action_ = [this] { return fingerprint(); }; });

  auto* act = client->add_subcommand(
      "activate",
      "Activate an activation code on this machine: online (--server) the store answers with a "
      "licence and the package, both checked and installed; offline (--offline FILE) a signed "
      "request is written for the seller to answer");
  act->add_option("code", code_, "The activation code, XXXX-XXXX-XXXX-XXXX")->required();
  act->add_option("--server", server_, "The store's address, http://HOST:PORT")->option_text("URL");
  act->add_option("--offline", offline_,
                  "Write an activation request to FILE instead (for a machine without network)")
      ->option_text("FILE");
  dir_flag(act);
  act->callback([this] { action_ = [this] { return activate(); }; });

  auto* ins = client->add_subcommand(
      "install", "Install a licence a seller answered an offline request with, and its package");
  ins->add_option("--licence", licence_, "The licence file (.jzlic)")->required();
  ins->add_option("--package", package_, "The package (.jzpkg)")->required();
  ins->add_option("--code", code_, "The activation code the request was made with")->required();
  dir_flag(ins);
  ins->callback([this] { action_ = [this] { return install(); }; });

  auto* ls =
      client->add_subcommand("list", "The algorithms installed here, their licences and state");
  ls->add_option("-o,--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}));
  dir_flag(ls);
  ls->callback([this] { action_ = [this] { return list(); }; });

  auto* rn = client->add_subcommand(
      "renew",
      "Renew every licence installed online (and take a newer version when the store has one); "
      "a revoked or expired code is reported with its reason");
  dir_flag(rn);
  rn->callback([this] { action_ = [this] { return renew(); }; });

  auto* rm = client->add_subcommand("remove", "Remove an installed algorithm and its licences");
  rm->add_option("name", name_, "The algorithm")->required();
  dir_flag(rm);
  rm->callback([this] { action_ = [this] { return remove(); }; });
}

int StoreClientCommands::fingerprint() {
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail("jizhan client fingerprint", in.status());
  std::cout << in->fingerprint << "\n";
  return 0;
}

int StoreClientCommands::activate() {
  const std::string cmd = "jizhan client activate";
  if (server_.empty() == offline_.empty()) {
    return fail(cmd, Status::invalid_argument(
                         "give --server URL (online) or --offline FILE (a request to send the "
                         "seller), one of them"));
  }
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail(cmd, in.status());
  if (!offline_.empty()) {
    auto normal = sdk::normalize_activation_code(code_);
    if (!normal.ok()) return fail(cmd, normal.status());
    const std::string request =
        sdk::make_activation_request(in->key, *normal, in->fingerprint, SystemClock().now());
    if (Status s = write_file(offline_, request, 0644, true); !s.ok()) return fail(cmd, s);
    std::cout << "wrote " << offline_ << " for machine " << in->fingerprint
              << ": send it to the seller; install their answer with `jizhan client install "
                 "--licence FILE --package FILE --code CODE`\n";
    return 0;
  }
  auto r = activate_online(*in, server_, code_);
  if (!r.ok()) return fail(cmd, r.status());
  print_install(*r, r->value("renewed", false));
  return 0;
}

int StoreClientCommands::install() {
  const std::string cmd = "jizhan client install";
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail(cmd, in.status());
  auto text = read_file(licence_);
  if (!text.ok()) return fail(cmd, text.status());
  // Offline, the publisher is the package's signer; the licence must carry the same key.
  auto bytes = read_file(package_);
  if (!bytes.ok()) return fail(cmd, bytes.status());
  auto info = sdk::inspect_package_bytes(*bytes, {});
  if (!info.ok()) return fail(cmd, info.status());
  Delivery d{.licence_text = *text,
             .code = code_,
             .package_file = package_,
             .expected_sha256 = "",
             .server = "",
             .publisher = info->signature.public_key};
  auto r = install_delivery(*in, d);
  if (!r.ok()) return fail(cmd, r.status());
  print_install(*r, false);
  return 0;
}

int StoreClientCommands::list() {
  const std::string cmd = "jizhan client list";
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail(cmd, in.status());
  Json items = Json::array();
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(in->dir + "/algorithms", ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto r = read_install(*in, n);
    if (!r.ok()) continue;
    Json item = *r;
    item.erase("code");
    item.erase("publisher");
    item["publisher"] = json::string_or((*r)["publisher"], "name");
    // The state a serve would find: the package as installed, the licence in its term.
    std::string state = "ok";
    auto sha = sha256_file(in->algorithm_dir(n) + "/package.jzpkg");
    auto until = parse_rfc3339(json::string_or(*r, "valid_until"));
    auto stored =
        read_file(in->licences() + "/" + n + "--" + json::string_or(*r, "licence_id") + ".json");
    Json record = stored.ok() ? Json::parse(*stored, nullptr, false) : Json();
    auto lic = record.is_object() && record.contains("licence")
                   ? sdk::parse_licence(record["licence"].dump())
                   : Result<sdk::Licence>(Status::not_found("no licence"));
    if (!lic.ok()) {
      state = "licence missing or damaged: run `jizhan client renew`";
    } else if (lic->machine != in->fingerprint) {
      state = "licence is for machine " + lic->machine + ", this is " + in->fingerprint +
              ": copied from another machine; activate this one with its own code";
    } else if (!sha.ok() || *sha != json::string_or(*r, "sha256")) {
      state = "package changed since it was installed: run `jizhan client renew`";
    } else if (!until.ok() || *until <= SystemClock().now()) {
      state = "licence expired: run `jizhan client renew`";
    }
    item["state"] = state;
    items.push_back(std::move(item));
  }
  if (output_ == "json") {
    std::cout << Json{{"fingerprint", in->fingerprint}, {"items", items}}.dump(2) << "\n";
    return 0;
  }
  std::cout << "machine " << in->fingerprint << "\n";
  if (items.empty()) std::cout << "nothing installed (jizhan client activate CODE --server URL)\n";
  for (const auto& i : items) {
    std::cout << i.value("name", "") << " " << i.value("version", "") << "  licence "
              << i.value("licence_id", "") << " until " << i.value("valid_until", "") << "  "
              << i.value("state", "") << "\n";
  }
  return 0;
}

int StoreClientCommands::renew() {
  const std::string cmd = "jizhan client renew";
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail(cmd, in.status());
  std::error_code ec;
  int failed = 0, renewed = 0;
  for (const auto& e : fs::directory_iterator(in->dir + "/algorithms", ec)) {
    const std::string n = e.path().filename().string();
    auto r = read_install(*in, n);
    if (!r.ok()) continue;
    const std::string server = json::string_or(*r, "server");
    if (server.empty()) {
      std::cout << n << ": installed offline; renew it with a new offline request\n";
      continue;
    }
    auto a = activate_online(*in, server, json::string_or(*r, "code"));
    if (!a.ok()) {
      ++failed;
      std::cerr << cmd << ": " << n << ": " << a.status().message() << "\n";
      continue;
    }
    ++renewed;
    print_install(*a, true);
  }
  if (renewed == 0 && failed == 0) std::cout << "nothing to renew\n";
  return failed ? 1 : 0;
}

int StoreClientCommands::remove() {
  const std::string cmd = "jizhan client remove";
  auto in = open_install(dir_.empty() ? default_dir() : dir_);
  if (!in.ok()) return fail(cmd, in.status());
  auto r = read_install(*in, name_);
  if (!r.ok()) return fail(cmd, r.status());
  std::error_code ec;
  fs::remove_all(in->algorithm_dir(name_), ec);
  for (const auto& e : fs::directory_iterator(in->licences(), ec)) {
    if (e.path().filename().string().rfind(name_ + "--", 0) == 0) fs::remove(e.path(), ec);
  }
  std::cout << "removed " << name_ << "\n";
  return 0;
}

}  // namespace jz::cli
