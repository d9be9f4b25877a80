#include "eval/engine.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "core/clock.h"
#include "core/csv.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/version.h"
#include "eval/coco.h"
#include "eval/html_report.h"
#include "eval/voc.h"

namespace jz::eval {
namespace fs = std::filesystem;
using routepath::Document;
using routepath::Value;

namespace {

// ---- inputs -----------------------------------------------------------------------

std::vector<fs::path> input_files(const fs::path& p) {
  std::vector<fs::path> files;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::directory_iterator(p)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && !name.empty() && name[0] != '.') files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(p);
  }
  return files;
}

// A file's SHA-256, or for a folder the SHA-256 of "name  hash" lines of its files; a file
// that cannot be read is an error naming it.
Result<Json> input_json(const std::string& path) {
  const fs::path p(path);
  std::string hash;
  if (fs::is_directory(p)) {
    std::string lines;
    for (const auto& f : input_files(p)) {
      JZ_ASSIGN_OR_RETURN(std::string h, sha256_file(f.string()));
      lines += f.filename().string() + "  " + h + "\n";
    }
    hash = sha256_hex(lines);
  } else {
    JZ_ASSIGN_OR_RETURN(hash, sha256_file(path));
  }
  return Json{{"path", path}, {"sha256", hash}};
}

Result<std::string> read_file(const fs::path& p) { return jz::read_file(p.string()); }

struct Record {
  std::string id;
  std::string source;  // "file" or "file line N"
  std::shared_ptr<const Document> doc;
};

std::string id_text(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Splits one parsed document into records and gives each its id.
Status add_records(const Side& side, const std::string& what, const std::string& source,
                   const std::string& stem, bool one_per_file, const Document& doc,
                   std::vector<Record>& out) {
  std::vector<std::shared_ptr<const Document>> docs;
  if (side.records) {
    auto vs = side.records->values(doc);
    if (!vs.ok()) return Status::invalid_argument(source + ": " + vs.status().message());
    for (auto& v : *vs) docs.push_back(std::make_shared<Document>(std::move(v)));
  } else {
    docs.push_back(std::make_shared<Document>(doc));
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    Record r;
    r.source = docs.size() > 1 ? source + " record " + std::to_string(i + 1) : source;
    if (side.id) {
      auto ids = side.id->values(*docs[i]);
      if (!ids.ok()) return Status::invalid_argument(r.source + ": " + ids.status().message());
      if (ids->empty()) {
        return Status::invalid_argument(r.source + ": no id at '" + side.id->text() + "' (" + what +
                                        ".id)");
      }
      r.id = id_text(ids->front());
    } else if (one_per_file && docs.size() == 1) {
      r.id = stem;
    } else {
      return Status::invalid_argument(source + ": these records need ids: set " + what +
                                      ".id in the template (a route path such as image_id)");
    }
    r.doc = docs[i];
    out.push_back(std::move(r));
  }
  return {};
}

Result<std::vector<Record>> load_records(const std::string& path, const Side& side,
                                         const std::string& what) {
  if (!fs::exists(path)) return Status::not_found(what + ": " + path + " does not exist");
  const bool folder = fs::is_directory(path);
  std::vector<Record> out;
  for (const auto& f : input_files(path)) {
    JZ_ASSIGN_OR_RETURN(std::string text, read_file(f));
    std::string format = side.format;
    const std::string ext = f.extension().string();
    if (format == "auto") {
      format = ext == ".xml" ? "xml" : (ext == ".jsonl" || ext == ".ndjson") ? "jsonl" : "json";
    }
    const std::string name = f.string();
    if (format == "jsonl") {
      JZ_RETURN_IF_ERROR(routepath::for_each_json_line(
          text, name, [&](const Document& d, const std::string& where) {
            return add_records(side, what, where, "", false, d, out);
          }));
      continue;
    }
    JZ_ASSIGN_OR_RETURN(
        Document d, routepath::parse_document(
                        text, format == "xml" ? routepath::Format::kXml : routepath::Format::kJson,
                        name, side.xml));
    JZ_RETURN_IF_ERROR(
        add_records(side, what, name, f.stem().string(), folder || !side.records, d, out));
  }
  std::map<std::string, std::string> seen;
  for (const auto& r : out) {
    auto [it, fresh] = seen.emplace(r.id, r.source);
    if (!fresh) {
      return Status::invalid_argument(what + ": the id '" + r.id + "' appears twice: in " +
                                      it->second + " and in " + r.source);
    }
  }
  return out;
}

// ---- judging ----------------------------------------------------------------------

std::optional<double> number_of(const Value& v) {
  if (v.is_number()) return v.get<double>();
  return std::nullopt;
}

std::string normalized(const Value& v, const Rule& r) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (r.collapse_space) {
    std::string out;
    bool blank = false;
    for (char c : s) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        blank = !out.empty();
      } else {
        if (blank) out += ' ';
        blank = false;
        out += c;
      }
    }
    s = out;
  }
  if (r.ignore_case) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (auto it = r.synonyms.find(s); it != r.synonyms.end()) return it->second;
  if (r.ignore_case) {
    // Synonym variants are matched in any case as well.
    for (const auto& [variant, canonical] : r.synonyms) {
      std::string low = variant;
      for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (low == s) return canonical;
    }
  }
  return s;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

struct Judgement {
  std::string id;
  std::string variable;
  size_t index = 0;
  Value prediction, annotation;  // null when absent
  bool has_prediction = false, has_annotation = false;
  bool correct = false;
  std::string note;  // "missing prediction", "extra prediction", conversion errors
};

struct VariableStats {
  size_t total = 0, correct = 0;
  // categorical
  std::map<std::string, std::map<std::string, int64_t>> confusion;  // annotation -> prediction
  // numeric
  double abs_sum = 0, sq_sum = 0;
  size_t numeric_pairs = 0, exact = 0;
  // frames
  int64_t tp = 0, fp = 0, fn = 0;
  bool categorical = true, numeric = false, frames = false, alarm = false;
  // alarm: per record (id, predicted, annotated), for per-frame and per-event metrics
  std::vector<std::tuple<std::string, bool, bool>> alarms;
};

void judge_variable(const Variable& var, const std::string& id, const std::vector<Value>* pvals,
                    const std::string* perror, const std::vector<Value>& avals,
                    std::vector<Judgement>& out, VariableStats& st) {
  const Rule& rule = var.rule;
  auto base = [&]() {
    Judgement j;
    j.id = id;
    j.variable = var.name;
    return j;
  };
  if (rule.kind == Rule::kSet) {
    Judgement j = base();
    j.has_annotation = true;
    j.annotation = Value(avals);
    std::set<std::string> a, p;
    for (const auto& v : avals) a.insert(normalized(v, rule));
    if (pvals) {
      j.has_prediction = true;
      j.prediction = Value(*pvals);
      for (const auto& v : *pvals) p.insert(normalized(v, rule));
      j.correct = a == p;
    } else {
      j.note = perror ? *perror : "missing prediction";
    }
    ++st.total;
    st.correct += j.correct;
    st.categorical = false;
    out.push_back(std::move(j));
    return;
  }
  if (rule.kind == Rule::kFrames) {
    st.frames = true;
    st.categorical = false;
    std::vector<double> a, p;
    for (const auto& v : avals) {
      if (auto n = number_of(v)) a.push_back(*n);
    }
    if (pvals) {
      for (const auto& v : *pvals) {
        if (auto n = number_of(v)) p.push_back(*n);
      }
    }
    std::sort(a.begin(), a.end());
    std::sort(p.begin(), p.end());
    std::vector<uint8_t> used(p.size(), 0);
    int64_t tp = 0;
    for (double f : a) {
      // The nearest unused predicted event within the tolerance.
      long best = -1;
      double best_d = 0;
      for (size_t i = 0; i < p.size(); ++i) {
        const double d = std::fabs(p[i] - f);
        if (!used[i] && d <= static_cast<double>(rule.frames) && (best < 0 || d < best_d)) {
          best = static_cast<long>(i);
          best_d = d;
        }
      }
      if (best >= 0) {
        used[best] = 1;
        ++tp;
      }
    }
    Judgement j = base();
    j.has_annotation = true;
    j.annotation = Value(avals);
    j.has_prediction = pvals != nullptr;
    if (pvals) j.prediction = Value(*pvals);
    if (!pvals) j.note = perror ? *perror : "missing prediction";
    const int64_t fn = static_cast<int64_t>(a.size()) - tp;
    const int64_t fp = static_cast<int64_t>(p.size()) - tp;
    j.correct = pvals && fn == 0 && fp == 0;
    st.tp += tp;
    st.fn += fn;
    st.fp += fp;
    ++st.total;
    st.correct += j.correct;
    out.push_back(std::move(j));
    return;
  }
  if (rule.kind == Rule::kAlarm) {
    st.alarm = true;
    st.categorical = false;
    Judgement j = base();
    auto truth = [](const std::vector<Value>& vs) {
      return !vs.empty() && vs.front().is_boolean() && vs.front().get<bool>();
    };
    j.has_annotation = true;
    j.annotation = !avals.empty() ? avals.front() : Value(false);
    const bool a = truth(avals);
    bool p = false;
    if (pvals) {
      j.has_prediction = true;
      j.prediction = !pvals->empty() ? pvals->front() : Value(false);
      p = truth(*pvals);
      j.correct = p == a;
    } else {
      j.note = perror ? *perror : "missing prediction";
      j.correct = !a;  // no output is no alarm
    }
    st.alarms.emplace_back(id, p, a);
    ++st.total;
    st.correct += j.correct;
    out.push_back(std::move(j));
    return;
  }
  const size_t n = std::max(avals.size(), pvals ? pvals->size() : size_t{0});
  if (rule.kind == Rule::kNumeric) {
    st.numeric = true;
    st.categorical = false;
  }
  if (rule.kind == Rule::kIou) st.categorical = false;
  for (size_t i = 0; i < n; ++i) {
    Judgement j = base();
    j.index = i;
    j.has_annotation = i < avals.size();
    j.has_prediction = pvals && i < pvals->size();
    if (j.has_annotation) j.annotation = avals[i];
    if (j.has_prediction) j.prediction = (*pvals)[i];
    if (!j.has_prediction) {
      j.note = !pvals && perror ? *perror : "missing prediction";
    } else if (!j.has_annotation) {
      j.note = "extra prediction";
    } else {
      switch (rule.kind) {
        case Rule::kExact:
          j.correct = values_equal(j.prediction, j.annotation);
          break;
        case Rule::kString:
          j.correct = normalized(j.prediction, rule) == normalized(j.annotation, rule);
          break;
        case Rule::kIou: {
          auto p = routepath::to_box(j.prediction, "prediction");
          auto a = routepath::to_box(j.annotation, "annotation");
          if (!p.ok() || !a.ok()) {
            j.note = "not a box (add @box to the route path)";
            break;
          }
          const VocBox pb{"", (*p)["x1"], (*p)["y1"], (*p)["x2"], (*p)["y2"], 0};
          const VocBox ab{"", (*a)["x1"], (*a)["y1"], (*a)["x2"], (*a)["y2"], 0};
          const double v = voc_iou(pb, ab, false);
          j.correct = v >= rule.iou;
          j.note = "IoU " + std::to_string(v);
          break;
        }
        case Rule::kNumeric: {
          auto p = number_of(j.prediction), a = number_of(j.annotation);
          if (!p || !a) {
            j.note = "not a number (add @num to the route path)";
            break;
          }
          const double d = std::fabs(*p - *a);
          j.correct = d <= rule.abs || d <= rule.rel * std::fabs(*a);
          st.abs_sum += d;
          st.sq_sum += d * d;
          ++st.numeric_pairs;
          st.exact += *p == *a;
          break;
        }
        default:
          break;
      }
    }
    if (st.categorical && j.has_annotation) {
      const std::string a =
          rule.kind == Rule::kString ? normalized(j.annotation, rule) : id_text(j.annotation);
      const std::string p = !j.has_prediction            ? "(missing)"
                            : rule.kind == Rule::kString ? normalized(j.prediction, rule)
                                                         : id_text(j.prediction);
      ++st.confusion[a][p];
    }
    ++st.total;
    st.correct += j.correct;
    out.push_back(std::move(j));
  }
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

// Alarms per frame (record) and per event (a run of consecutive alarm records, in id
// order: numeric when every id is a number). An annotated event is detected when a
// predicted alarm falls within it, widened by `slack` records on each side; a predicted
// event is a false alarm when it meets no widened annotated event.
Json alarm_metrics(std::vector<std::tuple<std::string, bool, bool>> rows, int64_t slack) {
  bool numeric = true;
  for (const auto& r : rows) {
    const std::string& id = std::get<0>(r);
    char* end = nullptr;
    std::strtod(id.c_str(), &end);
    numeric = numeric && !id.empty() && !*end;
  }
  std::stable_sort(rows.begin(), rows.end(), [numeric](const auto& x, const auto& y) {
    return numeric ? std::strtod(std::get<0>(x).c_str(), nullptr) <
                         std::strtod(std::get<0>(y).c_str(), nullptr)
                   : std::get<0>(x) < std::get<0>(y);
  });
  int64_t tp = 0, fp = 0, fn = 0;
  for (const auto& [id, p, a] : rows) {
    tp += p && a, fp += p && !a, fn += !p && a;
  }
  auto runs = [&](bool predicted) {
    std::vector<std::pair<int64_t, int64_t>> out;  // [first, last] positions
    for (int64_t i = 0; i < static_cast<int64_t>(rows.size()); ++i) {
      const bool on = predicted ? std::get<1>(rows[i]) : std::get<2>(rows[i]);
      if (!on) continue;
      if (!out.empty() && out.back().second == i - 1) {
        out.back().second = i;
      } else {
        out.push_back({i, i});
      }
    }
    return out;
  };
  const auto ann = runs(false), pred = runs(true);
  auto meets = [slack](const std::pair<int64_t, int64_t>& x, const std::pair<int64_t, int64_t>& y) {
    return x.first <= y.second + slack && y.first <= x.second + slack;
  };
  int64_t detected = 0, true_events = 0;
  for (const auto& e : ann) {
    bool hit = false;
    for (const auto& p : pred) hit = hit || meets(e, p);
    detected += hit;
  }
  for (const auto& p : pred) {
    bool hit = false;
    for (const auto& e : ann) hit = hit || meets(e, p);
    true_events += hit;
  }
  const double fp_ = ratio(tp, tp + fp), fr = ratio(tp, tp + fn);
  const double ep = ratio(true_events, static_cast<double>(pred.size()));
  const double er = ratio(detected, static_cast<double>(ann.size()));
  return {{"per_frame",
           {{"true_positives", tp},
            {"false_positives", fp},
            {"false_negatives", fn},
            {"precision", fp_},
            {"recall", fr},
            {"f1", ratio(2 * fp_ * fr, fp_ + fr)}}},
          {"per_event",
           {{"annotated_events", ann.size()},
            {"predicted_events", pred.size()},
            {"detected_events", detected},
            {"false_alarm_events", pred.size() - true_events},
            {"precision", ep},
            {"recall", er},
            {"f1", ratio(2 * ep * er, ep + er)}}}};
}

Json variable_metrics(const Variable& var, const VariableStats& st, const std::string& task) {
  Json m = {{"rule", var.rule.to_json()},
            {"rule_text", var.rule.describe()},
            {"weight", var.weight},
            {"judgements", st.total},
            {"correct", st.correct},
            {"accuracy", ratio(static_cast<double>(st.correct), static_cast<double>(st.total))}};
  if (st.numeric) {
    m["hit_rate"] = m["accuracy"];
    m["mae"] = st.numeric_pairs ? Json(st.abs_sum / st.numeric_pairs) : Json(nullptr);
    m["rmse"] = st.numeric_pairs ? Json(std::sqrt(st.sq_sum / st.numeric_pairs)) : Json(nullptr);
    if (task == "counting") {
      m["exact_rate"] = ratio(static_cast<double>(st.exact), static_cast<double>(st.total));
    }
  }
  if (st.frames) {
    const double p = ratio(st.tp, st.tp + st.fp), r = ratio(st.tp, st.tp + st.fn);
    m["events"] = {{"true_positives", st.tp},
                   {"false_positives", st.fp},
                   {"false_negatives", st.fn},
                   {"precision", p},
                   {"recall", r},
                   {"f1", ratio(2 * p * r, p + r)}};
  }
  if (st.alarm) m["alarms"] = alarm_metrics(st.alarms, var.rule.frames);
  if (st.categorical && !st.confusion.empty()) {
    std::set<std::string> classes;
    for (const auto& [a, row] : st.confusion) {
      classes.insert(a);
      for (const auto& [p, n] : row) {
        if (p != "(missing)") classes.insert(p);
      }
    }
    Json per_class = Json::object();
    double sp = 0, sr = 0, sf = 0;
    int64_t TP = 0, FP = 0, FN = 0;
    for (const auto& c : classes) {
      int64_t tp = 0, fp = 0, fn = 0, support = 0;
      for (const auto& [a, row] : st.confusion) {
        for (const auto& [p, n] : row) {
          if (a == c && p == c) tp += n;
          if (a != c && p == c) fp += n;
          if (a == c && p != c) fn += n;
          if (a == c) support += n;
        }
      }
      const double prec = ratio(tp, tp + fp), rec = ratio(tp, tp + fn);
      const double f1 = ratio(2 * prec * rec, prec + rec);
      per_class[c] = {{"precision", prec}, {"recall", rec}, {"f1", f1}, {"support", support}};
      sp += prec, sr += rec, sf += f1;
      TP += tp, FP += fp, FN += fn;
    }
    const double k = static_cast<double>(classes.size());
    const double mp = ratio(TP, TP + FP), mr = ratio(TP, TP + FN);
    m["per_class"] = per_class;
    m["macro"] = {{"precision", sp / k}, {"recall", sr / k}, {"f1", sf / k}};
    m["micro"] = {{"precision", mp}, {"recall", mr}, {"f1", ratio(2 * mp * mr, mp + mr)}};
    Json labels = Json::array();
    for (const auto& c : classes) labels.push_back(c);
    bool missing = false;
    for (const auto& [a, row] : st.confusion) missing = missing || row.count("(missing)");
    Json columns = labels;
    if (missing) columns.push_back("(missing)");
    Json matrix = Json::array();
    for (const auto& a : classes) {
      Json row = Json::array();
      for (const auto& p : columns) {
        auto r = st.confusion.find(a);
        int64_t n = 0;
        if (r != st.confusion.end()) {
          auto c = r->second.find(p.get<std::string>());
          if (c != r->second.end()) n = c->second;
        }
        row.push_back(n);
      }
      matrix.push_back(row);
    }
    m["confusion_matrix"] = {
        {"rows_are", "annotation"}, {"rows", labels}, {"columns", columns}, {"counts", matrix}};
  }
  return m;
}

// ---- detection --------------------------------------------------------------------

Result<Json> detection_metrics(const Template& t, const std::vector<Record>& preds,
                               const std::vector<Record>& anns, Json& samples) {
  const DetectionSpec& d = *t.detection;
  CocoDataset gt;
  std::vector<Detection> dets;
  std::map<std::string, int64_t> label_ids;
  auto label_id = [&](const std::string& l) {
    auto [it, fresh] = label_ids.emplace(l, static_cast<int64_t>(label_ids.size() + 1));
    return it->second;
  };
  std::map<std::string, int64_t> image_of;
  std::vector<VocBox> voc_gt, voc_dt;
  std::map<std::string, std::vector<size_t>> voc_gt_by_label, voc_dt_by_label;
  auto objects_of = [](const routepath::RoutePath& path,
                       const Record& r) -> Result<std::vector<Value>> {
    auto vs = path.values(*r.doc);
    if (!vs.ok()) return Status::invalid_argument(r.source + ": " + vs.status().message());
    return *vs;
  };
  auto first = [](const std::optional<routepath::RoutePath>& path, const Value& obj,
                  const std::string& where) -> Result<std::optional<Value>> {
    if (!path) return std::optional<Value>();
    auto vs = path->values(Document(obj));
    if (!vs.ok()) return Status::invalid_argument(where + ": " + vs.status().message());
    if (vs->empty()) return std::optional<Value>();
    return std::optional<Value>(vs->front());
  };
  auto box_of = [](const routepath::RoutePath& path, const Value& obj,
                   const std::string& where) -> Result<Value> {
    auto vs = path.values(Document(obj));
    if (!vs.ok()) return Status::invalid_argument(where + ": " + vs.status().message());
    if (vs->empty()) return Status::invalid_argument(where + ": no box at '" + path.text() + "'");
    return routepath::to_box(vs->front(), where);
  };
  int64_t next_ann = 1;
  for (const auto& r : anns) {
    const int64_t image = static_cast<int64_t>(image_of.size() + 1);
    image_of[r.id] = image;
    gt.image_ids.push_back(image);
    JZ_ASSIGN_OR_RETURN(auto objs, objects_of(d.annotation_objects, r));
    for (size_t i = 0; i < objs.size(); ++i) {
      const std::string where = r.source + " object " + std::to_string(i + 1);
      JZ_ASSIGN_OR_RETURN(Value box, box_of(d.annotation_box, objs[i], where));
      JZ_ASSIGN_OR_RETURN(auto label, first(d.annotation_label, objs[i], where));
      const std::string l = label ? id_text(*label) : "object";
      GroundTruth g;
      g.id = next_ann++;
      g.image_id = image;
      g.category_id = label_id(l);
      g.box = {box["x1"], box["y1"], box["x2"].get<double>() - box["x1"].get<double>(),
               box["y2"].get<double>() - box["y1"].get<double>()};
      g.area = g.box.w * g.box.h;
      gt.annotations.push_back(g);
      voc_gt_by_label[l].push_back(voc_gt.size());
      voc_gt.push_back({r.id, box["x1"], box["y1"], box["x2"], box["y2"], 0});
    }
  }
  int64_t unexpected = 0;
  for (const auto& r : preds) {
    auto img = image_of.find(r.id);
    if (img == image_of.end()) {
      ++unexpected;
      continue;
    }
    JZ_ASSIGN_OR_RETURN(auto objs, objects_of(d.prediction_objects, r));
    for (size_t i = 0; i < objs.size(); ++i) {
      const std::string where = r.source + " object " + std::to_string(i + 1);
      JZ_ASSIGN_OR_RETURN(Value box, box_of(d.prediction_box, objs[i], where));
      JZ_ASSIGN_OR_RETURN(auto label, first(d.prediction_label, objs[i], where));
      JZ_ASSIGN_OR_RETURN(auto score, first(d.prediction_score, objs[i], where));
      Detection det;
      det.image_id = img->second;
      const std::string l = label ? id_text(*label) : "object";
      det.category_id = label_id(l);
      det.box = {box["x1"], box["y1"], box["x2"].get<double>() - box["x1"].get<double>(),
                 box["y2"].get<double>() - box["y1"].get<double>()};
      if (score) {
        if (!score->is_number()) {
          return Status::invalid_argument(where + ": the score must be a number (add @num)");
        }
        det.score = score->get<double>();
      } else {
        det.score = 1.0;
      }
      dets.push_back(det);
      voc_dt_by_label[l].push_back(voc_dt.size());
      voc_dt.push_back({r.id, box["x1"], box["y1"], box["x2"], box["y2"], det.score});
    }
  }
  for (const auto& [name, id] : label_ids) gt.categories.push_back({id, name});
  samples["unexpected_predictions"] = unexpected;
  samples["ground_truth_objects"] = gt.annotations.size();
  samples["predicted_objects"] = dets.size();
  if (d.metric == "voc") {
    VocOptions o;
    o.iou_threshold = d.voc_iou;
    o.plus_one_pixel = d.voc_plus_one_pixel;
    o.inclusive_threshold = d.voc_inclusive_threshold;
    Json per_class = Json::object();
    double sum11 = 0, sum_all = 0;
    int classes = 0;
    for (const auto& [label, gi] : voc_gt_by_label) {
      std::vector<VocBox> g, p;
      for (size_t i : gi) g.push_back(voc_gt[i]);
      for (size_t i : voc_dt_by_label[label]) p.push_back(voc_dt[i]);
      VocResult r = evaluate_voc(g, p, o);
      per_class[label] = {{"ap_11_point", r.ap_11_point},
                          {"ap_all_points", r.ap_all_points},
                          {"ground_truth", r.ground_truth},
                          {"true_positives", r.true_positives},
                          {"false_positives", r.false_positives}};
      sum11 += r.ap_11_point;
      sum_all += r.ap_all_points;
      ++classes;
    }
    return Json{{"mAP_11_point", classes ? sum11 / classes : 0.0},
                {"mAP_all_points", classes ? sum_all / classes : 0.0},
                {"iou_threshold", d.voc_iou},
                {"per_class", per_class}};
  }
  JZ_ASSIGN_OR_RETURN(CocoResult r, evaluate_coco(gt, dets));
  return r.to_json();
}

Status write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Status::failed_precondition("cannot write " + p.string());
  return {};
}

}  // namespace

Result<EvalOutput> run_evaluation(const Template& t, const std::string& predictions,
                                  const std::string& annotations, const std::string& out_dir) {
  if (sodium_init() < 0) return Status::internal("libsodium failed to start");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::failed_precondition("cannot create " + out_dir + ": " + ec.message());
  for (const auto& [what, path] :
       {std::pair{"predictions", predictions}, std::pair{"annotations", annotations}}) {
    if (!fs::exists(path)) {
      return Status::not_found(std::string(what) + ": " + path + " does not exist");
    }
  }

  JZ_ASSIGN_OR_RETURN(Json predictions_input, input_json(predictions));
  JZ_ASSIGN_OR_RETURN(Json annotations_input, input_json(annotations));
  Json report = {
      {"jizhan", {{"version", std::string(version())}, {"revision", std::string(git_revision())}}},
      {"created_at", format_rfc3339(Clock::system().now())},
      {"template", t.source},
      {"template_name", t.name},
      {"task", t.task},
      {"inputs", {{"predictions", predictions_input}, {"annotations", annotations_input}}}};
  std::string csv = "id,variable,index,prediction,annotation,correct,rule,note\n";
  Json samples = Json::object();

  if (t.builtin == "coco-detection") {
    JZ_ASSIGN_OR_RETURN(std::string gtext, read_file(annotations));
    JZ_ASSIGN_OR_RETURN(std::string dtext, read_file(predictions));
    auto gt = read_coco_dataset(gtext);
    if (!gt.ok()) return Status::invalid_argument(annotations + ": " + gt.status().message());
    auto dets = read_coco_detections(dtext);
    if (!dets.ok()) return Status::invalid_argument(predictions + ": " + dets.status().message());
    auto r = evaluate_coco(*gt, *dets);
    if (!r.ok()) return Status::invalid_argument(predictions + ": " + r.status().message());
    report["metrics"] = r->to_json();
    samples = {{"images", gt->image_ids.size()},
               {"ground_truth_objects", gt->annotations.size()},
               {"predicted_objects", dets->size()}};
    report["samples"] = samples;
  } else {
    JZ_ASSIGN_OR_RETURN(auto anns, load_records(annotations, t.annotations, "annotations"));
    JZ_ASSIGN_OR_RETURN(auto preds, load_records(predictions, t.predictions, "predictions"));
    samples = {{"annotated", anns.size()}, {"predicted", preds.size()}};
    if (t.task == "detection") {
      JZ_ASSIGN_OR_RETURN(report["metrics"], detection_metrics(t, preds, anns, samples));
      report["samples"] = samples;
    } else {
      std::map<std::string, const Record*> pred_by_id;
      for (const auto& r : preds) pred_by_id[r.id] = &r;
      std::set<std::string> annotated;
      std::vector<Judgement> judgements;
      std::vector<VariableStats> stats(t.variables.size());
      Json missing = Json::array();  // the first 100 ids
      size_t missing_count = 0;
      for (const auto& a : anns) {
        annotated.insert(a.id);
        auto p = pred_by_id.find(a.id);
        if (p == pred_by_id.end()) {
          ++missing_count;
          if (missing.size() < 100) missing.push_back(a.id);
        }
        for (size_t v = 0; v < t.variables.size(); ++v) {
          const Variable& var = t.variables[v];
          auto avals = var.annotation.values(*a.doc);
          if (!avals.ok()) {
            return Status::invalid_argument(a.source + ": annotation of '" + var.name +
                                            "': " + avals.status().message());
          }
          std::optional<std::vector<Value>> pvals;
          std::optional<std::string> perror;
          if (p != pred_by_id.end()) {
            auto pv = var.prediction.values(*p->second->doc);
            if (pv.ok()) {
              pvals = std::move(*pv);
            } else {
              perror = pv.status().message();  // the algorithm's fault: judged wrong
            }
          }
          judge_variable(var, a.id, pvals ? &*pvals : nullptr, perror ? &*perror : nullptr, *avals,
                         judgements, stats[v]);
        }
      }
      int64_t unexpected = 0;
      for (const auto& r : preds) unexpected += !annotated.count(r.id);
      samples["joined"] = anns.size() - missing_count;
      samples["missing_predictions"] = missing_count;
      samples["missing_prediction_ids"] = missing;
      samples["unexpected_predictions"] = unexpected;

      Json variables = Json::object();
      double weighted = 0, weights = 0;
      for (size_t v = 0; v < t.variables.size(); ++v) {
        Json m = variable_metrics(t.variables[v], stats[v], t.task);
        weighted += m["accuracy"].get<double>() * t.variables[v].weight;
        weights += t.variables[v].weight;
        variables[t.variables[v].name] = m;
      }
      // Per sample: the weighted share of correct judgements; the worst come first.
      std::map<std::string, std::pair<double, double>> per_sample;  // id -> (score, weight)
      std::map<std::string, Json> failures;
      std::map<std::string, double> weight_of;
      std::map<std::string, std::string> rule_text;
      for (const auto& var : t.variables) {
        weight_of[var.name] = var.weight;
        rule_text[var.name] = var.rule.describe();
      }
      for (const auto& j : judgements) {
        auto& [score, weight] = per_sample[j.id];
        score += j.correct * weight_of[j.variable];
        weight += weight_of[j.variable];
        if (!j.correct) {
          Json f = {{"variable", j.variable}, {"index", j.index}};
          if (j.has_prediction) f["prediction"] = j.prediction;
          if (j.has_annotation) f["annotation"] = j.annotation;
          if (!j.note.empty()) f["note"] = j.note;
          failures[j.id].push_back(f);
        }
        csv += csv_field(j.id) + "," + csv_field(j.variable) + "," + std::to_string(j.index) + "," +
               csv_field(j.has_prediction ? j.prediction.dump() : "") + "," +
               csv_field(j.has_annotation ? j.annotation.dump() : "") + "," +
               (j.correct ? "true" : "false") + "," + csv_field(rule_text[j.variable]) + "," +
               csv_field(j.note) + "\n";
      }
      std::vector<std::pair<double, std::string>> ranked;
      size_t all_correct = 0;
      for (const auto& [id, sw] : per_sample) {
        const double s = ratio(sw.first, sw.second);
        ranked.push_back({s, id});
        all_correct += s == 1.0;
      }
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      Json worst = Json::array();
      for (const auto& [s, id] : ranked) {
        if (s >= 1.0 || worst.size() >= 20) break;
        worst.push_back({{"id", id}, {"score", s}, {"failures", failures[id]}});
      }
      report["samples"] = samples;
      report["metrics"] = {{"accuracy", ratio(weighted, weights)},
                           {"samples_all_correct", ratio(static_cast<double>(all_correct),
                                                         static_cast<double>(per_sample.size()))},
                           {"variables", variables}};
      report["worst_samples"] = worst;
    }
  }

  EvalOutput out;
  out.report = report;
  out.report_path = (fs::path(out_dir) / "report.json").string();
  out.samples_csv_path = (fs::path(out_dir) / "samples.csv").string();
  out.html_path = (fs::path(out_dir) / "report.html").string();
  JZ_RETURN_IF_ERROR(write_text(out.report_path, report.dump(2) + "\n"));
  JZ_RETURN_IF_ERROR(write_text(out.html_path, html_report(report)));
  JZ_RETURN_IF_ERROR(write_text(out.samples_csv_path, csv));
  return out;
}

}  // namespace jz::eval
