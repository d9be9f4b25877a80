#include "data/formats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <pugixml.hpp>
#include <sstream>

#include "core/json.h"
#include "core/text.h"

namespace jz::data {
namespace {

constexpr int kMaxSide = 100000;

Status bad(const std::string& what, const std::string& field, const std::string& why) {
  return Status::invalid_argument(what + ": " + field + ": " + why);
}

// Shortest text of a coordinate: whole numbers without a point, else up to 6 decimals;
// beyond any image (and any integer), in exponent form.
std::string num(double v) {
  char buf[64];
  if (!(std::abs(v) < 1e15)) {
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }
  if (std::abs(v - std::round(v)) < 1e-9) return std::to_string(std::llround(v));
  std::snprintf(buf, sizeof buf, "%.6f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool has_controls(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

Status check_file(const std::string& what, const std::string& field, const std::string& file) {
  if (file.empty()) return bad(what, field, "no file name");
  if (has_controls(file)) {
    return bad(what, field, "a file name must not hold control characters (XML cannot)");
  }
  if (file.size() > 1024 || file[0] == '/' || file.find('\0') != std::string::npos ||
      file == ".." || file.rfind("../", 0) == 0 || file.find("/../") != std::string::npos ||
      (file.size() >= 3 && file.compare(file.size() - 3, 3, "/..") == 0)) {
    return bad(what, field, "'" + file.substr(0, 80) + "' must be a path inside the dataset");
  }
  return {};
}

Status check_size(const std::string& what, const std::string& field, double w, double h) {
  if (!(w >= 1 && h >= 1 && w <= kMaxSide && h <= kMaxSide)) {
    return bad(what, field,
               "the image size " + num(w) + "x" + num(h) + " is not 1 to " +
                   std::to_string(kMaxSide) + " pixels a side");
  }
  return {};
}

Status check_category(const std::string& what, const std::string& field, const std::string& c) {
  if (c.empty() || c.size() > 200 || has_controls(c)) {
    return bad(what, field,
               "a category is a name of 1 to 200 characters without control characters");
  }
  return {};
}

// A box inside its image (a pixel of slack at the edges, as real datasets have).
Status check_box(const std::string& what, const std::string& field, const Box& b, int w, int h) {
  for (double v : {b.x, b.y, b.width, b.height}) {
    if (!std::isfinite(v)) return bad(what, field, "coordinates must be finite numbers");
  }
  // (Smaller boxes are no boxes, and no format could write them back: YOLO's 8 decimals
  // hold a hundredth of a pixel of the largest image.)
  if (b.width < 0.01 || b.height < 0.01) {
    return bad(what, field,
               "the box is " + num(b.width) + " x " + num(b.height) +
                   " pixels: it must be at least 0.01 pixel in both");
  }
  if (b.x < -1 || b.y < -1 || b.x + b.width > w + 1 || b.y + b.height > h + 1) {
    return bad(what, field,
               "the box (" + num(b.x) + ", " + num(b.y) + ", " + num(b.width) + " x " +
                   num(b.height) + ") lies outside its " + std::to_string(w) + "x" +
                   std::to_string(h) + " image");
  }
  return {};
}

// A polygon of at least 3 points inside its image (x1, y1, x2, y2, ...); `b` gets its
// bounding box.
Status read_polygon(const Json& points, const std::string& what, const std::string& field, Box& b,
                    int w, int h) {
  if (!points.is_array() || points.size() < 6 || points.size() % 2 != 0 || points.size() > 20000) {
    return bad(what, field, "must be a list of 3 to 10000 points as x1, y1, x2, y2, ...");
  }
  std::vector<double> p;
  for (const Json& v : points) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return bad(what, field, "coordinates must be finite numbers");
    }
    p.push_back(v.get<double>());
  }
  double x0 = p[0], y0 = p[1], x1 = p[0], y1 = p[1];
  for (size_t i = 0; i < p.size(); i += 2) {
    x0 = std::min(x0, p[i]);
    x1 = std::max(x1, p[i]);
    y0 = std::min(y0, p[i + 1]);
    y1 = std::max(y1, p[i + 1]);
  }
  Box bounds = b;
  bounds.x = x0;
  bounds.y = y0;
  bounds.width = x1 - x0;
  bounds.height = y1 - y0;
  JZ_RETURN_IF_ERROR(check_box(what, field, bounds, w, h));
  b.polygon = std::move(p);
  return {};
}

// {NAME: VALUE} of strings.
Status read_attributes(const Json& o, const std::string& what, const std::string& field, Box& b) {
  if (!o.is_object() || o.size() > 100) {
    return bad(what, field, "must be an object of at most 100 names and string values");
  }
  for (const auto& [k, v] : o.items()) {
    if (k.empty() || k.size() > 200 || !v.is_string() || v.get<std::string>().size() > 1000) {
      return bad(what, field + "." + k,
                 "must be a string of at most 1000 characters under a name of 1 to 200");
    }
    b.attributes[k] = v.get<std::string>();
  }
  return {};
}

Result<int64_t> int_member(const Json& o, const char* name, const std::string& what,
                           const std::string& where) {
  if (!o.contains(name)) return bad(what, where + "." + name, "missing");
  const Json& v = o[name];
  if (!v.is_number_integer()) {
    if (v.is_number_float() && std::abs(v.get<double>() - std::round(v.get<double>())) < 1e-9 &&
        std::abs(v.get<double>()) < 1e15) {
      return static_cast<int64_t>(std::llround(v.get<double>()));
    }
    return bad(what, where + "." + name, "must be a whole number");
  }
  return v.get<int64_t>();
}

Result<std::string> string_member(const Json& o, const char* name, const std::string& what,
                                  const std::string& where) {
  if (!o.contains(name) || !o[name].is_string()) {
    return bad(what, where + "." + name, o.contains(name) ? "must be a string" : "missing");
  }
  return o[name].get<std::string>();
}

Result<double> number_member(const Json& o, const char* name, const std::string& what,
                             const std::string& where) {
  if (!o.contains(name) || !o[name].is_number()) {
    return bad(what, where + "." + name, o.contains(name) ? "must be a number" : "missing");
  }
  return o[name].get<double>();
}

Result<double> parse_number(const std::string& text, const std::string& what,
                            const std::string& field) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  size_t start = 0;
  while (start < t.size() && std::isspace(static_cast<unsigned char>(t[start]))) ++start;
  t = t.substr(start);
  if (t.empty()) return bad(what, field, "missing");
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) {
    return bad(what, field, "'" + t.substr(0, 40) + "' is not a number");
  }
  return v;
}

}  // namespace

// ---- COCO ----------------------------------------------------------------------------

namespace {
// The shoelace formula: COCO's area of a polygon.
double polygon_area(const std::vector<double>& p) {
  double twice = 0;
  for (size_t i = 0; i + 1 < p.size(); i += 2) {
    const size_t j = (i + 2) % p.size();
    twice += p[i] * p[j + 1] - p[j] * p[i + 1];
  }
  return std::abs(twice) / 2;
}
}  // namespace

Result<Annotations> read_coco(std::string_view text, const std::string& what) {
  auto parsed = json::parse(text, what);
  if (!parsed.ok()) return Status::invalid_argument(parsed.status().message());
  const Json& j = *parsed;
  if (!j.is_object()) return Status::invalid_argument(what + ": COCO is a JSON object");
  for (const char* f : {"images", "annotations", "categories"}) {
    if (j.contains(f) && !j[f].is_array()) return bad(what, f, "must be a list");
  }
  Annotations out;
  std::map<int64_t, size_t> category_of, image_of;
  // Categories in the order of their ids.
  std::map<int64_t, std::string> by_id;
  const Json none = Json::array();
  const Json& cats = j.contains("categories") ? j["categories"] : none;
  for (size_t i = 0; i < cats.size(); ++i) {
    const std::string where = "categories[" + std::to_string(i) + "]";
    if (!cats[i].is_object()) return bad(what, where, "must be an object");
    JZ_ASSIGN_OR_RETURN(int64_t id, int_member(cats[i], "id", what, where));
    JZ_ASSIGN_OR_RETURN(std::string name, string_member(cats[i], "name", what, where));
    JZ_RETURN_IF_ERROR(check_category(what, where + ".name", name));
    if (!by_id.emplace(id, name).second) {
      return bad(what, where + ".id", "category id " + std::to_string(id) + " is used twice");
    }
  }
  for (const auto& [id, name] : by_id) {
    category_of[id] = out.categories.size();
    out.categories.push_back(name);
  }
  const Json& imgs = j.contains("images") ? j["images"] : none;
  for (size_t i = 0; i < imgs.size(); ++i) {
    const std::string where = "images[" + std::to_string(i) + "]";
    if (!imgs[i].is_object()) return bad(what, where, "must be an object");
    JZ_ASSIGN_OR_RETURN(int64_t id, int_member(imgs[i], "id", what, where));
    AnnotatedImage img;
    JZ_ASSIGN_OR_RETURN(img.file, string_member(imgs[i], "file_name", what, where));
    JZ_RETURN_IF_ERROR(check_file(what, where + ".file_name", img.file));
    JZ_ASSIGN_OR_RETURN(int64_t w, int_member(imgs[i], "width", what, where));
    JZ_ASSIGN_OR_RETURN(int64_t h, int_member(imgs[i], "height", what, where));
    JZ_RETURN_IF_ERROR(check_size(what, where, static_cast<double>(w), static_cast<double>(h)));
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    if (!image_of.emplace(id, out.images.size()).second) {
      return bad(what, where + ".id", "image id " + std::to_string(id) + " is used twice");
    }
    out.images.push_back(std::move(img));
  }
  const Json& anns = j.contains("annotations") ? j["annotations"] : none;
  for (size_t i = 0; i < anns.size(); ++i) {
    const std::string where = "annotations[" + std::to_string(i) + "]";
    if (!anns[i].is_object()) return bad(what, where, "must be an object");
    JZ_ASSIGN_OR_RETURN(int64_t image_id, int_member(anns[i], "image_id", what, where));
    JZ_ASSIGN_OR_RETURN(int64_t category_id, int_member(anns[i], "category_id", what, where));
    auto im = image_of.find(image_id);
    if (im == image_of.end()) {
      return bad(what, where + ".image_id", "no image has id " + std::to_string(image_id));
    }
    auto ca = category_of.find(category_id);
    if (ca == category_of.end()) {
      return bad(what, where + ".category_id", "no category has id " + std::to_string(category_id));
    }
    const Json& bbox = anns[i].value("bbox", Json());
    if (!bbox.is_array() || bbox.size() != 4 ||
        !std::all_of(bbox.begin(), bbox.end(), [](const Json& v) { return v.is_number(); })) {
      return bad(what, where + ".bbox", "must be 4 numbers [x, y, width, height]");
    }
    AnnotatedImage& img = out.images[im->second];
    Box b{out.categories[ca->second], bbox[0].get<double>(), bbox[1].get<double>(),
          bbox[2].get<double>(), bbox[3].get<double>()};
    JZ_RETURN_IF_ERROR(check_box(what, where + ".bbox", b, img.width, img.height));
    // One polygon is kept (a shape drawn as several, or as RLE, is its box only).
    const Json& seg = anns[i].value("segmentation", Json());
    if (seg.is_array() && seg.size() == 1) {
      Box shaped = b;
      JZ_RETURN_IF_ERROR(
          read_polygon(seg[0], what, where + ".segmentation[0]", shaped, img.width, img.height));
      b.polygon = std::move(shaped.polygon);
    }
    if (anns[i].contains("attributes")) {
      JZ_RETURN_IF_ERROR(read_attributes(anns[i]["attributes"], what, where + ".attributes", b));
    }
    img.boxes.push_back(std::move(b));
  }
  return out;
}

std::string write_coco(const Annotations& a) {
  nlohmann::ordered_json out = {
      {"images", Json::array()}, {"annotations", Json::array()}, {"categories", Json::array()}};
  std::map<std::string, size_t> id_of;
  for (size_t c = 0; c < a.categories.size(); ++c) {
    id_of.emplace(a.categories[c], c + 1);
    out["categories"].push_back({{"id", c + 1}, {"name", a.categories[c]}, {"supercategory", ""}});
  }
  size_t next = 1;
  for (size_t i = 0; i < a.images.size(); ++i) {
    const auto& img = a.images[i];
    out["images"].push_back(
        {{"id", i + 1}, {"file_name", img.file}, {"width", img.width}, {"height", img.height}});
    for (const auto& b : img.boxes) {
      auto c = id_of.find(b.category);
      if (c == id_of.end()) continue;  // a category the list does not hold
      nlohmann::ordered_json ann = {{"id", next++},
                                    {"image_id", i + 1},
                                    {"category_id", c->second},
                                    {"bbox", {b.x, b.y, b.width, b.height}},
                                    {"area", b.width * b.height},
                                    {"iscrowd", 0}};
      if (!b.polygon.empty()) {
        ann["segmentation"] = Json::array({b.polygon});
        ann["area"] = polygon_area(b.polygon);
      }
      if (!b.attributes.empty()) ann["attributes"] = b.attributes;
      out["annotations"].push_back(std::move(ann));
    }
  }
  return out.dump(1) + "\n";
}

// ---- Pascal VOC ----------------------------------------------------------------------

Result<AnnotatedImage> read_voc(std::string_view text, const std::string& what,
                                std::vector<std::string>& categories) {
  pugi::xml_document doc;
  const auto r = doc.load_buffer(text.data(), text.size(), pugi::parse_default);
  if (!r) {
    size_t line = 1;
    for (size_t i = 0; i < static_cast<size_t>(r.offset) && i < text.size(); ++i) {
      line += text[i] == '\n';
    }
    return Status::invalid_argument(what + ": not XML (line " + std::to_string(line) + ": " +
                                    r.description() + ")");
  }
  const pugi::xml_node root = doc.document_element();
  if (std::string(root.name()) != "annotation") {
    return bad(what, "<" + std::string(root.name()) + ">", "the root element must be <annotation>");
  }
  AnnotatedImage img;
  img.file = root.child_value("filename");
  JZ_RETURN_IF_ERROR(check_file(what, "filename", img.file));
  const pugi::xml_node size = root.child("size");
  if (!size) return bad(what, "size", "missing (VOC gives the image's width and height)");
  JZ_ASSIGN_OR_RETURN(double w, parse_number(size.child_value("width"), what, "size.width"));
  JZ_ASSIGN_OR_RETURN(double h, parse_number(size.child_value("height"), what, "size.height"));
  JZ_RETURN_IF_ERROR(check_size(what, "size", w, h));
  if (w != std::floor(w) || h != std::floor(h)) {
    return bad(what, "size", "width and height are whole pixels");
  }
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  int n = 0;
  for (const pugi::xml_node o : root.children("object")) {
    const std::string where = "object[" + std::to_string(n++) + "]";
    std::string name = o.child_value("name");
    JZ_RETURN_IF_ERROR(check_category(what, where + ".name", name));
    const pugi::xml_node bb = o.child("bndbox");
    if (!bb) return bad(what, where + ".bndbox", "missing");
    double v[4];
    const char* fields[4] = {"xmin", "ymin", "xmax", "ymax"};
    for (int k = 0; k < 4; ++k) {
      JZ_ASSIGN_OR_RETURN(
          v[k], parse_number(bb.child_value(fields[k]), what, where + ".bndbox." + fields[k]));
    }
    // VOC's pixels are 1-based and inclusive.
    Box b{name, v[0] - 1, v[1] - 1, v[2] - v[0] + 1, v[3] - v[1] + 1};
    JZ_RETURN_IF_ERROR(check_box(what, where + ".bndbox", b, img.width, img.height));
    if (std::find(categories.begin(), categories.end(), name) == categories.end()) {
      categories.push_back(name);
    }
    img.boxes.push_back(std::move(b));
  }
  return img;
}

std::string write_voc(const AnnotatedImage& img) {
  // <filename> holds the path inside the dataset (VOC's <folder> names the dataset, so it is
  // neither written nor read).
  std::ostringstream o;
  o << "<annotation>\n";
  o << "  <filename>" << escape_markup(img.file) << "</filename>\n"
    << "  <size><width>" << img.width << "</width><height>" << img.height
    << "</height><depth>3</depth></size>\n";
  for (const auto& b : img.boxes) {
    o << "  <object>\n    <name>" << escape_markup(b.category)
      << "</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
      << "    <difficult>0</difficult>\n    <bndbox><xmin>" << num(b.x + 1) << "</xmin><ymin>"
      << num(b.y + 1) << "</ymin><xmax>" << num(b.x + b.width) << "</xmax><ymax>"
      << num(b.y + b.height) << "</ymax></bndbox>\n  </object>\n";
  }
  o << "</annotation>\n";
  return o.str();
}

// ---- YOLO ----------------------------------------------------------------------------

Result<std::vector<Box>> read_yolo(std::string_view text, const std::string& what,
                                   const std::vector<std::string>& categories, int width,
                                   int height) {
  JZ_RETURN_IF_ERROR(check_size(what, "the image", width, height));
  std::vector<Box> out;
  std::istringstream in{std::string(text)};
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const std::string where = "line " + std::to_string(line_no);
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    if (f.empty()) continue;
    if (f.size() != 5) {
      return bad(what, where,
                 std::to_string(f.size()) +
                     " values; a box is 5: class cx cy w h (0 to 1 of "
                     "the image)");
    }
    JZ_ASSIGN_OR_RETURN(double cls, parse_number(f[0], what, where + " class"));
    if (cls != std::floor(cls) || cls < 0 || cls >= static_cast<double>(categories.size())) {
      return bad(what, where + " class",
                 "'" + f[0] + "' is not a class index: the class list has " +
                     std::to_string(categories.size()) + " (0 to " +
                     std::to_string(static_cast<int64_t>(categories.size()) - 1) + ")");
    }
    double v[4];
    const char* names[4] = {" cx", " cy", " w", " h"};
    for (int k = 0; k < 4; ++k) {
      JZ_ASSIGN_OR_RETURN(v[k],
                          parse_number(f[static_cast<size_t>(k) + 1], what, where + names[k]));
      if (v[k] < -0.01 || v[k] > 1.01) {
        return bad(what, where + names[k],
                   "'" + f[static_cast<size_t>(k) + 1] +
                       "' is outside 0..1 (YOLO's values are fractions "
                       "of the image)");
      }
    }
    Box b{categories[static_cast<size_t>(cls)], (v[0] - v[2] / 2) * width,
          (v[1] - v[3] / 2) * height, v[2] * width, v[3] * height};
    JZ_RETURN_IF_ERROR(check_box(what, where, b, width, height));
    out.push_back(std::move(b));
  }
  return out;
}

std::string write_yolo(const AnnotatedImage& img, const std::vector<std::string>& categories) {
  std::string out;
  char buf[160];
  for (const auto& b : img.boxes) {
    auto c = std::find(categories.begin(), categories.end(), b.category);
    if (c == categories.end()) continue;  // a category the list does not hold
    std::snprintf(buf, sizeof buf, "%td %.8f %.8f %.8f %.8f\n", c - categories.begin(),
                  (b.x + b.width / 2) / img.width, (b.y + b.height / 2) / img.height,
                  b.width / img.width, b.height / img.height);
    out += buf;
  }
  return out;
}

Result<std::vector<std::string>> read_class_list(std::string_view text, const std::string& what) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  int line_no = 0;
  size_t blank_run = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty()) {
      ++blank_run;
      continue;
    }
    if (blank_run > 0 && !out.empty()) {
      return bad(what, "line " + std::to_string(line_no - 1),
                 "an empty class name (a class is named on every line, from index 0)");
    }
    blank_run = 0;
    JZ_RETURN_IF_ERROR(check_category(what, "line " + std::to_string(line_no), line));
    if (std::find(out.begin(), out.end(), line) != out.end()) {
      return bad(what, "line " + std::to_string(line_no), "class '" + line + "' is listed twice");
    }
    out.push_back(line);
  }
  return out;
}

std::string write_class_list(const std::vector<std::string>& categories) {
  std::string out;
  for (const auto& c : categories) out += c + "\n";
  return out;
}

// ---- per-image JSON ------------------------------------------------------------------

Result<AnnotatedImage> read_image_json(std::string_view text, const std::string& what) {
  auto parsed = json::parse(text, what);
  if (!parsed.ok()) return Status::invalid_argument(parsed.status().message());
  const Json& j = *parsed;
  if (!j.is_object()) return Status::invalid_argument(what + ": must be a JSON object");
  if (Status s = json::only_fields(j, {"file", "width", "height", "tags", "boxes"}); !s.ok()) {
    return Status::invalid_argument(what + ": " + s.message());
  }
  AnnotatedImage img;
  JZ_ASSIGN_OR_RETURN(img.file, string_member(j, "file", what, "image"));
  JZ_RETURN_IF_ERROR(check_file(what, "file", img.file));
  JZ_ASSIGN_OR_RETURN(int64_t w, int_member(j, "width", what, "image"));
  JZ_ASSIGN_OR_RETURN(int64_t h, int_member(j, "height", what, "image"));
  JZ_RETURN_IF_ERROR(
      check_size(what, "width, height", static_cast<double>(w), static_cast<double>(h)));
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  const Json tags = j.value("tags", Json::array());
  if (!tags.is_array()) return bad(what, "tags", "must be a list of names");
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string where = "tags[" + std::to_string(i) + "]";
    if (!tags[i].is_string()) return bad(what, where, "must be a string");
    JZ_RETURN_IF_ERROR(check_category(what, where, tags[i].get<std::string>()));
    img.tags.push_back(tags[i].get<std::string>());
  }
  const Json boxes = j.value("boxes", Json::array());
  if (!boxes.is_array()) return bad(what, "boxes", "must be a list");
  for (size_t i = 0; i < boxes.size(); ++i) {
    const std::string where = "boxes[" + std::to_string(i) + "]";
    if (!boxes[i].is_object()) return bad(what, where, "must be an object");
    if (Status s = json::only_fields(
            boxes[i], {"category", "x", "y", "width", "height", "polygon", "attributes"});
        !s.ok()) {
      return bad(what, where, s.message());
    }
    Box b;
    JZ_ASSIGN_OR_RETURN(b.category, string_member(boxes[i], "category", what, where));
    JZ_RETURN_IF_ERROR(check_category(what, where + ".category", b.category));
    JZ_ASSIGN_OR_RETURN(b.x, number_member(boxes[i], "x", what, where));
    JZ_ASSIGN_OR_RETURN(b.y, number_member(boxes[i], "y", what, where));
    JZ_ASSIGN_OR_RETURN(b.width, number_member(boxes[i], "width", what, where));
    JZ_ASSIGN_OR_RETURN(b.height, number_member(boxes[i], "height", what, where));
    JZ_RETURN_IF_ERROR(check_box(what, where, b, img.width, img.height));
    if (boxes[i].contains("polygon")) {
      Box shaped = b;
      JZ_RETURN_IF_ERROR(read_polygon(boxes[i]["polygon"], what, where + ".polygon", shaped,
                                      img.width, img.height));
      b.polygon = std::move(shaped.polygon);
    }
    if (boxes[i].contains("attributes")) {
      JZ_RETURN_IF_ERROR(read_attributes(boxes[i]["attributes"], what, where + ".attributes", b));
    }
    img.boxes.push_back(std::move(b));
  }
  return img;
}

std::string write_image_json(const AnnotatedImage& img) {
  nlohmann::ordered_json out = {{"file", img.file},
                                {"width", img.width},
                                {"height", img.height},
                                {"tags", img.tags},
                                {"boxes", Json::array()}};
  for (const auto& b : img.boxes) {
    nlohmann::ordered_json box = {
        {"category", b.category}, {"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}};
    if (!b.polygon.empty()) box["polygon"] = b.polygon;
    if (!b.attributes.empty()) box["attributes"] = b.attributes;
    out["boxes"].push_back(std::move(box));
  }
  return out.dump(1) + "\n";
}

}  // namespace jz::data
