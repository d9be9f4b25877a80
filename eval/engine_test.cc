// The test engine end to end on files: the seed's age example, detection through a
// template, and the built-in COCO template.
#include "eval/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace jz::eval {
namespace {

const std::string kData = JZ_TEST_DATA;

std::string read(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Engine, SeedAgeExampleWithinThreeYears) {
  testing::TempDir out;
  const std::string dir = kData + "/eval/seed-age";
  auto t = load_template(dir + "/template.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto r = run_evaluation(*t, dir + "/predictions", dir + "/annotations.jsonl", out.str());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& rep = r->report;
  // img001: 36 vs 34 (within 3) and M = male; img002: 23.5 vs 27 (3.5 off), Woman = female;
  // img003: 64 vs 61 (exactly 3: within), female vs male; img004: "eight" is not a
  // number, f = female; img005: no prediction at all; img999: not annotated.
  const Json& age = rep["metrics"]["variables"]["age"];
  EXPECT_EQ(age["judgements"], 5);
  EXPECT_EQ(age["correct"], 2);
  EXPECT_DOUBLE_EQ(age["accuracy"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(age["mae"].get<double>(), (2 + 3.5 + 3) / 3.0);
  const Json& gender = rep["metrics"]["variables"]["gender"];
  EXPECT_EQ(gender["correct"], 3);
  EXPECT_DOUBLE_EQ(gender["per_class"]["female"]["recall"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(gender["confusion_matrix"]["columns"].back(), "(missing)");
  EXPECT_DOUBLE_EQ(rep["metrics"]["accuracy"].get<double>(), (0.4 * 1 + 0.6 * 0.5) / 1.5);
  EXPECT_EQ(rep["samples"]["annotated"], 5);
  EXPECT_EQ(rep["samples"]["missing_predictions"], 1);
  EXPECT_EQ(rep["samples"]["unexpected_predictions"], 1);
  EXPECT_EQ(rep["worst_samples"][0]["id"], "img005");
  EXPECT_EQ(rep["inputs"]["annotations"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rep["template"]["name"], "face-attributes");
  // The per-judgement CSV records the rule that judged each row.
  const std::string csv = read(r->samples_csv_path);
  EXPECT_NE(csv.find("img003,age,0,64,61,true,numeric |p-a| <= 3,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("img004,age,0,,8,false,numeric |p-a| <= 3,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("@num expects a number"), std::string::npos) << csv;
  EXPECT_TRUE(std::filesystem::exists(out.str() + "/report.json"));
  // The HTML report stands alone: tables, an inline SVG confusion matrix, no scripts.
  const std::string html = read(r->html_path);
  EXPECT_NE(html.find("<h1>Evaluation report: face-attributes</h1>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("img005"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
}

TEST(Engine, BuiltinCocoDetectionWritesTheTwelveStats) {
  testing::TempDir out;
  auto t = load_template("builtin:coco-detection");
  auto r = run_evaluation(*t, kData + "/detection-metrics/coco-sample/detections.json",
                          kData + "/detection-metrics/coco-sample/ground_truth.json", out.str());
  ASSERT_TRUE(r.ok()) << r.status().message();
  Json rep = Json::parse(read(out.str() + "/report.json"));
  for (const char* k :
       {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}) {
    EXPECT_TRUE(rep["metrics"][k].is_number()) << k;
  }
  EXPECT_NEAR(rep["metrics"]["AP"].get<double>(), 0.503647, 1e-6);
  const std::string html = read(r->html_path);
  EXPECT_NE(html.find("Precision-recall at IoU 0.50"), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
}

TEST(Engine, DetectionThroughATemplate) {
  testing::TempDir dir;
  const std::string d = dir.str();
  std::filesystem::create_directories(d + "/pred");
  std::filesystem::create_directories(d + "/ann");
  std::ofstream(d + "/t.yaml") << R"(
task: detection
annotations: {xml_arrays: [object]}
detection:
  objects:  # route paths with [ ] need block style or quotes in YAML
    prediction: algorithm_data.target_info[*]
    annotation: annotation.object[*]
  box: {prediction: '@box', annotation: bndbox@box}
  label: {prediction: name, annotation: name}
  score: {prediction: confidence@num}
)";
  std::ofstream(d + "/ann/a.xml")
      << "<annotation><object><name>dog</name><bndbox><xmin>0</xmin><ymin>0</ymin>"
         "<xmax>50</xmax><ymax>50</ymax></bndbox></object></annotation>";
  std::ofstream(d + "/pred/a.json") << R"({"algorithm_data":{"target_info":[
      {"x":0,"y":0,"width":50,"height":50,"name":"dog","confidence":0.9},
      {"x":100,"y":100,"width":20,"height":20,"name":"dog","confidence":0.2}]}})";
  auto t = load_template(d + "/t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto r = run_evaluation(*t, d + "/pred", d + "/ann", d + "/out");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(r->report["metrics"]["AP50"].get<double>(), 1.0);
  EXPECT_EQ(r->report["samples"]["predicted_objects"], 2);
}

TEST(Engine, AlarmsPerFrameAndPerEvent) {
  testing::TempDir dir;
  const std::string d = dir.str();
  std::ofstream(d + "/t.yaml")
      << "task: alarm\nannotations: {id: frame}\npredictions: {id: frame}\n"
         "variables:\n  - name: alert\n"
         "    prediction: algorithm_data.is_alert@bool\n"
         "    annotation: alert@bool\n    rule: {type: alarm, frames: 1}\n";
  // Frames 1..12. Annotated events: 3-5 and 9-10. Predicted: 4 (inside the first),
  // 11 (next to the second: within the 1-frame slack) and 7 (a false alarm).
  std::ofstream ann(d + "/a.jsonl"), pred(d + "/p.jsonl");
  for (int f = 1; f <= 12; ++f) {
    const bool a = (f >= 3 && f <= 5) || f == 9 || f == 10;
    const bool p = f == 4 || f == 7 || f == 11;
    ann << "{\"frame\":" << f << ",\"alert\":" << (a ? "true" : "false") << "}\n";
    pred << "{\"frame\":" << f << ",\"algorithm_data\":{\"is_alert\":" << (p ? "true" : "false")
         << "}}\n";
  }
  ann.close();
  pred.close();
  auto t = load_template(d + "/t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto r = run_evaluation(*t, d + "/p.jsonl", d + "/a.jsonl", d + "/out");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& al = r->report["metrics"]["variables"]["alert"]["alarms"];
  EXPECT_EQ(al["per_frame"]["true_positives"], 1);   // frame 4
  EXPECT_EQ(al["per_frame"]["false_positives"], 2);  // frames 7 and 11
  EXPECT_EQ(al["per_frame"]["false_negatives"], 4);  // 3, 5, 9, 10
  EXPECT_EQ(al["per_event"]["annotated_events"], 2);
  EXPECT_EQ(al["per_event"]["predicted_events"], 3);
  EXPECT_EQ(al["per_event"]["detected_events"], 2);
  EXPECT_EQ(al["per_event"]["false_alarm_events"], 1);
  EXPECT_DOUBLE_EQ(al["per_event"]["recall"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(al["per_event"]["precision"].get<double>(), 2.0 / 3.0);
}

TEST(Engine, BoxVariablesJudgedByIou) {
  testing::TempDir dir;
  const std::string d = dir.str();
  std::ofstream(d + "/t.yaml") << "task: attributes\nannotations: {id: id}\npredictions: {id: id}\n"
                                  "variables:\n  - name: face\n    prediction: face@box\n"
                                  "    annotation: face@box\n    rule: {type: iou, iou: 0.5}\n";
  std::ofstream(d + "/a.jsonl")
      << "{\"id\":1,\"face\":[0,0,10,10]}\n{\"id\":2,\"face\":[0,0,10,10]}\n";
  std::ofstream(d + "/p.jsonl")
      << "{\"id\":1,\"face\":{\"x\":0,\"y\":0,\"width\":10,\"height\":6}}\n"    // IoU 0.6
         "{\"id\":2,\"face\":{\"x\":5,\"y\":5,\"width\":10,\"height\":10}}\n";  // IoU 25/175
  auto t = load_template(d + "/t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto r = run_evaluation(*t, d + "/p.jsonl", d + "/a.jsonl", d + "/out");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& v = r->report["metrics"]["variables"]["face"];
  EXPECT_EQ(v["correct"], 1);
  EXPECT_EQ(v["rule_text"], "box IoU >= 0.5");
  EXPECT_NE(read(r->samples_csv_path).find("IoU 0.6"), std::string::npos);
}

TEST(Engine, BadInputsAreNamed) {
  testing::TempDir dir;
  const std::string d = dir.str();
  std::ofstream(d + "/t.yaml") << "task: attributes\nannotations: {id: id}\npredictions: {id: id}\n"
                                  "variables:\n  - {name: a, path: a@num}\n";
  std::ofstream(d + "/a.jsonl") << "{\"id\":1,\"a\":1}\n{\"id\":1,\"a\":2}\n";
  std::ofstream(d + "/p.jsonl") << "{\"id\":1,\"a\":1}\n";
  auto t = load_template(d + "/t.yaml");
  ASSERT_TRUE(t.ok());
  auto dup = run_evaluation(*t, d + "/p.jsonl", d + "/a.jsonl", d + "/out");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("the id '1' appears twice"), std::string::npos)
      << dup.status().message();
  std::ofstream(d + "/b.jsonl") << "{\"id\":1,\"a\":\"x\"}\n";
  auto bad_ann = run_evaluation(*t, d + "/p.jsonl", d + "/b.jsonl", d + "/out");
  ASSERT_FALSE(bad_ann.ok());
  EXPECT_NE(bad_ann.status().message().find("b.jsonl line 1"), std::string::npos)
      << bad_ann.status().message();
  auto none = run_evaluation(*t, d + "/nothing.jsonl", d + "/b.jsonl", d + "/out");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace jz::eval
