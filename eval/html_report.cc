#include "eval/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/text.h"

namespace jz::eval {
namespace {

std::string text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v.get<double>());
    return buf;
  }
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string cell(const Json& v) { return "<td>" + escape_markup(text(v)) + "</td>"; }

// A confusion matrix as an SVG heat map (rows: annotation, columns: prediction).
std::string confusion_svg(const Json& cm) {
  const auto& rows = cm["rows"];
  const auto& cols = cm["columns"];
  const auto& counts = cm["counts"];
  const size_t R = rows.size(), C = cols.size();
  if (R == 0 || C == 0 || R > 60 || C > 60) return "";
  int64_t max = 1;
  for (const auto& r : counts) {
    for (const auto& n : r) max = std::max(max, n.get<int64_t>());
  }
  const int cellw = 36, left = 110, top = 110;
  std::string s = "<svg xmlns='http://www.w3.org/2000/svg' width='" +
                  std::to_string(left + C * cellw + 10) + "' height='" +
                  std::to_string(top + R * cellw + 10) + "' font-size='11'>";
  for (size_t c = 0; c < C; ++c) {
    s += "<text transform='translate(" + std::to_string(left + c * cellw + cellw / 2) + "," +
         std::to_string(top - 6) + ") rotate(-60)'>" + escape_markup(text(cols[c])) + "</text>";
  }
  for (size_t r = 0; r < R; ++r) {
    s += "<text x='" + std::to_string(left - 6) + "' y='" +
         std::to_string(top + r * cellw + cellw / 2 + 4) + "' text-anchor='end'>" +
         escape_markup(text(rows[r])) + "</text>";
    for (size_t c = 0; c < C; ++c) {
      const int64_t n = counts[r][c].get<int64_t>();
      const int shade = 255 - static_cast<int>(200.0 * static_cast<double>(n) / max);
      const bool diag = c < R && text(cols[c]) == text(rows[r]);
      char fill[32];
      std::snprintf(fill, sizeof fill, diag ? "rgb(%d,%d,255)" : "rgb(255,%d,%d)", shade, shade);
      s += "<rect x='" + std::to_string(left + c * cellw) + "' y='" +
           std::to_string(top + r * cellw) + "' width='" + std::to_string(cellw - 1) +
           "' height='" + std::to_string(cellw - 1) + "' fill='" + fill + "'/>";
      s += "<text x='" + std::to_string(left + c * cellw + cellw / 2) + "' y='" +
           std::to_string(top + r * cellw + cellw / 2 + 4) + "' text-anchor='middle'>" +
           std::to_string(n) + "</text>";
    }
  }
  return s + "</svg>";
}

// Precision against recall at the 101 recall points.
std::string pr_svg(const Json& curve, const std::string& title) {
  if (!curve.is_array() || curve.empty()) return "";
  const int w = 220, h = 160, pad = 28;
  std::string pts;
  for (size_t i = 0; i < curve.size(); ++i) {
    const double p = curve[i].get<double>();
    if (p < 0) return "";
    const double x = pad + (w - pad - 8) * static_cast<double>(i) / (curve.size() - 1);
    const double y = h - pad - (h - pad - 8) * p;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x, y);
    pts += buf;
  }
  return "<svg xmlns='http://www.w3.org/2000/svg' width='" + std::to_string(w) + "' height='" +
         std::to_string(h) + "' font-size='10'><rect x='" + std::to_string(pad) +
         "' y='8' width='" + std::to_string(w - pad - 8) + "' height='" +
         std::to_string(h - pad - 8) + "' fill='none' stroke='#999'/><polyline points='" + pts +
         "' fill='none' stroke='#2060c0' stroke-width='1.5'/><text x='" + std::to_string(pad) +
         "' y='" + std::to_string(h - 8) + "'>recall 0..1</text><text x='2' y='16'>P</text>" +
         "<text x='" + std::to_string(w / 2) + "' y='" + std::to_string(h - 8) + "'>" +
         escape_markup(title) + "</text></svg>";
}

}  // namespace

std::string html_report(const Json& report) {
  // A copy where what a report may lack (a redacted one has no inputs or version) is empty.
  Json r = report.is_object() ? report : Json::object();
  for (const char* k : {"jizhan", "samples", "metrics"}) {
    if (!r.contains(k) || !r[k].is_object()) r[k] = Json::object();
  }
  std::string h =
      "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Jizhan evaluation: " +
      escape_markup(text(r.value("template_name", Json("")))) +
      "</title><style>body{font-family:sans-serif;margin:2em;color:#222}"
      "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
      "padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
      ".curves svg{margin:4px}</style></head><body>";
  h +=
      "<h1>Evaluation report: " + escape_markup(text(r.value("template_name", Json("")))) + "</h1>";
  h += "<p>Task <b>" + escape_markup(text(r.value("task", Json("")))) + "</b>; made " +
       escape_markup(text(r.value("created_at", Json("")))) + " by jizhan " +
       escape_markup(text(r["jizhan"].value("version", Json("")))) + " (" +
       escape_markup(text(r["jizhan"].value("revision", Json("")))) + ").</p>";
  if (r.contains("inputs") && r["inputs"].is_object()) {
    h += "<table><tr><th>input</th><th>path</th><th>sha256</th></tr>";
    for (const char* side : {"predictions", "annotations"}) {
      const Json in = r["inputs"].value(side, Json::object());
      h += "<tr><td>" + std::string(side) + "</td>" + cell(in.value("path", Json())) +
           cell(in.value("sha256", Json())) + "</tr>";
    }
    h += "</table>";
  } else {
    h += "<p>Sample-level results (ids, inputs, the worst samples) are left out of this "
         "report.</p>";
  }
  h += "<h2>Samples</h2><table>";
  for (auto it = r["samples"].begin(); it != r["samples"].end(); ++it) {
    if (it->is_array()) continue;
    h += "<tr><td>" + escape_markup(it.key()) + "</td>" + cell(*it) + "</tr>";
  }
  h += "</table>";
  const Json& m = r["metrics"];
  if (r.value("task", "") == "detection") {
    h += "<h2>Metrics</h2><table>";
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (it->is_number())
        h += "<tr><td>" + escape_markup(it.key()) + "</td>" + cell(*it) + "</tr>";
    }
    h += "</table>";
    if (m.contains("per_category")) {
      h += "<h2>Per category</h2><table><tr><th>category</th><th>AP</th><th>AP50</th>"
           "<th>AR100</th><th>ground truth</th><th>detections</th></tr>";
      std::string curves;
      for (const auto& c : m["per_category"]) {
        h += "<tr>" + cell(c["name"]) + cell(c["AP"]) + cell(c["AP50"]) + cell(c["AR100"]) +
             cell(c["ground_truth"]) + cell(c["detections"]) + "</tr>";
        if (c.contains("pr_curve_50")) curves += pr_svg(c["pr_curve_50"], text(c["name"]));
      }
      h += "</table><h2>Precision-recall at IoU 0.50</h2><div class='curves'>" + curves + "</div>";
    }
    if (m.contains("per_class")) {
      h += "<h2>Per class (VOC)</h2><table><tr><th>class</th><th>AP 11-point</th>"
           "<th>AP all points</th><th>ground truth</th><th>TP</th><th>FP</th></tr>";
      for (auto it = m["per_class"].begin(); it != m["per_class"].end(); ++it) {
        h += "<tr><td>" + escape_markup(it.key()) + "</td>" + cell((*it)["ap_11_point"]) +
             cell((*it)["ap_all_points"]) + cell((*it)["ground_truth"]) +
             cell((*it)["true_positives"]) + cell((*it)["false_positives"]) + "</tr>";
      }
      h += "</table>";
    }
  } else {
    h += "<h2>Summary</h2><table><tr><td>accuracy (weighted)</td>" + cell(m["accuracy"]) +
         "</tr><tr><td>samples all correct</td>" + cell(m["samples_all_correct"]) + "</tr></table>";
    h += "<h2>Variables</h2><table><tr><th>variable</th><th>rule</th><th>weight</th>"
         "<th>correct</th><th>judgements</th><th>accuracy</th><th>MAE</th><th>RMSE</th>"
         "<th>macro F1</th></tr>";
    for (auto it = m["variables"].begin(); it != m["variables"].end(); ++it) {
      const Json& v = *it;
      h += "<tr><td>" + escape_markup(it.key()) + "</td>" + cell(v["rule_text"]) +
           cell(v["weight"]) + cell(v["correct"]) + cell(v["judgements"]) + cell(v["accuracy"]) +
           cell(v.value("mae", Json(""))) + cell(v.value("rmse", Json(""))) +
           cell(v.contains("macro") ? v["macro"]["f1"] : Json("")) + "</tr>";
    }
    h += "</table>";
    for (auto it = m["variables"].begin(); it != m["variables"].end(); ++it) {
      const Json& v = *it;
      if (!v.contains("per_class")) continue;
      h += "<h3>" + escape_markup(it.key()) +
           ": per class</h3><table><tr><th>class</th><th>precision</th>"
           "<th>recall</th><th>F1</th><th>support</th></tr>";
      for (auto c = v["per_class"].begin(); c != v["per_class"].end(); ++c) {
        h += "<tr><td>" + escape_markup(c.key()) + "</td>" + cell((*c)["precision"]) +
             cell((*c)["recall"]) + cell((*c)["f1"]) + cell((*c)["support"]) + "</tr>";
      }
      h += "</table>" + confusion_svg(v["confusion_matrix"]);
    }
  }
  if (r.contains("worst_samples") && !r["worst_samples"].empty()) {
    h += "<h2>Worst samples</h2><table><tr><th>id</th><th>score</th><th>what failed</th></tr>";
    for (const auto& w : r["worst_samples"]) {
      std::string failed;
      for (const auto& f : w["failures"]) {
        failed += text(f["variable"]) + ": " +
                  (f.contains("prediction") ? text(f["prediction"]) : "-") + " vs " +
                  (f.contains("annotation") ? text(f["annotation"]) : "-") +
                  (f.contains("note") ? " (" + text(f["note"]) + ")" : "") + "; ";
      }
      h += "<tr>" + cell(w["id"]) + cell(w["score"]) + "<td style='text-align:left'>" +
           escape_markup(failed) + "</td></tr>";
    }
    h += "</table>";
  }
  return h + "</body></html>\n";
}

}  // namespace jz::eval
