#include "logs/gate.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

namespace jz::logs {

namespace {

using Bytes = std::bitset<256>;

Bytes make(std::string_view chars) {
  Bytes b;
  for (unsigned char c : chars) b.set(c);
  return b;
}

// What is certain of every string a piece of a pattern matches, for one class C. Lengths
// are lower bounds.
struct Runs {
  bool all = true;  // every byte of every match is in C
  int min = 0;      // the shortest match
  int pre = 0;      // C bytes that every match starts with
  int suf = 0;      // C bytes that every match ends with
  int best = 0;     // a run of C bytes that every match contains
};

constexpr int kCap = 1 << 20;  // lengths saturate here
int add(int a, int b) { return std::min(kCap, a + b); }

Runs concat(const Runs& a, const Runs& b) {
  Runs r;
  r.all = a.all && b.all;
  r.min = add(a.min, b.min);
  r.pre = a.all ? add(a.min, b.pre) : a.pre;
  r.suf = b.all ? add(b.min, a.suf) : b.suf;
  r.best = std::max({a.best, b.best, add(a.suf, b.pre)});
  if (r.all) r.pre = r.suf = r.best = r.min;
  return r;
}

Runs either(const Runs& a, const Runs& b) {
  return {a.all && b.all, std::min(a.min, b.min), std::min(a.pre, b.pre), std::min(a.suf, b.suf),
          std::min(a.best, b.best)};
}

Runs repeat(const Runs& x, int lo) {
  if (lo == 0) return {x.all, 0, 0, 0, 0};
  Runs r = x;
  if (x.all) {
    r.min = r.pre = r.suf = r.best =
        static_cast<int>(std::min<long long>(kCap, static_cast<long long>(x.min) * lo));
    return r;
  }
  r.min = static_cast<int>(std::min<long long>(kCap, static_cast<long long>(x.min) * lo));
  if (lo >= 2) r.best = std::max(x.best, add(x.suf, x.pre));
  return r;
}

// A recursive-descent reader of the pattern syntax that Hyperscan takes (PCRE's), for the
// subset that log policies use. Anything else makes it give up (no gate).
class Reader {
 public:
  // `bridges`: a single space between digits counts as in the class.
  // `literal`: the class is "a single byte" (or one letter in both cases): runs are then
  // the literal strings every match contains.
  Reader(std::string_view p, bool caseless, const Bytes& cls, bool bridges, bool literal)
      : p_(p), caseless_(caseless), cls_(cls), bridges_(bridges), literal_(literal) {}

  std::optional<Runs> pattern() {
    auto r = alternation();
    if (!r || i_ != p_.size() || newline_) return std::nullopt;
    return r;
  }

 private:
  std::optional<Runs> alternation() {
    auto r = sequence();
    if (!r) return r;
    while (i_ < p_.size() && p_[i_] == '|') {
      ++i_;
      auto b = sequence();
      if (!b) return b;
      r = either(*r, *b);
    }
    return r;
  }

  std::optional<Runs> sequence() {
    Runs r;  // empty: all, 0
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      // A single space, maybe optional, between two pieces that end and start with
      // digits: in the text it follows a digit, so it is part of the run.
      int bridge = -1;  // the space's shortest length, when there is one
      const size_t at = i_;
      if (bridges_ && r.suf > 0 && p_[i_] == ' ') {
        size_t j = i_ + 1;
        bridge = 1;
        if (j < p_.size() && p_[j] == '?') {
          bridge = 0;
          ++j;
          if (j < p_.size() && (p_[j] == '?' || p_[j] == '+')) ++j;
        }
        const bool more =
            j < p_.size() && (p_[j] == '*' || p_[j] == '+' || p_[j] == '{' || p_[j] == '?');
        if (more || j >= p_.size() || p_[j] == '|' || p_[j] == ')') {
          bridge = -1;
        } else {
          i_ = j;
        }
      }
      if (bridge >= 0) {
        auto a = quantified();
        if (!a) return a;
        if (a->pre > 0) {
          r = bridged(r, bridge, *a);
          continue;
        }
        i_ = at;  // not between digits: the space is read as any other byte
      }
      auto a = quantified();
      if (!a) return a;
      r = concat(r, *a);
    }
    return r;
  }

  // a, a space of length `space` (0 or 1) right after a digit, then b (b.pre > 0).
  static Runs bridged(const Runs& a, int space, const Runs& b) {
    Runs r;
    r.all = a.all && b.all;
    r.min = add(add(a.min, space), b.min);
    r.pre = a.all ? add(add(a.min, space), b.pre) : a.pre;
    r.suf = b.all ? add(add(b.min, space), a.suf) : b.suf;
    r.best = std::max({a.best, b.best, add(add(a.suf, space), b.pre)});
    if (r.all) r.pre = r.suf = r.best = r.min;
    return r;
  }

  std::optional<Runs> quantified() {
    auto a = atom();
    if (!a) return a;
    for (;;) {
      if (i_ >= p_.size()) return a;
      const char c = p_[i_];
      int lo = -1;
      if (c == '*' || c == '?') {
        lo = 0;
        ++i_;
      } else if (c == '+') {
        lo = 1;
        ++i_;
      } else if (c == '{') {
        // {m}, {m,}, {m,n}; anything else is a literal brace in PCRE: give up.
        size_t j = i_ + 1;
        long m = 0;
        bool digits = false;
        while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j]))) {
          m = std::min<long>(kCap, m * 10 + (p_[j] - '0'));
          digits = true;
          ++j;
        }
        if (!digits) return std::nullopt;
        if (j < p_.size() && p_[j] == ',') {
          ++j;
          while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j]))) ++j;
        }
        if (j >= p_.size() || p_[j] != '}') return std::nullopt;
        i_ = j + 1;
        lo = static_cast<int>(m);
      } else {
        return a;
      }
      // Lazy or possessive: the same strings.
      if (i_ < p_.size() && (p_[i_] == '?' || p_[i_] == '+')) ++i_;
      a = repeat(*a, lo);
    }
  }

  Runs one(const Bytes& b) {
    if (b.test('\n')) newline_ = true;
    if (b.none()) return {false, 1, 0, 0, 0};
    const bool in = literal_ ? single(b) : (b & ~cls_).none();
    return in ? Runs{true, 1, 1, 1, 1} : Runs{false, 1, 0, 0, 0};
  }

  static bool single(const Bytes& b) {
    if (b.count() == 1) return true;
    if (b.count() != 2) return false;
    const auto lo = b._Find_first();
    return lo >= 'A' && lo <= 'Z' && b.test(lo + 32);
  }

  Bytes fold(Bytes b) const {
    if (!caseless_) return b;
    for (int c = 'a'; c <= 'z'; ++c) {
      if (b.test(c) || b.test(c - 32)) b.set(c).set(c - 32);
    }
    return b;
  }

  std::optional<Runs> atom() {
    const char c = p_[i_];
    if (c == '(') {
      ++i_;
      if (i_ < p_.size() && p_[i_] == '?') {
        // Only non-capturing and named groups; flags and look-around give up.
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
          i_ += 2;
        } else if (named_group_at(i_ + 1)) {
          const size_t close = p_.find('>', i_);
          if (close == std::string_view::npos) return std::nullopt;
          i_ = close + 1;
        } else {
          return std::nullopt;
        }
      }
      auto r = alternation();
      if (!r || i_ >= p_.size() || p_[i_] != ')') return std::nullopt;
      ++i_;
      return r;
    }
    if (c == '^' || c == '$') {
      ++i_;
      return Runs{};
    }
    if (c == '.') {
      ++i_;
      Bytes b;
      b.set();
      b.reset('\n');
      return one(b);
    }
    if (c == '[') return bracket();
    if (c == '\\') {
      Bytes b;
      bool zero_width = false;
      if (!escape(false, &b, &zero_width)) return std::nullopt;
      if (zero_width) return Runs{};
      return one(fold(b));
    }
    if (c == ')' || c == '*' || c == '+' || c == '?' || c == '{' || c == '|') return std::nullopt;
    ++i_;
    Bytes b;
    b.set(static_cast<unsigned char>(c));
    return one(fold(b));
  }

  // (?<name> or (?P<name> with `at` just after the '?'.
  bool named_group_at(size_t at) const {
    if (at < p_.size() && p_[at] == 'P') ++at;
    return at + 1 < p_.size() && p_[at] == '<' &&
           std::isalpha(static_cast<unsigned char>(p_[at + 1]));
  }

  // After a backslash at i_: a class (\d \w \s and negations), an escaped byte, or, outside
  // brackets, an assertion (\b \B \A \z \Z).
  bool escape(bool in_bracket, Bytes* out, bool* zero_width) {
    ++i_;
    if (i_ >= p_.size()) return false;
    const char e = p_[i_++];
    static const Bytes digit = make("0123456789");
    static const Bytes word =
        make("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    static const Bytes space = make(" \t\n\r\f\v");
    switch (e) {
      case 'd':
        *out = digit;
        return true;
      case 'D':
        *out = ~digit;
        return true;
      case 'w':
        *out = word;
        return true;
      case 'W':
        *out = ~word;
        return true;
      case 's':
        *out = space;
        return true;
      case 'S':
        *out = ~space;
        return true;
      case 't':
        out->set('\t');
        return true;
      case 'n':
        out->set('\n');
        return true;
      case 'r':
        out->set('\r');
        return true;
      case 'f':
        out->set('\f');
        return true;
      case 'e':
        out->set(0x1b);
        return true;
      case 'a':
        out->set(0x07);
        return true;
      case 'x': {
        auto hex = [](char h) {
          return std::isxdigit(static_cast<unsigned char>(h))
                     ? (std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                    : (std::tolower(h) - 'a' + 10))
                     : -1;
        };
        if (i_ + 1 < p_.size() && hex(p_[i_]) >= 0 && hex(p_[i_ + 1]) >= 0) {
          const int byte = hex(p_[i_]) * 16 + hex(p_[i_ + 1]);
          out->set(static_cast<size_t>(byte));
          i_ += 2;
          return true;
        }
        return false;
      }
      case 'b':
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
        if (in_bracket) return false;
        *zero_width = true;
        return true;
      default:
        // An escaped punctuation byte stands for itself; letters and digits not listed
        // above have meanings this reader does not model.
        if (std::isalnum(static_cast<unsigned char>(e)) || static_cast<unsigned char>(e) >= 0x80)
          return false;
        out->set(static_cast<unsigned char>(e));
        return true;
    }
  }

  std::optional<Runs> bracket() {
    ++i_;  // [
    bool negate = false;
    if (i_ < p_.size() && p_[i_] == '^') {
      negate = true;
      ++i_;
    }
    Bytes b;
    bool first = true;
    for (;;) {
      if (i_ >= p_.size()) return std::nullopt;
      char c = p_[i_];
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      if (c == '[' && i_ + 1 < p_.size() &&
          (p_[i_ + 1] == ':' || p_[i_ + 1] == '.' || p_[i_ + 1] == '=')) {
        return std::nullopt;  // POSIX classes: not modelled
      }
      int lo;
      if (c == '\\') {
        Bytes e;
        bool zw = false;
        if (!escape(true, &e, &zw)) return std::nullopt;
        if (e.count() != 1) {  // a class inside the brackets
          b |= e;
          continue;
        }
        lo = static_cast<int>(e._Find_first());
      } else {
        lo = static_cast<unsigned char>(c);
        ++i_;
      }
      // A range lo-hi (a '-' before ']' is a literal).
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        int hi;
        if (p_[i_] == '\\') {
          Bytes e;
          bool zw = false;
          if (!escape(true, &e, &zw) || e.count() != 1) return std::nullopt;
          hi = static_cast<int>(e._Find_first());
        } else {
          hi = static_cast<unsigned char>(p_[i_]);
          ++i_;
        }
        if (hi < lo) return std::nullopt;
        for (int x = lo; x <= hi; ++x) b.set(static_cast<size_t>(x));
      } else {
        b.set(static_cast<size_t>(lo));
      }
    }
    b = fold(b);
    if (negate) b = ~b;  // a negated class matches newlines too (PCRE)
    return one(b);
  }

  std::string_view p_;
  size_t i_ = 0;
  bool caseless_;
  const Bytes& cls_;
  bool bridges_;
  bool literal_;
  bool newline_ = false;
};

const Bytes& class_bytes(GateClass g) {
  static const Bytes classes[kGateCount] = {make("0123456789"), make("0123456789"),
                                            make("0123456789.:")};
  return classes[g];
}

// The best run the reader finds, 0 when it cannot read the pattern.
int best_run(std::string_view pattern, bool caseless, const Bytes& cls, bool bridges,
             bool literal) {
  if (pattern.empty()) return 0;
  Reader r(pattern, caseless, cls, bridges, literal);
  auto runs = r.pattern();
  return runs ? runs->best : 0;
}

}  // namespace

bool gate_member(GateClass g, unsigned char prev, unsigned char c) {
  if (g == kGateDigitsSpaced && c == ' ') return prev >= '0' && prev <= '9';
  return class_bytes(g).test(c);
}

int gate_min_run(GateClass c) {
  static const int runs[kGateCount] = {8, 12, 10};
  return runs[c];
}

int required_run(std::string_view pattern, bool caseless, GateClass g) {
  return best_run(pattern, caseless, class_bytes(g), g == kGateDigitsSpaced, false);
}

int required_literal(std::string_view pattern, bool caseless) {
  return best_run(pattern, caseless, class_bytes(kGateDigits), false, true);
}

int choose_gate(std::string_view pattern, bool caseless, int* run) {
  if (required_literal(pattern, caseless) >= kAnchorLiteral) {
    if (run) *run = 0;
    return -1;  // Hyperscan searches for the literal first: fast enough without a gate
  }
  for (int c = 0; c < kGateCount; ++c) {
    const auto g = static_cast<GateClass>(c);
    const int n = required_run(pattern, caseless, g);
    if (n >= gate_min_run(g)) {
      if (run) *run = n;
      return c;
    }
  }
  if (run) *run = 0;
  return -1;
}

}  // namespace jz::logs
