#include "pipeline/patch_model.h"

#include <c10/core/InferenceMode.h>

#include <stdexcept>

#include "head/embedding.h"
#include "head/scorer.h"
#include "io/error.h"
#include "search/exact_index.h"
#include "search/factory.h"

namespace patchcore {

namespace {

void check_support(const torch::Tensor& support, int64_t bank_rows, int64_t k) {
  const bool ok = support.dim() == 2 && support.size(0) == bank_rows && support.size(1) >= k &&
                  support.scalar_type() == torch::kLong && support.min().item<int64_t>() >= 0 &&
                  support.max().item<int64_t>() < bank_rows;
  if (!ok)
    throw UserError("the checkpoint's support table does not fit its memory bank (" + std::to_string(bank_rows) +
                    " rows, " + std::to_string(k) + " neighbours); retrain the model");
}

}  // namespace

PatchModel::PatchModel(ModelConfig config, std::shared_ptr<const Backbone> backbone, torch::Tensor memory_bank,
                       torch::Tensor support, search::ShortlistProjection shortlist)
    : config_(std::move(config)),
      backbone_(std::move(backbone)),
      memory_bank_(std::move(memory_bank)),
      shortlist_(config_.search.mode == search::SearchMode::kShortlist ? std::move(shortlist)
                                                                        : search::ShortlistProjection{}) {
  c10::InferenceMode guard;
  index_ = search::make_index(memory_bank_, config_.search, shortlist_);
  const int64_t k = std::min<int64_t>(config_.num_neighbors, memory_bank_.size(0));
  if (k > 1 && !support.defined()) {
    // The support rows must be exact whatever backend scores the patches.
    support = index_->exact() ? support_table(*index_, memory_bank_, k)
                              : support_table(search::ExactIndex(memory_bank_), memory_bank_, k);
  }
  if (support.defined()) check_support(support, memory_bank_.size(0), k);
  support_ = std::move(support);
}

PatchModel::~PatchModel() = default;
PatchModel::PatchModel(PatchModel&&) noexcept = default;

torch::Tensor embed_batch(const Backbone& backbone, const torch::Tensor& batch) {
  c10::InferenceMode guard;
  return build_embedding(backbone.extract(batch));
}

torch::Tensor PatchModel::embed(const torch::Tensor& batch) const { return embed_batch(*backbone_, batch); }

BatchScores PatchModel::score_embedding(const torch::Tensor& embedding) const {
  const int64_t batch = embedding.size(0), h = embedding.size(2), w = embedding.size(3);
  return score_patches(embedding_to_patches(embedding).view({batch, h * w, embedding.size(1)}), h, w);
}

BatchScores PatchModel::score_patches(const torch::Tensor& patches, int64_t h, int64_t w) const {
  c10::InferenceMode guard;
  if (patches.dim() != 3 || patches.size(1) != h * w)
    throw std::invalid_argument("PatchModel::score_patches: patches must be [B, h*w, C]");
  const auto nearest = nearest_patch_scores(patches, *index_);
  BatchScores out;
  out.image_scores = image_scores(nearest, patches, memory_bank_, support_, config_.num_neighbors);
  out.nearest = nearest.nearest;
  out.distances = nearest.distances;
  out.maps = anomaly_maps(nearest.distances.reshape({patches.size(0), 1, h, w}), config_.preprocessing.height,
                          config_.preprocessing.width);
  return out;
}

}  // namespace patchcore
