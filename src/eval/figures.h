#pragma once
// The PNG figures of `patchcore eval`: roc.png, pr.png, score_histogram.png,
// false_alarms.png (highest-scoring good images above the threshold) and
// missed_defects.png (lowest-scoring defect images at or below it), with heat maps.
#include <filesystem>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "patchcore/model.h"

namespace patchcore::eval {

// Writes the figures into `dir` and returns their file names. `thumbnails` per sheet.
std::vector<std::string> write_figures(const std::filesystem::path& dir, const EvalMetrics& m,
                                       const ScoredDataset& data, const Model& model, int thumbnails = 6);

}  // namespace patchcore::eval
