#include "head/embedding.h"

#include <stdexcept>
#include <string>

namespace patchcore {

torch::Tensor build_embedding(const std::vector<torch::Tensor>& layer_maps) {
  if (layer_maps.empty()) throw std::invalid_argument("build_embedding: no layer maps given");
  for (size_t i = 0; i < layer_maps.size(); ++i) {
    const auto& m = layer_maps[i];
    if (m.dim() != 4)
      throw std::invalid_argument("build_embedding: layer map " + std::to_string(i) +
                                  " must be [B,C,h,w], got " + std::to_string(m.dim()) + " dims");
    if (m.size(0) != layer_maps[0].size(0))
      throw std::invalid_argument("build_embedding: layer maps disagree on the batch size");
  }
  const int64_t h = layer_maps[0].size(2);
  const int64_t w = layer_maps[0].size(3);
  std::vector<torch::Tensor> parts;
  parts.reserve(layer_maps.size());
  for (size_t i = 0; i < layer_maps.size(); ++i) {
    // anomalib's feature_pooler: AvgPool2d(3, 1, 1), count_include_pad=True.
    auto pooled = at::avg_pool2d(layer_maps[i], {3, 3}, {1, 1}, {1, 1},
                                 /*ceil_mode=*/false, /*count_include_pad=*/true);
    if (i > 0 && (pooled.size(2) != h || pooled.size(3) != w))
      pooled = at::upsample_bilinear2d(pooled, {h, w}, /*align_corners=*/false);
    parts.push_back(std::move(pooled));
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts, 1);
}

torch::Tensor embedding_to_patches(const torch::Tensor& embedding) {
  if (embedding.dim() != 4)
    throw std::invalid_argument("embedding_to_patches: expected [B,C,h,w]");
  return embedding.permute({0, 2, 3, 1}).reshape({-1, embedding.size(1)});
}

}  // namespace patchcore
