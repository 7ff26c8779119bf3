#pragma once
// The numbers `patchcore eval` reports, computed from a ScoredDataset.
#include <optional>
#include <string>
#include <vector>

#include "eval/curves.h"
#include "eval/scoring.h"

namespace patchcore::eval {

struct CategoryMetrics {
  std::string name;
  int images = 0;
  double auroc = 0;           // this defect type against test/good
  double detection_rate = 0;  // fraction with score > the model's threshold
};

struct PixelMetrics {
  double auroc = 0;
  double aupro = 0;           // to FPR fpr_limit, normalised
  F1Max f1;
  int regions = 0;
  long long pixels = 0, defect_pixels = 0;
};

// False-alarm rate on the good test images and detection rate on the defect images at
// one threshold ("score > threshold").
struct OperatingPoint {
  std::string name;
  double threshold = 0, false_alarm_rate = 0, detection_rate = 0;
};

struct EvalMetrics {
  int good_images = 0, defect_images = 0;
  double image_auroc = 0;
  F1Max image_f1;
  OperatingPoint at_model_threshold;        // the model's decision threshold
  std::vector<OperatingPoint> alternatives; // e.g. the max-training-score rule, the F1-max threshold
  std::vector<CategoryMetrics> categories;  // defect types, by name
  std::optional<PixelMetrics> pixel;        // absent without masks
  double fpr_limit = 0.3;
  RankedCounts image_counts;                // for plots and --write-threshold
};

EvalMetrics compute_metrics(const ScoredDataset& data, double model_threshold, double fpr_limit = 0.3);

// Fraction of `scores` strictly above `threshold` (0 for none).
double fraction_above(const std::vector<float>& scores, double threshold);

OperatingPoint operating_point(const ScoredDataset& data, const std::string& name, double threshold);

}  // namespace patchcore::eval
