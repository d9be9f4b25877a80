// Evaluation templates (docs/TEMPLATES.md): what an algorithm is tested on and how.
//
// A template names the task type, how prediction and annotation files are split into
// records and joined by an id, the variables to compare (a route path on each side and
// a comparison rule), and for detection how objects, boxes, labels and scores are found.
// Templates are YAML or JSON; every error names the file, line and column and what was
// expected. `builtin:coco-detection` is the built-in COCO template.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "routepath/route.h"

namespace jz::eval {

// How one variable's prediction is judged against its annotation.
struct Rule {
  enum Kind { kExact, kNumeric, kString, kSet, kFrames, kAlarm, kIou } kind = kExact;
  double abs = 0;  // numeric: |p - a| <= abs ...
  double rel = 0;  // ... or |p - a| <= rel * |a|
  bool ignore_case = false;
  bool collapse_space = false;                  // trim, and runs of blank space as one space
  std::map<std::string, std::string> synonyms;  // variant -> canonical (after case/space)
  int64_t frames = 0;            // frames: an event within +-frames matches; alarm: event tolerance
  double iou = 0.5;              // iou: boxes match when IoU >= iou
  Json to_json() const;          // recorded in reports
  std::string describe() const;  // "numeric |p-a| <= 3"
};

struct Variable {
  std::string name;
  routepath::RoutePath prediction, annotation;
  Rule rule;
  double weight = 1;
};

// Where records are in one side's files and how they are identified.
struct Side {
  std::optional<routepath::RoutePath> records;  // default: a file (or a JSON line) is a record
  std::optional<routepath::RoutePath> id;       // default: the file name without extension
  std::string format = "auto";                  // auto | json | jsonl | xml
  routepath::XmlOptions xml;
};

struct DetectionSpec {
  routepath::RoutePath prediction_objects, annotation_objects;  // per record
  routepath::RoutePath prediction_box, annotation_box;          // per object, @box
  std::optional<routepath::RoutePath> prediction_label, annotation_label;
  std::optional<routepath::RoutePath> prediction_score;
  std::string metric = "coco";  // coco | voc
  double voc_iou = 0.5;
  bool voc_plus_one_pixel = true;
  bool voc_inclusive_threshold = true;
};

struct Template {
  std::string name;
  std::string task;     // classification | attributes | regression | counting | detection
  std::string builtin;  // "coco-detection" for builtin:coco-detection
  Side predictions, annotations;
  std::vector<Variable> variables;
  std::optional<DetectionSpec> detection;
  Json source;  // the template as written (JSON), for reports
};

// Parses a template from text; `file` names it in errors ("t.yaml:12:5: ...").
Result<Template> parse_template(std::string_view text, const std::string& file);
// Loads a template file, or a built-in one by name ("builtin:coco-detection").
Result<Template> load_template(const std::string& path_or_builtin);

// The JSON Schema of templates (docs/TEMPLATES.md embeds it).
const Json& template_schema();

}  // namespace jz::eval
