#include "routepath/route.h"

#include <array>
#include <cmath>
#include <cstdlib>

#include "core/json.h"
#include "routepath/scan.h"

namespace jz::routepath {
namespace {

constexpr std::pair<std::string_view, Suffix> kSuffixes[] = {
    {"@num", Suffix::kNum},   {"@int", Suffix::kInt},   {"@str", Suffix::kStr},
    {"@bool", Suffix::kBool}, {"@list", Suffix::kList}, {"@obj", Suffix::kObj},
    {"@box", Suffix::kBox}};

std::string describe(const Value& v) {
  std::string text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  switch (v.type()) {
    case Value::value_t::string:
      return "the string " + text;
    case Value::value_t::boolean:
      return "the boolean " + text;
    case Value::value_t::null:
      return "null";
    case Value::value_t::array:
      return "an array " + text;
    case Value::value_t::object:
      return "an object " + text;
    default:
      return "the number " + text;
  }
}

// A number from a number or a numeric string ("48", " 3.5 ").
std::optional<double> as_number(const Value& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  const char* b = s.c_str();
  while (*b == ' ' || *b == '\t') ++b;
  if (!*b) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(b, &end);
  while (*end == ' ' || *end == '\t') ++end;
  if (*end || !std::isfinite(d)) return std::nullopt;
  return d;
}

Status bad(std::string_view where, Suffix s, std::string_view expects, const Value& v) {
  return Status::invalid_argument(std::string(where) + ": " + std::string(suffix_name(s)) +
                                  " expects " + std::string(expects) + ", got " + describe(v));
}

}  // namespace

std::string_view suffix_name(Suffix s) {
  for (const auto& [name, value] : kSuffixes) {
    if (value == s) return name;
  }
  return "";
}

Result<Value> to_box(const Value& v, std::string_view where) {
  auto fail = [&] {
    return bad(where, Suffix::kBox,
               "a box ([x1,y1,x2,y2] or an object with x1/y1/x2/y2, xmin/ymin/xmax/ymax, or "
               "x/y/width/height)",
               v);
  };
  double c[4];
  if (v.is_array()) {
    if (v.size() != 4) return fail();
    for (int i = 0; i < 4; ++i) {
      auto n = as_number(v[i]);
      if (!n) return fail();
      c[i] = *n;
    }
  } else if (v.is_object()) {
    auto get = [&](const char* k) -> std::optional<double> {
      auto it = v.find(k);
      return it == v.end() ? std::nullopt : as_number(*it);
    };
    bool found = false;
    for (auto names : {std::array<const char*, 4>{"x1", "y1", "x2", "y2"},
                       std::array<const char*, 4>{"xmin", "ymin", "xmax", "ymax"}}) {
      auto a = get(names[0]), b = get(names[1]), d = get(names[2]), e = get(names[3]);
      if (a && b && d && e) {
        c[0] = *a, c[1] = *b, c[2] = *d, c[3] = *e;
        found = true;
        break;
      }
    }
    if (!found) {
      auto x = get("x"), y = get("y");
      auto w = get("width") ? get("width") : get("w");
      auto h = get("height") ? get("height") : get("h");
      if (!(x && y && w && h) || *w < 0 || *h < 0) return fail();
      c[0] = *x, c[1] = *y, c[2] = *x + *w, c[3] = *y + *h;
    }
  } else {
    return fail();
  }
  if (c[2] < c[0] || c[3] < c[1]) {
    return Status::invalid_argument(std::string(where) +
                                    ": @box: the box ends before it starts (x2 < x1 or y2 < y1)");
  }
  Value box = Value::object();
  box["x1"] = c[0];
  box["y1"] = c[1];
  box["x2"] = c[2];
  box["y2"] = c[3];
  return box;
}

Result<Value> convert(const Value& v, Suffix s, std::string_view where) {
  switch (s) {
    case Suffix::kNone:
      return v;
    case Suffix::kNum: {
      if (v.is_number()) return v;
      auto n = as_number(v);
      if (!n) return bad(where, s, "a number", v);
      return Value(*n);
    }
    case Suffix::kInt: {
      if (v.is_number_integer()) return v;
      auto n = as_number(v);
      if (!n || std::floor(*n) != *n || std::fabs(*n) > 9007199254740991.0) {
        return bad(where, s, "an integer", v);
      }
      return Value(static_cast<int64_t>(*n));
    }
    case Suffix::kStr:
      if (v.is_string()) return v;
      if (v.is_number() || v.is_boolean()) return Value(v.dump());
      return bad(where, s, "a string, number or boolean", v);
    case Suffix::kBool:
      if (v.is_boolean()) return v;
      if (v.is_string()) {
        std::string t = v.get<std::string>();
        for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (t == "true" || t == "1") return Value(true);
        if (t == "false" || t == "0") return Value(false);
      }
      if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) {
        return Value(v.get<int64_t>() == 1);
      }
      return bad(where, s, "a boolean (true/false, \"true\"/\"false\" or 0/1)", v);
    case Suffix::kList:
      if (v.is_array()) return v;
      return bad(where, s, "an array", v);
    case Suffix::kObj:
      if (v.is_object()) return v;
      return bad(where, s, "an object", v);
    case Suffix::kBox:
      return to_box(v, where);
  }
  return v;
}

Result<Document> parse_document(std::string_view text, Format format, std::string_view what,
                                const XmlOptions& xml) {
  if (format == Format::kXml) {
    auto d = XmlDocument::parse(text, xml);
    if (!d.ok()) return Status::invalid_argument(std::string(what) + ": " + d.status().message());
    return Document(std::move(*d));
  }
  // nlohmann's parser stops at a NUL byte as if the text ended there; JSON has no NUL
  // outside strings (where it must be escaped), so it is an error here, as in scan.h.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    auto [line, col] = line_column(text, nul);
    return Status::invalid_argument(std::string(what) + ": JSON at line " + std::to_string(line) +
                                    ", column " + std::to_string(col) + ": a NUL byte");
  }
  // Outputs of untrusted algorithms: a document nested deeper than the scanner allows
  // would exhaust the stack of the evaluator or of printing its results.
  if (size_t at = json::depth_exceeded_at(text); at != std::string_view::npos) {
    auto [line, col] = line_column(text, at);
    return Status::invalid_argument(std::string(what) + ": JSON at line " + std::to_string(line) +
                                    ", column " + std::to_string(col) +
                                    ": nested too deeply (more than " +
                                    std::to_string(json::kMaxDepth) + " levels)");
  }
  try {
    return Document(Value::parse(text));
  } catch (const Value::parse_error& e) {
    // nlohmann reports the position after the offending byte.
    auto [line, col] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string why = e.what();
    if (auto at = why.find("syntax error while parsing value - "); at != std::string::npos) {
      why = why.substr(at + 35);
    }
    return Status::invalid_argument(std::string(what) + ": JSON at line " + std::to_string(line) +
                                    ", column " + std::to_string(col) + ": " + why);
  }
}

Status for_each_json_line(std::string_view text, std::string_view what,
                          const std::function<Status(const Document&, const std::string&)>& fn) {
  size_t start = 0, line = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    std::string_view l = text.substr(start, end - start);
    start = end + 1;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = std::string(what) + " line " + std::to_string(line);
    JZ_ASSIGN_OR_RETURN(Document d, parse_document(l, Format::kJson, where));
    JZ_RETURN_IF_ERROR(fn(d, where));
  }
  return {};
}

Result<RoutePath> RoutePath::parse(std::string_view text) {
  RoutePath r;
  r.text_ = std::string(text);
  std::string_view body = text;
  // A trailing "@word" is a type suffix (a JSONPath cannot end that way).
  if (auto at = body.rfind('@'); at != std::string_view::npos && at + 1 < body.size()) {
    std::string_view tail = body.substr(at);
    bool word = true;
    for (char c : tail.substr(1)) word = word && c >= 'a' && c <= 'z';
    if (word) {
      bool known = false;
      for (const auto& [name, s] : kSuffixes) {
        if (tail == name) {
          r.suffix_ = s;
          known = true;
        }
      }
      const bool xpath = body.rfind("xpath:", 0) == 0;
      if (!known && !xpath) {
        return Status::invalid_argument("route path '" + std::string(text) +
                                        "': unknown type suffix '" + std::string(tail) +
                                        "' (use @num, @int, @str, @bool, @list, @obj or @box)");
      }
      if (known) body = body.substr(0, at);
    }
  }
  if (body.rfind("xpath:", 0) == 0) {
    r.xpath_ = std::string(body.substr(6));
    if (r.xpath_.empty()) {
      return Status::invalid_argument("route path '" + std::string(text) +
                                      "': expected an XPath expression after 'xpath:'");
    }
    return r;
  }
  if (body.empty()) {
    if (r.suffix_ == Suffix::kNone) {
      return Status::invalid_argument("route path is empty: write e.g. people[0].age or $.people");
    }
    body = "$";  // a suffix alone converts the whole value: "@box"
  }
  std::string jp;
  size_t offset = 0;  // characters added in front, for positions in errors
  if (body.front() == '$') {
    jp = std::string(body);
  } else if (body.front() == '[') {
    jp = "$" + std::string(body);
    offset = 1;
  } else {
    jp = "$." + std::string(body);
    offset = 2;
  }
  auto q = Query::parse(jp);
  if (!q.ok()) {
    std::string msg = q.status().message();
    // "at character N:" counts in the JSONPath; report it in the text as written.
    if (msg.rfind("at character ", 0) == 0 && offset > 0) {
      size_t n = std::strtoul(msg.c_str() + 13, nullptr, 10);
      size_t colon = msg.find(':');
      msg = "at character " + std::to_string(n > offset ? n - offset : 1) + msg.substr(colon);
    }
    return Status::invalid_argument("route path '" + std::string(text) + "': " + msg);
  }
  r.steps_ = q->simple_steps();
  r.query_ = std::move(*q);
  return r;
}

Result<std::vector<std::pair<std::string, Value>>> RoutePath::values_with_paths(
    const Document& doc) const {
  std::vector<std::pair<std::string, Value>> out;
  if (!xpath_.empty()) {
    if (!doc.xml()) {
      return Status::invalid_argument("route path '" + text_ +
                                      "': xpath: paths apply to XML documents only");
    }
    JZ_ASSIGN_OR_RETURN(auto vs, doc.xml()->xpath(xpath_));
    for (size_t i = 0; i < vs.size(); ++i) {
      std::string where = "#" + std::to_string(i + 1) + " of " + text_;
      JZ_ASSIGN_OR_RETURN(Value v, convert(vs[i], suffix_, where));
      out.emplace_back("#" + std::to_string(i + 1), std::move(v));
    }
    return out;
  }
  for (auto& m : query_->select_with_paths(doc.json())) {
    JZ_ASSIGN_OR_RETURN(Value v, convert(*m.value, suffix_, m.path));
    out.emplace_back(std::move(m.path), std::move(v));
  }
  return out;
}

Result<std::vector<Value>> RoutePath::values(const Document& doc) const {
  std::vector<Value> out;
  if (!xpath_.empty() || suffix_ != Suffix::kNone) {
    JZ_ASSIGN_OR_RETURN(auto vs, values_with_paths(doc));
    for (auto& [p, v] : vs) out.push_back(std::move(v));
    return out;
  }
  for (const Value* v : query_->select(doc.json())) out.push_back(*v);
  return out;
}

Status RoutePath::append_json_array(std::string_view text, std::string_view what,
                                    std::string& out) const {
  if (steps_) {
    std::vector<std::string_view> raw;
    Status s = scan_select(text, *steps_, raw);
    if (!s.ok() && s.code() != Code::kFailedPrecondition) {
      return Status::invalid_argument(std::string(what) + ": " + s.message());
    }
    std::string buf = "[";
    bool fallback = !s.ok();  // a document the scanner leaves to the full evaluator
    for (size_t i = 0; i < raw.size() && !fallback; ++i) {
      if (i) buf += ',';
      const char c = raw[i].front();
      if (suffix_ == Suffix::kNone && c != '{' && c != '[') {
        buf.append(raw[i]);
        continue;
      }
      Value v = Value::parse(raw[i]);  // already validated by the scanner
      auto converted = convert(v, suffix_, "");
      if (!converted.ok()) {
        fallback = true;  // the full evaluator names the value's path in its error
        break;
      }
      buf += converted->dump(-1, ' ', false, Value::error_handler_t::replace);
    }
    if (!fallback) {
      out += buf;
      out += ']';
      return {};
    }
  }
  JZ_ASSIGN_OR_RETURN(Document doc, parse_document(text, Format::kJson, what));
  auto vs = values(doc);
  if (!vs.ok()) return Status::invalid_argument(std::string(what) + ": " + vs.status().message());
  Value arr = Value::array();
  for (auto& v : *vs) arr.push_back(std::move(v));
  out += arr.dump(-1, ' ', false, Value::error_handler_t::replace);
  return {};
}

}  // namespace jz::routepath
