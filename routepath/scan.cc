#include "routepath/scan.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>

#include "routepath/iregexp.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace jz::routepath {
namespace {

constexpr int kMaxDepth = 1000;

class Scanner {
 public:
  Scanner(std::string_view doc, const std::vector<Query::Step>& steps,
          std::vector<std::string_view>& out)
      : begin_(doc.data()),
        p_(doc.data()),
        end_(doc.data() + doc.size()),
        steps_(steps),
        out_(out) {}

  Status run() {
    ws();
    if (value(0, steps_.empty() ? kMatch : 0)) {
      ws();
      if (p_ == end_) return {};
      fail("unexpected text after the JSON value");
    }
    if (repeated_) return Status::failed_precondition(error_);
    return Status::invalid_argument("JSON at line 1, column " + std::to_string(error_at_ + 1) +
                                    ": " + error_);
  }

 private:
  static constexpr size_t kSkip = static_cast<size_t>(-1);   // validate only
  static constexpr size_t kMatch = static_cast<size_t>(-2);  // record this value

  // Errors are kept here rather than returned: a Status per value costs time.
  bool fail(const char* what) {
    error_ = what;
    error_at_ = static_cast<size_t>(p_ - begin_);
    return false;
  }
  void ws() {
    const char* q = p_;
    while (q < end_ && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) ++q;
    p_ = q;
  }
  size_t next_step(size_t step) const { return step + 1 == steps_.size() ? kMatch : step + 1; }

  // `step`: the index of the step to apply to this value's children, or kSkip/kMatch.
  bool value(int depth, size_t step) {
    if (p_ >= end_) return fail("unexpected end of input; expected a value");
    const char* start = p_;
    bool s;
    switch (*p_) {
      case '{':
        s = object(depth, step == kMatch ? kSkip : step);
        break;
      case '[':
        s = array(depth, step == kMatch ? kSkip : step);
        break;
      case '"':
        s = string(nullptr);
        break;
      case 't':
        s = literal("true", 4);
        break;
      case 'f':
        s = literal("false", 5);
        break;
      case 'n':
        s = literal("null", 4);
        break;
      default:
        s = number();
    }
    if (!s) return false;
    if (step == kMatch) out_.emplace_back(start, static_cast<size_t>(p_ - start));
    return true;
  }

  bool literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) {
      return fail("invalid literal");
    }
    p_ += n;
    return true;
  }

  bool number() {
    const char* q = p_;
    const char* const end_ = this->end_;  // a local copy keeps the loops in registers
    if (q < end_ && *q == '-') ++q;
    if (q >= end_ || *q < '0' || *q > '9') return fail("expected a value");
    if (*q == '0') {
      ++q;
    } else {
      while (q < end_ && static_cast<unsigned char>(*q - '0') < 10) ++q;
    }
    if (q < end_ && *q == '.') {
      ++q;
      if (q >= end_ || *q < '0' || *q > '9') {
        p_ = q;
        return fail("expected digits after '.'");
      }
      while (q < end_ && static_cast<unsigned char>(*q - '0') < 10) ++q;
    }
    bool exponent = false;
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      exponent = true;
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      if (q >= end_ || *q < '0' || *q > '9') {
        p_ = q;
        return fail("expected digits in the exponent");
      }
      while (q < end_ && static_cast<unsigned char>(*q - '0') < 10) ++q;
    }
    // Only an exponent or a very long number can exceed a double; the parser refuses
    // those ("number overflow"), so this does too.
    if ((exponent || q - p_ > 300) &&
        !std::isfinite(std::strtod(std::string(p_, q).c_str(), nullptr))) {
      return fail("number out of the range of a double");
    }
    p_ = q;
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(unsigned& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<unsigned>(h);
    }
    p_ += 4;
    return true;
  }

  // Validates a string; with `decoded`, also decodes it (member names with escapes).
  bool string(std::string* decoded) {
    ++p_;  // opening quote
    for (;;) {
      // The common case: a run of plain ASCII, 16 bytes at a time where SSE2 is there.
      const char* run = p_;
#if defined(__SSE2__)
      {
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (end_ - p_ >= 16) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
          // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too.
          const __m128i special =
              _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                           _mm_cmplt_epi8(v, space));
          const int mask = _mm_movemask_epi8(special);
          if (mask != 0) {
            p_ += __builtin_ctz(static_cast<unsigned>(mask));
            break;
          }
          p_ += 16;
        }
      }
#endif
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++p_;
      }
      if (decoded) decoded->append(run, static_cast<size_t>(p_ - run));
      if (p_ >= end_) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return fail("control character in a string (escape it)");
      if (c == '\\') {
        ++p_;
        if (p_ >= end_) return fail("unterminated string");
        const char e = *p_++;
        char plain = 0;
        switch (e) {
          case '"':
            plain = '"';
            break;
          case '\\':
            plain = '\\';
            break;
          case '/':
            plain = '/';
            break;
          case 'b':
            plain = '\b';
            break;
          case 'f':
            plain = '\f';
            break;
          case 'n':
            plain = '\n';
            break;
          case 'r':
            plain = '\r';
            break;
          case 't':
            plain = '\t';
            break;
          case 'u': {
            unsigned cp;
            if (!hex4(cp)) return fail("expected four hex digits after \\u");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("a lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              unsigned lo;
              if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
                return fail("a high surrogate must be followed by a low one");
              }
              p_ += 2;
              if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("expected a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (decoded) append_utf8(*decoded, static_cast<char32_t>(cp));
            continue;
          }
          default:
            --p_;
            return fail("invalid escape in a string");
        }
        if (decoded) *decoded += plain;
        continue;
      }
      // A UTF-8 sequence.
      const char* seq = p_;
      int len;
      unsigned cp;
      if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F;
      } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F;
      } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07;
      } else {
        return fail("invalid UTF-8 in a string");
      }
      if (end_ - p_ < len) return fail("invalid UTF-8 in a string");
      for (int k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(p_[k]);
        if ((b & 0xC0) != 0x80) return fail("invalid UTF-8 in a string");
        cp = (cp << 6) | (b & 0x3F);
      }
      static constexpr unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return fail("invalid UTF-8 in a string");
      }
      p_ += len;
      if (decoded) decoded->append(seq, static_cast<size_t>(len));
    }
  }

  bool object(int depth, size_t step) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    ++p_;  // '{'
    ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    const Query::Step* s = step < steps_.size() ? &steps_[step] : nullptr;
    const bool by_name = s && s->kind == Query::Step::kName;
    const bool all = s && s->kind == Query::Step::kWildcard;
    size_t mark = kSkip;  // where the results of the last matching member begin
    std::string key;
    std::unordered_set<std::string> names;  // under a wildcard
    for (;;) {
      if (p_ >= end_ || *p_ != '"') return fail("expected a member name in quotes");
      bool match = false;
      if (by_name) {
        // Compare without decoding unless the name holds escapes.
        const char* k = p_ + 1;
        const char* q = k;
        while (q < end_ && *q != '"' && *q != '\\') ++q;
        if (q < end_ && *q == '"') {
          if (!string(nullptr)) return false;
          match = static_cast<size_t>(q - k) == s->name.size() &&
                  std::memcmp(k, s->name.data(), s->name.size()) == 0;
        } else {
          key.clear();
          if (!string(&key)) return false;
          match = key == s->name;
        }
      } else if (all) {
        // A repeated name under a wildcard: the parser keeps one member (at the first
        // position, with the last value); leave such documents to it.
        key.clear();
        if (!string(&key)) return false;
        if (!names.insert(key).second) {
          repeated_ = true;
          return fail("a member name repeats under a wildcard");
        }
      } else {
        if (!string(nullptr)) return false;
      }
      ws();
      if (p_ >= end_ || *p_ != ':') return fail("expected ':' after a member name");
      ++p_;
      ws();
      if (match) {
        if (mark != kSkip) out_.resize(mark);  // a repeated name: the last one counts
        mark = out_.size();
      }
      if (!value(depth + 1, match || all ? next_step(step) : kSkip)) return false;
      ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        ws();
        continue;
      }
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  bool array(int depth, size_t step) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    const Query::Step* s = step < steps_.size() ? &steps_[step] : nullptr;
    int64_t want = -1;
    const bool all = s && s->kind == Query::Step::kWildcard;
    if (s && s->kind == Query::Step::kIndex) {
      want = s->index;
      if (want < 0) {
        // Count the elements first, then select from the front.
        const char* start = p_;
        int64_t n = 0;
        if (!elements(depth, kSkip, -1, false, &n)) return false;
        want += n;
        if (want < 0) return true;
        p_ = start;
      }
    }
    return elements(depth, step, want, all, nullptr);
  }

  bool elements(int depth, size_t step, int64_t want, bool all, int64_t* count) {
    ++p_;  // '['
    ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      if (count) *count = 0;
      return true;
    }
    int64_t i = 0;
    for (;; ++i) {
      if (!value(depth + 1, all || i == want ? next_step(step) : kSkip)) return false;
      ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        ws();
        continue;
      }
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        if (count) *count = i + 1;
        return true;
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const std::vector<Query::Step>& steps_;
  std::vector<std::string_view>& out_;
  std::string error_;
  size_t error_at_ = 0;

 public:
  bool repeated_ = false;  // see object()
};

}  // namespace

Status scan_select(std::string_view doc, const std::vector<Query::Step>& steps,
                   std::vector<std::string_view>& out) {
  Scanner s(doc, steps, out);
  return s.run();
}

}  // namespace jz::routepath
