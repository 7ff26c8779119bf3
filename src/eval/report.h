#pragma once
// What `patchcore eval` writes and prints: metrics.json, report.md, the terminal table.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace patchcore::eval {

struct ReportContext {
  std::string model_dir, data_dir;
  std::string map_geometry;           // how maps and masks were compared
  std::string threshold_source;       // where the model's threshold comes from
  std::vector<std::string> notes;     // skipped metrics, unscored images, ...
  std::vector<std::string> figures;   // PNG file names, for report.md
};

nlohmann::json metrics_json(const EvalMetrics& m, const ReportContext& context);
// [{"image", "category", "score"}] of every scored image, for metrics.json.
nlohmann::json image_scores_json(const ScoredDataset& data);
std::string report_markdown(const EvalMetrics& m, const ReportContext& context);
std::string terminal_table(const EvalMetrics& m, const ReportContext& context);

}  // namespace patchcore::eval
