#include "logs/capacity.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <limits>
#include <map>
#include <memory>

namespace jz::logs {

namespace {

using ByteSet = std::bitset<256>;

// The automaton: byte states (consume one byte of `set`, go to `next`), splits (epsilon
// to `next` and `alt`), and the accepting state.
struct Node {
  enum Kind { kByte, kSplit, kMatch } kind = kMatch;
  ByteSet set;
  int next = -1, alt = -1;
};

// A regular expression as a tree, before it becomes nodes.
struct Ast {
  enum Kind { kSet, kConcat, kAlt, kRepeat, kEmpty } kind = kEmpty;
  ByteSet set;
  std::vector<std::shared_ptr<Ast>> parts;
  int min = 0, max = 0;  // kRepeat: max -1 = unbounded
};
using AstPtr = std::shared_ptr<Ast>;

ByteSet all_but_newline() {
  ByteSet s;
  s.set();
  s.reset('\n');
  return s;
}

class Parser {
 public:
  Parser(const std::string& p, bool ignore_case) : p_(p), icase_(ignore_case) {}

  Result<AstPtr> parse(bool& anchored_start, bool& anchored_end) {
    anchored_start = !p_.empty() && p_[0] == '^';
    if (anchored_start) ++pos_;
    size_t end = p_.size();
    anchored_end = end > pos_ && p_[end - 1] == '$' && (end < 2 || p_[end - 2] != '\\');
    if (anchored_end) p_.pop_back();
    JZ_ASSIGN_OR_RETURN(AstPtr a, alternation());
    if (pos_ != p_.size()) return bad("unexpected ')'");
    return a;
  }

 private:
  Status bad(const std::string& what) const {
    return Status::invalid_argument("cannot measure pattern '" + p_ + "' at character " +
                                    std::to_string(pos_ + 1) + ": " + what);
  }
  bool more() const { return pos_ < p_.size(); }
  char peek() const { return more() ? p_[pos_] : '\0'; }

  Result<AstPtr> alternation() {
    auto alt = std::make_shared<Ast>();
    alt->kind = Ast::kAlt;
    for (;;) {
      JZ_ASSIGN_OR_RETURN(AstPtr c, concatenation());
      alt->parts.push_back(c);
      if (peek() != '|') break;
      ++pos_;
    }
    return alt->parts.size() == 1 ? alt->parts[0] : alt;
  }

  Result<AstPtr> concatenation() {
    auto cat = std::make_shared<Ast>();
    cat->kind = Ast::kConcat;
    while (more() && peek() != '|' && peek() != ')') {
      JZ_ASSIGN_OR_RETURN(AstPtr atom, atom_());
      JZ_ASSIGN_OR_RETURN(atom, quantified(atom));
      cat->parts.push_back(atom);
    }
    return cat;
  }

  Result<AstPtr> quantified(AstPtr atom) {
    for (;;) {
      int lo = 0, hi = -1;
      const char c = peek();
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        lo = 1;
        ++pos_;
      } else if (c == '?') {
        hi = 1;
        ++pos_;
      } else if (c == '{' && pos_ + 1 < p_.size() &&
                 std::isdigit(static_cast<unsigned char>(p_[pos_ + 1]))) {
        ++pos_;
        lo = number();
        hi = lo;
        if (peek() == ',') {
          ++pos_;
          hi = std::isdigit(static_cast<unsigned char>(peek())) ? number() : -1;
        }
        if (peek() != '}') return bad("expected '}'");
        ++pos_;
        if (hi >= 0 && hi < lo) return bad("a repeat's maximum is below its minimum");
        if (lo > 10000 || hi > 10000) return bad("a repeat over 10000");
      } else {
        return atom;
      }
      if (peek() == '?' || peek() == '+') ++pos_;  // lazy or possessive: the same language
      auto r = std::make_shared<Ast>();
      r->kind = Ast::kRepeat;
      r->min = lo;
      r->max = hi;
      r->parts = {atom};
      atom = r;
    }
  }

  int number() {
    int n = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      n = std::min(n * 10 + (p_[pos_++] - '0'), 100000);
    }
    return n;
  }

  AstPtr set_of(const ByteSet& s) const {
    auto a = std::make_shared<Ast>();
    a->kind = Ast::kSet;
    a->set = s;
    if (icase_) {
      for (int c = 'a'; c <= 'z'; ++c) {
        if (a->set[c] || a->set[c - 32]) a->set.set(c).set(c - 32);
      }
    }
    return a;
  }

  // \d \w \s and their negations, or a single escaped byte.
  Result<ByteSet> escape() {
    if (!more()) return bad("a pattern ends in '\\'");
    const char c = p_[pos_++];
    ByteSet s;
    auto range = [&](int a, int b) {
      for (int i = a; i <= b; ++i) s.set(i);
    };
    switch (c) {
      case 'd':
      case 'D':
        range('0', '9');
        break;
      case 'w':
      case 'W':
        range('0', '9');
        range('a', 'z');
        range('A', 'Z');
        s.set('_');
        break;
      case 's':
      case 'S':
        for (char x : {' ', '\t', '\n', '\r', '\f', '\v'}) s.set(static_cast<unsigned char>(x));
        break;
      case 't':
        s.set('\t');
        return s;
      case 'n':
        s.set('\n');
        return s;
      case 'r':
        s.set('\r');
        return s;
      case 'f':
        s.set('\f');
        return s;
      case 'v':
        s.set('\v');
        return s;
      case 'e':
        s.set(0x1b);
        return s;
      case 'x': {
        if (pos_ + 2 > p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[pos_])) ||
            !std::isxdigit(static_cast<unsigned char>(p_[pos_ + 1]))) {
          return bad("expected two hex digits after \\x");
        }
        s.set(std::stoi(p_.substr(pos_, 2), nullptr, 16));
        pos_ += 2;
        return s;
      }
      default:
        if (std::isalnum(static_cast<unsigned char>(c))) {
          return bad(std::string("the escape \\") + c + " is not measured");
        }
        s.set(static_cast<unsigned char>(c));
        return s;
    }
    if (std::isupper(static_cast<unsigned char>(c))) s.flip();
    return s;
  }

  Result<ByteSet> bracket() {
    ++pos_;  // '['
    bool negate = false;
    if (peek() == '^') {
      negate = true;
      ++pos_;
    }
    ByteSet s;
    bool first = true;
    while (more() && (peek() != ']' || first)) {
      first = false;
      int lo;
      if (peek() == '\\') {
        ++pos_;
        JZ_ASSIGN_OR_RETURN(ByteSet e, escape());
        if (e.count() != 1) {
          s |= e;
          continue;
        }
        lo = static_cast<int>(e._Find_first());
      } else if (peek() == '[' && pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
        return bad("POSIX classes are not measured");
      } else {
        lo = static_cast<unsigned char>(p_[pos_++]);
      }
      int hi = lo;
      if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        if (peek() == '\\') {
          ++pos_;
          JZ_ASSIGN_OR_RETURN(ByteSet e, escape());
          if (e.count() != 1) return bad("a range ends in a class");
          hi = static_cast<int>(e._Find_first());
        } else {
          hi = static_cast<unsigned char>(p_[pos_++]);
        }
        if (hi < lo) return bad("a range out of order");
      }
      for (int i = lo; i <= hi; ++i) s.set(i);
    }
    if (peek() != ']') return bad("expected ']'");
    ++pos_;
    if (negate) s.flip();
    return s;
  }

  Result<AstPtr> atom_() {
    const char c = peek();
    if (c == '(') {
      if (++depth_ > 64) return bad("groups nested too deeply");
      ++pos_;
      if (peek() == '?') {
        if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
          pos_ += 2;
        } else {
          return bad("only (?: ) groups are measured");
        }
      }
      JZ_ASSIGN_OR_RETURN(AstPtr inner, alternation());
      if (peek() != ')') return bad("expected ')'");
      ++pos_;
      --depth_;
      return inner;
    }
    if (c == '[') {
      JZ_ASSIGN_OR_RETURN(ByteSet s, bracket());
      return set_of(s);
    }
    if (c == '.') {
      ++pos_;
      return set_of(all_but_newline());
    }
    if (c == '\\') {
      ++pos_;
      JZ_ASSIGN_OR_RETURN(ByteSet s, escape());
      return set_of(s);
    }
    if (c == '^' || c == '$') return bad("anchors inside a pattern are not measured");
    if (c == '*' || c == '+' || c == '?' || c == '{') return bad("nothing to repeat");
    ++pos_;
    ByteSet s;
    s.set(static_cast<unsigned char>(c));
    return set_of(s);
  }

  std::string p_;
  bool icase_;
  size_t pos_ = 0;
  int depth_ = 0;
};

class Builder {
 public:
  static constexpr size_t kMaxNodes = 200000;
  std::vector<Node> nodes;
  bool too_large = false;  // repeats expand to more than kMaxNodes: building stopped
  // Builds `a` so that it continues to `next`; returns its entry state.
  int build(const AstPtr& a, int next) {
    if (too_large) return next;
    switch (a->kind) {
      case Ast::kEmpty:
        return next;
      case Ast::kSet:
        return add({Node::kByte, a->set, next, -1});
      case Ast::kConcat:
        for (auto it = a->parts.rbegin(); it != a->parts.rend(); ++it) next = build(*it, next);
        return next;
      case Ast::kAlt: {
        int entry = build(a->parts.back(), next);
        for (int i = static_cast<int>(a->parts.size()) - 2; i >= 0; --i) {
          entry = add({Node::kSplit, {}, build(a->parts[i], next), entry});
        }
        return entry;
      }
      case Ast::kRepeat: {
        const AstPtr& inner = a->parts[0];
        int entry = next;
        if (a->max < 0) {
          // x* : a loop through a split.
          const int loop = add({Node::kSplit, {}, -1, next});
          nodes[loop].next = build(inner, loop);
          entry = loop;
        } else {
          for (int i = a->max; i > a->min && !too_large; --i) {
            entry = add({Node::kSplit, {}, build(inner, entry), next});
          }
        }
        for (int i = 0; i < a->min && !too_large; ++i) entry = build(inner, entry);
        return entry;
      }
    }
    return next;
  }
  int add(Node n) {
    if (nodes.size() >= kMaxNodes) {
      too_large = true;
      return 0;
    }
    nodes.push_back(n);
    return static_cast<int>(nodes.size()) - 1;
  }
};

using StateSet = std::vector<int>;

void close_over(const std::vector<Node>& nodes, int s, std::vector<char>& seen, StateSet& out) {
  std::vector<int> stack = {s};
  while (!stack.empty()) {
    const int n = stack.back();
    stack.pop_back();
    if (n < 0 || seen[n]) continue;
    seen[n] = 1;
    if (nodes[n].kind == Node::kSplit) {
      stack.push_back(nodes[n].next);
      stack.push_back(nodes[n].alt);
    } else {
      out.push_back(n);
    }
  }
}

// log2(2^a + 2^b), with -inf for zero.
double log_add(double a, double b) {
  if (std::isinf(a) && a < 0) return b;
  if (std::isinf(b) && b < 0) return a;
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log2(1 + std::exp2(lo - hi));
}

constexpr size_t kMaxStates = 20000;

}  // namespace

Result<LineCapacity> whitelist_capacity(const std::vector<LogRule>& rules, size_t max_len) {
  Builder b;
  const int match = b.add({Node::kMatch, {}, -1, -1});
  auto any = std::make_shared<Ast>();
  any->kind = Ast::kSet;
  any->set = all_but_newline();
  auto any_star = std::make_shared<Ast>();
  any_star->kind = Ast::kRepeat;
  any_star->min = 0;
  any_star->max = -1;
  any_star->parts = {any};
  int start = -1;
  for (const auto& rule : rules) {
    bool anchored_start = false, anchored_end = false;
    Parser parser(rule.pattern, rule.ignore_case);
    JZ_ASSIGN_OR_RETURN(AstPtr ast, parser.parse(anchored_start, anchored_end));
    int entry = b.build(
        anchored_end ? ast : std::make_shared<Ast>(Ast{Ast::kConcat, {}, {ast, any_star}}), match);
    if (!anchored_start) entry = b.build(any_star, entry);
    start = start < 0 ? entry : b.add({Node::kSplit, {}, entry, start});
    if (b.too_large) {
      return Status::invalid_argument("cannot measure the whitelist: its automaton is too large");
    }
  }
  LineCapacity out;
  out.longest_line = max_len;
  if (start < 0) return out;  // nothing passes
  // Subsets of byte states reachable by lines of each length, with log2 of how many lines
  // reach each: the count of distinct lines, not of paths.
  std::map<StateSet, std::vector<std::pair<StateSet, int>>> moves;
  auto closure = [&](const std::vector<int>& from) {
    std::vector<char> seen(b.nodes.size(), 0);
    StateSet s;
    for (int f : from) close_over(b.nodes, f, seen, s);
    std::sort(s.begin(), s.end());
    return s;
  };
  std::map<StateSet, double> level = {{closure({start}), 0.0}};
  double total = -std::numeric_limits<double>::infinity();
  std::vector<double> per_length;  // log2 of the lines of each length
  bool found_shortest = false;
  for (size_t n = 0; n <= max_len && !level.empty(); ++n) {
    double here = -std::numeric_limits<double>::infinity();
    for (const auto& [set, count] : level) {
      if (std::binary_search(set.begin(), set.end(), match)) here = log_add(here, count);
    }
    if (!(std::isinf(here) && here < 0)) {
      if (!found_shortest) {
        out.shortest_line = n;
        found_shortest = true;
      }
      total = log_add(total, here);
    }
    per_length.push_back(here);
    if (n == max_len) break;
    std::map<StateSet, double> next;
    for (const auto& [set, count] : level) {
      auto it = moves.find(set);
      if (it == moves.end()) {
        // Which members take each byte, as a bit mask (64 members a word): bytes with one
        // mask go together, and each group takes one closure (a handful, not 255).
        const size_t words = (set.size() + 63) / 64;
        std::map<std::vector<uint64_t>, int> by_mask;
        for (int c = 0; c < 256; ++c) {
          if (c == '\n') continue;
          std::vector<uint64_t> mask(words, 0);
          bool any_member = false;
          for (size_t i = 0; i < set.size(); ++i) {
            const Node& n = b.nodes[set[i]];
            if (n.kind == Node::kByte && n.set[c]) {
              mask[i / 64] |= uint64_t{1} << (i % 64);
              any_member = true;
            }
          }
          if (any_member) ++by_mask[mask];
        }
        std::map<std::vector<int>, int> by_next;
        for (const auto& [mask, bytes] : by_mask) {
          std::vector<int> to;
          for (size_t i = 0; i < set.size(); ++i) {
            if (mask[i / 64] >> (i % 64) & 1) to.push_back(b.nodes[set[i]].next);
          }
          by_next[to] += bytes;
        }
        std::map<StateSet, int> by_target;
        for (const auto& [to, bytes] : by_next) by_target[closure(to)] += bytes;
        it = moves
                 .emplace(set,
                          std::vector<std::pair<StateSet, int>>(by_target.begin(), by_target.end()))
                 .first;
        // Patterns whose automaton grows exponentially with the line ((a|b)*a(a|b){20})
        // are not measured: the budget is then unknown, said so.
        if (moves.size() > kMaxStates) {
          return Status::invalid_argument(
              "cannot measure the whitelist: its lines need more than " +
              std::to_string(kMaxStates) + " automaton states to count");
        }
      }
      for (const auto& [target, bytes] : it->second) {
        const double add = count + std::log2(static_cast<double>(bytes));
        auto [slot, fresh] = next.emplace(target, add);
        if (!fresh) slot->second = log_add(slot->second, add);
      }
    }
    level = std::move(next);
  }
  out.bits_per_line = found_shortest ? total : 0;
  // Shannon's capacity of a channel whose symbols have costs: the rate R (bits a byte)
  // with sum over lines of 2^(-R (length + 1)) = 1, a line costing its bytes and its
  // newline. The sum falls as R grows; found by bisection in log space.
  auto log_sum = [&](double r) {
    double s = -std::numeric_limits<double>::infinity();
    for (size_t n = 0; n < per_length.size(); ++n) {
      s = log_add(s, per_length[n] - r * static_cast<double>(n + 1));
    }
    return s;
  };
  if (found_shortest && log_sum(0) > 0) {
    double lo = 0, hi = 8;
    for (int i = 0; i < 100; ++i) {
      const double mid = (lo + hi) / 2;
      (log_sum(mid) > 0 ? lo : hi) = mid;
    }
    out.bits_per_byte = hi;
  }
  return out;
}

Result<LineCapacity> policy_capacity(const LogPolicy& policy) {
  if (policy.mode != LogPolicy::Mode::kWhitelist) {
    return Status::failed_precondition(
        "only a whitelist bounds what its lines can carry; a blacklist passes any line it "
        "does not recognise");
  }
  size_t longest = static_cast<size_t>(policy.max_line_bytes);
  if (policy.detectors.enabled) {
    longest = std::min(longest, static_cast<size_t>(policy.detectors.long_line));
  }
  JZ_ASSIGN_OR_RETURN(LineCapacity c, whitelist_capacity(policy.rules, longest));
  if (policy.rate_bytes_per_s > 0) c.bits_per_s = c.bits_per_byte * policy.rate_bytes_per_s;
  if (policy.total_bytes > 0) c.total_bits = c.bits_per_byte * policy.total_bytes;
  return c;
}

}  // namespace jz::logs
