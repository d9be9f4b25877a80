#include "platform/alerts/promql.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace jz::alerts::promql {

namespace {

constexpr size_t kMaxText = 4096;
constexpr int kMaxDepth = 64;
constexpr int64_t kLookbackMs = int64_t{5} * 60 * 1000;

const std::set<std::string> kRangeFunctions = {"rate", "avg_over_time", "max_over_time",
                                               "min_over_time"};
const std::set<std::string> kAggregations = {"sum", "avg", "max", "min"};

bool is_comparison(const std::string& op) {
  return op == ">" || op == ">=" || op == "<" || op == "<=" || op == "==" || op == "!=";
}

struct Token {
  enum Kind { kEnd, kIdent, kNumber, kString, kDuration, kPunct } kind = kEnd;
  std::string text;
  double number = 0;
  int64_t ms = 0;
  size_t pos = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<std::shared_ptr<const Expr>> run() {
    JZ_RETURN_IF_ERROR(next());
    JZ_ASSIGN_OR_RETURN(auto e, comparison(0));
    if (tok_.kind != Token::kEnd) return error("an operator or the end");
    return e;
  }

 private:
  Status error(const std::string& expected) const {
    const std::string got = tok_.kind == Token::kEnd ? "the end" : "'" + tok_.text + "'";
    return Status::invalid_argument("expr: at character " + std::to_string(tok_.pos + 1) +
                                    ": expected " + expected + ", found " + got);
  }

  static bool ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  }
  static bool ident_char(char c) {
    return ident_start(c) || std::isdigit(static_cast<unsigned char>(c));
  }

  // Longer durations are refused (no range or window needs them; 64-bit milliseconds
  // would overflow past 292 million years).
  static constexpr int64_t kMaxDurationMs = int64_t{100} * 365 * 24 * 3600 * 1000;

  // A duration's units, longest first where one is the prefix of another ("ms" before "m").
  static int64_t unit_ms(std::string_view u) {
    if (u == "ms") return 1;
    if (u == "s") return 1000;
    if (u == "m") return 60'000;
    if (u == "h") return 3'600'000;
    if (u == "d") return 86'400'000;
    if (u == "w") return 604'800'000;
    if (u == "y") return 31'536'000'000;
    return 0;
  }

  Status next() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    tok_ = Token{};
    tok_.pos = i_;
    if (i_ >= s_.size()) return {};
    const char c = s_[i_];
    if (ident_start(c)) {
      size_t j = i_;
      while (j < s_.size() && ident_char(s_[j])) ++j;
      tok_.kind = Token::kIdent;
      tok_.text = std::string(s_.substr(i_, j - i_));
      i_ = j;
      return {};
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      // A duration (digits and a unit, repeated) or a number.
      size_t j = i_;
      int64_t total = 0;
      bool duration = false;
      for (;;) {
        size_t k = j;
        while (k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k]))) ++k;
        if (k == j) break;
        size_t u = k;
        while (u < s_.size() && std::isalpha(static_cast<unsigned char>(s_[u]))) ++u;
        const int64_t per = unit_ms(s_.substr(k, u - k));
        if (per == 0 || k - j > 12) break;
        int64_t part = 0;
        if (__builtin_mul_overflow(std::stoll(std::string(s_.substr(j, k - j))), per, &part) ||
            __builtin_add_overflow(total, part, &total) || total > kMaxDurationMs) {
          return Status::invalid_argument("expr: at character " + std::to_string(i_ + 1) +
                                          ": duration '" + std::string(s_.substr(i_, u - i_)) +
                                          "' is longer than 100 years");
        }
        duration = true;
        j = u;
      }
      if (duration) {
        tok_.kind = Token::kDuration;
        tok_.ms = total;
        tok_.text = std::string(s_.substr(i_, j - i_));
        i_ = j;
        return {};
      }
      size_t j2 = i_;
      while (j2 < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[j2])) || s_[j2] == '.' ||
                                s_[j2] == 'e' || s_[j2] == 'E' ||
                                ((s_[j2] == '+' || s_[j2] == '-') && j2 > i_ &&
                                 (s_[j2 - 1] == 'e' || s_[j2 - 1] == 'E')))) {
        ++j2;
      }
      tok_.text = std::string(s_.substr(i_, j2 - i_));
      double v = 0;
      auto [p, ec] = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
      if (ec != std::errc() || p != tok_.text.data() + tok_.text.size()) {
        return Status::invalid_argument("expr: at character " + std::to_string(i_ + 1) + ": '" +
                                        tok_.text + "' is not a number");
      }
      tok_.kind = Token::kNumber;
      tok_.number = v;
      i_ = j2;
      return {};
    }
    if (c == '"' || c == '\'') {
      std::string out;
      size_t j = i_ + 1;
      for (;;) {
        if (j >= s_.size()) {
          return Status::invalid_argument("expr: at character " + std::to_string(i_ + 1) +
                                          ": a string that does not end");
        }
        const char d = s_[j];
        if (d == c) break;
        if (d == '\\' && j + 1 < s_.size()) {
          const char e = s_[++j];
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          out += d;
        }
        ++j;
      }
      tok_.kind = Token::kString;
      tok_.text = std::move(out);
      i_ = j + 1;
      return {};
    }
    static const char* kTwo[] = {">=", "<=", "==", "!=", "=~", "!~"};
    for (const char* t : kTwo) {
      if (s_.substr(i_, 2) == t) {
        tok_.kind = Token::kPunct;
        tok_.text = t;
        i_ += 2;
        return {};
      }
    }
    if (std::strchr("(){}[],=<>+-*/", c) != nullptr && c != '\0') {
      tok_.kind = Token::kPunct;
      tok_.text = std::string(1, c);
      ++i_;
      return {};
    }
    return Status::invalid_argument("expr: at character " + std::to_string(i_ + 1) +
                                    ": unexpected '" + std::string(1, c) + "'");
  }

  bool punct(const char* p) const { return tok_.kind == Token::kPunct && tok_.text == p; }
  Status expect(const char* p) {
    if (!punct(p)) return error(std::string("'") + p + "'");
    return next();
  }

  static std::shared_ptr<Expr> binary(std::string op, std::shared_ptr<const Expr> a,
                                      std::shared_ptr<const Expr> b) {
    auto e = std::make_shared<Expr>();
    e->kind = Expr::Kind::kBinary;
    e->op = std::move(op);
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  Result<std::shared_ptr<const Expr>> checked(std::shared_ptr<Expr> e, size_t pos) {
    if (e->kind != Expr::Kind::kBinary) return std::shared_ptr<const Expr>(std::move(e));
    const bool va = is_vector(*e->a), vb = is_vector(*e->b);
    if (is_comparison(e->op) && !va && !vb) {
      return Status::invalid_argument("expr: at character " + std::to_string(pos + 1) +
                                      ": comparing two numbers (" + e->op +
                                      ") needs a vector on one side");
    }
    return std::shared_ptr<const Expr>(std::move(e));
  }

  Result<std::shared_ptr<const Expr>> comparison(int depth) {
    JZ_ASSIGN_OR_RETURN(auto left, additive(depth));
    while (tok_.kind == Token::kPunct && is_comparison(tok_.text)) {
      const std::string op = tok_.text;
      const size_t pos = tok_.pos;
      JZ_RETURN_IF_ERROR(next());
      JZ_ASSIGN_OR_RETURN(auto right, additive(depth));
      JZ_ASSIGN_OR_RETURN(left, checked(binary(op, left, right), pos));
    }
    return left;
  }

  Result<std::shared_ptr<const Expr>> additive(int depth) {
    JZ_ASSIGN_OR_RETURN(auto left, multiplicative(depth));
    while (punct("+") || punct("-")) {
      const std::string op = tok_.text;
      JZ_RETURN_IF_ERROR(next());
      JZ_ASSIGN_OR_RETURN(auto right, multiplicative(depth));
      left = binary(op, left, right);
    }
    return left;
  }

  Result<std::shared_ptr<const Expr>> multiplicative(int depth) {
    JZ_ASSIGN_OR_RETURN(auto left, unary(depth));
    while (punct("*") || punct("/")) {
      const std::string op = tok_.text;
      JZ_RETURN_IF_ERROR(next());
      JZ_ASSIGN_OR_RETURN(auto right, unary(depth));
      left = binary(op, left, right);
    }
    return left;
  }

  Result<std::shared_ptr<const Expr>> unary(int depth) {
    if (depth > kMaxDepth) return Status::invalid_argument("expr: nested more than 64 deep");
    if (punct("-") || punct("+")) {
      const bool minus = punct("-");
      JZ_RETURN_IF_ERROR(next());
      JZ_ASSIGN_OR_RETURN(auto inner, unary(depth + 1));
      if (!minus) return inner;
      if (inner->kind == Expr::Kind::kNumber) {
        auto n = std::make_shared<Expr>(*inner);
        n->number = -n->number;
        return std::shared_ptr<const Expr>(n);
      }
      auto e = std::make_shared<Expr>();
      e->kind = Expr::Kind::kNegate;
      e->a = inner;
      return std::shared_ptr<const Expr>(e);
    }
    return primary(depth + 1);
  }

  Result<std::vector<std::string>> label_list() {
    JZ_RETURN_IF_ERROR(expect("("));
    std::vector<std::string> out;
    while (!punct(")")) {
      if (tok_.kind != Token::kIdent) return error("a label name");
      out.push_back(tok_.text);
      JZ_RETURN_IF_ERROR(next());
      if (punct(",")) {
        JZ_RETURN_IF_ERROR(next());
      } else if (!punct(")")) {
        return error("',' or ')'");
      }
    }
    JZ_RETURN_IF_ERROR(next());
    return out;
  }

  Result<std::shared_ptr<const Expr>> primary(int depth) {
    if (depth > kMaxDepth) return Status::invalid_argument("expr: nested more than 64 deep");
    if (tok_.kind == Token::kNumber) {
      auto e = std::make_shared<Expr>();
      e->number = tok_.number;
      JZ_RETURN_IF_ERROR(next());
      return std::shared_ptr<const Expr>(e);
    }
    if (punct("(")) {
      JZ_RETURN_IF_ERROR(next());
      JZ_ASSIGN_OR_RETURN(auto inner, comparison(depth + 1));
      JZ_RETURN_IF_ERROR(expect(")"));
      return inner;
    }
    if (punct("{")) return selector("", depth);
    if (tok_.kind != Token::kIdent) return error("a number, a metric, a function or '('");
    const std::string name = tok_.text;
    const size_t pos = tok_.pos;
    JZ_RETURN_IF_ERROR(next());
    if (kAggregations.count(name) &&
        (punct("(") || (tok_.kind == Token::kIdent && tok_.text == "by"))) {
      auto e = std::make_shared<Expr>();
      e->kind = Expr::Kind::kAggregate;
      e->func = name;
      if (tok_.kind == Token::kIdent && tok_.text == "by") {
        JZ_RETURN_IF_ERROR(next());
        JZ_ASSIGN_OR_RETURN(e->by, label_list());
      }
      JZ_RETURN_IF_ERROR(expect("("));
      JZ_ASSIGN_OR_RETURN(e->a, comparison(depth + 1));
      JZ_RETURN_IF_ERROR(expect(")"));
      if (e->by.empty() && tok_.kind == Token::kIdent && tok_.text == "by") {
        JZ_RETURN_IF_ERROR(next());
        JZ_ASSIGN_OR_RETURN(e->by, label_list());
      }
      if (!is_vector(*e->a)) {
        return Status::invalid_argument("expr: at character " + std::to_string(pos + 1) + ": " +
                                        name + "() aggregates a vector, not a number");
      }
      return std::shared_ptr<const Expr>(e);
    }
    if (punct("(")) {
      if (!kRangeFunctions.count(name)) {
        return Status::invalid_argument(
            "expr: at character " + std::to_string(pos + 1) + ": '" + name +
            "' is not a function here (rate, avg_over_time, max_over_time, min_over_time, and "
            "sum, avg, max, min to aggregate)");
      }
      JZ_RETURN_IF_ERROR(next());
      auto e = std::make_shared<Expr>();
      e->kind = Expr::Kind::kCall;
      e->func = name;
      const size_t at = tok_.pos;
      JZ_ASSIGN_OR_RETURN(e->a, primary(depth + 1));
      if (e->a->kind != Expr::Kind::kSelector || e->a->range_ms == 0) {
        return Status::invalid_argument("expr: at character " + std::to_string(at + 1) + ": " +
                                        name + "() takes a range, like metric[5m]");
      }
      JZ_RETURN_IF_ERROR(expect(")"));
      return std::shared_ptr<const Expr>(e);
    }
    if (name == "by")
      return Status::invalid_argument("expr: at character " + std::to_string(pos + 1) +
                                      ": 'by' belongs to an aggregation");
    return selector(name, depth);
  }

  Result<std::shared_ptr<const Expr>> selector(std::string metric, int /*depth*/) {
    auto e = std::make_shared<Expr>();
    e->kind = Expr::Kind::kSelector;
    e->metric = std::move(metric);
    if (punct("{")) {
      JZ_RETURN_IF_ERROR(next());
      while (!punct("}")) {
        if (tok_.kind != Token::kIdent) return error("a label name");
        const std::string label = tok_.text;
        JZ_RETURN_IF_ERROR(next());
        Matcher::Op op;
        if (punct("=")) {
          op = Matcher::Op::kEq;
        } else if (punct("!=")) {
          op = Matcher::Op::kNe;
        } else if (punct("=~")) {
          op = Matcher::Op::kRe;
        } else if (punct("!~")) {
          op = Matcher::Op::kNre;
        } else {
          return error("=, !=, =~ or !~");
        }
        JZ_RETURN_IF_ERROR(next());
        if (tok_.kind != Token::kString) return error("a quoted string");
        JZ_ASSIGN_OR_RETURN(auto m, make_matcher(label, op, tok_.text));
        if (label == "__name__") {
          if (op != Matcher::Op::kEq || !e->metric.empty()) {
            return Status::invalid_argument("expr: __name__ only as the metric's name (=)");
          }
          e->metric = m.value;
        } else {
          e->matchers.push_back(std::move(m));
        }
        JZ_RETURN_IF_ERROR(next());
        if (punct(",")) {
          JZ_RETURN_IF_ERROR(next());
        } else if (!punct("}")) {
          return error("',' or '}'");
        }
      }
      JZ_RETURN_IF_ERROR(next());
    }
    if (e->metric.empty()) return Status::invalid_argument("expr: a selector needs a metric name");
    if (punct("[")) {
      JZ_RETURN_IF_ERROR(next());
      if (tok_.kind != Token::kDuration || tok_.ms <= 0) return error("a duration like 5m");
      e->range_ms = tok_.ms;
      JZ_RETURN_IF_ERROR(next());
      JZ_RETURN_IF_ERROR(expect("]"));
    }
    return std::shared_ptr<const Expr>(e);
  }

  std::string_view s_;
  size_t i_ = 0;
  Token tok_;
};

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string duration_text(int64_t ms) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"y", 31'536'000'000}, {"w", 604'800'000}, {"d", 86'400'000}, {"h", 3'600'000},
      {"m", 60'000},         {"s", 1000},        {"ms", 1}};
  std::string out;
  for (const auto& [u, per] : kUnits) {
    if (ms >= per) {
      out += std::to_string(ms / per) + u;
      ms %= per;
    }
  }
  return out.empty() ? "0s" : out;
}

std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string key_of(const Labels& l) {
  std::string k;
  for (const auto& [n, v] : l) {
    k += n;
    k += '\x01';
    k += v;
    k += '\x02';
  }
  return k;
}

double apply(const std::string& op, double a, double b) {
  if (op == "+") return a + b;
  if (op == "-") return a - b;
  if (op == "*") return a * b;
  if (op == "/") return a / b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == "==") return a == b;
  return a != b;
}

// Prometheus's extrapolated rate of a counter over [start, end].
bool rate_of(const std::vector<Point>& pts, int64_t start_ms, int64_t end_ms, double& out) {
  if (pts.size() < 2) return false;
  double delta = pts.back().value - pts.front().value;
  for (size_t i = 1; i < pts.size(); ++i) {
    if (pts[i].value < pts[i - 1].value) delta += pts[i - 1].value;  // a reset
  }
  const double sampled = static_cast<double>(pts.back().t_ms - pts.front().t_ms) / 1000;
  if (sampled <= 0) return false;
  double to_start = static_cast<double>(pts.front().t_ms - start_ms) / 1000;
  const double to_end = static_cast<double>(end_ms - pts.back().t_ms) / 1000;
  const double avg_step = sampled / static_cast<double>(pts.size() - 1);
  if (delta > 0 && pts.front().value >= 0) {
    const double to_zero = sampled * (pts.front().value / delta);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = avg_step * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_step / 2;
  interval += to_end < threshold ? to_end : avg_step / 2;
  // In Prometheus's order of operations, so the last bit agrees.
  double factor = interval / sampled;
  factor /= static_cast<double>(end_ms - start_ms) / 1000;
  out = delta * factor;
  return true;
}

Result<Value> eval(const Expr& e, const Source& src, int64_t t) {
  Value out;
  switch (e.kind) {
    case Expr::Kind::kNumber:
      out.scalar = true;
      out.number = e.number;
      return out;
    case Expr::Kind::kSelector: {
      if (e.range_ms > 0) {
        return Status::invalid_argument("expr: a range (" + format(e) +
                                        ") belongs inside rate() or *_over_time()");
      }
      for (auto& s : src.select(e.metric, e.matchers, t - kLookbackMs, t)) {
        if (s.points.empty()) continue;
        out.samples.push_back({std::move(s.labels), s.points.back().value});
      }
      return out;
    }
    case Expr::Kind::kCall: {
      const Expr& sel = *e.a;
      const int64_t start = t - sel.range_ms;
      for (auto& s : src.select(sel.metric, sel.matchers, start, t)) {
        if (s.points.empty()) continue;
        double v = 0;
        if (e.func == "rate") {
          if (!rate_of(s.points, start, t, v)) continue;
        } else if (e.func == "avg_over_time") {
          for (const auto& p : s.points) v += p.value;
          v /= static_cast<double>(s.points.size());
        } else if (e.func == "max_over_time") {
          v = -std::numeric_limits<double>::infinity();
          for (const auto& p : s.points) v = std::max(v, p.value);
        } else {
          v = std::numeric_limits<double>::infinity();
          for (const auto& p : s.points) v = std::min(v, p.value);
        }
        out.samples.push_back({std::move(s.labels), v});
      }
      return out;
    }
    case Expr::Kind::kAggregate: {
      JZ_ASSIGN_OR_RETURN(Value in, eval(*e.a, src, t));
      struct Acc {
        Labels labels;
        double v = 0;
        int64_t n = 0;
      };
      std::map<std::string, Acc> groups;
      for (const auto& s : in.samples) {
        Labels g;
        for (const auto& l : e.by) {
          auto it = s.labels.find(l);
          if (it != s.labels.end()) g[l] = it->second;
        }
        Acc& a = groups[key_of(g)];
        if (a.n == 0) {
          a.labels = std::move(g);
          a.v = s.value;
        } else if (e.func == "sum" || e.func == "avg") {
          a.v += s.value;
        } else if (e.func == "max") {
          a.v = std::max(a.v, s.value);
        } else {
          a.v = std::min(a.v, s.value);
        }
        ++a.n;
      }
      for (auto& [k, a] : groups) {
        out.samples.push_back(
            {std::move(a.labels), e.func == "avg" ? a.v / static_cast<double>(a.n) : a.v});
      }
      return out;
    }
    case Expr::Kind::kNegate: {
      JZ_ASSIGN_OR_RETURN(out, eval(*e.a, src, t));
      out.number = -out.number;
      for (auto& s : out.samples) s.value = -s.value;
      return out;
    }
    case Expr::Kind::kBinary: {
      JZ_ASSIGN_OR_RETURN(Value a, eval(*e.a, src, t));
      JZ_ASSIGN_OR_RETURN(Value b, eval(*e.b, src, t));
      const bool cmp = is_comparison(e.op);
      if (a.scalar && b.scalar) {
        out.scalar = true;
        out.number = apply(e.op, a.number, b.number);
        return out;
      }
      if (a.scalar || b.scalar) {
        Value& v = a.scalar ? b : a;
        const double n = a.scalar ? a.number : b.number;
        for (auto& s : v.samples) {
          const double r = a.scalar ? apply(e.op, n, s.value) : apply(e.op, s.value, n);
          if (cmp) {
            if (r != 0) out.samples.push_back(std::move(s));
          } else {
            s.value = r;
            out.samples.push_back(std::move(s));
          }
        }
        return out;
      }
      std::map<std::string, double> right;
      for (const auto& s : b.samples) right.emplace(key_of(s.labels), s.value);
      for (auto& s : a.samples) {
        auto it = right.find(key_of(s.labels));
        if (it == right.end()) continue;
        const double r = apply(e.op, s.value, it->second);
        if (cmp) {
          if (r != 0) out.samples.push_back(std::move(s));
        } else {
          s.value = r;
          out.samples.push_back(std::move(s));
        }
      }
      return out;
    }
  }
  return Status::internal("promql: unknown node");
}

// How tightly a node binds: comparisons 1, + and - 2, * and / 3, everything else (unary minus,
// calls, selectors, numbers) 4.
int precedence(const Expr& e) {
  if (e.kind != Expr::Kind::kBinary) return 4;
  if (is_comparison(e.op)) return 1;
  return e.op == "+" || e.op == "-" ? 2 : 3;
}

// An operand in parentheses only where the parser would otherwise group it differently
// (binary operators are left-associative). Redundant parentheses would make each round trip
// nest deeper, and a long chain could pass the depth limit once formatted.
std::string format_operand(const Expr& e, int parent, bool right) {
  const std::string f = format(e);
  const int p = precedence(e);
  return p < parent || (right && p == parent) ? "(" + f + ")" : f;
}

}  // namespace

bool Matcher::matches(const std::string& v) const {
  switch (op) {
    case Op::kEq:
      return v == value;
    case Op::kNe:
      return v != value;
    case Op::kRe:
      return RE2::FullMatch(v, *re);
    case Op::kNre:
      return !RE2::FullMatch(v, *re);
  }
  return false;
}

Result<Matcher> make_matcher(std::string label, Matcher::Op op, std::string value) {
  Matcher m{std::move(label), op, std::move(value), nullptr};
  if (op == Matcher::Op::kRe || op == Matcher::Op::kNre) {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(1 << 20);
    auto re = std::make_shared<RE2>(m.value, o);
    if (!re->ok()) {
      return Status::invalid_argument("expr: the regular expression '" + m.value + "' of label " +
                                      m.label + ": " + re->error());
    }
    m.re = std::move(re);
  }
  return m;
}

Result<std::shared_ptr<const Expr>> parse(std::string_view text) {
  if (text.size() > kMaxText) {
    return Status::invalid_argument("expr: longer than 4096 characters");
  }
  return Parser(text).run();
}

bool is_vector(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber:
      return false;
    case Expr::Kind::kNegate:
      return is_vector(*e.a);
    case Expr::Kind::kBinary:
      return is_vector(*e.a) || is_vector(*e.b);
    default:
      return true;
  }
}

std::string format(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber:
      return number_text(e.number);
    case Expr::Kind::kSelector: {
      std::string out = e.metric;
      if (!e.matchers.empty()) {
        out += "{";
        for (size_t i = 0; i < e.matchers.size(); ++i) {
          const Matcher& m = e.matchers[i];
          static const char* kOps[] = {"=", "!=", "=~", "!~"};
          out += (i ? ", " : "") + m.label + kOps[static_cast<int>(m.op)] + quote(m.value);
        }
        out += "}";
      }
      if (e.range_ms > 0) out += "[" + duration_text(e.range_ms) + "]";
      return out;
    }
    case Expr::Kind::kCall:
      return e.func + "(" + format(*e.a) + ")";
    case Expr::Kind::kAggregate: {
      std::string out = e.func;
      if (!e.by.empty()) {
        out += " by (";
        for (size_t i = 0; i < e.by.size(); ++i) out += (i ? ", " : "") + e.by[i];
        out += ")";
      }
      return out + " (" + format(*e.a) + ")";
    }
    case Expr::Kind::kNegate:
      return "-" + format_operand(*e.a, 4, false);
    case Expr::Kind::kBinary:
      return format_operand(*e.a, precedence(e), false) + " " + e.op + " " +
             format_operand(*e.b, precedence(e), true);
  }
  return "";
}

std::string format_duration(int64_t ms) { return duration_text(ms); }

std::shared_ptr<const Expr> with_matcher(const Expr& e, const Matcher& m) {
  auto out = std::make_shared<Expr>(e);
  if (out->kind == Expr::Kind::kSelector) {
    // A matcher of the same label is replaced: the scope's wins.
    std::erase_if(out->matchers, [&](const Matcher& x) { return x.label == m.label; });
    out->matchers.insert(out->matchers.begin(), m);
  }
  if (out->a) out->a = with_matcher(*out->a, m);
  if (out->b) out->b = with_matcher(*out->b, m);
  return out;
}

Result<Value> evaluate(const Expr& e, const Source& source, int64_t t_ms) {
  return eval(e, source, t_ms);
}

void MemorySource::add(const std::string& metric, Labels labels, std::vector<Point> points) {
  by_metric_[metric].push_back({std::move(labels), std::move(points)});
}

std::vector<Series> MemorySource::select(const std::string& metric,
                                         const std::vector<Matcher>& matchers, int64_t start_ms,
                                         int64_t end_ms) const {
  std::vector<Series> out;
  auto it = by_metric_.find(metric);
  if (it == by_metric_.end()) return out;
  static const std::string kEmpty;
  for (const auto& s : it->second) {
    bool ok = true;
    for (const auto& m : matchers) {
      auto l = s.labels.find(m.label);
      ok = ok && m.matches(l == s.labels.end() ? kEmpty : l->second);
    }
    if (!ok) continue;
    Series r{s.labels, {}};
    auto lo = std::lower_bound(s.points.begin(), s.points.end(), start_ms,
                               [](const Point& p, int64_t t) { return p.t_ms < t; });
    for (auto p = lo; p != s.points.end() && p->t_ms <= end_ms; ++p) r.points.push_back(*p);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace jz::alerts::promql
