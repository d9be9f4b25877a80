#include "logs/classes.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
// GCC 12's AVX-512 headers warn on their own code (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
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

// The classes, once: the scalar masks test them, the vector tables are built from them.
constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool is_blank(unsigned char c) { return c <= 0x20; }
constexpr bool is_num_char(unsigned char c) {
  return is_digit(c) || c == ' ' || c == '\t' || c == '.' || c == ',' || c == ';' || c == '|' ||
         c == '+' || c == '-';
}
constexpr bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_b64(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/' ||
         c == '=' || c == '_' || c == '-';
}
constexpr bool is_control(unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0x1b) || c == 0x7f;
}
constexpr bool is_hexsep(unsigned char c) {
  return is_hex(c) || c == ' ' || c == ':' || c == ',' || c == '-';
}
constexpr bool is_b64sep(unsigned char c) { return is_b64(c) || c == ' ' || c == '\t'; }
constexpr bool is_dotted(unsigned char c) { return is_digit(c) || c == '.' || c == ':'; }

Masks scalar_masks(const unsigned char* p, size_t n) {
  Masks m;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    const uint64_t bit = uint64_t{1} << i;
    if (is_blank(c)) m.blank |= bit;
    if (!is_num_char(c)) m.not_num |= bit;
    if (is_control(c)) m.control |= bit;
    if (c >= 0x80) m.high |= bit;
    if (!is_hexsep(c)) m.not_hexsep |= bit;
    if (!is_b64sep(c)) m.not_b64sep |= bit;
    if (c == ' ') m.space |= bit;
    if (!is_digit(c)) m.not_gate[kGateDigits] |= bit;
    if (!is_dotted(c)) m.not_gate[kGateDigitsDotted] |= bit;
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
struct Sse2Masks {
  static Masks of(const unsigned char* p) {
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
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + size_t{16} * k));
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
          uint64_t(static_cast<uint16_t>(~_mm_movemask_epi8(_mm_or_si128(
              isdigit, _mm_or_si128(_mm_cmpeq_epi8(v, dot), _mm_cmpeq_epi8(v, colon))))))
          << shift;
    }
    return m;
  }
};
#endif

#if defined(__x86_64__)
// The same masks with AVX2 or AVX-512, where the processor has them (checked at run
// time): each class is a 16-byte table indexed by a byte's low nibble, giving the high
// nibbles (0-7) of its members; a byte is a member when the table's entry has the bit of
// its high nibble. For 64 bytes, AVX2 takes eight instructions a class, AVX-512 two.
struct NibbleTable {
  alignas(16) uint8_t lo[16] = {};
};

constexpr NibbleTable table_of(bool (*in)(unsigned char)) {
  NibbleTable t;
  for (int c = 0; c < 0x80; ++c) {
    if (in(static_cast<unsigned char>(c))) t.lo[c & 15] |= static_cast<uint8_t>(1u << (c >> 4));
  }
  return t;
}

constexpr NibbleTable kBlankTable = table_of(is_blank), kNumTable = table_of(is_num_char);
constexpr NibbleTable kControlTable = table_of(is_control), kHexSepTable = table_of(is_hexsep);
constexpr NibbleTable kB64SepTable = table_of(is_b64sep), kDigitTable = table_of(is_digit);
constexpr NibbleTable kDottedTable = table_of(is_dotted);
// Bit (1 << high nibble) for high nibbles 0-7; none for bytes >= 0x80.
alignas(16) constexpr uint8_t kHighBits[16] = {1, 2, 4, 8, 16, 32, 64, 128};

// Function attributes (GCC and Clang both read them), and no lambdas inside: a lambda
// would not inherit them.
struct Avx2Masks {
  __attribute__((target("avx2"))) static Masks of(const unsigned char* p) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i zero = _mm256_setzero_si256();
#define JZ_TABLE(t) _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(t)))
    const __m256i hibits = JZ_TABLE(kHighBits);
    const __m256i blank_t = JZ_TABLE(kBlankTable.lo), num_t = JZ_TABLE(kNumTable.lo);
    const __m256i control_t = JZ_TABLE(kControlTable.lo), hex_t = JZ_TABLE(kHexSepTable.lo);
    const __m256i b64_t = JZ_TABLE(kB64SepTable.lo);
    const __m256i digit_t = JZ_TABLE(kDigitTable.lo), dotted_t = JZ_TABLE(kDottedTable.lo);
    const __m256i space = _mm256_set1_epi8(' ');
#undef JZ_TABLE
    Masks m;
    for (int half = 0; half < 2; ++half) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + size_t{32} * half));
      const __m256i lo = _mm256_and_si256(v, low4);
      const __m256i hb =
          _mm256_shuffle_epi8(hibits, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
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
};

// The tables four times over, for the four 16-byte lanes of a 512-bit register.
struct WideTable {
  alignas(64) uint8_t b[64] = {};
};
constexpr WideTable wide(const uint8_t* lo) {
  WideTable w;
  for (int i = 0; i < 64; ++i) w.b[i] = lo[i % 16];
  return w;
}
constexpr WideTable kWideHighBits = wide(kHighBits), kWideBlank = wide(kBlankTable.lo);
constexpr WideTable kWideNum = wide(kNumTable.lo), kWideControl = wide(kControlTable.lo);
constexpr WideTable kWideHexSep = wide(kHexSepTable.lo), kWideB64Sep = wide(kB64SepTable.lo);
constexpr WideTable kWideDigit = wide(kDigitTable.lo), kWideDotted = wide(kDottedTable.lo);

struct Avx512Masks {
  __attribute__((target("avx512bw"))) static Masks of(const unsigned char* p) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i v = _mm512_loadu_si512(p);
    const __m512i lo = _mm512_and_si512(v, low4);
    const __m512i hb = _mm512_shuffle_epi8(_mm512_load_si512(kWideHighBits.b),
                                           _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
    // Bits of the bytes that are members of the class of table t.
#define inside(t)        \
  static_cast<uint64_t>( \
      _mm512_test_epi8_mask(_mm512_shuffle_epi8(_mm512_load_si512((t).b), lo), hb))
    Masks m;
    m.blank = inside(kWideBlank);
    m.control = inside(kWideControl);
    m.not_num = ~inside(kWideNum);
    m.not_hexsep = ~inside(kWideHexSep);
    m.not_b64sep = ~inside(kWideB64Sep);
    m.not_gate[kGateDigits] = ~inside(kWideDigit);
    m.not_gate[kGateDigitsDotted] = ~inside(kWideDotted);
    m.space = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '));
    m.high = _mm512_movepi8_mask(v);
#undef inside
    return m;
  }
};

// With VBMI as well, one lookup in a 128-byte table (vpermi2b) gives every class of an
// ASCII byte at once: bit k for the class of table k, bit 7 for the space.
struct ByteTable {
  alignas(64) uint8_t b[128] = {};
};
constexpr ByteTable class_bits() {
  const NibbleTable* tables[] = {&kBlankTable,  &kControlTable, &kNumTable,   &kHexSepTable,
                                 &kB64SepTable, &kDigitTable,   &kDottedTable};
  ByteTable t;
  for (int c = 0; c < 128; ++c) {
    for (int k = 0; k < 7; ++k) {
      if ((tables[k]->lo[c & 15] >> (c >> 4)) & 1) t.b[c] = static_cast<uint8_t>(t.b[c] | (1 << k));
    }
    if (c == ' ') t.b[c] = static_cast<uint8_t>(t.b[c] | 128);
  }
  return t;
}
constexpr ByteTable kClassBits = class_bits();

struct Avx512VbmiMasks {
  __attribute__((target("avx512bw,avx512vbmi"))) static Masks of(const unsigned char* p) {
    const __m512i v = _mm512_loadu_si512(p);
    const __m512i bits = _mm512_permutex2var_epi8(_mm512_load_si512(kClassBits.b), v,
                                                  _mm512_load_si512(kClassBits.b + 64));
    Masks m;
    m.high = _mm512_movepi8_mask(v);
    const __mmask64 ascii = ~m.high;  // the table is indexed by the low 7 bits
#define inside(k)        \
  static_cast<uint64_t>( \
      _mm512_mask_test_epi8_mask(ascii, bits, _mm512_set1_epi8(static_cast<char>(1 << (k)))))
    m.blank = inside(0);
    m.control = inside(1);
    m.not_num = ~inside(2);
    m.not_hexsep = ~inside(3);
    m.not_b64sep = ~inside(4);
    m.not_gate[kGateDigits] = ~inside(5);
    m.not_gate[kGateDigitsDotted] = ~inside(6);
    m.space = inside(7);
#undef inside
    return m;
  }
};
#endif

// The widest instructions the pass uses: 0 scalar or SSE2, 1 AVX2, 2 AVX-512BW (and CD),
// 3 AVX-512 with VBMI.
int detected_level() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512vbmi")) {
    return 3;
  }
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd")) return 2;
  if (__builtin_cpu_supports("avx2")) return 1;
#endif
  return 0;
}
std::atomic<int> level_limit{3};

// The level in use: what the processor has, within the limit.
int vector_level() {
  static const int detected = detected_level();
  return std::min(detected, level_limit.load(std::memory_order_relaxed));
}

// The runs the pass looks for: four detector classes, then the gate classes.
constexpr int kTokenRun = 0, kNumberRunClass = 1, kHexRun = 2, kB64Run = 3, kGateRun0 = 4;
constexpr int kRuns = kGateRun0 + kGateCount;
constexpr uint8_t kRunFlag[kGateRun0] = {kLongToken, kNumberRun, kHexGroups, kB64Groups};

// Finding runs of zero bits at least k long in a class's masks (runs of bytes outside
// the class). For k <= 64, exactly. A longer run crosses a boundary between words: it is
// found exactly where it crosses one boundary (the zero bits at the top of the word
// before and at the bottom of this one), and a word of 64 zero bits counts as a run
// (a few more lines are flagged for the exact checks, never fewer).
// `low` and `high` have the lowest and highest bit of each aligned chunk of s bits, s
// the largest power of two with 2s - 1 <= k (at most 32): every run of k zero bits holds
// a whole chunk of zeros, and a word without one (one subtraction tells) has no run of k
// inside it.
struct RunSpec {
  int k = 0;  // 0: not looked for
  uint64_t low = 0, high = 0;
  RunSpec() = default;
  explicit RunSpec(int length) : k(std::max(length, 0)) {
    int s = 1;
    while (s < 32 && 4 * s - 1 <= k) s *= 2;
    for (int i = 0; i < 64; i += s) {
      low |= uint64_t{1} << i;
      high |= uint64_t{1} << (i + s - 1);
    }
  }
};

// Bits i where a run of zero bits of length >= k ends at i, at least one bit per run,
// given `carry` zero bits at the top of the word before (64: all); updates carry.
inline __attribute__((always_inline)) uint64_t long_runs(uint64_t m, uint64_t& carry,
                                                         const RunSpec& spec) {
  const int k = spec.k;
  uint64_t hits = 0;
  const int first = m ? __builtin_ctzll(m) : 64;
  if (first > 0 && carry + static_cast<uint64_t>(first) >= static_cast<uint64_t>(k)) {
    hits |= uint64_t{1} << (first - 1);
  }
  if (k > 64) {
    hits |= m ? 0 : 1;
  } else if (m && ((m - spec.low) & ~m & spec.high)) {
    // x: bit i set when a one lies in [i - k + 1, i] (within this word).
    uint64_t x = m;
    int covered = 1;
    while (covered * 2 <= k) {
      x |= x << covered;
      covered *= 2;
    }
    if (covered < k) x |= x << (k - covered);
    hits |= ~x & ~((uint64_t{1} << (k - 1)) - 1);  // whole runs inside the word
  }
  carry = m ? static_cast<uint64_t>(__builtin_clzll(m)) : 64;
  return hits;
}

struct Pass {
  std::string_view block;
  const std::vector<LineRef>& lines;
  RunSpec spec[kRuns];
  uint8_t* flags;
  uint8_t* gates;
};

// Where the pass is: for each class, the zero bits (run) just before the next word.
struct PassState {
  uint64_t carry[kRuns] = {};
  uint64_t last_digit = 0;  // the last byte of the word before was a digit
  size_t cursor = 0;        // the line of the last position marked
};

// Marks the line of each bit of `bits` (positions from `base`) with `flag`. Positions
// come in order: `cursor` moves forward to the line holding each.
inline __attribute__((always_inline)) void mark(const std::vector<LineRef>& lines, uint64_t bits,
                                                size_t base, size_t& cursor, uint8_t* out,
                                                uint8_t flag) {
  while (bits) {
    const size_t pos = base + static_cast<size_t>(__builtin_ctzll(bits));
    bits &= bits - 1;
    while (cursor + 1 < lines.size() && lines[cursor + 1].offset <= pos) ++cursor;
    if (cursor < lines.size()) out[cursor] |= flag;
  }
}

// Marks the lines of one word's hits; each kind walks forward from the line where the
// word starts.
inline void mark_word(const Pass& a, PassState& st, size_t base, const uint64_t* hits,
                      uint64_t high, uint64_t control) {
  const size_t start = st.cursor;
  size_t reached = start;
  auto one = [&](uint64_t bits, uint8_t* out, uint8_t flag) {
    if (!bits) return;
    size_t cursor = start;
    mark(a.lines, bits, base, cursor, out, flag);
    reached = std::max(reached, cursor);
  };
  for (int r = 0; r < kGateRun0; ++r) one(hits[r], a.flags, kRunFlag[r]);
  one(high, a.flags, kNonAscii);
  one(control, a.flags, kControl);
  for (int g = 0; a.gates && g < kGateCount; ++g) {
    one(hits[kGateRun0 + g], a.gates, static_cast<uint8_t>(1u << g));
  }
  st.cursor = reached;
}

// The class masks of one word in Run order, `stride` apart in `out`. Spaced digits are
// digits, and spaces right after a digit (the last byte of the word before included).
inline __attribute__((always_inline)) void run_masks(const Masks& m, uint64_t& last_digit,
                                                     uint64_t* out, size_t stride) {
  out[kTokenRun * stride] = m.blank;
  out[kNumberRunClass * stride] = m.not_num;
  out[kHexRun * stride] = m.not_hexsep;
  out[kB64Run * stride] = m.not_b64sep;
  const uint64_t digit = ~m.not_gate[kGateDigits];
  out[(kGateRun0 + kGateDigits) * stride] = m.not_gate[kGateDigits];
  out[(kGateRun0 + kGateDigitsSpaced) * stride] =
      ~(digit | (m.space & ((digit << 1) | last_digit)));
  out[(kGateRun0 + kGateDigitsDotted) * stride] = m.not_gate[kGateDigitsDotted];
  last_digit = digit >> 63;
}

// The pass a word at a time from `base`, with the masks of whole words from M (inlined
// into a function compiled for M's instructions) and of the last part word from
// scalar_masks.
template <class M>
inline __attribute__((always_inline)) void flag_words(const Pass& a, PassState& st, size_t base) {
  const auto* p = reinterpret_cast<const unsigned char*>(a.block.data());
  const size_t n = a.block.size();
  for (; base < n; base += 64) {
    const Masks m = base + 64 <= n ? M::of(p + base) : scalar_masks(p + base, n - base);
    uint64_t runs[kRuns], hits[kRuns];
    run_masks(m, st.last_digit, runs, 1);
    uint64_t any = m.high | m.control;
    for (int r = 0; r < kRuns; ++r) {
      hits[r] = a.spec[r].k ? long_runs(runs[r], st.carry[r], a.spec[r]) : 0;
      any |= hits[r];
    }
    if (any) mark_word(a, st, base, hits, m.high, m.control);
  }
}

struct ScalarMasks {
  static Masks of(const unsigned char* p) { return scalar_masks(p, 64); }
};

#if defined(__x86_64__)
// With AVX-512, eight words at a time: the masks of each class for 512 bytes in one
// register, a 64-bit lane a word, and the runs found in all lanes at once (about 20
// instructions a class for eight words, where a word at a time takes 15 a class for
// each). A run across two words is the zero bits at the top of the word before (counted
// by lzcnt) and at the bottom of this one.
__attribute__((target("avx512bw,avx512cd"))) inline __m512i runs_of_8(__m512i m, __m512i before,
                                                                      int k) {
  const __m512i one = _mm512_set1_epi64(1);
  __m512i hits;
  if (k > 64) {
    hits = _mm512_maskz_mov_epi64(_mm512_testn_epi64_mask(m, m), one);  // words of zeros
  } else {
    __m512i x = m;
    int covered = 1;
    while (covered * 2 <= k) {
      x = _mm512_or_si512(x, _mm512_sll_epi64(x, _mm_cvtsi32_si128(covered)));
      covered *= 2;
    }
    if (covered < k) x = _mm512_or_si512(x, _mm512_sll_epi64(x, _mm_cvtsi32_si128(k - covered)));
    const uint64_t high = ~((uint64_t{1} << (k - 1)) - 1);
    hits = _mm512_andnot_si512(x, _mm512_set1_epi64(static_cast<long long>(high)));
  }
  // Across the boundary: zeros at the top of the word before, plus at the bottom of this
  // one (64 - lzcnt of ~m & (m - 1), the bits below its lowest one).
  const __m512i top = _mm512_lzcnt_epi64(before);
  const __m512i bottom = _mm512_sub_epi64(
      _mm512_set1_epi64(64), _mm512_lzcnt_epi64(_mm512_andnot_si512(m, _mm512_sub_epi64(m, one))));
  const __mmask8 across =
      _mm512_cmpge_epu64_mask(_mm512_add_epi64(top, bottom), _mm512_set1_epi64(k)) &
      _mm512_testn_epi64_mask(m, one);
  return _mm512_mask_or_epi64(hits, across, hits, one);
}

// The masks of eight words, each class's in a row of `runs`.
template <class M>
inline __attribute__((always_inline)) void mask_batch(const unsigned char* p, uint64_t& last_digit,
                                                      uint64_t (*runs)[8], uint64_t* high,
                                                      uint64_t* control) {
  for (int w = 0; w < 8; ++w) {
    const Masks m = M::of(p + size_t{64} * w);
    run_masks(m, last_digit, &runs[0][w], 8);
    high[w] = m.high;
    control[w] = m.control;
  }
}
using MaskBatch = void (*)(const unsigned char*, uint64_t&, uint64_t (*)[8], uint64_t*, uint64_t*);
__attribute__((target("avx512bw"))) void mask_batch_avx512(const unsigned char* p,
                                                           uint64_t& last_digit,
                                                           uint64_t (*runs)[8], uint64_t* high,
                                                           uint64_t* control) {
  mask_batch<Avx512Masks>(p, last_digit, runs, high, control);
}
__attribute__((target("avx512bw,avx512vbmi"))) void mask_batch_vbmi(const unsigned char* p,
                                                                    uint64_t& last_digit,
                                                                    uint64_t (*runs)[8],
                                                                    uint64_t* high,
                                                                    uint64_t* control) {
  mask_batch<Avx512VbmiMasks>(p, last_digit, runs, high, control);
}

__attribute__((target("avx512bw,avx512cd"))) void flag_avx512(const Pass& a, MaskBatch batch) {
  const auto* p = reinterpret_cast<const unsigned char*>(a.block.data());
  const size_t n = a.block.size();
  PassState st;
  __m512i before[kRuns];  // lane 7: the last word of the batch before (none: all ones)
  for (auto& b : before) b = _mm512_set1_epi64(-1);
  size_t base = 0;
  for (; base + 512 <= n; base += 512) {
    alignas(64) uint64_t runs[kRuns][8];
    alignas(64) uint64_t hits[kRuns][8];
    uint64_t high[8], control[8], odd = 0;
    batch(p + base, st.last_digit, runs, high, control);
    for (int w = 0; w < 8; ++w) odd |= high[w] | control[w];
    unsigned words = odd ? 0xff : 0;  // the words with anything to mark
    for (int c = 0; c < kRuns; ++c) {
      const __m512i m = _mm512_load_si512(runs[c]);
      const __m512i prior = _mm512_alignr_epi64(m, before[c], 7);
      before[c] = m;
      if (!a.spec[c].k) {
        _mm512_store_si512(hits[c], _mm512_setzero_si512());
        continue;
      }
      const __m512i h = runs_of_8(m, prior, a.spec[c].k);
      _mm512_store_si512(hits[c], h);
      words |= _mm512_test_epi64_mask(h, h);
    }
    for (int w = 0; words && w < 8; ++w) {
      if (!(words & (1u << w))) continue;
      uint64_t word_hits[kRuns];
      for (int c = 0; c < kRuns; ++c) word_hits[c] = hits[c][w];
      mark_word(a, st, base + 64 * static_cast<size_t>(w), word_hits, high[w], control[w]);
    }
  }
  // The rest a word at a time, from the zero bits at the top of the last word.
  for (int c = 0; c < kRuns; ++c) {
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, before[c]);
    const uint64_t last = lanes[7];
    st.carry[c] = last ? static_cast<uint64_t>(__builtin_clzll(last)) : 64;
  }
  flag_words<Avx512Masks>(a, st, base);
}

__attribute__((target("avx2"))) void flag_avx2(const Pass& a) {
  PassState st;
  flag_words<Avx2Masks>(a, st, 0);
}
#endif

// Appends the offsets of the bits of `m` (a word at `base`) to `out` at `at`, which has
// room for 64 more.
inline __attribute__((always_inline)) void put_bits(uint64_t m, size_t base, uint32_t* out,
                                                    size_t& at) {
  while (m) {
    out[at++] = static_cast<uint32_t>(base + static_cast<size_t>(__builtin_ctzll(m)));
    m &= m - 1;
  }
}

// The newlines of whole 64-byte words from `base`, the masks from M; returns where the
// words end.
template <class M>
inline __attribute__((always_inline)) size_t newline_words(const char* p, size_t n, size_t base,
                                                           std::vector<uint32_t>& out) {
  size_t at = out.size();
  for (; base + 64 <= n; base += 64) {
    if (out.size() < at + 64) out.resize(std::max(2 * out.size(), at + 64));
    put_bits(M::newlines(p + base), base, out.data(), at);
  }
  out.resize(at);
  return base;
}

#if defined(__SSE2__)
struct Sse2Newlines {
  static uint64_t newlines(const char* p) {
    const __m128i nl = _mm_set1_epi8('\n');
    uint64_t m = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + size_t{16} * k));
      m |= uint64_t(static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << (16 * k);
    }
    return m;
  }
};
#endif

#if defined(__x86_64__)
struct Avx512Newlines {
  __attribute__((target("avx512bw"))) static uint64_t newlines(const char* p) {
    return _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(p), _mm512_set1_epi8('\n'));
  }
};
__attribute__((target("avx512bw"))) size_t newlines_avx512(const char* p, size_t n,
                                                           std::vector<uint32_t>& out) {
  return newline_words<Avx512Newlines>(p, n, 0, out);
}
#endif

}  // namespace

void find_newlines(std::string_view data, std::vector<uint32_t>& out) {
  const char* p = data.data();
  const size_t n = data.size();
  size_t base = 0;
#if defined(__x86_64__)
  if (vector_level() >= 2) base = newlines_avx512(p, n, out);
#endif
#if defined(__SSE2__)
  base = newline_words<Sse2Newlines>(p, n, base, out);
#endif
  for (; base < n; ++base) {
    if (p[base] == '\n') out.push_back(static_cast<uint32_t>(base));
  }
}

int limit_vector_level(int level) { return level_limit.exchange(level); }

void flag_lines(std::string_view block, const std::vector<LineRef>& lines, int token_min,
                int number_span, int group_span, uint8_t* flags, const int* gate_runs,
                uint8_t* gates) {
  Pass a{block, lines, {}, flags, gates};
  a.spec[kTokenRun] = RunSpec(token_min);
  a.spec[kNumberRunClass] = RunSpec(number_span);
  a.spec[kHexRun] = RunSpec(token_min > 0 ? 40 : 0);
  a.spec[kB64Run] = RunSpec(group_span);
  for (int g = 0; gates && gate_runs && g < kGateCount; ++g) {
    a.spec[kGateRun0 + g] = RunSpec(gate_runs[g]);
  }
  const int level = vector_level();
#if defined(__x86_64__)
  if (level >= 3) return flag_avx512(a, &mask_batch_vbmi);
  if (level == 2) return flag_avx512(a, &mask_batch_avx512);
  if (level == 1) return flag_avx2(a);
#endif
  PassState st;
#if defined(__SSE2__)
  flag_words<Sse2Masks>(a, st, 0);
#else
  flag_words<ScalarMasks>(a, st, 0);
#endif
  (void)level;
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
