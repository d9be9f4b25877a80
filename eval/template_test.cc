// Templates: parsing, and errors that name the file, line, column and what was expected.
#include "eval/template.h"

#include <gtest/gtest.h>

namespace jz::eval {
namespace {

void expect_error(const std::string& text, const std::string& where, const std::string& what) {
  auto t = parse_template(text, "t.yaml");
  ASSERT_FALSE(t.ok()) << text;
  EXPECT_NE(t.status().message().find(where), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find(what), std::string::npos) << t.status().message();
}

TEST(Template, ParsesVariablesRulesAndSides) {
  auto t = parse_template(R"(
task: attributes
annotations: {id: image, format: jsonl}
variables:
  - name: age
    path: people[0].age@num
    rule: {type: numeric, abs: 3, rel: 0.1}
  - name: gender
    prediction: people[0].gender
    annotation: people[0].sex
    rule: {type: string, ignore_case: true, synonyms: {male: [m, man]}}
    weight: 0.5
)",
                          "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->task, "attributes");
  ASSERT_EQ(t->variables.size(), 2u);
  EXPECT_EQ(t->variables[0].rule.kind, Rule::kNumeric);
  EXPECT_EQ(t->variables[0].rule.abs, 3);
  EXPECT_EQ(t->variables[0].annotation.jsonpath(), "$.people[0].age");
  EXPECT_EQ(t->variables[1].rule.synonyms.at("man"), "male");
  EXPECT_EQ(t->variables[1].weight, 0.5);
  EXPECT_EQ(t->annotations.id->text(), "image");
  EXPECT_EQ(t->variables[0].rule.describe(), "numeric |p-a| <= 3 or <= 0.1*|a|");
  // JSON is accepted too.
  auto j = parse_template(R"({"task":"classification","variables":[{"name":"c","path":"label"}]})",
                          "t.json");
  ASSERT_TRUE(j.ok()) << j.status().message();
}

TEST(Template, ErrorsNameFileLineColumnAndWhat) {
  expect_error("task: attributes\nvariables:\n  - name: age\n    path: people[0.age\n",
               "t.yaml:4:11: variables[0].path", "expected ',' or ']'");
  expect_error(
      "task: attributes\nvariables:\n  - name: age\n    path: a\n    rule: {type: fuzzy}\n",
      "t.yaml:5:18: variables[0].rule.type",
      "expected exact, numeric, string, set, frames, alarm or iou");
  expect_error("task: attributes\nvariables:\n  - name: age\n    path: a\n    rul: {}\n",
               "t.yaml:5:5: variables[0].rul", "unknown key (expected one of");
  expect_error("task: attributes\nvariables:\n  - name: a\n    path: x@number\n", "t.yaml:4:11",
               "unknown type suffix '@number'");
  expect_error("task: guessing\nvariables: []\n", "t.yaml:1:7: task", "expected classification");
  expect_error("task: attributes\n", "t.yaml", "list at least one variable");
  expect_error(
      "task: attributes\nvariables:\n  - {name: a, path: x, rule: {type: numeric, abs: three}}\n",
      "variables[0].rule.abs", "expected a number");
  expect_error(
      "task: attributes\nvariables:\n  - {name: a, path: x, rule: {type: exact, ignore_case: "
      "true}}\n",
      "variables[0].rule.type", "need type string or set");
  expect_error("task: [unclosed\n", "t.yaml:", "");
  // Found by fuzz_template: these used to throw instead of returning an error.
  expect_error("task: attributes\nname: \xA3\n", "t.yaml", "not valid UTF-8");
  expect_error("task: attributes\n? [a, b]\n: c\n", "t.yaml:", "keys must be plain names");
  expect_error("task: detection\n", "detection", "required for task detection");
  expect_error("task: attributes\nvariables:\n  - {name: a, path: x}\n  - {name: a, path: y}\n",
               "variables[1].name", "used twice");
}

TEST(Template, BuiltinCocoDetection) {
  auto t = load_template("builtin:coco-detection");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->task, "detection");
  EXPECT_EQ(t->builtin, "coco-detection");
  auto bad = load_template("builtin:nothing");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("builtin:coco-detection"), std::string::npos);
}

}  // namespace
}  // namespace jz::eval
