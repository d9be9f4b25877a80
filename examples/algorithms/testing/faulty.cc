// faulty: a test algorithm that misbehaves on chosen frames (by frame_index), so the
// isolated host can be shown to survive it: crash_on (SIGSEGV), hang_on (never returns),
// bad_json_on (malformed output), leak_on (allocates until memory runs out); and, for the
// conformance checker, leak_per_instance_mb (never freed) and nondeterministic (a call
// counter in the output).
#include <chrono>
#include <csignal>
#include <cstring>
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
"leak_per_instance_mb":{"type":"integer"},"nondeterministic":{"type":"boolean"}}},
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
    return Json{{"algorithm_data",
                 {{"is_alert", false}, {"target_count", 0}, {"target_info", Json::array()}}},
                {"model_data",
                 {{"frame", i}, {"row0_sum", sum}, {"calls", nondeterministic_ ? ++calls_ : 0}}}}
        .dump();
  }

 private:
  std::set<int64_t> crash_, hang_, bad_json_, leak_;
  bool nondeterministic_ = false;
  int64_t calls_ = 0;
};

}  // namespace

JZ_ALGO_EXPORT_CLASS(Faulty)
