#include "cli/algo_command.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "sdk/conformance.h"
#include "sdk/host.h"
#include "sdk/licence.h"
#include "sdk/media.h"
#include "sdk/package.h"
#include "sdk/runtime.h"
#include "sdk/serve.h"

namespace jz::cli {
namespace {

std::atomic<bool> g_stop{false};

int fail(const char* cmd, const Status& s) {
  std::cerr << cmd << ": error: " << s.message() << "\n";
  return 1;
}

std::string self_binary() {
  std::string self = self_executable();
  return self.empty() ? "jizhan" : self;
}

void add_trust_flags(CLI::App* c, std::vector<std::string>& trust) {
  c->add_option("--trust", trust,
                "A publisher's public key to trust (repeatable); keys in " +
                    sdk::trusted_keys_dir() + " are always trusted")
      ->option_text("KEY.pub");
}

void add_sandbox_flag(CLI::App* c, bool& no_sandbox) {
  c->add_flag("--no-sandbox", no_sandbox,
              "Load the library without the sandbox (it then runs with your rights: your\n"
              "files, credentials and network). For libraries you built and trust; packages\n"
              "from others run sandboxed (no network, read-only system, nothing of yours)");
}

std::string failure_kind(Code c) {
  switch (c) {
    case Code::kUnavailable:
      return "crashed";
    case Code::kDeadlineExceeded:
      return "timed out";
    case Code::kInternal:
      return "malformed output";
    case Code::kResourceExhausted:
      return "out of memory";
    case Code::kInvalidArgument:
      return "invalid argument";
    default:
      return "failed";
  }
}

// Checks a package by unpacking it into a temporary folder that is removed again.
Result<sdk::PackageInfo> unpack_checked(const std::string& package,
                                        const std::vector<sdk::PublicKey>& keys,
                                        bool allow_untrusted) {
  JZ_ASSIGN_OR_RETURN(std::string dir, make_temp_dir("jizhan-check"));
  auto info = sdk::unpack_package(package, dir + "/pkg", keys, allow_untrusted);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return info;
}

}  // namespace

AlgoCommands::AlgoCommands(CLI::App& app) {
  auto* algo = app.add_subcommand(
      "algo", "Algorithm packages: build, check, run and serve them (docs/ALGORITHM_SDK.md)");
  algo->require_subcommand(1);

  auto* pack = algo->add_subcommand(
      "pack",
      "Build a signed package (.jzpkg) from a folder holding manifest.json, the library and\n"
      "its models. Missing manifest fields (name, version, schemas, model hashes) are taken\n"
      "from the library's describe() and the files.");
  pack->add_option("DIR", dir_, "The folder to pack")->required()->check(CLI::ExistingDirectory);
  pack->add_option("--key", key_, "The publisher's signing key (`jizhan license keygen`)")
      ->required()
      ->option_text("FILE.key");
  pack->add_option("--out", out_, "The package to write (default NAME-VERSION.jzpkg)")
      ->option_text("FILE.jzpkg");
  pack->callback([this] { action_ = [this] { return this->pack(); }; });

  auto* inspect = algo->add_subcommand(
      "inspect",
      "Show a package's manifest, signer and files; checks that nothing changed since it was\n"
      "signed. Exit 0 when intact (trusted or not), 1 when altered or unreadable.");
  inspect->add_option("PACKAGE", package_, "The .jzpkg file")->required();
  add_trust_flags(inspect, trust_);
  inspect->add_option("-o,--output", output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  inspect->callback([this] { action_ = [this] { return this->inspect(false); }; });

  auto* verify = algo->add_subcommand(
      "verify",
      "Check a package: intact, and signed by a trusted key. Exit 0 only then; 1 otherwise,\n"
      "saying why.");
  verify->add_option("PACKAGE", package_, "The .jzpkg file")->required();
  add_trust_flags(verify, trust_);
  verify->callback([this] { action_ = [this] { return this->inspect(true); }; });

  auto* run = algo->add_subcommand(
      "run",
      "Run an algorithm over images, a folder, a video file or a live stream, one JSON line\n"
      "per frame. The algorithm runs in a child process: a crash, hang or memory blow-up is\n"
      "an error for that frame and a restarted child. Exit 0 when the input was read to its\n"
      "end (per-frame errors are in the output and the summary), 1 when nothing could run.\n"
      "Ctrl-C stops a stream and prints the summary.");
  run->add_option("--package", package_, "FILE.jzpkg, or a LIBRARY.so while developing")
      ->required();
  run->add_option("--input", input_,
                  "An image, a folder of images, a video file, or a stream URL (rtsp://, "
                  "http://, udp://, tcp://, rtmp://)")
      ->required();
  run->add_option("--out", out_, "JSON-lines output, '-' for standard output")
      ->required()
      ->option_text("OUT.jsonl");
  run->add_option("--summary", summary_,
                  "Also write the summary as JSON: frames, results, errors by kind, restarts,\n"
                  "seconds, frames/s, per-frame latency percentiles (ms) and the algorithm's\n"
                  "peak resident memory (MiB)")
      ->option_text("FILE.json");
  run->add_option("--config", config_, "JSON object merged over the package's default config")
      ->option_text("JSON");
  run->add_option("--args", args_, "JSON object overriding the config for every call")
      ->option_text("JSON");
  run->add_option("--fps", fps_, "Video and streams: analyse at most N frames per second")
      ->option_text("N");
  run->add_option("--max-frames", max_frames_, "Stop after N frames (default: the whole input)")
      ->option_text("N");
  run->add_option("--timeout", timeout_, "Time one frame may take before the child is killed")
      ->option_text("DURATION")
      ->capture_default_str();
  run->add_option("--memory-limit", memory_mb_, "The child's address-space limit in MiB (0: none)")
      ->option_text("MIB");
  add_trust_flags(run, trust_);
  run->add_flag("--allow-untrusted", allow_untrusted_,
                "Run a package whose signer is not trusted (it must still be intact)");
  add_sandbox_flag(run, no_sandbox_);
  run->callback([this] { action_ = [this] { return this->run_frames(); }; });

  auto* check = algo->add_subcommand(
      "check",
      "Conformance checks every algorithm must pass: describe(), bad configs and calls\n"
      "refused as invalid argument, declared pixel formats, outputs against the declared\n"
      "schema and the algorithm_data/model_data convention, the same output across repeats,\n"
      "entry points and threads, and bounded memory over create/destroy cycles. Exit 0 when\n"
      "all pass, 1 otherwise.");
  check->add_option("PACKAGE", package_, "FILE.jzpkg, or a LIBRARY.so while developing")
      ->required();
  check
      ->add_option("--input", input_,
                   "Sample images (a file or a folder) to check with, besides "
                   "the synthetic frames")
      ->option_text("IMAGE|DIR");
  check->add_option("--config", config_, "JSON object merged over the default config");
  check->add_option("--threads", threads_, "Instances run in parallel")->capture_default_str();
  check->add_option("--cycles", cycles_, "Create/process/destroy cycles")->capture_default_str();
  check->add_option("--max-growth", max_growth_, "Allowed memory growth over the cycles, MiB")
      ->capture_default_str();
  check->add_option("-o,--output", output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  add_trust_flags(check, trust_);
  check->add_flag("--allow-untrusted", allow_untrusted_,
                  "Check a package whose signer is not trusted");
  add_sandbox_flag(check, no_sandbox_);
  check->callback([this] { action_ = [this] { return this->check(); }; });

  auto* serve = algo->add_subcommand(
      "serve",
      "Serve an algorithm over gRPC (proto/jizhan/algo/v1/algo.proto: Describe, Process,\n"
      "ProcessStream) and HTTP (POST /v1/process with an image; GET /v1/describe, /healthz,\n"
      "/readyz), on a pool of isolated instances. Runs until Ctrl-C or SIGTERM.");
  serve->add_option("--package", package_, "FILE.jzpkg, or a LIBRARY.so while developing")
      ->required();
  serve->add_option("--grpc", grpc_, "gRPC address, e.g. 127.0.0.1:50051 (port 0: any)")
      ->option_text("HOST:PORT");
  serve->add_option("--http", http_, "HTTP address, e.g. 127.0.0.1:8090 (port 0: any)")
      ->option_text("HOST:PORT");
  serve
      ->add_option("--instances", instances_,
                   "Algorithm instances (child processes); calls "
                   "beyond that wait")
      ->capture_default_str();
  serve
      ->add_option("--token-file", token_file_,
                   "A file holding the token clients must send as 'Authorization: Bearer "
                   "TOKEN'; required to listen beyond loopback")
      ->option_text("FILE");
  serve->add_option("--config", config_, "JSON object merged over the package's default config")
      ->option_text("JSON");
  serve->add_option("--timeout", timeout_, "Time one frame may take before its instance restarts")
      ->option_text("DURATION")
      ->capture_default_str();
  serve->add_option("--memory-limit", memory_mb_, "Each instance's address-space limit in MiB")
      ->option_text("MIB");
  add_trust_flags(serve, trust_);
  serve->add_flag("--allow-untrusted", allow_untrusted_,
                  "Serve a package whose signer is not trusted");
  add_sandbox_flag(serve, no_sandbox_);
  serve->callback([this] { action_ = [this] { return this->serve(); }; });

  auto* lic = app.add_subcommand(
      "license", "Algorithm licences: keys, issuing, activation (docs/ALGORITHM_SDK.md)");
  lic->require_subcommand(1);
  auto* keygen = lic->add_subcommand(
      "keygen",
      "Make an Ed25519 key pair: PREFIX.key (secret, 0600; signs packages and licences) and\n"
      "PREFIX.pub (give it to customers to trust).");
  keygen->add_option("--name", name_, "Who holds the key, e.g. your company")->required();
  keygen->add_option("--out", out_, "File prefix")->required()->option_text("PREFIX");
  keygen->callback([this] { action_ = [this] { return this->keygen(); }; });

  auto* issue = lic->add_subcommand(
      "issue",
      "Issue a licence: writes the signed licence file and prints its activation code (give\n"
      "the customer both; the licence does nothing without the code).");
  issue->add_option("--key", key_, "Your signing key (the one that signed the package)")
      ->required()
      ->option_text("FILE.key");
  issue->add_option("--algorithm", algorithm_, "The package name")->required();
  issue->add_option("--versions", versions_, "Version range, e.g. '>=1.0.0 <2.0.0' (default: all)")
      ->option_text("RANGE");
  issue->add_option("--customer", customer_, "Who the licence is for")->required();
  issue
      ->add_option("--machine", machine_,
                   "The customer's `jizhan license fingerprint`, or 'any' (default)")
      ->option_text("FINGERPRINT");
  issue->add_option("--valid-from", valid_from_, "RFC 3339 time (default: now)")
      ->option_text("TIME");
  issue->add_option("--valid-for", valid_for_, "Duration, e.g. 365d")->option_text("DURATION");
  issue->add_option("--valid-until", valid_until_, "RFC 3339 time")->option_text("TIME");
  issue->add_option("--channels", channels_, "Streams or instances at once (0: unlimited)");
  issue->add_option("--qps", qps_, "Frames per second over all channels (0: unlimited)");
  issue->add_option("--out", out_, "The licence file to write")->required()->option_text("FILE");
  issue->callback([this] { action_ = [this] { return this->issue(); }; });

  auto* linspect =
      lic->add_subcommand("inspect", "Show a licence file; with --trust, also check its signature");
  linspect->add_option("FILE", licence_file_)->required();
  add_trust_flags(linspect, trust_);
  linspect->add_option("-o,--output", output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  linspect->callback([this] { action_ = [this] { return this->licence_inspect(); }; });

  auto* activate = lic->add_subcommand(
      "activate",
      "Install a licence on this machine with its activation code. With --package, the\n"
      "licence is also checked against that package (publisher, name, version).");
  activate->add_option("CODE", code_, "The activation code, e.g. K7QF-9MZT-4HXA-P2WD")->required();
  activate->add_option("--licence,--license", licence_file_, "The licence file")->required();
  activate->add_option("--package", package_, "The .jzpkg the licence is for")->option_text("FILE");
  add_trust_flags(activate, trust_);
  activate->callback([this] { action_ = [this] { return this->activate(); }; });

  auto* fp = lic->add_subcommand("fingerprint",
                                 "Print this machine's fingerprint (for machine-bound licences)");
  fp->callback([this] {
    action_ = [] {
      auto f = sdk::machine_fingerprint();
      if (!f.ok()) return fail("jizhan license fingerprint", f.status());
      std::cout << *f << "\n";
      return 0;
    };
  });
}

int AlgoCommands::pack() {
  const char* cmd = "jizhan algo pack";
  auto key = sdk::read_signing_key(key_);
  if (!key.ok()) return fail(cmd, key.status());
  std::string out = out_;
  sdk::PackOptions o{dir_, out.empty() ? dir_ + "/.pack.jzpkg" : out, *key};
  auto m = sdk::pack(o);
  if (!m.ok()) return fail(cmd, m.status());
  if (out.empty()) {
    out = m->name + "-" + m->version + ".jzpkg";
    if (::rename(o.out.c_str(), out.c_str()) != 0) {
      return fail(cmd, Status::failed_precondition("cannot write " + out));
    }
  }
  std::cout << "packed " << m->name << " " << m->version << " into " << out << ", signed by "
            << key->pub.name << " (key " << key->pub.key_id << ")\n";
  return 0;
}

int AlgoCommands::inspect(bool verify) {
  const char* cmd = verify ? "jizhan algo verify" : "jizhan algo inspect";
  auto keys = sdk::load_trusted_keys(trust_);
  if (!keys.ok()) return fail(cmd, keys.status());
  auto info = unpack_checked(package_, *keys, true);
  if (!info.ok()) return fail(cmd, info.status());
  const auto& m = info->manifest;
  const std::string signer =
      "'" + info->signature.publisher + "' (key " + info->signature.key_id + ")";
  if (verify) {
    if (!info->trusted) {
      std::cerr << cmd << ": " << package_ << " is intact but signed by " << signer
                << ", which is not a trusted key; pass --trust KEY.pub or put the key in "
                << sdk::trusted_keys_dir() << "\n";
      return 1;
    }
    std::cout << package_ << ": " << m.name << " " << m.version << ", intact, signed by " << signer
              << " (trusted)\n";
    return 0;
  }
  if (output_ == "json") {
    Json files = Json::object();
    for (const auto& [n, f] : info->signature.files)
      files[n] = {{"sha256", f.sha256}, {"size", f.size}};
    std::cout << Json{{"manifest", m.to_json()},
                      {"publisher", info->signature.publisher},
                      {"key_id", info->signature.key_id},
                      {"trusted", info->trusted},
                      {"files", files}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "name       " << m.name << "\nversion    " << m.version << "\nabi        "
            << m.abi_version << "\nlibrary    " << m.library << "\nlicence    "
            << (m.licence_required ? "required" : "not required") << "\nsigned by  " << signer
            << (info->trusted ? " (trusted)" : " (NOT trusted)") << "\nintact     yes\nfiles\n";
  for (const auto& [n, f] : info->signature.files) {
    std::cout << "  " << n << "  " << f.size << " bytes  sha256 " << f.sha256.substr(0, 16) << "\n";
  }
  return 0;
}

int AlgoCommands::run_frames() {
  const char* cmd = "jizhan algo run";
  auto timeout = parse_duration(timeout_);
  if (!timeout.ok()) return fail(cmd, timeout.status());
  if (!args_.empty()) {
    Json a = Json::parse(args_, nullptr, false);
    if (a.is_discarded() || !a.is_object()) {
      return fail(cmd, Status::invalid_argument("--args must be a JSON object"));
    }
  }
  sdk::OpenOptions oo;
  oo.package = package_;
  oo.trust = trust_;
  oo.allow_untrusted = allow_untrusted_;
  auto algo = sdk::open_algorithm(oo);
  if (!algo.ok()) return fail(cmd, algo.status());
  auto config = algo->config(config_);
  if (!config.ok()) return fail(cmd, config.status());

  sdk::InputOptions io;
  io.input = input_;
  io.fps = fps_;
  io.max_frames = max_frames_;
  auto source = sdk::FrameSource::open(io);
  if (!source.ok()) return fail(cmd, source.status());

  sdk::HostOptions ho;
  ho.library = algo->library;
  ho.package_dir = algo->package_dir;
  ho.config_json = *config;
  ho.host_binary = self_binary();
  ho.timeout = *timeout;
  ho.memory_limit_mb = memory_mb_;
  ho.sandbox.enabled = !no_sandbox_;
  auto host = sdk::IsolatedAlgo::start(ho);
  if (!host.ok()) return fail(cmd, host.status());
  (*source)->decode_into((*host)->frame_buffer(), (*host)->frame_buffer_bytes());

  std::ofstream file;
  if (out_ != "-") {
    file.open(out_, std::ios::trunc);
    if (!file) return fail(cmd, Status::failed_precondition("cannot write " + out_));
  }
  std::ostream& out = out_ == "-" ? std::cout : file;

  g_stop = false;
  auto old_int = std::signal(SIGINT, [](int) { g_stop = true; });
  auto old_term = std::signal(SIGTERM, [](int) { g_stop = true; });
  const double qps = algo->licence ? algo->licence->qps : 0;
  const bool tty = ::isatty(2);
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  int64_t frames = 0, results = 0, errors = 0;
  std::map<std::string, int64_t> by_kind;
  std::vector<double> latencies;  // of the calls that reached the algorithm
  // A frame's sample id, which templates join on (docs/ALGORITHM_SDK.md): an image's path
  // inside the folder (or its file name), a video or stream frame's number.
  const bool images = std::string_view((*source)->kind()) == "folder" ||
                      std::string_view((*source)->kind()) == "image";
  const std::string folder_prefix =
      (input_.empty() || input_.back() == '/') ? input_ : input_ + "/";
  auto sample_of = [&](const sdk::Frame& fr) -> std::string {
    if (!images) return std::to_string(fr.index);
    if (fr.source.rfind(folder_prefix, 0) == 0) return fr.source.substr(folder_prefix.size());
    return std::filesystem::path(fr.source).filename().string();
  };
  sdk::Frame f;
  while (!g_stop && (*source)->next(f)) {
    if (qps > 0) {  // the licence's rate: pace the calls
      auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(frames / qps));
      std::this_thread::sleep_until(due);
    }
    ++frames;
    nlohmann::ordered_json line = {{"frame", f.index},
                                   {"timestamp_ms", f.timestamp_us / 1000.0},
                                   {"source", f.source},
                                   {"sample", sample_of(f)}};
    if (!f.bgr.empty()) {  // the frame's size, which boxes are relative to
      line["width"] = f.bgr.cols;
      line["height"] = f.bgr.rows;
    }
    Status err;
    if (!f.error.empty()) {
      err = Status::invalid_argument(f.error);
      by_kind["undecodable"]++;
    } else {
      const auto called = std::chrono::steady_clock::now();
      auto r = (*host)->process({f.view()}, args_);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - called)
              .count();
      latencies.push_back(ms);
      line["latency_ms"] = std::round(ms * 1000) / 1000;
      if (r.ok()) {
        Json j = Json::parse(*r, nullptr, false);
        line["result"] = j.is_discarded() ? Json(*r) : j;
        ++results;
      } else {
        err = r.status();
        by_kind[failure_kind(err.code())]++;
      }
    }
    if (!err.ok()) {
      ++errors;
      line["error"] = {{"code", std::string(code_name(err.code()))}, {"message", err.message()}};
    }
    out << line.dump() << "\n";
    if (out_ == "-") out.flush();
    const auto now = std::chrono::steady_clock::now();
    if (tty && now - last_progress > std::chrono::seconds(2)) {
      last_progress = now;
      std::cerr << "\r" << frames << " frames, " << errors << " errors..." << std::flush;
    }
  }
  out.flush();
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (tty) std::cerr << "\r";
  std::cerr << cmd << ": " << frames << " frames from " << (*source)->kind() << " " << input_
            << " in " << std::fixed << std::setprecision(2) << secs << " s ("
            << (secs > 0 ? frames / secs : 0.0) << " frames/s): " << results << " results, "
            << errors << " errors";
  if (!by_kind.empty()) {
    std::cerr << " (";
    bool first = true;
    for (const auto& [k, n] : by_kind) {
      std::cerr << (first ? "" : ", ") << n << " " << k;
      first = false;
    }
    std::cerr << ")";
  }
  if ((*host)->restarts() > 0)
    std::cerr << "; the algorithm was restarted " << (*host)->restarts() << " times";
  std::cerr << (out_ == "-" ? "" : "; output in " + out_) << (g_stop ? " (stopped)" : "") << "\n";
  if (out_ != "-" && !file) return fail(cmd, Status::failed_precondition("cannot write " + out_));
  if (!summary_.empty()) {
    const int restarts = (*host)->restarts();
    host->reset();  // the child ends and is waited for: its peak memory is counted below
    struct rusage ru {};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double q) -> Json {
      if (latencies.empty()) return nullptr;
      // Nearest rank: the smallest latency with at least q of the calls at or below it.
      auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies.size())));
      return std::round(latencies[std::max<size_t>(rank, 1) - 1] * 1000) / 1000;
    };
    Json kinds = Json::object();
    for (const auto& [kind, n] : by_kind) {
      std::string k = kind;
      std::replace(k.begin(), k.end(), ' ', '_');  // "timed out": timed_out
      kinds[k] = n;
    }
    const Json summary = {
        {"input_kind", (*source)->kind()},
        {"frames", frames},
        {"results", results},
        {"errors", errors},
        {"errors_by_kind", kinds},
        {"restarts", restarts},
        {"seconds", std::round(secs * 1000) / 1000},
        {"fps", secs > 0 ? std::round(frames / secs * 1000) / 1000 : 0.0},
        {"latency_ms",
         {{"p50", pct(0.5)}, {"p90", pct(0.9)}, {"p99", pct(0.99)}, {"max", pct(1.0)}}},
        {"peak_rss_mib", std::round(static_cast<double>(ru.ru_maxrss) / 1024 * 10) / 10},
        {"stopped", static_cast<bool>(g_stop)}};
    std::ofstream sf(summary_, std::ios::trunc);
    sf << summary.dump(2) << "\n";
    if (!sf.flush()) return fail(cmd, Status::failed_precondition("cannot write " + summary_));
  }
  return 0;
}

int AlgoCommands::check() {
  const char* cmd = "jizhan algo check";
  sdk::OpenOptions oo;
  oo.package = package_;
  oo.trust = trust_;
  oo.allow_untrusted = allow_untrusted_;
  auto algo = sdk::open_algorithm(oo);
  if (!algo.ok()) return fail(cmd, algo.status());
  auto config = algo->config(config_);
  if (!config.ok()) return fail(cmd, config.status());
  sdk::CheckOptions co;
  co.library = algo->library;
  co.package_dir = algo->package_dir;
  co.config_json = *config;
  if (algo->manifest) co.manifest = algo->manifest->to_json();
  co.threads = threads_;
  co.lifecycle_cycles = cycles_;
  co.max_growth_mib = max_growth_;
  co.sandbox.enabled = !no_sandbox_;
  co.host_binary = self_binary();
  if (!input_.empty()) {
    sdk::InputOptions io;
    io.input = input_;
    io.max_frames = 20;
    auto source = sdk::FrameSource::open(io);
    if (!source.ok()) return fail(cmd, source.status());
    for (sdk::Frame f; (*source)->next(f);) {
      if (!f.error.empty()) return fail(cmd, Status::invalid_argument(f.error));
      sdk::SampleFrame s{f.bgr.cols, f.bgr.rows, {}};
      for (int y = 0; y < f.bgr.rows; ++y) {
        const uint8_t* row = f.bgr.ptr<uint8_t>(y);
        s.bgr.insert(s.bgr.end(), row, row + static_cast<ptrdiff_t>(f.bgr.cols) * 3);
      }
      co.samples.push_back(std::move(s));
    }
  }
  const bool json = output_ == "json";
  auto results = sdk::run_conformance(co, [&](const sdk::CheckResult& r) {
    if (json) return;
    std::cout << (r.passed ? "PASS  " : "FAIL  ") << std::left << std::setw(14) << r.name
              << r.detail << "\n"
              << std::flush;
  });
  if (!results.ok()) return fail(cmd, results.status());
  int failed = 0;
  Json all = Json::array();
  for (const auto& r : *results) {
    failed += r.passed ? 0 : 1;
    all.push_back(
        {{"name", r.name}, {"passed", r.passed}, {"detail", r.detail}, {"seconds", r.seconds}});
  }
  if (json) {
    std::cout << Json{{"package", package_}, {"passed", failed == 0}, {"checks", all}}.dump(2)
              << "\n";
  } else {
    std::cout << (failed == 0 ? "all " + std::to_string(results->size()) + " checks passed"
                              : std::to_string(failed) + " of " + std::to_string(results->size()) +
                                    " checks failed")
              << "\n";
  }
  return failed == 0 ? 0 : 1;
}

int AlgoCommands::serve() {
  const char* cmd = "jizhan algo serve";
  auto timeout = parse_duration(timeout_);
  if (!timeout.ok()) return fail(cmd, timeout.status());
  sdk::ServeOptions so;
  if (!token_file_.empty()) {
    auto t = read_file(token_file_);
    if (!t.ok()) return fail(cmd, t.status());
    so.token = *t;
    while (!so.token.empty() && std::isspace(static_cast<unsigned char>(so.token.back()))) {
      so.token.pop_back();
    }
    if (so.token.size() < 16) {
      return fail(cmd, Status::invalid_argument(token_file_ + ": the token must have at least 16 "
                                                              "characters"));
    }
  }
  sdk::OpenOptions oo;
  oo.package = package_;
  oo.trust = trust_;
  oo.allow_untrusted = allow_untrusted_;
  oo.channels = instances_;
  auto algo = sdk::open_algorithm(oo);
  if (!algo.ok()) return fail(cmd, algo.status());
  auto config = algo->config(config_);
  if (!config.ok()) return fail(cmd, config.status());
  so.grpc_address = grpc_;
  so.http_address = http_;
  so.instances = instances_;
  so.host.library = algo->library;
  so.host.package_dir = algo->package_dir;
  so.host.config_json = *config;
  so.host.host_binary = self_binary();
  so.host.timeout = *timeout;
  so.host.memory_limit_mb = memory_mb_;
  so.host.sandbox.enabled = !no_sandbox_;
  if (algo->manifest) so.manifest_json = algo->manifest->to_json().dump();
  if (algo->licence) so.qps = algo->licence->qps;

  // Signals are taken by sigwait below, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = sdk::AlgoServer::start(so);
  if (!server.ok()) return fail(cmd, server.status());
  const Json& d = (*server)->description();
  std::cerr << cmd << ": serving " << d.value("name", "?") << " " << d.value("version", "?")
            << " with " << instances_ << " instance" << (instances_ == 1 ? "" : "s");
  if ((*server)->grpc_port()) std::cerr << "; gRPC on port " << (*server)->grpc_port();
  if ((*server)->http_port()) std::cerr << "; HTTP on port " << (*server)->http_port();
  std::cerr << (so.token.empty() ? "; no token (loopback only)" : "; token required") << "\n"
            << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << cmd << ": stopping (" << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ")\n";
  (*server)->shutdown();
  return 0;
}

int AlgoCommands::keygen() {
  const char* cmd = "jizhan license keygen";
  auto key = sdk::generate_signing_key(name_);
  Status s = sdk::write_key_pair(key, out_);
  if (!s.ok()) return fail(cmd, s);
  std::cout << "wrote " << out_ << ".key (secret: keep it private) and " << out_
            << ".pub (public) for '" << name_ << "', key " << key.pub.key_id << "\n";
  return 0;
}

int AlgoCommands::issue() {
  const char* cmd = "jizhan license issue";
  auto key = sdk::read_signing_key(key_);
  if (!key.ok()) return fail(cmd, key.status());
  sdk::IssueOptions o;
  o.key = *key;
  sdk::Licence& l = o.licence;
  l.algorithm = algorithm_;
  l.customer = customer_;
  l.machine = machine_.empty() || machine_ == "any" ? "*" : machine_;
  l.channels = channels_;
  l.qps = qps_;
  // --versions '>=1.0.0 <2.0.0', '>=1.2.0', '1.2.3' (exactly one version)
  std::istringstream vs(versions_);
  for (std::string part; vs >> part;) {
    if (part.rfind(">=", 0) == 0) {
      l.min_version = part.substr(2);
    } else if (part.rfind('<', 0) == 0) {
      l.below_version = part.substr(1);
    } else {
      return fail(cmd, Status::invalid_argument("--versions '" + versions_ +
                                                "': use '>=MIN', '<BELOW' or both, e.g. "
                                                "'>=1.0.0 <2.0.0'"));
    }
  }
  SystemClock clock;
  l.valid_from = clock.now();
  if (!valid_from_.empty()) {
    auto t = parse_rfc3339(valid_from_);
    if (!t.ok()) return fail(cmd, t.status());
    l.valid_from = *t;
  }
  if (valid_for_.empty() == valid_until_.empty()) {
    return fail(cmd,
                Status::invalid_argument("give one of --valid-for (e.g. 365d) and --valid-until"));
  }
  if (!valid_for_.empty()) {
    auto d = parse_duration(valid_for_);
    if (!d.ok()) return fail(cmd, d.status());
    l.valid_until = l.valid_from + *d;
  } else {
    auto t = parse_rfc3339(valid_until_);
    if (!t.ok()) return fail(cmd, t.status());
    l.valid_until = *t;
  }
  auto issued = sdk::issue_licence(o);
  if (!issued.ok()) return fail(cmd, issued.status());
  Status w = write_file(out_, issued->file_text, 0644, true);
  if (!w.ok()) return fail(cmd, w);
  std::cout << "licence " << issued->licence.id << " for " << l.algorithm << " "
            << l.versions_text() << ", customer " << l.customer << ", written to " << out_
            << "\nactivation code: " << issued->activation_code << "\n";
  return 0;
}

int AlgoCommands::licence_inspect() {
  const char* cmd = "jizhan license inspect";
  auto text = read_file(licence_file_);
  if (!text.ok()) return fail(cmd, text.status());
  sdk::SignedDocument doc;
  auto l = sdk::parse_licence(*text, &doc);
  if (!l.ok()) return fail(cmd, l.status());
  std::string sig = "not checked (no trusted key " + l->key_id + "; pass --trust KEY.pub)";
  if (!trust_.empty() || !sdk::trusted_keys_dir().empty()) {
    auto keys = sdk::load_trusted_keys(trust_);
    if (!keys.ok()) return fail(cmd, keys.status());
    for (const auto& k : *keys) {
      if (k.key_id != l->key_id) continue;
      if (!sdk::licence_signed_by(doc, k)) {
        return fail(cmd, Status::permission_denied("licence " + l->id +
                                                   ": its signature does not match: the file "
                                                   "was altered after it was issued"));
      }
      sig = "valid, by trusted key '" + k.name + "' (" + k.key_id + ")";
    }
  }
  if (output_ == "json") {
    Json j = l->to_json();
    j["signature"] = sig;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "licence    " << l->id << "\nalgorithm  " << l->algorithm << " "
            << l->versions_text() << "\ncustomer   " << l->customer << "\nmachine    "
            << (l->machine == "*" ? "any" : l->machine) << "\nvalid      "
            << format_rfc3339(l->valid_from) << " to " << format_rfc3339(l->valid_until)
            << "\nchannels   " << (l->channels ? std::to_string(l->channels) : "unlimited")
            << "\nqps        " << (l->qps > 0 ? Json(l->qps).dump() : "unlimited")
            << "\nissuer     " << l->issuer << " (key " << l->key_id << ")\nsignature  " << sig
            << "\n";
  return 0;
}

int AlgoCommands::activate() {
  const char* cmd = "jizhan license activate";
  auto text = read_file(licence_file_);
  if (!text.ok()) return fail(cmd, text.status());
  std::optional<sdk::PublicKey> publisher;
  std::optional<sdk::LicenceUse> use;
  sdk::OpenedAlgorithm opened;
  if (!package_.empty()) {
    auto keys = sdk::load_trusted_keys(trust_);
    if (!keys.ok()) return fail(cmd, keys.status());
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/jizhan-activate-XXXXXX";
    if (!::mkdtemp(dir.data()))
      return fail(cmd, Status::failed_precondition("cannot create " + dir));
    auto info = sdk::unpack_package(package_, dir + "/pkg", *keys, allow_untrusted_);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (!info.ok()) return fail(cmd, info.status());
    publisher = info->signature.public_key;
    sdk::LicenceUse u;
    u.algorithm = info->manifest.name;
    u.version = info->manifest.version;
    auto fp = sdk::machine_fingerprint();
    if (!fp.ok()) return fail(cmd, fp.status());
    u.machine = *fp;
    u.now = SystemClock().now();
    use = u;
  }
  auto l = sdk::activate_licence(*text, code_, sdk::licence_dir(),
                                 publisher ? &*publisher : nullptr, use);
  if (!l.ok()) return fail(cmd, l.status());
  std::cout << "activated licence " << l->id << " for " << l->algorithm << " " << l->versions_text()
            << " (valid until " << format_rfc3339(l->valid_until) << ") in " << sdk::licence_dir()
            << "\n";
  return 0;
}

}  // namespace jz::cli
