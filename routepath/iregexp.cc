#include "routepath/iregexp.h"

#include <unicode/uchar.h>

#include <vector>

namespace jz::routepath {

bool decode_utf8(std::string_view s, std::u32string& out) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len;
    char32_t cp;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.push_back(cp);
    i += len;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// A set of code points: ranges and general categories, possibly negated.
struct CharSet {
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;
  struct Category {
    uint32_t mask;  // U_GC_*_MASK bits
    bool negated;
  };
  std::vector<Category> categories;

  bool contains(char32_t c) const {
    bool in = false;
    for (const auto& [lo, hi] : ranges) {
      if (c >= lo && c <= hi) {
        in = true;
        break;
      }
    }
    if (!in) {
      for (const auto& cat : categories) {
        const bool has = (U_GET_GC_MASK(static_cast<UChar32>(c)) & cat.mask) != 0;
        if (has != cat.negated) {
          in = true;
          break;
        }
      }
    }
    return in != negated;
  }
};

// The regular-expression tree.
struct Node {
  enum Kind { kSet, kConcat, kAlt, kRepeat, kBegin, kEnd } kind;
  int set = -1;  // kSet: index into the set table
  std::vector<Node> children;
  int min = 0, max = -1;  // kRepeat: -1 is unbounded
};

std::optional<uint32_t> category_mask(std::string_view name) {
  static const std::pair<const char*, uint32_t> kCats[] = {
      {"L", U_GC_L_MASK},   {"Lu", U_GC_LU_MASK}, {"Ll", U_GC_LL_MASK}, {"Lt", U_GC_LT_MASK},
      {"Lm", U_GC_LM_MASK}, {"Lo", U_GC_LO_MASK}, {"M", U_GC_M_MASK},   {"Mn", U_GC_MN_MASK},
      {"Mc", U_GC_MC_MASK}, {"Me", U_GC_ME_MASK}, {"N", U_GC_N_MASK},   {"Nd", U_GC_ND_MASK},
      {"Nl", U_GC_NL_MASK}, {"No", U_GC_NO_MASK}, {"P", U_GC_P_MASK},   {"Pc", U_GC_PC_MASK},
      {"Pd", U_GC_PD_MASK}, {"Ps", U_GC_PS_MASK}, {"Pe", U_GC_PE_MASK}, {"Pi", U_GC_PI_MASK},
      {"Pf", U_GC_PF_MASK}, {"Po", U_GC_PO_MASK}, {"Z", U_GC_Z_MASK},   {"Zs", U_GC_ZS_MASK},
      {"Zl", U_GC_ZL_MASK}, {"Zp", U_GC_ZP_MASK}, {"S", U_GC_S_MASK},   {"Sm", U_GC_SM_MASK},
      {"Sc", U_GC_SC_MASK}, {"Sk", U_GC_SK_MASK}, {"So", U_GC_SO_MASK}, {"C", U_GC_C_MASK},
      {"Cc", U_GC_CC_MASK}, {"Cf", U_GC_CF_MASK}, {"Co", U_GC_CO_MASK}, {"Cn", U_GC_CN_MASK},
      {"Cs", U_GC_CS_MASK}};
  for (const auto& [n, m] : kCats) {
    if (name == n) return m;
  }
  return std::nullopt;
}

class Parser {
 public:
  Parser(const std::u32string& p, std::vector<CharSet>& sets) : p_(p), sets_(sets) {}

  std::optional<Node> parse(std::string& error) {
    auto n = regexp(0);
    if (n && pos_ != p_.size()) fail("unexpected ')'");
    if (!error_.empty()) {
      error = error_ + " at character " + std::to_string(pos_ + 1);
      return std::nullopt;
    }
    return n;
  }

 private:
  void fail(const std::string& why) {
    if (error_.empty()) error_ = why;
  }
  bool at_end() const { return pos_ >= p_.size(); }
  char32_t peek() const { return at_end() ? 0 : p_[pos_]; }

  std::optional<Node> regexp(int depth) {
    if (depth > 100) {
      fail("groups nested too deeply");
      return std::nullopt;
    }
    Node alt{Node::kAlt};
    for (;;) {
      auto b = branch(depth);
      if (!b) return std::nullopt;
      alt.children.push_back(std::move(*b));
      if (peek() != U'|') break;
      ++pos_;
    }
    if (alt.children.size() == 1) return std::move(alt.children[0]);
    return alt;
  }

  std::optional<Node> branch(int depth) {
    Node cat{Node::kConcat};
    while (!at_end() && peek() != U'|' && peek() != U')') {
      auto a = atom(depth);
      if (!a) return std::nullopt;
      auto q = quantified(std::move(*a));
      if (!q) return std::nullopt;
      cat.children.push_back(std::move(*q));
    }
    return cat;
  }

  std::optional<int> number() {
    if (at_end() || peek() < U'0' || peek() > U'9') return std::nullopt;
    long n = 0;
    while (!at_end() && peek() >= U'0' && peek() <= U'9') {
      n = n * 10 + (peek() - U'0');
      if (n > 1000) {
        fail("repetition count above 1000");
        return std::nullopt;
      }
      ++pos_;
    }
    return static_cast<int>(n);
  }

  std::optional<Node> quantified(Node atom) {
    int min, max;
    switch (peek()) {
      case U'*':
        min = 0, max = -1;
        break;
      case U'+':
        min = 1, max = -1;
        break;
      case U'?':
        min = 0, max = 1;
        break;
      case U'{': {
        ++pos_;
        auto lo = number();
        if (!lo) {
          fail("expected a number after '{'");
          return std::nullopt;
        }
        min = max = *lo;
        if (peek() == U',') {
          ++pos_;
          max = -1;
          if (peek() != U'}') {
            auto hi = number();
            if (!hi || *hi < min) {
              fail("expected a number not below the minimum after ','");
              return std::nullopt;
            }
            max = *hi;
          }
        }
        if (peek() != U'}') {
          fail("expected '}'");
          return std::nullopt;
        }
        break;
      }
      default:
        return atom;
    }
    ++pos_;
    Node r{Node::kRepeat};
    r.min = min;
    r.max = max;
    r.children.push_back(std::move(atom));
    return r;
  }

  int add_set(CharSet s) {
    sets_.push_back(std::move(s));
    return static_cast<int>(sets_.size() - 1);
  }
  Node set_node(CharSet s) {
    Node n{Node::kSet};
    n.set = add_set(std::move(s));
    return n;
  }

  // After a backslash: a single-character escape's character.
  std::optional<char32_t> single_escape(char32_t c) {
    switch (c) {
      case U'n':
        return U'\n';
      case U'r':
        return U'\r';
      case U't':
        return U'\t';
      case U'(':
      case U')':
      case U'*':
      case U'+':
      case U'-':
      case U'.':
      case U'?':
      case U'[':
      case U'\\':
      case U']':
      case U'^':
      case U'{':
      case U'|':
      case U'}':
        return c;
      default:
        return std::nullopt;
    }
  }

  // After "\p" or "\P": "{Name}".
  std::optional<CharSet::Category> category(bool negated) {
    if (peek() != U'{') {
      fail("expected '{' after \\p");
      return std::nullopt;
    }
    ++pos_;
    std::string name;
    while (!at_end() && peek() != U'}' && name.size() < 4) name += static_cast<char>(p_[pos_++]);
    if (peek() != U'}') {
      fail("expected '}' after a category name");
      return std::nullopt;
    }
    ++pos_;
    auto mask = category_mask(name);
    if (!mask) {
      fail("unknown Unicode category '" + name + "'");
      return std::nullopt;
    }
    return CharSet::Category{*mask, negated};
  }

  std::optional<Node> atom(int depth) {
    const char32_t c = p_[pos_++];
    switch (c) {
      case U'(': {
        auto inner = regexp(depth + 1);
        if (!inner) return std::nullopt;
        if (peek() != U')') {
          fail("expected ')'");
          return std::nullopt;
        }
        ++pos_;
        return inner;
      }
      case U'.': {
        CharSet s;
        s.negated = true;
        s.ranges = {{U'\n', U'\n'}, {U'\r', U'\r'}};
        return set_node(std::move(s));
      }
      case U'[':
        return char_class();
      case U'^':
        return Node{Node::kBegin};
      case U'$':
        return Node{Node::kEnd};
      case U'\\': {
        if (at_end()) {
          fail("a pattern may not end with '\\'");
          return std::nullopt;
        }
        const char32_t e = p_[pos_++];
        if (e == U'p' || e == U'P') {
          auto cat = category(e == U'P');
          if (!cat) return std::nullopt;
          CharSet s;
          s.categories.push_back(*cat);
          return set_node(std::move(s));
        }
        auto ch = single_escape(e);
        if (!ch) {
          fail("unknown escape");
          return std::nullopt;
        }
        CharSet s;
        s.ranges.push_back({*ch, *ch});
        return set_node(std::move(s));
      }
      case U'*':
      case U'+':
      case U'?':
      case U'{':
      case U'}':
      case U']':
      case U')':
      case U'|':
        --pos_;
        fail("unexpected '" + std::string(1, static_cast<char>(c)) + "'");
        return std::nullopt;
      default: {
        CharSet s;
        s.ranges.push_back({c, c});
        return set_node(std::move(s));
      }
    }
  }

  // One class character (CCchar) or an escape inside [...].
  std::optional<char32_t> class_char() {
    const char32_t c = p_[pos_++];
    if (c == U'\\') {
      if (at_end()) {
        fail("unterminated character class");
        return std::nullopt;
      }
      auto ch = single_escape(p_[pos_++]);
      if (!ch) fail("unknown escape in a character class");
      return ch;
    }
    if (c == U'[' || c == U']' || c == U'-') {
      fail("'" + std::string(1, static_cast<char>(c)) + "' must be escaped in a character class");
      return std::nullopt;
    }
    return c;
  }

  std::optional<Node> char_class() {
    CharSet s;
    if (peek() == U'^') {
      s.negated = true;
      ++pos_;
    }
    bool first = true;
    for (;;) {
      if (at_end()) {
        fail("unterminated character class");
        return std::nullopt;
      }
      const char32_t c = peek();
      if (c == U']' && !first) {
        ++pos_;
        break;
      }
      // A '-' is literal first, or last before ']'.
      if (c == U'-' && (first || (pos_ + 1 < p_.size() && p_[pos_ + 1] == U']'))) {
        ++pos_;
        s.ranges.push_back({U'-', U'-'});
        first = false;
        continue;
      }
      first = false;
      if (c == U'\\' && pos_ + 1 < p_.size() && (p_[pos_ + 1] == U'p' || p_[pos_ + 1] == U'P')) {
        const bool neg = p_[pos_ + 1] == U'P';
        pos_ += 2;
        auto cat = category(neg);
        if (!cat) return std::nullopt;
        s.categories.push_back(*cat);
        continue;
      }
      auto lo = class_char();
      if (!lo) return std::nullopt;
      char32_t hi = *lo;
      if (peek() == U'-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != U']') {
        ++pos_;
        auto h = class_char();
        if (!h) return std::nullopt;
        if (*h < *lo) {
          fail("a range's end is below its start");
          return std::nullopt;
        }
        hi = *h;
      }
      s.ranges.push_back({*lo, hi});
    }
    return set_node(std::move(s));
  }

  const std::u32string& p_;
  std::vector<CharSet>& sets_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

struct IRegexp::Program {
  enum Op : uint8_t { kChar, kSplit, kJmp, kMatch, kBegin, kEnd };
  struct Inst {
    Op op;
    int set = -1;      // kChar
    int x = 0, y = 0;  // kSplit: both targets; kJmp: x
  };
  std::vector<CharSet> sets;
  std::vector<Inst> code;

  void emit(const Node& n) {
    switch (n.kind) {
      case Node::kSet:
        code.push_back({kChar, n.set});
        break;
      case Node::kBegin:
        code.push_back({kBegin});
        break;
      case Node::kEnd:
        code.push_back({kEnd});
        break;
      case Node::kConcat:
        for (const auto& c : n.children) emit(c);
        break;
      case Node::kAlt: {
        std::vector<size_t> jumps;
        for (size_t i = 0; i < n.children.size(); ++i) {
          if (i + 1 < n.children.size()) {
            const size_t split = code.size();
            code.push_back({kSplit, -1, static_cast<int>(split + 1), 0});
            emit(n.children[i]);
            jumps.push_back(code.size());
            code.push_back({kJmp});
            code[split].y = static_cast<int>(code.size());
          } else {
            emit(n.children[i]);
          }
        }
        for (size_t j : jumps) code[j].x = static_cast<int>(code.size());
        break;
      }
      case Node::kRepeat: {
        const Node& body = n.children[0];
        for (int i = 0; i < n.min; ++i) emit(body);
        if (n.max < 0) {
          const size_t split = code.size();
          code.push_back({kSplit, -1, static_cast<int>(split + 1), 0});
          emit(body);
          code.push_back({kJmp, -1, static_cast<int>(split)});
          code[split].y = static_cast<int>(code.size());
        } else {
          std::vector<size_t> splits;
          for (int i = n.min; i < n.max; ++i) {
            splits.push_back(code.size());
            code.push_back({kSplit, -1, static_cast<int>(code.size() + 1), 0});
            emit(body);
          }
          for (size_t s : splits) code[s].y = static_cast<int>(code.size());
        }
        break;
      }
    }
  }

  // Pike VM: the set of live program counters advances one code point at a time.
  bool run(const std::u32string& text, bool anchored) const {
    const size_t n = code.size();
    std::vector<int> cur, next;
    std::vector<size_t> mark(n, SIZE_MAX);
    size_t generation = 0;
    std::vector<int> stack;
    size_t at = 0;  // the position the closure is computed for
    auto add = [&](std::vector<int>& list, int pc) {
      stack.push_back(pc);
      while (!stack.empty()) {
        int p = stack.back();
        stack.pop_back();
        if (mark[p] == generation) continue;
        mark[p] = generation;
        const Inst& in = code[p];
        if (in.op == kJmp) {
          stack.push_back(in.x);
        } else if (in.op == kBegin) {
          if (at == 0) stack.push_back(p + 1);
        } else if (in.op == kEnd) {
          if (at == text.size()) stack.push_back(p + 1);
        } else if (in.op == kSplit) {
          stack.push_back(in.y);
          stack.push_back(in.x);
        } else {
          list.push_back(p);
        }
      }
    };
    add(cur, 0);
    for (size_t i = 0;; ++i) {
      for (int pc : cur) {
        if (code[pc].op == kMatch && (!anchored || i == text.size())) return true;
      }
      if (i == text.size()) return false;
      ++generation;
      at = i + 1;
      next.clear();
      for (int pc : cur) {
        if (code[pc].op == kChar && sets[code[pc].set].contains(text[i])) add(next, pc + 1);
      }
      if (!anchored) add(next, 0);  // a match may start at the next position too
      cur.swap(next);
      if (cur.empty()) return false;
    }
  }
};

std::optional<IRegexp> IRegexp::compile(std::string_view pattern, std::string* error) {
  std::u32string p;
  if (!decode_utf8(pattern, p)) {
    if (error) *error = "the pattern is not valid UTF-8";
    return std::nullopt;
  }
  auto prog = std::make_shared<Program>();
  std::string why;
  Parser parser(p, prog->sets);
  auto tree = parser.parse(why);
  if (!tree) {
    if (error) *error = why;
    return std::nullopt;
  }
  prog->emit(*tree);
  prog->code.push_back({Program::kMatch});
  if (prog->code.size() > 100000) {
    if (error) *error = "the pattern expands to too large a program";
    return std::nullopt;
  }
  IRegexp r;
  r.program_ = std::move(prog);
  return r;
}

bool IRegexp::full_match(std::string_view text) const {
  std::u32string t;
  return decode_utf8(text, t) && program_->run(t, true);
}

bool IRegexp::search(std::string_view text) const {
  std::u32string t;
  return decode_utf8(text, t) && program_->run(t, false);
}

}  // namespace jz::routepath
