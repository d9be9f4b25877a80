// A subset of PromQL for alert rules over the platform's metrics, evaluated here and
// exported as Prometheus rule files (so the same text must mean the same in both):
//
//   selectors     metric{label="v", label!="v", label=~"re", label!~"re"} and [5m] ranges
//   functions     rate(v[d]), avg_over_time(v[d]), max_over_time(v[d]), min_over_time(v[d])
//   aggregation   sum|avg|max|min [by (l, ...)] (expr), or (expr) by (l, ...)
//   arithmetic    + - * / between a vector and a number, two numbers, or two vectors
//                 (matched one-to-one on all their labels)
//   comparison    > >= < <= == != between a vector and a number or two vectors (a filter)
//   numbers, parentheses, unary minus; durations ms s m h d w y, combined (1h30m)
//
// Regular expressions are RE2's, anchored at both ends as Prometheus anchors them. An
// instant selector takes each series' latest point in the last 5 minutes; a range [d]
// holds the points from t-d to t, both included (Prometheus 2, Debian 12's). A test runs
// every construct through Prometheus's own engine (promtool) on the same series. Limits: 4096
// characters, nesting 64 deep.
//
// Thread-safe: a parsed Expr is immutable; evaluation reads only its Source.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace re2 {
class RE2;
}

namespace jz::alerts::promql {

using Labels = std::map<std::string, std::string>;

struct Matcher {
  enum class Op { kEq, kNe, kRe, kNre };
  std::string label;
  Op op = Op::kEq;
  std::string value;
  std::shared_ptr<const re2::RE2> re;  // kRe and kNre
  bool matches(const std::string& v) const;
};
// A matcher from its parts; invalid_argument for a bad regular expression.
Result<Matcher> make_matcher(std::string label, Matcher::Op op, std::string value);

struct Expr {
  enum class Kind { kNumber, kSelector, kCall, kAggregate, kBinary, kNegate };
  Kind kind = Kind::kNumber;
  double number = 0;
  // selector
  std::string metric;
  std::vector<Matcher> matchers;
  int64_t range_ms = 0;  // 0: an instant selector
  // call and aggregate: the function; aggregate: its grouping
  std::string func;
  std::vector<std::string> by;
  // binary: the operator ("+", ">=", ...)
  std::string op;
  std::shared_ptr<const Expr> a, b;  // operands (call and aggregate: a)
};

// invalid_argument naming the position and what was expected.
Result<std::shared_ptr<const Expr>> parse(std::string_view text);

// The expression as PromQL text (canonical: what export writes).
std::string format(const Expr& e);

// A duration as PromQL writes it (90000: "1m30s"; 0: "0s").
std::string format_duration(int64_t ms);

// A copy of `e` with `m` added to every selector (a project's rules see only its series).
std::shared_ptr<const Expr> with_matcher(const Expr& e, const Matcher& m);

// Whether the expression's result is a vector (rules must be one).
bool is_vector(const Expr& e);

struct Point {
  int64_t t_ms = 0;
  double value = 0;
};
struct Series {
  Labels labels;              // without the metric name
  std::vector<Point> points;  // ascending time
};

// Where series come from: those of `metric` whose labels pass every matcher, with their
// points in [start_ms, end_ms] (both ends, as Prometheus 2 selects a range).
class Source {
 public:
  virtual ~Source() = default;
  virtual std::vector<Series> select(const std::string& metric,
                                     const std::vector<Matcher>& matchers, int64_t start_ms,
                                     int64_t end_ms) const = 0;
};

struct Sample {
  Labels labels;
  double value = 0;
};
struct Value {
  bool scalar = false;
  double number = 0;            // scalar
  std::vector<Sample> samples;  // vector
};

// The expression at `t_ms`.
Result<Value> evaluate(const Expr& e, const Source& source, int64_t t_ms);

// A Source over series held in memory (tests, benchmarks, previews).
class MemorySource : public Source {
 public:
  void add(const std::string& metric, Labels labels, std::vector<Point> points);
  std::vector<Series> select(const std::string& metric, const std::vector<Matcher>& matchers,
                             int64_t start_ms, int64_t end_ms) const override;

 private:
  std::map<std::string, std::vector<Series>> by_metric_;
};

}  // namespace jz::alerts::promql
