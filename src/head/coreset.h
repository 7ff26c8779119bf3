#pragma once
// Coreset subsampling of the memory bank: greedy k-center on a sparse random
// projection (anomalib's KCenterGreedy + SparseRandomProjection); the greedy itself is
// in head/k_center_greedy.h.
#include <torch/types.h>

#include <cstdint>
#include <vector>


namespace patchcore {

// Johnson-Lindenstrauss minimum dimension (sklearn's johnson_lindenstrauss_min_dim):
// 4 ln(n) / (eps^2/2 - eps^3/3).
int64_t johnson_lindenstrauss_min_dim(int64_t n_samples, double eps = 0.9);

// Size of the coreset for n patches: floor(n * ratio), at least 1; n when ratio >= 1.
int64_t coreset_size(int64_t n_patches, double ratio);

// Sparse random projection (Achlioptas / Li et al., as in sklearn and anomalib):
// each entry is +-sqrt(1/density)/sqrt(n_components) with probability density/2 each,
// 0 otherwise, density = 1/sqrt(n_features). Seeded; stored dense [n_components, n_features].
class SparseRandomProjection {
 public:
  SparseRandomProjection(int64_t n_features, int64_t n_components, uint64_t seed);
  // x: [N, n_features] -> [N, n_components]. Batches may be projected one at a time,
  // so the full bank never has to be projected in one piece.
  torch::Tensor transform(const torch::Tensor& x) const;
  const torch::Tensor& components() const { return components_; }

 private:
  torch::Tensor components_;
};

// Largest distance from any row of `bank` to its nearest selected row (the k-center
// objective), for checking coreset quality.
double coreset_radius(const torch::Tensor& bank, const std::vector<int64_t>& selected);

}  // namespace patchcore
