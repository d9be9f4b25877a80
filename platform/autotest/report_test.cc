// Pass thresholds, the run summary an evaluation job leaves, and the report a reader who may
// not see a hidden suite's samples is given.
#include "platform/autotest/report.h"

#include <gtest/gtest.h>

namespace jz::autotest {
namespace {

TEST(Thresholds, ParseNormaliseAndNameWhatIsWrong) {
  auto t = parse_threshold("  mAP>=0.60 ");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, "mAP >= 0.6");
  EXPECT_EQ(t->path, std::vector<std::string>{"mAP"});
  auto nested = parse_threshold("variables.age.mae < 3");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->path, (std::vector<std::string>{"variables", "age", "mae"}));
  for (const char* bad : {"", ">= 1", "mAP", "mAP >= ", "mAP >= x", "mAP => 1", "a..b > 1",
                          "mAP >= inf", "mAP >= 1 2"}) {
    auto r = parse_threshold(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("NAME OP NUMBER"), std::string::npos) << bad;
    }
  }
}

TEST(Thresholds, JudgeEveryOperatorAndAMissingMetricFails) {
  const Json m = {{"mAP", 0.6}, {"p99_latency_ms", 50}, {"variables", {{"age", {{"mae", 2.5}}}}}};
  std::vector<Threshold> ts;
  for (const char* text : {"mAP >= 0.6", "mAP > 0.6", "p99_latency_ms <= 50", "p99_latency_ms < 50",
                           "mAP == 0.6", "variables.age.mae < 3", "recall >= 0.1"}) {
    ts.push_back(*parse_threshold(text));
  }
  const auto r = judge(ts, m);
  ASSERT_EQ(r.size(), 7u);
  EXPECT_TRUE(r[0].passed);
  EXPECT_FALSE(r[1].passed);
  EXPECT_TRUE(r[2].passed);
  EXPECT_FALSE(r[3].passed);
  EXPECT_TRUE(r[4].passed);
  EXPECT_TRUE(r[5].passed);
  EXPECT_FALSE(r[6].passed);
  EXPECT_FALSE(r[6].value.has_value());
  EXPECT_EQ(thresholds_json(r)[6]["value"], nullptr);
}

TEST(Thresholds, TheViewNamesTheDetectionHeadlineAndThePerformance) {
  EXPECT_EQ(threshold_view({{"AP", 0.5}}, {{"fps", 30}})["mAP"], 0.5);
  EXPECT_EQ(threshold_view({{"mAP_all_points", 0.7}, {"mAP_11_point", 0.6}}, {})["mAP"], 0.7);
  EXPECT_EQ(threshold_view({{"accuracy", 1}}, {{"fps", 30}})["fps"], 30);
  // A metric of the engine is never replaced by a performance figure of the same name.
  EXPECT_EQ(threshold_view({{"fps", 1}}, {{"fps", 30}})["fps"], 1);
}

TEST(RunSummary, IsCheckedFieldByField) {
  auto s = parse_run_summary(R"({"frames":10,"results":8,"errors":2,"restarts":2,
      "errors_by_kind":{"crashed":1,"timed_out":1},"fps":12.5,
      "latency_ms":{"p50":3.2,"p90":4,"p99":9.5,"max":10},"peak_rss_mib":31.5,"input_kind":"folder"})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->frames, 10);
  EXPECT_EQ(s->errors_by_kind["crashed"], 1);
  EXPECT_EQ(s->performance["p99_latency_ms"], 9.5);
  EXPECT_EQ(s->performance["peak_rss_mib"], 31.5);
  EXPECT_FALSE(s->performance.contains("input_kind"));
  for (const char* bad :
       {"[]", "{", R"({"frames":-1})", R"({"frames":"10"})", R"({"fps":-3})",
        R"({"latency_ms":{"p50":"fast"}})", R"({"errors_by_kind":{"Crashed!":1}})"}) {
    EXPECT_FALSE(parse_run_summary(bad).ok()) << bad;
  }
}

// A hostile algorithm answers with labels that spell out what it saw: the redacted report
// keeps the annotations' labels only and pools its answers as "(other)".
TEST(Redaction, KeepsTheAnnotationsLabelsCountsAndRoundedMetricsOnly) {
  const Json report = {
      {"template_name", "t"},
      {"task", "classification"},
      {"inputs", {{"predictions", {{"path", "/srv/data/x"}}}}},
      {"worst_samples", {{{"id", "cam-7-frame-0001.png"}}}},
      {"samples",
       {{"annotated", 3}, {"missing_predictions", 1}, {"missing_prediction_ids", {"secret-id"}}}},
      {"metrics",
       {{"accuracy", 0.123456789},
        {"variables",
         {{"kind",
           {{"per_class",
             {{"cat", {{"precision", 0.5}, {"support", 2}}},
              {"LEAKED-ff00aa", {{"precision", 0.0}, {"support", 0}}}}},
            {"confusion_matrix",
             {{"rows_are", "annotation"},
              {"rows", {"cat", "LEAKED-ff00aa"}},
              {"columns", {"cat", "LEAKED-ff00aa", "(missing)"}},
              {"counts", {{1, 1, 0}, {0, 0, 0}}}}}}}}},
        {"per_category",
         {{{"name", "dog"}, {"ground_truth", 4}, {"AP", 0.25}},
          {{"name", "LEAKED-2"}, {"ground_truth", 0}, {"AP", -1}}}}}}};
  const Json r = redacted_report(report);
  const std::string text = r.dump();
  EXPECT_EQ(text.find("LEAKED"), std::string::npos) << text;
  EXPECT_EQ(text.find("cam-7"), std::string::npos);
  EXPECT_EQ(text.find("secret-id"), std::string::npos);
  EXPECT_EQ(text.find("/srv/data"), std::string::npos);
  EXPECT_EQ(r["metrics"]["accuracy"], 0.1235);
  EXPECT_EQ(r["samples"]["annotated"], 3);
  EXPECT_EQ(r["samples"]["missing_predictions"], 1);
  const Json& cm = r["metrics"]["variables"]["kind"]["confusion_matrix"];
  EXPECT_EQ(cm["rows"], Json({"cat"}));
  EXPECT_EQ(cm["columns"], Json({"cat", "(missing)", "(other)"}));
  EXPECT_EQ(cm["counts"], Json({{1, 0, 1}}));
  EXPECT_EQ(r["metrics"]["per_category"].size(), 1u);
  EXPECT_TRUE(r["redacted"].get<bool>());
}

}  // namespace
}  // namespace jz::autotest
