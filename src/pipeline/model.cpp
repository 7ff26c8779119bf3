#include "patchcore/model.h"

#include <c10/core/InferenceMode.h>
#include <opencv2/imgproc.hpp>

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
};

Model::Model(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw UserError("model folder " + dir.string() + " does not exist; pass the OUTPUT/PATTERN folder written by `patchcore train`");
  Checkpoint checkpoint = load_checkpoint(dir / ModelFolder::kCheckpoint);
  std::shared_ptr<const Backbone> backbone =
      create_backbone(checkpoint.config.backbone, checkpoint.config.layers, checkpoint.backbone_weights);
  NormStats stats = read_norm_stats(dir / ModelFolder::kNormStats);
  return Model(std::make_unique<const Impl>(
      Impl{PatchModel(checkpoint.config, std::move(backbone), checkpoint.memory_bank), stats}));
}

std::vector<Prediction> Model::predict(const std::vector<cv::Mat>& images) const {
  for (const auto& image : images)
    if (image.empty()) throw UserError("predict: empty image (was the file read correctly?)");
  c10::InferenceMode guard;
  const auto& config = impl_->patch_model.config();
  auto scores = impl_->patch_model.score(preprocess_batch(images, config.preprocessing));
  auto maps = scores.maps.contiguous();
  std::vector<Prediction> out(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    auto map = maps[static_cast<int64_t>(i)][0];
    out[i].score = scores.image_scores[static_cast<int64_t>(i)].item<float>();
    out[i].model_map = cv::Mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32FC1,
                               map.data_ptr<float>())
                           .clone();
    if (images[i].size() == out[i].model_map.size())
      out[i].anomaly_map = out[i].model_map.clone();
    else
      cv::resize(out[i].model_map, out[i].anomaly_map, images[i].size(), 0, 0, cv::INTER_LINEAR);
  }
  return out;
}

Prediction Model::predict(const cv::Mat& image) const { return predict(std::vector<cv::Mat>{image}).front(); }

double Model::threshold() const { return impl_->norm_stats.max_score; }

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
  return s;
}

}  // namespace patchcore
