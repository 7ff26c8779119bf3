#include "eval/figures.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cstdio>

#include "data/overlay.h"
#include "data/preprocess.h"
#include "eval/plot.h"
#include "io/error.h"

namespace patchcore::eval {
namespace {

const cv::Scalar kBlue(200, 90, 30), kRed(50, 50, 220), kOrange(0, 140, 255), kPurple(160, 60, 140);

void save(const std::filesystem::path& path, const cv::Mat& image) {
  if (!cv::imwrite(path.string(), image)) throw UserError("cannot write " + path.string());
}

// The images picked for a sheet, scored again for their heat maps.
std::vector<Thumbnail> thumbnails_of(const std::vector<const ScoredImage*>& picked, const Model& model) {
  std::vector<Thumbnail> out;
  const double scale = overlay_pixel_scale(model.summary().max_training_pixel);
  for (const auto* image : picked) {
    const cv::Mat bgr = read_image_bgr(image->sample.image);
    const Prediction p = model.predict(bgr);
    char caption[160];
    std::snprintf(caption, sizeof caption, "%s/%s %.3f", image->sample.category.c_str(),
                  image->sample.image.stem().string().substr(0, 14).c_str(), image->score);
    out.push_back({heat_overlay(bgr, p.anomaly_map, scale), caption});
  }
  return out;
}

}  // namespace

std::vector<std::string> write_figures(const std::filesystem::path& dir, const EvalMetrics& m,
                                       const ScoredDataset& data, const Model& model, int thumbnails) {
  std::vector<std::string> names;
  auto write = [&](const std::string& name, const cv::Mat& image) {
    save(dir / name, image);
    names.push_back(name);
  };
  const double threshold = m.at_model_threshold.threshold;
  const CurvePoints roc = roc_points(m.image_counts);
  std::vector<Series> roc_series = {{"image ROC (AUROC " + std::to_string(m.image_auroc).substr(0, 5) + ")", roc.x,
                                     roc.y, kBlue}};
  write("roc.png", line_chart("ROC curve (images)", "false-positive rate (good flagged)",
                              "true-positive rate (defects found)", roc_series,
                              {{"model threshold", m.at_model_threshold.false_alarm_rate,
                                m.at_model_threshold.detection_rate, kRed}},
                              /*diagonal=*/true));
  const CurvePoints pr = pr_points(m.image_counts);
  write("pr.png", line_chart("Precision-recall curve (images)", "recall", "precision",
                             {{"image PR", pr.x, pr.y, kBlue}},
                             {{"F1-max " + std::to_string(m.image_f1.f1).substr(0, 5), m.image_f1.recall,
                               m.image_f1.precision, kRed}}));

  std::vector<float> good, defect;
  std::vector<const ScoredImage*> false_alarms, missed;
  for (const auto& image : data.images) {
    (image.sample.defective ? defect : good).push_back(image.score);
    if (!image.sample.defective && image.score > threshold) false_alarms.push_back(&image);
    if (image.sample.defective && image.score <= threshold) missed.push_back(&image);
  }
  std::vector<VerticalLine> lines = {{"model threshold", threshold, kRed}};
  for (const auto& p : m.alternatives) lines.push_back({p.name, p.threshold, lines.size() == 1 ? kOrange : kPurple});
  write("score_histogram.png", score_histogram("Image scores: good vs defect", good, defect, lines));

  std::sort(false_alarms.begin(), false_alarms.end(), [](auto* a, auto* b) { return a->score > b->score; });
  std::sort(missed.begin(), missed.end(), [](auto* a, auto* b) { return a->score < b->score; });
  false_alarms.resize(std::min<size_t>(false_alarms.size(), thumbnails));
  missed.resize(std::min<size_t>(missed.size(), thumbnails));
  write("false_alarms.png", thumbnail_sheet("Worst false alarms: good images above the threshold",
                                            thumbnails_of(false_alarms, model)));
  write("missed_defects.png", thumbnail_sheet("Missed defects: defect images at or below the threshold",
                                              thumbnails_of(missed, model)));
  return names;
}

}  // namespace patchcore::eval
