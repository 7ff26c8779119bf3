#pragma once
// Public C++ API: load a model folder written by `patchcore train` and score images.
//
//   auto model = patchcore::Model::load("models/crimp_a");
//   patchcore::Prediction p = model.predict(cv::imread("part.png"));
//   bool bad = p.score > model.threshold();
//
// A loaded Model is immutable: predict() may be called from several threads at once.
// A model trained in ROI mode locates its ROI in every image and scores the crop: check
// Prediction::roi_found.
#include <opencv2/core.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "patchcore/error.h"  // patchcore::UserError, thrown for anything the user can fix
#include "patchcore/roi.h"

namespace patchcore {

struct Prediction {
  float score = 0;           // PatchCore image score (higher = more anomalous); NaN when !roi_found
  cv::Mat anomaly_map;       // CV_32FC1, size of the input image (ROI models: zero outside `roi`)
  cv::Mat model_map;         // CV_32FC1, at the model's --image-size (what the exported model outputs)
  // ROI models (trained with --roi / --roi-rect) locate the ROI first and score its crop.
  bool roi_found = true;     // false: the best match is below the ROI threshold; the image was NOT
                             // scored (score NaN, maps zero) - treat it as "part not found"
  double roi_score = 0;      // the match score (normalised correlation), ROI models only
  cv::Rect roi;              // what was scored, in the input image's pixels (the whole image without ROI)
};

struct ModelSummary {
  std::string backbone;
  std::vector<std::string> layers;
  int height = 0, width = 0;
  int64_t memory_bank_rows = 0;
  int64_t num_neighbors = 0;
  double max_training_pixel = 0;  // max_pixel of norm_stats.txt
  bool has_roi = false;           // trained in ROI mode (see roi())
};

class Model {
 public:
  // dir: OUTPUT/PATTERN as written by `patchcore train` (checkpoint.safetensors +
  // norm_stats.txt). Throws patchcore::UserError (a std::runtime_error) on bad input.
  static Model load(const std::filesystem::path& dir);

  // image: 8-bit BGR, grayscale or BGRA as cv::imread returns it.
  Prediction predict(const cv::Mat& image) const;
  // Several images in one backbone pass (faster per image).
  std::vector<Prediction> predict(const std::vector<cv::Mat>& images) const;

  // Default decision threshold: image_threshold of norm_stats.txt (set at training from
  // held-out good images, or by `patchcore eval --write-threshold`), else max_score.
  double threshold() const;
  ModelSummary summary() const;
  // The ROI locator of a model trained in ROI mode, else nullptr (patchcore/roi.h).
  const RoiLocator* roi() const;

  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<const Impl> impl);
  std::unique_ptr<const Impl> impl_;
};

}  // namespace patchcore
