#include "patchcore/model.h"

#include <c10/core/InferenceMode.h>
#include <opencv2/imgproc.hpp>

#include <limits>

#include "head/norm_stats.h"
#include "io/error.h"
#include "pipeline/checkpoint.h"
#include "pipeline/image_batch.h"
#include "pipeline/model_folder.h"
#include "pipeline/patch_model.h"

namespace patchcore {

struct Model::Impl {
  PatchModel patch_model;
  NormStats norm_stats;
  std::optional<RoiLocator> roi;
};

Model::Model(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw UserError("model folder " + dir.string() + " does not exist; pass the OUTPUT/PATTERN folder written by `patchcore train`");
  const ModelFolderContents folder = load_model_folder(dir);
  return Model(std::make_unique<const Impl>(
      Impl{patch_model_of(folder.checkpoint), folder.stats, folder.checkpoint.roi}));
}

std::vector<Prediction> Model::predict(const std::vector<cv::Mat>& images) const {
  for (const auto& image : images)
    if (image.empty()) throw UserError("predict: empty image (was the file read correctly?)");
  c10::InferenceMode guard;
  const auto& config = impl_->patch_model.config();
  std::vector<Prediction> out(images.size());
  std::vector<cv::Mat> inputs;  // what the model sees: the whole images, or their ROI crops
  std::vector<size_t> scored;   // which images those are
  for (size_t i = 0; i < images.size(); ++i) {
    out[i].roi = cv::Rect(0, 0, images[i].cols, images[i].rows);
    if (impl_->roi) {
      const RoiMatch m = impl_->roi->locate(images[i]);
      out[i].roi_found = m.found;
      out[i].roi_score = m.score;
      if (!m.found) {  // not scored: a crop at the wrong place would give a meaningless score
        out[i].score = std::numeric_limits<float>::quiet_NaN();
        out[i].anomaly_map = cv::Mat::zeros(images[i].size(), CV_32FC1);
        out[i].model_map = cv::Mat::zeros(config.preprocessing.height, config.preprocessing.width, CV_32FC1);
        continue;
      }
      out[i].roi = m.rect;
      inputs.push_back(impl_->roi->crop(images[i], m));
    } else {
      inputs.push_back(images[i]);
    }
    scored.push_back(i);
  }
  if (inputs.empty()) return out;
  auto scores = impl_->patch_model.score(preprocess_batch(inputs, config.preprocessing));
  auto maps = scores.maps.contiguous();
  for (size_t k = 0; k < scored.size(); ++k) {
    Prediction& p = out[scored[k]];
    auto map = maps[static_cast<int64_t>(k)][0];
    p.score = scores.image_scores[static_cast<int64_t>(k)].item<float>();
    p.model_map = cv::Mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32FC1,
                          map.data_ptr<float>())
                      .clone();
    const cv::Size image_size = images[scored[k]].size();
    if (p.roi.size() == image_size && p.roi.size() == p.model_map.size()) {
      p.anomaly_map = p.model_map.clone();
      continue;
    }
    p.anomaly_map = cv::Mat::zeros(image_size, CV_32FC1);
    if (p.roi.size() == p.model_map.size())
      p.model_map.copyTo(p.anomaly_map(p.roi));
    else
      cv::resize(p.model_map, p.anomaly_map(p.roi), p.roi.size(), 0, 0, cv::INTER_LINEAR);
  }
  return out;
}

Prediction Model::predict(const cv::Mat& image) const { return predict(std::vector<cv::Mat>{image}).front(); }

// The stored decision threshold (training's held-out rule or `eval --write-threshold`);
// model folders from before it existed fall back to the highest training score.
double Model::threshold() const { return impl_->norm_stats.image_threshold.value_or(impl_->norm_stats.max_score); }

ModelSummary Model::summary() const {
  const auto& config = impl_->patch_model.config();
  ModelSummary s;
  s.backbone = config.backbone;
  s.layers = config.layers;
  s.height = config.preprocessing.height;
  s.width = config.preprocessing.width;
  s.memory_bank_rows = impl_->patch_model.memory_bank().size(0);
  s.num_neighbors = config.num_neighbors;
  s.max_training_pixel = impl_->norm_stats.max_pixel;
  s.has_roi = impl_->roi.has_value();
  return s;
}

const RoiLocator* Model::roi() const { return impl_->roi ? &*impl_->roi : nullptr; }

}  // namespace patchcore
