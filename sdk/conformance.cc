#include "sdk/conformance.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "core/subprocess.h"
#include "sdk/library.h"
#include "sdk/sandbox.h"
#include "sdk/schema.h"

namespace jz::sdk {
namespace {

// A frame in any of the ABI's pixel formats, converted from a BGR sample.
struct OwnedFrame {
  std::vector<uint8_t> pixels;
  jz_frame frame{};
};

OwnedFrame convert(const SampleFrame& s, jz_pixel_format format, int64_t index) {
  OwnedFrame o;
  const int w = s.width, h = s.height;
  jz_frame& f = o.frame;
  f.struct_size = sizeof f;
  f.width = w;
  f.height = h;
  f.format = format;
  f.frame_index = index;
  f.timestamp_us = index * 40000;
  f.source_id = "conformance";
  auto gray_at = [&](int x, int y) {
    const uint8_t* p = &s.bgr[(static_cast<size_t>(y) * w + x) * 3];
    return static_cast<uint8_t>((p[0] * 29 + p[1] * 150 + p[2] * 77) >> 8);
  };
  switch (format) {
    case JZ_PIXEL_BGR24:
      o.pixels = s.bgr;
      f.stride = w * 3;
      break;
    case JZ_PIXEL_RGB24:
      o.pixels = s.bgr;
      for (size_t i = 0; i + 2 < o.pixels.size(); i += 3) std::swap(o.pixels[i], o.pixels[i + 2]);
      f.stride = w * 3;
      break;
    case JZ_PIXEL_GRAY8:
      o.pixels.resize(static_cast<size_t>(w) * h);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) o.pixels[static_cast<size_t>(y) * w + x] = gray_at(x, y);
      f.stride = w;
      break;
    case JZ_PIXEL_NV12:
      o.pixels.assign(static_cast<size_t>(w) * h * 3 / 2, 128);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) o.pixels[static_cast<size_t>(y) * w + x] = gray_at(x, y);
      f.stride = w;
      break;
  }
  f.data = o.pixels.data();
  return o;
}

// Synthetic frames: a gradient with a few solid blocks of primary colours.
SampleFrame synthetic(int w, int h, int seed) {
  SampleFrame s{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &s.bgr[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(y * 255 / h);
      p[2] = static_cast<uint8_t>((x + y + seed * 40) % 256);
    }
  }
  const uint8_t colours[3][3] = {{0, 0, 255}, {0, 255, 0}, {255, 0, 0}};
  for (int b = 0; b < 3; ++b) {
    const int x0 = (w / 8) * (1 + 2 * b) + seed * 3, y0 = h / 4 + b * h / 8;
    for (int y = y0; y < std::min(h, y0 + h / 6); ++y) {
      for (int x = x0; x < std::min(w, x0 + w / 6); ++x) {
        std::memcpy(&s.bgr[(static_cast<size_t>(y) * w + x) * 3], colours[b], 3);
      }
    }
  }
  return s;
}

const char* format_name(jz_pixel_format f) {
  switch (f) {
    case JZ_PIXEL_BGR24:
      return "BGR24";
    case JZ_PIXEL_RGB24:
      return "RGB24";
    case JZ_PIXEL_GRAY8:
      return "GRAY8";
    case JZ_PIXEL_NV12:
      return "NV12";
  }
  return "?";
}

long resident_kib() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// The checks themselves, run in the child.
class Checker {
 public:
  Checker(const CheckOptions& o, std::function<void(const CheckResult&)> report)
      : o_(o), report_(std::move(report)) {}

  void run() {
    auto lib = AlgoLibrary::open(o_.library);
    if (!lib.ok()) {
      emit("describe", false, lib.status().message());
      return;
    }
    lib_ = *lib;
    if (!step("describe", [&] { return describe(); })) return;
    if (!step("create", [&] { return create(); })) return;
    step("bad-config", [&] { return bad_config(); });
    step("bad-calls", [&] { return bad_calls(); });
    step("pixel-formats", [&] { return pixel_formats(); });
    step("output", [&] { return outputs(); });
    step("repeatable", [&] { return repeatable(); });
    step("entry-points", [&] { return entry_points(); });
    step("threads", [&] { return threads(); });
    step("lifecycle", [&] { return lifecycle(); });
  }

 private:
  using Outcome = std::pair<bool, std::string>;

  bool step(const std::string& name, const std::function<Outcome()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    Outcome r;
    try {
      r = fn();
    } catch (const std::exception& e) {
      r = {false, std::string("the checker caught an exception: ") + e.what()};
    }
    emit(name, r.first, r.second,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return r.first;
  }
  void emit(const std::string& name, bool ok, const std::string& detail, double secs = 0) {
    report_({name, ok, detail, secs});
  }

  Result<std::unique_ptr<AlgoInstance>> make(const std::string& config) {
    return lib_->create(config);
  }

  Outcome describe() {
    const Json& d = lib_->description();
    std::vector<std::string> missing;
    for (const char* k : {"name", "version", "abi_version"}) {
      if (!d.contains(k)) missing.push_back(k);
    }
    for (const char* k : {"config_schema", "output_schema", "inputs"}) {
      if (!d.contains(k) || !d[k].is_object()) missing.push_back(std::string(k) + " (an object)");
    }
    if (!missing.empty()) {
      std::string m = "describe() lacks";
      for (const auto& k : missing) m += " " + k;
      return {false, m};
    }
    if (o_.manifest.is_object()) {
      for (const char* k : {"name", "version", "abi_version"}) {
        if (o_.manifest.value(k, Json()) != d[k]) {
          return {false, std::string("manifest.json and describe() differ in '") + k +
                             "': " + o_.manifest.value(k, Json()).dump() + " vs " + d[k].dump()};
        }
      }
    }
    for (const auto& name : d["inputs"].value("pixel_formats", Json::array())) {
      if (name.is_string()) declared_.push_back(name.get<std::string>());
    }
    frames_per_call_ = d["inputs"].value("frames_per_call", 1);
    return {true, d["name"].get<std::string>() + " " + d["version"].dump()};
  }

  Outcome create() {
    auto a = make(o_.config_json);
    if (!a.ok()) return {false, "create with the default config: " + a.status().message()};
    std::vector<SampleFrame> all = o_.samples;
    all.push_back(synthetic(320, 240, 0));
    all.push_back(synthetic(321, 179, 1));  // odd sizes: strides are not multiples of 4
    for (size_t i = 0; i < all.size(); ++i)
      frames_.push_back(convert(all[i], JZ_PIXEL_BGR24, static_cast<int64_t>(i)));
    return {true, std::to_string(frames_.size()) + " sample frames (" +
                      std::to_string(o_.samples.size()) + " given, 2 synthetic)"};
  }

  Outcome bad_config() {
    std::vector<std::pair<std::string, std::string>> cases = {{"{", "malformed JSON"},
                                                              {"[]", "a list, not an object"}};
    const Json& props = lib_->description()["config_schema"].value("properties", Json::object());
    for (auto it = props.begin(); it != props.end(); ++it) {
      const std::string t = it->is_object() ? it->value("type", "") : "";
      Json wrong;
      if (t == "number" || t == "integer" || t == "boolean" || t == "array" || t == "object") {
        wrong = "not-a-" + t;
      } else if (t == "string") {
        wrong = Json::array({1, 2});
      } else {
        continue;
      }
      cases.push_back({Json{{it.key(), wrong}}.dump(), "'" + it.key() + "' of the wrong type"});
    }
    std::string failures;
    for (const auto& [config, what] : cases) {
      auto a = make(config);
      if (a.ok()) {
        failures += "; " + what + " was accepted";
      } else if (a.status().code() != Code::kInvalidArgument) {
        failures += "; " + what + " gave " + std::string(code_name(a.status().code())) +
                    " instead of invalid argument";
      }
    }
    if (!failures.empty()) return {false, failures.substr(2)};
    return {true, std::to_string(cases.size()) + " bad configs refused as invalid argument"};
  }

  Outcome bad_calls() {
    auto a = make(o_.config_json);
    if (!a.ok()) return {false, a.status().message()};
    std::string failures;
    auto expect_refused = [&](const std::vector<jz_frame>& frames, const std::string& args,
                              const std::string& what) {
      auto r = (*a)->process(frames, args);
      const bool ok = !r.ok() && (r.status().code() == Code::kInvalidArgument ||
                                  (r.status().code() == Code::kFailedPrecondition &&
                                   r.status().message().rfind("not implemented", 0) == 0));
      if (r.ok()) {
        failures += "; " + what + " was accepted";
      } else if (!ok) {
        failures += "; " + what + " gave " + std::string(code_name(r.status().code()));
      }
    };
    const jz_frame good = frames_[0].frame;
    expect_refused({}, "", "no frames");
    jz_frame no_pixels = good;
    no_pixels.data = nullptr;
    expect_refused({no_pixels}, "", "a frame without pixels");
    jz_frame zero = good;
    zero.width = 0;
    expect_refused({zero}, "", "a frame of width 0");
    jz_frame short_stride = good;
    short_stride.stride = good.width;  // less than a row of BGR pixels
    expect_refused({short_stride}, "", "a stride shorter than a row");
    expect_refused({good}, "{", "malformed per-call arguments");
    if (frames_per_call_ >= 1) {
      std::vector<jz_frame> many(static_cast<size_t>(frames_per_call_) + 1, good);
      expect_refused(many, "",
                     std::to_string(many.size()) + " frames (declared " +
                         std::to_string(frames_per_call_) + " per call)");
    }
    auto after = (*a)->process({good});
    if (!after.ok()) failures += "; a good call after bad ones failed: " + after.status().message();
    if (!failures.empty()) return {false, failures.substr(2)};
    return {true, "6 bad calls refused; the instance still works"};
  }

  Outcome pixel_formats() {
    auto a = make(o_.config_json);
    if (!a.ok()) return {false, a.status().message()};
    std::string failures, worked;
    for (auto f : {JZ_PIXEL_BGR24, JZ_PIXEL_RGB24, JZ_PIXEL_GRAY8, JZ_PIXEL_NV12}) {
      const bool declared =
          std::find(declared_.begin(), declared_.end(), format_name(f)) != declared_.end();
      OwnedFrame fr = convert(o_.samples.empty() ? synthetic(320, 240, 0) : o_.samples[0], f, 0);
      auto r = (*a)->process({fr.frame});
      if (declared && !r.ok()) {
        failures +=
            std::string("; declared ") + format_name(f) + " failed: " + r.status().message();
      } else if (!declared && r.ok()) {
        // Accepting an undeclared format is harmless; say so.
        worked += std::string(" ") + format_name(f) + "(undeclared)";
      } else if (!declared && r.status().code() != Code::kInvalidArgument &&
                 r.status().code() != Code::kFailedPrecondition) {
        failures += std::string("; undeclared ") + format_name(f) + " gave " +
                    std::string(code_name(r.status().code()));
      } else if (declared) {
        worked += std::string(" ") + format_name(f);
      }
    }
    if (declared_.empty()) return {false, "describe().inputs.pixel_formats lists no formats"};
    if (!failures.empty()) return {false, failures.substr(2)};
    return {true, "works with" + worked};
  }

  Outcome outputs() {
    auto a = make(o_.config_json);
    if (!a.ok()) return {false, a.status().message()};
    const Json& schema = lib_->description()["output_schema"];
    for (size_t i = 0; i < frames_.size(); ++i) {
      auto r = (*a)->process({frames_[i].frame});
      if (!r.ok()) return {false, "frame " + std::to_string(i) + ": " + r.status().message()};
      Json j = Json::parse(*r, nullptr, false);
      if (j.is_discarded()) return {false, "frame " + std::to_string(i) + ": output is not JSON"};
      Status s = validate_json(j, schema);
      if (!s.ok()) return {false, "frame " + std::to_string(i) + ": " + s.message()};
      const Json& ad = j.value("algorithm_data", Json());
      if (!j.contains("model_data")) return {false, "output has no model_data"};
      if (!ad.is_object() || !ad.contains("is_alert") || !ad["is_alert"].is_boolean() ||
          !ad.contains("target_count") || !ad["target_count"].is_number_integer() ||
          !ad.contains("target_info") || !ad["target_info"].is_array()) {
        return {false,
                "algorithm_data needs is_alert (boolean), target_count (integer) and "
                "target_info (list)"};
      }
      if (ad["target_count"].get<int64_t>() != static_cast<int64_t>(ad["target_info"].size())) {
        return {false, "frame " + std::to_string(i) + ": target_count " +
                           ad["target_count"].dump() + " but " +
                           std::to_string(ad["target_info"].size()) + " entries in target_info"};
      }
      reference_.push_back(*r);
    }
    return {true, std::to_string(frames_.size()) + " outputs match the schema and the convention"};
  }

  Outcome repeatable() {
    auto a = make(o_.config_json);
    if (!a.ok()) return {false, a.status().message()};
    for (int rep = 0; rep < o_.repeats; ++rep) {
      for (size_t i = 0; i < frames_.size(); ++i) {
        auto r = (*a)->process({frames_[i].frame});
        if (!r.ok()) return {false, r.status().message()};
        if (i < reference_.size() && *r != reference_[i]) {
          return {false, "frame " + std::to_string(i) + " gave a different output on repeat " +
                             std::to_string(rep + 1)};
        }
      }
    }
    return {true, std::to_string(o_.repeats) + " repeats identical"};
  }

  Outcome entry_points() {
    // The effective config as a whole, given three ways.
    const std::string cfg = o_.config_json;
    auto fresh = make("{}");
    if (!fresh.ok()) return {false, "create with {}: " + fresh.status().message()};
    std::string notes;
    auto compare = [&](AlgoInstance& inst, const std::string& args,
                       const std::string& how) -> std::string {
      for (size_t i = 0; i < frames_.size() && i < reference_.size(); ++i) {
        auto r = inst.process({frames_[i].frame}, args);
        if (!r.ok()) return how + ": " + r.status().message();
        if (*r != reference_[i])
          return how + " gave a different output for frame " + std::to_string(i);
      }
      return "";
    };
    if (auto e = compare(**fresh, cfg, "the config as per-call arguments"); !e.empty()) {
      return {false, e};
    }
    Status u = (*fresh)->update_config(cfg);
    if (u.code() == Code::kFailedPrecondition && u.message().rfind("not implemented", 0) == 0) {
      notes = "; update_config not implemented (allowed)";
    } else if (!u.ok()) {
      return {false, "update_config with the default config: " + u.message()};
    } else if (auto e = compare(**fresh, "", "the config by update_config"); !e.empty()) {
      return {false, e};
    }
    return {true, "create, per-call arguments and update_config agree" + notes};
  }

  Outcome threads() {
    std::vector<std::string> errors(static_cast<size_t>(o_.threads));
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(o_.threads));
    for (int t = 0; t < o_.threads; ++t) {
      pool.emplace_back([&, t] {
        auto a = make(o_.config_json);
        if (!a.ok()) {
          errors[t] = a.status().message();
          return;
        }
        for (int rep = 0; rep < o_.repeats; ++rep) {
          for (size_t i = 0; i < frames_.size() && i < reference_.size(); ++i) {
            auto r = (*a)->process({frames_[i].frame});
            if (!r.ok() || *r != reference_[i]) {
              errors[t] = "frame " + std::to_string(i) +
                          (r.ok() ? ": a different output" : ": " + r.status().message());
              return;
            }
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    for (int t = 0; t < o_.threads; ++t) {
      if (!errors[t].empty()) return {false, "thread " + std::to_string(t) + ": " + errors[t]};
    }
    return {true, std::to_string(o_.threads) + " instances on " + std::to_string(o_.threads) +
                      " threads gave the single-threaded outputs"};
  }

  Outcome lifecycle() {
    auto cycle = [&]() -> Status {
      JZ_ASSIGN_OR_RETURN(auto a, make(o_.config_json));
      JZ_ASSIGN_OR_RETURN(std::string r, a->process({frames_[0].frame}));
      (void)r;
      return {};
    };
    const int warmup = std::max(3, o_.lifecycle_cycles / 10);
    for (int i = 0; i < warmup; ++i) {
      Status s = cycle();
      if (!s.ok()) return {false, s.message()};
    }
    const long before = resident_kib();
    for (int i = 0; i < o_.lifecycle_cycles; ++i) {
      Status s = cycle();
      if (!s.ok()) return {false, "cycle " + std::to_string(i) + ": " + s.message()};
    }
    const double growth = (resident_kib() - before) / 1024.0;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%d create/process/destroy cycles: memory grew %.1f MiB (bound %.0f)",
                  o_.lifecycle_cycles, growth, o_.max_growth_mib);
    return {growth <= o_.max_growth_mib, buf};
  }

  const CheckOptions& o_;
  std::function<void(const CheckResult&)> report_;
  std::shared_ptr<AlgoLibrary> lib_;
  std::vector<std::string> declared_;
  int frames_per_call_ = 1;
  std::vector<OwnedFrame> frames_;
  std::vector<std::string> reference_;
};

// Runs every check and writes each result as a JSON line to `fd` (the child's side).
void run_checks(const CheckOptions& o, int fd) {
  if (!o.package_dir.empty()) {
    // The checking child is one thread until the checks start: setenv cannot race here.
    ::setenv("JIZHAN_PACKAGE_DIR", o.package_dir.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    if (::chdir(o.package_dir.c_str()) != 0) ::_exit(3);
  }
  Checker c(o, [&](const CheckResult& r) {
    std::string line =
        Json{{"name", r.name}, {"passed", r.passed}, {"detail", r.detail}, {"seconds", r.seconds}}
            .dump() +
        "\n";
    for (size_t done = 0; done < line.size();) {
      ssize_t n = ::write(fd, line.data() + done, line.size() - done);
      if (n <= 0) ::_exit(4);
      done += static_cast<size_t>(n);
    }
  });
  c.run();
}

// The options as the sandboxed child reads them back (run_conformance_child): a JSON
// header line, then each sample's pixels.
std::string encode_options(const CheckOptions& o) {
  Json samples = Json::array();
  for (const auto& s : o.samples) samples.push_back({s.width, s.height, s.bgr.size()});
  Json head = {{"library", o.library},
               {"package_dir", o.package_dir},
               {"config_json", o.config_json},
               {"manifest", o.manifest},
               {"repeats", o.repeats},
               {"threads", o.threads},
               {"lifecycle_cycles", o.lifecycle_cycles},
               {"max_growth_mib", o.max_growth_mib},
               {"samples", samples}};
  std::string out = head.dump() + "\n";
  for (const auto& s : o.samples)
    out.append(reinterpret_cast<const char*>(s.bgr.data()), s.bgr.size());
  return out;
}

const char* kOrder[] = {"describe", "create",     "bad-config",   "bad-calls", "pixel-formats",
                        "output",   "repeatable", "entry-points", "threads",   "lifecycle"};

}  // namespace

int run_conformance_child(int options_fd, int results_fd) {
  std::string all;
  char buf[1 << 16];
  for (ssize_t n; (n = ::read(options_fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 2;
    all.append(buf, static_cast<size_t>(n));
  }
  const size_t nl = all.find('\n');
  Json head = Json::parse(all.substr(0, nl == std::string::npos ? 0 : nl), nullptr, false);
  if (!head.is_object()) return 2;
  CheckOptions o;
  o.library = json::string_or(head, "library");
  o.package_dir = json::string_or(head, "package_dir");
  o.config_json = json::string_or(head, "config_json", "{}");
  o.manifest = head["manifest"];
  o.repeats = head.value("repeats", 3);
  o.threads = head.value("threads", 4);
  o.lifecycle_cycles = head.value("lifecycle_cycles", 50);
  o.max_growth_mib = head.value("max_growth_mib", 32.0);
  size_t at = nl + 1;
  for (const auto& s : head["samples"]) {
    SampleFrame f;
    f.width = s[0].get<int>();
    f.height = s[1].get<int>();
    const size_t bytes = s[2].get<size_t>();
    if (at + bytes > all.size()) return 2;
    f.bgr.assign(all.begin() + static_cast<std::ptrdiff_t>(at),
                 all.begin() + static_cast<std::ptrdiff_t>(at + bytes));
    at += bytes;
    o.samples.push_back(std::move(f));
  }
  run_checks(o, results_fd);
  // Like the forked child: no exit handlers (an algorithm's leaks are the lifecycle
  // check's to report, not a leak checker's at exit).
  ::_exit(0);
}

Result<std::vector<CheckResult>> run_conformance(
    const CheckOptions& o, const std::function<void(const CheckResult&)>& on_result) {
  int fds[2], out[2];
  if (::pipe2(fds, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    return Status::internal("pipe: " + errno_message(errno));
  }
  // What the algorithm prints goes to our stderr, escaped; never into the caller's output.
  std::optional<Child> child;
  pid_t pid = -1;
  if (o.sandbox.enabled) {
    const int opts = ::memfd_create("jizhan-check-options", MFD_CLOEXEC);
    const std::string encoded = encode_options(o);
    bool written = opts >= 0;
    for (size_t done = 0; written && done < encoded.size();) {
      const ssize_t n = ::write(opts, encoded.data() + done, encoded.size() - done);
      written = n > 0;
      done += n > 0 ? static_cast<size_t>(n) : 0;
    }
    if (!written || ::lseek(opts, 0, SEEK_SET) != 0) {
      for (int fd : {fds[0], fds[1], out[0], out[1], opts}) ::close(fd);
      return Status::internal("cannot hand the checks their options");
    }
    auto prefix = sandbox_command(o.sandbox, o.host_binary, o.library, o.package_dir);
    if (!prefix.ok()) {
      for (int fd : {fds[0], fds[1], out[0], out[1], opts}) ::close(fd);
      return prefix.status();
    }
    SubprocessOptions so;
    so.argv = *prefix;
    so.argv.insert(so.argv.end(), {o.host_binary, "algo-check-child", "3", "4"});
    so.pass_fds = {{opts, 3}, {fds[1], 4}, {out[1], 1}, {out[1], 2}};
    auto spawned = Child::spawn(so);
    ::close(opts);
    if (!spawned.ok()) {
      for (int fd : {fds[0], fds[1], out[0], out[1]}) ::close(fd);
      return spawned.status();
    }
    child.emplace(std::move(*spawned));
  } else {
    pid = ::fork();
    if (pid < 0) return Status::internal("fork: " + errno_message(errno));
    if (pid == 0) {
      ::close(fds[0]);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      run_checks(o, fds[1]);
      ::_exit(0);
    }
  }
  ::close(fds[1]);
  ::close(out[1]);
  OutputRelay relay(out[0]);
  std::vector<CheckResult> results;
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000))) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    buffer.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      Json j = Json::parse(buffer.substr(0, nl), nullptr, false);
      buffer.erase(0, nl + 1);
      if (j.is_discarded()) continue;
      CheckResult r{j["name"], j["passed"], j["detail"], j["seconds"]};
      if (on_result) on_result(r);
      results.push_back(std::move(r));
    }
  }
  ::close(fds[0]);
  int signal = 0, exit_code = 0;
  if (child) {
    if (timed_out) child->signal(SIGKILL);
    const SubprocessResult r = child->wait();
    signal = r.signal;
    exit_code = r.exit_code;
    // bubblewrap reports a command killed by signal n as exit status 128 + n.
    if (signal == 0 && exit_code > 128 && exit_code < 128 + 65) {
      signal = exit_code - 128;
      exit_code = 0;
    }
  } else {
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  }
  // A check that never reported: the child died in it (or the time ran out).
  if (results.size() < std::size(kOrder) &&
      (results.empty() || results.back().passed ||
       (results.back().name != "describe" && results.back().name != "create"))) {
    std::string why;
    if (timed_out) {
      why = "the checks took longer than " + std::to_string(o.timeout.count()) + " s";
    } else if (signal != 0) {
      const char* name = ::sigabbrev_np(signal);
      why = std::string("the algorithm crashed (SIG") + (name ? name : "?") + ")";
    } else if (exit_code != 0) {
      why = "the checker exited with status " + std::to_string(exit_code);
    }
    if (!why.empty()) {
      CheckResult r{kOrder[results.size()], false, why, 0};
      if (on_result) on_result(r);
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace jz::sdk
