#include "eval/scoring.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "data/preprocess.h"
#include "eval/pro.h"
#include "io/error.h"
#include "io/progress.h"

namespace patchcore::eval {
namespace {

// The ground truth of one image, in the geometry of `map` (see the header).
cv::Mat ground_truth(const EvalSample& s, const Prediction& p, const cv::Size& image_size, bool full_size) {
  const cv::Size target = full_size ? image_size : p.model_map.size();
  if (!s.mask) return cv::Mat::zeros(target, CV_8U);
  cv::Mat mask = read_mask(*s.mask, image_size);
  if (!full_size) {
    cv::Mat roi = mask(p.roi), resized;
    cv::resize(roi, resized, target, 0, 0, cv::INTER_NEAREST);
    mask = resized;
  }
  return mask;
}

void append_pixels(PixelSet& set, const cv::Mat& map, const cv::Mat& mask) {
  const cv::Mat weights = region_weights(mask, set.regions);
  for (int y = 0; y < map.rows; ++y) {
    const float* m = map.ptr<float>(y);
    const uint8_t* g = mask.ptr<uint8_t>(y);
    const float* w = weights.ptr<float>(y);
    for (int x = 0; x < map.cols; ++x) {
      set.scores.push_back(m[x]);
      set.labels.push_back(g[x] != 0);
      set.weights.push_back(w[x]);
    }
  }
}

}  // namespace

cv::Mat read_mask(const std::filesystem::path& path, cv::Size size) {
  cv::Mat mask = cv::imread(path.string(), cv::IMREAD_GRAYSCALE);
  if (mask.empty()) throw UserError("cannot read mask " + path.string() + " (not an image file? re-export it as PNG)");
  if (mask.size() != size) cv::resize(mask, mask, size, 0, 0, cv::INTER_NEAREST);
  return mask >= 128;
}

ScoredDataset score_dataset(const Model& model, const EvalDataset& data, const ScoringOptions& options) {
  ScoredDataset out;
  const auto& samples = data.samples;
  ProgressBar bar("scoring test images", static_cast<int64_t>(samples.size()), options.show_progress);
  const size_t step = static_cast<size_t>(std::max(1, options.batch_size));
  for (size_t first = 0; first < samples.size(); first += step) {
    const size_t count = std::min(step, samples.size() - first);
    std::vector<cv::Mat> batch;
    for (size_t i = first; i < first + count; ++i) batch.push_back(read_image_bgr(samples[i].image));
    const auto predictions = model.predict(batch);
    for (size_t k = 0; k < count; ++k) {
      const EvalSample& s = samples[first + k];
      const Prediction& p = predictions[k];
      if (!p.roi_found) {
        out.roi_not_found.push_back(s);
        continue;
      }
      out.images.push_back({s, p.score});
      if (options.pixels) {
        const cv::Mat& map = options.full_size ? p.anomaly_map : p.model_map;
        append_pixels(out.pixels, map, ground_truth(s, p, batch[k].size(), options.full_size));
      }
    }
    bar.update(static_cast<int64_t>(first + count));
  }
  bar.finish();
  return out;
}

}  // namespace patchcore::eval
