#pragma once
// The PatchCore computation shared by training (scoring the training images for
// norm_stats.txt) and prediction: backbone -> embedding -> nearest bank rows ->
// image score + anomaly map.
#include <memory>

#include "backbone/backbone.h"
#include "pipeline/model_config.h"

namespace patchcore {

struct BatchScores {
  torch::Tensor image_scores;  // [B]
  torch::Tensor maps;          // [B,1,H,W] at the model's image size
};

// Pre-processed batch [B,3,H,W] -> PatchCore embedding [B,C,h,w].
torch::Tensor embed_batch(const Backbone& backbone, const torch::Tensor& batch);

class PatchModel {
 public:
  PatchModel(ModelConfig config, std::shared_ptr<const Backbone> backbone, torch::Tensor memory_bank);

  // Pre-processed batch [B,3,H,W] -> embedding [B,C,h,w].
  torch::Tensor embed(const torch::Tensor& batch) const;
  // Embedding [B,C,h,w] -> scores against the memory bank.
  BatchScores score_embedding(const torch::Tensor& embedding) const;
  BatchScores score(const torch::Tensor& batch) const { return score_embedding(embed(batch)); }

  const ModelConfig& config() const { return config_; }
  const Backbone& backbone() const { return *backbone_; }
  const torch::Tensor& memory_bank() const { return memory_bank_; }

 private:
  ModelConfig config_;
  std::shared_ptr<const Backbone> backbone_;
  torch::Tensor memory_bank_;
};

}  // namespace patchcore
