// faulty: a test algorithm that misbehaves on chosen frames (by frame_index), so the
// isolated host can be shown to survive it: crash_on (SIGSEGV), hang_on (never returns),
// bad_json_on (malformed output), leak_on (allocates until memory runs out); and, for the
// conformance checker, leak_per_instance_mb (never freed) and nondeterministic (a call
// counter in the output). And `hostile` (issue 17), what a hostile library tries when it
// is created: {"read": [files], "env": [variables], "connect_port": N on 127.0.0.1,
// "print": TEXT on stdout and stderr, "daemon": NAME (a setsid grandchild that sleeps
// under that name)}; what worked is in every output's model_data.hostile.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jizhan/algo.hpp"

namespace {

using Json = nlohmann::json;

std::set<int64_t> frames_of(const Json& j, const char* key) {
  std::set<int64_t> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                        std::string("config '") + key + "' must be a list of frame indexes");
  }
  for (const auto& v : j[key]) out.insert(v.get<int64_t>());
  return out;
}

class Faulty {
 public:
  static const char* describe() {
    return R"({"name":"faulty","version":"1.0.0","abi_version":1,"models":[],
"inputs":{"pixel_formats":["BGR24","RGB24","GRAY8","NV12"],"frames_per_call":1},
"config_schema":{"type":"object","properties":{"crash_on":{"type":"array"},"hang_on":{"type":"array"},
"bad_json_on":{"type":"array"},"leak_on":{"type":"array"},
"leak_per_instance_mb":{"type":"integer"},"nondeterministic":{"type":"boolean"},
"echo_pixels":{"type":"boolean"},
"hostile":{"type":"object"}}},
"output_schema":{"type":"object","required":["algorithm_data","model_data"]}})";
  }
  explicit Faulty(const std::string& config) {
    Json j = Json::parse(config, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config must be a JSON object");
    }
    crash_ = frames_of(j, "crash_on");
    hang_ = frames_of(j, "hang_on");
    bad_json_ = frames_of(j, "bad_json_on");
    leak_ = frames_of(j, "leak_on");
    if (j.contains("leak_per_instance_mb")) {
      if (!j["leak_per_instance_mb"].is_number_integer()) {
        throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                            "config 'leak_per_instance_mb' must be an integer");
      }
      const size_t bytes = j["leak_per_instance_mb"].get<size_t>() << 20;
      char* lost = new char[bytes];
      std::memset(lost, 1, bytes);  // resident, and never freed
    }
    if (j.contains("hostile")) {
      if (!j["hostile"].is_object()) {
        throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config 'hostile' must be an object");
      }
      hostile_ = try_hostile(j["hostile"]);
    }
    if (j.contains("echo_pixels")) {
      if (!j["echo_pixels"].is_boolean()) {
        throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config 'echo_pixels' must be a boolean");
      }
      echo_pixels_ = j["echo_pixels"].get<bool>();
    }
    if (j.contains("nondeterministic")) {
      if (!j["nondeterministic"].is_boolean()) {
        throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                            "config 'nondeterministic' must be a boolean");
      }
      nondeterministic_ = j["nondeterministic"].get<bool>();
    }
  }
  std::string process(const jz_frame* frames, size_t n, const std::string& args) {
    if (n != 1) throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "one frame per call");
    const jz_frame& f = frames[0];
    const int bpp = f.format == JZ_PIXEL_BGR24 || f.format == JZ_PIXEL_RGB24 ? 3 : 1;
    if (!f.data || f.width <= 0 || f.height <= 0 || f.stride < f.width * bpp) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "a frame needs pixels and a full stride");
    }
    if (!args.empty() && !Json::accept(args)) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "arguments must be JSON");
    }
    const int64_t i = frames[0].frame_index;
    if (crash_.count(i)) std::raise(SIGSEGV);
    if (hang_.count(i)) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (bad_json_.count(i)) return "{\"algorithm_data\": [oops";
    if (leak_.count(i)) {
      std::vector<char*> blocks;
      for (;;) {
        char* b = new char[64 << 20];
        std::memset(b, 1, 64 << 20);
        blocks.push_back(b);
      }
    }
    // A checksum of the first row, so the test can see the pixels arrived.
    int64_t sum = 0;
    for (int x = 0; x < f.width * bpp; ++x) sum += f.data[x];
    if (echo_pixels_) {
      // A hostile algorithm: the frame's first bytes as hex, in its output (a label and
      // model data) and in its log, to try every way out of a hidden test set.
      static const char* kHex = "0123456789abcdef";
      std::string hex;
      for (int x = 0; x < std::min(f.width * bpp, 48); ++x) {
        hex += kHex[f.data[x] >> 4];
        hex += kHex[f.data[x] & 15];
      }
      std::fprintf(stderr, "PIXELS %s\n", hex.c_str());
      std::fflush(stderr);
      return Json{{"algorithm_data",
                   {{"is_alert", true},
                    {"target_count", 1},
                    {"target_info",
                     {{{"name", "px" + hex},
                       {"x", 0},
                       {"y", 0},
                       {"width", 1},
                       {"height", 1},
                       {"confidence", 1.0}}}}}},
                  {"model_data", {{"frame", i}, {"pixels", hex}}}}
          .dump();
    }
    return Json{{"algorithm_data",
                 {{"is_alert", false}, {"target_count", 0}, {"target_info", Json::array()}}},
                {"model_data",
                 {{"frame", i},
                  {"row0_sum", sum},
                  {"calls", nondeterministic_ ? ++calls_ : 0},
                  {"hostile", hostile_}}}}
        .dump();
  }

  static Json try_hostile(const Json& h) {
    Json out = Json::object();
    if (h.contains("read")) {
      for (const auto& p : h["read"]) {
        std::ifstream f(p.get<std::string>());
        std::string first;
        out["read"][p.get<std::string>()] = static_cast<bool>(f && std::getline(f, first));
      }
    }
    if (h.contains("env")) {
      for (const auto& v : h["env"]) {
        out["env"][v.get<std::string>()] = std::getenv(v.get<std::string>().c_str()) != nullptr;
      }
    }
    if (h.contains("connect_port")) {
      const int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(h["connect_port"].get<int>()));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      out["connected"] = s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      if (s >= 0) ::close(s);
    }
    if (h.contains("print")) {
      const std::string text = h["print"].get<std::string>();
      std::printf("%s\n", text.c_str());
      std::fflush(stdout);
      std::fprintf(stderr, "%s\n", text.c_str());
    }
    if (h.contains("daemon")) {
      const std::string name = h["daemon"].get<std::string>();
      if (::fork() == 0) {
        ::setsid();
        if (::fork() == 0) {
          ::execl("/bin/sleep", name.c_str(), "600", static_cast<char*>(nullptr));
        }
        ::_exit(0);
      }
      out["daemon"] = true;
    }
    return out;
  }

 private:
  std::set<int64_t> crash_, hang_, bad_json_, leak_;
  Json hostile_ = Json::object();
  bool nondeterministic_ = false;
  bool echo_pixels_ = false;
  int64_t calls_ = 0;
};

}  // namespace

JZ_ALGO_EXPORT_CLASS(Faulty)
