#include "cli/eval_command.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "eval/csv_diff.h"
#include "eval/engine.h"

namespace jz::cli {
namespace {

std::string fmt(const Json& v) {
  if (!v.is_number()) return v.dump();
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(4);
  o << v.get<double>();
  return o.str();
}

// A few lines a person reads after a run; the report has everything.
void print_summary(const eval::Template& t, const Json& report) {
  const Json& m = report["metrics"];
  std::cout << "template " << t.name << " (" << t.task << ")\n";
  if (report.contains("samples")) std::cout << "samples  " << report["samples"].dump() << "\n";
  if (t.task == "detection") {
    for (const char* k : {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
                          "ARm", "ARl", "mAP_11_point", "mAP_all_points"}) {
      if (m.contains(k)) std::cout << "  " << k << " = " << fmt(m[k]) << "\n";
    }
    return;
  }
  std::cout << "accuracy " << fmt(m["accuracy"])
            << " (weighted over variables); samples all correct " << fmt(m["samples_all_correct"])
            << "\n";
  for (auto it = m["variables"].begin(); it != m["variables"].end(); ++it) {
    const Json& v = *it;
    std::cout << "  " << it.key() << ": accuracy " << fmt(v["accuracy"]) << " ("
              << v["correct"].get<int64_t>() << "/" << v["judgements"].get<int64_t>() << ", "
              << v["rule_text"].get<std::string>() << ")";
    if (v.contains("mae") && v["mae"].is_number()) {
      std::cout << ", MAE " << fmt(v["mae"]) << ", RMSE " << fmt(v["rmse"]);
    }
    if (v.contains("macro")) std::cout << ", macro F1 " << fmt(v["macro"]["f1"]);
    std::cout << "\n";
  }
}

}  // namespace

EvalCommands::EvalCommands(CLI::App& app) {
  auto* ev = app.add_subcommand("eval", "The automatic test engine (docs/TEMPLATES.md)");
  ev->require_subcommand(1);
  auto* run = ev->add_subcommand(
      "run",
      "Compare an algorithm's outputs with annotations as a template says, and write\n"
      "OUT/report.json (metrics, template, versions, input hashes, worst samples) and\n"
      "OUT/samples.csv (one row per judgement, with the rule that judged it).\n"
      "PREDICTIONS and ANNOTATIONS: a folder of per-sample .json/.xml files, a JSON-lines\n"
      "file, or a JSON file; for builtin:coco-detection, COCO files.");
  run->add_option("-t,--template", template_,
                  "Template file (YAML or JSON), or builtin:coco-detection")
      ->required()
      ->option_text("TEMPLATE");
  run->add_option("-p,--predictions", predictions_, "The algorithm's outputs")
      ->required()
      ->option_text("PATH");
  run->add_option("-a,--annotations", annotations_, "The ground truth")
      ->required()
      ->option_text("PATH");
  run->add_option("-o,--out", out_, "Folder for the reports (created if missing)")
      ->required()
      ->option_text("DIR");
  run->callback([this] {
    action_ = [this]() -> int {
      auto t = eval::load_template(template_);
      if (!t.ok()) {
        std::cerr << "jizhan eval run: error: " << t.status().message() << "\n";
        return 2;
      }
      auto r = eval::run_evaluation(*t, predictions_, annotations_, out_);
      if (!r.ok()) {
        std::cerr << "jizhan eval run: error: " << r.status().message() << "\n";
        return 1;
      }
      print_summary(*t, r->report);
      std::cout << "report   " << r->report_path << "\n         " << r->html_path << "\nsamples  "
                << r->samples_csv_path << "\n";
      return 0;
    };
  });

  auto* schema = ev->add_subcommand("schema", "Print the JSON Schema of templates");
  schema->callback([this] {
    action_ = [] {
      std::cout << eval::template_schema().dump(2) << "\n";
      return 0;
    };
  });

  auto* diff = ev->add_subcommand(
      "diff-csv",
      "Verify a competition result: compare the CSV a team submitted with the CSV a rerun\n"
      "of its algorithm produced, row by row (joined on --key) and field by field.\n"
      "Exit 0: identical; 3: different only within the given tolerances; 4: modified\n"
      "(a value outside tolerance, a missing or extra row or column); 1: an error.");
  diff->add_option("--submitted", submitted_, "The CSV the team submitted")
      ->required()
      ->option_text("CSV");
  diff->add_option("--rerun", rerun_, "The CSV the rerun produced")->required()->option_text("CSV");
  diff->add_option("--key", key_, "The column that identifies a row")
      ->required()
      ->option_text("COL");
  diff->add_option("--tolerance", tolerances_,
                   "Allowed absolute difference of a numeric column (repeatable)")
      ->option_text("COL=VALUE");
  diff->callback([this] {
    action_ = [this]() -> int {
      std::map<std::string, double> tol;
      for (const auto& t : tolerances_) {
        auto eq = t.find('=');
        char* end = nullptr;
        double v = eq == std::string::npos ? NAN : std::strtod(t.c_str() + eq + 1, &end);
        if (eq == std::string::npos || eq == 0 || !end || *end || !(v >= 0)) {
          std::cerr << "jizhan eval diff-csv: error: --tolerance '" << t
                    << "' must be COLUMN=NUMBER (a number >= 0)\n";
          return 2;
        }
        tol[t.substr(0, eq)] = v;
      }
      auto r = eval::diff_csv_files(submitted_, rerun_, key_, tol);
      if (!r.ok()) {
        std::cerr << "jizhan eval diff-csv: error: " << r.status().message() << "\n";
        return 1;
      }
      for (const auto& line : r->lines) std::cout << line << "\n";
      std::cout << "verdict: " << r->verdict << " (" << r->rows_compared << " rows compared, "
                << r->differences << " differences, " << r->outside_tolerance
                << " outside tolerance)\n";
      return r->verdict == "identical" ? 0 : r->verdict == "within tolerance" ? 3 : 4;
    };
  });
}

}  // namespace jz::cli
