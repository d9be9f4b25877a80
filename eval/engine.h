// The automatic test engine: loads predictions and annotations as a template says,
// joins their records by id, judges every variable with its rule, computes the task's
// metrics and writes the reports.
//
// Inputs may be a folder of per-sample files (.json or .xml, the id defaults to the file
// name), a JSON-lines file (one record per line), a JSON file (one record, or many with
// the template's `records` path), or, for builtin:coco-detection, COCO files.
#pragma once

#include <string>

#include "core/json.h"
#include "core/status.h"
#include "eval/template.h"

namespace jz::eval {

struct EvalOutput {
  Json report;  // also written to DIR/report.json
  std::string report_path, samples_csv_path, html_path;
};

// Writes DIR/report.json (metrics, the template, versions, input hashes, worst samples),
// DIR/report.html (the same for people, self-contained) and DIR/samples.csv (one row per
// judgement: id, variable, index, prediction, annotation, correct, rule, note). Creates
// DIR when missing.
Result<EvalOutput> run_evaluation(const Template& t, const std::string& predictions,
                                  const std::string& annotations, const std::string& out_dir);

}  // namespace jz::eval
