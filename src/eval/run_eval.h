#pragma once
// `patchcore eval`: score a labelled test folder with a model folder, compute the
// metrics, write R/metrics.json, R/report.md and the figures (R is replaced only once
// complete), and optionally store a threshold chosen on it in the model folder.
#include <filesystem>
#include <optional>

#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/thresholds.h"

namespace patchcore::eval {

struct EvalOptions {
  std::filesystem::path model_dir, data_dir, output_dir = "evaluation";
  bool full_size = false;     // compare maps and masks at each image's size, not --image-size
  int batch_size = 8;
  bool show_progress = true;
  std::optional<ThresholdRule> write_threshold;
};

struct EvalResult {
  EvalMetrics metrics;
  ReportContext context;
  std::optional<double> written_image_threshold, written_pixel_threshold;
};

EvalResult run_eval(const EvalOptions& options);

}  // namespace patchcore::eval
