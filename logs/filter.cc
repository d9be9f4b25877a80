#include "logs/filter.h"

#include <dlfcn.h>
#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "logs/classes.h"
#include "logs/gate.h"

namespace jz::logs {

namespace {

// vectorscan 5.4 (Debian 12's) misses matches in its AVX-512 scanner: `1[3-9][0-9]{9}`
// goes unseen in about 3% of the positions and buffer alignments tried (its AVX-512
// vermicelli tail masking, fixed upstream in 2026). Its library holds a scanner for each
// instruction set and hs_scan picks the widest the processor has; on processors with
// AVX-512 the filter calls the AVX2 one (or the SSE4.2 one) by name where the library
// has them, and compiles its databases for that instruction set (a database compiled for
// AVX-512 may use engines that only the AVX-512 scanner has).
using ScanFn = hs_error_t (*)(const hs_database_t*, const char*, unsigned, unsigned, hs_scratch_t*,
                              match_event_handler, void*);

struct Scanner {
  ScanFn fn = &hs_scan;
  hs_platform_info_t platform{};
  bool narrowed = false;  // not the processor's widest: databases compiled for `platform`
};

const Scanner& scanner() {
  static const Scanner s = [] {
    Scanner out;
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx512bw") || hs_populate_platform(&out.platform) != HS_SUCCESS) {
      return out;
    }
    void* f = nullptr;
    unsigned long long keep = 0;
    if (__builtin_cpu_supports("avx2") && (f = dlsym(RTLD_DEFAULT, "avx2_hs_scan"))) {
      keep = HS_CPU_FEATURES_AVX2;
    } else if ((f = dlsym(RTLD_DEFAULT, "corei7_hs_scan"))) {
      keep = 0;
    }
    if (f) {
      out.fn = reinterpret_cast<ScanFn>(f);
      out.platform.cpu_features &= keep;
      out.narrowed = true;
    }
#endif
    return out;
  }();
  return s;
}

hs_error_t scan(const hs_database_t* db, const char* data, unsigned length, hs_scratch_t* scratch,
                match_event_handler on_match, void* context) {
  return scanner().fn(db, data, length, 0, scratch, on_match, context);
}

// Reasons a line is withheld, in the order of LogFilter::Impl::reasons after the rules;
// a line that several detectors catch counts under the most specific (the first here).
enum Detector : int {
  kImage = 0,
  kDataUri,
  kBase64,
  kHex,
  kNumbers,
  kBinary,
  kEntropy,
  kLongLine,
  kDetectorCount
};
const char* const kDetectorNames[kDetectorCount] = {"image",   "data_uri", "base64",  "hex",
                                                    "numbers", "binary",   "entropy", "long_line"};

// Pattern ids: rules are 0..n-1; detectors start here.
constexpr unsigned kDetectorBase = 1u << 20;

// Databases: kMain holds the patterns scanned over whole blocks; kGated + g those gated
// on class g (logs/gate.h), scanned over the lines with such a run; kWhole the whitelist
// rules as ^(?:P)$, scanned over one line at a time; kRedactCheck the redact rules, scanned
// over what a redaction left visible.
enum Database : int { kMain = 0, kGated, kWhole = kGated + kGateCount, kRedactCheck, kDatabases };

struct Pattern {
  std::string expr;
  unsigned flags;
  unsigned id;
  std::string what;  // for errors
  int db = kMain;    // kGated + g: scanned only on lines with a run of gate class g
  int run = 0;       // of this length (logs/gate.h)
};

std::vector<Pattern> detector_patterns(const Detectors& d) {
  std::vector<Pattern> out;
  if (!d.enabled) return out;
  auto add = [&](Detector kind, std::string expr, unsigned flags = 0) {
    out.push_back({std::move(expr), flags, kDetectorBase + kind,
                   std::string("detector ") + kDetectorNames[kind]});
  };
  add(kHex, "(?:\\\\x[0-9A-Fa-f]{2}){4}");  // Python's bytes repr: \xff\xd8...
  add(kDataUri, "data:[a-z0-9.+/=;-]{0,100},", HS_FLAG_CASELESS);
  // Image signatures: base64 and base64url, hex, raw, escaped.
  for (const char* s : {"/9j/", "_9j_", "iVBORw0KGgo", "R0lGOD", "UklGR"}) add(kImage, s);
  for (const char* s : {"ffd8ff", "89504e470d0a1a0a", "4749463[89]", "52494646[0-9a-f]{8}57454250",
                        "\\\\xff\\\\xd8\\\\xff", "\\\\x89png"}) {
    add(kImage, s, HS_FLAG_CASELESS);
  }
  add(kImage, "\\xFF\\xD8\\xFF");
  add(kImage, "\\x89PNG\\r\\n");
  add(kImage, "GIF8[79]a");
  add(kImage, "RIFF.{4}WEBP", HS_FLAG_DOTALL);
  // Runs of a class of bytes (base64, hex, numbers, long tokens, control bytes, UTF-8)
  // are found by logs/classes.h, not here.
  return out;
}

// No pattern is compiled with HS_FLAG_SOM_LEFTMOST: vectorscan 5.4 can crash (a fortified
// snprintf in its reverse scan, fixed upstream in 2026) on some such patterns over inputs
// of more than 255 bytes. Whole-line matches and redaction spans are found without it.
std::vector<Pattern> all_patterns(const LogPolicy& p, bool gates) {
  std::vector<Pattern> out;
  if (p.mode == LogPolicy::Mode::kOpen) return out;
  const bool whitelist = p.mode == LogPolicy::Mode::kWhitelist;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const LogRule& r = p.rules[i];
    const unsigned caseless = r.ignore_case ? HS_FLAG_CASELESS : 0u;
    const std::string what = "rule '" + r.name + "'";
    const auto id = static_cast<unsigned>(i);
    if (whitelist) {
      // One line at a time, so ^ and $ are its ends.
      out.push_back({"^(?:" + r.pattern + ")$", caseless | HS_FLAG_SINGLEMATCH, id, what, kWhole});
      // As written too, compiled only to check it: a pattern that is not whole on its own
      // (`a)|(.*`) must not change the meaning of the wrapper.
      out.push_back({r.pattern, caseless, id, what, kDatabases});
      continue;
    }
    // ^ and $ at line ends (only where a pattern has them: the flag costs speed).
    const unsigned multiline =
        r.pattern.find_first_of("^$") != std::string::npos ? HS_FLAG_MULTILINE : 0u;
    Pattern pattern{r.pattern, caseless | multiline, id, what};
    if (gates) {
      const int gate = choose_gate(r.pattern, r.ignore_case, &pattern.run);
      if (gate >= 0) pattern.db = kGated + gate;
    }
    out.push_back(pattern);
    if (r.redact) out.push_back({r.pattern, caseless, id, what, kRedactCheck});
  }
  auto d = detector_patterns(p.detectors);
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

// Compiles the patterns that go into database `which`.
Result<hs_database_t*> compile_all(const std::vector<Pattern>& all, int which) {
  std::vector<Pattern> patterns;
  for (const auto& p : all) {
    if (p.db == which) patterns.push_back(p);
  }
  if (patterns.empty()) return nullptr;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (const auto& p : patterns) {
    exprs.push_back(p.expr.c_str());
    flags.push_back(p.flags);
    ids.push_back(p.id);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  const Scanner& sc = scanner();
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, sc.narrowed ? &sc.platform : nullptr, &db,
                       &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    std::string what = "the policy";
    if (err && err->expression >= 0 && static_cast<size_t>(err->expression) < patterns.size()) {
      what = patterns[static_cast<size_t>(err->expression)].what;
    }
    hs_free_compile_error(err);
    if (msg.find("empty") != std::string::npos) {
      msg += " (a pattern that matches an empty line would match every line)";
    }
    return Status::invalid_argument(what + ": the pattern cannot be used: " + msg +
                                    " (linear-time regular expressions only: no back-references "
                                    "or look-around)");
  }
  return db;
}

}  // namespace

namespace {

// A rule that can match empty text (`\b`, `x*`) would match everywhere or between lines.
Status check_widths(const LogPolicy& policy) {
  if (policy.mode == LogPolicy::Mode::kOpen) return {};
  for (const auto& r : policy.rules) {
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_expression_info(r.pattern.c_str(), r.ignore_case ? HS_FLAG_CASELESS : 0, &info, &err) !=
        HS_SUCCESS) {
      hs_free_compile_error(err);
      continue;  // compiling says what is wrong
    }
    const unsigned width = info->min_width;
    std::free(info);
    if (width == 0) {
      return Status::invalid_argument("rule '" + r.name +
                                      "': the pattern can match empty text, so it would match "
                                      "every line; make it match at least one character");
    }
  }
  return {};
}

// The RE2 form of a redact rule, which finds where its matches are (Hyperscan says which
// lines match; its start-of-match mode is not used, see all_patterns).
Result<std::unique_ptr<RE2>> redact_locator(const LogRule& r) {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_longest_match(true);
  o.set_case_sensitive(!r.ignore_case);
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(r.pattern, o);
  if (!re->ok()) {
    return Status::invalid_argument(
        "rule '" + r.name +
        "': a redact rule's pattern must also be valid in RE2's syntax, "
        "which finds the text to redact: " +
        re->error() + " (or use \"action\": \"drop\")");
  }
  return re;
}

}  // namespace

struct LogFilter::Impl {
  hs_database_t* dbs[kDatabases] = {};
  int gate_runs[kGateCount] = {};  // the shortest run each gated database needs; 0 = none
  bool any_gate = false;
  hs_scratch_t* scratch = nullptr;
  std::vector<std::string> reasons;  // rules, then detectors, then whitelist, cap:total
  std::vector<Withheld> counts;
  size_t whitelist_reason = 0, cap_reason = 0, detector_reason = 0;
  bool whitelist = false;
  std::vector<uint8_t> redact;                 // per rule
  std::vector<std::unique_ptr<RE2>> locators;  // per redact rule: where its matches are
  // Per scan:
  const std::vector<LineRef>* lines = nullptr;
  size_t cursor = 0;
  std::vector<uint32_t> verdict;    // 0 = none yet, else 1 + reason
  std::vector<uint32_t> to_redact;  // 0 = none, else 1 + the first redact rule that matched
  std::vector<uint8_t> flags;
  std::vector<uint8_t> gates;   // per line: bit g when a run of gate class g is there
  unsigned long long base = 0;  // offset in the block of the data being scanned

  ~Impl() {
    if (scratch) hs_free_scratch(scratch);
    for (auto* db : dbs) {
      if (db) hs_free_database(db);
    }
  }

  // The line holding byte `pos` (or its newline).
  size_t line_of(unsigned long long pos) {
    const auto& ls = *lines;
    if (cursor < ls.size() && pos >= ls[cursor].offset &&
        pos <= ls[cursor].offset + ls[cursor].length) {
      return cursor;
    }
    auto it = std::upper_bound(ls.begin(), ls.end(), pos,
                               [](unsigned long long p, const LineRef& l) { return p < l.offset; });
    cursor = it == ls.begin() ? 0 : static_cast<size_t>(it - ls.begin() - 1);
    return cursor;
  }

  static int on_match(unsigned int id, unsigned long long, unsigned long long to, unsigned int,
                      void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    if (to == 0) return 0;
    const size_t i = self->line_of(to + self->base - 1);
    // A line that several rules or detectors match is counted under the first of them in
    // the policy's order (rules, then detectors), whatever order the matches come in.
    uint32_t& verdict = self->verdict[i];
    if (id >= kDetectorBase) {
      const auto reason = static_cast<uint32_t>(1 + self->detector_reason + (id - kDetectorBase));
      if (!verdict || reason < verdict) verdict = reason;
    } else if (self->redact[id]) {
      uint32_t& r = self->to_redact[i];
      if (!r || 1 + id < r) r = 1 + id;
    } else if (!verdict || 1 + id < verdict) {
      verdict = 1 + id;
    }
    return 0;
  }

  static int stop(unsigned int, unsigned long long, unsigned long long, unsigned int, void* found) {
    *static_cast<bool*>(found) = true;
    return 1;  // one match is enough
  }

  // Whether a pattern of `db` matches inside `text` (one line or a piece of one).
  bool matches(int db, std::string_view text) {
    bool found = false;
    if (dbs[db] && !text.empty()) {
      scan(dbs[db], text.data(), static_cast<unsigned>(text.size()), scratch, &Impl::stop, &found);
    }
    return found;
  }

  // Replaces each match of a redact rule in `text` with a mark (leftmost-longest matches,
  // in rule order). Then the text left visible between marks is scanned again: false when
  // a whole match is still there (the patterns' engines differ in a corner, or matches
  // overlapped), and the caller withholds the line instead.
  bool redact_line(std::string_view text, std::string& out, int64_t& hidden) {
    std::vector<std::pair<size_t, size_t>> spans;
    for (const auto& re : locators) {
      size_t pos = 0;
      re2::StringPiece m;
      while (pos <= text.size() && re->Match(re2::StringPiece(text.data(), text.size()), pos,
                                             text.size(), RE2::UNANCHORED, &m, 1)) {
        const size_t from = static_cast<size_t>(m.data() - text.data());
        const size_t to = from + m.size();
        if (to > from) spans.emplace_back(from, to);
        pos = to > from ? to : from + 1;
      }
    }
    std::sort(spans.begin(), spans.end());
    out.clear();
    hidden = 0;
    size_t at = 0;
    for (size_t k = 0; k < spans.size();) {
      size_t from = spans[k].first, to = spans[k].second;
      for (++k; k < spans.size() && spans[k].first <= to; ++k) to = std::max(to, spans[k].second);
      if (matches(kRedactCheck, text.substr(at, from - at))) return false;
      out.append(text.substr(at, from - at));
      out.append("[redacted]");
      hidden += static_cast<int64_t>(to - from);
      at = to;
    }
    if (matches(kRedactCheck, text.substr(at))) return false;
    out.append(text.substr(at));
    return !spans.empty();
  }
};

LogFilter::LogFilter(LogPolicy policy)
    : policy_(std::move(policy)), impl_(std::make_unique<Impl>()) {}
LogFilter::~LogFilter() = default;

namespace {

// What a serialized filter was compiled from: it is loaded only for exactly this.
std::string pattern_key(const std::vector<Pattern>& patterns) {
  Json k = Json::array();
  for (const auto& p : patterns) {
    if (p.db < kDatabases) k.push_back({p.expr, p.flags, p.id, p.db, p.run});
  }
  return "jizhan-log-filter-3 " + json::dump(k) + "\n";
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

void set_gates(LogFilter::Impl& m, const std::vector<Pattern>& patterns) {
  for (const auto& p : patterns) {
    if (p.db < kGated || p.db >= kWhole) continue;  // not a gated database
    int& run = m.gate_runs[p.db - kGated];
    run = run == 0 ? p.run : std::min(run, p.run);
    m.any_gate = true;
  }
}

}  // namespace

Result<std::unique_ptr<LogFilter>> LogFilter::compile(const LogPolicy& policy, bool gates) {
  std::unique_ptr<LogFilter> f(new LogFilter(policy));
  f->gates_ = gates;
  const auto patterns = all_patterns(policy, gates);
  JZ_RETURN_IF_ERROR(check_widths(policy));
  for (int d = 0; d < kDatabases; ++d) {
    JZ_ASSIGN_OR_RETURN(f->impl_->dbs[d], compile_all(patterns, d));
  }
  JZ_ASSIGN_OR_RETURN(hs_database_t * check, compile_all(patterns, kDatabases));
  if (check) hs_free_database(check);
  set_gates(*f->impl_, patterns);
  JZ_RETURN_IF_ERROR(f->init());
  return f;
}

// The key line, then for each database its length (8 bytes, little-endian; 0 = none) and
// Hyperscan's bytes.
Result<std::string> LogFilter::serialize() const {
  std::string out = pattern_key(all_patterns(policy_, gates_));
  for (const auto* db : impl_->dbs) {
    if (!db) {
      put_u64(out, 0);
      continue;
    }
    char* bytes = nullptr;
    size_t length = 0;
    if (hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) {
      return Status::internal("cannot serialize the log filter's database");
    }
    put_u64(out, length);
    out.append(bytes, length);
    std::free(bytes);
  }
  return out;
}

Result<std::unique_ptr<LogFilter>> LogFilter::load(const LogPolicy& policy,
                                                   std::string_view bytes) {
  const auto patterns = all_patterns(policy, true);
  const std::string key = pattern_key(patterns);
  if (bytes.substr(0, key.size()) != key) {
    return Status::invalid_argument("the compiled log filter belongs to another policy");
  }
  bytes.remove_prefix(key.size());
  std::unique_ptr<LogFilter> f(new LogFilter(policy));
  for (auto*& db : f->impl_->dbs) {
    if (bytes.size() < 8 || get_u64(bytes) > bytes.size() - 8) {
      return Status::invalid_argument("the compiled log filter is damaged");
    }
    const size_t length = get_u64(bytes);
    bytes.remove_prefix(8);
    if (length > 0 && hs_deserialize_database(bytes.data(), length, &db) != HS_SUCCESS) {
      return Status::invalid_argument("the compiled log filter is damaged or from another machine");
    }
    bytes.remove_prefix(length);
  }
  if (!bytes.empty()) return Status::invalid_argument("the compiled log filter is damaged");
  set_gates(*f->impl_, patterns);
  JZ_RETURN_IF_ERROR(f->init());
  return f;
}

Status LogFilter::init() {
  Impl& m = *impl_;
  const LogPolicy& policy = policy_;
  for (auto* db : m.dbs) {
    if (db && hs_alloc_scratch(db, &m.scratch) != HS_SUCCESS) {
      return Status::internal("cannot allocate Hyperscan scratch space");
    }
  }
  for (const auto& r : policy.rules) {
    m.reasons.push_back("rule:" + r.name);
    const bool redact = r.redact && policy.mode == LogPolicy::Mode::kBlacklist;
    m.redact.push_back(redact ? 1 : 0);
    if (redact) {
      JZ_ASSIGN_OR_RETURN(auto re, redact_locator(r));
      m.locators.push_back(std::move(re));
    }
  }
  m.detector_reason = m.reasons.size();
  for (const char* d : kDetectorNames) m.reasons.push_back(std::string("detector:") + d);
  m.whitelist_reason = m.reasons.size();
  m.reasons.push_back("whitelist");
  m.cap_reason = m.reasons.size();
  m.reasons.push_back("cap:total");
  m.counts.assign(m.reasons.size(), {});
  m.whitelist = policy.mode == LogPolicy::Mode::kWhitelist;
  return {};
}

void LogFilter::process(std::string_view block, const std::vector<LineRef>& lines,
                        const std::function<void(size_t, std::string_view)>& pass) {
  Impl& m = *impl_;
  const size_t n = lines.size();
  m.lines = &lines;
  m.cursor = 0;
  m.verdict.assign(n, 0);
  m.to_redact.assign(n, 0);
  const bool filtered = policy_.mode != LogPolicy::Mode::kOpen;
  if (filtered) {
    m.flags.assign(n, 0);
    if (m.any_gate) m.gates.assign(n, 0);
    if (policy_.detectors.enabled || m.any_gate) {
      const Detectors& dd = policy_.detectors;
      flag_lines(
          block, lines, dd.enabled ? std::min({dd.base64_min, dd.hex_min, dd.entropy_min}) : 0,
          dd.enabled ? 2 * dd.numbers_min - 1 : 0, dd.enabled ? dd.base64_min / 4 * 5 - 1 : 0,
          m.flags.data(), m.gate_runs, m.any_gate ? m.gates.data() : nullptr);
    }
    m.base = 0;
    if (m.dbs[kMain] && !block.empty()) {
      scan(m.dbs[kMain], block.data(), static_cast<unsigned>(block.size()), m.scratch,
           &Impl::on_match, &m);
    }
    // Each gated database over the runs of consecutive lines its class flagged.
    for (int g = 0; m.any_gate && g < kGateCount; ++g) {
      hs_database_t* db = m.dbs[kGated + g];
      if (!db) continue;
      const uint8_t bit = static_cast<uint8_t>(1u << g);
      for (size_t i = 0; i < n;) {
        if (!(m.gates[i] & bit)) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j + 1 < n && (m.gates[j + 1] & bit)) ++j;
        // From the first line's start to past the last line's newline, as in the block.
        const size_t from = lines[i].offset;
        const size_t to = std::min(block.size(), size_t{lines[j].offset} + lines[j].length + 1);
        m.base = from;
        m.cursor = i;
        scan(db, block.data() + from, static_cast<unsigned>(to - from), m.scratch, &Impl::on_match,
             &m);
        i = j + 1;
      }
    }
    m.base = 0;
  }
  const Detectors& d = policy_.detectors;
  std::string redacted;
  // Most lines match nothing and were flagged by nothing: they pass at once, when no
  // whitelist or cap has a say.
  const bool quick = !m.whitelist && policy_.total_bytes <= 0;
  const bool detect = filtered && d.enabled;
  for (size_t i = 0; i < n; ++i) {
    const LineRef& l = lines[i];
    const bool too_long =
        detect && (l.continued || l.cut || static_cast<int>(l.length) > d.long_line);
    const uint8_t f = detect ? m.flags[i] : 0;
    if (quick && m.verdict[i] == 0 && m.to_redact[i] == 0 && !too_long && f == 0) {
      passed_lines_ += 1;
      passed_bytes_ += static_cast<int64_t>(l.length);
      pass(i, std::string_view(block.data() + l.offset, l.length));
      continue;
    }
    std::string_view text = block.substr(l.offset, l.length);
    size_t reason = m.verdict[i] ? m.verdict[i] - 1 : SIZE_MAX;
    if (filtered) {
      if (reason == SIZE_MAX && too_long) reason = m.detector_reason + kLongLine;
      if (reason == SIZE_MAX && m.whitelist && !m.matches(kWhole, text)) {
        reason = m.whitelist_reason;
      }
      if (reason == SIZE_MAX && f) {
        if ((f & kControl) || ((f & kNonAscii) && !valid_utf8(text))) {
          reason = m.detector_reason + kBinary;
        } else if ((f & kNumberRun) && has_number_run(text, d.numbers_min)) {
          reason = m.detector_reason + kNumbers;
        } else if ((f & kHexGroups) && has_hex_groups(text, d.hex_min / 2)) {
          reason = m.detector_reason + kHex;
        } else if ((f & kB64Groups) && has_b64_groups(text, d.base64_min / 4)) {
          reason = m.detector_reason + kBase64;
        }
        if (reason == SIZE_MAX && (f & kLongToken)) {
          // Tokens (runs without blanks) long enough to hold a base64 or hex run (which
          // has no blanks either), or to check for entropy: `shortest` bytes or more. From
          // a token's possible start a, the bytes up to a + shortest are read from the end
          // back, and the first blank met moves a past it (short tokens cost a byte or two).
          const int class_min = std::min(d.base64_min, d.hex_min);
          const size_t shortest = static_cast<size_t>(std::min(class_min, d.entropy_min));
          const size_t len = text.size();
          auto blank = [&](size_t at) { return static_cast<unsigned char>(text[at]) <= 0x20; };
          size_t a = 0;  // 0, or just after a blank
          while (a + shortest <= len && reason == SIZE_MAX) {
            size_t j = a + shortest;
            while (j > a && !blank(j - 1)) --j;
            if (j > a) {
              a = j;
              continue;
            }
            size_t b = a + shortest;
            while (b < len && !blank(b)) ++b;
            const std::string_view token = text.substr(a, b - a);
            int kind = 0;
            if (static_cast<int>(token.size()) >= class_min &&
                has_class_run(token, d.base64_min, d.hex_min, &kind)) {
              reason = m.detector_reason + (kind == 1 ? kHex : kBase64);
            } else if (static_cast<int>(token.size()) >= d.entropy_min &&
                       entropy_reaches(token, d.entropy_bits)) {
              reason = m.detector_reason + kEntropy;
            }
            a = b;
          }
        }
      }
    }
    if (capped_ || (reason == SIZE_MAX && policy_.total_bytes > 0 &&
                    passed_bytes_ + static_cast<int64_t>(l.length) > policy_.total_bytes)) {
      // Once the cap is reached, everything after it is withheld.
      capped_ = true;
      reason = m.cap_reason;
    }
    // Redactions of this line: overlapping matches merged, one mark for each.
    std::string_view out = text;
    if (reason == SIZE_MAX && m.to_redact[i]) {
      const size_t rule = m.to_redact[i] - 1;
      int64_t hidden = 0;
      if (m.redact_line(text, redacted, hidden)) {
        m.counts[rule].lines += 1;
        m.counts[rule].bytes += hidden;
        out = redacted;
      } else {
        reason = rule;  // what to hide could not be told apart: the whole line
      }
    }
    if (reason != SIZE_MAX) {
      m.counts[reason].lines += 1;
      m.counts[reason].bytes += static_cast<int64_t>(l.length);
      continue;
    }
    passed_lines_ += 1;
    passed_bytes_ += static_cast<int64_t>(out.size());
    pass(i, out);
  }
  m.lines = nullptr;
}

std::map<std::string, Withheld> LogFilter::withheld() const {
  std::map<std::string, Withheld> out;
  for (size_t i = 0; i < impl_->counts.size(); ++i) {
    if (impl_->counts[i].lines > 0) out[impl_->reasons[i]] = impl_->counts[i];
  }
  return out;
}

void LogFilter::process_text(std::string_view text,
                             const std::function<void(std::string_view)>& pass) {
  std::string block;
  std::vector<LineRef> lines;
  const size_t max = static_cast<size_t>(policy_.max_line_bytes);
  std::vector<uint32_t> newlines;
  find_newlines(text, newlines);
  newlines.push_back(static_cast<uint32_t>(text.size()));
  size_t a = 0;
  for (const size_t e : newlines) {
    if (a >= text.size()) break;
    size_t p = a;
    do {
      const size_t len = std::min(max, e - p);
      LineRef l;
      l.offset = static_cast<uint32_t>(block.size());
      l.length = static_cast<uint32_t>(len);
      l.continued = p > a;
      l.cut = p + len < e;
      block.append(text.substr(p, len));
      block.push_back('\n');
      lines.push_back(l);
      p += len;
    } while (p < e);
    a = e + 1;
  }
  process(block, lines, [&](size_t, std::string_view line) { pass(line); });
}

// Everything compile() checks (widths, every database, the whitelist patterns as written,
// the redact rules' RE2 form), by compiling.
Status compile_check(const LogPolicy& policy) { return LogFilter::compile(policy).status(); }

namespace {

// c log2 c for counts up to 256.
const std::array<double, 257>& xlogx() {
  static const auto table = [] {
    std::array<double, 257> t{};
    for (size_t c = 1; c < t.size(); ++c) t[c] = static_cast<double>(c) * std::log2(c);
    return t;
  }();
  return table;
}

}  // namespace

bool entropy_reaches(std::string_view s, double bits) {
  // The bound needs 2^bits distinct bytes (computed again only when bits changes).
  thread_local double last_bits = -1, needed = 0;
  if (bits != last_bits) {
    last_bits = bits;
    needed = std::exp2(bits);
  }
  // Plain stores, then a sum of 256 bytes (vectorised): no chain of updates through
  // memory, as counting would have on a run of one byte ("#####").
  alignas(64) uint8_t seen[256] = {};
  for (unsigned char c : s) seen[c] = 1;
  uint64_t words[32];
  std::memcpy(words, seen, sizeof seen);
  uint64_t sum = 0;
  for (uint64_t w : words) sum += w;  // each byte of sum counts up to 32: no carries
  int distinct = 0;
  for (int i = 0; i < 8; ++i) distinct += static_cast<int>((sum >> (8 * i)) & 0xff);
  if (static_cast<double>(distinct) < needed) return false;
  return entropy_bits(s) >= bits;
}

double entropy_bits(std::string_view s) {
  if (s.empty()) return 0;
  // H = log2(n) - sum(c log2 c) / n over the byte counts c. The counts stay zero between
  // calls: only the bytes present are counted, and cleared as they are summed (tokens
  // are short); c log2 c comes from a table.
  thread_local uint32_t counts[256] = {};
  const auto& t = xlogx();
  for (unsigned char c : s) ++counts[c];
  double sum = 0;
  for (unsigned char c : s) {
    if (const uint32_t k = counts[c]) {
      sum += k < t.size() ? t[k] : static_cast<double>(k) * std::log2(k);
      counts[c] = 0;
    }
  }
  const size_t size = s.size();
  const double n = static_cast<double>(size);
  return (size < t.size() ? t[size] / n : std::log2(n)) - sum / n;
}

}  // namespace jz::logs
