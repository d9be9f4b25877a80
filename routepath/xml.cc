#include "routepath/xml.h"

#include <map>
#include <pugixml.hpp>

namespace jz::routepath {
namespace {

std::string trim(std::string_view s) {
  const char* blank = " \t\r\n";
  const size_t b = s.find_first_not_of(blank);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(blank);
  return std::string(s.substr(b, e - b + 1));
}

bool is_text(const pugi::xml_node& n) {
  return n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata;
}

Value element_json(const pugi::xml_node& e, const XmlOptions& options, int depth) {
  std::string text;
  bool has_elements = false;
  for (auto c : e.children()) {
    if (is_text(c)) {
      text += c.value();
    } else if (c.type() == pugi::node_element) {
      has_elements = true;
    }
  }
  if (!has_elements && e.attributes().empty()) return trim(text);
  Value obj = Value::object();
  for (auto a : e.attributes()) obj[std::string("@") + a.name()] = a.value();
  if (depth < 256) {
    // Count tags first, so repeated ones become arrays in document order.
    std::map<std::string, int> count;
    for (auto c : e.children()) {
      if (c.type() == pugi::node_element) ++count[c.name()];
    }
    for (auto c : e.children()) {
      if (c.type() != pugi::node_element) continue;
      const std::string name = c.name();
      Value v = element_json(c, options, depth + 1);
      if (count[name] > 1 || options.arrays.count(name)) {
        Value& arr = obj[name];
        if (!arr.is_array()) arr = Value::array();
        arr.push_back(std::move(v));
      } else {
        obj[name] = std::move(v);
      }
    }
  }
  if (std::string t = trim(text); !t.empty()) obj["#text"] = t;
  return obj;
}

}  // namespace

// Line and column of a byte offset, for error messages.
std::pair<size_t, size_t> line_column(std::string_view text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

Result<XmlDocument> XmlDocument::parse(std::string_view text, const XmlOptions& options) {
  XmlDocument d;
  d.doc_ = std::make_shared<pugi::xml_document>();
  d.options_ = options;
  auto r = d.doc_->load_buffer(text.data(), text.size(),
                               pugi::parse_default | pugi::parse_ws_pcdata_single);
  if (!r) {
    auto [line, col] = line_column(text, static_cast<size_t>(r.offset));
    return Status::invalid_argument("XML at line " + std::to_string(line) + ", column " +
                                    std::to_string(col) + ": " + r.description());
  }
  auto root = d.doc_->document_element();
  if (!root) return Status::invalid_argument("XML: the document has no root element");
  d.json_ = Value::object();
  d.json_[root.name()] = element_json(root, options, 0);
  return d;
}

Result<std::vector<Value>> XmlDocument::xpath(std::string_view expression) const {
  // pugixml reports bad expressions by exception (or, built without exceptions, in
  // result()); both become an error naming the character.
  std::unique_ptr<pugi::xpath_query> holder;
  try {
    holder = std::make_unique<pugi::xpath_query>(std::string(expression).c_str());
  } catch (const pugi::xpath_exception& e) {
    return Status::invalid_argument("xpath: at character " + std::to_string(e.result().offset + 1) +
                                    ": " + e.result().description());
  }
  const pugi::xpath_query& q = *holder;
  if (!q) {
    return Status::invalid_argument("xpath: at character " + std::to_string(q.result().offset + 1) +
                                    ": " + q.result().description());
  }
  std::vector<Value> out;
  try {
    switch (q.return_type()) {
      case pugi::xpath_type_node_set: {
        for (const auto& n : q.evaluate_node_set(*doc_)) {
          if (n.attribute()) {
            out.emplace_back(n.attribute().value());
          } else if (n.node().type() == pugi::node_element) {
            out.push_back(element_json(n.node(), options_, 0));
          } else if (n.node().type() == pugi::node_document) {
            out.push_back(json_);
          } else {
            out.emplace_back(trim(n.node().value()));
          }
        }
        break;
      }
      case pugi::xpath_type_number:
        out.emplace_back(q.evaluate_number(*doc_));
        break;
      case pugi::xpath_type_string:
        out.emplace_back(q.evaluate_string(*doc_));
        break;
      case pugi::xpath_type_boolean:
        out.emplace_back(q.evaluate_boolean(*doc_));
        break;
      default:
        break;
    }
  } catch (const pugi::xpath_exception& e) {
    return Status::invalid_argument(std::string("xpath: ") + e.what());
  }
  return out;
}

}  // namespace jz::routepath
