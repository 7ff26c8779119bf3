#pragma once
// Thresholds from good images only: training holds out a fraction of the good images,
// builds the memory bank from the rest, scores the held-out ones against it and sets
// the image / pixel thresholds from those scores (head/good_threshold.h). The held-out
// images stay out of the bank: the thresholds are then measured on exactly the bank
// that ships, with good parts it has never seen (re-selecting the coreset with them
// would change the bank and void the measurement).
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "head/good_threshold.h"
#include "head/norm_stats.h"
#include "pipeline/patch_model.h"
#include "pipeline/roi_training.h"
#include "pipeline/search_agreement.h"
#include "pipeline/threshold_record.h"

namespace patchcore {

// Fewer held-out images than this give no usable spread: training then keeps every
// image in the bank and falls back to the highest training score.
inline constexpr size_t kMinHoldoutImages = 5;

struct HoldoutSplit {
  std::vector<size_t> train, held_out;  // indices into the image list, ascending
};

// round(count * fraction) images, spread evenly over the (sorted) list: index i is held
// out when floor((i + 1) * fraction) > floor(i * fraction). Nothing is held out when that
// is fewer than kMinHoldoutImages or fraction is 0.
HoldoutSplit split_holdout(size_t count, double fraction);

struct HeldOutImages {
  std::vector<std::filesystem::path> images;
  std::vector<cv::Rect> crops;  // ROI mode, else empty
};

// Moves the held-out entries of plan.images / plan.crops out of the plan.
HeldOutImages take_held_out(RoiPlan& plan, const HoldoutSplit& split);

struct HoldoutScores {
  std::vector<std::filesystem::path> images;
  std::vector<double> image_scores;  // PatchCore image score
  std::vector<double> max_pixels;    // highest anomaly-map value of each image
};

// Scores the held-out images (crops: ROI mode, else empty) against `model`. `agreement`: also
// scores them with `exact` (the model searching exactly) and measures how the two agree.
HoldoutScores score_held_out(const PatchModel& model, const std::vector<std::filesystem::path>& images,
                             const std::vector<cv::Rect>& crops, int batch_size, bool show_progress,
                             const PatchModel* exact = nullptr, SearchAgreement* agreement = nullptr);

// image_threshold / pixel_threshold from the held-out scores, never below the highest
// training score / pixel (`training`: the bank's own images; their tail can reach higher than a
// small held-out sample shows), with the statistics for config.yaml.
ThresholdRecord holdout_threshold(const HoldoutScores& scores, const NormStats& training, double fraction,
                                  double sigmas);

}  // namespace patchcore
