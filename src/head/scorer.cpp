#include "head/scorer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace patchcore {
namespace {

void check_bank(const torch::Tensor& patches, const torch::Tensor& bank, const char* who) {
  if (bank.dim() != 2 || bank.size(0) == 0)
    throw std::invalid_argument(std::string(who) + ": memory bank must be a non-empty [M,C]");
  if (patches.size(-1) != bank.size(1))
    throw std::invalid_argument(std::string(who) + ": patch features have " +
                                std::to_string(patches.size(-1)) + " channels, memory bank " +
                                std::to_string(bank.size(1)));
}

}  // namespace

PatchScores nearest_patch_scores(const torch::Tensor& patches, const search::Index& bank_index) {
  if (patches.dim() != 3) throw std::invalid_argument("nearest_patch_scores: patches must be [B,P,C]");
  const auto found = search::nearest(bank_index, patches);
  return {found.distances, found.indices};
}

torch::Tensor support_table(const search::Index& bank_index, const torch::Tensor& bank, int64_t num_neighbors) {
  if (num_neighbors < 1) throw std::invalid_argument("support_table: num_neighbors must be >= 1");
  const int64_t k = std::min<int64_t>(num_neighbors, bank_index.size());
  return search::knn(bank_index, bank, k).indices;
}

torch::Tensor image_scores(const PatchScores& scores, const torch::Tensor& patches, const torch::Tensor& bank,
                           const torch::Tensor& support, int64_t num_neighbors) {
  if (num_neighbors < 1) throw std::invalid_argument("image_scores: num_neighbors must be >= 1");
  const auto& patch_scores = scores.distances;
  if (patch_scores.dim() != 2) throw std::invalid_argument("image_scores: distances must be [B,P]");
  if (num_neighbors == 1) return std::get<0>(patch_scores.max(1));
  check_bank(patches, bank, "image_scores");
  const int64_t k = std::min<int64_t>(num_neighbors, bank.size(0));
  if (support.dim() != 2 || support.size(0) != bank.size(0) || support.size(1) < k)
    throw std::invalid_argument("image_scores: support table must be [" + std::to_string(bank.size(0)) + ", >=" +
                                std::to_string(k) + "]");
  const int64_t batch = patch_scores.size(0), num_patches = patch_scores.size(1);
  const auto features = patches.reshape({batch, num_patches, -1}).to(bank.scalar_type());
  const auto rows = at::arange(batch, patch_scores.options().dtype(torch::kLong));
  const auto max_patches = patch_scores.argmax(1);                            // [B]
  const auto max_features = features.index({rows, max_patches});              // [B,C]
  const auto score = patch_scores.index({rows, max_patches});                 // [B]
  const auto nn_index = scores.nearest.index({rows, max_patches});            // [B]
  // The k bank rows nearest to the worst patch's nearest bank row: precomputed.
  const auto neighbours = support.index_select(0, nn_index).narrow(1, 0, k);  // [B,k]
  // euclidean_dist(max_features.unsqueeze(1) [B,1,C], bank[neighbours] [B,k,C]) -> [B,1,k].
  const auto support_features = bank.index_select(0, neighbours.reshape(-1)).view({batch, k, -1});
  const auto x = max_features.unsqueeze(1);
  const auto x_norm = x.pow(2).sum(-1, true);                         // [B,1,1]
  const auto y_norm = support_features.pow(2).sum(-1, true);          // [B,k,1]
  auto d = at::matmul(x, support_features.transpose(-2, -1));         // [B,1,k]
  d.mul_(-2).add_(x_norm).add_(y_norm.transpose(-2, -1));
  d.clamp_min_(0).sqrt_();
  const auto weights = 1 - at::softmax(d.squeeze(1), 1).select(1, 0);  // [B]
  return weights * score;
}

torch::Tensor anomaly_maps(const torch::Tensor& patch_grid, int64_t height, int64_t width) {
  if (patch_grid.dim() != 4 || patch_grid.size(1) != 1)
    throw std::invalid_argument("anomaly_maps: patch grid must be [B,1,h,w]");
  constexpr double kSigma = 4.0;
  constexpr int64_t kRadius = static_cast<int64_t>(4.0 * kSigma + 0.5);  // 16
  constexpr int64_t kSize = 2 * kRadius + 1;                            // 33
  if (height <= kRadius || width <= kRadius)
    throw std::invalid_argument("anomaly_maps: output must be larger than " +
                                std::to_string(kRadius) + " pixels per side for the blur");
  auto maps = at::upsample_nearest2d(patch_grid, {height, width});
  // Normalised 1-D Gaussian, computed in double then rounded once.
  auto kernel = at::arange(-kRadius, kRadius + 1, patch_grid.options().dtype(torch::kDouble));
  kernel = at::exp(-(kernel * kernel) / (2 * kSigma * kSigma));
  kernel = (kernel / kernel.sum()).to(maps.scalar_type());
  const auto kh = kernel.view({1, 1, kSize, 1});
  const auto kw = kernel.view({1, 1, 1, kSize});
  maps = at::reflection_pad2d(maps, {kRadius, kRadius, kRadius, kRadius});
  maps = at::conv2d(maps, kh);  // vertical pass: [B,1,H,W+2r]
  maps = at::conv2d(maps, kw);  // horizontal pass: [B,1,H,W]
  return maps;
}

}  // namespace patchcore
