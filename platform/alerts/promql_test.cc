// The PromQL subset: text in and out, errors that say where, evaluation by hand-checked
// values, and the same expressions checked by Prometheus's own engine (promtool test
// rules) on the same series: what we compute is what a Prometheus would.
#include "platform/alerts/promql.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/subprocess.h"
#include "tests/support/temp_dir.h"

namespace jz::alerts::promql {
namespace {

std::string roundtrip(const std::string& text) {
  auto e = parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().to_string();
  if (!e.ok()) return "";
  std::string f = format(**e);
  auto again = parse(f);
  EXPECT_TRUE(again.ok()) << f;
  EXPECT_EQ(format(**again), f);
  return f;
}

TEST(Promql, TextParsesAndFormatsCanonically) {
  EXPECT_EQ(roundtrip("up"), "up");
  EXPECT_EQ(roundtrip("jizhan_job_gpu_util{project=\"vision\",gpu=~\"0|1\"} < 5"),
            "jizhan_job_gpu_util{project=\"vision\", gpu=~\"0|1\"} < 5");
  EXPECT_EQ(roundtrip("rate(x_total[5m]) > 0.5"), "rate(x_total[5m]) > 0.5");
  EXPECT_EQ(roundtrip("sum by (node) (rate(x_total[1h30m]))"),
            "sum by (node) (rate(x_total[1h30m]))");
  EXPECT_EQ(roundtrip("max(avg_over_time(m[10m])) by (gpu)"),
            "max by (gpu) (avg_over_time(m[10m]))");
  EXPECT_EQ(roundtrip("a / b * 100 >= 90"), "a / b * 100 >= 90");
  EXPECT_EQ(roundtrip("(a / b) * 100 >= (90)"), "a / b * 100 >= 90");
  EXPECT_EQ(roundtrip("a - (b - c) / (d * e)"), "a - (b - c) / (d * e)");
  EXPECT_EQ(roundtrip("(a > 1) == (b < 2)"), "a > 1 == (b < 2)");
  EXPECT_EQ(roundtrip("-(a - 1)"), "-(a - 1)");
  EXPECT_EQ(roundtrip("- - -a * -b"), "---a * -b");
  EXPECT_EQ(roundtrip("{__name__=\"m\", l!~\"x.*\"}"), "m{l!~\"x.*\"}");
  EXPECT_EQ(roundtrip("m{l=\"a\\\"b\"}"), "m{l=\"a\\\"b\"}");
  EXPECT_EQ(roundtrip("min_over_time(m[90s]) == 0"), "min_over_time(m[1m30s]) == 0");
}

// Formatting adds no parentheses the parser would not need: a chain of operators or signs
// that parses within the depth limit formats to text that parses again (found by fuzzing:
// each redundant pair nested one level deeper, and "-------j---j..." failed on re-reading).
TEST(Promql, LongChainsFormatWithinTheDepthLimit) {
  std::string chain = "m";
  for (int i = 0; i < 100; ++i) chain += i % 2 ? " - m" : " / m";
  EXPECT_EQ(roundtrip(chain), chain);
  const std::string signs = std::string(40, '-') + "m";
  EXPECT_EQ(roundtrip(signs + " - " + signs), signs + " - " + signs);
  EXPECT_EQ(
      roundtrip("-------j---j-m-n-rrn--n--jm-m-j---j-m-n-rrjm-m-j---j-m-n-rrn--jm-m--mjm-m-nnr"),
      "-------j - --j - m - n - rrn - -n - -jm - m - j - --j - m - n - rrjm - m - j - --j - "
      "m - n - rrn - -jm - m - -mjm - m - nnr");
}

TEST(Promql, ErrorsSayWhereAndWhat) {
  auto msg = [](const std::string& t) { return parse(t).status().message(); };
  EXPECT_NE(msg("rate(m)").find("takes a range"), std::string::npos);
  EXPECT_NE(msg("m{l=x}").find("at character 5: expected a quoted string"), std::string::npos);
  EXPECT_NE(msg("histogram_quantile(0.9, m)").find("not a function here"), std::string::npos);
  EXPECT_NE(msg("1 > 2").find("needs a vector"), std::string::npos);
  EXPECT_NE(msg("m{l=~\"(\"}").find("regular expression"), std::string::npos);
  EXPECT_NE(msg("(m").find("expected ')'"), std::string::npos);
  EXPECT_NE(msg("m offset 5m").find("an operator or the end"), std::string::npos);
  EXPECT_NE(msg(std::string(5000, 'm')).find("4096"), std::string::npos);
  EXPECT_NE(msg(std::string(200, '(') + "m" + std::string(200, ')')).find("64 deep"),
            std::string::npos);
  // Found by fuzz_promql: a duration of 12 digits of years overflowed 64 bits.
  EXPECT_NE(msg("max_over_time(m[111111111111y])")
                .find("at character 17: duration '111111111111y' is longer than 100 years"),
            std::string::npos)
      << msg("max_over_time(m[111111111111y])");
  EXPECT_NE(msg("max_over_time(m[99y1000w])").find("longer than 100 years"), std::string::npos);
  EXPECT_TRUE(parse("max_over_time(m[99y52w])").ok());
  EXPECT_FALSE(parse("sum(1)").ok());
  EXPECT_FALSE(parse("m[5m]x").ok());
}

MemorySource sample_source() {
  MemorySource s;
  // A counter per node at 15 s steps over 10 minutes, with a reset on b.
  std::vector<Point> a, b;
  for (int i = 0; i <= 40; ++i) {
    const int64_t at = int64_t{15000} * i;
    a.push_back({at, 10.0 * i});
    b.push_back({at, i < 20 ? 3.0 * i : 3.0 * (i - 20)});
  }
  s.add("x_total", {{"node", "a"}, {"project", "vision"}}, a);
  s.add("x_total", {{"node", "b"}, {"project", "other"}}, b);
  s.add("used", {{"gpu", "0"}, {"project", "vision"}}, {{0, 10}, {300000, 95}, {600000, 97}});
  s.add("used", {{"gpu", "1"}, {"project", "vision"}}, {{0, 50}, {300000, 20}, {600000, 10}});
  s.add("limit", {{"gpu", "0"}, {"project", "vision"}}, {{0, 100}, {600000, 100}});
  s.add("limit", {{"gpu", "1"}, {"project", "vision"}}, {{0, 100}, {600000, 100}});
  return s;
}

std::map<std::string, double> eval_at(const std::string& text, const Source& src, int64_t t) {
  auto e = parse(text);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  auto v = evaluate(**e, src, t);
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  std::map<std::string, double> out;
  for (const auto& s : v->samples) {
    std::string k;
    for (const auto& [n, x] : s.labels) k += n + "=" + x + ",";
    out[k] = s.value;
  }
  return out;
}

TEST(Promql, EvaluatesSelectorsFunctionsAggregationsAndFilters) {
  const auto src = sample_source();
  const int64_t t = 600000;
  auto r = eval_at("used > 90", src, t);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r["gpu=0,project=vision,"], 97);
  r = eval_at("used / limit * 100 >= 90", src, t);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r["gpu=0,project=vision,"], 97);
  r = eval_at("avg_over_time(used[10m])", src, t);  // [0, 600000]: 10, 95 and 97
  EXPECT_DOUBLE_EQ(r["gpu=0,project=vision,"], 202.0 / 3);
  r = eval_at("max_over_time(used{gpu=~\"1|2\"}[20m])", src, t + 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r["gpu=1,project=vision,"], 50);
  r = eval_at("sum by (project) (used)", src, t);
  EXPECT_EQ(r["project=vision,"], 107);
  r = eval_at("min(used)", src, t);
  EXPECT_EQ(r[""], 10);
  // rate: a steady 10 per 15 s is 0.6667/s; a reset is a counter's, not a drop.
  r = eval_at("rate(x_total[5m])", src, t);
  EXPECT_NEAR(r["node=a,project=vision,"], 10.0 / 15, 1e-9);
  EXPECT_NEAR(r["node=b,project=other,"], 3.0 / 15, 1e-9);
  // Scoped: the project's matcher replaces any other on that label.
  auto e = parse("rate(x_total{project=\"other\"}[5m]) > 0");
  auto m = make_matcher("project", Matcher::Op::kEq, "vision");
  auto scoped = with_matcher(**e, *m);
  EXPECT_EQ(format(*scoped), "rate(x_total{project=\"vision\"}[5m]) > 0");
  auto v = evaluate(*scoped, src, t);
  ASSERT_EQ(v->samples.size(), 1u);
  EXPECT_EQ(v->samples[0].labels.at("node"), "a");
  // Stale: an instant selector looks back 5 minutes, no further.
  EXPECT_TRUE(eval_at("used", src, t + 301000).empty());
}

// Prometheus's engine (promtool test rules) on the same series, for each expression: the
// samples we compute are the ones it expects.
TEST(Promql, PrometheusComputesWhatWeCompute) {
  if (!std::filesystem::exists("/usr/bin/promtool"))
    GTEST_SKIP() << "no promtool (Debian's prometheus)";
  // Series at 1-minute steps, as promtool's input_series are.
  MemorySource src;
  std::string series_yaml;
  struct In {
    std::string metric;
    Labels labels;
    std::vector<double> values;
  };
  const std::vector<In> ins = {
      {"x_total",
       {{"node", "a"}, {"project", "vision"}},
       {0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600}},
      {"x_total", {{"node", "b"}, {"project", "other"}}, {0, 5, 10, 20, 2, 7, 15, 30, 31, 33, 40}},
      {"used", {{"gpu", "0"}, {"project", "vision"}}, {10, 20, 30, 40, 50, 95, 96, 97, 97, 98, 99}},
      {"used", {{"gpu", "1"}, {"project", "vision"}}, {50, 40, 30, 20, 10, 12, 11, 10, 9, 8, 7}},
      {"limit",
       {{"gpu", "0"}, {"project", "vision"}},
       {100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}},
      {"limit",
       {{"gpu", "1"}, {"project", "vision"}},
       {100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}},
  };
  for (const auto& in : ins) {
    std::vector<Point> pts;
    std::string values, labels;
    for (size_t i = 0; i < in.values.size(); ++i) {
      pts.push_back({static_cast<int64_t>(i) * 60000, in.values[i]});
      values += (i ? " " : "") + std::to_string(static_cast<int64_t>(in.values[i]));
    }
    for (const auto& [k, v] : in.labels)
      labels += (labels.empty() ? "" : ", ") + k + "=\"" + v + "\"";
    src.add(in.metric, in.labels, pts);
    series_yaml +=
        "      - series: '" + in.metric + "{" + labels + "}'\n        values: '" + values + "'\n";
  }
  const std::vector<std::string> exprs = {
      "used > 90",
      "used{gpu=~\"0|1\"} <= 10",
      "rate(x_total[5m])",
      "rate(x_total[3m]) > 0.05",
      "avg_over_time(used[5m])",
      "max_over_time(used[4m]) >= 97",
      "min_over_time(used{project=\"vision\"}[10m])",
      "sum by (project) (rate(x_total[5m]))",
      "avg(used)",
      "max by (gpu) (used) / 2",
      "used / limit * 100 > 50",
      "-used < -90",
  };
  // Whether Prometheus keeps the metric name in the result (selectors and comparisons
  // of them do; functions, aggregations and arithmetic drop it).
  std::function<std::string(const Expr&)> kept = [&](const Expr& e) -> std::string {
    if (e.kind == Expr::Kind::kSelector) return e.metric;
    if (e.kind == Expr::Kind::kBinary && (e.op == ">" || e.op == ">=" || e.op == "<" ||
                                          e.op == "<=" || e.op == "==" || e.op == "!=")) {
      return is_vector(*e.a) ? kept(*e.a) : kept(*e.b);
    }
    return "";
  };
  const int64_t t = int64_t{10} * 60000;
  std::string tests =
      "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
      series_yaml + "    promql_expr_test:\n";
  for (const auto& text : exprs) {
    auto e = parse(text);
    ASSERT_TRUE(e.ok()) << text;
    auto v = evaluate(**e, src, t);
    ASSERT_TRUE(v.ok()) << text;
    tests += "      - expr: '" + format(**e) + "'\n        eval_time: 10m\n        exp_samples:\n";
    const std::string name = kept(**e);
    for (const auto& s : v->samples) {
      std::string labels;
      for (const auto& [k, x] : s.labels)
        labels += (labels.empty() ? "" : ", ") + k + "=\"" + x + "\"";
      char value[64];
      std::snprintf(value, sizeof value, "%.17g", s.value);
      tests +=
          "          - labels: '" + name + "{" + labels + "}'\n            value: " + value + "\n";
    }
    if (v->samples.empty()) tests += "          []\n";
  }
  testing::TempDir dir;
  const std::string path = (dir.path() / "test.yml").string();
  std::ofstream(path) << tests;
  auto r = run_subprocess(
      {.argv = {"/usr/bin/promtool", "test", "rules", path}, .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->success()) << r->out << r->err << "\n" << tests;
}

}  // namespace
}  // namespace jz::alerts::promql
