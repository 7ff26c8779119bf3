#include "eval/curves.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace patchcore::eval {

RankedCounts rank_counts(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
                         const std::vector<float>& positive_weights) {
  if (scores.size() != labels.size() || (!positive_weights.empty() && positive_weights.size() != scores.size()))
    throw std::invalid_argument("rank_counts: scores, labels and weights differ in length");
  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  RankedCounts c;
  double tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t i = order[k];
    if (labels[i])
      tp += positive_weights.empty() ? 1.0 : positive_weights[i];
    else
      fp += 1.0;
    // A point only after the last sample of a run of equal scores: ties move together.
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[i]) {
      c.thresholds.push_back(scores[i]);
      c.tp.push_back(tp);
      c.fp.push_back(fp);
    }
  }
  c.total_positive = tp;
  c.total_negative = fp;
  return c;
}

CurvePoints roc_points(const RankedCounts& c) {
  CurvePoints p{{0.0}, {0.0}};
  for (size_t i = 0; i < c.tp.size(); ++i) {
    p.x.push_back(c.total_negative > 0 ? c.fp[i] / c.total_negative : 0.0);
    p.y.push_back(c.total_positive > 0 ? c.tp[i] / c.total_positive : 0.0);
  }
  return p;
}

double roc_auc(const RankedCounts& c) {
  if (c.total_positive <= 0 || c.total_negative <= 0) return std::numeric_limits<double>::quiet_NaN();
  const CurvePoints p = roc_points(c);
  double area = 0;
  for (size_t i = 1; i < p.x.size(); ++i) area += (p.x[i] - p.x[i - 1]) * (p.y[i] + p.y[i - 1]) / 2;
  return area;
}

CurvePoints pr_points(const RankedCounts& c) {
  CurvePoints p;
  for (size_t i = 0; i < c.tp.size(); ++i) {
    const double flagged = c.tp[i] + c.fp[i];
    p.x.push_back(c.total_positive > 0 ? c.tp[i] / c.total_positive : 0.0);
    p.y.push_back(flagged > 0 ? c.tp[i] / flagged : 1.0);
  }
  return p;
}

F1Max f1_max(const RankedCounts& c) {
  F1Max best;
  bool found = false;
  for (size_t i = 0; i < c.tp.size(); ++i) {
    const double flagged = c.tp[i] + c.fp[i];
    const double precision = flagged > 0 ? c.tp[i] / flagged : 0.0;
    const double recall = c.total_positive > 0 ? c.tp[i] / c.total_positive : 0.0;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    // ">" keeps the highest threshold among equal F1 values: the fewest flagged samples.
    if (!found || f1 > best.f1) {
      found = true;
      best.f1 = f1;
      best.precision = precision;
      best.recall = recall;
      best.lowest_flagged_score = c.thresholds[i];
      const double next_lower = i + 1 < c.thresholds.size() ? c.thresholds[i + 1] : c.thresholds[i] - 1.0;
      best.threshold = (static_cast<double>(c.thresholds[i]) + next_lower) / 2;
    }
  }
  return best;
}

}  // namespace patchcore::eval
