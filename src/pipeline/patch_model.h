#pragma once
// The PatchCore computation shared by training (scoring the training images for
// norm_stats.txt) and prediction: backbone -> embedding -> nearest bank rows ->
// image score + anomaly map.
#include <memory>

#include "backbone/backbone.h"
#include "pipeline/model_config.h"
#include "search/index.h"
#include "search/shortlist_index.h"

namespace patchcore {

struct BatchScores {
  torch::Tensor image_scores;  // [B]
  torch::Tensor maps;          // [B,1,H,W] at the model's image size
  torch::Tensor nearest;       // [B,h*w] int64: nearest bank row of every patch
  torch::Tensor distances;     // [B,h*w] float: distance of every patch to that row
};

// Pre-processed batch [B,3,H,W] -> PatchCore embedding [B,C,h,w].
torch::Tensor embed_batch(const Backbone& backbone, const torch::Tensor& batch);

class PatchModel {
 public:
  // Builds the search index config.search asks for. `support` is the checkpoint's
  // support table (head/scorer.h: support_table); when absent (older checkpoints) it
  // is computed here by exact search. `shortlist`: the checkpoint's projection, needed when
  // config.search.mode is kShortlist.
  PatchModel(ModelConfig config, std::shared_ptr<const Backbone> backbone, torch::Tensor memory_bank,
             torch::Tensor support = {}, search::ShortlistProjection shortlist = {});
  ~PatchModel();
  PatchModel(PatchModel&&) noexcept;

  // Pre-processed batch [B,3,H,W] -> embedding [B,C,h,w].
  torch::Tensor embed(const torch::Tensor& batch) const;
  // Patch features [B, h*w, C] (rows image-major, then y, then x: embedding_to_patches of
  // an embedding [B,C,h,w]) -> scores against the memory bank.
  BatchScores score_patches(const torch::Tensor& patches, int64_t h, int64_t w) const;
  // Embedding [B,C,h,w] -> scores (its patches are a view of its channels-last memory).
  BatchScores score_embedding(const torch::Tensor& embedding) const;
  BatchScores score(const torch::Tensor& batch) const { return score_embedding(embed(batch)); }

  const ModelConfig& config() const { return config_; }
  const Backbone& backbone() const { return *backbone_; }
  const std::shared_ptr<const Backbone>& shared_backbone() const { return backbone_; }
  const torch::Tensor& memory_bank() const { return memory_bank_; }
  const torch::Tensor& support() const { return support_; }
  const search::Index& index() const { return *index_; }
  // Defined in SearchMode::kShortlist only.
  const search::ShortlistProjection& shortlist() const { return shortlist_; }

 private:
  ModelConfig config_;
  std::shared_ptr<const Backbone> backbone_;
  torch::Tensor memory_bank_;
  search::ShortlistProjection shortlist_;
  std::unique_ptr<search::Index> index_;
  torch::Tensor support_;  // [M, min(num_neighbors, M)] int64
};

}  // namespace patchcore
