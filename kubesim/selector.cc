#include <algorithm>
#include <cctype>

#include "kubesim/kubesim.h"

namespace jz::kubesim {
namespace {

bool key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/';
}

// Splits at commas outside parentheses.
Result<std::vector<std::string>> split_terms(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return Status::invalid_argument("unbalanced ')' in selector");
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (depth != 0) return Status::invalid_argument("unbalanced '(' in selector");
  out.push_back(cur);
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

Status check_key(const std::string& key, std::string_view term) {
  if (key.empty() || key.size() > 316 || !std::all_of(key.begin(), key.end(), key_char)) {
    return Status::invalid_argument("invalid label key in selector term '" + std::string(term) +
                                    "'");
  }
  return {};
}

const Json* field_at(const Json& object, const std::string& path) {
  const Json* cur = &object;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

}  // namespace

Result<Selector> Selector::parse(std::string_view text) {
  Selector s;
  if (trim(text).empty()) return s;
  JZ_ASSIGN_OR_RETURN(auto terms, split_terms(text));
  for (const auto& raw : terms) {
    const std::string t = trim(raw);
    if (t.empty()) return Status::invalid_argument("empty term in label selector");
    Term term;
    size_t pos;
    if (t[0] == '!') {
      term.op = Term::Op::kNotExists;
      term.key = trim(t.substr(1));
    } else if ((pos = t.find(" notin ")) != std::string::npos ||
               (pos = t.find(" in ")) != std::string::npos) {
      const bool notin = t.compare(pos, 7, " notin ") == 0;
      term.op = notin ? Term::Op::kNotIn : Term::Op::kIn;
      term.key = trim(t.substr(0, pos));
      std::string rest = trim(t.substr(pos + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        return Status::invalid_argument("set term '" + t + "' needs values in parentheses");
      }
      rest = rest.substr(1, rest.size() - 2);
      size_t start = 0;
      while (true) {
        const size_t comma = rest.find(',', start);
        std::string v =
            trim(rest.substr(start, comma == std::string::npos ? comma : comma - start));
        if (!v.empty()) term.values.push_back(v);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (term.values.empty()) {
        return Status::invalid_argument("set term '" + t + "' has no values");
      }
    } else if ((pos = t.find("!=")) != std::string::npos) {
      term.op = Term::Op::kNe;
      term.key = trim(t.substr(0, pos));
      term.values = {trim(t.substr(pos + 2))};
    } else if ((pos = t.find('=')) != std::string::npos) {
      term.op = Term::Op::kEq;
      term.key = trim(t.substr(0, pos));
      const size_t skip = t.compare(pos, 2, "==") == 0 ? 2 : 1;
      term.values = {trim(t.substr(pos + skip))};
    } else {
      term.op = Term::Op::kExists;
      term.key = t;
    }
    JZ_RETURN_IF_ERROR(check_key(term.key, t));
    s.terms_.push_back(std::move(term));
  }
  return s;
}

bool Selector::matches(const Json& labels) const {
  for (const auto& t : terms_) {
    const bool has = labels.is_object() && labels.contains(t.key) && labels[t.key].is_string();
    const std::string v = has ? labels[t.key].get<std::string>() : "";
    const bool in = has && std::find(t.values.begin(), t.values.end(), v) != t.values.end();
    switch (t.op) {
      case Term::Op::kEq:
      case Term::Op::kIn:
        if (!in) return false;
        break;
      case Term::Op::kNe:
      case Term::Op::kNotIn:
        if (in) return false;
        break;
      case Term::Op::kExists:
        if (!has) return false;
        break;
      case Term::Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  FieldSelector s;
  if (trim(text).empty()) return s;
  JZ_ASSIGN_OR_RETURN(auto terms, split_terms(text));
  for (const auto& raw : terms) {
    const std::string t = trim(raw);
    Term term;
    size_t pos = t.find("!=");
    size_t skip = 2;
    if (pos != std::string::npos) {
      term.negate = true;
    } else if ((pos = t.find("==")) == std::string::npos) {
      pos = t.find('=');
      skip = 1;
    }
    if (pos == std::string::npos) {
      return Status::invalid_argument("field selector term '" + t + "' needs = or !=");
    }
    term.path = trim(t.substr(0, pos));
    term.value = trim(t.substr(pos + skip));
    static const std::set<std::string> kFields = {"metadata.name", "metadata.namespace",
                                                  "spec.nodeName", "status.phase"};
    if (!kFields.count(term.path)) {
      return Status::invalid_argument("field label not supported: " + term.path);
    }
    s.terms_.push_back(std::move(term));
  }
  return s;
}

bool FieldSelector::matches(const Json& object) const {
  for (const auto& t : terms_) {
    const Json* v = field_at(object, t.path);
    const std::string value = v && v->is_string() ? v->get<std::string>() : "";
    if ((value == t.value) == t.negate) return false;
  }
  return true;
}

}  // namespace jz::kubesim
