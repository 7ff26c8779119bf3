#include "head/scorer.h"

#include <ATen/Parallel.h>
#include <ATen/native/UpSample.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "head/kernels/blur_kernels.h"

namespace patchcore {

const std::array<float, kBlurTaps>& gaussian_taps() {
  static const auto taps = [] {
    std::array<double, kBlurTaps> exact;
    double sum = 0;
    for (int64_t i = 0; i < kBlurTaps; ++i) {
      const double d = static_cast<double>(i - kBlurRadius);
      sum += exact[i] = std::exp(-(d * d) / (2 * kBlurSigma * kBlurSigma));
    }
    std::array<float, kBlurTaps> rounded;
    for (int64_t i = 0; i < kBlurTaps; ++i) rounded[i] = static_cast<float>(exact[i] / sum);
    return rounded;
  }();
  return taps;
}

std::vector<int64_t> nearest_sources(int64_t in, int64_t out) {
  std::vector<int64_t> sources(out);
  for (int64_t i = 0; i < out; ++i) sources[i] = at::native::nearest_idx(i, in, out, c10::nullopt);
  return sources;
}

namespace {

void check_bank(const torch::Tensor& patches, const torch::Tensor& bank, const char* who) {
  if (bank.dim() != 2 || bank.size(0) == 0)
    throw std::invalid_argument(std::string(who) + ": memory bank must be a non-empty [M,C]");
  if (patches.size(-1) != bank.size(1))
    throw std::invalid_argument(std::string(who) + ": patch features have " +
                                std::to_string(patches.size(-1)) + " channels, memory bank " +
                                std::to_string(bank.size(1)));
}

// torch's "reflect" padding (the edge is not repeated): -j -> j, n-1+j -> n-1-j; needs j < n.
int64_t reflect(int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); }

// Where the upsampled, reflect-padded map reads the patch grid.
struct BlurSources {
  std::vector<int64_t> rows;         // grid row of each output row
  std::vector<int64_t> padded_cols;  // grid column of each pixel of a padded output row
};

BlurSources blur_sources(int64_t h, int64_t w, int64_t height, int64_t width) {
  BlurSources s{nearest_sources(h, height), std::vector<int64_t>(width + 2 * kBlurRadius)};
  const auto cols = nearest_sources(w, width);
  for (int64_t i = 0; i < static_cast<int64_t>(s.padded_cols.size()); ++i)
    s.padded_cols[i] = cols[reflect(i - kBlurRadius, width)];
  return s;
}

// Output row y of one image (grid [h, w] contiguous): the vertical pass, then the horizontal
// one. columns [w] and padded [width + 2 * radius] are scratch.
void blur_row(const float* grid, int64_t w, const BlurSources& s, int64_t y, float* columns, float* padded,
              float* out) {
  const int64_t height = static_cast<int64_t>(s.rows.size());
  const int64_t width = static_cast<int64_t>(s.padded_cols.size()) - 2 * kBlurRadius;
  const auto& taps = gaussian_taps();
  std::array<const float*, kBlurTaps> sources;
  // Vertical pass at the grid's width: upsampling only repeats grid columns, so this is the
  // very sum a full-width pass would compute for each of their copies.
  for (int64_t t = 0; t < kBlurTaps; ++t) sources[t] = grid + s.rows[reflect(y + t - kBlurRadius, height)] * w;
  blur_kernels::weighted_sum(sources.data(), taps.data(), kBlurTaps, w, columns);
  for (size_t i = 0; i < s.padded_cols.size(); ++i) padded[i] = columns[s.padded_cols[i]];
  for (int64_t t = 0; t < kBlurTaps; ++t) sources[t] = padded + t;
  blur_kernels::weighted_sum(sources.data(), taps.data(), kBlurTaps, width, out);
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
  if (patch_grid.dim() != 4 || patch_grid.size(1) != 1 || patch_grid.size(2) == 0 || patch_grid.size(3) == 0)
    throw std::invalid_argument("anomaly_maps: patch grid must be [B,1,h,w] with h, w >= 1");
  if (patch_grid.scalar_type() != torch::kFloat || !patch_grid.device().is_cpu())
    throw std::invalid_argument("anomaly_maps: patch grid must be a float32 CPU tensor");
  if (height <= kBlurRadius || width <= kBlurRadius)
    throw std::invalid_argument("anomaly_maps: output must be larger than " +
                                std::to_string(kBlurRadius) + " pixels per side for the blur");
  const auto grid = patch_grid.contiguous();
  const int64_t h = grid.size(2), w = grid.size(3);
  const auto sources = blur_sources(h, w, height, width);
  auto maps = at::empty({grid.size(0), 1, height, width}, grid.options());
  const float* grid_data = grid.data_ptr<float>();
  float* maps_data = maps.data_ptr<float>();
  at::parallel_for(0, maps.size(0) * height, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> columns(w), padded(sources.padded_cols.size());
    for (int64_t r = begin; r < end; ++r)
      blur_row(grid_data + (r / height) * h * w, w, sources, r % height, columns.data(), padded.data(),
               maps_data + r * width);
  });
  return maps;
}

}  // namespace patchcore
