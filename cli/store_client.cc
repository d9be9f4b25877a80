#include "cli/store_client.h"

#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include "cli/client.h"
#include "cli/client_install.h"
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
      "install, update, list and serve them (docs/STORE.md)");
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
  act->add_option("--licence", licence_,
                  "Install the licence FILE the seller answered the request with (with --package; "
                  "as `jizhan client install`)")
      ->option_text("FILE");
  act->add_option("--package", package_, "With --licence: the package (.jzpkg)")
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
      "update",
      "Renew every licence installed online and take a newer version when the store has one "
      "(also `renew`); a revoked or expired code is reported with its reason");
  rn->alias("renew");
  dir_flag(rn);
  rn->callback([this] { action_ = [this] { return renew(); }; });

  auto* sv = client->add_subcommand(
      "serve",
      "Run installed algorithms on sources (RTSP/HTTP streams, video files, image folders) and\n"
      "answer requests over HTTP/gRPC, within each licence's channels and frames a second;\n"
      "results go to OUT/SOURCE.jsonl, usage is reported to the store (queued while it cannot\n"
      "be reached). Runs until Ctrl-C, or until every source ended when there are no endpoints.");
  sv->add_option(
        "--source", serve_.sources,
        "ALGORITHM=INPUT: analyse a stream URL (rtsp://, http://, ...), a video file or a\n"
        "folder of images (repeatable; each holds one licence channel)")
      ->option_text("ALGORITHM=INPUT");
  sv->add_option("--endpoint", serve_.endpoints,
                 "ALGORITHM=HOST:PORT: answer POST /v1/process over HTTP there (repeatable)")
      ->option_text("ALGORITHM=HOST:PORT");
  sv->add_option("--config", serve_.config,
                 "A plan file (JSON): sources, endpoints (with gRPC, instances, tokens), output,\n"
                 "report_interval, grace, renew_before (docs/STORE.md); flags add to it")
      ->option_text("FILE");
  sv->add_option("--out", serve_.out, "The results folder (default DIR/results)")
      ->option_text("FOLDER");
  sv->add_option("--fps", serve_.fps, "--source streams and videos: at most N frames a second")
      ->option_text("N");
  sv->add_option("--max-frames", serve_.max_frames, "--source: stop after N frames")
      ->option_text("N");
  sv->add_option(
        "--grace", serve_.grace,
        "How long an expired licence keeps serving while it is renewed (default 72h; 0: none)")
      ->option_text("DURATION");
  sv->add_option("--report-interval", serve_.report_interval,
                 "How often usage is reported to the store (default 60s)")
      ->option_text("DURATION");
  sv->add_option("--renew-before", serve_.renew_before,
                 "Renew a licence online from this long before its end (default 7d)")
      ->option_text("DURATION");
  sv->add_option("--timeout", serve_.timeout,
                 "Time one frame may take before its child is killed (default 10s)")
      ->option_text("DURATION")
      ->capture_default_str();
  sv->add_option("--memory-limit", serve_.memory_mb,
                 "Each child's address-space limit in MiB (0: none)")
      ->option_text("MIB");
  sv->add_flag("--no-sandbox", serve_.no_sandbox,
               "Run the algorithms without the sandbox (they then run with your rights)");
  dir_flag(sv);
  sv->callback([this] { action_ = [this] { return serve(); }; });

  auto* rm = client->add_subcommand("remove", "Remove an installed algorithm and its licences");
  rm->add_option("name", name_, "The algorithm")->required();
  dir_flag(rm);
  rm->callback([this] { action_ = [this] { return remove(); }; });
}

int StoreClientCommands::fingerprint() {
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
  if (!in.ok()) return fail("jizhan client fingerprint", in.status());
  std::cout << in->fingerprint << "\n";
  return 0;
}

int StoreClientCommands::activate() {
  const std::string cmd = "jizhan client activate";
  const int ways = !server_.empty() + !offline_.empty() + !licence_.empty();
  if (ways != 1) {
    return fail(cmd, Status::invalid_argument(
                         "give one of --server URL (online), --offline FILE (a request to send "
                         "the seller) or --licence FILE --package FILE (the seller's answer)"));
  }
  if (!licence_.empty()) {
    if (package_.empty()) {
      return fail(cmd, Status::invalid_argument("--licence needs --package FILE.jzpkg"));
    }
    return install();
  }
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
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
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
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
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
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
      state = "licence missing or damaged: run `jizhan client update`";
    } else if (lic->machine != in->fingerprint) {
      state = "licence is for machine " + lic->machine + ", this is " + in->fingerprint +
              ": copied from another machine; activate this one with its own code";
    } else if (!sha.ok() || *sha != json::string_or(*r, "sha256")) {
      state = "package changed since it was installed: run `jizhan client update`";
    } else if (!until.ok() || *until <= SystemClock().now()) {
      state = "licence expired: run `jizhan client update`";
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
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
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

int StoreClientCommands::serve() {
  serve_.dir = dir_;
  return client_serve(serve_);
}

int StoreClientCommands::remove() {
  const std::string cmd = "jizhan client remove";
  auto in = open_install(dir_.empty() ? default_client_dir() : dir_);
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
