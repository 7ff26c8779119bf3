#pragma once
// Ranking curves of a binary scorer (higher score = more anomalous), with the
// definitions scikit-learn uses: one curve point per distinct score, a sample is
// predicted positive when its score >= that point's threshold, ties move together.
#include <cstdint>
#include <vector>

namespace patchcore::eval {

// Cumulative counts from the highest score down. `positive_weight` lets AUPRO reuse
// the same ranking (each defect pixel counts 1 / (regions * region area)).
struct RankedCounts {
  std::vector<float> thresholds;  // distinct scores, descending
  std::vector<double> tp;         // sum of positive weights with score >= thresholds[i]
  std::vector<double> fp;         // number of negatives with score >= thresholds[i]
  double total_positive = 0, total_negative = 0;
};

// scores and labels (1 = defect) of equal length; weights empty (all 1) or one per sample
// (only positives' weights are used). Throws std::invalid_argument on a length mismatch.
RankedCounts rank_counts(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
                         const std::vector<float>& positive_weights = {});

// Area under the ROC curve (trapezoids through (0,0) and every point), as
// sklearn.metrics.roc_auc_score. NaN when one class is absent.
double roc_auc(const RankedCounts& counts);

// ROC points (fpr, tpr) from (0,0) to (1,1), for plots.
struct CurvePoints {
  std::vector<double> x, y;
};
CurvePoints roc_points(const RankedCounts& counts);
// Precision-recall points (recall, precision), for plots.
CurvePoints pr_points(const RankedCounts& counts);

// The best F1 over all thresholds. `threshold` sits halfway between the lowest score
// flagged and the next lower score, so "score > threshold" (the rule of predict)
// flags exactly the same samples as sklearn's "score >= lowest flagged score".
struct F1Max {
  double f1 = 0, precision = 0, recall = 0;
  float lowest_flagged_score = 0;
  double threshold = 0;
};
F1Max f1_max(const RankedCounts& counts);

}  // namespace patchcore::eval
