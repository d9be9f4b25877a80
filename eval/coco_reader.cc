// Streaming readers for COCO files (nlohmann's SAX interface): records are filled as
// their fields arrive, with the same checks and messages a document-based reader gives.
#include <cmath>
#include <functional>
#include <set>

#include "eval/coco.h"

namespace jz::eval {
namespace {

// One record's fields as they arrive.
struct Fields {
  bool id = false, image = false, cat = false, score = false, area = false, box = false;
  int64_t id_v = 0, image_v = 0, cat_v = 0;
  double score_v = 0, area_v = 0;
  bool crowd = false;
  double bbox[4] = {0, 0, 0, 0};
  int bbox_n = 0;
  bool bbox_bad = false;
  std::string name;
  std::string bad;  // the first field with a wrong type
};

// Which records to collect: the members of top-level arrays named in `sections`, or
// the elements of a top-level array (sections empty, `top_array` true).
class Reader : public nlohmann::json_sax<Json> {
 public:
  using Callback = std::function<Status(const std::string& section, size_t index, Fields&)>;
  Reader(std::vector<std::string> sections, bool allow_top_array, Callback cb)
      : sections_(std::move(sections)), allow_top_array_(allow_top_array), cb_(std::move(cb)) {}

  Status status() const { return status_; }
  bool saw(const std::string& section) const { return seen_.count(section) > 0; }
  bool top_array() const { return top_array_; }

  bool null() override { return scalar_bad("null"); }
  bool boolean(bool v) override {
    if (in_record_field() && key_ == "iscrowd") {
      f_.crowd = v;
      return true;
    }
    return scalar_bad("a boolean");
  }
  bool number_integer(number_integer_t v) override {
    return number(static_cast<double>(v), true, v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    return number(static_cast<double>(v), v <= static_cast<uint64_t>(INT64_MAX),
                  static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return number(v, false, 0); }
  bool string(string_t& v) override {
    if (in_record_field() && key_ == "name") f_.name = v;
    return scalar_bad("a string");
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth_;
    if (depth_ == 1) return true;  // the top-level object
    if (depth_ == record_depth() && collecting_) f_ = Fields{};
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1 && !top_array_) {
      section_key_ = k;
    } else if (depth_ == record_depth()) {
      key_ = k;
    }
    return true;
  }
  bool end_object() override {
    if (depth_ == record_depth() && collecting_) {
      status_ = cb_(section_, index_++, f_);
      if (!status_.ok()) return false;
    }
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    if (depth_ == 1) {
      if (!allow_top_array_) {
        status_ = Status::invalid_argument("a COCO dataset must be a JSON object");
        return false;
      }
      top_array_ = true;
      collecting_ = true;
      section_ = "";
      index_ = 0;
    } else if (depth_ == 2 && !top_array_) {
      for (const auto& s : sections_) {
        if (s == section_key_) {
          collecting_ = true;
          section_ = s;
          index_ = 0;
          seen_.insert(s);
        }
      }
    } else if (collecting_ && depth_ == record_depth() + 1 && key_ == "bbox") {
      in_bbox_ = true;
      f_.box = true;
      f_.bbox_n = 0;
    }
    return true;
  }
  bool end_array() override {
    if (in_bbox_ && depth_ == record_depth() + 1) in_bbox_ = false;
    if ((depth_ == 2 && !top_array_) || (depth_ == 1 && top_array_)) collecting_ = false;
    --depth_;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    std::string why = e.what();
    if (auto at = why.find("parse error"); at != std::string::npos) why = why.substr(at);
    status_ = Status::invalid_argument("JSON at byte " + std::to_string(position) + ": " + why);
    return false;
  }

 private:
  int record_depth() const { return top_array_ ? 2 : 3; }
  bool in_record_field() const { return collecting_ && depth_ == record_depth(); }

  bool scalar_bad(const char* what) {
    if (in_bbox_) {
      f_.bbox_bad = true;
    } else if (in_record_field() && f_.bad.empty() &&
               (key_ == "id" || key_ == "image_id" || key_ == "category_id" || key_ == "score" ||
                key_ == "area")) {
      f_.bad = key_;
    } else if (in_record_field() && key_ == "bbox") {
      f_.box = true;
      f_.bbox_bad = true;
    }
    (void)what;
    return true;
  }

  bool number(double v, bool is_int, int64_t iv) {
    if (in_bbox_ && depth_ == record_depth() + 1) {
      if (f_.bbox_n < 4) f_.bbox[f_.bbox_n] = v;
      ++f_.bbox_n;
      return true;
    }
    if (!in_record_field()) return true;
    if (key_ == "score") {
      f_.score = true, f_.score_v = v;
    } else if (key_ == "area") {
      f_.area = true, f_.area_v = v;
    } else if (key_ == "iscrowd") {
      f_.crowd = v != 0;
    } else if (key_ == "bbox") {
      f_.box = true, f_.bbox_bad = true;
    } else if (key_ == "id" || key_ == "image_id" || key_ == "category_id") {
      if (!is_int) {
        if (f_.bad.empty()) f_.bad = key_;
        return true;
      }
      (key_ == "id" ? f_.id : key_ == "image_id" ? f_.image : f_.cat) = true;
      (key_ == "id" ? f_.id_v : key_ == "image_id" ? f_.image_v : f_.cat_v) = iv;
    }
    return true;
  }

  std::vector<std::string> sections_;
  bool allow_top_array_;
  Callback cb_;
  Status status_;
  std::set<std::string> seen_;
  int depth_ = 0;
  bool top_array_ = false, collecting_ = false, in_bbox_ = false;
  std::string section_key_, section_, key_;
  size_t index_ = 0;
  Fields f_;
};

Status field_error(const std::string& where, const std::string& field) {
  if (field == "id" || field == "image_id" || field == "category_id") {
    return Status::invalid_argument(where + ": field '" + field + "' must be an integer id");
  }
  return Status::invalid_argument(where + ": field '" + field + "' must be a number");
}

Result<Box> box_of(const Fields& f, const std::string& where) {
  if (!f.box || f.bbox_bad || f.bbox_n != 4) {
    return Status::invalid_argument(where + ": field 'bbox' must be [x, y, width, height]");
  }
  Box b{f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3]};
  if (b.w < 0 || b.h < 0) {
    return Status::invalid_argument(where + ": field 'bbox' has a negative width or height");
  }
  return b;
}

Status parse_with(Reader& r, std::string_view text) {
  const bool ok = Json::sax_parse(text, &r);
  if (!r.status().ok()) return r.status();
  if (!ok) return Status::invalid_argument("not valid JSON");
  return {};
}

}  // namespace

Result<CocoDataset> read_coco_dataset(std::string_view text) {
  CocoDataset d;
  Reader r({"images", "categories", "annotations"}, false,
           [&](const std::string& section, size_t i, Fields& f) -> Status {
             const std::string where = section + "[" + std::to_string(i) + "]";
             if (!f.bad.empty()) return field_error(where, f.bad);
             if (!f.id) return field_error(where, "id");
             if (section == "images") {
               d.image_ids.push_back(f.id_v);
             } else if (section == "categories") {
               d.categories.push_back({f.id_v, f.name.empty() ? std::to_string(f.id_v) : f.name});
             } else {
               if (!f.image) return field_error(where, "image_id");
               if (!f.cat) return field_error(where, "category_id");
               GroundTruth g;
               g.id = f.id_v;
               g.image_id = f.image_v;
               g.category_id = f.cat_v;
               JZ_ASSIGN_OR_RETURN(g.box, box_of(f, where));
               g.area = f.area ? f.area_v : g.box.w * g.box.h;
               g.iscrowd = f.crowd;
               d.annotations.push_back(g);
             }
             return {};
           });
  JZ_RETURN_IF_ERROR(parse_with(r, text));
  for (const char* s : {"images", "annotations", "categories"}) {
    if (!r.saw(s)) {
      return Status::invalid_argument(std::string("a COCO dataset needs an array '") + s + "'");
    }
  }
  return d;
}

Result<std::vector<Detection>> read_coco_detections(std::string_view text) {
  std::vector<Detection> out;
  Reader r({"annotations"}, true, [&](const std::string&, size_t i, Fields& f) -> Status {
    const std::string where = "detection " + std::to_string(i);
    if (!f.bad.empty()) return field_error(where, f.bad);
    if (!f.image) return field_error(where, "image_id");
    if (!f.cat) return field_error(where, "category_id");
    Detection det;
    det.image_id = f.image_v;
    det.category_id = f.cat_v;
    JZ_ASSIGN_OR_RETURN(det.box, box_of(f, where));
    if (!f.score) return field_error(where, "score");
    det.score = f.score_v;
    out.push_back(det);
    return {};
  });
  JZ_RETURN_IF_ERROR(parse_with(r, text));
  if (!r.top_array() && !r.saw("annotations")) {
    return Status::invalid_argument(
        "detections must be a COCO results list, or an object whose 'annotations' are them");
  }
  return out;
}

}  // namespace jz::eval
