#pragma once
// Running a model over an EvalDataset: image scores, and per pixel the map value, the
// ground truth and the AUPRO region weight. Maps are compared at the model's
// --image-size (masks resized nearest-neighbour to it, ROI models: the mask cropped to
// the found ROI first), or with full_size at each image's own size (the model's
// bilinear-upsampled anomaly_map).
#include <cstdint>
#include <string>
#include <vector>

#include "eval/eval_dataset.h"
#include "patchcore/model.h"

namespace patchcore::eval {

struct ScoredImage {
  EvalSample sample;
  float score = 0;
};

struct PixelSet {
  std::vector<float> scores;
  std::vector<uint8_t> labels;   // 1 = defect pixel
  std::vector<float> weights;    // 1 / area of the pixel's mask region, 0 outside defects
  int regions = 0;               // connected components over all masks
};

struct ScoringOptions {
  bool full_size = false;
  bool pixels = true;            // collect PixelSet (needs masks)
  int batch_size = 8;
  bool show_progress = true;
};

struct ScoredDataset {
  std::vector<ScoredImage> images;         // the scored ones
  std::vector<EvalSample> roi_not_found;   // ROI models: not scored (part not found)
  PixelSet pixels;                         // empty unless options.pixels
};

// Reads a mask (non-zero = defect, binarised at 128) at `size`; throws UserError naming it.
cv::Mat read_mask(const std::filesystem::path& path, cv::Size size);

ScoredDataset score_dataset(const Model& model, const EvalDataset& data, const ScoringOptions& options);

}  // namespace patchcore::eval
