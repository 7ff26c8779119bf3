#include "pipeline/patch_model.h"

#include <c10/core/InferenceMode.h>

#include "head/embedding.h"
#include "head/scorer.h"

namespace patchcore {

PatchModel::PatchModel(ModelConfig config, std::shared_ptr<const Backbone> backbone, torch::Tensor memory_bank)
    : config_(std::move(config)), backbone_(std::move(backbone)), memory_bank_(std::move(memory_bank)) {}

torch::Tensor embed_batch(const Backbone& backbone, const torch::Tensor& batch) {
  c10::InferenceMode guard;
  return build_embedding(backbone.extract(batch));
}

torch::Tensor PatchModel::embed(const torch::Tensor& batch) const { return embed_batch(*backbone_, batch); }

BatchScores PatchModel::score_embedding(const torch::Tensor& embedding) const {
  c10::InferenceMode guard;
  const int64_t batch = embedding.size(0), h = embedding.size(2), w = embedding.size(3);
  auto patches = embedding.permute({0, 2, 3, 1}).reshape({batch, h * w, embedding.size(1)});
  auto nearest = nearest_patch_scores(patches, memory_bank_);
  BatchScores out;
  out.image_scores = image_scores(nearest, patches, memory_bank_, config_.num_neighbors);
  out.maps = anomaly_maps(nearest.distances.reshape({batch, 1, h, w}), config_.preprocessing.height,
                          config_.preprocessing.width);
  return out;
}

}  // namespace patchcore
