#pragma once
// Choosing a decision threshold from evaluation results (`eval --write-threshold`).
// Every threshold here is used as "score > threshold = anomalous", the rule of predict.
#include <string>

#include "eval/curves.h"

namespace patchcore::eval {

struct ThresholdRule {
  enum class Kind { kF1, kFpr } kind = Kind::kF1;
  double max_fpr = 0;       // kFpr: the largest false-positive rate allowed
  std::string text;         // as given: "f1" or "fpr:0.01"
};

// "f1" | "fpr:X" with 0 <= X < 1; UserError naming the option otherwise.
ThresholdRule parse_threshold_rule(const std::string& text);

// The lowest threshold whose false-positive rate (negatives strictly above it, over all
// negatives) is at most max_fpr: halfway between the last allowed distinct score and the
// next lower one, or the highest score (nothing flagged) when none is allowed.
double threshold_at_fpr(const RankedCounts& counts, double max_fpr);

// Applies the rule to one ranking: F1-max threshold, or threshold_at_fpr.
double choose_threshold(const ThresholdRule& rule, const RankedCounts& counts);

}  // namespace patchcore::eval
