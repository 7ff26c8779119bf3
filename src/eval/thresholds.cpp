#include "eval/thresholds.h"

#include <cstdlib>

#include "io/error.h"

namespace patchcore::eval {

ThresholdRule parse_threshold_rule(const std::string& text) {
  ThresholdRule rule;
  rule.text = text;
  if (text == "f1") return rule;
  if (text.rfind("fpr:", 0) == 0) {
    const std::string number = text.substr(4);
    char* end = nullptr;
    rule.max_fpr = std::strtod(number.c_str(), &end);
    if (!number.empty() && *end == '\0' && rule.max_fpr >= 0 && rule.max_fpr < 1) {
      rule.kind = ThresholdRule::Kind::kFpr;
      return rule;
    }
  }
  throw UserError("--write-threshold '" + text + "': use f1 (the image F1-max threshold) or fpr:X with "
                  "0 <= X < 1 (the lowest threshold with a false-alarm rate on good test images of at most X, "
                  "e.g. fpr:0.01)");
}

double threshold_at_fpr(const RankedCounts& c, double max_fpr) {
  if (c.thresholds.empty()) return 0;
  size_t allowed = 0;  // number of leading curve points (flagged groups) within the limit
  while (allowed < c.fp.size() && c.fp[allowed] <= max_fpr * c.total_negative) ++allowed;
  if (allowed == 0) return c.thresholds.front();
  if (allowed == c.thresholds.size()) return static_cast<double>(c.thresholds.back()) - 1.0;
  return (static_cast<double>(c.thresholds[allowed - 1]) + c.thresholds[allowed]) / 2;
}

double choose_threshold(const ThresholdRule& rule, const RankedCounts& counts) {
  return rule.kind == ThresholdRule::Kind::kF1 ? f1_max(counts).threshold : threshold_at_fpr(counts, rule.max_fpr);
}

}  // namespace patchcore::eval
