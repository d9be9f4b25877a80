#include "routepath/jsonpath.h"

#include <cmath>
#include <optional>

#include "routepath/iregexp.h"

namespace jz::routepath {

// ---------------------------------------------------------------------------------
// The syntax tree
// ---------------------------------------------------------------------------------

namespace {

constexpr int64_t kMaxSafeInt = (int64_t{1} << 53) - 1;

struct Expr;

struct Selector {
  enum Kind { kName, kWildcard, kIndex, kSlice, kFilter } kind;
  std::string name;
  int64_t index = 0;
  std::optional<int64_t> start, end;
  int64_t step = 1;
  std::shared_ptr<Expr> filter;
};

struct Segment {
  bool descendant = false;
  bool spaced = false;  // blank space inside its brackets
  std::vector<Selector> selectors;
};

struct PathQuery {
  bool relative = false;  // @ rather than $
  std::vector<Segment> segments;
  bool singular() const {
    for (const auto& s : segments) {
      if (s.descendant || s.selectors.size() != 1) return false;
      auto k = s.selectors[0].kind;
      if (k != Selector::kName && k != Selector::kIndex) return false;
    }
    return true;
  }
  // RFC 9535's singular-query (2.3.5.1), the form a comparison or a function's value
  // argument takes: singular, and without blank space inside its brackets.
  bool singular_form() const {
    for (const auto& s : segments) {
      if (s.spaced) return false;
    }
    return singular();
  }
};

enum class Type { kValue, kLogical, kNodes };
enum class Fn { kLength, kCount, kMatch, kSearch, kValue };
enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };

struct Expr {
  enum Kind { kOr, kAnd, kNot, kCompare, kLiteral, kQuery, kFunction } kind;
  std::vector<std::shared_ptr<Expr>> args;  // operands, or function arguments
  Cmp cmp = Cmp::kEq;
  Value literal;
  PathQuery query;
  Fn fn = Fn::kLength;
  std::optional<IRegexp> regex;  // match/search with a literal pattern: compiled once
  bool regex_invalid = false;

  Type type() const {
    switch (kind) {
      case kLiteral:
        return Type::kValue;
      case kQuery:
        return Type::kNodes;
      case kFunction:
        return fn == Fn::kMatch || fn == Fn::kSearch ? Type::kLogical : Type::kValue;
      default:
        return Type::kLogical;
    }
  }
};

}  // namespace

struct Query::Ast {
  PathQuery query;
};

// ---------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Result<PathQuery> parse() {
    std::u32string ignored;
    if (!decode_utf8(t_, ignored)) return Status::invalid_argument("the query is not valid UTF-8");
    if (peek() != '$') return error("expected '$' at the start of the query");
    ++pos_;
    PathQuery q;
    JZ_RETURN_IF_ERROR(segments(q, 0));
    if (pos_ != t_.size()) {
      return error(std::isspace(static_cast<unsigned char>(peek()))
                       ? "unexpected blank space at the end"
                       : "expected '.', '..' or '[' to start a segment");
    }
    return q;
  }

 private:
  Status error(const std::string& what) const {
    return Status::invalid_argument("at character " + std::to_string(pos_ + 1) + ": " + what);
  }
  char peek(size_t ahead = 0) const { return pos_ + ahead < t_.size() ? t_[pos_ + ahead] : '\0'; }
  bool at_end() const { return pos_ >= t_.size(); }
  static bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  void skip_blank() {
    while (!at_end() && blank(t_[pos_])) ++pos_;
  }
  static bool name_first(char c) {
    auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
  }
  static bool name_char(char c) { return name_first(c) || (c >= '0' && c <= '9'); }

  // *(S segment); stops (restoring any blank space) before anything else.
  Status segments(PathQuery& q, int depth) {
    for (;;) {
      const size_t before = pos_;
      skip_blank();
      if (peek() == '.' && peek(1) == '.') {
        pos_ += 2;
        Segment s;
        s.descendant = true;
        if (peek() == '[') {
          JZ_RETURN_IF_ERROR(bracketed(s, depth));
        } else if (peek() == '*') {
          ++pos_;
          s.selectors.push_back({Selector::kWildcard});
        } else if (name_first(peek())) {
          s.selectors.push_back({Selector::kName, shorthand()});
        } else {
          return error("expected a name, '*' or '[' after '..'");
        }
        q.segments.push_back(std::move(s));
      } else if (peek() == '.') {
        ++pos_;
        Segment s;
        if (peek() == '*') {
          ++pos_;
          s.selectors.push_back({Selector::kWildcard});
        } else if (name_first(peek())) {
          s.selectors.push_back({Selector::kName, shorthand()});
        } else {
          return error("expected a member name or '*' right after '.'");
        }
        q.segments.push_back(std::move(s));
      } else if (peek() == '[') {
        Segment s;
        JZ_RETURN_IF_ERROR(bracketed(s, depth));
        q.segments.push_back(std::move(s));
      } else {
        pos_ = before;
        return {};
      }
    }
  }

  std::string shorthand() {
    const size_t start = pos_;
    while (!at_end() && name_char(t_[pos_])) ++pos_;
    return std::string(t_.substr(start, pos_ - start));
  }

  // "[" S selector *(S "," S selector) S "]"
  Status bracketed(Segment& s, int depth) {
    ++pos_;  // '['
    for (;;) {
      size_t before = pos_;
      skip_blank();
      s.spaced = s.spaced || pos_ != before;
      Selector sel;
      JZ_RETURN_IF_ERROR(selector(sel, depth));
      s.selectors.push_back(std::move(sel));
      before = pos_;
      skip_blank();
      s.spaced = s.spaced || pos_ != before;
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return {};
      }
      return error("expected ',' or ']' after a selector");
    }
  }

  Status selector(Selector& sel, int depth) {
    const char c = peek();
    if (c == '\'' || c == '"') {
      sel.kind = Selector::kName;
      return string_literal(sel.name);
    }
    if (c == '*') {
      ++pos_;
      sel.kind = Selector::kWildcard;
      return {};
    }
    if (c == '?') {
      ++pos_;
      skip_blank();
      sel.kind = Selector::kFilter;
      JZ_ASSIGN_OR_RETURN(sel.filter, logical_or(depth + 1, false));
      if (sel.filter->type() != Type::kLogical && sel.filter->kind != Expr::kQuery) {
        return error("a filter needs a test or a comparison, not a lone value");
      }
      return {};
    }
    if (c == '-' || c == ':' || (c >= '0' && c <= '9')) {
      std::optional<int64_t> first;
      if (c != ':') {
        JZ_ASSIGN_OR_RETURN(int64_t n, integer());
        first = n;
      }
      const size_t after_int = pos_;
      skip_blank();
      if (peek() != ':') {
        pos_ = after_int;
        if (!first) return error("expected an index");
        sel.kind = Selector::kIndex;
        sel.index = *first;
        return {};
      }
      ++pos_;  // ':'
      sel.kind = Selector::kSlice;
      sel.start = first;
      skip_blank();
      if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
        JZ_ASSIGN_OR_RETURN(int64_t e, integer());
        sel.end = e;
        skip_blank();
      }
      if (peek() == ':') {
        ++pos_;
        skip_blank();
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          JZ_ASSIGN_OR_RETURN(sel.step, integer());
        }
      }
      return {};
    }
    return error("expected a selector: a quoted name, '*', an index, a slice or '?'");
  }

  // int = "0" / (["-"] DIGIT1 *DIGIT), within +-(2^53-1).
  Result<int64_t> integer() {
    const size_t start = pos_;
    bool neg = false;
    if (peek() == '-') {
      neg = true;
      ++pos_;
    }
    if (!(peek() >= '0' && peek() <= '9')) return error("expected digits");
    if (peek() == '0' && (neg || (peek(1) >= '0' && peek(1) <= '9'))) {
      return error(neg ? "'-0' is not an integer here" : "an integer may not start with 0");
    }
    int64_t n = 0;
    while (peek() >= '0' && peek() <= '9') {
      n = n * 10 + (peek() - '0');
      if (n > kMaxSafeInt) {
        pos_ = start;
        return error("integer out of the range +-(2^53-1)");
      }
      ++pos_;
    }
    return neg ? -n : n;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  Result<char32_t> hex4() {
    char32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(peek());
      if (h < 0) return error("expected four hex digits after \\u");
      v = v * 16 + h;
      ++pos_;
    }
    return v;
  }

  Status string_literal(std::string& out) {
    const char quote = t_[pos_++];
    out.clear();
    for (;;) {
      if (at_end()) return error("unterminated string");
      const char c = t_[pos_];
      if (c == quote) {
        ++pos_;
        return {};
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return error("control characters must be escaped in a string");
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case '/':
          out += '/';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
        case '"':
          if (e != quote) {
            --pos_;
            return error(std::string("\\") + e + " is not an escape inside " + quote + " quotes");
          }
          out += e;
          break;
        case 'u': {
          JZ_ASSIGN_OR_RETURN(char32_t cp, hex4());
          if (cp >= 0xDC00 && cp <= 0xDFFF) return error("a lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (peek() != '\\' || peek(1) != 'u')
              return error("a high surrogate must be followed by \\u and a low one");
            pos_ += 2;
            JZ_ASSIGN_OR_RETURN(char32_t lo, hex4());
            if (lo < 0xDC00 || lo > 0xDFFF) return error("expected a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          return error("unknown escape in a string");
      }
    }
  }

  // ---- filter expressions ----

  Result<std::shared_ptr<Expr>> logical_or(int depth, bool in_argument) {
    if (depth > 64) return error("filters nested too deeply");
    JZ_ASSIGN_OR_RETURN(auto left, logical_and(depth, in_argument));
    for (;;) {
      const size_t before = pos_;
      skip_blank();
      if (peek() != '|' || peek(1) != '|') {
        pos_ = before;
        return left;
      }
      pos_ += 2;
      skip_blank();
      JZ_ASSIGN_OR_RETURN(auto right, logical_and(depth, false));
      JZ_RETURN_IF_ERROR(require_logical(*left));
      JZ_RETURN_IF_ERROR(require_logical(*right));
      auto e = std::make_shared<Expr>();
      e->kind = Expr::kOr;
      e->args = {left, right};
      left = e;
    }
  }

  Result<std::shared_ptr<Expr>> logical_and(int depth, bool in_argument) {
    JZ_ASSIGN_OR_RETURN(auto left, basic(depth, in_argument));
    for (;;) {
      const size_t before = pos_;
      skip_blank();
      if (peek() != '&' || peek(1) != '&') {
        pos_ = before;
        return left;
      }
      pos_ += 2;
      skip_blank();
      JZ_ASSIGN_OR_RETURN(auto right, basic(depth, false));
      JZ_RETURN_IF_ERROR(require_logical(*left));
      JZ_RETURN_IF_ERROR(require_logical(*right));
      auto e = std::make_shared<Expr>();
      e->kind = Expr::kAnd;
      e->args = {left, right};
      left = e;
    }
  }

  // A test: a query (existence) or a function returning LogicalType.
  Status require_logical(const Expr& e) const {
    if (e.kind == Expr::kQuery || e.type() == Type::kLogical) return {};
    return error(e.kind == Expr::kLiteral
                     ? "a literal cannot stand alone as a test; compare it with something"
                     : "this function returns a value; compare it with something");
  }

  Result<std::shared_ptr<Expr>> basic(int depth, bool in_argument) {
    if (peek() == '!') {
      ++pos_;
      skip_blank();
      std::shared_ptr<Expr> inner;
      if (peek() == '(') {
        JZ_ASSIGN_OR_RETURN(inner, paren(depth));
      } else {
        JZ_ASSIGN_OR_RETURN(inner, primary(depth));
        if (inner->kind == Expr::kLiteral) return error("'!' applies to a test, not a literal");
        JZ_RETURN_IF_ERROR(require_logical(*inner));
      }
      auto e = std::make_shared<Expr>();
      e->kind = Expr::kNot;
      e->args = {inner};
      return e;
    }
    if (peek() == '(') return paren(depth);
    JZ_ASSIGN_OR_RETURN(auto left, primary(depth));
    const size_t before = pos_;
    skip_blank();
    std::optional<Cmp> op;
    if (peek() == '=' && peek(1) == '=') {
      op = Cmp::kEq, pos_ += 2;
    } else if (peek() == '!' && peek(1) == '=') {
      op = Cmp::kNe, pos_ += 2;
    } else if (peek() == '<' && peek(1) == '=') {
      op = Cmp::kLe, pos_ += 2;
    } else if (peek() == '>' && peek(1) == '=') {
      op = Cmp::kGe, pos_ += 2;
    } else if (peek() == '<') {
      op = Cmp::kLt, ++pos_;
    } else if (peek() == '>') {
      op = Cmp::kGt, ++pos_;
    }
    if (!op) {
      pos_ = before;
      // Alone: a test (or, as a function argument, any value).
      if (!in_argument) JZ_RETURN_IF_ERROR(require_logical(*left));
      return left;
    }
    JZ_RETURN_IF_ERROR(require_comparable(*left));
    skip_blank();
    JZ_ASSIGN_OR_RETURN(auto right, primary(depth));
    JZ_RETURN_IF_ERROR(require_comparable(*right));
    auto e = std::make_shared<Expr>();
    e->kind = Expr::kCompare;
    e->cmp = *op;
    e->args = {left, right};
    return e;
  }

  Status require_comparable(const Expr& e) const {
    if (e.kind == Expr::kLiteral) return {};
    if (e.kind == Expr::kQuery) {
      if (e.query.singular_form()) return {};
      return error(e.query.singular()
                       ? "a query compared must be written without blank space inside its "
                         "brackets (RFC 9535 singular-query)"
                       : "only singular queries (names and indexes) can be compared");
    }
    if (e.kind == Expr::kFunction && e.type() == Type::kValue) return {};
    return error("this cannot be compared: it is not a value");
  }

  Result<std::shared_ptr<Expr>> paren(int depth) {
    ++pos_;  // '('
    skip_blank();
    JZ_ASSIGN_OR_RETURN(auto inner, logical_or(depth + 1, false));
    skip_blank();
    if (peek() != ')') return error("expected ')'");
    ++pos_;
    return inner;
  }

  // A literal, a query (@... or $...), or a function call.
  Result<std::shared_ptr<Expr>> primary(int depth) {
    auto e = std::make_shared<Expr>();
    const char c = peek();
    if (c == '@' || c == '$') {
      ++pos_;
      e->kind = Expr::kQuery;
      e->query.relative = c == '@';
      JZ_RETURN_IF_ERROR(segments(e->query, depth));
      return e;
    }
    if (c == '\'' || c == '"') {
      std::string s;
      JZ_RETURN_IF_ERROR(string_literal(s));
      e->kind = Expr::kLiteral;
      e->literal = s;
      return e;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      JZ_ASSIGN_OR_RETURN(e->literal, number());
      e->kind = Expr::kLiteral;
      return e;
    }
    if (c >= 'a' && c <= 'z') {
      const size_t start = pos_;
      while ((peek() >= 'a' && peek() <= 'z') || (peek() >= '0' && peek() <= '9') ||
             peek() == '_') {
        ++pos_;
      }
      const std::string_view word = t_.substr(start, pos_ - start);
      if (peek() != '(') {
        if (word == "true" || word == "false" || word == "null") {
          e->kind = Expr::kLiteral;
          e->literal = word == "null" ? Value(nullptr) : Value(word == "true");
          return e;
        }
        pos_ = start;
        return error("expected a literal, a query or a function call");
      }
      return function(word, start, depth);
    }
    return error("expected a literal, a query (@ or $), a function call or '('");
  }

  Result<Value> number() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!(peek() >= '0' && peek() <= '9')) return error("expected digits");
    if (peek() == '0' && peek(1) >= '0' && peek(1) <= '9') {
      return error("a number may not start with 0");
    }
    while (peek() >= '0' && peek() <= '9') ++pos_;
    bool is_int = true;
    if (peek() == '.') {
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) return error("expected digits after '.'");
      while (peek() >= '0' && peek() <= '9') ++pos_;
      is_int = false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) return error("expected digits in the exponent");
      while (peek() >= '0' && peek() <= '9') ++pos_;
      is_int = false;
    }
    const std::string text(t_.substr(start, pos_ - start));
    if (is_int && text != "-0") {
      errno = 0;
      long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) return Value(static_cast<int64_t>(v));
    }
    return Value(std::strtod(text.c_str(), nullptr));
  }

  Result<std::shared_ptr<Expr>> function(std::string_view name, size_t start, int depth) {
    auto e = std::make_shared<Expr>();
    e->kind = Expr::kFunction;
    std::vector<Type> params;
    if (name == "length") {
      e->fn = Fn::kLength, params = {Type::kValue};
    } else if (name == "count") {
      e->fn = Fn::kCount, params = {Type::kNodes};
    } else if (name == "match") {
      e->fn = Fn::kMatch, params = {Type::kValue, Type::kValue};
    } else if (name == "search") {
      e->fn = Fn::kSearch, params = {Type::kValue, Type::kValue};
    } else if (name == "value") {
      e->fn = Fn::kValue, params = {Type::kNodes};
    } else {
      pos_ = start;
      return error("unknown function '" + std::string(name) +
                   "' (known: length, count, match, search, value)");
    }
    ++pos_;  // '('
    skip_blank();
    if (peek() != ')') {
      for (;;) {
        JZ_ASSIGN_OR_RETURN(auto arg, logical_or(depth + 1, true));
        e->args.push_back(arg);
        skip_blank();
        if (peek() == ',') {
          ++pos_;
          skip_blank();
          continue;
        }
        break;
      }
    }
    if (peek() != ')') return error("expected ',' or ')' in the arguments of " + std::string(name));
    if (e->args.size() != params.size()) {
      return error(std::string(name) + "() takes " + std::to_string(params.size()) +
                   " argument(s), got " + std::to_string(e->args.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const Expr& a = *e->args[i];
      bool ok = false;
      switch (params[i]) {
        case Type::kValue:
          ok = a.kind == Expr::kLiteral || (a.kind == Expr::kQuery && a.query.singular_form()) ||
               (a.kind == Expr::kFunction && a.type() == Type::kValue);
          break;
        case Type::kNodes:
          ok = a.kind == Expr::kQuery;
          break;
        case Type::kLogical:
          ok = a.kind == Expr::kQuery || a.type() == Type::kLogical;
          break;
      }
      if (!ok) {
        return error(
            "argument " + std::to_string(i + 1) + " of " + std::string(name) + "() must be " +
            (params[i] == Type::kNodes ? "a query" : "a value (a literal or a singular query)"));
      }
    }
    ++pos_;  // ')'
    if ((e->fn == Fn::kMatch || e->fn == Fn::kSearch) && e->args[1]->kind == Expr::kLiteral) {
      const Value& p = e->args[1]->literal;
      if (p.is_string()) {
        e->regex = IRegexp::compile(p.get_ref<const std::string&>());
        e->regex_invalid = !e->regex;
      } else {
        e->regex_invalid = true;
      }
    }
    return e;
  }

  std::string_view t_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------

// Where a node is, for normalized paths: an arena of (parent, member name or index).
struct PathArena {
  struct Step {
    int parent;
    const std::string* name;  // member name, or null for an index
    size_t index;
  };
  std::vector<Step> steps;
  int add(int parent, const std::string* name, size_t index) {
    steps.push_back({parent, name, index});
    return static_cast<int>(steps.size() - 1);
  }
  std::string render(int at) const {
    std::vector<int> chain;
    for (int i = at; i >= 0; i = steps[i].parent) chain.push_back(i);
    std::string out = "$";
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Step& s = steps[*it];
      out += '[';
      out += s.name ? normalized_name(*s.name) : std::to_string(s.index);
      out += ']';
    }
    return out;
  }
};

struct Node {
  const Value* v;
  int path;  // index into the arena, -1 for the root or when paths are off
};

// A value or Nothing, possibly owned (function results).
struct Val {
  const Value* ptr = nullptr;
  Value owned;
  bool owns = false;
  bool nothing() const { return !ptr && !owns; }
  const Value& get() const { return owns ? owned : *ptr; }
};

bool numbers_equal(const Value& a, const Value& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    if (a.is_number_unsigned() || b.is_number_unsigned()) {
      if (a.is_number_unsigned() && b.is_number_unsigned()) {
        return a.get<uint64_t>() == b.get<uint64_t>();
      }
      const Value& s = a.is_number_unsigned() ? b : a;
      const Value& u = a.is_number_unsigned() ? a : b;
      return s.get<int64_t>() >= 0 && static_cast<uint64_t>(s.get<int64_t>()) == u.get<uint64_t>();
    }
    return a.get<int64_t>() == b.get<int64_t>();
  }
  return a.get<double>() == b.get<double>();
}

bool number_less(const Value& a, const Value& b) {
  if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() &&
      !b.is_number_unsigned()) {
    return a.get<int64_t>() < b.get<int64_t>();
  }
  return a.get<double>() < b.get<double>();
}

bool deep_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return numbers_equal(a, b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!deep_equal(a[i], b[i])) return false;
      }
      return true;
    }
    case Value::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !deep_equal(*it, *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

class Evaluator {
 public:
  Evaluator(const Value& root, PathArena* arena) : root_(root), arena_(arena) {}

  void run(const PathQuery& q, const Node& start, std::vector<Node>& out) {
    std::vector<Node> cur{start}, next;
    for (const auto& seg : q.segments) {
      next.clear();
      for (const Node& n : cur) {
        if (seg.descendant) {
          descend(n, seg, next);
        } else {
          for (const auto& sel : seg.selectors) apply(sel, n, next);
        }
      }
      cur.swap(next);
      if (cur.empty()) break;
    }
    out.insert(out.end(), cur.begin(), cur.end());
  }

 private:
  Node child(const Node& parent, const Value& v, const std::string* name, size_t index) {
    return {&v, arena_ ? arena_->add(parent.path, name, index) : -1};
  }

  void descend(const Node& n, const Segment& seg, std::vector<Node>& out) {
    for (const auto& sel : seg.selectors) apply(sel, n, out);
    const Value& v = *n.v;
    if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) descend(child(n, v[i], nullptr, i), seg, out);
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        descend(child(n, *it, &it.key(), 0), seg, out);
      }
    }
  }

  void apply(const Selector& sel, const Node& n, std::vector<Node>& out) {
    const Value& v = *n.v;
    switch (sel.kind) {
      case Selector::kName:
        if (v.is_object()) {
          auto it = v.find(sel.name);
          if (it != v.end()) out.push_back(child(n, *it, &it.key(), 0));
        }
        break;
      case Selector::kWildcard:
        if (v.is_array()) {
          for (size_t i = 0; i < v.size(); ++i) out.push_back(child(n, v[i], nullptr, i));
        } else if (v.is_object()) {
          for (auto it = v.begin(); it != v.end(); ++it) {
            out.push_back(child(n, *it, &it.key(), 0));
          }
        }
        break;
      case Selector::kIndex:
        if (v.is_array()) {
          const auto len = static_cast<int64_t>(v.size());
          const int64_t i = sel.index < 0 ? sel.index + len : sel.index;
          if (i >= 0 && i < len) out.push_back(child(n, v[i], nullptr, static_cast<size_t>(i)));
        }
        break;
      case Selector::kSlice:
        if (v.is_array()) slice(sel, n, out);
        break;
      case Selector::kFilter:
        if (v.is_array()) {
          for (size_t i = 0; i < v.size(); ++i) {
            if (test(*sel.filter, v[i])) out.push_back(child(n, v[i], nullptr, i));
          }
        } else if (v.is_object()) {
          for (auto it = v.begin(); it != v.end(); ++it) {
            if (test(*sel.filter, *it)) out.push_back(child(n, *it, &it.key(), 0));
          }
        }
        break;
    }
  }

  // RFC 9535 section 2.3.4.2.2.
  void slice(const Selector& sel, const Node& n, std::vector<Node>& out) {
    const Value& v = *n.v;
    const int64_t len = static_cast<int64_t>(v.size());
    const int64_t step = sel.step;
    if (step == 0) return;
    auto normalize = [len](int64_t i) { return i >= 0 ? i : len + i; };
    if (step > 0) {
      const int64_t start = sel.start ? normalize(*sel.start) : 0;
      const int64_t end = sel.end ? normalize(*sel.end) : len;
      const int64_t lower = std::min(std::max(start, int64_t{0}), len);
      const int64_t upper = std::min(std::max(end, int64_t{0}), len);
      for (int64_t i = lower; i < upper; i += step) {
        out.push_back(child(n, v[i], nullptr, static_cast<size_t>(i)));
      }
    } else {
      const int64_t start = sel.start ? normalize(*sel.start) : len - 1;
      const int64_t end = sel.end ? normalize(*sel.end) : -len - 1;
      const int64_t upper = std::min(std::max(start, int64_t{-1}), len - 1);
      const int64_t lower = std::min(std::max(end, int64_t{-1}), len - 1);
      for (int64_t i = upper; lower < i; i += step) {
        out.push_back(child(n, v[i], nullptr, static_cast<size_t>(i)));
      }
    }
  }

  // Filter sub-queries never need paths.
  std::vector<Node> nodes(const PathQuery& q, const Value& current) {
    Evaluator sub(root_, nullptr);
    std::vector<Node> out;
    sub.run(q, Node{q.relative ? &current : &root_, -1}, out);
    return out;
  }

  bool test(const Expr& e, const Value& cur) {
    switch (e.kind) {
      case Expr::kOr:
        return test(*e.args[0], cur) || test(*e.args[1], cur);
      case Expr::kAnd:
        return test(*e.args[0], cur) && test(*e.args[1], cur);
      case Expr::kNot:
        return !test(*e.args[0], cur);
      case Expr::kQuery:
        return !nodes(e.query, cur).empty();
      case Expr::kCompare:
        return compare(e.cmp, value(*e.args[0], cur), value(*e.args[1], cur));
      case Expr::kFunction:
        return logical_function(e, cur);
      case Expr::kLiteral:
        return false;  // rejected by the parser
    }
    return false;
  }

  Val value(const Expr& e, const Value& cur) {
    Val out;
    switch (e.kind) {
      case Expr::kLiteral:
        out.ptr = &e.literal;
        break;
      case Expr::kQuery: {
        auto ns = nodes(e.query, cur);
        if (ns.size() == 1) out.ptr = ns[0].v;
        break;
      }
      case Expr::kFunction:
        if (e.type() == Type::kValue) return value_function(e, cur);
        out.owned = logical_function(e, cur);  // not reachable: the parser checks types
        out.owns = true;
        break;
      default:
        out.owned = test(e, cur);
        out.owns = true;
    }
    return out;
  }

  Val value_function(const Expr& e, const Value& cur) {
    Val out;
    switch (e.fn) {
      case Fn::kLength: {
        Val a = value(*e.args[0], cur);
        if (a.nothing()) break;
        const Value& v = a.get();
        if (v.is_string()) {
          const auto& s = v.get_ref<const std::string&>();
          int64_t n = 0;
          for (unsigned char c : s) n += (c & 0xC0) != 0x80;
          out.owned = n;
          out.owns = true;
        } else if (v.is_array() || v.is_object()) {
          out.owned = static_cast<int64_t>(v.size());
          out.owns = true;
        }
        break;
      }
      case Fn::kCount:
        out.owned = static_cast<int64_t>(nodes(e.args[0]->query, cur).size());
        out.owns = true;
        break;
      case Fn::kValue: {
        auto ns = nodes(e.args[0]->query, cur);
        if (ns.size() == 1) out.ptr = ns[0].v;
        break;
      }
      default:
        break;
    }
    return out;
  }

  bool logical_function(const Expr& e, const Value& cur) {
    if (e.fn != Fn::kMatch && e.fn != Fn::kSearch) return false;
    Val text = value(*e.args[0], cur);
    if (text.nothing() || !text.get().is_string()) return false;
    const auto& s = text.get().get_ref<const std::string&>();
    if (e.regex_invalid) return false;
    if (e.regex) return e.fn == Fn::kMatch ? e.regex->full_match(s) : e.regex->search(s);
    Val pattern = value(*e.args[1], cur);
    if (pattern.nothing() || !pattern.get().is_string()) return false;
    auto re = IRegexp::compile(pattern.get().get_ref<const std::string&>());
    if (!re) return false;
    return e.fn == Fn::kMatch ? re->full_match(s) : re->search(s);
  }

  static bool equal(const Val& a, const Val& b) {
    if (a.nothing() || b.nothing()) return a.nothing() && b.nothing();
    return deep_equal(a.get(), b.get());
  }
  static bool less(const Val& a, const Val& b) {
    if (a.nothing() || b.nothing()) return false;
    const Value& x = a.get();
    const Value& y = b.get();
    if (x.is_number() && y.is_number()) return number_less(x, y);
    if (x.is_string() && y.is_string()) {
      return x.get_ref<const std::string&>() < y.get_ref<const std::string&>();
    }
    return false;
  }
  static bool compare(Cmp op, const Val& a, const Val& b) {
    switch (op) {
      case Cmp::kEq:
        return equal(a, b);
      case Cmp::kNe:
        return !equal(a, b);
      case Cmp::kLt:
        return less(a, b);
      case Cmp::kLe:
        return less(a, b) || equal(a, b);
      case Cmp::kGt:
        return less(b, a);
      case Cmp::kGe:
        return less(b, a) || equal(a, b);
    }
    return false;
  }

  const Value& root_;
  PathArena* arena_;
};

}  // namespace

std::string normalized_name(std::string_view name) {
  std::string out = "'";
  for (unsigned char c : name) {
    switch (c) {
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '\'';
  return out;
}

Result<Query> Query::parse(std::string_view text) {
  Parser p(text);
  JZ_ASSIGN_OR_RETURN(PathQuery pq, p.parse());
  auto ast = std::make_shared<Ast>();
  ast->query = std::move(pq);
  Query q;
  q.ast_ = std::move(ast);
  q.text_ = std::string(text);
  return q;
}

std::vector<const Value*> Query::select(const Value& root) const {
  Evaluator ev(root, nullptr);
  std::vector<Node> nodes;
  ev.run(ast_->query, Node{&root, -1}, nodes);
  std::vector<const Value*> out;
  out.reserve(nodes.size());
  for (const auto& n : nodes) out.push_back(n.v);
  return out;
}

std::vector<Match> Query::select_with_paths(const Value& root) const {
  PathArena arena;
  Evaluator ev(root, &arena);
  std::vector<Node> nodes;
  ev.run(ast_->query, Node{&root, -1}, nodes);
  std::vector<Match> out;
  out.reserve(nodes.size());
  for (const auto& n : nodes) out.push_back({n.v, arena.render(n.path)});
  return out;
}

bool Query::singular() const { return ast_->query.singular(); }

std::optional<std::vector<Query::Step>> Query::simple_steps() const {
  std::vector<Step> steps;
  for (const auto& seg : ast_->query.segments) {
    if (seg.descendant || seg.selectors.size() != 1) return std::nullopt;
    const Selector& s = seg.selectors[0];
    switch (s.kind) {
      case Selector::kName:
        steps.push_back({Step::kName, s.name, 0});
        break;
      case Selector::kIndex:
        steps.push_back({Step::kIndex, "", s.index});
        break;
      case Selector::kWildcard:
        steps.push_back({Step::kWildcard, "", 0});
        break;
      default:
        return std::nullopt;
    }
  }
  return steps;
}

}  // namespace jz::routepath
