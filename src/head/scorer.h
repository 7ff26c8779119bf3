#pragma once
// PatchCore scoring (anomalib's PatchcoreModel.forward at inference time).
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <vector>

#include "search/index.h"

namespace patchcore {

struct PatchScores {
  torch::Tensor distances;  // [B, P] float: Euclidean distance to the nearest bank row
  torch::Tensor nearest;    // [B, P] int64: index of that row
};

// patches: [B, P, C]; the index searches the memory bank [M, C]. Euclidean distance
// as anomalib computes it (|x|^2 - 2 x.y + |y|^2, clamped at 0, sqrt).
PatchScores nearest_patch_scores(const torch::Tensor& patches, const search::Index& bank_index);

// The support table of num_neighbors re-weighting: row i = the min(num_neighbors, M)
// bank rows nearest to bank row i, ascending (row i itself first). It depends only on
// the bank, so training computes it once (exactly) and the checkpoint stores it.
// Returns int64 [M, min(num_neighbors, M)].
torch::Tensor support_table(const search::Index& bank_index, const torch::Tensor& bank, int64_t num_neighbors);

// anomalib's image score: take the worst patch, take the `num_neighbors` bank rows
// nearest to its nearest bank row (support[nearest]), weight = 1 - softmax(distances
// of the worst patch to those rows)[0]; score = weight * max patch distance.
// num_neighbors == 1 -> max. Returns [B].
torch::Tensor image_scores(const PatchScores& scores, const torch::Tensor& patches, const torch::Tensor& bank,
                           const torch::Tensor& support, int64_t num_neighbors);

// Patch-score grid [B,1,h,w] -> nearest upsampling to [B,1,H,W] -> Gaussian blur
// (kBlurTaps taps of gaussian_taps() per axis, reflect border as torch's "reflect" padding).
torch::Tensor anomaly_maps(const torch::Tensor& patch_grid, int64_t height, int64_t width);

// The anomaly map's definition, read by anomaly_maps and by the export graph.
// anomalib's blur: Gaussian, sigma 4, radius int(4 * sigma + 0.5) = 16, 33 taps.
constexpr double kBlurSigma = 4.0;
constexpr int64_t kBlurRadius = static_cast<int64_t>(4.0 * kBlurSigma + 0.5);
constexpr int64_t kBlurTaps = 2 * kBlurRadius + 1;
// The normalised 1-D Gaussian, computed in double then rounded once to float.
const std::array<float, kBlurTaps>& gaussian_taps();
// The source index of each output index of upsample_nearest2d (ATen's own rule), in -> out.
std::vector<int64_t> nearest_sources(int64_t in, int64_t out);

}  // namespace patchcore
