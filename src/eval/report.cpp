#include "eval/report.h"

#include <cmath>
#include <cstdio>

namespace patchcore::eval {
namespace {

// JSON has no NaN: an undefined metric (one class absent) is null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string fixed(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string percent(double v) { return fixed(100 * v, 1) + "%"; }

nlohmann::json f1_json(const F1Max& f) {
  return {{"f1", number(f.f1)}, {"precision", number(f.precision)}, {"recall", number(f.recall)},
          {"threshold", number(f.threshold)}, {"lowest_flagged_score", number(f.lowest_flagged_score)}};
}

nlohmann::json point_json(const OperatingPoint& p) {
  return {{"name", p.name}, {"threshold", number(p.threshold)}, {"false_alarm_rate", number(p.false_alarm_rate)},
          {"detection_rate", number(p.detection_rate)}};
}

// Rows of (label, value) shared by the terminal table and report.md.
std::vector<std::pair<std::string, std::string>> summary_rows(const EvalMetrics& m) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"test images", std::to_string(m.good_images) + " good, " + std::to_string(m.defect_images) + " defect"},
      {"image AUROC", fixed(m.image_auroc)},
      {"image F1-max", fixed(m.image_f1.f1) + " at threshold " + fixed(m.image_f1.threshold)},
  };
  if (m.pixel) {
    rows.push_back({"pixel AUROC", fixed(m.pixel->auroc)});
    rows.push_back({"AUPRO (FPR <= " + fixed(m.fpr_limit, 2) + ")", fixed(m.pixel->aupro)});
    rows.push_back({"pixel F1-max", fixed(m.pixel->f1.f1) + " at threshold " + fixed(m.pixel->f1.threshold)});
  }
  rows.push_back({"model threshold", fixed(m.at_model_threshold.threshold)});
  rows.push_back({"false alarms on good", percent(m.at_model_threshold.false_alarm_rate)});
  rows.push_back({"detection rate", percent(m.at_model_threshold.detection_rate)});
  return rows;
}

}  // namespace

nlohmann::json metrics_json(const EvalMetrics& m, const ReportContext& c) {
  nlohmann::json j;
  j["model"] = c.model_dir;
  j["data_dir"] = c.data_dir;
  j["images"] = {{"good", m.good_images}, {"defect", m.defect_images}};
  j["image_auroc"] = number(m.image_auroc);
  j["image_f1_max"] = f1_json(m.image_f1);
  j["threshold"] = point_json(m.at_model_threshold);
  j["threshold"]["source"] = c.threshold_source;
  j["other_thresholds"] = nlohmann::json::array();
  for (const auto& p : m.alternatives) j["other_thresholds"].push_back(point_json(p));
  j["per_defect_type"] = nlohmann::json::array();
  for (const auto& cat : m.categories)
    j["per_defect_type"].push_back({{"name", cat.name}, {"images", cat.images}, {"image_auroc", number(cat.auroc)},
                                    {"detection_rate", number(cat.detection_rate)}});
  if (m.pixel) {
    j["pixel"] = {{"auroc", number(m.pixel->auroc)},
                  {"aupro", number(m.pixel->aupro)},
                  {"aupro_fpr_limit", m.fpr_limit},
                  {"f1_max", f1_json(m.pixel->f1)},
                  {"regions", m.pixel->regions},
                  {"pixels", m.pixel->pixels},
                  {"defect_pixels", m.pixel->defect_pixels},
                  {"geometry", c.map_geometry}};
  } else {
    j["pixel"] = nullptr;
  }
  j["notes"] = c.notes;
  return j;
}

nlohmann::json image_scores_json(const ScoredDataset& data) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& image : data.images)
    out.push_back({{"image", image.sample.image.string()}, {"category", image.sample.category}, {"score", image.score}});
  return out;
}

std::string report_markdown(const EvalMetrics& m, const ReportContext& c) {
  std::string md = "# Evaluation of " + c.model_dir + "\n\nData: `" + c.data_dir + "`. Maps: " + c.map_geometry +
                   ". Threshold: " + c.threshold_source + ".\n\n| metric | value |\n|---|---|\n";
  for (const auto& [label, value] : summary_rows(m)) md += "| " + label + " | " + value + " |\n";
  md += "\n## Per defect type\n\n| defect type | images | image AUROC | detected at the model threshold |\n"
        "|---|---|---|---|\n";
  for (const auto& cat : m.categories)
    md += "| " + cat.name + " | " + std::to_string(cat.images) + " | " + fixed(cat.auroc) + " | " +
          percent(cat.detection_rate) + " |\n";
  md += "\n## Thresholds compared\n\n| threshold | value | false alarms on good | detection rate |\n|---|---|---|---|\n";
  std::vector<OperatingPoint> points{m.at_model_threshold};
  points.insert(points.end(), m.alternatives.begin(), m.alternatives.end());
  for (const auto& p : points)
    md += "| " + p.name + " | " + fixed(p.threshold) + " | " + percent(p.false_alarm_rate) + " | " +
          percent(p.detection_rate) + " |\n";
  if (!c.notes.empty()) {
    md += "\n## Notes\n\n";
    for (const auto& n : c.notes) md += "- " + n + "\n";
  }
  if (!c.figures.empty()) {
    md += "\n## Figures\n\n";
    for (const auto& f : c.figures) md += "![" + f + "](" + f + ")\n\n";
  }
  md += "Definitions: AUROC = area under the ROC curve (ties move together, as scikit-learn); F1-max = best F1 over "
        "all thresholds; AUPRO = area under the per-region-overlap curve (regions = 8-connected components of the "
        "masks) up to the FPR limit, divided by it; detection / false-alarm rate = share of defect / good images "
        "with score > threshold.\n";
  return md;
}

std::string terminal_table(const EvalMetrics& m, const ReportContext& c) {
  std::string out;
  char line[256];
  for (const auto& [label, value] : summary_rows(m)) {
    std::snprintf(line, sizeof line, "  %-26s %s\n", label.c_str(), value.c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "\n  %-16s %7s %12s %10s\n", "defect type", "images", "image AUROC", "detected");
  out += line;
  for (const auto& cat : m.categories) {
    std::snprintf(line, sizeof line, "  %-16s %7d %12s %10s\n", cat.name.c_str(), cat.images, fixed(cat.auroc).c_str(),
                  percent(cat.detection_rate).c_str());
    out += line;
  }
  if (!m.alternatives.empty()) {
    std::snprintf(line, sizeof line, "\n  %-30s %10s %12s %10s\n", "threshold", "value", "false alarms", "detected");
    out += line;
    for (const auto& p : m.alternatives) {
      std::snprintf(line, sizeof line, "  %-30s %10s %12s %10s\n", p.name.c_str(), fixed(p.threshold).c_str(),
                    percent(p.false_alarm_rate).c_str(), percent(p.detection_rate).c_str());
      out += line;
    }
  }
  for (const auto& n : c.notes) out += "  note: " + n + "\n";
  return out;
}

}  // namespace patchcore::eval
