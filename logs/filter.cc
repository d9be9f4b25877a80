#include "logs/filter.h"

#include <hs/hs.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "logs/classes.h"

namespace jz::logs {

namespace {

// Reasons a line is withheld, in the order of LogFilter::Impl::reasons after the rules.
enum Detector : int {
  kBase64 = 0,
  kHex,
  kNumbers,
  kDataUri,
  kImage,
  kBinary,
  kEntropy,
  kLongLine,
  kDetectorCount
};
const char* const kDetectorNames[kDetectorCount] = {"base64", "hex",    "numbers", "data_uri",
                                                    "image",  "binary", "entropy", "long_line"};

// Pattern ids: rules are 0..n-1; detectors start here.
constexpr unsigned kDetectorBase = 1u << 20;

struct Pattern {
  std::string expr;
  unsigned flags;
  unsigned id;
  std::string what;  // for errors
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

std::vector<Pattern> all_patterns(const LogPolicy& p) {
  std::vector<Pattern> out;
  if (p.mode == LogPolicy::Mode::kOpen) return out;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const LogRule& r = p.rules[i];
    // ^ and $ at line ends (only where a pattern has them: the flag costs speed).
    unsigned flags = r.pattern.find_first_of("^$") != std::string::npos ? HS_FLAG_MULTILINE : 0;
    if (r.ignore_case) flags |= HS_FLAG_CASELESS;
    const std::string& expr = r.pattern;
    // Whitelist rules must match a whole line: their matches' starts are checked.
    if (p.mode == LogPolicy::Mode::kWhitelist || r.redact) {
      flags |= HS_FLAG_SOM_LEFTMOST;
    }
    out.push_back({expr, flags, static_cast<unsigned>(i), "rule '" + r.name + "'"});
  }
  auto d = detector_patterns(p.detectors);
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

Result<hs_database_t*> compile_all(const std::vector<Pattern>& patterns) {
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
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
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

struct LogFilter::Impl {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  std::vector<std::string> reasons;  // rules, then detectors, then whitelist, cap:total
  std::vector<Withheld> counts;
  size_t whitelist_reason = 0, cap_reason = 0, detector_reason = 0;
  // Per scan:
  const std::vector<LineRef>* lines = nullptr;
  size_t cursor = 0;
  std::vector<uint32_t> verdict;  // 0 = none yet, else 1 + reason
  std::vector<uint8_t> allowed, flags;
  struct Span {
    size_t line;
    uint32_t from, to;
    size_t reason;
  };
  std::vector<Span> spans;
  bool whitelist = false;
  std::vector<uint8_t> redact;  // per rule

  ~Impl() {
    if (scratch) hs_free_scratch(scratch);
    if (db) hs_free_database(db);
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

  static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
                      void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    if (to == 0) return 0;
    const size_t i = self->line_of(to - 1);
    const LineRef& l = (*self->lines)[i];
    if (id >= kDetectorBase) {
      if (!self->verdict[i])
        self->verdict[i] = static_cast<uint32_t>(1 + self->detector_reason + (id - kDetectorBase));
    } else if (self->whitelist) {
      if (from == l.offset && to == static_cast<unsigned long long>(l.offset) + l.length)
        self->allowed[i] = 1;
    } else if (self->redact[id]) {
      const uint32_t a =
          static_cast<uint32_t>(std::max<unsigned long long>(from, l.offset) - l.offset);
      const uint32_t b =
          static_cast<uint32_t>(std::min<unsigned long long>(to, l.offset + l.length) - l.offset);
      if (b > a) self->spans.push_back({i, a, b, id});
    } else if (!self->verdict[i]) {
      self->verdict[i] = 1 + id;
    }
    return 0;
  }
};

LogFilter::LogFilter(LogPolicy policy)
    : policy_(std::move(policy)), impl_(std::make_unique<Impl>()) {}
LogFilter::~LogFilter() = default;

namespace {

// What a serialized database was compiled from: it is loaded only for exactly this.
std::string pattern_key(const std::vector<Pattern>& patterns) {
  Json k = Json::array();
  for (const auto& p : patterns) k.push_back({p.expr, p.flags, p.id});
  return "jizhan-log-filter-1 " + json::dump(k) + "\n";
}

}  // namespace

Result<std::unique_ptr<LogFilter>> LogFilter::compile(const LogPolicy& policy) {
  std::unique_ptr<LogFilter> f(new LogFilter(policy));
  JZ_ASSIGN_OR_RETURN(f->impl_->db, compile_all(all_patterns(policy)));
  JZ_RETURN_IF_ERROR(f->init());
  return f;
}

Result<std::string> LogFilter::serialize() const {
  std::string out = pattern_key(all_patterns(policy_));
  if (!impl_->db) return out;
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(impl_->db, &bytes, &length) != HS_SUCCESS) {
    return Status::internal("cannot serialize the log filter's database");
  }
  out.append(bytes, length);
  std::free(bytes);
  return out;
}

Result<std::unique_ptr<LogFilter>> LogFilter::load(const LogPolicy& policy,
                                                   std::string_view bytes) {
  const auto patterns = all_patterns(policy);
  const std::string key = pattern_key(patterns);
  if (bytes.substr(0, key.size()) != key) {
    return Status::invalid_argument("the compiled log filter belongs to another policy");
  }
  bytes.remove_prefix(key.size());
  std::unique_ptr<LogFilter> f(new LogFilter(policy));
  if (!patterns.empty()) {
    if (hs_deserialize_database(bytes.data(), bytes.size(), &f->impl_->db) != HS_SUCCESS) {
      return Status::invalid_argument("the compiled log filter is damaged or from another machine");
    }
  } else if (!bytes.empty()) {
    return Status::invalid_argument("the compiled log filter belongs to another policy");
  }
  JZ_RETURN_IF_ERROR(f->init());
  return f;
}

Status LogFilter::init() {
  Impl& m = *impl_;
  const LogPolicy& policy = policy_;
  if (m.db && hs_alloc_scratch(m.db, &m.scratch) != HS_SUCCESS) {
    return Status::internal("cannot allocate Hyperscan scratch space");
  }
  for (const auto& r : policy.rules) {
    m.reasons.push_back("rule:" + r.name);
    m.redact.push_back(r.redact ? 1 : 0);
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
  m.spans.clear();
  const bool filtered = policy_.mode != LogPolicy::Mode::kOpen;
  if (filtered) {
    m.allowed.assign(n, 0);
    m.flags.assign(n, 0);
    if (policy_.detectors.enabled) {
      const Detectors& dd = policy_.detectors;
      flag_lines(block, lines, std::min({dd.base64_min, dd.hex_min, dd.entropy_min}),
                 2 * dd.numbers_min - 1, dd.base64_min / 4 * 5 - 1, m.flags.data());
    }
    if (m.db && !block.empty()) {
      hs_scan(m.db, block.data(), static_cast<unsigned>(block.size()), 0, m.scratch,
              &Impl::on_match, &m);
    }
  }
  const Detectors& d = policy_.detectors;
  std::string redacted;
  size_t next_span = 0;
  if (!m.spans.empty()) {
    std::stable_sort(m.spans.begin(), m.spans.end(), [](const Impl::Span& a, const Impl::Span& b) {
      return a.line != b.line ? a.line < b.line : a.from < b.from;
    });
  }
  for (size_t i = 0; i < n; ++i) {
    const LineRef& l = lines[i];
    std::string_view text = block.substr(l.offset, l.length);
    size_t reason = m.verdict[i] ? m.verdict[i] - 1 : SIZE_MAX;
    if (filtered) {
      if (reason == SIZE_MAX && d.enabled &&
          (l.continued || l.cut || static_cast<int>(l.length) > d.long_line)) {
        reason = m.detector_reason + kLongLine;
      }
      if (reason == SIZE_MAX && m.whitelist && !m.allowed[i]) reason = m.whitelist_reason;
      const uint8_t f = d.enabled ? m.flags[i] : 0;
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
          int kind = 0;
          if (has_class_run(text, d.base64_min, d.hex_min, &kind)) {
            reason = m.detector_reason + (kind == 1 ? kHex : kBase64);
          }
          // Tokens (runs without blanks) long enough to check for entropy.
          size_t a = 0;
          while (a < text.size() && reason == SIZE_MAX) {
            while (a < text.size() && static_cast<unsigned char>(text[a]) <= 0x20) ++a;
            size_t b = a;
            while (b < text.size() && static_cast<unsigned char>(text[b]) > 0x20) ++b;
            if (static_cast<int>(b - a) >= d.entropy_min &&
                entropy_bits(text.substr(a, b - a)) >= d.entropy_bits) {
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
    if (next_span < m.spans.size() && m.spans[next_span].line == i) {
      redacted.clear();
      uint32_t at = 0, begin = 0, end = 0;
      size_t rule = m.spans[next_span].reason;
      int64_t hidden = 0;
      auto close = [&] {
        redacted.append(text.substr(at, begin - at));
        redacted.append("[redacted]");
        hidden += end - begin;
        at = end;
      };
      bool open = false;
      for (; next_span < m.spans.size() && m.spans[next_span].line == i; ++next_span) {
        const auto& s = m.spans[next_span];
        if (open && s.from <= end) {
          end = std::max(end, s.to);
          continue;
        }
        if (open) close();
        begin = s.from;
        end = s.to;
        open = true;
      }
      if (open) close();
      redacted.append(text.substr(at));
      if (reason == SIZE_MAX) {
        m.counts[rule].lines += 1;
        m.counts[rule].bytes += hidden;
        out = redacted;
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
  size_t a = 0;
  while (a < text.size()) {
    size_t e = text.find('\n', a);
    if (e == std::string_view::npos) e = text.size();
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

Status compile_check(const LogPolicy& policy) {
  JZ_ASSIGN_OR_RETURN(hs_database_t * db, compile_all(all_patterns(policy)));
  if (db) hs_free_database(db);
  return {};
}

double entropy_bits(std::string_view s) {
  if (s.empty()) return 0;
  uint32_t counts[256] = {};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  const double n = static_cast<double>(s.size());
  for (uint32_t c : counts) {
    if (c) {
      const double p = c / n;
      h -= p * std::log2(p);
    }
  }
  return h;
}

}  // namespace jz::logs
