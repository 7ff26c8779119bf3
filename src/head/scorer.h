#pragma once
// PatchCore scoring (anomalib's PatchcoreModel.forward at inference time).
#include <torch/types.h>

namespace patchcore {

struct PatchScores {
  torch::Tensor distances;  // [B, P] float: Euclidean distance to the nearest bank row
  torch::Tensor nearest;    // [B, P] int64: index of that row
};

// patches: [B, P, C]; bank: [M, C]. Euclidean distance as anomalib computes it
// (|x|^2 - 2 x.y + |y|^2, clamped at 0, sqrt), evaluated in chunks to bound memory.
PatchScores nearest_patch_scores(const torch::Tensor& patches, const torch::Tensor& bank);

// anomalib's image score: take the worst patch, find the `num_neighbors` bank rows
// nearest to its nearest bank row, weight = 1 - softmax(distances of the worst patch
// to those rows)[0]; score = weight * max patch distance. num_neighbors == 1 -> max.
// Returns [B].
torch::Tensor image_scores(const PatchScores& scores, const torch::Tensor& patches,
                           const torch::Tensor& bank, int64_t num_neighbors);

// Patch-score grid [B,1,h,w] -> nearest upsampling to [B,1,H,W] -> Gaussian blur
// (sigma 4, kernel 33, reflect border as torch's "reflect" padding).
torch::Tensor anomaly_maps(const torch::Tensor& patch_grid, int64_t height, int64_t width);

}  // namespace patchcore
