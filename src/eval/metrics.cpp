#include "eval/metrics.h"

#include <map>

#include "eval/pro.h"

namespace patchcore::eval {

double fraction_above(const std::vector<float>& scores, double threshold) {
  if (scores.empty()) return 0;
  size_t above = 0;
  for (float s : scores) above += s > threshold;
  return static_cast<double>(above) / static_cast<double>(scores.size());
}

OperatingPoint operating_point(const ScoredDataset& data, const std::string& name, double threshold) {
  std::vector<float> good, defect;
  for (const auto& image : data.images) (image.sample.defective ? defect : good).push_back(image.score);
  return {name, threshold, fraction_above(good, threshold), fraction_above(defect, threshold)};
}

EvalMetrics compute_metrics(const ScoredDataset& data, double model_threshold, double fpr_limit) {
  EvalMetrics m;
  m.fpr_limit = fpr_limit;
  std::vector<float> scores, good, defect;
  std::vector<uint8_t> labels;
  std::map<std::string, std::vector<float>> by_category;
  for (const auto& image : data.images) {
    scores.push_back(image.score);
    labels.push_back(image.sample.defective);
    (image.sample.defective ? defect : good).push_back(image.score);
    if (image.sample.defective) by_category[image.sample.category].push_back(image.score);
  }
  m.good_images = static_cast<int>(good.size());
  m.defect_images = static_cast<int>(defect.size());
  m.image_counts = rank_counts(scores, labels);
  m.image_auroc = roc_auc(m.image_counts);
  m.image_f1 = f1_max(m.image_counts);
  m.at_model_threshold = operating_point(data, "model threshold", model_threshold);
  for (const auto& [name, category_scores] : by_category) {
    std::vector<float> s = good;
    std::vector<uint8_t> l(good.size(), 0);
    s.insert(s.end(), category_scores.begin(), category_scores.end());
    l.resize(s.size(), 1);
    m.categories.push_back({name, static_cast<int>(category_scores.size()), roc_auc(rank_counts(s, l)),
                            fraction_above(category_scores, model_threshold)});
  }
  if (!data.pixels.scores.empty()) {
    const PixelSet& p = data.pixels;
    const RankedCounts counts = rank_counts(p.scores, p.labels);
    PixelMetrics px;
    px.auroc = roc_auc(counts);
    px.f1 = f1_max(counts);
    px.aupro = aupro(p.scores, p.labels, p.weights, p.regions, fpr_limit);
    px.regions = p.regions;
    px.pixels = static_cast<long long>(p.scores.size());
    px.defect_pixels = static_cast<long long>(counts.total_positive);
    m.pixel = px;
  }
  return m;
}

}  // namespace patchcore::eval
