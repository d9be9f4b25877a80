// color_blobs: a deterministic detector of solid coloured rectangles (and any blob of a
// colour), the SDK's example for exact tests. BGR24 or RGB24 frames, one per call.
//
// Config (defaults in describe()): colors to look for, per-channel tolerance, the
// smallest blob in pixels, and how many blobs raise an alert.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jizhan/algo.hpp"
#include "jizhan/wkt.hpp"

namespace {

using Json = nlohmann::json;

struct Color {
  const char* name;
  int r, g, b;
};
constexpr std::array<Color, 6> kColors = {{{"red", 255, 0, 0},
                                           {"green", 0, 255, 0},
                                           {"blue", 0, 0, 255},
                                           {"yellow", 255, 255, 0},
                                           {"white", 255, 255, 255},
                                           {"black", 0, 0, 0}}};

struct Config {
  std::vector<Color> colors;
  int tolerance = 40;
  int min_area = 16;
  int alert_count = 1;
  jizhan::Roi roi = jizhan::Roi::everything();
};

int int_field(const Json& j, const char* key, int fallback, int lo, int hi) {
  if (!j.contains(key)) return fallback;
  const Json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                        std::string("config '") + key + "' must be an integer from " +
                            std::to_string(lo) + " to " + std::to_string(hi));
  }
  return static_cast<int>(v.get<int64_t>());
}

// Applies the keys present in `text` over `base`.
Config apply(Config base, const std::string& text) {
  if (text.empty()) return base;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config must be a JSON object");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "colors" && k != "tolerance" && k != "min_area" && k != "alert_count" && k != "roi") {
      throw jizhan::Error(
          JZ_ALGO_INVALID_ARGUMENT,
          "unknown config key '" + k + "' (known: colors, tolerance, min_area, alert_count, roi)");
    }
  }
  if (j.contains("colors")) {
    if (!j["colors"].is_array() || j["colors"].empty()) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config 'colors' must be a non-empty list");
    }
    base.colors.clear();
    for (const auto& c : j["colors"]) {
      bool found = false;
      for (const auto& known : kColors) {
        if (c.is_string() && c.get<std::string>() == known.name) {
          base.colors.push_back(known);
          found = true;
        }
      }
      if (!found) {
        throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                            "config 'colors': unknown colour " + c.dump() +
                                " (known: red, green, blue, yellow, white, black)");
      }
    }
  }
  if (j.contains("roi")) {
    if (!j["roi"].is_string()) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config 'roi' must be WKT text");
    }
    std::string error;
    auto roi = jizhan::Roi::parse(j["roi"].get<std::string>(), &error);
    if (!roi) throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config 'roi': " + error);
    base.roi = *roi;
  }
  base.tolerance = int_field(j, "tolerance", base.tolerance, 0, 255);
  base.min_area = int_field(j, "min_area", base.min_area, 1, 1 << 30);
  base.alert_count = int_field(j, "alert_count", base.alert_count, 1, 1 << 20);
  return base;
}

class ColorBlobs {
 public:
  static const char* describe() {
    return R"json({"name":"color_blobs","version":"1.0.0","abi_version":1,
"description":"Finds blobs of solid colours; deterministic, for tests.",
"models":[],
"inputs":{"pixel_formats":["BGR24","RGB24"],"frames_per_call":1},
"config_schema":{"type":"object","additionalProperties":false,"properties":{
  "colors":{"type":"array","items":{"enum":["red","green","blue","yellow","white","black"]},"default":["red","green","blue"]},
  "tolerance":{"type":"integer","minimum":0,"maximum":255,"default":40},
  "min_area":{"type":"integer","minimum":1,"default":16},
  "alert_count":{"type":"integer","minimum":1,"default":1},
  "roi":{"type":"string","default":"POLYGON((0 0,1 0,1 1,0 1,0 0))",
         "description":"WKT polygon in [0,1] coordinates; blobs centred outside it stay out of algorithm_data"}}},
"output_schema":{"type":"object","required":["algorithm_data","model_data"],"properties":{
  "algorithm_data":{"type":"object","required":["is_alert","target_count","target_info"]},
  "model_data":{"type":"object","required":["objects"]}}}})json";
  }

  explicit ColorBlobs(const std::string& config_json) {
    Config defaults;
    defaults.colors = {kColors[0], kColors[1], kColors[2]};
    config_ = apply(defaults, config_json);
  }

  void update_config(const std::string& config_json) { config_ = apply(config_, config_json); }

  std::string process(const jz_frame* frames, size_t n, const std::string& args_json) {
    if (n != 1)
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "color_blobs takes one frame per call");
    const jz_frame& f = frames[0];
    if (f.format != JZ_PIXEL_BGR24 && f.format != JZ_PIXEL_RGB24) {
      throw jizhan::Error(JZ_ALGO_NOT_IMPLEMENTED, "color_blobs takes BGR24 or RGB24 frames");
    }
    if (f.width <= 0 || f.height <= 0 || f.stride < f.width * 3 || !f.data) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "bad frame geometry");
    }
    const Config cfg = apply(config_, args_json);
    Json objects = Json::array(), targets = Json::array();
    std::vector<uint8_t> seen;
    std::vector<int> stack;
    for (const Color& c : cfg.colors) {
      const std::array<int, 3> px = f.format == JZ_PIXEL_BGR24 ? std::array<int, 3>{c.b, c.g, c.r}
                                                               : std::array<int, 3>{c.r, c.g, c.b};
      auto match = [&](int x, int y) {
        const uint8_t* p = f.data + static_cast<size_t>(y) * f.stride + static_cast<size_t>(x) * 3;
        for (int k = 0; k < 3; ++k) {
          if (std::abs(p[k] - px[k]) > cfg.tolerance) return false;
        }
        return true;
      };
      seen.assign(static_cast<size_t>(f.width) * f.height, 0);
      for (int y = 0; y < f.height; ++y) {
        for (int x = 0; x < f.width; ++x) {
          const size_t at = static_cast<size_t>(y) * f.width + x;
          if (seen[at] || !match(x, y)) continue;
          // Flood fill (4-connected), tracking the bounding box.
          int x0 = x, y0 = y, x1 = x, y1 = y;
          int64_t area = 0;
          stack.assign(1, static_cast<int>(at));
          seen[at] = 1;
          while (!stack.empty()) {
            const int i = stack.back();
            stack.pop_back();
            const int cx = i % f.width, cy = i / f.width;
            ++area;
            x0 = std::min(x0, cx), x1 = std::max(x1, cx), y0 = std::min(y0, cy),
            y1 = std::max(y1, cy);
            const int nx[4] = {cx - 1, cx + 1, cx, cx}, ny[4] = {cy, cy, cy - 1, cy + 1};
            for (int k = 0; k < 4; ++k) {
              if (nx[k] < 0 || ny[k] < 0 || nx[k] >= f.width || ny[k] >= f.height) continue;
              const size_t j = static_cast<size_t>(ny[k]) * f.width + nx[k];
              if (!seen[j] && match(nx[k], ny[k])) {
                seen[j] = 1;
                stack.push_back(static_cast<int>(j));
              }
            }
          }
          Json box = {
              {"x", x0},        {"y", y0},          {"width", x1 - x0 + 1}, {"height", y1 - y0 + 1},
              {"name", c.name}, {"confidence", 1.0}};
          Json obj = box;
          obj["area"] = area;
          objects.push_back(obj);
          const double cx = (x0 + x1 + 1) / 2.0 / f.width, cy = (y0 + y1 + 1) / 2.0 / f.height;
          if (area >= cfg.min_area && cfg.roi.contains(cx, cy)) targets.push_back(box);
        }
      }
    }
    const int count = static_cast<int>(targets.size());
    Json out = {{"algorithm_data",
                 {{"is_alert", count >= cfg.alert_count},
                  {"target_count", count},
                  {"target_info", targets}}},
                {"model_data", {{"objects", objects}}}};
    return out.dump();
  }

 private:
  Config config_;
};

}  // namespace

JZ_ALGO_EXPORT_CLASS(ColorBlobs)
