#include "pipeline/holdout.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "io/progress.h"
#include "pipeline/image_batch.h"

namespace patchcore {
namespace {

int64_t count_above(const std::vector<double>& values, double threshold) {
  return std::count_if(values.begin(), values.end(), [&](double v) { return v > threshold; });
}

// The held-out statistics, and how many of these good images, which the bank has not seen, the
// chosen threshold and the old rule (the highest training value) would flag: the user's estimate
// of each rule's false-alarm rate on new good parts (in-sample for the chosen one).
YAML::Node statistics_yaml(const GoodThreshold& t, const std::vector<double>& values, double threshold,
                           double training_max) {
  YAML::Node n;
  n["mean"] = t.mean;
  n["std"] = t.std;
  n["max"] = t.max;
  n["above_threshold"] = count_above(values, threshold);
  n["above_highest_training_value"] = count_above(values, training_max);
  return n;
}

}  // namespace

HoldoutSplit split_holdout(size_t count, double fraction) {
  HoldoutSplit split;
  for (size_t i = 0; i < count; ++i) {
    const bool held = fraction > 0 && std::floor((i + 1) * fraction) > std::floor(i * fraction);
    (held ? split.held_out : split.train).push_back(i);
  }
  if (split.held_out.size() < kMinHoldoutImages) {
    split.held_out.clear();
    split.train.resize(count);
    for (size_t i = 0; i < count; ++i) split.train[i] = i;
  }
  return split;
}

HeldOutImages take_held_out(RoiPlan& plan, const HoldoutSplit& split) {
  HeldOutImages held;
  std::vector<std::filesystem::path> images;
  std::vector<cv::Rect> crops;
  for (size_t i : split.train) {
    images.push_back(plan.images[i]);
    if (!plan.crops.empty()) crops.push_back(plan.crops[i]);
  }
  for (size_t i : split.held_out) {
    held.images.push_back(plan.images[i]);
    if (!plan.crops.empty()) held.crops.push_back(plan.crops[i]);
  }
  plan.images = std::move(images);
  plan.crops = std::move(crops);
  return held;
}

HoldoutScores score_held_out(const PatchModel& model, const std::vector<std::filesystem::path>& images,
                             const std::vector<cv::Rect>& crops, int batch_size, bool show_progress,
                             const PatchModel* exact, SearchAgreement* agreement) {
  c10::InferenceMode guard;
  HoldoutScores out;
  out.images = images;
  ProgressBar bar("scoring held-out images", static_cast<int64_t>(images.size()), show_progress);
  for (size_t first = 0; first < images.size(); first += static_cast<size_t>(batch_size)) {
    const size_t count = std::min(images.size() - first, static_cast<size_t>(batch_size));
    const std::vector<std::filesystem::path> paths(images.begin() + first, images.begin() + first + count);
    const std::vector<cv::Rect> batch_crops =
        crops.empty() ? std::vector<cv::Rect>{} : std::vector<cv::Rect>(crops.begin() + first, crops.begin() + first + count);
    const auto embedding = model.embed(load_image_batch(paths, model.config().preprocessing, batch_crops).input);
    const BatchScores s = model.score_embedding(embedding);
    if (agreement) agreement->add(s, exact->score_embedding(embedding));
    const auto maxima = s.maps.reshape({static_cast<int64_t>(count), -1}).amax(1);
    for (size_t k = 0; k < count; ++k) {
      out.image_scores.push_back(s.image_scores[static_cast<int64_t>(k)].item<double>());
      out.max_pixels.push_back(maxima[static_cast<int64_t>(k)].item<double>());
    }
    bar.update(static_cast<int64_t>(first + count));
  }
  bar.finish();
  return out;
}

ThresholdRecord holdout_threshold(const HoldoutScores& scores, const NormStats& training, double fraction,
                                  double sigmas) {
  const GoodThreshold image = threshold_from_good_scores(scores.image_scores, sigmas);
  const GoodThreshold pixel = threshold_from_good_scores(scores.max_pixels, sigmas);
  ThresholdRecord r;
  r.method = "holdout";
  r.image = std::max(image.value, training.max_score);
  r.pixel = std::max(pixel.value, training.max_pixel);
  r.details["formula"] = "max(highest training value, held-out mean + sigmas * std), std with ddof=1";
  r.details["holdout_fraction"] = fraction;
  r.details["sigmas"] = sigmas;
  r.details["held_out_images"] = static_cast<int64_t>(scores.images.size());
  r.details["in_memory_bank"] = false;
  r.details["image_scores"] = statistics_yaml(image, scores.image_scores, r.image, training.max_score);
  r.details["max_pixel_per_image"] = statistics_yaml(pixel, scores.max_pixels, *r.pixel, training.max_pixel);
  YAML::Node files;
  for (const auto& p : scores.images) files.push_back(p.filename().string());
  r.details["images"] = files;
  return r;
}

}  // namespace patchcore
