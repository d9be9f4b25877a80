// face_detect: faces with OpenCV's Haar cascades (Debian's opencv-data), then eyes inside
// each face: an algorithm with two models, in the SDK's output convention.
//
// Config (defaults in describe()): the two model files (relative to the package folder,
// $JIZHAN_PACKAGE_DIR, or absolute), the cascade's scale step and neighbour count, the
// smallest face, a confidence threshold (the cascade's level weight), a region of interest
// (WKT in [0,1] coordinates; a face counts when its centre lies inside), whether to look
// for eyes, and how many faces raise an alert. Any frame format of the ABI; one per call.
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <string>
#include <vector>

#include "jizhan/algo.hpp"
#include "jizhan/wkt.hpp"

namespace {

using Json = nlohmann::json;

struct Config {
  std::string faces_model = "models/haarcascade_frontalface_default.xml";
  std::string eyes_model = "models/haarcascade_eye.xml";
  double scale_factor = 1.1;
  int min_neighbors = 4;
  int min_face_size = 24;
  double threshold = 0.0;
  bool detect_eyes = true;
  int alert_count = 1;
  jizhan::Roi roi = jizhan::Roi::everything();
};

[[noreturn]] void bad(const std::string& what) {
  throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "config " + what);
}

double number(const Json& v, const char* key, double lo, double hi) {
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
    bad(std::string("'") + key + "' must be a number from " + std::to_string(lo) + " to " +
        std::to_string(hi));
  }
  return v.get<double>();
}

Config apply(Config c, const std::string& text) {
  if (text.empty()) return c;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) bad("must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = *it;
    if (k == "faces_model" || k == "eyes_model") {
      if (!v.is_string() || v.get<std::string>().empty()) bad("'" + k + "' must be a file name");
      (k == "faces_model" ? c.faces_model : c.eyes_model) = v.get<std::string>();
    } else if (k == "scale_factor") {
      c.scale_factor = number(v, "scale_factor", 1.01, 2.0);
    } else if (k == "min_neighbors") {
      c.min_neighbors = static_cast<int>(number(v, "min_neighbors", 0, 50));
    } else if (k == "min_face_size") {
      c.min_face_size = static_cast<int>(number(v, "min_face_size", 8, 4096));
    } else if (k == "threshold") {
      c.threshold = number(v, "threshold", -100, 100);
    } else if (k == "detect_eyes") {
      if (!v.is_boolean()) bad("'detect_eyes' must be true or false");
      c.detect_eyes = v.get<bool>();
    } else if (k == "alert_count") {
      c.alert_count = static_cast<int>(number(v, "alert_count", 1, 10000));
    } else if (k == "roi") {
      std::string error;
      auto roi = v.is_string() ? jizhan::Roi::parse(v.get<std::string>(), &error) : std::nullopt;
      if (!roi) bad("'roi': " + (v.is_string() ? error : std::string("must be WKT text")));
      c.roi = *roi;
    } else {
      bad("has an unknown key '" + k +
          "' (known: faces_model, eyes_model, scale_factor, min_neighbors, min_face_size, "
          "threshold, detect_eyes, alert_count, roi)");
    }
  }
  return c;
}

std::string resolve(const std::string& file) {
  if (!file.empty() && file[0] == '/') return file;
  const char* dir = std::getenv("JIZHAN_PACKAGE_DIR");
  return dir && *dir ? std::string(dir) + "/" + file : file;
}

std::unique_ptr<cv::CascadeClassifier> load(const std::string& file) {
  auto c = std::make_unique<cv::CascadeClassifier>();
  bool ok = false;
  try {
    ok = c->load(resolve(file));
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || c->empty()) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "cannot load the cascade model " + resolve(file));
  }
  return c;
}

cv::Mat gray_of(const jz_frame& f) {
  if (f.width <= 0 || f.height <= 0 || f.stride <= 0 || f.data == nullptr) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "frame without pixels");
  }
  const int bytes_per_pixel = f.format == JZ_PIXEL_BGR24 || f.format == JZ_PIXEL_RGB24 ? 3 : 1;
  if (f.stride < f.width * bytes_per_pixel) {
    throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "frame stride " + std::to_string(f.stride) +
                                                      " is shorter than a row of " +
                                                      std::to_string(f.width) + " pixels");
  }
  auto* data = const_cast<uint8_t*>(f.data);
  cv::Mat gray;
  switch (f.format) {
    case JZ_PIXEL_BGR24:
      cv::cvtColor(cv::Mat(f.height, f.width, CV_8UC3, data, f.stride), gray, cv::COLOR_BGR2GRAY);
      break;
    case JZ_PIXEL_RGB24:
      cv::cvtColor(cv::Mat(f.height, f.width, CV_8UC3, data, f.stride), gray, cv::COLOR_RGB2GRAY);
      break;
    case JZ_PIXEL_GRAY8:
    case JZ_PIXEL_NV12:  // the Y plane is the grey image
      gray = cv::Mat(f.height, f.width, CV_8UC1, data, f.stride).clone();
      break;
    default:
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                          "unsupported pixel format " + std::to_string(f.format));
  }
  return gray;
}

Json box(const cv::Rect& r, const char* name, double confidence) {
  return {{"x", r.x},           {"y", r.y},     {"width", r.width},
          {"height", r.height}, {"name", name}, {"confidence", confidence}};
}

class FaceDetect {
 public:
  static const char* describe() {
    return R"json({"name":"face_detect","version":"1.0.0","abi_version":1,
"description":"Faces (OpenCV Haar cascade), then eyes inside each face",
"models":[{"name":"faces","file":"models/haarcascade_frontalface_default.xml"},
          {"name":"eyes","file":"models/haarcascade_eye.xml"}],
"inputs":{"pixel_formats":["BGR24","RGB24","GRAY8","NV12"],"frames_per_call":1},
"config_schema":{"type":"object","additionalProperties":false,"properties":{
  "faces_model":{"type":"string","default":"models/haarcascade_frontalface_default.xml"},
  "eyes_model":{"type":"string","default":"models/haarcascade_eye.xml"},
  "scale_factor":{"type":"number","minimum":1.01,"maximum":2,"default":1.1},
  "min_neighbors":{"type":"integer","minimum":0,"maximum":50,"default":4},
  "min_face_size":{"type":"integer","minimum":8,"maximum":4096,"default":24},
  "threshold":{"type":"number","default":0,"description":"least cascade level weight of a reported face"},
  "detect_eyes":{"type":"boolean","default":true},
  "alert_count":{"type":"integer","minimum":1,"default":1},
  "roi":{"type":"string","default":"POLYGON((0 0,1 0,1 1,0 1,0 0))","description":"WKT, [0,1] coordinates"}}},
"output_schema":{"type":"object","required":["algorithm_data","model_data"],"properties":{
  "algorithm_data":{"type":"object","required":["is_alert","target_count","target_info"],"properties":{
    "is_alert":{"type":"boolean"},"target_count":{"type":"integer"},
    "target_info":{"type":"array","items":{"type":"object","required":["x","y","width","height","name","confidence"]}}}},
  "model_data":{"type":"object","required":["faces"],"properties":{"faces":{"type":"array"}}}}}})json";
  }

  explicit FaceDetect(const std::string& config) {
    config_ = apply(Config{}, config);
    load_models(config_);
  }

  void update_config(const std::string& text) {
    Config next = apply(config_, text);
    if (next.faces_model != config_.faces_model || next.eyes_model != config_.eyes_model) {
      load_models(next);
    }
    config_ = next;
  }

  std::string process(const jz_frame* frames, size_t n, const std::string& args_json) {
    if (n != 1)
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT, "face_detect takes one frame per call");
    const Config c = apply(config_, args_json);
    if (c.faces_model != config_.faces_model || c.eyes_model != config_.eyes_model) {
      throw jizhan::Error(JZ_ALGO_INVALID_ARGUMENT,
                          "models cannot change per call; use update_config");
    }
    const jz_frame& f = frames[0];
    cv::Mat gray = gray_of(f);
    cv::equalizeHist(gray, gray);
    std::vector<cv::Rect> faces;
    std::vector<int> levels;
    std::vector<double> weights;
    faces_->detectMultiScale(gray, faces, levels, weights, c.scale_factor, c.min_neighbors, 0,
                             cv::Size(c.min_face_size, c.min_face_size), cv::Size(), true);
    Json raw = Json::array(), targets = Json::array();
    for (size_t i = 0; i < faces.size(); ++i) {
      const double conf = i < weights.size() ? weights[i] : 0.0;
      Json face = box(faces[i], "face", conf);
      Json eyes = Json::array();
      if (c.detect_eyes) {
        std::vector<cv::Rect> found;
        cv::Mat upper =
            gray(cv::Rect(faces[i].x, faces[i].y, faces[i].width, faces[i].height / 2 + 1) &
                 cv::Rect(0, 0, gray.cols, gray.rows));
        eyes_->detectMultiScale(upper, found, 1.1, 3, 0,
                                cv::Size(faces[i].width / 8 + 1, faces[i].width / 8 + 1));
        for (const auto& e : found) {
          eyes.push_back(box(e + cv::Point(faces[i].x, faces[i].y), "eye", 1.0));
        }
      }
      face["eyes"] = eyes;
      raw.push_back(face);
      const double cx = (faces[i].x + faces[i].width / 2.0) / f.width;
      const double cy = (faces[i].y + faces[i].height / 2.0) / f.height;
      if (conf >= c.threshold && c.roi.contains(cx, cy)) targets.push_back(face);
    }
    const int count = static_cast<int>(targets.size());
    return Json{
        {"algorithm_data",
         {{"is_alert", count >= c.alert_count}, {"target_count", count}, {"target_info", targets}}},
        {"model_data", {{"faces", raw}}}}
        .dump();
  }

 private:
  void load_models(const Config& c) {
    faces_ = load(c.faces_model);
    eyes_ = load(c.eyes_model);
  }
  Config config_;
  std::unique_ptr<cv::CascadeClassifier> faces_, eyes_;
};

}  // namespace

JZ_ALGO_EXPORT_CLASS(FaceDetect)
