#include "head/scorer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace patchcore {
namespace {

// Largest [rows x bank] float distance block evaluated at once (~256 MB).
constexpr int64_t kMaxBlockBytes = int64_t{256} << 20;

int64_t rows_per_chunk(int64_t cols, int64_t element_size) {
  const int64_t per_row = std::max<int64_t>(1, cols) * element_size;
  return std::max<int64_t>(1, kMaxBlockBytes / per_row);
}

// |y|^2 as [1, m]. Evaluated in blocks of rows: y.pow(2) of a whole bank is a
// bank-sized temporary, and allocating + first-touching that on every call cost
// more than the distance matrix product itself (bench: 10k x 1536 bank).
torch::Tensor squared_norms_row(const torch::Tensor& y) {
  constexpr int64_t kRowsPerBlock = 256;
  auto norms = at::empty({y.size(0), 1}, y.options());
  for (int64_t start = 0; start < y.size(0); start += kRowsPerBlock) {
    const int64_t len = std::min(kRowsPerBlock, y.size(0) - start);
    auto block = norms.narrow(0, start, len);
    at::sum_out(block, y.narrow(0, start, len).pow(2), {-1}, /*keepdim=*/true);
  }
  return norms.t();
}

// anomalib's euclidean_dist for x [n,C], y [m,C]:
// (|x|^2 - 2 x y^T + |y|^2^T).clamp_min(0).sqrt(). -2*mm is exact, so the in-place
// form below rounds exactly like anomalib's expression.
torch::Tensor euclidean_dist(const torch::Tensor& x, const torch::Tensor& y,
                             const torch::Tensor& y_norm_t) {
  const auto x_norm = x.pow(2).sum(-1, /*keepdim=*/true);  // [n,1]
  auto res = at::mm(x, y.t());
  res.mul_(-2).add_(x_norm).add_(y_norm_t);
  return res.clamp_min_(0).sqrt_();
}

void check_bank(const torch::Tensor& patches, const torch::Tensor& bank, const char* who) {
  if (bank.dim() != 2 || bank.size(0) == 0)
    throw std::invalid_argument(std::string(who) + ": memory bank must be a non-empty [M,C]");
  if (patches.size(-1) != bank.size(1))
    throw std::invalid_argument(std::string(who) + ": patch features have " +
                                std::to_string(patches.size(-1)) + " channels, memory bank " +
                                std::to_string(bank.size(1)));
}

}  // namespace

PatchScores nearest_patch_scores(const torch::Tensor& patches, const torch::Tensor& bank) {
  if (patches.dim() != 3) throw std::invalid_argument("nearest_patch_scores: patches must be [B,P,C]");
  check_bank(patches, bank, "nearest_patch_scores");
  const int64_t batch = patches.size(0), num_patches = patches.size(1);
  const auto x = patches.reshape({batch * num_patches, patches.size(2)}).to(bank.scalar_type());
  const auto y_norm_t = squared_norms_row(bank);
  const int64_t total = x.size(0);
  auto distances = at::empty({total}, bank.options());
  auto nearest = at::empty({total}, bank.options().dtype(torch::kLong));
  const int64_t chunk = rows_per_chunk(bank.size(0), bank.element_size());
  for (int64_t start = 0; start < total; start += chunk) {
    const int64_t len = std::min(chunk, total - start);
    const auto d = euclidean_dist(x.narrow(0, start, len), bank, y_norm_t);
    auto values = distances.narrow(0, start, len);
    auto indices = nearest.narrow(0, start, len);
    at::min_out(values, indices, d, 1);
  }
  return {distances.view({batch, num_patches}), nearest.view({batch, num_patches})};
}

torch::Tensor image_scores(const PatchScores& scores, const torch::Tensor& patches,
                           const torch::Tensor& bank, int64_t num_neighbors) {
  if (num_neighbors < 1) throw std::invalid_argument("image_scores: num_neighbors must be >= 1");
  const auto& patch_scores = scores.distances;
  if (patch_scores.dim() != 2) throw std::invalid_argument("image_scores: distances must be [B,P]");
  if (num_neighbors == 1) return std::get<0>(patch_scores.max(1));
  check_bank(patches, bank, "image_scores");
  const int64_t batch = patch_scores.size(0), num_patches = patch_scores.size(1);
  const auto features = patches.reshape({batch, num_patches, -1}).to(bank.scalar_type());
  const auto rows = at::arange(batch, patch_scores.options().dtype(torch::kLong));
  const auto max_patches = patch_scores.argmax(1);                            // [B]
  const auto max_features = features.index({rows, max_patches});              // [B,C]
  const auto score = patch_scores.index({rows, max_patches});                 // [B]
  const auto nn_index = scores.nearest.index({rows, max_patches});            // [B]
  const auto nn_sample = bank.index_select(0, nn_index);                      // [B,C]
  const int64_t k = std::min<int64_t>(num_neighbors, bank.size(0));

  // Support samples: the k bank rows nearest to nn_sample (topk smallest), row-chunked.
  const auto y_norm_t = squared_norms_row(bank);
  auto support = at::empty({batch, k}, rows.options());
  const int64_t chunk = rows_per_chunk(bank.size(0), bank.element_size());
  for (int64_t start = 0; start < batch; start += chunk) {
    const int64_t len = std::min(chunk, batch - start);
    const auto d = euclidean_dist(nn_sample.narrow(0, start, len), bank, y_norm_t);
    support.narrow(0, start, len).copy_(std::get<1>(d.topk(k, 1, /*largest=*/false)));
  }
  // euclidean_dist(max_features.unsqueeze(1) [B,1,C], bank[support] [B,k,C]) -> [B,1,k].
  const auto support_features = bank.index_select(0, support.reshape(-1)).view({batch, k, -1});
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
