#include "eval/template.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "routepath/iregexp.h"

namespace jz::eval {
namespace {

struct Mark {
  int line = 0, column = 0;  // from 1
};

// YAML (or JSON) as JSON, with the position of every value by JSON pointer.
class Located {
 public:
  Result<Json> load(std::string_view text, const std::string& file) {
    file_ = file;
    std::u32string ignored;
    if (!routepath::decode_utf8(text, ignored)) {
      return Status::invalid_argument(file + ": not valid UTF-8 text");
    }
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return Status::invalid_argument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (!root.IsMap()) {
      return Status::invalid_argument(file +
                                      ":1:1: a template must be a mapping (YAML) or an "
                                      "object (JSON)");
    }
    try {
      return convert(root, "");
    } catch (const YAML::Exception& e) {  // e.g. a mapping key that is not a plain value
      return Status::invalid_argument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                      std::to_string(e.mark.column + 1) +
                                      ": keys must be plain names (" + e.msg + ")");
    }
  }

  // "file:line:column: " of the key itself (for unknown keys).
  std::string at_key(const std::string& pointer) const {
    auto it = key_marks_.find(pointer);
    if (it == key_marks_.end()) return at(pointer);
    return file_ + ":" + std::to_string(it->second.line) + ":" + std::to_string(it->second.column) +
           ": ";
  }
  // "file:line:column: " for a JSON pointer (or its nearest located parent).
  std::string at(const std::string& pointer) const {
    std::string p = pointer;
    for (;;) {
      auto it = marks_.find(p);
      if (it != marks_.end()) {
        return file_ + ":" + std::to_string(it->second.line) + ":" +
               std::to_string(it->second.column) + ": ";
      }
      if (p.empty()) return file_ + ": ";
      p = p.substr(0, p.rfind('/'));
    }
  }

 private:
  Json convert(const YAML::Node& n, const std::string& pointer) {
    marks_[pointer] = {n.Mark().line + 1, n.Mark().column + 1};
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        Json o = Json::object();
        for (const auto& kv : n) {
          const std::string key = kv.first.as<std::string>();
          o[key] = convert(kv.second, pointer + "/" + key);
          key_marks_[pointer + "/" + key] = {kv.first.Mark().line + 1, kv.first.Mark().column + 1};
        }
        return o;
      }
      case YAML::NodeType::Sequence: {
        Json a = Json::array();
        for (size_t i = 0; i < n.size(); ++i) {
          a.push_back(convert(n[i], pointer + "/" + std::to_string(i)));
        }
        return a;
      }
      case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() == "!") return s;  // quoted: a string
        if (s == "true" || s == "True") return true;
        if (s == "false" || s == "False") return false;
        if (s == "null" || s == "~" || s.empty()) return nullptr;
        char* end = nullptr;
        errno = 0;
        long long i = std::strtoll(s.c_str(), &end, 10);
        if (!*end && errno == 0) return static_cast<int64_t>(i);
        double d = std::strtod(s.c_str(), &end);
        if (!*end && std::isfinite(d)) return d;
        return s;
      }
      default:
        return nullptr;
    }
  }

  std::string file_;
  std::map<std::string, Mark> marks_, key_marks_;
};

// Reads fields of one object, reporting errors at their position.
class Reader {
 public:
  Reader(const Located& loc, const Json& obj, std::string pointer, std::string path)
      : loc_(loc), obj_(obj), pointer_(std::move(pointer)), path_(std::move(path)) {}

  Status error(const std::string& field, const std::string& what) const {
    const std::string name = path_.empty() ? field : (field.empty() ? path_ : path_ + "." + field);
    return Status::invalid_argument(loc_.at(pointer_ + (field.empty() ? "" : "/" + field)) + name +
                                    ": " + what);
  }
  // Unknown keys are errors, so a misspelt key is not silently ignored.
  Status only(std::initializer_list<const char*> known) const {
    if (!obj_.is_object()) return error("", "expected a mapping");
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool ok = false;
      for (const char* k : known) ok = ok || it.key() == k;
      if (!ok) {
        std::string list;
        for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
        const std::string name = path_.empty() ? it.key() : path_ + "." + it.key();
        return Status::invalid_argument(loc_.at_key(pointer_ + "/" + it.key()) + name +
                                        ": unknown key (expected one of: " + list + ")");
      }
    }
    return {};
  }
  bool has(const char* f) const { return obj_.contains(f) && !obj_[f].is_null(); }
  const Json& get(const char* f) const { return obj_[f]; }
  Result<std::string> str(const char* f, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(f)) {
      if (fallback) return *fallback;
      return error(f, "required");
    }
    if (!obj_[f].is_string()) return error(f, "expected a string, got " + obj_[f].dump());
    return obj_[f].get<std::string>();
  }
  Result<double> num(const char* f, double fallback) const {
    if (!has(f)) return fallback;
    if (!obj_[f].is_number()) return error(f, "expected a number, got " + obj_[f].dump());
    return obj_[f].get<double>();
  }
  Result<bool> flag(const char* f, bool fallback) const {
    if (!has(f)) return fallback;
    if (!obj_[f].is_boolean()) return error(f, "expected true or false, got " + obj_[f].dump());
    return obj_[f].get<bool>();
  }
  Result<routepath::RoutePath> route(const char* f) const {
    JZ_ASSIGN_OR_RETURN(std::string text, str(f));
    auto r = routepath::RoutePath::parse(text);
    if (!r.ok()) return error(f, r.status().message());
    return *r;
  }
  Result<std::optional<routepath::RoutePath>> optional_route(const char* f) const {
    if (!has(f)) return std::optional<routepath::RoutePath>();
    JZ_ASSIGN_OR_RETURN(auto r, route(f));
    return std::optional<routepath::RoutePath>(std::move(r));
  }
  Reader child(const char* f) const {
    return Reader(loc_, obj_[f], pointer_ + "/" + f, path_.empty() ? f : path_ + "." + f);
  }
  Reader item(const char* f, size_t i) const {
    return Reader(
        loc_, obj_[f][i], pointer_ + "/" + f + "/" + std::to_string(i),
        (path_.empty() ? std::string(f) : path_ + "." + f) + "[" + std::to_string(i) + "]");
  }

 private:
  const Located& loc_;
  const Json& obj_;
  std::string pointer_, path_;
};

Result<Side> read_side(const Reader& r) {
  JZ_RETURN_IF_ERROR(r.only({"records", "id", "format", "xml_arrays"}));
  Side s;
  JZ_ASSIGN_OR_RETURN(s.records, r.optional_route("records"));
  JZ_ASSIGN_OR_RETURN(s.id, r.optional_route("id"));
  JZ_ASSIGN_OR_RETURN(s.format, r.str("format", "auto"));
  if (s.format != "auto" && s.format != "json" && s.format != "jsonl" && s.format != "xml") {
    return r.error("format", "expected auto, json, jsonl or xml, got '" + s.format + "'");
  }
  if (r.has("xml_arrays")) {
    const Json& a = r.get("xml_arrays");
    if (!a.is_array()) return r.error("xml_arrays", "expected a list of tag names");
    for (const auto& t : a) {
      if (!t.is_string()) return r.error("xml_arrays", "expected a list of tag names");
      s.xml.arrays.insert(t.get<std::string>());
    }
  }
  return s;
}

Result<Rule> read_rule(const Reader& r) {
  JZ_RETURN_IF_ERROR(
      r.only({"type", "abs", "rel", "ignore_case", "collapse_space", "synonyms", "frames", "iou"}));
  Rule rule;
  JZ_ASSIGN_OR_RETURN(std::string type, r.str("type", "exact"));
  if (type == "exact") {
    rule.kind = Rule::kExact;
  } else if (type == "numeric") {
    rule.kind = Rule::kNumeric;
  } else if (type == "string") {
    rule.kind = Rule::kString;
  } else if (type == "set") {
    rule.kind = Rule::kSet;
  } else if (type == "frames") {
    rule.kind = Rule::kFrames;
  } else if (type == "alarm") {
    rule.kind = Rule::kAlarm;
  } else if (type == "iou") {
    rule.kind = Rule::kIou;
  } else {
    return r.error(
        "type", "expected exact, numeric, string, set, frames, alarm or iou, got '" + type + "'");
  }
  JZ_ASSIGN_OR_RETURN(rule.abs, r.num("abs", 0));
  JZ_ASSIGN_OR_RETURN(rule.rel, r.num("rel", 0));
  if (rule.abs < 0) return r.error("abs", "must be zero or more");
  if (rule.rel < 0) return r.error("rel", "must be zero or more");
  JZ_ASSIGN_OR_RETURN(rule.ignore_case, r.flag("ignore_case", false));
  JZ_ASSIGN_OR_RETURN(rule.collapse_space, r.flag("collapse_space", false));
  JZ_ASSIGN_OR_RETURN(double frames, r.num("frames", 0));
  if (frames < 0 || std::floor(frames) != frames)
    return r.error("frames", "must be a whole number >= 0");
  rule.frames = static_cast<int64_t>(frames);
  JZ_ASSIGN_OR_RETURN(rule.iou, r.num("iou", 0.5));
  if (rule.iou <= 0 || rule.iou > 1) return r.error("iou", "must be in (0, 1]");
  if (r.has("iou") && rule.kind != Rule::kIou) return r.error("type", "iou needs type iou");
  if (r.has("synonyms")) {
    const Json& syn = r.get("synonyms");
    if (!syn.is_object()) {
      return r.error("synonyms", "expected a mapping from a canonical value to its variants");
    }
    for (auto it = syn.begin(); it != syn.end(); ++it) {
      if (!it->is_array()) {
        return r.error("synonyms", "'" + it.key() + "' must list its variants");
      }
      for (const auto& v : *it) {
        if (!v.is_string() && !v.is_number()) {
          return r.error("synonyms", "variants of '" + it.key() + "' must be strings");
        }
        rule.synonyms[v.is_string() ? v.get<std::string>() : v.dump()] = it.key();
      }
    }
  }
  const bool string_options = rule.ignore_case || rule.collapse_space || !rule.synonyms.empty();
  if (string_options && rule.kind != Rule::kString && rule.kind != Rule::kSet) {
    return r.error("type", "ignore_case, collapse_space and synonyms need type string or set");
  }
  if ((rule.abs > 0 || rule.rel > 0) && rule.kind != Rule::kNumeric) {
    return r.error("type", "abs and rel need type numeric");
  }
  return rule;
}

}  // namespace

Json Rule::to_json() const {
  static const char* kNames[] = {"exact", "numeric", "string", "set", "frames", "alarm", "iou"};
  Json j = {{"type", kNames[kind]}};
  if (kind == kNumeric) {
    j["abs"] = abs;
    j["rel"] = rel;
  }
  if (kind == kString || kind == kSet) {
    j["ignore_case"] = ignore_case;
    j["collapse_space"] = collapse_space;
    if (!synonyms.empty()) j["synonyms"] = synonyms;
  }
  if (kind == kFrames || kind == kAlarm) j["frames"] = frames;
  if (kind == kIou) j["iou"] = iou;
  return j;
}

std::string Rule::describe() const {
  auto num = [](double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  switch (kind) {
    case kExact:
      return "exact";
    case kNumeric: {
      std::string s = "numeric |p-a| <= ";
      if (abs > 0 && rel > 0) return s + num(abs) + " or <= " + num(rel) + "*|a|";
      if (rel > 0) return s + num(rel) + "*|a|";
      return s + num(abs);
    }
    case kString:
      return std::string("string") + (ignore_case ? ", any case" : "") +
             (collapse_space ? ", blank space collapsed" : "") +
             (synonyms.empty() ? "" : ", " + std::to_string(synonyms.size()) + " synonyms");
    case kSet:
      return "set";
    case kFrames:
      return "frames +-" + std::to_string(frames);
    case kAlarm:
      return "alarm (events +-" + std::to_string(frames) + " records)";
    case kIou:
      return "box IoU >= " + num(iou);
  }
  return "";
}

Result<Template> parse_template(std::string_view text, const std::string& file) {
  Located loc;
  JZ_ASSIGN_OR_RETURN(Json j, loc.load(text, file));
  Reader r(loc, j, "", "");
  JZ_RETURN_IF_ERROR(r.only(
      {"name", "task", "predictions", "annotations", "variables", "detection", "description"}));
  Template t;
  t.source = j;
  JZ_ASSIGN_OR_RETURN(t.name, r.str("name", file));
  JZ_ASSIGN_OR_RETURN(t.task, r.str("task"));
  static const std::set<std::string> kTasks = {"classification", "attributes", "regression",
                                               "counting",       "alarm",      "detection"};
  if (!kTasks.count(t.task)) {
    return r.error("task",
                   "expected classification, attributes, regression, counting, alarm or "
                   "detection, got '" +
                       t.task + "'");
  }
  if (r.has("predictions")) {
    JZ_ASSIGN_OR_RETURN(t.predictions, read_side(r.child("predictions")));
  }
  if (r.has("annotations")) {
    JZ_ASSIGN_OR_RETURN(t.annotations, read_side(r.child("annotations")));
  }
  if (r.has("variables")) {
    if (!r.get("variables").is_array()) return r.error("variables", "expected a list");
    std::set<std::string> names;
    for (size_t i = 0; i < r.get("variables").size(); ++i) {
      Reader v = r.item("variables", i);
      JZ_RETURN_IF_ERROR(v.only({"name", "prediction", "annotation", "path", "rule", "weight"}));
      Variable var;
      JZ_ASSIGN_OR_RETURN(var.name, v.str("name"));
      if (!names.insert(var.name).second) {
        return v.error("name", "the name '" + var.name + "' is used twice");
      }
      // `path` is shorthand for the same path on both sides.
      if (v.has("path")) {
        if (v.has("prediction") || v.has("annotation")) {
          return v.error("path", "give either path, or prediction and annotation");
        }
        JZ_ASSIGN_OR_RETURN(var.prediction, v.route("path"));
        var.annotation = var.prediction;
      } else {
        JZ_ASSIGN_OR_RETURN(var.prediction, v.route("prediction"));
        JZ_ASSIGN_OR_RETURN(var.annotation, v.route("annotation"));
      }
      if (v.has("rule")) {
        JZ_ASSIGN_OR_RETURN(var.rule, read_rule(v.child("rule")));
      }
      JZ_ASSIGN_OR_RETURN(var.weight, v.num("weight", 1));
      if (var.weight < 0) return v.error("weight", "must be zero or more");
      t.variables.push_back(std::move(var));
    }
  }
  if (t.task == "detection") {
    if (!r.has("detection")) return r.error("detection", "required for task detection");
    Reader d = r.child("detection");
    JZ_RETURN_IF_ERROR(d.only({"objects", "box", "label", "score", "metric", "voc"}));
    DetectionSpec spec{*routepath::RoutePath::parse("$"), *routepath::RoutePath::parse("$"),
                       *routepath::RoutePath::parse("$"), *routepath::RoutePath::parse("$")};
    for (const char* f : {"objects", "box"}) {
      if (!d.has(f)) return d.error(f, "required");
    }
    Reader objects = d.child("objects"), box = d.child("box");
    JZ_RETURN_IF_ERROR(objects.only({"prediction", "annotation"}));
    JZ_RETURN_IF_ERROR(box.only({"prediction", "annotation"}));
    JZ_ASSIGN_OR_RETURN(spec.prediction_objects, objects.route("prediction"));
    JZ_ASSIGN_OR_RETURN(spec.annotation_objects, objects.route("annotation"));
    JZ_ASSIGN_OR_RETURN(spec.prediction_box, box.route("prediction"));
    JZ_ASSIGN_OR_RETURN(spec.annotation_box, box.route("annotation"));
    if (d.has("label")) {
      Reader label = d.child("label");
      JZ_RETURN_IF_ERROR(label.only({"prediction", "annotation"}));
      JZ_ASSIGN_OR_RETURN(spec.prediction_label, label.optional_route("prediction"));
      JZ_ASSIGN_OR_RETURN(spec.annotation_label, label.optional_route("annotation"));
    }
    if (d.has("score")) {
      Reader score = d.child("score");
      JZ_RETURN_IF_ERROR(score.only({"prediction"}));
      JZ_ASSIGN_OR_RETURN(spec.prediction_score, score.optional_route("prediction"));
    }
    JZ_ASSIGN_OR_RETURN(spec.metric, d.str("metric", "coco"));
    if (spec.metric != "coco" && spec.metric != "voc") {
      return d.error("metric", "expected coco or voc, got '" + spec.metric + "'");
    }
    if (d.has("voc")) {
      Reader voc = d.child("voc");
      JZ_RETURN_IF_ERROR(voc.only({"iou", "plus_one_pixel", "inclusive_threshold"}));
      JZ_ASSIGN_OR_RETURN(spec.voc_iou, voc.num("iou", 0.5));
      if (spec.voc_iou <= 0 || spec.voc_iou > 1) return voc.error("iou", "must be in (0, 1]");
      JZ_ASSIGN_OR_RETURN(spec.voc_plus_one_pixel, voc.flag("plus_one_pixel", true));
      JZ_ASSIGN_OR_RETURN(spec.voc_inclusive_threshold, voc.flag("inclusive_threshold", true));
    }
    t.detection = std::move(spec);
  } else {
    if (r.has("detection")) return r.error("detection", "only for task detection");
    if (t.variables.empty()) {
      return r.error("variables", "list at least one variable to compare");
    }
  }
  return t;
}

Result<Template> load_template(const std::string& path) {
  if (path.rfind("builtin:", 0) == 0) {
    const std::string name = path.substr(8);
    if (name != "coco-detection") {
      return Status::not_found("unknown built-in template '" + path +
                               "' (built in: builtin:coco-detection)");
    }
    Template t;
    t.name = path;
    t.task = "detection";
    t.builtin = name;
    t.source = {{"builtin", path},
                {"task", "detection"},
                {"predictions",
                 "a COCO results list, or a COCO-shaped file whose annotations "
                 "are the detections"},
                {"annotations", "a COCO dataset file"}};
    return t;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read template " + path + ": " + errno_message(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_template(ss.str(), path);
}

const Json& template_schema() {
  static const Json kSchema = Json::parse(R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Jizhan evaluation template",
  "type": "object",
  "required": ["task"],
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string"},
    "description": {"type": "string"},
    "task": {"enum": ["classification", "attributes", "regression", "counting", "alarm", "detection"]},
    "predictions": {"$ref": "#/$defs/side"},
    "annotations": {"$ref": "#/$defs/side"},
    "variables": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
          "name": {"type": "string"},
          "path": {"type": "string", "description": "a route path used on both sides"},
          "prediction": {"type": "string"},
          "annotation": {"type": "string"},
          "weight": {"type": "number", "minimum": 0},
          "rule": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "type": {"enum": ["exact", "numeric", "string", "set", "frames", "alarm", "iou"]},
              "iou": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
              "abs": {"type": "number", "minimum": 0},
              "rel": {"type": "number", "minimum": 0},
              "ignore_case": {"type": "boolean"},
              "collapse_space": {"type": "boolean"},
              "synonyms": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
              "frames": {"type": "integer", "minimum": 0}
            }
          }
        }
      }
    },
    "detection": {
      "type": "object",
      "required": ["objects", "box"],
      "additionalProperties": false,
      "properties": {
        "objects": {"$ref": "#/$defs/pair"},
        "box": {"$ref": "#/$defs/pair"},
        "label": {"$ref": "#/$defs/pair"},
        "score": {"type": "object", "properties": {"prediction": {"type": "string"}}, "additionalProperties": false},
        "metric": {"enum": ["coco", "voc"]},
        "voc": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "iou": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "plus_one_pixel": {"type": "boolean"},
            "inclusive_threshold": {"type": "boolean"}
          }
        }
      }
    }
  },
  "$defs": {
    "side": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "records": {"type": "string"},
        "id": {"type": "string"},
        "format": {"enum": ["auto", "json", "jsonl", "xml"]},
        "xml_arrays": {"type": "array", "items": {"type": "string"}}
      }
    },
    "pair": {
      "type": "object",
      "additionalProperties": false,
      "properties": {"prediction": {"type": "string"}, "annotation": {"type": "string"}}
    }
  }
})");
  return kSchema;
}

}  // namespace jz::eval
