#include "logs/classes.h"

#include <algorithm>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace jz::logs {

namespace {

// Masks of one 64-byte word: bit i for byte i.
struct Masks {
  uint64_t blank = 0;                  // <= 0x20
  uint64_t not_num = 0;                // not one of [0-9.,;|+-] or blank/tab
  uint64_t control = 0;                // control bytes but tab, LF, CR, ESC; and DEL
  uint64_t high = 0;                   // >= 0x80
  uint64_t not_hexsep = 0;             // not [0-9a-fA-F :,-]
  uint64_t not_b64sep = 0;             // not [A-Za-z0-9+/=_-] or blank/tab
  uint64_t not_gate[kGateCount] = {};  // not in the gate class (logs/gate.h); spaced
                                       // digits are made from digits and spaces
  uint64_t space = 0;                  // ' '
};

bool is_num_char(unsigned char c) {
  return (c >= '0' && c <= '9') || c == ' ' || c == '\t' || c == '.' || c == ',' || c == ';' ||
         c == '|' || c == '+' || c == '-';
}
bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_b64(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
         c == '/' || c == '=' || c == '_' || c == '-';
}
bool is_control(unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0x1b) || c == 0x7f;
}

Masks scalar_masks(const unsigned char* p, size_t n) {
  Masks m;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    const uint64_t bit = uint64_t{1} << i;
    if (c <= 0x20) m.blank |= bit;
    if (!is_num_char(c)) m.not_num |= bit;
    if (is_control(c)) m.control |= bit;
    if (c >= 0x80) m.high |= bit;
    if (!(is_hex(c) || c == ' ' || c == ':' || c == ',' || c == '-')) m.not_hexsep |= bit;
    if (!(is_b64(c) || c == ' ' || c == '\t')) m.not_b64sep |= bit;
    if (c == ' ') m.space |= bit;
    if (!(c >= '0' && c <= '9')) m.not_gate[kGateDigits] |= bit;
    if (!((c >= '0' && c <= '9') || c == '.' || c == ':')) m.not_gate[kGateDigitsDotted] |= bit;
  }
  // Past the end: breaks every run.
  for (size_t i = n; i < 64; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    m.blank |= bit;
    m.not_num |= bit;
    m.not_hexsep |= bit;
    m.not_b64sep |= bit;
    for (auto& g : m.not_gate) g |= bit;
  }
  return m;
}

#if defined(__SSE2__)
Masks vector_masks(const unsigned char* p) {
  Masks m;
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i tab = _mm_set1_epi8('\t'), dot = _mm_set1_epi8('.'), comma = _mm_set1_epi8(',');
  const __m128i semi = _mm_set1_epi8(';'), bar = _mm_set1_epi8('|'), plus = _mm_set1_epi8('+');
  const __m128i minus = _mm_set1_epi8('-'), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
  const __m128i esc = _mm_set1_epi8(0x1b), del = _mm_set1_epi8(0x7f);
  const __m128i lower = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), five = _mm_set1_epi8(5);
  const __m128i twenty_five = _mm_set1_epi8(25), colon = _mm_set1_epi8(':');
  const __m128i slash = _mm_set1_epi8('/'), eq = _mm_set1_epi8('='), under = _mm_set1_epi8('_');
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i c1f = _mm_set1_epi8(0x1f);
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i blank = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);
    const __m128i d = _mm_sub_epi8(v, zero);
    __m128i num = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, space));
    num = _mm_or_si128(num, _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, dot)));
    num = _mm_or_si128(num, _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, semi)));
    num = _mm_or_si128(num, _mm_or_si128(_mm_cmpeq_epi8(v, bar), _mm_cmpeq_epi8(v, plus)));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, minus));
    __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);  // < 0x20
    const __m128i allowed =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, lf)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, esc)));
    low = _mm_or_si128(_mm_andnot_si128(allowed, low), _mm_cmpeq_epi8(v, del));
    // Letters: v | 0x20 in a..z (or a..f for hex).
    const __m128i l = _mm_sub_epi8(_mm_or_si128(v, lower), a);
    const __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(l, twenty_five), l);
    const __m128i hexletter = _mm_cmpeq_epi8(_mm_min_epu8(l, five), l);
    const __m128i isdigit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
    const __m128i sp = _mm_cmpeq_epi8(v, space), dash = _mm_cmpeq_epi8(v, minus);
    const __m128i hexsep =
        _mm_or_si128(_mm_or_si128(_mm_or_si128(isdigit, hexletter), _mm_or_si128(sp, dash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, colon), _mm_cmpeq_epi8(v, comma)));
    const __m128i b64sep = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(isdigit, letter), _mm_or_si128(sp, dash)),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, plus), _mm_cmpeq_epi8(v, slash)),
                     _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(v, under)),
                                  _mm_cmpeq_epi8(v, tab))));
    const int shift = 16 * k;
    m.not_hexsep |= uint64_t(static_cast<uint16_t>(~_mm_movemask_epi8(hexsep))) << shift;
    m.not_b64sep |= uint64_t(static_cast<uint16_t>(~_mm_movemask_epi8(b64sep))) << shift;
    m.blank |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(blank))) << shift;
    m.not_num |= uint64_t(static_cast<uint16_t>(~_mm_movemask_epi8(num))) << shift;
    m.control |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(low))) << shift;
    m.high |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(v))) << shift;
    static_assert(kGateCount == 3, "the gate classes are spelled out here");
    const int digits = _mm_movemask_epi8(isdigit);
    m.not_gate[kGateDigits] |= uint64_t(static_cast<uint16_t>(~digits)) << shift;
    m.space |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(sp))) << shift;
    m.not_gate[kGateDigitsDotted] |=
        uint64_t(static_cast<uint16_t>(~_mm_movemask_epi8(
            _mm_or_si128(isdigit, _mm_or_si128(_mm_cmpeq_epi8(v, dot), _mm_cmpeq_epi8(v, colon))))))
        << shift;
  }
  return m;
}
#endif

#if defined(__x86_64__)
// The same masks with AVX2, where the processor has it (checked at run time): each class
// is a 16-byte table indexed by a byte's low nibble, giving the high nibbles (0-7) of its
// members; a byte is a member when the table's entry has the bit of its high nibble. Four
// instructions a class for 32 bytes, for any set of ASCII bytes.
struct NibbleTable {
  alignas(16) uint8_t lo[16] = {};
};

template <class In>
constexpr NibbleTable table_of(In in) {
  NibbleTable t;
  for (int c = 0; c < 0x80; ++c) {
    if (in(static_cast<unsigned char>(c))) t.lo[c & 15] |= static_cast<uint8_t>(1u << (c >> 4));
  }
  return t;
}

constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr NibbleTable kBlankTable = table_of([](unsigned char c) { return c <= 0x20; });
constexpr NibbleTable kNumTable = table_of([](unsigned char c) {
  return is_digit(c) || c == ' ' || c == '\t' || c == '.' || c == ',' || c == ';' || c == '|' ||
         c == '+' || c == '-';
});
constexpr NibbleTable kControlTable = table_of([](unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0x1b) || c == 0x7f;
});
constexpr NibbleTable kHexSepTable = table_of([](unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ' ' || c == ':' ||
         c == ',' || c == '-';
});
constexpr NibbleTable kB64SepTable = table_of([](unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/' ||
         c == '=' || c == '_' || c == '-' || c == ' ' || c == '\t';
});
constexpr NibbleTable kDigitTable = table_of([](unsigned char c) { return is_digit(c); });
constexpr NibbleTable kDottedTable =
    table_of([](unsigned char c) { return is_digit(c) || c == '.' || c == ':'; });

// A function attribute (GCC and Clang both read it), and no lambdas inside: a lambda
// would not inherit it.
__attribute__((target("avx2"))) Masks vector_masks_avx2(const unsigned char* p) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i hibits = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                          2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0);
#define JZ_TABLE(t) \
  _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>((t).lo)))
  const __m256i blank_t = JZ_TABLE(kBlankTable), num_t = JZ_TABLE(kNumTable);
  const __m256i control_t = JZ_TABLE(kControlTable), hex_t = JZ_TABLE(kHexSepTable);
  const __m256i b64_t = JZ_TABLE(kB64SepTable);
  const __m256i digit_t = JZ_TABLE(kDigitTable), dotted_t = JZ_TABLE(kDottedTable);
  const __m256i space = _mm256_set1_epi8(' ');
#undef JZ_TABLE
  Masks m;
  for (int half = 0; half < 2; ++half) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * half));
    const __m256i lo = _mm256_and_si256(v, low4);
    const __m256i hb = _mm256_shuffle_epi8(hibits, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
    // Bits of the bytes that are not members of the class of table t.
#define outside(t)                                     \
  uint64_t(static_cast<uint32_t>(_mm256_movemask_epi8( \
      _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8((t), lo), hb), zero))))
    const int shift = 32 * half;
    m.blank |= (~outside(blank_t) & 0xffffffffu) << shift;
    m.control |= (~outside(control_t) & 0xffffffffu) << shift;
    m.not_num |= outside(num_t) << shift;
    m.not_hexsep |= outside(hex_t) << shift;
    m.not_b64sep |= outside(b64_t) << shift;
    m.not_gate[kGateDigits] |= outside(digit_t) << shift;
    m.not_gate[kGateDigitsDotted] |= outside(dotted_t) << shift;
    m.space |= uint64_t(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, space))))
               << shift;
    m.high |= uint64_t(static_cast<uint32_t>(_mm256_movemask_epi8(v))) << shift;
#undef outside
  }
  return m;
}

bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

// Bits i where a run of zero bits of length >= k ends at i (at least one bit per run),
// given `carry` zero bits before this word; updates carry.
inline __attribute__((always_inline)) uint64_t long_runs(uint64_t m, uint64_t& carry, int k) {
  uint64_t hits = 0;
  const int first = m ? __builtin_ctzll(m) : 64;
  if (first > 0 && carry + static_cast<uint64_t>(first) >= static_cast<uint64_t>(k)) {
    hits |= uint64_t{1} << (first - 1);
  }
  if (k <= 64 && m) {
    // x: bit i set when a one lies in [i - k + 1, i] (within this word).
    uint64_t x = m;
    int covered = 1;
    while (covered * 2 <= k) {
      x |= x << covered;
      covered *= 2;
    }
    if (covered < k) x |= x << (k - covered);
    uint64_t inside = ~x;
    if (k > 1) inside &= ~((uint64_t{1} << (k - 1)) - 1);  // whole runs inside the word
    hits |= inside;
  }
  carry = m ? static_cast<uint64_t>(__builtin_clzll(m)) : carry + 64;
  return hits;
}

}  // namespace

void find_newlines(std::string_view data, std::vector<uint32_t>& out) {
  const char* p = data.data();
  const size_t n = data.size();
  size_t base = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  for (; base + 64 <= n; base += 64) {
    uint64_t m = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base + 16 * k));
      m |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << (16 * k);
    }
    while (m) {
      out.push_back(static_cast<uint32_t>(base + static_cast<size_t>(__builtin_ctzll(m))));
      m &= m - 1;
    }
  }
#endif
  for (; base < n; ++base) {
    if (p[base] == '\n') out.push_back(static_cast<uint32_t>(base));
  }
}

void flag_lines(std::string_view block, const std::vector<LineRef>& lines, int token_min,
                int number_span, int group_span, uint8_t* flags, const int* gate_runs,
                uint8_t* gates) {
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  const size_t n = block.size();
  uint64_t carry_token = 0, carry_num = 0, carry_hex = 0, carry_b64 = 0;
  uint64_t carry_gate[kGateCount] = {};
  uint64_t last_digit = 0;  // the last byte of the word before was a digit
  bool gated = false;
  for (int g = 0; gates && gate_runs && g < kGateCount; ++g) gated |= gate_runs[g] > 0;
  size_t cursor = 0;
  auto mark = [&](uint64_t bits, size_t base, uint8_t* out, uint8_t flag) {
    while (bits) {
      const size_t pos = base + static_cast<size_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      // Positions come in order: move the cursor forward to the line holding pos.
      while (cursor + 1 < lines.size() && lines[cursor + 1].offset <= pos) ++cursor;
      if (cursor < lines.size()) out[cursor] |= flag;
    }
  };
#if defined(__x86_64__)
  const bool avx2 = have_avx2();
#endif
  for (size_t base = 0; base < n; base += 64) {
    Masks m;
#if defined(__SSE2__)
    if (base + 64 <= n) {
#if defined(__x86_64__)
      m = avx2 ? vector_masks_avx2(p + base) : vector_masks(p + base);
#else
      m = vector_masks(p + base);
#endif
    } else {
      m = scalar_masks(p + base, n - base);
    }
#else
    m = scalar_masks(p + base, std::min<size_t>(64, n - base));
#endif
    // Spaced digits: digits, and spaces right after a digit (the last byte of the word
    // before included).
    const uint64_t digit = ~m.not_gate[kGateDigits];
    m.not_gate[kGateDigitsSpaced] = ~(digit | (m.space & ((digit << 1) | last_digit)));
    last_digit = digit >> 63;
    const uint64_t tokens = long_runs(m.blank, carry_token, token_min);
    const uint64_t numbers = long_runs(m.not_num, carry_num, number_span);
    const uint64_t hex = long_runs(m.not_hexsep, carry_hex, 40);
    const uint64_t b64 = long_runs(m.not_b64sep, carry_b64, group_span);
    uint64_t gate_hits[kGateCount] = {};
    uint64_t any_gate = 0;
    if (gated) {
      for (int g = 0; g < kGateCount; ++g) {
        if (gate_runs[g] > 0) {
          gate_hits[g] = long_runs(m.not_gate[g], carry_gate[g], gate_runs[g]);
          any_gate |= gate_hits[g];
        }
      }
    }
    if (tokens | numbers | hex | b64 | m.high | m.control | any_gate) {
      // Each kind walks forward from the line where this word starts.
      const size_t start = cursor;
      size_t reached = cursor;
      for (auto [bits, flag] : {std::pair<uint64_t, uint8_t>{tokens, kLongToken},
                                {numbers, kNumberRun},
                                {hex, kHexGroups},
                                {b64, kB64Groups},
                                {m.high, kNonAscii},
                                {m.control, kControl}}) {
        cursor = start;
        mark(bits, base, flags, flag);
        reached = std::max(reached, cursor);
      }
      for (int g = 0; any_gate && g < kGateCount; ++g) {
        cursor = start;
        mark(gate_hits[g], base, gates, static_cast<uint8_t>(1u << g));
        reached = std::max(reached, cursor);
      }
      cursor = reached;
    }
  }
}

bool has_class_run(std::string_view line, int base64_min, int hex_min, int* kind) {
  int b64 = 0, url = 0, hex = 0;
  for (unsigned char c : line) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    const bool ishex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    b64 = alnum || c == '+' || c == '/' ? b64 + 1 : 0;
    url = alnum || c == '_' || c == '-' ? url + 1 : 0;
    hex = ishex ? hex + 1 : 0;
    if (hex >= hex_min) {
      *kind = 1;
      return true;
    }
    if (b64 >= base64_min || url >= base64_min) {
      *kind = 0;
      return true;
    }
  }
  return false;
}

bool has_number_run(std::string_view line, int numbers_min) {
  // Numbers ([-+]?[0-9]+(.[0-9]+)?) in a row, each pair separated by blanks, or by one of
  // , ; | with optional blanks around it.
  const size_t n = line.size();
  auto digit = [&](size_t at) { return at < n && line[at] >= '0' && line[at] <= '9'; };
  auto blank = [&](size_t at) { return at < n && (line[at] == ' ' || line[at] == '\t'); };
  int count = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    if (line[j] == '-' || line[j] == '+') ++j;
    if (!digit(j)) {
      count = 0;
      ++i;
      continue;
    }
    while (digit(j)) ++j;
    if (j + 1 < n && line[j] == '.' && digit(j + 1)) {
      ++j;
      while (digit(j)) ++j;
    }
    if (++count >= numbers_min) return true;
    size_t k = j;
    while (blank(k)) ++k;
    if (k < n && (line[k] == ',' || line[k] == ';' || line[k] == '|')) {
      ++k;
      while (blank(k)) ++k;
    }
    if (k == j) {
      count = 0;  // no separator: the run ends here
      i = j;
      continue;
    }
    i = k;
  }
  return false;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += len;
  }
  return true;
}

bool has_hex_groups(std::string_view line, int pairs) {
  const size_t n = line.size();
  auto hex = [&](size_t at) { return at < n && is_hex(static_cast<unsigned char>(line[at])); };
  auto sep = [&](size_t at) {
    return at < n && (line[at] == ' ' || line[at] == ':' || line[at] == ',' || line[at] == '-');
  };
  // Pairs: separators are not hex digits, so runs cannot overlap out of step.
  for (size_t i = 0; i + 1 < n;) {
    if (!(hex(i) && hex(i + 1))) {
      ++i;
      continue;
    }
    int count = 1;
    size_t j = i + 2;
    while (sep(j) && hex(j + 1) && hex(j + 2)) {
      if (++count >= pairs) return true;
      j += 3;
    }
    i = j > i + 2 ? j : i + 1;
  }
  // xxd: "8950 4e47 0d0a ..." eight groups of four and a space.
  for (size_t i = 0; i + 4 < n;) {
    int count = 0;
    size_t j = i;
    while (hex(j) && hex(j + 1) && hex(j + 2) && hex(j + 3) && j + 4 < n && line[j + 4] == ' ') {
      if (++count >= 8) return true;
      j += 5;
    }
    i = count > 0 ? j : i + 1;
  }
  return false;
}

bool has_b64_groups(std::string_view line, int groups) {
  // Tokens split at blanks: the run is a token whose last four characters are base64, then
  // tokens of exactly four, then one whose first four are.
  const size_t n = line.size();
  int count = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < n && line[j] != ' ' && line[j] != '\t') ++j;
    const size_t len = j - i;
    auto all_b64 = [&](size_t from, size_t to) {
      for (size_t k = from; k < to; ++k) {
        if (!is_b64(static_cast<unsigned char>(line[k]))) return false;
      }
      return true;
    };
    if (len >= 4 && count > 0 && all_b64(i, i + 4)) {
      if (++count >= groups) return true;
    }
    if (len == 4 && all_b64(i, j)) {
      if (count == 0) count = 1;
    } else {
      count = len >= 4 && all_b64(j - 4, j) ? 1 : 0;
    }
    i = j;
  }
  return false;
}

}  // namespace jz::logs
